/// Why a value or a record is not acceptable to Wharf's commerce model.
///
/// `reason` is a whole sentence a person can act on and names the field itself ("sku must be 1 to 64 characters,
/// got 70"), so it reads well on its own in a reject list or a problem response. `field` carries the field name
/// separately for storage and filtering; it is nil when the whole record is at fault (an unknown entity).
public struct FieldError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The field at fault ("sku", "attr.color", "amount"), or nil when the record as a whole is at fault.
    public var field: String?
    /// What is wrong, as a sentence that names the field and the offending value where that helps.
    public var reason: String

    /// An error about `field` (nil for the whole record).
    public init(field: String?, reason: String) {
        self.field = field
        self.reason = reason
    }

    /// The reason (it already names the field).
    public var description: String { reason }
}

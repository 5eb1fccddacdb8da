/// Where a record came from: file (or URL), line, column, record number. Zero means unknown.
public struct RecordLocation: Sendable, Hashable {
    /// File name, URL or other source name.
    public var source: String?
    /// 1-based line, 0 if unknown.
    public var line: Int
    /// 1-based column, 0 if unknown.
    public var column: Int
    /// 1-based number of the record in the source, 0 if unknown.
    public var recordNumber: Int

    /// Creates a location; every part is optional.
    public init(source: String? = nil, line: Int = 0, column: Int = 0, recordNumber: Int = 0) {
        self.source = source
        self.line = line
        self.column = column
        self.recordNumber = recordNumber
    }
}

/// One named field of a record. A nil value means "absent".
public struct RecordField: Sendable, Hashable {
    /// The field name (`"sku"`, `"attr.color"`).
    public var name: String
    /// The value as text, or nil when absent.
    public var value: String?

    /// Creates a field.
    public init(_ name: String, _ value: String?) {
        self.name = name
        self.value = value
    }
}

/// One entity as a flat list of named text fields, as wharf_plugin.h's "Entities and fields" defines them
/// (`product`, `price`, `stock`, `source`). The host validates it; a bad one becomes a reject, not a failure.
public struct Record: Sendable, Hashable {
    /// The entity name (`"product"`).
    public var entity: String
    /// The fields, in order.
    public var fields: [RecordField]
    /// Where the record came from.
    public var location: RecordLocation
    /// An excerpt of the raw input (a line), stored with a reject. The host keeps at most 1 KiB.
    public var raw: String?
    /// The source element the record was mapped from, when the plugin asked the host about it (see
    /// ``ElementDigestChannel``); nil otherwise.
    public var element: ElementDigest?

    /// Creates a record from fields.
    public init(
        entity: String, fields: [RecordField] = [], location: RecordLocation = RecordLocation(), raw: String? = nil,
        element: ElementDigest? = nil
    ) {
        self.entity = entity
        self.fields = fields
        self.location = location
        self.raw = raw
        self.element = element
    }

    /// Creates a record from a literal list of fields: `Record(entity: "stock", ["sku": "A1", "quantity": "3"])`.
    public init(
        entity: String, _ fields: KeyValuePairs<String, String?>, location: RecordLocation = RecordLocation(),
        raw: String? = nil, element: ElementDigest? = nil
    ) {
        self.init(
            entity: entity, fields: fields.map { RecordField($0.key, $0.value) }, location: location, raw: raw,
            element: element)
    }

    /// The value of the first field called `name`; setting appends the field, or replaces the first one.
    public subscript(name: String) -> String? {
        get { fields.first { $0.name == name }?.value }
        set {
            if let index = fields.firstIndex(where: { $0.name == name }) {
                fields[index].value = newValue
            } else {
                fields.append(RecordField(name, newValue))
            }
        }
    }
}

/// What one `emit` did, as the host counted it.
public struct EmitCounts: Sendable, Hashable {
    /// Records that created a new row.
    public var inserted: Int
    /// Records that changed an existing row.
    public var updated: Int
    /// Records identical to what was stored.
    public var unchanged: Int
    /// Records the host refused (each stored as a reject).
    public var rejected: Int

    /// Creates counts (all zero by default).
    public init(inserted: Int = 0, updated: Int = 0, unchanged: Int = 0, rejected: Int = 0) {
        self.inserted = inserted
        self.updated = updated
        self.unchanged = unchanged
        self.rejected = rejected
    }

    /// Adds another emit's counts.
    public mutating func add(_ other: EmitCounts) {
        inserted += other.inserted
        updated += other.updated
        unchanged += other.unchanged
        rejected += other.rejected
    }
}

/// A stock source: a warehouse, store or supplier whose quantities Wharf tracks.
public struct Source: Sendable, Hashable {
    /// The source's key: 1 to 64 of [A-Za-z0-9._-].
    public var code: String
    /// Display name (the code when none was given).
    public var name: String
    /// Whether the source is in use (an operator switch; the store keeps its stock either way).
    public var enabled: Bool
    /// When the source last changed in the store (set by the store; ignored on input).
    public var updatedAt: Timestamp?

    /// A source; `name` defaults to the code.
    public init(code: String, name: String? = nil, enabled: Bool = true, updatedAt: Timestamp? = nil) {
        self.code = code
        self.name = name ?? code
        self.enabled = enabled
        self.updatedAt = updatedAt
    }

    /// The source itself when it follows the model's rules, otherwise the first problem found.
    public func validated() throws(FieldError) -> Source {
        try Rules.sourceCode(code, field: "code")
        try Rules.length(name, field: "name", max: 512)
        return self
    }
}

/// Whether a SKU is available at a source.
public enum StockStatus: String, Sendable, CaseIterable {
    /// Available.
    case inStock = "in_stock"
    /// Not available, whatever the quantity says.
    case outOfStock = "out_of_stock"

    /// The status a quantity implies when none is given: in stock when it is above zero.
    public static func implied(byQuantity quantity: Int64) -> StockStatus {
        quantity > 0 ? .inStock : .outOfStock
    }
}

/// The quantity of one SKU at one source.
///
/// In a relative delta (see `RecordDecodingOptions.stockQuantityIsAdjustment`) the same value carries a signed
/// adjustment in `quantity` instead, and the store adds it to the stored quantity.
public struct InventorySourceItem: Sendable, Hashable {
    /// The product's SKU. The product need not exist yet: feeds arrive in any order.
    public var sku: String
    /// The source's code. A source the store does not know is created (its code as its name).
    public var sourceCode: String
    /// Units at the source, zero or more; in a relative delta, the signed change of the units.
    public var quantity: Int64
    /// Whether the SKU is available at the source. Setting it marks it as given (`statusIsGiven`).
    public var status: StockStatus {
        didSet { statusIsGiven = true }
    }
    /// Whether `status` was given rather than implied by `quantity`. A relative delta uses it: a status implied by
    /// an adjustment means nothing, so the store then derives the status from the new quantity. Not part of
    /// equality (an item is the same whether its status was given or implied).
    public var statusIsGiven: Bool
    /// When the item last changed in the store (set by the store; ignored on input).
    public var updatedAt: Timestamp?

    /// A source item; without a status, it is in stock when the quantity is above zero.
    public init(sku: String, sourceCode: String, quantity: Int64, status: StockStatus? = nil, updatedAt: Timestamp? = nil) {
        self.sku = sku
        self.sourceCode = sourceCode
        self.quantity = quantity
        self.status = status ?? StockStatus.implied(byQuantity: quantity)
        self.statusIsGiven = status != nil
        self.updatedAt = updatedAt
    }

    /// Equal when SKU, source, quantity, status and `updatedAt` are (whether the status was given does not count).
    public static func == (a: InventorySourceItem, b: InventorySourceItem) -> Bool {
        a.sku == b.sku && a.sourceCode == b.sourceCode && a.quantity == b.quantity && a.status == b.status
            && a.updatedAt == b.updatedAt
    }

    /// Hashes what `==` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(sku)
        hasher.combine(sourceCode)
        hasher.combine(quantity)
        hasher.combine(status)
        hasher.combine(updatedAt)
    }

    /// The item itself when it follows the model's rules, otherwise the first problem found.
    public func validated() throws(FieldError) -> InventorySourceItem {
        try validated(quantityIsAdjustment: false)
    }

    /// The item itself when it follows the model's rules, otherwise the first problem found. With
    /// `quantityIsAdjustment`, `quantity` is a signed adjustment and may be negative.
    public func validated(quantityIsAdjustment: Bool) throws(FieldError) -> InventorySourceItem {
        try Rules.sku(sku)
        try Rules.sourceCode(sourceCode, field: "source")
        if quantity < 0 && !quantityIsAdjustment {
            throw FieldError(field: "quantity", reason: "quantity \(quantity) is negative; send 0 when there is none")
        }
        return self
    }

    /// Parses a quantity: an integer, optionally written with a zero fraction ("10", "10.000"). "10.5" is an error
    /// (units are whole), as is anything that is not a plain decimal. Errors name the field "quantity".
    public static func parseQuantity(_ text: String) throws(FieldError) -> Int64 {
        try parseWholeNumber(text, field: "quantity")
    }

    // MARK: Not public

    /// A whole number as `parseQuantity` reads it, with errors about `field`.
    static func parseWholeNumber(_ text: String, field: String) throws(FieldError) -> Int64 {
        switch DecimalText.parse(text, scale: 0) {
        case .value(let v): return v
        case .empty: throw FieldError(field: field, reason: "\(field) is empty; expected a whole number like 10")
        case .malformed:
            throw FieldError(
                field: field, reason: "\(field) '\(Rules.printable(text))' is not a number; expected a whole number like 10")
        case .tooManyDecimals:
            throw FieldError(field: field, reason: "\(field) \(text) is not a whole number; units cannot be split")
        case .overflow: throw FieldError(field: field, reason: "\(field) \(text) is too large")
        }
    }
}

/// A SKU's stock over all sources.
public struct InventorySummary: Sendable, Hashable {
    /// The SKU.
    public var sku: String
    /// One item per source, ordered by source code.
    public var items: [InventorySourceItem]
    /// The sum of the quantities of the items that are in stock.
    public var totalQuantity: Int64

    /// A summary of `items`; `totalQuantity` is computed from the in-stock items.
    public init(sku: String, items: [InventorySourceItem]) {
        self.sku = sku
        self.items = items
        self.totalQuantity = items.reduce(0) { $1.status == .inStock ? $0 &+ $1.quantity : $0 }
    }
}

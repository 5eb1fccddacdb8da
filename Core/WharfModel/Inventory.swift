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
public struct InventorySourceItem: Sendable, Hashable {
    /// The product's SKU. The product need not exist yet: feeds arrive in any order.
    public var sku: String
    /// The source's code. A source the store does not know is created (its code as its name).
    public var sourceCode: String
    /// Units at the source, zero or more.
    public var quantity: Int64
    /// Whether the SKU is available at the source.
    public var status: StockStatus
    /// When the item last changed in the store (set by the store; ignored on input).
    public var updatedAt: Timestamp?

    /// A source item; without a status, it is in stock when the quantity is above zero.
    public init(sku: String, sourceCode: String, quantity: Int64, status: StockStatus? = nil, updatedAt: Timestamp? = nil) {
        self.sku = sku
        self.sourceCode = sourceCode
        self.quantity = quantity
        self.status = status ?? StockStatus.implied(byQuantity: quantity)
        self.updatedAt = updatedAt
    }

    /// The item itself when it follows the model's rules, otherwise the first problem found.
    public func validated() throws(FieldError) -> InventorySourceItem {
        try Rules.sku(sku)
        try Rules.sourceCode(sourceCode, field: "source")
        if quantity < 0 {
            throw FieldError(field: "quantity", reason: "quantity \(quantity) is negative; send 0 when there is none")
        }
        return self
    }

    /// Parses a quantity: an integer, optionally written with a zero fraction ("10", "10.000"). "10.5" is an error
    /// (units are whole), as is anything that is not a plain decimal. Errors name the field "quantity".
    public static func parseQuantity(_ text: String) throws(FieldError) -> Int64 {
        switch DecimalText.parse(text, scale: 0) {
        case .value(let v): return v
        case .empty: throw FieldError(field: "quantity", reason: "quantity is empty; expected a whole number like 10")
        case .malformed:
            throw FieldError(
                field: "quantity", reason: "quantity '\(Rules.printable(text))' is not a number; expected a whole number like 10")
        case .tooManyDecimals:
            throw FieldError(field: "quantity", reason: "quantity \(text) is not a whole number; units cannot be split")
        case .overflow: throw FieldError(field: "quantity", reason: "quantity \(text) is too large")
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

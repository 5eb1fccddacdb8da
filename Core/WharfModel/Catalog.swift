/// Whether a product is offered.
public enum ProductStatus: String, Sendable, CaseIterable {
    /// Offered (the default).
    case active
    /// Known but not offered.
    case inactive
}

/// A product: the catalog entry a SKU stands for.
public struct Product: Sendable, Hashable {
    /// Stock keeping unit, the product's key: 1 to 64 characters, no control characters, no "/".
    public var sku: String
    /// Display name, 1 to 512 characters.
    public var name: String
    /// Long description, if any.
    public var description: String?
    /// Whether the product is offered.
    public var status: ProductStatus
    /// Free-form attributes ("color" -> "red"); names are 1 to 128 characters.
    public var attributes: [String: String]
    /// When the store first saw the product (set by the store; ignored on input).
    public var createdAt: Timestamp?
    /// When the product last changed in the store (set by the store; ignored on input).
    public var updatedAt: Timestamp?

    /// A product. Timestamps are filled in by the store.
    public init(
        sku: String, name: String, description: String? = nil, status: ProductStatus = .active,
        attributes: [String: String] = [:], createdAt: Timestamp? = nil, updatedAt: Timestamp? = nil
    ) {
        self.sku = sku
        self.name = name
        self.description = description
        self.status = status
        self.attributes = attributes
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The product itself when every field follows the model's rules, otherwise the first problem found.
    public func validated() throws(FieldError) -> Product {
        try Rules.sku(sku)
        try Rules.length(name, field: "name", max: 512)
        for name in attributes.keys { try Rules.attributeName(name) }
        return self
    }
}

/// A product's base price in one currency (one per SKU and currency).
public struct BasePrice: Sendable, Hashable {
    /// The product's SKU. The product need not exist yet: feeds arrive in any order.
    public var sku: String
    /// The price, zero or more.
    public var price: Money
    /// When the price last changed in the store (set by the store; ignored on input).
    public var updatedAt: Timestamp?

    /// A base price.
    public init(sku: String, price: Money, updatedAt: Timestamp? = nil) {
        self.sku = sku
        self.price = price
        self.updatedAt = updatedAt
    }

    /// The price itself when it follows the model's rules (valid SKU, not negative), otherwise the problem.
    public func validated() throws(FieldError) -> BasePrice {
        try Rules.sku(sku)
        if price.minorUnits < 0 {
            throw FieldError(
                field: "amount", reason: "amount \(price.decimalString) is negative; a base price must be 0 or more")
        }
        return self
    }
}

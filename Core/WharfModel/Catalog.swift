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
    /// Codes of the categories the product is in, in the order given; `validated()` drops repeats.
    public var categories: [String]
    /// Image and document URLs (or paths), in order.
    public var media: [String]
    /// Name and description per language, by BCP 47 tag ("de", "en-GB"). `validated()` writes the tags in their
    /// conventional case ("en-gb" becomes "en-GB").
    public var texts: [String: LocalizedText]
    /// When the store first saw the product (set by the store; ignored on input).
    public var createdAt: Timestamp?
    /// When the product last changed in the store (set by the store; ignored on input).
    public var updatedAt: Timestamp?

    /// A product. Timestamps are filled in by the store.
    public init(
        sku: String, name: String, description: String? = nil, status: ProductStatus = .active,
        attributes: [String: String] = [:], categories: [String] = [], media: [String] = [],
        texts: [String: LocalizedText] = [:], createdAt: Timestamp? = nil, updatedAt: Timestamp? = nil
    ) {
        self.sku = sku
        self.name = name
        self.description = description
        self.status = status
        self.attributes = attributes
        self.categories = categories
        self.media = media
        self.texts = texts
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The product when every field follows the model's rules, otherwise the first problem found. The product
    /// comes back normalized: repeated category codes dropped (first one kept), language tags in conventional case.
    public func validated() throws(FieldError) -> Product {
        try Rules.sku(sku)
        try Rules.length(name, field: "name", max: 512)
        for name in attributes.keys { try Rules.attributeName(name) }
        var copy = self
        if !categories.isEmpty {
            for code in categories { try Rules.categoryCode(code, field: "category") }
            copy.categories = Rules.withoutRepeats(categories)
        }
        for url in media { try Rules.mediaURL(url, field: "media") }
        if !texts.isEmpty {
            var canonical: [String: LocalizedText] = [:]
            for (tag, text) in texts {
                let lang = try Rules.languageTag(tag, field: "name.\(tag)")
                if let name = text.name { try Rules.length(name, field: "name.\(lang)", max: 512) }
                if canonical[lang] != nil {
                    throw FieldError(
                        field: "name.\(lang)",
                        reason: "texts are given twice for language \(lang) (as '\(Rules.printable(tag))' and another spelling)")
                }
                canonical[lang] = text
            }
            copy.texts = canonical
        }
        return copy
    }
}

/// A product's name and description in one language.
public struct LocalizedText: Sendable, Hashable {
    /// The name in the language, 1 to 512 characters, if given.
    public var name: String?
    /// The description in the language, if given.
    public var description: String?

    /// Texts in one language; nil for what the language does not have.
    public init(name: String? = nil, description: String? = nil) {
        self.name = name
        self.description = description
    }
}

/// A product's base price in one currency from a quantity on (one per SKU, currency and minimum quantity: the
/// tiers of a SKU in a currency are its prices with different `minQuantity`).
public struct BasePrice: Sendable, Hashable {
    /// The product's SKU. The product need not exist yet: feeds arrive in any order.
    public var sku: String
    /// The price, zero or more.
    public var price: Money
    /// The smallest quantity the price applies to, 1 or more (1, the default, is the price of a single unit).
    public var minQuantity: Int64
    /// When the price last changed in the store (set by the store; ignored on input).
    public var updatedAt: Timestamp?

    /// A base price; from one unit on unless `minQuantity` says otherwise.
    public init(sku: String, price: Money, minQuantity: Int64 = 1, updatedAt: Timestamp? = nil) {
        self.sku = sku
        self.price = price
        self.minQuantity = minQuantity
        self.updatedAt = updatedAt
    }

    /// The price itself when it follows the model's rules (valid SKU, not negative, minimum quantity 1 or more),
    /// otherwise the problem.
    public func validated() throws(FieldError) -> BasePrice {
        try Rules.sku(sku)
        if price.minorUnits < 0 {
            throw FieldError(
                field: "amount", reason: "amount \(price.decimalString) is negative; a base price must be 0 or more")
        }
        if minQuantity < 1 {
            throw FieldError(
                field: "min_quantity",
                reason: "min_quantity \(minQuantity) is less than 1; a price applies from 1 unit (the default) or more")
        }
        return self
    }
}

/// A node of the category tree (from a PIM): products name the categories they are in by code.
public struct Category: Sendable, Hashable {
    /// The category's key: 1 to 128 characters, no control characters.
    public var code: String
    /// Display name in the default language, 1 to 512 characters.
    public var name: String
    /// The parent category's code, or nil for a root. The parent need not exist yet: feeds arrive in any order.
    public var parent: String?
    /// The order among its siblings (lower first), if given.
    public var position: Int64?
    /// The name per language, by BCP 47 tag ("de", "en-GB"); `validated()` writes tags in conventional case.
    public var texts: [String: String]
    /// When the category last changed in the store (set by the store; ignored on input).
    public var updatedAt: Timestamp?

    /// A category. Timestamps are filled in by the store.
    public init(
        code: String, name: String, parent: String? = nil, position: Int64? = nil, texts: [String: String] = [:],
        updatedAt: Timestamp? = nil
    ) {
        self.code = code
        self.name = name
        self.parent = parent
        self.position = position
        self.texts = texts
        self.updatedAt = updatedAt
    }

    /// The category when every field follows the model's rules, otherwise the first problem found; language tags
    /// come back in conventional case.
    public func validated() throws(FieldError) -> Category {
        try Rules.categoryCode(code, field: "code")
        try Rules.length(name, field: "name", max: 512)
        if let parent {
            try Rules.categoryCode(parent, field: "parent")
            if parent == code {
                throw FieldError(
                    field: "parent", reason: "parent '\(Rules.printable(parent))' is the category itself; leave parent out for a root")
            }
        }
        var copy = self
        if !texts.isEmpty {
            var canonical: [String: String] = [:]
            for (tag, text) in texts {
                let lang = try Rules.languageTag(tag, field: "name.\(tag)")
                try Rules.length(text, field: "name.\(lang)", max: 512)
                if canonical[lang] != nil {
                    throw FieldError(
                        field: "name.\(lang)",
                        reason: "names are given twice for language \(lang) (as '\(Rules.printable(tag))' and another spelling)")
                }
                canonical[lang] = text
            }
            copy.texts = canonical
        }
        return copy
    }
}

/// One record of the commerce model, as plugins emit it and exports read it.
public enum ModelRecord: Sendable, Hashable {
    /// A stock source.
    case source(Source)
    /// A product.
    case product(Product)
    /// A base price.
    case price(BasePrice)
    /// The quantity of a SKU at a source.
    case stock(InventorySourceItem)
    /// A node of the category tree.
    case category(Category)
    /// A price list, entry, assignment, special price or publication (see `PricingRecord`).
    case pricing(PricingRecord)

    /// The entity name used on the plugin ABI: "source", "product", "price", "stock" or "category".
    public var entity: String {
        switch self {
        case .source: "source"
        case .product: "product"
        case .price: "price"
        case .stock: "stock"
        case .category: "category"
        case .pricing(let p): p.entity
        }
    }

    /// The record's key as a person reads it: "EUR price of 'SKU-1'", "EUR price of 'SKU-1' from 10",
    /// "stock of 'SKU-1' at 'wh-1'".
    public var keyDescription: String {
        switch self {
        case .source(let s): "source '\(s.code)'"
        case .product(let p): "product '\(p.sku)'"
        case .price(let p):
            p.minQuantity == 1
                ? "\(p.price.currency.code) price of '\(p.sku)'"
                : "\(p.price.currency.code) price of '\(p.sku)' from \(p.minQuantity)"
        case .stock(let s): "stock of '\(s.sku)' at '\(s.sourceCode)'"
        case .category(let c): "category '\(c.code)'"
        case .pricing(let p): p.keyDescription
        }
    }

    /// The record when it follows the model's rules (normalized as its type's `validated()` does), otherwise the
    /// first problem found.
    public func validated() throws(FieldError) -> ModelRecord {
        try validated(RecordDecodingOptions())
    }

    /// The record when it follows the model's rules read with `options` (a stock quantity may be a negative
    /// adjustment when `options.stockQuantityIsAdjustment`), otherwise the first problem found.
    public func validated(_ options: RecordDecodingOptions) throws(FieldError) -> ModelRecord {
        switch self {
        case .source(let s): .source(try s.validated())
        case .product(let p): .product(try p.validated())
        case .price(let p): .price(try p.validated())
        case .stock(let s): .stock(try s.validated(quantityIsAdjustment: options.stockQuantityIsAdjustment))
        case .category(let c): .category(try c.validated())
        case .pricing(let p): .pricing(try p.validated())
        }
    }

    /// The entity names this model knows, in the order messages list them.
    /// (Pricing entities, which plugins emit but exports do not read, are `PricingCodec.entities`.)
    public static let entities = ["source", "product", "price", "stock", "category"]
}

/// How `RecordCodec.decode` reads a record where the same fields can mean different things.
public struct RecordDecodingOptions: Sendable, Hashable {
    /// Whether a stock record's `quantity` is a signed adjustment ("-3", "+5") of the stored quantity — a relative
    /// delta — rather than the quantity itself, which may not be negative. False by default.
    public var stockQuantityIsAdjustment: Bool

    /// Options; by default a stock quantity is an absolute quantity.
    public init(stockQuantityIsAdjustment: Bool = false) {
        self.stockQuantityIsAdjustment = stockQuantityIsAdjustment
    }
}

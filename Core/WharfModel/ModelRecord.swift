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

    /// The entity name used on the plugin ABI: "source", "product", "price" or "stock".
    public var entity: String {
        switch self {
        case .source: "source"
        case .product: "product"
        case .price: "price"
        case .stock: "stock"
        }
    }

    /// The record's key as a person reads it: "EUR price of SKU-1", "stock of SKU-1 at wh-1".
    public var keyDescription: String {
        switch self {
        case .source(let s): "source '\(s.code)'"
        case .product(let p): "product '\(p.sku)'"
        case .price(let p): "\(p.price.currency.code) price of '\(p.sku)'"
        case .stock(let s): "stock of '\(s.sku)' at '\(s.sourceCode)'"
        }
    }

    /// The record itself when it follows the model's rules, otherwise the first problem found.
    public func validated() throws(FieldError) -> ModelRecord {
        switch self {
        case .source(let s): .source(try s.validated())
        case .product(let p): .product(try p.validated())
        case .price(let p): .price(try p.validated())
        case .stock(let s): .stock(try s.validated())
        }
    }

    /// The entity names this model knows, in the order messages list them.
    public static let entities = ["source", "product", "price", "stock"]
}

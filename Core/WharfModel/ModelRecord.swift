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
    /// An order status change from the OMS.
    case orderStatus(OrderStatusUpdate)
    /// A shipment from the OMS/WMS.
    case shipment(Shipment)
    /// A return (or exchange) from the OMS.
    case orderReturn(OrderReturn)
    /// A B2B company as a CRM reports it (ingest only).
    case company(CRMCompanyRecord)
    /// A company user as a CRM reports it (ingest only).
    case companyUser(CRMCompanyUserRecord)
    /// A customer group (ingest only).
    case customerGroup(CustomerGroup)
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
        case .orderStatus: "order_status"
        case .shipment: "shipment"
        case .orderReturn: "return"
        case .company: "company"
        case .companyUser: "company_user"
        case .customerGroup: "customer_group"
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
        case .orderStatus(let s): "status \(s.status.rawValue) of order '\(s.orderNumber)'"
        case .shipment(let s): "shipment '\(s.id)' of order '\(s.orderNumber)'"
        case .orderReturn(let r): "return '\(r.id)' of order '\(r.orderNumber)'"
        case .company(let c): "company with CRM id '\(c.crmID)'"
        case .companyUser(let u): "user '\(u.user.email)' of the company with CRM id '\(u.companyCRMID)'"
        case .customerGroup(let g): "customer group '\(g.code)'"
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
        case .orderStatus, .shipment, .orderReturn: self  // checked field by field when decoded
        case .company(let c): .company(try c.validated())
        case .companyUser(let u): .companyUser(try u.validated())
        case .customerGroup(let g): .customerGroup(try g.validated())
        case .pricing(let p): .pricing(try p.validated())
        }
    }

    /// The entity names this model knows, in the order messages list them.
    /// (Pricing entities, which plugins emit but exports do not read, are `PricingCodec.entities`.)
    public static let entities = ["source", "product", "price", "stock", "category"]

    /// The entities an OMS connector emits about orders; they are applied as order transitions and cannot be read
    /// back with `read_records`.
    public static let orderUpdateEntities = ["order_status", "shipment", "return"]
    /// Entities plugins may emit but exports cannot read (B2B data a CRM owns).
    public static let ingestOnlyEntities = ["company", "company_user", "customer_group"]
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

/// Converts between the flat record form of the plugin ABI (an entity name and named string fields, see
/// "Entities and fields" in wharf_plugin.h) and the commerce model.
public enum RecordCodec {
    /// Decodes and validates one flat record.
    ///
    /// Entities: "source" (code, name, enabled), "product" (sku, name, description, status, attr.<name>…,
    /// category…, media…, name.<lang>, description.<lang>), "category" (code, name, parent, position, name.<lang>),
    /// "price" (sku, currency, amount, min_quantity), "stock" (sku, source, quantity, status). Field names are
    /// case-sensitive. A field whose value is nil or empty is absent; an absent required field is an error, as are
    /// an unknown field, a field given twice (also the same `attr.<name>` or `name.<lang>` twice; `category` and
    /// `media` repeat by design) and a value that breaks the model's rules. Every error names the field it is
    /// about (`field` is nil only for an unknown entity). With `options.stockQuantityIsAdjustment`, a stock
    /// quantity is a signed adjustment ("-3", "+5"); otherwise a negative quantity is an error.
    public static func decode(
        entity: String, fields: [(name: String, value: String?)], options: RecordDecodingOptions = RecordDecodingOptions()
    ) -> Result<ModelRecord, FieldError> {
        do throws(FieldError) {
            switch entity {
            case "product": return .success(.product(try decodeProduct(fields)))
            case "price": return .success(.price(try decodePrice(fields)))
            case "stock": return .success(.stock(try decodeStock(fields, options: options)))
            case "source": return .success(.source(try decodeSource(fields)))
            case "category": return .success(.category(try decodeCategory(fields)))
            case "order_status": return .success(.orderStatus(try OrderRecords.decodeStatus(fields)))
            case "shipment": return .success(.shipment(try OrderRecords.decodeShipment(fields)))
            case "return": return .success(.orderReturn(try OrderRecords.decodeReturn(fields)))
            case "company": return .success(.company(try CompanyRecordCodec.decodeCompany(fields)))
            case "company_user": return .success(.companyUser(try CompanyRecordCodec.decodeUser(fields)))
            case "customer_group": return .success(.customerGroup(try CompanyRecordCodec.decodeGroup(fields)))
            case _ where PricingCodec.entities.contains(entity):
                return .success(.pricing(try PricingCodec.decode(entity: entity, fields)))
            default:
                return .failure(
                    FieldError(
                        field: nil,
                        reason: "unknown entity '\(Rules.printable(entity))'; this host knows "
                            + (ModelRecord.entities + ModelRecord.orderUpdateEntities + ModelRecord.ingestOnlyEntities + PricingCodec.entities).joined(separator: ", ")))
            }
        } catch {
            return .failure(error)
        }
    }

    /// The entities that `decode(_:values:options:)` takes as the values of their fixed fields, by position.
    public enum FixedFieldEntity: Sendable, Hashable, CaseIterable {
        /// "product" with fields sku, name, description, status.
        case product
        /// "price" with fields sku, currency, amount, min_quantity.
        case price
        /// "stock" with fields sku, source, quantity, status.
        case stock

        /// The entity's name in records.
        public var name: String {
            switch self {
            case .product: "product"
            case .price: "price"
            case .stock: "stock"
            }
        }

        /// The fixed field names, in the order `decode(_:values:options:)` takes their values.
        public var fieldNames: [String] {
            switch self {
            case .product: Fields.product
            case .price: Fields.price
            case .stock: Fields.stock
            }
        }
    }

    /// Decodes and validates a record that has only fixed fields of its entity, each at most once, given as their
    /// values by position in `entity.fieldNames` (nil or empty: absent). The result, error or value, is the one
    /// `decode(entity:fields:options:)` gives for that record; a record with other fields, or a field twice, must go
    /// through that one. Why: a host decoding millions of such records straight from C bytes skips building the
    /// field list and looking up each name.
    public static func decode(
        _ entity: FixedFieldEntity, values: [String?], options: RecordDecodingOptions = RecordDecodingOptions()
    ) -> Result<ModelRecord, FieldError> {
        precondition(values.count == entity.fieldNames.count, "one value per fixed field of \(entity.name)")
        var v = values
        for index in v.indices where v[index]?.isEmpty == true { v[index] = nil }  // copies only when one is empty
        do throws(FieldError) {
            switch entity {
            case .product:
                return .success(
                    .product(try makeProduct(v, attributes: [:], categories: [], media: [], texts: [:])))
            case .price: return .success(.price(try makePrice(v)))
            case .stock: return .success(.stock(try makeStock(v, options: options)))
            }
        } catch {
            return .failure(error)
        }
    }

    /// The flat form of a record — the inverse of `decode` — followed by "updated_at" (RFC 3339 UTC) when the
    /// record has one. Optional fields that are absent are left out (so is a price's `min_quantity` of 1);
    /// attributes come as "attr.<name>" fields in byte order of their names, then a product's "category" and
    /// "media" fields in their order, then "name.<lang>" / "description.<lang>" in byte order of the tags.
    public static func encode(_ record: ModelRecord) -> [(name: String, value: String)] {
        if let b2b = CompanyRecordCodec.encode(record) { return b2b }
        var out: [(name: String, value: String)] = []
        let updatedAt: Timestamp?
        switch record {
        case .company, .companyUser, .customerGroup: return []
        case .source(let s):
            out.append(("code", s.code))
            out.append(("name", s.name))
            out.append(("enabled", s.enabled ? "true" : "false"))
            updatedAt = s.updatedAt
        case .product(let p):
            out.reserveCapacity(5 + p.attributes.count)
            out.append(("sku", p.sku))
            out.append(("name", p.name))
            if let d = p.description, !d.isEmpty { out.append(("description", d)) }
            out.append(("status", p.status.rawValue))
            for key in p.attributes.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                let value = p.attributes[key]!
                if !value.isEmpty { out.append(("attr." + key, value)) }
            }
            for code in p.categories where !code.isEmpty { out.append(("category", code)) }
            for url in p.media where !url.isEmpty { out.append(("media", url)) }
            for lang in p.texts.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                let text = p.texts[lang]!
                if let name = text.name, !name.isEmpty { out.append(("name." + lang, name)) }
                if let d = text.description, !d.isEmpty { out.append(("description." + lang, d)) }
            }
            updatedAt = p.updatedAt
        case .price(let p):
            out.append(("sku", p.sku))
            out.append(("currency", p.price.currency.code))
            out.append(("amount", p.price.decimalString))
            if p.minQuantity != 1 { out.append(("min_quantity", String(p.minQuantity))) }
            updatedAt = p.updatedAt
        case .category(let c):
            out.append(("code", c.code))
            out.append(("name", c.name))
            if let parent = c.parent, !parent.isEmpty { out.append(("parent", parent)) }
            if let position = c.position { out.append(("position", String(position))) }
            for lang in c.texts.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                let name = c.texts[lang]!
                if !name.isEmpty { out.append(("name." + lang, name)) }
            }
            updatedAt = c.updatedAt
        case .stock(let s):
            out.append(("sku", s.sku))
            out.append(("source", s.sourceCode))
            out.append(("quantity", String(s.quantity)))
            out.append(("status", s.status.rawValue))
            updatedAt = s.updatedAt
        case .orderStatus, .shipment, .orderReturn:
            out = OrderRecords.encode(record)
            updatedAt = nil
        case .pricing(let p):
            out = PricingCodec.encode(p)
            updatedAt = nil
        }
        if let updatedAt { out.append(("updated_at", updatedAt.rfc3339)) }
        return out
    }

    /// The field names of each entity, as listed in messages.
    public static func fieldNames(entity: String) -> [String]? {
        switch entity {
        case "source": Fields.source
        case "product": Fields.product + ["attr.<name>", "category", "media", "name.<lang>", "description.<lang>"]
        case "category": Fields.category + ["name.<lang>"]
        case "price": Fields.price
        case "stock": Fields.stock
        case "order_status": OrderRecords.statusFields
        case "shipment": OrderRecords.shipmentFields
        case "return": OrderRecords.returnFields
        default: CompanyRecordCodec.fieldNames(entity: entity) ?? PricingCodec.fieldNames(entity: entity)
        }
    }

    // MARK: Not public

    enum Fields {
        static let source = ["code", "name", "enabled"]
        static let product = ["sku", "name", "description", "status"]
        static let price = ["sku", "currency", "amount", "min_quantity"]
        static let category = ["code", "name", "parent", "position"]
        static let stock = ["sku", "source", "quantity", "status"]
    }

    /// Collects the values of a record's known fields by position in `known`, refusing unknown and repeated fields.
    /// `extra` sees fields that are not in `known` first and returns true when it took them.
    static func collect(
        _ fields: [(name: String, value: String?)], entity: String, known: [String],
        extra: ((String, String?) throws(FieldError) -> Bool)? = nil
    ) throws(FieldError) -> [String?] {
        var values = [String?](repeating: nil, count: known.count)
        var seen = [Bool](repeating: false, count: known.count)
        for field in fields {
            guard let index = known.firstIndex(of: field.name) else {
                if let extra, try extra(field.name, field.value) { continue }
                throw FieldError(
                    field: field.name,
                    reason: "unknown field '\(Rules.printable(field.name))' for entity \(entity); known fields: "
                        + (fieldNames(entity: entity) ?? known).joined(separator: ", "))
            }
            if seen[index] {
                throw FieldError(
                    field: field.name, reason: "field '\(field.name)' appears more than once in one \(entity) record")
            }
            seen[index] = true
            if let v = field.value, !v.isEmpty { values[index] = v }
        }
        return values
    }

    static func required(_ value: String?, _ name: String, _ entity: String) throws(FieldError) -> String {
        guard let value else {
            throw FieldError(field: name, reason: "\(entity) record is missing required field '\(name)'")
        }
        return value
    }

    private static func decodeProduct(_ fields: [(name: String, value: String?)]) throws(FieldError) -> Product {
        var attributes: [String: String] = [:]
        var categories: [String] = []
        var media: [String] = []
        var texts: [String: LocalizedText] = [:]
        var textFields: Set<String> = []  // "name.<lang>" / "description.<lang>" seen, with canonical tags
        let v = try collect(fields, entity: "product", known: Fields.product) { (name, value) throws(FieldError) -> Bool in
            if name == "category" {
                if let value, !value.isEmpty {
                    try Rules.categoryCode(value, field: "category")
                    categories.append(value)
                }
                return true
            }
            if name == "media" {
                if let value, !value.isEmpty {
                    try Rules.mediaURL(value, field: "media")
                    media.append(value)
                }
                return true
            }
            if name.hasPrefix("attr.") {
                let attr = String(name.utf8.dropFirst(5))!
                try Rules.attributeName(attr)
                if attributes[attr] != nil {
                    throw FieldError(field: name, reason: "field '\(name)' appears more than once in one product record")
                }
                if let value, !value.isEmpty { attributes[attr] = value }
                return true
            }
            let isName = name.hasPrefix("name.")
            guard isName || name.hasPrefix("description.") else { return false }
            let lang = try Rules.languageTag(String(name.utf8.dropFirst(isName ? 5 : 12))!, field: name)
            let key = (isName ? "name." : "description.") + lang
            guard textFields.insert(key).inserted else {
                throw FieldError(field: name, reason: "field '\(key)' appears more than once in one product record")
            }
            guard let value, !value.isEmpty else { return true }
            var text = texts[lang] ?? LocalizedText()
            if isName { text.name = value } else { text.description = value }
            texts[lang] = text
            return true
        }
        return try makeProduct(v, attributes: attributes, categories: categories, media: media, texts: texts)
    }

    /// A product from its fixed fields' values (by position in `Fields.product`) and its other fields, decoded.
    private static func makeProduct(
        _ v: [String?], attributes: [String: String], categories: [String], media: [String],
        texts: [String: LocalizedText]
    ) throws(FieldError) -> Product {
        let sku = try required(v[0], "sku", "product")
        let name = try required(v[1], "name", "product")
        var status = ProductStatus.active
        if let s = v[3] {
            guard let parsed = ProductStatus(rawValue: s) else {
                throw FieldError(field: "status", reason: "status '\(Rules.printable(s))' is not one of active, inactive")
            }
            status = parsed
        }
        return try Product(
            sku: sku, name: name, description: v[2], status: status, attributes: attributes,
            categories: Rules.withoutRepeats(categories), media: media, texts: texts
        ).validated()
    }

    private static func decodePrice(_ fields: [(name: String, value: String?)]) throws(FieldError) -> BasePrice {
        try makePrice(try collect(fields, entity: "price", known: Fields.price))
    }

    /// A price from its fields' values, by position in `Fields.price`.
    private static func makePrice(_ v: [String?]) throws(FieldError) -> BasePrice {
        let sku = try required(v[0], "sku", "price")
        let code = try required(v[1], "currency", "price")
        let amount = try required(v[2], "amount", "price")
        try Rules.sku(sku)
        guard let currency = Currency(code: code) else {
            throw FieldError(
                field: "currency",
                reason: "currency '\(Rules.printable(code))' is not an ISO 4217 currency code (like EUR, USD, JPY)")
        }
        let minQuantity = try v[3].map { text throws(FieldError) in
            try InventorySourceItem.parseWholeNumber(text, field: "min_quantity")
        }
        return try BasePrice(sku: sku, price: try Money.parse(amount, currency: currency), minQuantity: minQuantity ?? 1)
            .validated()
    }

    private static func decodeCategory(_ fields: [(name: String, value: String?)]) throws(FieldError) -> Category {
        var texts: [String: String] = [:]
        let v = try collect(fields, entity: "category", known: Fields.category) { (name, value) throws(FieldError) -> Bool in
            guard name.hasPrefix("name.") else { return false }
            let lang = try Rules.languageTag(String(name.utf8.dropFirst(5))!, field: name)
            // An empty value still counts as given, so "name.de" twice is refused however it is spelled.
            guard texts.updateValue(value ?? "", forKey: lang) == nil else {
                throw FieldError(field: name, reason: "field 'name.\(lang)' appears more than once in one category record")
            }
            return true
        }
        let code = try required(v[0], "code", "category")
        let name = try required(v[1], "name", "category")
        let position = try v[3].map { text throws(FieldError) in
            try InventorySourceItem.parseWholeNumber(text, field: "position")
        }
        return try Category(
            code: code, name: name, parent: v[2], position: position, texts: texts.filter { !$0.value.isEmpty }
        ).validated()
    }

    private static func decodeStock(
        _ fields: [(name: String, value: String?)], options: RecordDecodingOptions
    ) throws(FieldError) -> InventorySourceItem {
        try makeStock(try collect(fields, entity: "stock", known: Fields.stock), options: options)
    }

    /// A stock item from its fields' values, by position in `Fields.stock`.
    private static func makeStock(_ v: [String?], options: RecordDecodingOptions) throws(FieldError) -> InventorySourceItem {
        let sku = try required(v[0], "sku", "stock")
        let source = try required(v[1], "source", "stock")
        let quantityText = try required(v[2], "quantity", "stock")
        try Rules.sku(sku)
        try Rules.sourceCode(source, field: "source")
        let quantity: Int64
        if options.stockQuantityIsAdjustment, quantityText.utf8.first == UInt8(ascii: "+") {
            // "+5": an explicit sign reads naturally in an adjustment (but "+-5" is no number).
            let unsigned = String(quantityText.utf8.dropFirst())!
            guard unsigned.utf8.first != UInt8(ascii: "-") else {
                throw FieldError(
                    field: "quantity",
                    reason: "quantity '\(Rules.printable(quantityText))' is not a number; expected a whole number like -3 or +5")
            }
            quantity = try InventorySourceItem.parseQuantity(unsigned)
        } else {
            quantity = try InventorySourceItem.parseQuantity(quantityText)
        }
        var status: StockStatus?
        if let s = v[3] {
            guard let parsed = StockStatus(rawValue: s) else {
                throw FieldError(field: "status", reason: "status '\(Rules.printable(s))' is not one of in_stock, out_of_stock")
            }
            status = parsed
        }
        return try InventorySourceItem(sku: sku, sourceCode: source, quantity: quantity, status: status)
            .validated(quantityIsAdjustment: options.stockQuantityIsAdjustment)
    }

    private static func decodeSource(_ fields: [(name: String, value: String?)]) throws(FieldError) -> Source {
        let v = try collect(fields, entity: "source", known: Fields.source)
        let code = try required(v[0], "code", "source")
        var enabled = true
        if let e = v[2] {
            switch e {
            case "true": enabled = true
            case "false": enabled = false
            default:
                throw FieldError(field: "enabled", reason: "enabled '\(Rules.printable(e))' must be true or false")
            }
        }
        return try Source(code: code, name: v[1], enabled: enabled).validated()
    }
}

/// Converts between the flat record form of the plugin ABI (an entity name and named string fields, see
/// "Entities and fields" in wharf_plugin.h) and the commerce model.
public enum RecordCodec {
    /// Decodes and validates one flat record.
    ///
    /// Entities: "source" (code, name, enabled), "product" (sku, name, description, status, attr.<name>…),
    /// "price" (sku, currency, amount), "stock" (sku, source, quantity, status). Field names are case-sensitive.
    /// A field whose value is nil or empty is absent; an absent required field is an error, as are an unknown
    /// field, a field given twice (also the same `attr.<name>` twice) and a value that breaks the model's rules.
    /// Every error names the field it is about (`field` is nil only for an unknown entity).
    public static func decode(entity: String, fields: [(name: String, value: String?)]) -> Result<ModelRecord, FieldError> {
        do throws(FieldError) {
            switch entity {
            case "product": return .success(.product(try decodeProduct(fields)))
            case "price": return .success(.price(try decodePrice(fields)))
            case "stock": return .success(.stock(try decodeStock(fields)))
            case "source": return .success(.source(try decodeSource(fields)))
            default:
                return .failure(
                    FieldError(
                        field: nil,
                        reason: "unknown entity '\(Rules.printable(entity))'; this host knows source, product, price, stock"))
            }
        } catch {
            return .failure(error)
        }
    }

    /// The flat form of a record — the inverse of `decode` — followed by "updated_at" (RFC 3339 UTC) when the
    /// record has one. Optional fields that are absent are left out; attributes come as "attr.<name>" fields in
    /// byte order of their names.
    public static func encode(_ record: ModelRecord) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        let updatedAt: Timestamp?
        switch record {
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
            updatedAt = p.updatedAt
        case .price(let p):
            out.append(("sku", p.sku))
            out.append(("currency", p.price.currency.code))
            out.append(("amount", p.price.decimalString))
            updatedAt = p.updatedAt
        case .stock(let s):
            out.append(("sku", s.sku))
            out.append(("source", s.sourceCode))
            out.append(("quantity", String(s.quantity)))
            out.append(("status", s.status.rawValue))
            updatedAt = s.updatedAt
        }
        if let updatedAt { out.append(("updated_at", updatedAt.rfc3339)) }
        return out
    }

    /// The field names of each entity, as listed in messages.
    public static func fieldNames(entity: String) -> [String]? {
        switch entity {
        case "source": Fields.source
        case "product": Fields.product + ["attr.<name>"]
        case "price": Fields.price
        case "stock": Fields.stock
        default: nil
        }
    }

    // MARK: Not public

    enum Fields {
        static let source = ["code", "name", "enabled"]
        static let product = ["sku", "name", "description", "status"]
        static let price = ["sku", "currency", "amount"]
        static let stock = ["sku", "source", "quantity", "status"]
    }

    /// Collects the values of a record's known fields by position in `known`, refusing unknown and repeated fields.
    /// `extra` sees fields that are not in `known` first and returns true when it took them.
    private static func collect(
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

    private static func required(_ value: String?, _ name: String, _ entity: String) throws(FieldError) -> String {
        guard let value else {
            throw FieldError(field: name, reason: "\(entity) record is missing required field '\(name)'")
        }
        return value
    }

    private static func decodeProduct(_ fields: [(name: String, value: String?)]) throws(FieldError) -> Product {
        var attributes: [String: String] = [:]
        let v = try collect(fields, entity: "product", known: Fields.product) { (name, value) throws(FieldError) -> Bool in
            guard name.hasPrefix("attr.") else { return false }
            let attr = String(name.utf8.dropFirst(5))!
            try Rules.attributeName(attr)
            if attributes[attr] != nil {
                throw FieldError(field: name, reason: "field '\(name)' appears more than once in one product record")
            }
            if let value, !value.isEmpty { attributes[attr] = value }
            return true
        }
        let sku = try required(v[0], "sku", "product")
        let name = try required(v[1], "name", "product")
        var status = ProductStatus.active
        if let s = v[3] {
            guard let parsed = ProductStatus(rawValue: s) else {
                throw FieldError(field: "status", reason: "status '\(Rules.printable(s))' is not one of active, inactive")
            }
            status = parsed
        }
        return try Product(sku: sku, name: name, description: v[2], status: status, attributes: attributes).validated()
    }

    private static func decodePrice(_ fields: [(name: String, value: String?)]) throws(FieldError) -> BasePrice {
        let v = try collect(fields, entity: "price", known: Fields.price)
        let sku = try required(v[0], "sku", "price")
        let code = try required(v[1], "currency", "price")
        let amount = try required(v[2], "amount", "price")
        try Rules.sku(sku)
        guard let currency = Currency(code: code) else {
            throw FieldError(
                field: "currency",
                reason: "currency '\(Rules.printable(code))' is not an ISO 4217 currency code (like EUR, USD, JPY)")
        }
        return try BasePrice(sku: sku, price: try Money.parse(amount, currency: currency)).validated()
    }

    private static func decodeStock(_ fields: [(name: String, value: String?)]) throws(FieldError) -> InventorySourceItem {
        let v = try collect(fields, entity: "stock", known: Fields.stock)
        let sku = try required(v[0], "sku", "stock")
        let source = try required(v[1], "source", "stock")
        let quantityText = try required(v[2], "quantity", "stock")
        try Rules.sku(sku)
        try Rules.sourceCode(source, field: "source")
        let quantity = try InventorySourceItem.parseQuantity(quantityText)
        var status: StockStatus?
        if let s = v[3] {
            guard let parsed = StockStatus(rawValue: s) else {
                throw FieldError(field: "status", reason: "status '\(Rules.printable(s))' is not one of in_stock, out_of_stock")
            }
            status = parsed
        }
        return try InventorySourceItem(sku: sku, sourceCode: source, quantity: quantity, status: status).validated()
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

/// The flat record form (plugin ABI) of the pricing entities; `RecordCodec` hands these entities here.
///
/// | entity | fields |
/// |---|---|
/// | `price_list` | code, name, currency, priority, mode (`lowest`/`override`), valid_from, valid_to, load |
/// | `price_list_entry` | list, sku, min_quantity, amount + currency, or percent_off; load; deleted |
/// | `price_list_assignment` | list, company or group, deleted |
/// | `special_price` | sku, channel, currency, amount, from, to, deleted |
/// | `price_list_publish` | code, load |
///
/// Times are RFC 3339; amounts are decimals in major units ("12.50"); `deleted` is `true`/`false`.
public enum PricingCodec {
    /// The pricing entity names.
    public static let entities = ["price_list", "price_list_entry", "price_list_assignment", "special_price", "price_list_publish"]

    /// The field names of a pricing entity, or nil for another entity.
    public static func fieldNames(entity: String) -> [String]? {
        switch entity {
        case "price_list": Fields.list
        case "price_list_entry": Fields.entry
        case "price_list_assignment": Fields.assignment
        case "special_price": Fields.special
        case "price_list_publish": Fields.publish
        default: nil
        }
    }

    /// Decodes and validates one pricing record.
    public static func decode(entity: String, _ fields: [(name: String, value: String?)]) throws(FieldError) -> PricingRecord {
        switch entity {
        case "price_list":
            let v = try RecordCodec.collect(fields, entity: entity, known: Fields.list)
            let code = try RecordCodec.required(v[0], "code", entity)
            let currency = try currencyField(try RecordCodec.required(v[2], "currency", entity), "currency")
            var priority: Int64 = 0
            if let text = v[3] {
                guard let value = Int64(text), abs(value) <= 1_000_000 else {
                    throw FieldError(field: "priority", reason: "priority '\(Rules.printable(text))' must be a whole number from -1000000 to 1000000")
                }
                priority = value
            }
            var mode = PriceListMode.lowest
            if let text = v[4] {
                guard let parsed = PriceListMode(rawValue: text) else {
                    throw FieldError(field: "mode", reason: "mode '\(Rules.printable(text))' is not one of lowest, override")
                }
                mode = parsed
            }
            let list = PriceList(
                code: code, name: v[1] ?? code, currency: currency, priority: priority, mode: mode,
                validFrom: try time(v[5], "valid_from"), validTo: try time(v[6], "valid_to"))
            return try PricingRecord.list(list, load: v[7]).validated()
        case "price_list_entry":
            let v = try RecordCodec.collect(fields, entity: entity, known: Fields.entry)
            let list = try RecordCodec.required(v[0], "list", entity)
            let sku = try RecordCodec.required(v[1], "sku", entity)
            let minQuantity = try v[2].map { text throws(FieldError) in try InventorySourceItem.parseWholeNumber(text, field: "min_quantity") } ?? 1
            let deleted = try flag(v[7], "deleted")
            let adjustment: PriceAdjustment
            switch (v[3], v[5]) {
            case (let amount?, nil):
                let currency = try currencyField(try RecordCodec.required(v[4], "currency", entity), "currency")
                adjustment = .fixed(try Money.parse(amount, currency: currency))
            case (nil, let percent?):
                adjustment = .percentOff(try PercentOff.parse(percent))
            case (nil, nil) where deleted:
                adjustment = .percentOff(PercentOff(tenThousandths: 1))
            case (nil, nil):
                throw FieldError(field: "amount", reason: "price_list_entry needs either amount (with currency) or percent_off")
            case (_?, _?):
                throw FieldError(field: "percent_off", reason: "price_list_entry has both amount and percent_off; give one")
            }
            let entry = PriceListEntry(listCode: list, sku: sku, minQuantity: minQuantity, adjustment: adjustment)
            return try PricingRecord.entry(entry, load: v[6], deleted: deleted).validated()
        case "price_list_assignment":
            let v = try RecordCodec.collect(fields, entity: entity, known: Fields.assignment)
            let list = try RecordCodec.required(v[0], "list", entity)
            let assignment: PriceListAssignment
            switch (v[1], v[2]) {
            case (let company?, nil): assignment = PriceListAssignment(listCode: list, target: .company, code: company)
            case (nil, let group?): assignment = PriceListAssignment(listCode: list, target: .group, code: group)
            default:
                throw FieldError(field: "company", reason: "price_list_assignment needs exactly one of company, group")
            }
            return try PricingRecord.assignment(assignment, deleted: try flag(v[3], "deleted")).validated()
        case "special_price":
            let v = try RecordCodec.collect(fields, entity: entity, known: Fields.special)
            let sku = try RecordCodec.required(v[0], "sku", entity)
            let channel = try RecordCodec.required(v[1], "channel", entity)
            let currency = try currencyField(try RecordCodec.required(v[2], "currency", entity), "currency")
            let amount = try RecordCodec.required(v[3], "amount", entity)
            let special = SpecialPrice(
                sku: sku, channel: channel, price: try Money.parse(amount, currency: currency), from: try time(v[4], "from"),
                to: try time(v[5], "to"))
            return try PricingRecord.special(special, deleted: try flag(v[6], "deleted")).validated()
        default:
            let v = try RecordCodec.collect(fields, entity: entity, known: Fields.publish)
            return try PricingRecord.publish(
                code: try RecordCodec.required(v[0], "code", entity), load: try RecordCodec.required(v[1], "load", entity)
            ).validated()
        }
    }

    /// The flat form of a pricing record (the inverse of `decode`).
    public static func encode(_ record: PricingRecord) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        switch record {
        case .list(let l, let load):
            out = [("code", l.code), ("name", l.name), ("currency", l.currency.code), ("priority", String(l.priority)), ("mode", l.mode.rawValue)]
            if let from = l.validFrom { out.append(("valid_from", from.rfc3339)) }
            if let to = l.validTo { out.append(("valid_to", to.rfc3339)) }
            if let load { out.append(("load", load)) }
        case .entry(let e, let load, let deleted):
            out = [("list", e.listCode), ("sku", e.sku), ("min_quantity", String(e.minQuantity))]
            switch e.adjustment {
            case .fixed(let money): out += [("amount", money.decimalString), ("currency", money.currency.code)]
            case .percentOff(let percent): out.append(("percent_off", percent.description))
            }
            if let load { out.append(("load", load)) }
            if deleted { out.append(("deleted", "true")) }
        case .assignment(let a, let deleted):
            out = [("list", a.listCode), (a.target.rawValue, a.code)]
            if deleted { out.append(("deleted", "true")) }
        case .special(let s, let deleted):
            out = [("sku", s.sku), ("channel", s.channel), ("currency", s.price.currency.code), ("amount", s.price.decimalString)]
            if let from = s.from { out.append(("from", from.rfc3339)) }
            if let to = s.to { out.append(("to", to.rfc3339)) }
            if deleted { out.append(("deleted", "true")) }
        case .publish(let code, let load):
            out = [("code", code), ("load", load)]
        }
        return out
    }

    // MARK: Not public

    enum Fields {
        static let list = ["code", "name", "currency", "priority", "mode", "valid_from", "valid_to", "load"]
        static let entry = ["list", "sku", "min_quantity", "amount", "currency", "percent_off", "load", "deleted"]
        static let assignment = ["list", "company", "group", "deleted"]
        static let special = ["sku", "channel", "currency", "amount", "from", "to", "deleted"]
        static let publish = ["code", "load"]
    }

    static func currencyField(_ code: String, _ field: String) throws(FieldError) -> Currency {
        guard let currency = Currency(code: code) else {
            throw FieldError(field: field, reason: "\(field) '\(Rules.printable(code))' is not an ISO 4217 currency code (like EUR, USD, JPY)")
        }
        return currency
    }

    static func time(_ text: String?, _ field: String) throws(FieldError) -> Timestamp? {
        guard let text else { return nil }
        guard let time = Timestamp(rfc3339: text) else {
            throw FieldError(field: field, reason: "\(field) '\(Rules.printable(text))' is not an RFC 3339 time like 2026-01-01T00:00:00Z")
        }
        return time
    }

    static func flag(_ text: String?, _ field: String) throws(FieldError) -> Bool {
        switch text {
        case nil, "false"?: return false
        case "true"?: return true
        case let other?: throw FieldError(field: field, reason: "\(field) '\(Rules.printable(other))' must be true or false")
        }
    }
}

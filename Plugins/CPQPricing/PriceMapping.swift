import WharfPluginKit

/// `mapping.fields` of a cpq-pricing connector: for each Wharf field, where it is in an export item (a dotted JSON
/// path, or a CSV column name) and the transforms to run on it (the same ones as the XML connector's, from
/// WharfPluginKit's ``TransformPipeline``).
///
/// ```json5
/// mapping: { fields: {
///   list: "priceList.code", sku: { path: "item.sku", transform: ["trim", "upper"] },
///   min_quantity: "minQty", amount: { path: "unitPrice", transform: { decimal: { separator: "," } } },
///   currency: "priceList.currency", percent_off: "discountPercent",
///   list_name: "priceList.name", priority: "priceList.priority", mode: "priceList.type",
///   valid_from: "priceList.validFrom", valid_to: "priceList.validTo", company: "accounts", group: "segments",
///   deleted: "isDeleted",
/// } }
/// ```
///
/// Every field is optional except `list` and `sku`; a field left out is read from the item key of the same name.
/// `company` and `group` may point at a string or an array of strings (one assignment each).
struct PriceMapping {
    /// Why an item could not be mapped: the Wharf field and the reason (the item becomes a reject).
    struct Failure: Error {
        var field: String
        var reason: String
    }

    /// One item mapped to record fields.
    struct Mapped {
        var list: String
        var listFields: [RecordField]
        var entryFields: [RecordField]
        var assignments: [RecordField]
    }

    struct Field {
        var path: String
        var transform: TransformPipeline
    }

    static let targets = [
        "list", "sku", "min_quantity", "amount", "currency", "percent_off", "deleted", "list_name", "list_currency",
        "priority", "mode", "valid_from", "valid_to", "company", "group",
    ]

    var fields: [String: Field] = [:]

    init(_ mapping: JSON) throws(PluginError) {
        for key in mapping.objectValue?.keys ?? [] where key != "fields" {
            throw PluginError.invalid("mapping.\(key) is not a known key; put field mappings under mapping.fields")
        }
        let given = mapping["fields"]
        if let given, given.objectValue == nil {
            throw PluginError.invalid("mapping.fields must be an object like { sku: \"item.sku\" }, found \(given.kindName)")
        }
        for member in given?.objectValue?.members ?? [] {
            let path = "mapping.fields.\(member.key)"
            guard Self.targets.contains(member.key) else {
                throw PluginError.invalid("\(path) is not a Wharf pricing field; use \(Self.targets.joined(separator: ", "))")
            }
            switch member.value {
            case .string(let source) where !source.isEmpty:
                fields[member.key] = Field(path: source, transform: TransformPipeline())
            case .object(let object):
                for key in object.keys where !["path", "transform"].contains(key) {
                    throw PluginError.invalid("\(path).\(key) is not a known key; use path, transform")
                }
                guard let source = object["path"]?.stringValue, !source.isEmpty else {
                    throw PluginError.invalid("\(path).path is required: the JSON path or CSV column of the value")
                }
                let transform = try object["transform"].map { json throws(PluginError) in
                    try TransformPipeline.parse(json, path: "\(path).transform")
                } ?? TransformPipeline()
                for reference in transform.references {
                    guard !reference.isEmpty else { throw PluginError.invalid("\(path).transform: a unit transform needs from: a path in the item") }
                }
                fields[member.key] = Field(path: source, transform: transform)
            default:
                throw PluginError.invalid("\(path) must be a path string or { path, transform }, found \(member.value.kindName)")
            }
        }
    }

    /// The values of `target` in `item`, transformed (several for arrays; empty when absent).
    func values(_ target: String, in item: JSON) throws(Failure) -> [String] {
        let field = fields[target] ?? Field(path: target, transform: TransformPipeline())
        let raw = item.value(atPath: field.path)
        let texts: [String?]
        switch raw {
        case .array(let array)?: texts = array.map(\.scalarText)
        case let value?: texts = [value.scalarText]
        case nil: texts = [nil]
        }
        var result: [String] = []
        for text in texts {
            do {
                let resolved = try field.transform.apply(text) { reference in item.value(atPath: reference)?.scalarText }
                if let resolved, !resolved.isEmpty { result.append(resolved) }
            } catch {
                throw Failure(field: target, reason: "\(target) (from \(field.path)) '\(text ?? "")': \(error.reason)")
            }
        }
        return result
    }

    func value(_ target: String, in item: JSON) throws(Failure) -> String? {
        try values(target, in: item).first
    }

    func map(_ item: JSON) throws(Failure) -> Mapped {
        guard case .object = item else { throw Failure(field: "item", reason: "an export item must be a JSON object, found \(item.kindName)") }
        guard let list = try value("list", in: item) else {
            throw Failure(field: "list", reason: "the item has no price list code at \(fields["list"]?.path ?? "list")")
        }
        guard let sku = try value("sku", in: item) else {
            throw Failure(field: "sku", reason: "the item has no SKU at \(fields["sku"]?.path ?? "sku")")
        }
        let currency = try value("currency", in: item)
        guard let listCurrency = try value("list_currency", in: item) ?? currency else {
            throw Failure(field: "currency", reason: "the item has no currency for price list '\(list)' (map currency or list_currency)")
        }
        var listFields = [RecordField("code", list), RecordField("currency", listCurrency)]
        for (target, name) in [("list_name", "name"), ("priority", "priority"), ("mode", "mode"), ("valid_from", "valid_from"), ("valid_to", "valid_to")] {
            if let value = try value(target, in: item) { listFields.append(RecordField(name, value)) }
        }
        var entryFields = [RecordField("list", list), RecordField("sku", sku)]
        if let min = try value("min_quantity", in: item) { entryFields.append(RecordField("min_quantity", min)) }
        if let amount = try value("amount", in: item) {
            entryFields.append(RecordField("amount", amount))
            entryFields.append(RecordField("currency", currency ?? listCurrency))
        }
        if let percent = try value("percent_off", in: item) { entryFields.append(RecordField("percent_off", percent)) }
        if let deleted = try value("deleted", in: item) { entryFields.append(RecordField("deleted", deleted == "1" ? "true" : deleted)) }
        var assignments: [RecordField] = []
        for target in ["company", "group"] {
            for code in try values(target, in: item) { assignments.append(RecordField(target, code)) }
        }
        return Mapped(list: list, listFields: listFields, entryFields: entryFields, assignments: assignments)
    }
}

import WharfPluginKit

// MARK: Not public

/// A problem with one line, for a reject: the field at fault and a sentence a person can act on.
struct LineProblem: Error {
    var field: String?
    var reason: String
}

/// Which JSON keys of a line give which product and price fields.
struct CatalogMapping {
    enum Attributes {
        /// The line's object at this key: each scalar member becomes `attr.<member>`.
        case object(key: String)
        /// Explicit attribute name -> line key pairs.
        case keys([(name: String, key: String)])
    }

    var sku = "sku"
    var name = "name"
    var description = "description"
    var status = "status"
    var attributes = Attributes.object(key: "attributes")
    var amount = "price"
    var currency = "currency"

    static let knownKeys = ["sku", "name", "description", "status", "attributes", "price"]

    /// Reads the connector's `mapping`; unknown keys and non-string values are refused naming the mapping path.
    init(_ mapping: JSON) throws(PluginError) {
        guard let object = mapping.objectValue else { return }
        for (key, value) in object.members {
            switch key {
            case "sku": sku = try Self.keyName(value, path: "mapping.sku")
            case "name": name = try Self.keyName(value, path: "mapping.name")
            case "description": description = try Self.keyName(value, path: "mapping.description")
            case "status": status = try Self.keyName(value, path: "mapping.status")
            case "attributes":
                if let objectKey = value.stringValue, !objectKey.isEmpty {
                    attributes = .object(key: objectKey)
                } else if let pairs = value.objectValue {
                    var keys: [(name: String, key: String)] = []
                    for (attribute, source) in pairs.members {
                        guard !attribute.isEmpty else {
                            throw PluginError.invalid("mapping.attributes has an empty attribute name; name every attribute")
                        }
                        keys.append((attribute, try Self.keyName(source, path: "mapping.attributes.\(attribute)")))
                    }
                    attributes = .keys(keys)
                } else {
                    throw PluginError.invalid("mapping.attributes must be an object of attribute name -> line key, or the key of an object in each line; found \(value.kindName)")
                }
            case "price":
                guard let price = value.objectValue else {
                    throw PluginError.invalid("mapping.price must be an object like {\"amount\": \"price\", \"currency\": \"currency\"}; found \(value.kindName)")
                }
                for (priceKey, source) in price.members {
                    switch priceKey {
                    case "amount": amount = try Self.keyName(source, path: "mapping.price.amount")
                    case "currency": currency = try Self.keyName(source, path: "mapping.price.currency")
                    default:
                        throw PluginError.invalid("mapping.price.\(priceKey) is not known; use amount and currency")
                    }
                }
            default:
                throw PluginError.invalid("mapping.\(key) is not known; use \(Self.knownKeys.joined(separator: ", "))")
            }
        }
    }

    private static func keyName(_ value: JSON, path: String) throws(PluginError) -> String {
        guard let key = value.stringValue, !key.isEmpty else {
            throw PluginError.invalid("\(path) must be the name of a key in each line (a non-empty string); found \(value.kindName)")
        }
        return key
    }

    /// The product record (and price record, when the line has an amount) of one parsed line; or why the line
    /// cannot be used. A price without currency does not fail the product: it comes back as `priceProblem`.
    func records(
        from line: JSON, lineNumber: Int, defaultCurrency: String?
    ) -> Result<(records: [Record], priceProblem: LineProblem?), LineProblem> {
        guard case .object = line else {
            return .failure(LineProblem(field: nil, reason: "line \(lineNumber) is \(line.kindName), not a JSON object; write one product object per line"))
        }
        do throws(LineProblem) {
            guard let sku = try text(line, key: sku, field: "sku", lineNumber: lineNumber) else {
                throw LineProblem(field: "sku", reason: "line \(lineNumber) has no \"\(self.sku)\" (mapping.sku): every product needs a SKU")
            }
            guard let name = try text(line, key: name, field: "name", lineNumber: lineNumber) else {
                throw LineProblem(field: "name", reason: "line \(lineNumber) has no \"\(self.name)\" (mapping.name): every product needs a name")
            }
            var product = Record(entity: "product")
            product.fields.reserveCapacity(8)
            product.fields.append(RecordField("sku", sku))
            product.fields.append(RecordField("name", name))
            if let description = try text(line, key: description, field: "description", lineNumber: lineNumber) {
                product.fields.append(RecordField("description", description))
            }
            if let status = try text(line, key: status, field: "status", lineNumber: lineNumber) {
                product.fields.append(RecordField("status", status))
            }
            switch attributes {
            case .keys(let keys):
                for (attribute, key) in keys {
                    if let value = try text(line, key: key, field: "attr.\(attribute)", lineNumber: lineNumber) {
                        product.fields.append(RecordField("attr.\(attribute)", value))
                    }
                }
            case .object(let key):
                if let value = line.value(atPath: key), value != .null {
                    guard let members = value.objectValue else {
                        throw LineProblem(field: "attributes", reason: "line \(lineNumber): \"\(key)\" must be an object of attribute name -> value, found \(value.kindName)")
                    }
                    for (attribute, member) in members.members where member != .null {
                        guard let memberText = member.scalarText else {
                            throw LineProblem(field: "attr.\(attribute)", reason: "line \(lineNumber): attribute \"\(attribute)\" must be text or a number, found \(member.kindName)")
                        }
                        product.fields.append(RecordField("attr.\(attribute)", memberText))
                    }
                }
            }

            var records = [product]
            var priceProblem: LineProblem?
            if let amount = try text(line, key: amount, field: "price.amount", lineNumber: lineNumber) {
                if let currency = try text(line, key: currency, field: "price.currency", lineNumber: lineNumber) ?? defaultCurrency {
                    records.append(Record(entity: "price", ["sku": sku, "currency": currency, "amount": amount]))
                } else {
                    priceProblem = LineProblem(
                        field: "price.currency",
                        reason: "line \(lineNumber) has a price (\"\(self.amount)\") but no \"\(self.currency)\" (mapping.price.currency); the price was not imported: add the currency to the line or set config \"currency\"")
                }
            }
            return .success((records, priceProblem))
        } catch {
            return .failure(error)
        }
    }

    /// The scalar at `key` as text; nil when absent or null; a problem when it is an object or array.
    private func text(_ line: JSON, key: String, field: String, lineNumber: Int) throws(LineProblem) -> String? {
        guard let value = line.value(atPath: key), value != .null else { return nil }
        guard let text = value.scalarText else {
            throw LineProblem(field: field, reason: "line \(lineNumber): \"\(key)\" must be text or a number, found \(value.kindName)")
        }
        return text
    }
}

import Foundation
import WharfHTTP
import WharfModel

/// The JSON body of `PUT /v1/products/{sku}`, checked field by field so a client sees every mistake at once.
enum ProductInput {
    static let knownFields: Set<String> = ["sku", "name", "description", "status", "attributes", "categories", "media", "texts"]

    static func parse(_ request: HTTPRequest, sku: String) -> Result<Product, InputFailure> {
        let object: [String: Any]
        do throws(ProblemDetails) {
            try requireJSONContentType(request, sending: "the product")
            object = try jsonObjectBody(request, example: #"{"name": "Blue mug"}"#)
        } catch {
            return .failure(.problem(error))
        }
        var errors: [(field: String?, reason: String)] = []
        for key in object.keys.sorted() where !knownFields.contains(key) {
            errors.append((key, "unknown field; a product has \(knownFields.sorted().joined(separator: ", "))"))
        }
        if let bodySKU = object["sku"], (bodySKU as? String) != sku {
            errors.append(("sku", "the body's sku must equal the SKU in the path ('\(sku)') or be left out"))
        }
        var name = ""
        switch object["name"] {
        case let text as String: name = text
        case nil: errors.append(("name", "required"))
        default: errors.append(("name", "must be a string"))
        }
        var description: String?
        switch object["description"] {
        case nil, is NSNull: description = nil
        case let text as String: description = text
        default: errors.append(("description", "must be a string or null"))
        }
        var status = ProductStatus.active
        switch object["status"] {
        case nil: break
        case let text as String:
            if let parsed = ProductStatus(rawValue: text) { status = parsed } else {
                errors.append(("status", "must be active or inactive, not '\(text)'"))
            }
        default: errors.append(("status", "must be a string: active or inactive"))
        }
        var attributes: [String: String] = [:]
        switch object["attributes"] {
        case nil, is NSNull: break
        case let dictionary as [String: Any]:
            for (key, value) in dictionary {
                if let text = value as? String { attributes[key] = text } else {
                    errors.append(("attributes.\(key)", "attribute values must be strings"))
                }
            }
        default: errors.append(("attributes", "must be an object of string values"))
        }
        func strings(_ key: String) -> [String] {
            switch object[key] {
            case nil, is NSNull: return []
            case let list as [Any]:
                let texts = list.compactMap { $0 as? String }
                if texts.count != list.count { errors.append((key, "must be an array of strings")) }
                return texts
            default:
                errors.append((key, "must be an array of strings"))
                return []
            }
        }
        let categories = strings("categories")
        let media = strings("media")
        var texts: [String: LocalizedText] = [:]
        switch object["texts"] {
        case nil, is NSNull: break
        case let languages as [String: Any]:
            for (lang, value) in languages {
                guard let text = value as? [String: Any], Set(text.keys).isSubset(of: ["name", "description"]),
                    text.values.allSatisfy({ $0 is String || $0 is NSNull })
                else {
                    errors.append(("texts.\(lang)", "must be an object with name and description strings"))
                    continue
                }
                texts[lang] = LocalizedText(name: text["name"] as? String, description: text["description"] as? String)
            }
        default: errors.append(("texts", "must be an object of languages such as {\"de\": {\"name\": \"…\"}}"))
        }
        guard errors.isEmpty else { return .failure(.invalid(errors)) }
        let product = Product(
            sku: sku, name: name, description: description, status: status, attributes: attributes,
            categories: categories, media: media, texts: texts, createdAt: nil, updatedAt: nil)
        do {
            return .success(try product.validated())
        } catch {
            return .failure(.invalid([(error.field, error.reason)]))
        }
    }
}

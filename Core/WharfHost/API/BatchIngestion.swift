import Foundation
import WharfAuth
import WharfHTTP
import WharfModel
import WharfStore

/// REST batch ingestion for systems that push instead of dropping files: products, base prices and stock levels,
/// up to `maxItems` per request, validated like connector records and applied in one transaction per request.
///
/// Each request is recorded as a run (connector `api:<kind>`, trigger `api`), so pushed data shows up in
/// `/v1/runs` with its counts and its rejects next to the scheduled imports.
enum BatchIngestion {
    static let maxItems = 10_000

    /// One kind of batch: its route, entity and how a JSON item becomes a flat record.
    struct Kind: Sendable {
        let path: String
        let entity: String
        let connector: String
        let scope: Scope
        let operationID: String
        let summary: String
        let requestSchema: String
        let flatten: @Sendable ([String: Any]) -> Result<[(name: String, value: String?)], FieldError>
    }

    static let kinds: [Kind] = [
        Kind(
            path: "/v1/products:batch", entity: "product", connector: "api:products", scope: .catalogWrite,
            operationID: "batchProducts", summary: "Creates or replaces up to 10,000 products in one transaction.",
            requestSchema: "ProductBatch", flatten: flattenProduct),
        Kind(
            path: "/v1/prices/base", entity: "price", connector: "api:prices", scope: .catalogWrite,
            operationID: "batchBasePrices", summary: "Sets up to 10,000 base prices in one transaction.",
            requestSchema: "PriceBatch", flatten: flattenPrice),
        Kind(
            path: "/v1/inventory/source-items", entity: "stock", connector: "api:inventory", scope: .inventoryWrite,
            operationID: "batchSourceItems",
            summary: "Sets the quantity of up to 10,000 SKUs at their sources in one transaction.",
            requestSchema: "SourceItemBatch", flatten: flattenStock),
    ]

    static func routes(store: Store) -> [APIRoute] {
        kinds.map { kind in
            APIRoute(
                method: .POST, path: kind.path, scope: kind.scope, operationID: kind.operationID, summary: kind.summary,
                tag: "Ingestion",
                parameters: [.query("onError", "reject (default): invalid items are refused and the rest is applied; fail: any invalid item refuses the whole request.")],
                requestSchema: kind.requestSchema,
                responses: [
                    .ok("BatchResult", "Applied; per-item results"),
                    APIResponse(status: 422, description: "onError=fail and some items are invalid; nothing was applied", schema: "BatchResult"),
                    .problem(400, "The body is not {\"items\": [...]}"), .problem(413, "More than 10,000 items"),
                ] + APIResponse.authProblems
            ) { request, _ in try handle(request, kind: kind, store: store) }
        }
    }

    static func handle(_ request: HTTPRequest, kind: Kind, store: Store) throws -> HTTPResponse {
        let failOnReject: Bool
        switch request.query("onError") {
        case nil, "reject": failOnReject = false
        case "fail": failOnReject = true
        case let other?: throw Problems.badRequest("onError must be reject or fail, not '\(other)'")
        }
        try requireJSONContentType(request, sending: "the batch")
        guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
            let items = body["items"] as? [Any]
        else {
            throw Problems.badRequest("the body must be a JSON object {\"items\": [ … ]}")
        }
        guard items.count <= maxItems else {
            throw ProblemDetails(
                type: Problems.base + "too-many-items", title: "Too Many Items", status: 413,
                detail: "a batch holds at most \(maxItems) items; this one has \(items.count): split it", instance: nil)
        }

        let run = try store.beginRun(connector: kind.connector, pluginID: "rest", trigger: .api)
        var records: [ModelRecord] = []
        var results: [(key: String?, error: FieldError?)] = []
        var rejects: [NewReject] = []
        for (index, item) in items.enumerated() {
            let decoded: Result<ModelRecord, FieldError>
            var key: String?
            if let object = item as? [String: Any] {
                key = object["sku"] as? String
                decoded = kind.flatten(object).flatMap { RecordCodec.decode(entity: kind.entity, fields: $0) }
            } else {
                decoded = .failure(FieldError(field: nil, reason: "an item must be a JSON object"))
            }
            switch decoded {
            case .success(let record):
                records.append(record)
                results.append((key, nil))
            case .failure(let error):
                results.append((key, error))
                rejects.append(NewReject(
                    runID: run.id, connector: kind.connector,
                    location: RecordLocation(source: request.path, line: nil, column: nil, recordNumber: Int64(index + 1)),
                    entity: kind.entity, field: error.field, reason: error.reason, raw: excerpt(item)))
            }
        }

        var counts = RunCounts()
        counts.read = Int64(items.count)
        counts.rejected = Int64(rejects.count)
        let refused = failOnReject && !rejects.isEmpty
        do {
            if refused {
                try store.addRejects(rejects)
            } else {
                let applied = try store.apply(records, cursor: nil, rejects: rejects)
                counts.inserted = applied.inserted
                counts.updated = applied.updated
                counts.unchanged = applied.unchanged
            }
        } catch {
            try? store.finishRun(id: run.id, state: .failed, counts: counts, error: "\(error)")
            throw error
        }
        try store.finishRun(
            id: run.id, state: refused ? .failed : .succeeded, counts: counts,
            error: refused ? "onError=fail: \(rejects.count) of \(items.count) items are invalid; nothing was applied" : nil)

        var writer = JSONWriter(capacity: 64 + items.count * 48)
        writer.beginObject()
        writer.field("run", run.id)
        writer.field("applied", !refused)
        writer.key("counts")
        writer.beginObject()
        writer.field("received", counts.read)
        writer.field("inserted", counts.inserted)
        writer.field("updated", counts.updated)
        writer.field("unchanged", counts.unchanged)
        writer.field("rejected", counts.rejected)
        writer.endObject()
        writer.key("items")
        writer.beginArray()
        for (index, result) in results.enumerated() {
            writer.beginObject()
            writer.field("index", Int64(index))
            writer.field("sku", result.key)
            if let error = result.error {
                writer.field("status", "rejected")
                writer.field("field", error.field)
                writer.field("reason", error.reason)
            } else {
                writer.field("status", refused ? "not-applied" : "accepted")
            }
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return HTTPResponse.json(refused ? 422 : 200, writer.bytes)
    }

    // MARK: Items as flat records

    private static func excerpt(_ item: Any) -> String? {
        guard JSONSerialization.isValidJSONObject(item), let data = try? JSONSerialization.data(withJSONObject: item) else {
            return "\(item)"
        }
        return String(decoding: data.prefix(1024), as: UTF8.self)
    }

    /// A JSON scalar as record text; numbers must be integers (decimals travel as strings so nothing is rounded).
    private static func text(_ value: Any, field: String, integer: Bool = false) -> Result<String?, FieldError> {
        switch value {
        case is NSNull: return .success(nil)
        case let string as String: return .success(string)
        case let number as NSNumber where String(cString: number.objCType) != "c":  // "c" is a JSON true/false
            guard integer, let exact = Int64(exactly: number.doubleValue) else {
                return .failure(FieldError(field: field, reason: integer ? "must be a whole number" : "write the value as a string such as \"12.50\" so no precision is lost"))
            }
            return .success(String(exact))
        default:
            return .failure(FieldError(field: field, reason: "must be \(integer ? "a whole number" : "a string")"))
        }
    }

    private static func flatten(
        _ object: [String: Any], known: [String: (name: String, integer: Bool)],
        extra: (String, Any, inout [(name: String, value: String?)]) -> FieldError?? = { _, _, _ in .none }
    ) -> Result<[(name: String, value: String?)], FieldError> {
        var fields: [(name: String, value: String?)] = []
        for key in object.keys.sorted() {
            let value = object[key]!
            if let target = known[key] {
                switch text(value, field: key, integer: target.integer) {
                case .success(let text): fields.append((target.name, text))
                case .failure(let error): return .failure(error)
                }
                continue
            }
            switch extra(key, value, &fields) {
            case .none:
                return .failure(FieldError(field: key, reason: "unknown field; an item has \(known.keys.sorted().joined(separator: ", "))"))
            case .some(.some(let error)):
                return .failure(error)
            case .some(.none):
                continue
            }
        }
        return .success(fields)
    }

    static func flattenProduct(_ object: [String: Any]) -> Result<[(name: String, value: String?)], FieldError> {
        flatten(object, known: ["sku": ("sku", false), "name": ("name", false), "description": ("description", false), "status": ("status", false)]) { key, value, fields in
            switch key {
            case "attributes":
                guard let attributes = value as? [String: Any] else { return FieldError(field: key, reason: "must be an object of strings") }
                for name in attributes.keys.sorted() {
                    guard let text = attributes[name] as? String else { return FieldError(field: "attributes.\(name)", reason: "must be a string") }
                    fields.append(("attr.\(name)", text))
                }
                return .some(nil)
            case "categories", "media":
                guard let list = value as? [Any] else { return FieldError(field: key, reason: "must be an array of strings") }
                for entry in list {
                    guard let text = entry as? String else { return FieldError(field: key, reason: "must be an array of strings") }
                    fields.append((key == "categories" ? "category" : "media", text))
                }
                return .some(nil)
            case "texts":
                guard let texts = value as? [String: Any] else { return FieldError(field: key, reason: "must be an object of languages such as {\"de\": {\"name\": \"…\"}}") }
                for lang in texts.keys.sorted() {
                    guard let text = texts[lang] as? [String: Any] else { return FieldError(field: "texts.\(lang)", reason: "must be an object with name and description") }
                    for (member, content) in text.sorted(by: { $0.key < $1.key }) {
                        guard member == "name" || member == "description" else {
                            return FieldError(field: "texts.\(lang).\(member)", reason: "unknown field; a text has name and description")
                        }
                        guard let string = content as? String else { return FieldError(field: "texts.\(lang).\(member)", reason: "must be a string") }
                        fields.append(("\(member).\(lang)", string))
                    }
                }
                return .some(nil)
            default:
                return .none
            }
        }
    }

    static func flattenPrice(_ object: [String: Any]) -> Result<[(name: String, value: String?)], FieldError> {
        flatten(object, known: [
            "sku": ("sku", false), "currency": ("currency", false), "amount": ("amount", false),
            "minQuantity": ("min_quantity", true),
        ])
    }

    static func flattenStock(_ object: [String: Any]) -> Result<[(name: String, value: String?)], FieldError> {
        flatten(object, known: [
            "sku": ("sku", false), "source": ("source", false), "quantity": ("quantity", true), "status": ("status", false),
        ])
    }
}

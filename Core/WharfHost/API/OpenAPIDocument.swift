import Foundation

/// Renders the OpenAPI 3.1 document of the REST API from its route table, so the two cannot drift apart.
enum OpenAPIDocument {
    static func render(routes: [APIRoute]) -> [UInt8] {
        var paths: [String: [String: Any]] = [:]
        for route in routes {
            var operation: [String: Any] = [
                "operationId": route.operationID,
                "summary": route.summary,
                "tags": [route.tag],
            ]
            if !route.parameters.isEmpty {
                operation["parameters"] = route.parameters.map { parameter in
                    [
                        "name": parameter.name, "in": parameter.location.rawValue,
                        "required": parameter.location == .path, "description": parameter.description,
                        "schema": ["type": parameter.type],
                    ] as [String: Any]
                }
            }
            if let schema = route.requestSchema {
                operation["requestBody"] = [
                    "required": true,
                    "content": ["application/json": ["schema": ["$ref": "#/components/schemas/\(schema)"]]],
                ]
            }
            var responses: [String: Any] = [:]
            for response in route.responses {
                var entry: [String: Any] = ["description": response.description]
                if let schema = response.schema {
                    let type = schema == "Problem" || schema == "ValidationProblem" ? "application/problem+json" : "application/json"
                    entry["content"] = [type: ["schema": ["$ref": "#/components/schemas/\(schema)"]]]
                }
                responses[String(response.status)] = entry
            }
            if route.scope != nil, responses["429"] == nil {
                // Every keyed route shares the throttle on failed keys (AuthenticationThrottle).
                responses["429"] = [
                    "description": "Too many failed API keys from this client address; retry after the Retry-After seconds",
                    "headers": ["Retry-After": ["description": "Seconds to wait", "schema": ["type": "integer"]]],
                    "content": ["application/problem+json": ["schema": ["$ref": "#/components/schemas/Problem"]]],
                ]
            }
            operation["responses"] = responses
            if let scope = route.scope {
                operation["security"] = [["bearerKey": [scope.rawValue]], ["headerKey": [scope.rawValue]]]
                operation["x-wharf-scope"] = scope.rawValue
            } else {
                operation["security"] = [[String: Any]]()
            }
            paths[route.path, default: [:]][route.method.rawValue.lowercased()] = operation
        }
        let document: [String: Any] = [
            "openapi": "3.1.0",
            "info": [
                "title": "Wharf REST API",
                "version": "1.0.0",
                "description": "The commerce model Wharf keeps in sync with ERP, PIM, CPQ, CRM and OMS systems. Every route but /health needs an API key (`wharf keys create`) with the scope named in x-wharf-scope. Errors are RFC 9457 problem+json.",
            ],
            "servers": [["url": "/"]],
            "paths": paths,
            "components": ["schemas": schemas.merging(OrderRoutes.schemas) { _, orders in orders }.merging(CompanyRoutes.schemas) { own, _ in own }.merging(PricingRoutes.schemas) { own, _ in own }.merging(ExportRoutes.schemas) { _, exports in exports }, "securitySchemes": [
                "bearerKey": ["type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"],
                "headerKey": ["type": "apiKey", "in": "header", "name": "X-API-Key"],
            ]],
        ]
        let data = try! JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
        return [UInt8](data)
    }

    private static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
    private static var string: [String: Any] { ["type": "string"] }
    private static var integer: [String: Any] { ["type": "integer", "format": "int64"] }
    private static var nullableString: [String: Any] { ["type": ["string", "null"]] }
    private static var time: [String: Any] { ["type": ["string", "null"], "format": "date-time"] }

    private static func object(_ properties: [String: Any], required: [String]) -> [String: Any] {
        ["type": "object", "properties": properties, "required": required]
    }

    private static func batch(of item: [String: Any]) -> [String: Any] {
        object(["items": ["type": "array", "maxItems": 10_000, "items": item]], required: ["items"])
    }

    private static func page(of item: String) -> [String: Any] {
        object(["items": ["type": "array", "items": ref(item)], "nextCursor": nullableString], required: ["items", "nextCursor"])
    }

    private static var schemas: [String: Any] { [
        "Problem": object(
            ["type": string, "title": string, "status": ["type": "integer"], "detail": string, "instance": string],
            required: ["type", "title", "status"]),
        "ValidationProblem": object(
            [
                "type": string, "title": string, "status": ["type": "integer"], "detail": string,
                "errors": ["type": "array", "items": object(["field": nullableString, "reason": string], required: ["field", "reason"])],
            ], required: ["type", "title", "status", "errors"]),
        "Health": object(["status": string], required: ["status"]),
        "OpenAPIDocument": ["type": "object"],
        "Price": object(
            ["currency": string, "amount": string, "amountMinor": integer, "minQuantity": integer, "updatedAt": time],
            required: ["currency", "amount", "amountMinor", "minQuantity"]),
        "Product": object(
            [
                "sku": string, "name": string, "description": nullableString,
                "status": ["type": "string", "enum": ["active", "inactive"]],
                "attributes": ["type": "object", "additionalProperties": string],
                "categories": ["type": "array", "items": string], "media": ["type": "array", "items": string],
                "texts": ["type": "object", "additionalProperties": object(["name": nullableString, "description": nullableString], required: [])],
                "prices": ["type": "array", "items": ref("Price")], "createdAt": time, "updatedAt": time,
            ], required: ["sku", "name", "status", "attributes", "categories", "media", "texts"]),
        "ProductInput": object(
            [
                "sku": string, "name": string, "description": nullableString,
                "status": ["type": "string", "enum": ["active", "inactive"]],
                "attributes": ["type": "object", "additionalProperties": string],
            ], required: ["name"]),
        "ProductPage": page(of: "Product"),
        "Inventory": object(
            [
                "sku": string,
                "sources": ["type": "array", "items": object(
                    ["source": string, "quantity": integer, "status": ["type": "string", "enum": ["in_stock", "out_of_stock"]], "updatedAt": time],
                    required: ["source", "quantity", "status"])],
                "totalQuantity": integer,
            ], required: ["sku", "sources", "totalQuantity"]),
        "Run": object(
            [
                "id": integer, "connector": string, "plugin": string, "trigger": string,
                "state": ["type": "string", "enum": ["running", "succeeded", "failed", "cancelled"]],
                "startedAt": time, "finishedAt": time,
                "counts": object(
                    ["read": integer, "inserted": integer, "updated": integer, "unchanged": integer, "rejected": integer],
                    required: ["read", "inserted", "updated", "unchanged", "rejected"]),
                "error": nullableString,
            ], required: ["id", "connector", "plugin", "trigger", "state", "startedAt", "counts"]),
        "RunPage": page(of: "Run"),
        "RunLogLine": object(["at": time, "level": string, "message": string], required: ["at", "level", "message"]),
        "RunLogPage": page(of: "RunLogLine"),
        "Status": object(
            [
                "now": time,
                "connectors": ["type": "array", "items": object(
                    [
                        "name": string, "enabled": ["type": "boolean"], "schedule": nullableString, "running": ["type": "boolean"],
                        "lastRun": ["oneOf": [ref("Run"), ["type": "null"]]], "lastSuccessAt": time, "nextRunAt": time,
                        "consecutiveFailures": integer, "expectedIntervalSeconds": ["type": ["integer", "null"]],
                        "overdue": ["type": "boolean"],
                    ], required: ["name", "enabled", "running", "consecutiveFailures", "overdue"])],
            ], required: ["now", "connectors"]),
        "ProductBatch": batch(of: object(
            [
                "sku": string, "name": string, "description": nullableString,
                "status": ["type": "string", "enum": ["active", "inactive"]],
                "attributes": ["type": "object", "additionalProperties": string],
                "categories": ["type": "array", "items": string], "media": ["type": "array", "items": string],
                "texts": ["type": "object", "additionalProperties": object(["name": string, "description": string], required: [])],
            ], required: ["sku", "name"])),
        "PriceBatch": batch(of: object(
            ["sku": string, "currency": string, "amount": ["type": "string", "examples": ["12.50"]], "minQuantity": integer],
            required: ["sku", "currency", "amount"])),
        "SourceItemBatch": batch(of: object(
            ["sku": string, "source": string, "quantity": integer, "status": ["type": "string", "enum": ["in_stock", "out_of_stock"]]],
            required: ["sku", "source", "quantity"])),
        "BatchResult": object(
            [
                "run": integer, "applied": ["type": "boolean"],
                "counts": object(
                    ["received": integer, "inserted": integer, "updated": integer, "unchanged": integer, "rejected": integer],
                    required: ["received", "inserted", "updated", "unchanged", "rejected"]),
                "items": ["type": "array", "items": object(
                    [
                        "index": integer, "sku": nullableString,
                        "status": ["type": "string", "enum": ["accepted", "rejected", "not-applied"]],
                        "field": nullableString, "reason": string,
                    ], required: ["index", "status"])],
            ], required: ["run", "applied", "counts", "items"]),
        "Reject": object(
            [
                "id": integer, "run": integer, "connector": string,
                "location": object(
                    ["source": nullableString, "line": ["type": ["integer", "null"]], "column": ["type": ["integer", "null"]], "record": ["type": ["integer", "null"]]],
                    required: []),
                "entity": nullableString, "field": nullableString, "reason": string, "raw": nullableString, "createdAt": time,
            ], required: ["id", "run", "connector", "reason"]),
        "RejectPage": page(of: "Reject"),
        "ConnectorList": object(
            ["items": ["type": "array", "items": object(
                [
                    "name": string, "plugin": string, "enabled": ["type": "boolean"], "schedule": nullableString,
                    "pluginInstalled": ["type": "boolean"], "pluginVersion": nullableString,
                    "lastRun": ["oneOf": [ref("Run"), ["type": "null"]]],
                ], required: ["name", "plugin", "enabled", "pluginInstalled"])]],
            required: ["items"]),
        "PluginList": object(
            [
                "items": ["type": "array", "items": object(
                    [
                        "id": string, "system": string, "version": string, "description": nullableString, "abi": string,
                        "capabilities": ["type": "array", "items": string], "path": string,
                    ], required: ["id", "system", "version", "abi", "capabilities", "path"])],
                "problems": ["type": "array", "items": object(["path": string, "message": string], required: ["path", "message"])],
            ], required: ["items", "problems"]),
    ] }
}

import Foundation
import WharfAuth
import WharfHTTP
import WharfModel
import WharfStore

/// Price resolution (`GET /v1/prices/{sku}`, `POST /v1/prices:resolve`) and price list CRUD (`/v1/price-lists`).
enum PricingRoutes {
    /// The most lines `POST /v1/prices:resolve` takes in one call.
    static let maxCartLines = 1000

    static func routes(store: Store) -> [APIRoute] {
        let codeParameter = APIParameter.path("code", "The price list's code.")
        let skuParameter = APIParameter.path("sku", "The SKU.")
        return [
            APIRoute(
                method: .GET, path: "/v1/prices/{sku}", scope: .catalogRead, operationID: "resolvePrice",
                summary: "The unit price a buyer pays for a SKU at a quantity and instant, with every candidate explained.",
                tag: "Pricing",
                parameters: [
                    skuParameter,
                    .query("company", "The buyer's company code (selects company price lists)."),
                    .query("group", "The buyer's customer group code (selects group price lists)."),
                    .query("channel", "The sales channel (selects channel special prices)."),
                    .query("qty", "Units (default 1); selects the tier.", type: "integer"),
                    .query("at", "The instant, RFC 3339 (default now)."),
                    .query("currency", "The currency to pay in; required when prices apply in several."),
                ],
                requestSchema: nil,
                responses: [
                    .ok("PriceResolution"), .problem(400, "A parameter is invalid"),
                    .problem(404, "No price applies (never answered as zero)"),
                    .problem(422, "Prices apply in several currencies and none was named"),
                ] + APIResponse.authProblems
            ) { request, parameters in
                let query = try priceQuery(
                    sku: parameters["sku"] ?? "", company: request.query("company"), group: request.query("group"),
                    channel: request.query("channel"), qty: request.query("qty"), at: request.query("at"),
                    currency: request.query("currency"))
                switch try store.resolvePrice(query, explain: true) {
                case .success(let resolution):
                    var writer = JSONWriter(capacity: 1024)
                    encode(resolution, explain: true, into: &writer)
                    return HTTPResponse.json(200, writer.bytes)
                case .failure(let failure):
                    return problem(failure)
                }
            },
            APIRoute(
                method: .POST, path: "/v1/prices:resolve", scope: .catalogRead, operationID: "resolveCart",
                summary: "Resolves up to 1000 cart lines in one call (one consistent snapshot); lines without a price carry an error.",
                tag: "Pricing", parameters: [], requestSchema: "CartPriceRequest",
                responses: [
                    .ok("CartPriceResult"), .problem(400, "The body is not a cart"), .problem(413, "More than 1000 lines"),
                    .problem(415, "Not JSON"),
                ] + APIResponse.authProblems
            ) { request, _ in
                try resolveCart(request, store: store)
            },
            APIRoute(
                method: .GET, path: "/v1/price-lists", scope: .catalogRead, operationID: "listPriceLists",
                summary: "Every price list with its entry count and assignments.", tag: "Pricing", parameters: [],
                requestSchema: nil, responses: [.ok("PriceListList")] + APIResponse.authProblems
            ) { _, _ in
                let lists = try store.priceLists()
                var writer = JSONWriter(capacity: 256 + lists.count * 256)
                writer.beginObject()
                writer.key("items")
                writer.beginArray()
                for summary in lists { encode(summary, into: &writer) }
                writer.endArray()
                writer.endObject()
                return HTTPResponse.json(200, writer.bytes)
            },
            APIRoute(
                method: .GET, path: "/v1/price-lists/{code}", scope: .catalogRead, operationID: "getPriceList",
                summary: "One price list with its entry count and assignments.", tag: "Pricing", parameters: [codeParameter],
                requestSchema: nil, responses: [.ok("PriceList"), .problem(404, "No such price list")] + APIResponse.authProblems
            ) { _, parameters in
                let code = parameters["code"] ?? ""
                guard let summary = try store.priceList(code: code) else { throw Problems.notFound("there is no price list '\(code)'") }
                var writer = JSONWriter()
                encode(summary, into: &writer)
                return HTTPResponse.json(200, writer.bytes)
            },
            APIRoute(
                method: .PUT, path: "/v1/price-lists/{code}", scope: .catalogWrite, operationID: "putPriceList",
                summary: "Creates or replaces a price list's header (name, currency, priority, mode, validity); entries stay.",
                tag: "Pricing", parameters: [codeParameter], requestSchema: "PriceListInput",
                responses: [
                    APIResponse(status: 201, description: "Created", schema: "PriceList"), .ok("PriceList", "Replaced"),
                    APIResponse(status: 422, description: "A field is invalid", schema: "ValidationProblem"),
                    .problem(409, "The currency would change under fixed prices"),
                ] + APIResponse.authProblems
            ) { request, parameters in
                let code = parameters["code"] ?? ""
                let object = try jsonObject(request, example: "{\"name\": \"Wholesale\", \"currency\": \"EUR\"}")
                let list: PriceList
                switch parsePriceList(object, code: code) {
                case .success(let parsed): list = parsed
                case .failure(let errors): return Problems.validationFailed(errors.errors)
                }
                let outcome: Store.UpsertOutcome
                do {
                    outcome = try store.putPriceList(list)
                } catch let error as StoreError where error.code == .conflict {
                    throw Problems.conflict(error.message)
                } catch let error as StoreError where error.code == .invalidRecord {
                    return Problems.validationFailed([(nil, error.message)])
                }
                guard let summary = try store.priceList(code: code) else { throw Problems.notFound("there is no price list '\(code)'") }
                var writer = JSONWriter()
                encode(summary, into: &writer)
                return HTTPResponse.json(outcome == .inserted ? 201 : 200, writer.bytes)
            },
            APIRoute(
                method: .DELETE, path: "/v1/price-lists/{code}", scope: .catalogWrite, operationID: "deletePriceList",
                summary: "Deletes a price list with its entries and assignments.", tag: "Pricing", parameters: [codeParameter],
                requestSchema: nil,
                responses: [APIResponse(status: 204, description: "Deleted", schema: nil), .problem(404, "No such price list")] + APIResponse.authProblems
            ) { _, parameters in
                let code = parameters["code"] ?? ""
                guard try store.deletePriceList(code: code) else { throw Problems.notFound("there is no price list '\(code)'") }
                return HTTPResponse(status: 204)
            },
            APIRoute(
                method: .GET, path: "/v1/price-lists/{code}/entries", scope: .catalogRead, operationID: "listPriceListEntries",
                summary: "The list's entries (tiers) in SKU order, a page at a time.", tag: "Pricing",
                parameters: [
                    codeParameter, .query("limit", "Rows per page, 1 to 1000 (default 100).", type: "integer"),
                    .query("cursor", "The nextCursor of the previous page."),
                ],
                requestSchema: nil,
                responses: [.ok("PriceListEntryPage"), .problem(400, "A parameter is invalid"), .problem(404, "No such price list")] + APIResponse.authProblems
            ) { request, parameters in
                let code = parameters["code"] ?? ""
                let limit = try limitParameter(request)
                let after = try cursorParameter(request)
                guard let page = try store.priceListEntries(code: code, after: after, limit: limit) else {
                    throw Problems.notFound("there is no price list '\(code)'")
                }
                return pageResponse(page.items, nextKey: page.nextAfter, capacity: 256 + page.items.count * 96) {
                    encode($0, into: &$1)
                }
            },
            APIRoute(
                method: .PUT, path: "/v1/price-lists/{code}/entries", scope: .catalogWrite, operationID: "putPriceListEntries",
                summary: "Stores entries in one transaction: mode=merge (default) upserts them; mode=replace makes them the list's whole entry set, atomically.",
                tag: "Pricing",
                parameters: [codeParameter, .query("mode", "merge (default) or replace.")], requestSchema: "PriceListEntriesInput",
                responses: [
                    .ok("UpsertCounts"), .problem(400, "The body is not a list of entries"), .problem(404, "No such price list"),
                    APIResponse(status: 422, description: "An entry is invalid; nothing was stored", schema: "ValidationProblem"),
                ] + APIResponse.authProblems
            ) { request, parameters in
                let code = parameters["code"] ?? ""
                let replace: Bool
                switch request.query("mode") {
                case nil, "merge"?: replace = false
                case "replace"?: replace = true
                case let other?: throw Problems.badRequest("mode must be merge or replace, not '\(other)'")
                }
                let object = try jsonObject(request, example: "{\"entries\": [{\"sku\": \"SKU-1\", \"minQuantity\": 10, \"amount\": \"9.50\"}]}")
                guard let summary = try store.priceList(code: code) else { throw Problems.notFound("there is no price list '\(code)'") }
                guard let items = object["entries"] as? [Any] else {
                    return Problems.validationFailed([("entries", "required: an array of {sku, minQuantity, amount | percentOff}")])
                }
                var entries: [PriceListEntry] = []
                var errors: [(field: String?, reason: String)] = []
                for (index, item) in items.enumerated() {
                    switch parseEntry(item, list: summary.list, path: "entries[\(index)]") {
                    case .success(let entry): entries.append(entry)
                    case .failure(let failure): errors += failure.errors
                    }
                }
                if !errors.isEmpty { return Problems.validationFailed(errors) }
                let counts: Store.UpsertCounts
                do {
                    counts = try store.putPriceListEntries(code: code, entries, replace: replace)
                } catch let error as StoreError where error.code == .invalidRecord {
                    return Problems.validationFailed([(nil, error.message)])
                }
                var writer = JSONWriter()
                writer.beginObject()
                writer.field("inserted", counts.inserted)
                writer.field("updated", counts.updated)
                writer.field("unchanged", counts.unchanged)
                writer.field("replaced", replace)
                writer.endObject()
                return HTTPResponse.json(200, writer.bytes)
            },
            APIRoute(
                method: .DELETE, path: "/v1/price-lists/{code}/entries/{sku}", scope: .catalogWrite,
                operationID: "deletePriceListEntries", summary: "Deletes every tier of a SKU (or one, with minQuantity) from the list.",
                tag: "Pricing",
                parameters: [codeParameter, skuParameter, .query("minQuantity", "Only this tier.", type: "integer")],
                requestSchema: nil,
                responses: [APIResponse(status: 204, description: "Deleted", schema: nil), .problem(404, "No such entry")] + APIResponse.authProblems
            ) { request, parameters in
                let code = parameters["code"] ?? ""
                let sku = parameters["sku"] ?? ""
                let minQuantity = try request.query("minQuantity").map { text throws(ProblemDetails) -> Int64 in
                    guard let value = Int64(text), value >= 1 else { throw Problems.badRequest("minQuantity must be a whole number of 1 or more, not '\(text)'") }
                    return value
                }
                guard try store.deletePriceListEntry(code: code, sku: sku, minQuantity: minQuantity) > 0 else {
                    throw Problems.notFound("price list '\(code)' has no entry for '\(sku)'\(minQuantity.map { " from \($0)" } ?? "")")
                }
                return HTTPResponse(status: 204)
            },
            APIRoute(
                method: .PUT, path: "/v1/price-lists/{code}/assignments/{target}/{id}", scope: .catalogWrite,
                operationID: "assignPriceList", summary: "Assigns the list to a company or a customer group (by code).",
                tag: "Pricing",
                parameters: [codeParameter, .path("target", "company or group."), .path("id", "The company's or group's code.")],
                requestSchema: nil,
                responses: [
                    APIResponse(status: 201, description: "Assigned", schema: nil), APIResponse(status: 204, description: "Was already assigned", schema: nil),
                    .problem(400, "target is not company or group"), .problem(404, "No such price list"),
                ] + APIResponse.authProblems
            ) { _, parameters in
                let assignment = try assignmentParameters(parameters)
                do {
                    return HTTPResponse(status: try store.assignPriceList(assignment) == .inserted ? 201 : 204)
                } catch let error as StoreError where error.code == .notFound {
                    throw Problems.notFound(error.message)
                }
            },
            APIRoute(
                method: .DELETE, path: "/v1/price-lists/{code}/assignments/{target}/{id}", scope: .catalogWrite,
                operationID: "unassignPriceList", summary: "Removes the list's assignment to a company or group.", tag: "Pricing",
                parameters: [codeParameter, .path("target", "company or group."), .path("id", "The company's or group's code.")],
                requestSchema: nil,
                responses: [APIResponse(status: 204, description: "Removed", schema: nil), .problem(404, "No such assignment")] + APIResponse.authProblems
            ) { _, parameters in
                let assignment = try assignmentParameters(parameters)
                guard try store.unassignPriceList(assignment) else {
                    throw Problems.notFound("price list '\(assignment.listCode)' is not assigned to \(assignment.target.rawValue) '\(assignment.code)'")
                }
                return HTTPResponse(status: 204)
            },
            APIRoute(
                method: .GET, path: "/v1/special-prices/{sku}", scope: .catalogRead, operationID: "listSpecialPrices",
                summary: "The SKU's channel special prices, in every channel.", tag: "Pricing", parameters: [skuParameter],
                requestSchema: nil, responses: [.ok("SpecialPriceList")] + APIResponse.authProblems
            ) { _, parameters in
                let specials = try store.specialPrices(sku: parameters["sku"] ?? "")
                var writer = JSONWriter()
                writer.beginObject()
                writer.key("items")
                writer.beginArray()
                for special in specials { encode(special, into: &writer) }
                writer.endArray()
                writer.endObject()
                return HTTPResponse.json(200, writer.bytes)
            },
            APIRoute(
                method: .PUT, path: "/v1/special-prices/{sku}/{channel}", scope: .catalogWrite, operationID: "putSpecialPrice",
                summary: "Creates or replaces a time-limited price of the SKU in a channel (key: sku, channel, currency, from).",
                tag: "Pricing", parameters: [skuParameter, .path("channel", "The sales channel's code.")],
                requestSchema: "SpecialPriceInput",
                responses: [
                    APIResponse(status: 201, description: "Created", schema: "SpecialPrice"), .ok("SpecialPrice", "Replaced or unchanged"),
                    .problem(400, "The body is not an object"),
                    APIResponse(status: 422, description: "A field is invalid", schema: "ValidationProblem"),
                ] + APIResponse.authProblems
            ) { request, parameters in
                let object = try jsonObject(request, example: "{\"currency\": \"EUR\", \"amount\": \"7.99\", \"from\": \"2026-12-01T00:00:00Z\"}")
                let special: SpecialPrice
                switch parseSpecial(object, sku: parameters["sku"] ?? "", channel: parameters["channel"] ?? "") {
                case .success(let parsed): special = parsed
                case .failure(let failure): return Problems.validationFailed(failure.errors)
                }
                let outcome: Store.UpsertOutcome
                do {
                    outcome = try store.putSpecialPrice(special)
                } catch let error as StoreError where error.code == .invalidRecord {
                    return Problems.validationFailed([(nil, error.message)])
                }
                var writer = JSONWriter()
                encode(special, into: &writer)
                return HTTPResponse.json(outcome == .inserted ? 201 : 200, writer.bytes)
            },
            APIRoute(
                method: .DELETE, path: "/v1/special-prices/{sku}/{channel}", scope: .catalogWrite, operationID: "deleteSpecialPrice",
                summary: "Deletes the special price with this currency and start.", tag: "Pricing",
                parameters: [
                    skuParameter, .path("channel", "The sales channel's code."), .query("currency", "Its currency (required)."),
                    .query("from", "Its start, RFC 3339 (absent: the one without a start)."),
                ],
                requestSchema: nil,
                responses: [APIResponse(status: 204, description: "Deleted", schema: nil), .problem(400, "A parameter is invalid"), .problem(404, "No such special price")] + APIResponse.authProblems
            ) { request, parameters in
                let sku = parameters["sku"] ?? "", channel = parameters["channel"] ?? ""
                guard let code = request.query("currency"), let currency = Currency(code: code) else {
                    throw Problems.badRequest("currency must be given as an ISO 4217 code like EUR")
                }
                let from = try request.query("from").map { text throws(ProblemDetails) -> Timestamp in
                    guard let time = Timestamp(rfc3339: text) else { throw Problems.badRequest("from must be an RFC 3339 time, not '\(text)'") }
                    return time
                }
                guard try store.deleteSpecialPrice(sku: sku, channel: channel, currency: currency, from: from) else {
                    throw Problems.notFound("no \(currency.code) special price of '\(sku)' in channel '\(channel)'\(from.map { " from \($0.rfc3339)" } ?? "")")
                }
                return HTTPResponse(status: 204)
            },
        ]
    }

    /// The OpenAPI schemas these routes refer to.
    static var schemas: [String: Any] {
        let string: [String: Any] = ["type": "string"]
        let integer: [String: Any] = ["type": "integer"]
        let nullableString: [String: Any] = ["type": ["string", "null"]]
        func object(_ properties: [String: Any], required: [String] = []) -> [String: Any] {
            ["type": "object", "properties": properties, "required": required]
        }
        let candidate = object([
            "kind": ["type": "string", "enum": ["base", "price_list", "special"]], "priceList": nullableString, "mode": nullableString,
            "priority": ["type": ["integer", "null"]], "assignedVia": nullableString, "channel": nullableString,
            "minQuantity": ["type": ["integer", "null"]], "percentOff": nullableString, "validFrom": nullableString,
            "validTo": nullableString, "price": nullableString, "currency": nullableString,
            "outcome": ["type": "string", "enum": ["won", "lost", "not_applicable"]], "reason": string,
        ], required: ["kind", "outcome", "reason"])
        let list = object([
            "code": string, "name": string, "currency": string, "priority": integer, "mode": ["type": "string", "enum": ["lowest", "override"]],
            "validFrom": nullableString, "validTo": nullableString, "entryCount": integer,
            "assignments": ["type": "array", "items": object(["target": string, "code": string])],
        ], required: ["code", "name", "currency", "priority", "mode"])
        let special = object(
            ["sku": string, "channel": string, "currency": string, "amount": string, "from": nullableString, "to": nullableString],
            required: ["sku", "channel", "currency", "amount"])
        let entry = object(["sku": string, "minQuantity": integer, "amount": string, "percentOff": string], required: ["sku"])
        return [
            "PriceCandidate": candidate,
            "PriceResolution": object([
                "sku": string, "quantity": integer, "unitPrice": string, "unitPriceMinor": integer, "currency": string,
                "lineTotal": string, "source": candidate, "explain": ["type": "array", "items": candidate],
            ], required: ["sku", "quantity", "unitPrice", "currency"]),
            "CartPriceRequest": object([
                "company": string, "group": string, "channel": string, "at": string, "currency": string, "explain": ["type": "boolean"],
                "lines": ["type": "array", "maxItems": maxCartLines, "items": object(["sku": string, "qty": integer], required: ["sku"])],
            ], required: ["lines"]),
            "CartPriceResult": object([
                "complete": ["type": "boolean"], "currency": nullableString, "total": nullableString,
                "lines": ["type": "array", "items": object(["sku": string, "quantity": integer, "unitPrice": string, "error": object(["type": string, "detail": string])])],
            ], required: ["complete", "lines"]),
            "PriceList": list,
            "PriceListList": object(["items": ["type": "array", "items": list]], required: ["items"]),
            "PriceListInput": object([
                "name": string, "currency": string, "priority": integer, "mode": string, "validFrom": nullableString, "validTo": nullableString,
            ], required: ["currency"]),
            "PriceListEntry": entry,
            "PriceListEntryPage": object(["items": ["type": "array", "items": entry], "nextCursor": nullableString], required: ["items"]),
            "PriceListEntriesInput": object(["entries": ["type": "array", "items": entry]], required: ["entries"]),
            "SpecialPrice": special,
            "SpecialPriceList": object(["items": ["type": "array", "items": special]], required: ["items"]),
            "SpecialPriceInput": object(["currency": string, "amount": string, "from": nullableString, "to": nullableString], required: ["currency", "amount"]),
            "UpsertCounts": object(["inserted": integer, "updated": integer, "unchanged": integer, "replaced": ["type": "boolean"]]),
        ]
    }

    // MARK: Not public

    struct FieldErrors: Error {
        var errors: [(field: String?, reason: String)]
    }

    static func priceQuery(
        sku: String, company: String?, group: String?, channel: String?, qty: String?, at: String?, currency: String?
    ) throws(ProblemDetails) -> PriceQuery {
        var quantity: Int64 = 1
        if let qty {
            guard let value = Int64(qty), value >= 1, value <= 1_000_000_000 else {
                throw Problems.badRequest("qty must be a whole number from 1 to 1000000000, not '\(qty)'")
            }
            quantity = value
        }
        var instant = Timestamp.now()
        if let at {
            guard let parsed = Timestamp(rfc3339: at) else {
                throw Problems.badRequest("at must be an RFC 3339 time like 2026-11-23T12:00:00Z, not '\(at)'")
            }
            instant = parsed
        }
        var money: Currency?
        if let currency {
            guard let parsed = Currency(code: currency) else {
                throw Problems.badRequest("currency '\(currency)' is not an ISO 4217 code like EUR")
            }
            money = parsed
        }
        func nonEmpty(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }
        return PriceQuery(
            sku: sku, company: nonEmpty(company), group: nonEmpty(group), channel: nonEmpty(channel), quantity: quantity,
            at: instant, currency: money)
    }

    static func resolveCart(_ request: HTTPRequest, store: Store) throws -> HTTPResponse {
        let object = try jsonObject(request, example: "{\"company\": \"ACME\", \"lines\": [{\"sku\": \"SKU-1\", \"qty\": 2}]}")
        guard let lines = object["lines"] as? [Any] else {
            throw Problems.badRequest("the cart needs \"lines\": an array of {\"sku\": …, \"qty\": …}")
        }
        guard lines.count <= maxCartLines else {
            throw ProblemDetails(
                type: Problems.base + "too-many-lines", title: "Content Too Large", status: 413,
                detail: "the cart has \(lines.count) lines; at most \(maxCartLines) are resolved in one call", instance: nil)
        }
        func text(_ key: String) throws(ProblemDetails) -> String? {
            switch object[key] {
            case nil, is NSNull: return nil
            case let value as String: return value
            default: throw Problems.badRequest("\(key) must be a string")
            }
        }
        let explain = (object["explain"] as? Bool) ?? false
        let template = try priceQuery(
            sku: "", company: text("company"), group: text("group"), channel: text("channel"), qty: nil, at: text("at"),
            currency: text("currency"))
        var queries: [PriceQuery] = []
        queries.reserveCapacity(lines.count)
        for (index, line) in lines.enumerated() {
            guard let line = line as? [String: Any], let sku = line["sku"] as? String, !sku.isEmpty else {
                throw Problems.badRequest("lines[\(index)] must be an object with a non-empty string \"sku\"")
            }
            var query = template
            query.sku = sku
            switch line["qty"] {
            case nil: query.quantity = 1
            case let number as NSNumber where isWholeNumber(number) && number.int64Value >= 1:
                query.quantity = number.int64Value
            default:
                throw Problems.badRequest("lines[\(index)].qty must be a whole number of 1 or more")
            }
            queries.append(query)
        }
        let results = try store.resolvePrices(queries, explain: explain)
        var currencies: Set<String> = []
        var total: Int64 = 0
        var overflow = false
        var complete = true
        for result in results {
            switch result {
            case .success(let resolution):
                currencies.insert(resolution.unitPrice.currency.code)
                if let line = resolution.lineTotal {
                    let (sum, o) = total.addingReportingOverflow(line.minorUnits)
                    total = sum
                    overflow = overflow || o
                } else {
                    overflow = true
                }
            case .failure: complete = false
            }
        }
        var writer = JSONWriter(capacity: 256 + results.count * (explain ? 1024 : 160))
        writer.beginObject()
        writer.field("complete", complete)
        writer.field("at", template.at.rfc3339)
        if currencies.count == 1, let code = currencies.first, let currency = Currency(code: code), !overflow {
            writer.field("currency", code)
            writer.field("total", Money(minorUnits: total, currency: currency).decimalString)
        } else {
            writer.field("currency", currencies.count == 1 ? currencies.first : nil)
            writer.field("total", nil as String?)
        }
        writer.key("lines")
        writer.beginArray()
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let resolution): encode(resolution, explain: explain, includeAt: false, into: &writer)
            case .failure(let failure):
                writer.beginObject()
                writer.field("sku", queries[index].sku)
                writer.field("quantity", queries[index].quantity)
                writer.key("error")
                writer.beginObject()
                writer.field("type", Problems.base + problemType(failure.kind))
                writer.field("detail", failure.message)
                writer.endObject()
                writer.endObject()
            }
        }
        writer.endArray()
        writer.endObject()
        return HTTPResponse.json(200, writer.bytes)
    }

    static func problemType(_ kind: PriceResolutionFailure.Kind) -> String {
        switch kind {
        case .notFound: "price-not-found"
        case .currencyMismatch: "currency-mismatch"
        case .invalid: "invalid-request"
        }
    }

    /// A problem+json answer for a failed resolution, with the candidates considered as `explain`.
    static func problem(_ failure: PriceResolutionFailure) -> HTTPResponse {
        let status = failure.kind == .notFound ? 404 : (failure.kind == .currencyMismatch ? 422 : 400)
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("type", Problems.base + problemType(failure.kind))
        writer.field("title", status == 404 ? "Not Found" : (status == 422 ? "Currency Mismatch" : "Bad Request"))
        writer.field("status", Int64(status))
        writer.field("detail", failure.message)
        writer.key("explain")
        writer.beginArray()
        for candidate in failure.candidates { encode(candidate, into: &writer) }
        writer.endArray()
        writer.endObject()
        var response = HTTPResponse(status: status, body: writer.bytes)
        response.headers.replaceOrAdd(name: "Content-Type", value: "application/problem+json")
        return response
    }

    static func encode(_ resolution: PriceResolution, explain: Bool, includeAt: Bool = true, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("sku", resolution.query.sku)
        writer.field("quantity", resolution.query.quantity)
        writer.field("unitPrice", resolution.unitPrice.decimalString)
        writer.field("unitPriceMinor", resolution.unitPrice.minorUnits)
        writer.field("currency", resolution.unitPrice.currency.code)
        writer.field("lineTotal", resolution.lineTotal?.decimalString)
        if includeAt { writer.field("at", resolution.query.at.rfc3339) }
        writer.key("source")
        encode(resolution.winner, into: &writer)
        if explain {
            writer.key("explain")
            writer.beginArray()
            for candidate in resolution.candidates { encode(candidate, into: &writer) }
            writer.endArray()
        }
        writer.endObject()
    }

    static func encode(_ candidate: PriceCandidate, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("kind", candidate.kind.rawValue)
        if let list = candidate.listCode {
            writer.field("priceList", list)
            writer.field("mode", candidate.mode?.rawValue)
            writer.field("priority", candidate.priority)
            writer.field("assignedVia", candidate.assignedVia)
        }
        if let channel = candidate.channel { writer.field("channel", channel) }
        if let min = candidate.minQuantity { writer.field("minQuantity", min) }
        if let percent = candidate.percentOff { writer.field("percentOff", percent.description) }
        if candidate.validFrom != nil || candidate.validTo != nil {
            writer.field("validFrom", candidate.validFrom?.rfc3339)
            writer.field("validTo", candidate.validTo?.rfc3339)
        }
        writer.field("price", candidate.price?.decimalString)
        writer.field("currency", candidate.price?.currency.code)
        writer.field("outcome", candidate.outcome.rawValue)
        writer.field("reason", candidate.reason)
        writer.endObject()
    }

    static func encode(_ summary: Store.PriceListSummary, into writer: inout JSONWriter) {
        let list = summary.list
        writer.beginObject()
        writer.field("code", list.code)
        writer.field("name", list.name)
        writer.field("currency", list.currency.code)
        writer.field("priority", list.priority)
        writer.field("mode", list.mode.rawValue)
        writer.field("validFrom", list.validFrom?.rfc3339)
        writer.field("validTo", list.validTo?.rfc3339)
        writer.field("entryCount", summary.entryCount)
        writer.key("assignments")
        writer.beginArray()
        for assignment in summary.assignments {
            writer.beginObject()
            writer.field("target", assignment.target.rawValue)
            writer.field("code", assignment.code)
            writer.endObject()
        }
        writer.endArray()
        writer.field("updatedAt", list.updatedAt?.rfc3339)
        writer.endObject()
    }

    static func encode(_ entry: PriceListEntry, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("sku", entry.sku)
        writer.field("minQuantity", entry.minQuantity)
        switch entry.adjustment {
        case .fixed(let money): writer.field("amount", money.decimalString)
        case .percentOff(let percent): writer.field("percentOff", percent.description)
        }
        writer.endObject()
    }

    static func encode(_ special: SpecialPrice, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("sku", special.sku)
        writer.field("channel", special.channel)
        writer.field("currency", special.price.currency.code)
        writer.field("amount", special.price.decimalString)
        writer.field("from", special.from?.rfc3339)
        writer.field("to", special.to?.rfc3339)
        writer.endObject()
    }

    static func parseSpecial(_ object: [String: Any], sku: String, channel: String) -> Result<SpecialPrice, FieldErrors> {
        var errors: [(field: String?, reason: String)] = []
        for key in object.keys.sorted() where !["currency", "amount", "from", "to"].contains(key) {
            errors.append((key, "unknown field; a special price has currency, amount, from, to"))
        }
        var currency: Currency?
        if let code = object["currency"] as? String {
            currency = Currency(code: code)
            if currency == nil { errors.append(("currency", "'\(code)' is not an ISO 4217 code like EUR")) }
        } else {
            errors.append(("currency", "required: an ISO 4217 code like EUR"))
        }
        var price: Money?
        switch object["amount"] {
        case let text as String:
            if let currency {
                do throws(FieldError) { price = try Money.parse(text, currency: currency) } catch { errors.append(("amount", error.reason)) }
            }
        case nil: errors.append(("amount", "required: a decimal string like \"7.99\""))
        default: errors.append(("amount", "write amounts as strings like \"7.99\" so no digit is lost"))
        }
        func time(_ key: String) -> Timestamp? {
            switch object[key] {
            case nil, is NSNull: return nil
            case let text as String:
                if let parsed = Timestamp(rfc3339: text) { return parsed }
                errors.append((key, "'\(text)' is not an RFC 3339 time like 2026-12-01T00:00:00Z"))
            default: errors.append((key, "must be an RFC 3339 time string or null"))
            }
            return nil
        }
        let from = time("from"), to = time("to")
        guard errors.isEmpty, let price else { return .failure(FieldErrors(errors: errors)) }
        let special = SpecialPrice(sku: sku, channel: channel, price: price, from: from, to: to)
        do throws(FieldError) {
            return .success(try special.validated())
        } catch {
            return .failure(FieldErrors(errors: [(error.field, error.reason)]))
        }
    }

    /// The JSON object body of a pricing request (415/400 as every JSON route answers them).
    static func jsonObject(_ request: HTTPRequest, example: String) throws(ProblemDetails) -> [String: Any] {
        try requireJSONContentType(request, sending: nil)
        return try jsonObjectBody(request, example: example)
    }

    static func parsePriceList(_ object: [String: Any], code: String) -> Result<PriceList, FieldErrors> {
        var errors: [(field: String?, reason: String)] = []
        let known: Set<String> = ["code", "name", "currency", "priority", "mode", "validFrom", "validTo"]
        for key in object.keys.sorted() where !known.contains(key) {
            errors.append((key, "unknown field; a price list has \(known.sorted().joined(separator: ", "))"))
        }
        if let bodyCode = object["code"], (bodyCode as? String) != code {
            errors.append(("code", "the body's code must equal the code in the path ('\(code)') or be left out"))
        }
        var currency: Currency?
        switch object["currency"] {
        case let text as String:
            currency = Currency(code: text)
            if currency == nil { errors.append(("currency", "'\(text)' is not an ISO 4217 code like EUR")) }
        case nil: errors.append(("currency", "required"))
        default: errors.append(("currency", "must be a string like EUR"))
        }
        var name = code
        switch object["name"] {
        case nil: break
        case let text as String: name = text
        default: errors.append(("name", "must be a string"))
        }
        var priority: Int64 = 0
        switch object["priority"] {
        case nil: break
        case let number as NSNumber where isWholeNumber(number): priority = number.int64Value
        default: errors.append(("priority", "must be a whole number"))
        }
        var mode = PriceListMode.lowest
        switch object["mode"] {
        case nil: break
        case let text as String:
            if let parsed = PriceListMode(rawValue: text) { mode = parsed } else { errors.append(("mode", "must be lowest or override, not '\(text)'")) }
        default: errors.append(("mode", "must be lowest or override"))
        }
        func time(_ key: String) -> Timestamp? {
            switch object[key] {
            case nil, is NSNull: return nil
            case let text as String:
                if let parsed = Timestamp(rfc3339: text) { return parsed }
                errors.append((key, "'\(text)' is not an RFC 3339 time like 2026-01-01T00:00:00Z"))
            default: errors.append((key, "must be an RFC 3339 time string or null"))
            }
            return nil
        }
        let from = time("validFrom")
        let to = time("validTo")
        guard errors.isEmpty, let currency else { return .failure(FieldErrors(errors: errors)) }
        let list = PriceList(code: code, name: name, currency: currency, priority: priority, mode: mode, validFrom: from, validTo: to)
        do throws(FieldError) {
            return .success(try list.validated())
        } catch {
            return .failure(FieldErrors(errors: [(error.field.map { $0 == "valid_to" ? "validTo" : $0 }, error.reason)]))
        }
    }

    static func parseEntry(_ item: Any, list: PriceList, path: String) -> Result<PriceListEntry, FieldErrors> {
        guard let object = item as? [String: Any] else {
            return .failure(FieldErrors(errors: [(path, "must be an object {sku, minQuantity, amount | percentOff}")]))
        }
        var errors: [(field: String?, reason: String)] = []
        for key in object.keys.sorted() where !["sku", "minQuantity", "amount", "percentOff"].contains(key) {
            errors.append(("\(path).\(key)", "unknown field; an entry has sku, minQuantity, amount, percentOff"))
        }
        let sku = object["sku"] as? String ?? ""
        if sku.isEmpty { errors.append(("\(path).sku", "required: a non-empty string")) }
        var minQuantity: Int64 = 1
        switch object["minQuantity"] {
        case nil: break
        case let number as NSNumber where isWholeNumber(number) && number.int64Value >= 1: minQuantity = number.int64Value
        default: errors.append(("\(path).minQuantity", "must be a whole number of 1 or more"))
        }
        var adjustment: PriceAdjustment?
        switch (object["amount"], object["percentOff"]) {
        case (let amount as String, nil):
            do throws(FieldError) { adjustment = .fixed(try Money.parse(amount, currency: list.currency)) } catch {
                errors.append(("\(path).amount", error.reason))
            }
        case (_?, nil):
            errors.append(("\(path).amount", "write amounts as strings like \"12.50\" (in \(list.currency.code)) so no digit is lost"))
        case (nil, let percent?):
            let text = (percent as? String) ?? (percent as? NSNumber).map { "\($0)" } ?? ""
            do throws(FieldError) { adjustment = .percentOff(try PercentOff.parse(text, field: "percentOff")) } catch {
                errors.append(("\(path).percentOff", error.reason))
            }
        case (nil, nil): errors.append(("\(path).amount", "give amount (a fixed price) or percentOff"))
        default: errors.append(("\(path).percentOff", "give amount or percentOff, not both"))
        }
        guard errors.isEmpty, let adjustment else { return .failure(FieldErrors(errors: errors)) }
        let entry = PriceListEntry(listCode: list.code, sku: sku, minQuantity: minQuantity, adjustment: adjustment)
        do throws(FieldError) {
            return .success(try entry.validated())
        } catch {
            return .failure(FieldErrors(errors: [("\(path).\(error.field ?? "sku")", error.reason)]))
        }
    }

    static func assignmentParameters(_ parameters: RouteParameters) throws(ProblemDetails) -> PriceListAssignment {
        let code = parameters["code"] ?? ""
        let id = parameters["id"] ?? ""
        guard let target = PriceAssignmentTarget(rawValue: parameters["target"] ?? "") else {
            throw Problems.badRequest("the assignment target must be company or group, not '\(parameters["target"] ?? "")'")
        }
        let assignment = PriceListAssignment(listCode: code, target: target, code: id)
        do throws(FieldError) {
            return try assignment.validated()
        } catch {
            throw Problems.badRequest(error.reason)
        }
    }

    /// A JSON number without a fraction (JSONSerialization gives NSNumber for both 2 and 2.5).
    static func isWholeNumber(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) != "c" && number.doubleValue == Double(number.int64Value)
    }
}

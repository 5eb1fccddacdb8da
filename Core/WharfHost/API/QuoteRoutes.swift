import Foundation
import WharfAuth
import WharfHTTP
import WharfModel
import WharfStore

/// B2B quotes: a company user asks for prices (`POST /v1/quotes`), the seller offers them and the buyer accepts or
/// declines (`PATCH /v1/quotes/{id}`), and an accepted quote becomes an order at the quoted prices
/// (`POST /v1/quotes/{id}/order`).
enum QuoteRoutes {
    static func routes(store: Store, outbox: OutboxSignal) -> [APIRoute] {
        let idParameter = APIParameter.path("id", "The quote's id.")
        return [
            APIRoute(
                method: .POST, path: "/v1/quotes", scope: .ordersWrite, operationID: "requestQuote",
                summary: "Asks for a quote: {companyId, companyUserId, channel, currency, lines: [{sku, quantity, requestedUnitPrice?}], note?}.",
                tag: "Quotes", parameters: [], requestSchema: "QuoteInput",
                responses: [APIResponse(status: 201, description: "Requested", schema: "Quote"),
                            APIResponse(status: 422, description: "Invalid fields", schema: "ValidationProblem")] + APIResponse.authProblems
            ) { request, _ in
                let body = try jsonObjectBody(request)
                var errors: [(String?, String)] = []
                func text(_ key: String) -> String {
                    guard let value = body[key] as? String, !value.isEmpty else {
                        errors.append((key, "\(key) is required (a string)"))
                        return ""
                    }
                    return value
                }
                let company = text("companyId"), user = text("companyUserId"), channel = text("channel"), code = text("currency")
                let currency = Currency(code: code)
                if !code.isEmpty && currency == nil { errors.append(("currency", "currency '\(code)' is not an ISO 4217 code Wharf knows")) }
                var lines: [QuoteLine] = []
                let raw = body["lines"] as? [[String: Any]] ?? []
                if raw.isEmpty { errors.append(("lines", "lines is required: an array of {sku, quantity, requestedUnitPrice?}")) }
                for (i, line) in raw.enumerated() {
                    guard let sku = line["sku"] as? String, try store.product(sku: sku) != nil else {
                        errors.append(("lines[\(i)].sku", "lines[\(i)].sku must name a product"))
                        continue
                    }
                    guard let quantity = (line["quantity"] as? NSNumber).flatMap({ Int64(exactly: $0.doubleValue) }), quantity >= 1 else {
                        errors.append(("lines[\(i)].quantity", "lines[\(i)].quantity must be a whole number of 1 or more"))
                        continue
                    }
                    var requested: Int64?
                    if let price = line["requestedUnitPrice"] as? String, let currency {
                        do throws(FieldError) { requested = try Money.parse(price, currency: currency).minorUnits } catch {
                            errors.append(("lines[\(i)].requestedUnitPrice", error.reason.replacingOccurrences(of: "amount", with: "lines[\(i)].requestedUnitPrice")))
                        }
                    }
                    lines.append(QuoteLine(sku: sku, quantity: quantity, requestedUnitPrice: requested))
                }
                guard errors.isEmpty, let currency else { return Problems.validationFailed(errors) }
                let quote = try store.createQuote(
                    companyID: company, companyUserID: user, channel: channel, currency: currency, lines: lines, note: body["note"] as? String)
                var response = encode(quote, status: 201)
                response.headers.replaceOrAdd(name: "Location", value: "/v1/quotes/\(quote.id)")
                return response
            },
            APIRoute(
                method: .GET, path: "/v1/quotes/{id}", scope: .ordersRead, operationID: "getQuote",
                summary: "One quote with its lines, offered prices and status (expired once its offer ran out).", tag: "Quotes",
                parameters: [idParameter], requestSchema: nil, responses: [.ok("Quote"), .problem(404, "No such quote")] + APIResponse.authProblems
            ) { _, parameters in
                let id = parameters["id"] ?? ""
                guard let quote = try store.quote(id: id) else { throw Problems.notFound("no quote '\(id)'") }
                return encode(quote, status: 200)
            },
            APIRoute(
                method: .PATCH, path: "/v1/quotes/{id}", scope: .ordersWrite, operationID: "updateQuote",
                summary: "Negotiates a quote: {status?: negotiated|accepted|declined, lines?: [{line, quotedUnitPrice}], expiresAt?, note?}.",
                tag: "Quotes", parameters: [idParameter], requestSchema: "QuotePatch",
                responses: [.ok("Quote"), .problem(404, "No such quote"), .problem(409, "The transition is not allowed"),
                            APIResponse(status: 422, description: "Invalid fields", schema: "ValidationProblem")] + APIResponse.authProblems
            ) { request, parameters in
                let id = parameters["id"] ?? ""
                let body = try jsonObjectBody(request)
                guard let current = try store.quote(id: id) else { throw Problems.notFound("no quote '\(id)'") }
                var change = Store.QuoteChange()
                var errors: [(String?, String)] = []
                if let status = body["status"] as? String {
                    if let parsed = QuoteStatus(rawValue: status) { change.status = parsed } else {
                        errors.append(("status", "status must be negotiated, accepted or declined, not '\(status)'"))
                    }
                }
                for (i, line) in (body["lines"] as? [[String: Any]] ?? []).enumerated() {
                    guard let index = (line["line"] as? NSNumber)?.intValue, let price = line["quotedUnitPrice"] as? String else {
                        errors.append(("lines[\(i)]", "lines[\(i)] must be {line: <0-based index>, quotedUnitPrice: \"12.50\"}"))
                        continue
                    }
                    do throws(FieldError) { change.quotedUnitPrices[index] = try Money.parse(price, currency: current.currency).minorUnits } catch {
                        errors.append(("lines[\(i)].quotedUnitPrice", error.reason.replacingOccurrences(of: "amount", with: "lines[\(i)].quotedUnitPrice")))
                    }
                }
                if let text = body["expiresAt"] as? String {
                    if let time = Timestamp(rfc3339: text) { change.expiresAt = time } else {
                        errors.append(("expiresAt", "expiresAt must be an RFC 3339 time such as 2026-12-01T00:00:00Z"))
                    }
                }
                change.note = body["note"] as? String
                guard errors.isEmpty else { return Problems.validationFailed(errors) }
                switch try store.updateQuote(id: id, change) {
                case .updated(let quote): return encode(quote, status: 200)
                case .notFound: throw Problems.notFound("no quote '\(id)'")
                case .rejected(let reason):
                    throw ProblemDetails(type: Problems.base + "quote-transition", title: "Conflict", status: 409, detail: reason, instance: nil)
                }
            },
            APIRoute(
                method: .POST, path: "/v1/quotes/{id}/order", scope: .ordersWrite, operationID: "orderQuote",
                summary: "Turns an accepted quote into an order at the quoted prices (stock is checked and reserved as for any order). Needs an Idempotency-Key; optional body {number, customerId, shippingTotal, taxTotal, billingAddress, shippingAddress}.",
                tag: "Quotes", parameters: [idParameter], requestSchema: nil,
                responses: [APIResponse(status: 201, description: "Ordered", schema: "Order"), .ok("Order", "Replayed"),
                            .problem(404, "No such quote"), .problem(409, "Not accepted, already ordered, or not enough stock")] + APIResponse.authProblems
            ) { request, parameters in
                let id = parameters["id"] ?? ""
                guard let key = request.headers["Idempotency-Key"], !key.isEmpty, key.utf8.count <= 255 else {
                    throw Problems.badRequest("send an Idempotency-Key header (a unique string of at most 255 bytes)")
                }
                guard let quote = try store.quote(id: id) else { throw Problems.notFound("no quote '\(id)'") }
                let digest = SHA256.hash(Array("quote:\(id):".utf8) + request.body)
                if let prior = try store.order(idempotencyKey: key) {
                    guard prior.requestDigest == digest else { throw OrderRoutes.keyReused(key, prior.order.number) }
                    return OrderRoutes.replayed(prior.order)
                }
                // The order body is the quote's lines at their quoted prices plus what the caller adds.
                var extra: [String: Any] = request.body.isEmpty ? [:] : try jsonObjectBody(request)
                for key in ["channel", "currency", "lines", "companyId", "companyUserId", "quoteId"] where extra[key] != nil {
                    throw Problems.badRequest("\(key) comes from the quote; leave it out")
                }
                extra["channel"] = quote.channel
                extra["currency"] = quote.currency.code
                extra["companyId"] = quote.companyID
                extra["companyUserId"] = quote.companyUserID
                extra["quoteId"] = quote.id
                extra["lines"] = quote.lines.map { line -> [String: Any] in
                    ["sku": line.sku, "quantity": line.quantity,
                     "unitPrice": Money(minorUnits: line.quotedUnitPrice ?? 0, currency: quote.currency).decimalString]
                }
                let new: NewOrder
                switch OrderJSON.parseNewOrder(Array((try? JSONSerialization.data(withJSONObject: extra)) ?? Data())) {
                case .success(let order): new = order
                case .failure(let problems): return Problems.validationFailed(problems.errors.map { ($0.field, $0.reason) })
                }
                return try OrderRoutes.commit(new, key: key, digest: digest, store: store, outbox: outbox)
            },
        ]
    }

    static func encode(_ quote: Quote, status: Int) -> HTTPResponse {
        var writer = JSONWriter(capacity: 512)
        writer.beginObject()
        writer.field("id", quote.id)
        writer.field("companyId", quote.companyID)
        writer.field("companyUserId", quote.companyUserID)
        writer.field("channel", quote.channel)
        writer.field("currency", quote.currency.code)
        writer.field("status", quote.status.rawValue)
        writer.key("lines")
        writer.beginArray()
        for (i, line) in quote.lines.enumerated() {
            writer.beginObject()
            writer.field("line", Int64(i))
            writer.field("sku", line.sku)
            writer.field("quantity", line.quantity)
            writer.field("requestedUnitPrice", line.requestedUnitPrice.map { Money(minorUnits: $0, currency: quote.currency).decimalString })
            writer.field("quotedUnitPrice", line.quotedUnitPrice.map { Money(minorUnits: $0, currency: quote.currency).decimalString })
            writer.endObject()
        }
        writer.endArray()
        writer.field("expiresAt", quote.expiresAt?.rfc3339)
        writer.field("note", quote.note)
        writer.field("orderNumber", quote.orderNumber)
        writer.field("createdAt", quote.createdAt.rfc3339)
        writer.field("updatedAt", quote.updatedAt.rfc3339)
        writer.endObject()
        return HTTPResponse.json(status, writer.bytes)
    }

    /// Schemas of the quote routes' bodies.
    static var schemas: [String: Any] {
        let string: [String: Any] = ["type": "string"]
        let nullableString: [String: Any] = ["type": ["string", "null"]]
        let integer: [String: Any] = ["type": "integer", "format": "int64"]
        func object(_ properties: [String: Any], required: [String]) -> [String: Any] {
            ["type": "object", "properties": properties, "required": required]
        }
        return [
            "QuoteInput": object([
                "companyId": string, "companyUserId": string, "channel": string, "currency": string, "note": string,
                "lines": ["type": "array", "items": object(["sku": string, "quantity": integer, "requestedUnitPrice": string], required: ["sku", "quantity"])],
            ], required: ["companyId", "companyUserId", "channel", "currency", "lines"]),
            "QuotePatch": object([
                "status": ["type": "string", "enum": ["negotiated", "accepted", "declined"]], "expiresAt": string, "note": string,
                "lines": ["type": "array", "items": object(["line": integer, "quotedUnitPrice": string], required: ["line", "quotedUnitPrice"])],
            ], required: []),
            "Quote": object([
                "id": string, "companyId": string, "companyUserId": string, "channel": string, "currency": string,
                "status": ["type": "string", "enum": QuoteStatus.allCases.map(\.rawValue)],
                "lines": ["type": "array", "items": object([
                    "line": integer, "sku": string, "quantity": integer, "requestedUnitPrice": nullableString, "quotedUnitPrice": nullableString,
                ], required: ["line", "sku", "quantity"])],
                "expiresAt": nullableString, "note": nullableString, "orderNumber": nullableString, "createdAt": string, "updatedAt": string,
            ], required: ["id", "status", "lines"]),
        ]
    }
}

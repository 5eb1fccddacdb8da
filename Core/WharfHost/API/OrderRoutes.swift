import Foundation
import WharfAuth
import WharfHTTP
import WharfModel
import WharfStore

/// Orders, their shipments and returns, and the outbox that carries them to the OMS.
enum OrderRoutes {
    /// The routes. `outbox` is notified after every committed outbox message; `prices` checks line prices.
    static func routes(store: Store, outbox: OutboxSignal, prices: any OrderPriceCheck) -> [APIRoute] {
        let numberParameter = APIParameter.path("number", "The order number.")
        return QuoteRoutes.routes(store: store, outbox: outbox) + [
            APIRoute(
                method: .POST, path: "/v1/orders", scope: .ordersWrite, operationID: "placeOrder",
                summary: "Places an order: checks SKUs, prices and salable stock, reserves the stock and queues the order for the OMS, in one transaction. Needs an Idempotency-Key header: the same key again returns the same order.",
                tag: "Orders", parameters: [], requestSchema: "OrderInput",
                responses: [
                    APIResponse(status: 201, description: "Placed", schema: "Order"),
                    .ok("Order", "The order placed earlier with the same Idempotency-Key"),
                    .problem(400, "No Idempotency-Key header"),
                    .problem(409, "Not enough salable stock for some lines (listed), or the order number is taken"),
                    .problem(415, "The body is not JSON"), .problem(503, "Price resolution failed; nothing was placed"),
                    APIResponse(status: 422, description: "Invalid fields, unknown SKUs or wrong prices (listed), or the key was used for another request", schema: "ValidationProblem"),
                ] + APIResponse.authProblems
            ) { request, _ in
                try place(request, store: store, outbox: outbox, prices: prices)
            },
            APIRoute(
                method: .GET, path: "/v1/orders", scope: .ordersRead, operationID: "listOrders",
                summary: "Orders in the order they last changed, a page at a time; filter by status, channel, company or change time.",
                tag: "Orders",
                parameters: [
                    .query("status", "Only orders with this status."), .query("channel", "Only this channel."),
                    .query("company", "Only this company's orders."),
                    .query("updatedSince", "Only orders changed at or after this RFC 3339 time."),
                    .query("limit", "Page size, 1 to 1000 (default 100).", type: "integer"),
                    .query("cursor", "The nextCursor of the previous page."),
                ],
                requestSchema: nil, responses: [.ok("OrderPage"), .problem(400, "A parameter is invalid")] + APIResponse.authProblems
            ) { request, _ in
                var query = Store.OrderQuery(limit: try limitParameter(request))
                query.status = try enumParameter(
                    request, "status", choices: "one of \(OrderStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                query.channel = request.query("channel")
                query.companyID = request.query("company")
                if let since = try timeParameter(request, "updatedSince") { query.updatedSince = since }
                if let cursor = try cursorParameter(request) {
                    let parts = cursor.split(separator: ":")
                    guard parts.count == 2, let at = Int64(parts[0]), let id = Int64(parts[1]) else {
                        throw Problems.badRequest("the cursor does not belong to this list")
                    }
                    query.after = (at, id)
                }
                let page = try store.orders(query)
                return pageResponse(page.items, nextKey: page.next.map { "\($0.updatedAt):\($0.id)" }, capacity: 1024) {
                    OrderJSON.order($0, into: &$1)
                }
            },
            APIRoute(
                method: .GET, path: "/v1/orders/{number}", scope: .ordersRead, operationID: "getOrder",
                summary: "One order with its lines, quantities shipped, cancelled and returned, and its status history.",
                tag: "Orders", parameters: [numberParameter], requestSchema: nil,
                responses: [.ok("Order"), .problem(404, "No such order")] + APIResponse.authProblems
            ) { _, parameters in
                let number = parameters["number"] ?? ""
                guard let order = try store.order(number: number) else { throw Problems.notFound("no order with number '\(number)'") }
                return json(capacity: 1024) { OrderJSON.order(order, into: &$0) }
            },
            APIRoute(
                method: .POST, path: "/v1/orders/{number}/cancel", scope: .ordersWrite, operationID: "cancelOrder",
                summary: "Cancels an order that has not shipped: releases its reservations and tells the OMS (through the outbox). Optional body {\"reason\": \"…\"}.",
                tag: "Orders", parameters: [numberParameter], requestSchema: nil,
                responses: [.ok("Order", "Cancelled (or already cancelled)"), .problem(404, "No such order"), .problem(409, "The order can no longer be cancelled")] + APIResponse.authProblems
            ) { request, parameters in
                let number = parameters["number"] ?? ""
                var note: String?
                if !request.body.isEmpty {
                    guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
                        throw Problems.badRequest("the body must be empty or a JSON object {\"reason\": \"…\"}")
                    }
                    note = body["reason"] as? String
                }
                switch try store.cancelOrder(number: number, note: note, payload: OrderJSON.orderText) {
                case .applied(let order):
                    outbox.notify()
                    return json(capacity: 1024) { OrderJSON.order(order, into: &$0) }
                case .unchanged(let order): return json(capacity: 1024) { OrderJSON.order(order, into: &$0) }
                case .notFound: throw Problems.notFound("no order with number '\(number)'")
                case .rejected(let reason):
                    throw ProblemDetails(type: Problems.base + "order-not-cancellable", title: "Conflict", status: 409, detail: reason, instance: nil)
                }
            },
            APIRoute(
                method: .GET, path: "/v1/shipments", scope: .ordersRead, operationID: "listShipments",
                summary: "Shipments reported by the OMS/WMS, oldest first, a page at a time.", tag: "Orders",
                parameters: [
                    .query("order", "Only this order's shipments."), .query("limit", "Page size, 1 to 1000 (default 100).", type: "integer"),
                    .query("cursor", "The nextCursor of the previous page."),
                ],
                requestSchema: nil, responses: [.ok("ShipmentPage"), .problem(400, "A parameter is invalid")] + APIResponse.authProblems
            ) { request, _ in
                try idPage(request, fetch: { try store.shipments(orderNumber: request.query("order"), limit: $0, afterID: $1) }, id: \.id) {
                    OrderJSON.shipment($0.shipment, into: &$1)
                }
            },
            APIRoute(
                method: .GET, path: "/v1/returns", scope: .ordersRead, operationID: "listReturns",
                summary: "Returns and exchanges reported by the OMS, oldest first; restock=true lists only those with units to restock (what the ERP books).",
                tag: "Orders",
                parameters: [
                    .query("order", "Only this order's returns."), .query("restock", "true: only returns with a line to restock.", type: "boolean"),
                    .query("limit", "Page size, 1 to 1000 (default 100).", type: "integer"), .query("cursor", "The nextCursor of the previous page."),
                ],
                requestSchema: nil, responses: [.ok("ReturnPage"), .problem(400, "A parameter is invalid")] + APIResponse.authProblems
            ) { request, _ in
                let restock: Bool
                switch request.query("restock") {
                case nil, "false": restock = false
                case "true": restock = true
                case let other?: throw Problems.badRequest("restock must be true or false, not '\(other)'")
                }
                return try idPage(request, fetch: { try store.returns(orderNumber: request.query("order"), restockOnly: restock, limit: $0, afterID: $1) }, id: \.id) {
                    OrderJSON.orderReturn($0.item, into: &$1)
                }
            },
            APIRoute(
                method: .GET, path: "/v1/outbox", scope: .ordersRead, operationID: "listOutbox",
                summary: "Messages to the OMS with their state, attempts and last error; state=dead lists what gave up.",
                tag: "Orders",
                parameters: [
                    .query("state", "pending, acknowledged or dead."), .query("limit", "Page size, 1 to 1000 (default 100).", type: "integer"),
                    .query("cursor", "The nextCursor of the previous page."),
                ],
                requestSchema: nil, responses: [.ok("OutboxPage"), .problem(400, "A parameter is invalid")] + APIResponse.authProblems
            ) { request, _ in
                let state: OutboxState? = try enumParameter(request, "state", choices: "pending, acknowledged or dead")
                return try idPage(request, fetch: { try store.outboxMessages(state: state, limit: $0, afterID: $1) }, id: \.id) {
                    OrderJSON.outboxMessage($0, into: &$1)
                }
            },
            APIRoute(
                method: .POST, path: "/v1/outbox/{id}/retry", scope: .ordersWrite, operationID: "retryOutboxMessage",
                summary: "Sends a dead (or waiting) message again now, with a fresh count of attempts.", tag: "Orders",
                parameters: [.path("id", "The message's id.", type: "integer")], requestSchema: nil,
                responses: [
                    APIResponse(status: 202, description: "Queued", schema: "OutboxMessage"), .problem(404, "No such message"),
                    .problem(409, "Already acknowledged"),
                ] + APIResponse.authProblems
            ) { _, parameters in
                guard let id = Int64(parameters["id"] ?? ""), let message = try store.retryOutboxMessage(id: id) else {
                    throw Problems.notFound("no outbox message with id '\(parameters["id"] ?? "")'")
                }
                guard message.state != .acknowledged else {
                    throw ProblemDetails(
                        type: Problems.base + "already-acknowledged", title: "Conflict", status: 409,
                        detail: "message \(id) was acknowledged by the receiver at \(message.acknowledgedAt?.rfc3339 ?? "?"); it is not sent again", instance: nil)
                }
                outbox.notify()
                var writer = JSONWriter()
                OrderJSON.outboxMessage(message, into: &writer)
                return HTTPResponse.json(202, writer.bytes)
            },
        ]
    }

    /// `POST /v1/orders`.
    static func place(_ request: HTTPRequest, store: Store, outbox: OutboxSignal, prices: any OrderPriceCheck) throws -> HTTPResponse {
        guard let key = request.headers["Idempotency-Key"], !key.isEmpty else {
            throw Problems.badRequest("send an Idempotency-Key header (a unique string per order, e.g. a UUID): retrying with the same key never places the order twice")
        }
        guard key.utf8.count <= 255 else { throw Problems.badRequest("the Idempotency-Key header is longer than 255 bytes") }
        try requireJSONContentType(request, sending: "the order")
        let new: NewOrder
        switch OrderJSON.parseNewOrder(request.body) {
        case .success(let order): new = order
        case .failure(let problems): return Problems.validationFailed(problems.errors.map { ($0.field, $0.reason) })
        }
        let digest = SHA256.hash(request.body)
        // A replay answers with the order placed earlier, even if prices or stock changed since.
        if let prior = try store.order(idempotencyKey: key) {
            guard prior.requestDigest == digest else { throw keyReused(key, prior.order.number) }
            return replayed(prior.order)
        }
        // Prices first, outside the writer: a resolver may be slow. SKUs without a product are named as unknown.
        let resolved: [OrderLineProblem]
        do {
            resolved = try prices.problems(new)
        } catch {
            throw ProblemDetails(
                type: Problems.base + "price-resolution-unavailable", title: "Service Unavailable", status: 503,
                detail: "prices could not be resolved (\(error)); nothing was placed, retry with the same Idempotency-Key", instance: nil)
        }
        let priceProblems = try resolved.map { problem in
            guard problem.kind == .noPrice, try store.product(sku: problem.sku) == nil else { return problem }
            return OrderLineProblem(line: problem.line, sku: problem.sku, kind: .unknownSKU, reason: "no product has SKU \(problem.sku)")
        }
        if !priceProblems.isEmpty { throw refusal(priceProblems) }
        return try commit(new, key: key, digest: digest, store: store, outbox: outbox)
    }

    /// Places a checked order (prices are right) and answers 201, or the replay, or the refusal.
    static func commit(_ new: NewOrder, key: String, digest: [UInt8], store: Store, outbox: OutboxSignal) throws -> HTTPResponse {
        switch try store.placeOrder(new, idempotencyKey: key, requestDigest: digest, payload: OrderJSON.orderText) {
        case .created(let order):
            outbox.notify()
            var writer = JSONWriter(capacity: 1024)
            OrderJSON.order(order, into: &writer)
            var response = HTTPResponse.json(201, writer.bytes)
            response.headers.replaceOrAdd(name: "Location", value: "/v1/orders/\(order.number)")
            return response
        case .replayed(let order): return replayed(order)
        case .refused(let problems): throw refusal(problems)
        case .idempotencyKeyReused(let number): throw keyReused(key, number)
        case .numberTaken(let number):
            throw ProblemDetails(type: Problems.base + "order-number-taken", title: "Conflict", status: 409, detail: "an order with number '\(number)' exists", instance: nil)
        case .quoteNotAcceptable(let reason):
            throw ProblemDetails(type: Problems.base + "quote-not-accepted", title: "Conflict", status: 409, detail: reason, instance: nil)
        }
    }

    static func keyReused(_ key: String, _ number: String) -> ProblemDetails {
        ProblemDetails(
            type: Problems.base + "idempotency-key-reused", title: "Unprocessable Content", status: 422,
            detail: "Idempotency-Key '\(key)' was used for order \(number) with a different request; use a new key for a new order",
            instance: nil)
    }

    static func replayed(_ order: Order) -> HTTPResponse {
        var writer = JSONWriter(capacity: 1024)
        OrderJSON.order(order, into: &writer)
        var response = HTTPResponse.json(200, writer.bytes)
        response.headers.replaceOrAdd(name: "Location", value: "/v1/orders/\(order.number)")
        response.headers.replaceOrAdd(name: "Idempotent-Replayed", value: "true")
        return response
    }

    /// 409 `insufficient-stock` when stock is all that is wrong, else 422 `order-refused`; both list every line.
    static func refusal(_ problems: [OrderLineProblem]) -> ProblemDetails {
        let stockOnly = problems.allSatisfy { $0.kind == .insufficientStock }
        var writer = JSONWriter()
        writer.beginArray()
        for problem in problems {
            writer.beginObject()
            writer.field("line", Int64(problem.line))
            writer.field("sku", problem.sku)
            writer.field("problem", problem.kind.rawValue)
            writer.field("reason", problem.reason)
            if let requested = problem.requested { writer.field("requested", requested) }
            if let available = problem.available { writer.field("available", available) }
            if let expected = problem.expectedUnitPrice { writer.field("expectedUnitPriceMinor", expected) }
            writer.endObject()
        }
        writer.endArray()
        return ProblemDetails(
            type: Problems.base + (stockOnly ? "insufficient-stock" : "order-refused"),
            title: stockOnly ? "Insufficient Stock" : "Order Refused", status: stockOnly ? 409 : 422,
            detail: problems.count == 1 ? problems[0].reason : "\(problems.count) lines cannot be accepted; see lines",
            instance: nil, extensions: [("lines", .rawJSON(String(decoding: writer.bytes, as: UTF8.self)))])
    }

    /// Schemas of the order routes' bodies, merged into the OpenAPI document's components.
    static var schemas: [String: Any] {
        let string: [String: Any] = ["type": "string"]
        let nullableString: [String: Any] = ["type": ["string", "null"]]
        let integer: [String: Any] = ["type": "integer", "format": "int64"]
        func object(_ properties: [String: Any], required: [String]) -> [String: Any] {
            ["type": "object", "properties": properties, "required": required]
        }
        func page(_ item: String) -> [String: Any] {
            object(["items": ["type": "array", "items": ["$ref": "#/components/schemas/\(item)"]], "nextCursor": nullableString], required: ["items", "nextCursor"])
        }
        let address: [String: Any] = ["type": ["object", "null"], "properties": [
            "name": nullableString, "company": nullableString, "street": ["type": "array", "items": string], "city": nullableString,
            "postalCode": nullableString, "region": nullableString, "country": string, "phone": nullableString, "email": nullableString,
        ], "required": ["country"]]
        let line = object([
            "line": integer, "sku": string, "quantity": integer, "unitPrice": string, "rowTotal": string,
            "shippedQuantity": integer, "cancelledQuantity": integer, "returnedQuantity": integer,
        ], required: ["line", "sku", "quantity", "unitPrice"])
        let fulfilmentLine = object(["sku": string, "quantity": integer, "reason": nullableString, "restock": ["type": "boolean"]], required: ["sku", "quantity"])
        return [
            // GET /v1/inventory/{sku} gains reservations and the salable quantity.
            "Inventory": object([
                "sku": string,
                "sources": ["type": "array", "items": object(
                    ["source": string, "quantity": integer, "status": ["type": "string", "enum": ["in_stock", "out_of_stock"]], "updatedAt": ["type": ["string", "null"], "format": "date-time"]],
                    required: ["source", "quantity", "status"])],
                "totalQuantity": integer, "reservedQuantity": integer, "salableQuantity": integer,
                "reservations": ["type": "array", "items": object(["order": string, "quantity": integer], required: ["order", "quantity"])],
            ], required: ["sku", "sources", "totalQuantity", "reservedQuantity", "salableQuantity", "reservations"]),
            "OrderInput": object([
                "number": string, "channel": string, "customerId": string, "companyId": string, "companyUserId": string,
                "currency": string, "quoteId": string, "shippingTotal": string, "taxTotal": string,
                "lines": ["type": "array", "minItems": 1, "items": object(["sku": string, "quantity": integer, "unitPrice": string], required: ["sku", "quantity", "unitPrice"])],
                "billingAddress": address, "shippingAddress": address,
            ], required: ["channel", "currency", "lines"]),
            "Order": object([
                "id": string, "number": string, "channel": string, "customerId": nullableString, "companyId": nullableString,
                "companyUserId": nullableString, "status": ["type": "string", "enum": OrderStatus.allCases.map(\.rawValue)],
                "currency": string, "lines": ["type": "array", "items": line], "subtotal": string, "shippingTotal": string,
                "taxTotal": string, "grandTotal": string, "billingAddress": address, "shippingAddress": address,
                "quoteId": nullableString,
                "history": ["type": "array", "items": object(["status": string, "at": string, "source": string, "note": nullableString], required: ["status", "at", "source"])],
                "createdAt": string, "updatedAt": string,
            ], required: ["id", "number", "status", "currency", "lines", "grandTotal"]),
            "OrderPage": page("Order"),
            "Shipment": object([
                "id": string, "orderNumber": string, "carrier": nullableString, "trackingNumbers": ["type": "array", "items": string],
                "lines": ["type": "array", "items": fulfilmentLine], "shippedAt": string,
            ], required: ["id", "orderNumber", "lines"]),
            "ShipmentPage": page("Shipment"),
            "Return": object([
                "id": string, "orderNumber": string, "lines": ["type": "array", "items": fulfilmentLine], "exchangeFor": nullableString,
                "receivedAt": string,
            ], required: ["id", "orderNumber", "lines"]),
            "ReturnPage": page("Return"),
            "OutboxMessage": object([
                "id": integer, "kind": string, "orderNumber": string, "messageId": string,
                "state": ["type": "string", "enum": OutboxState.allCases.map(\.rawValue)], "attempts": integer,
                "nextAttemptAt": nullableString, "lastError": nullableString, "createdAt": string, "acknowledgedAt": nullableString,
            ], required: ["id", "kind", "orderNumber", "messageId", "state", "attempts"]),
            "OutboxPage": page("OutboxMessage"),
        ].merging(QuoteRoutes.schemas) { a, _ in a }
    }
}

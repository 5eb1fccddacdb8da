import Foundation
import WharfAuth
import WharfHTTP
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Placing, reading and cancelling orders over loopback HTTP: idempotency, price and stock checks, the reservation
/// ledger and salable quantity, and the race for the last units with real parallel requests.
final class OrderPlacementTests: ServedTestCase {
    var headers: [(String, String)] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        headers = try jsonHeaders([.catalogWrite, .inventoryWrite, .inventoryRead, .ordersRead, .ordersWrite])
    }

    /// Products with a EUR price (and a 10+ tier for MUG) and stock at two sources.
    func seed(stock: [String: Int] = ["MUG": 10, "CAP": 3]) throws {
        for sku in stock.keys.sorted() {
            XCTAssertEqual(try client.send("PUT", "/v1/products/\(sku)", headers: headers, text: #"{"name": "\#(sku)"}"#).status, 201)
        }
        let prices = stock.keys.sorted().map { #"{"sku": "\#($0)", "currency": "EUR", "amount": "12.50"}"# }
            + [#"{"sku": "MUG", "currency": "EUR", "amount": "10.00", "minQuantity": 10}"#]
        XCTAssertEqual(try client.send("POST", "/v1/prices/base", headers: headers, text: #"{"items": [\#(prices.joined(separator: ","))]}"#).status, 200)
        var items: [String] = []
        for (sku, quantity) in stock.sorted(by: { $0.key < $1.key }) {
            items.append(#"{"sku": "\#(sku)", "source": "BER", "quantity": \#(quantity - quantity / 2)}"#)
            items.append(#"{"sku": "\#(sku)", "source": "HAM", "quantity": \#(quantity / 2)}"#)
        }
        XCTAssertEqual(try client.send("POST", "/v1/inventory/source-items", headers: headers, text: #"{"items": [\#(items.joined(separator: ","))]}"#).status, 200)
    }

    func orderBody(_ lines: [(String, Int, String)], number: String? = nil) -> String {
        let rendered = lines.map { #"{"sku": "\#($0.0)", "quantity": \#($0.1), "unitPrice": "\#($0.2)"}"# }.joined(separator: ",")
        let numberField = number.map { #""number": "\#($0)", "# } ?? ""
        return #"{\#(numberField)"channel": "web", "customerId": "c-1", "currency": "EUR", "lines": [\#(rendered)], "shippingAddress": {"name": "Ann", "street": ["Main St 1"], "city": "Berlin", "country": "DE"}}"#
    }

    func place(_ client: TestHTTPClient, key: String, _ body: String) throws -> TestHTTPResponse {
        try client.send("POST", "/v1/orders", headers: headers + [("Idempotency-Key", key)], text: body)
    }

    func testLinePricesAreCheckedAgainstPriceResolutionForTheCompanyAndChannel() throws {
        try seed()
        headers[0] = ("Authorization", "Bearer \(try env.key([.catalogWrite, .inventoryWrite, .ordersRead, .ordersWrite]))")
        // A negotiated contract for ACME (override) and a special price for the web channel.
        XCTAssertEqual(try client.send("PUT", "/v1/price-lists/CONTRACT", headers: headers, text: #"{"currency": "EUR", "mode": "override"}"#).status, 201)
        XCTAssertEqual(try client.send("PUT", "/v1/price-lists/CONTRACT/entries", headers: headers, text: #"{"entries": [{"sku": "MUG", "amount": "9.00"}]}"#).status, 200)
        XCTAssertEqual(try client.send("PUT", "/v1/price-lists/CONTRACT/assignments/company/ACME", headers: headers).status, 201)
        XCTAssertEqual(try client.send("PUT", "/v1/special-prices/CAP/web", headers: headers, text: #"{"currency": "EUR", "amount": "11.00"}"#).status, 201)
        func body(company: String?, sku: String, price: String) -> String {
            let buyer = company.map { #""companyId": "\#($0)", "companyUserId": "u-1""# } ?? #""customerId": "c-1""#
            return #"{"channel": "web", \#(buyer), "currency": "EUR", "lines": [{"sku": "\#(sku)", "quantity": 1, "unitPrice": "\#(price)"}], "shippingAddress": {"name": "Ann", "street": ["Main St 1"], "city": "Berlin", "country": "DE"}}"#
        }

        let basePriceForACME = try place(client, key: "p-1", body(company: "ACME", sku: "MUG", price: "12.50"))
        XCTAssertEqual(basePriceForACME.status, 422, "ACME's contract price applies, not the base price: \(basePriceForACME.bodyText)")
        XCTAssertTrue(basePriceForACME.bodyText.contains("9.00"), basePriceForACME.bodyText)
        XCTAssertEqual(try place(client, key: "p-2", body(company: "ACME", sku: "MUG", price: "9.00")).status, 201)
        XCTAssertEqual(try place(client, key: "p-3", body(company: nil, sku: "MUG", price: "9.00")).status, 422, "the contract is ACME's only")
        XCTAssertEqual(try place(client, key: "p-4", body(company: nil, sku: "CAP", price: "11.00")).status, 201, "the web channel's special price")
        XCTAssertEqual(try place(client, key: "p-5", body(company: nil, sku: "CAP", price: "12.50")).status, 422)
    }

    func testPlacedOrderReservesStockAndTheSameKeyReturnsTheSameOrder() throws {
        try seed()
        let body = orderBody([("MUG", 2, "12.50"), ("CAP", 1, "12.50")])
        let first = try place(client, key: "k-1", body)
        XCTAssertEqual(first.status, 201, first.bodyText)
        let order = try first.jsonObject()
        let number = try XCTUnwrap(order["number"] as? String)
        XCTAssertEqual(first.header("Location"), "/v1/orders/\(number)")
        XCTAssertEqual(order["status"] as? String, "placed")
        XCTAssertEqual(order["grandTotal"] as? String, "37.50")
        XCTAssertEqual((order["shippingAddress"] as? [String: Any])?["city"] as? String, "Berlin")

        let again = try place(client, key: "k-1", body)
        XCTAssertEqual(again.status, 200, again.bodyText)
        XCTAssertEqual(again.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(try again.jsonObject()["id"] as? String, order["id"] as? String)
        XCTAssertEqual(try again.jsonObject()["number"] as? String, number)

        let reused = try place(client, key: "k-1", orderBody([("MUG", 1, "12.50")]))
        XCTAssertEqual(reused.status, 422, reused.bodyText)
        XCTAssertEqual(try reused.jsonObject()["type"] as? String, "https://wharf.dev/problems/idempotency-key-reused")

        let inventory = try client.send("GET", "/v1/inventory/MUG", headers: headers).jsonObject()
        XCTAssertEqual(inventory["totalQuantity"] as? Int, 10)
        XCTAssertEqual(inventory["reservedQuantity"] as? Int, 2, "one order, though posted twice")
        XCTAssertEqual(inventory["salableQuantity"] as? Int, 8)
        XCTAssertEqual((inventory["reservations"] as? [[String: Any]])?.first?["order"] as? String, number)
        XCTAssertEqual((inventory["sources"] as? [[String: Any]])?.count, 2)

        let outbox = try client.send("GET", "/v1/outbox?state=pending", headers: headers).jsonObject()
        let messages = try XCTUnwrap(outbox["items"] as? [[String: Any]])
        XCTAssertEqual(messages.count, 1, "the order is queued for the OMS once")
        XCTAssertEqual(messages.first?["messageId"] as? String, order["id"] as? String)
        XCTAssertNil(server.dispatcher, "no connector has config.orders here")
    }

    func testRefusalsListEveryLineAndReserveNothing() throws {
        try seed()
        let response = try place(client, key: "k-2", orderBody([("MUG", 11, "10.00"), ("CAP", 4, "12.50"), ("NOPE", 1, "1.00")]))
        XCTAssertEqual(response.status, 422, response.bodyText)
        XCTAssertEqual(response.header("Content-Type"), "application/problem+json")
        let problem = try response.jsonObject()
        XCTAssertEqual(problem["type"] as? String, "https://wharf.dev/problems/order-refused")
        let lines = try XCTUnwrap(problem["lines"] as? [[String: Any]])
        XCTAssertEqual(lines.map { $0["sku"] as? String }, ["NOPE"], "prices are checked first; the unknown SKU is named")
        XCTAssertEqual(lines.first?["problem"] as? String, "unknown-sku")

        let stock = try place(client, key: "k-3", orderBody([("MUG", 11, "10.00"), ("CAP", 4, "12.50")]))
        XCTAssertEqual(stock.status, 409, stock.bodyText)
        let stockProblem = try stock.jsonObject()
        XCTAssertEqual(stockProblem["type"] as? String, "https://wharf.dev/problems/insufficient-stock")
        let stockLines = try XCTUnwrap(stockProblem["lines"] as? [[String: Any]])
        XCTAssertEqual(stockLines.map { $0["sku"] as? String }, ["MUG", "CAP"])
        XCTAssertEqual(stockLines.map { $0["available"] as? Int }, [10, 3])

        let price = try place(client, key: "k-4", orderBody([("MUG", 10, "12.50")]))
        XCTAssertEqual(price.status, 422, price.bodyText)
        let priceLine = try XCTUnwrap((try price.jsonObject()["lines"] as? [[String: Any]])?.first)
        XCTAssertEqual(priceLine["problem"] as? String, "price-mismatch")
        XCTAssertEqual(priceLine["expectedUnitPriceMinor"] as? Int, 1000, "the 10+ tier applies")

        let invalid = try place(client, key: "k-5", #"{"channel": "web", "currency": "EUR", "lines": [{"sku": "MUG", "quantity": 0, "unitPrice": 12.5}]}"#)
        XCTAssertEqual(invalid.status, 422)
        let fields = (try invalid.jsonObject()["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
        XCTAssertTrue(fields.contains("lines[0].unitPrice"), "\(fields)")
        XCTAssertTrue(fields.contains("lines[0].quantity"), "\(fields)")

        let taken = try place(client, key: "k-6", orderBody([("MUG", 1, "12.50")], number: "W000000001"))
        XCTAssertEqual(taken.status, 422, "Wharf's own number form is reserved")
        let own = try place(client, key: "k-7", orderBody([("MUG", 1, "12.50")], number: "SHOP-1"))
        XCTAssertEqual(own.status, 201, own.bodyText)
        XCTAssertEqual(try own.jsonObject()["number"] as? String, "SHOP-1")
        XCTAssertEqual(try place(client, key: "k-8", orderBody([("MUG", 1, "12.50")], number: "SHOP-1")).status, 409, "a number is used once")
        XCTAssertEqual(try client.send("POST", "/v1/orders/SHOP-1/cancel", headers: headers).status, 200)

        let noKey = try client.send("POST", "/v1/orders", headers: headers, text: orderBody([("MUG", 1, "12.50")]))
        XCTAssertEqual(noKey.status, 400)
        XCTAssertTrue(noKey.bodyText.contains("Idempotency-Key"))

        XCTAssertEqual(try env.deployment.store.salableInventory(sku: "MUG")?.reserved, 0)
        XCTAssertEqual(try env.deployment.store.outboxDepth().pending, 2, "only SHOP-1 and its cancellation were queued")
    }

    func testFiftyClientsRacingForTheLastTenUnitsReserveExactlyTen() throws {
        try seed(stock: ["LAST": 10])
        let port = server.port
        let body = orderBody([("LAST", 1, "12.50")])
        let statuses = RaceResults()
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        let requestHeaders = headers
        for i in 0..<50 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                do {
                    let racer = try TestHTTPClient(port: port, timeout: 20)
                    defer { racer.close() }
                    start.wait()
                    let response = try racer.send("POST", "/v1/orders", headers: requestHeaders + [("Idempotency-Key", "race-\(i)")], text: body)
                    statuses.add(response.status)
                } catch {
                    statuses.add(-1)
                }
            }
        }
        Thread.sleep(forTimeInterval: 0.2)  // every client connected and waiting
        for _ in 0..<50 { start.signal() }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        let counts = statuses.counts
        XCTAssertEqual(counts[201], 10, "\(counts)")
        XCTAssertEqual(counts[409], 40, "\(counts)")
        let inventory = try XCTUnwrap(try env.deployment.store.salableInventory(sku: "LAST"))
        XCTAssertEqual(inventory.reserved, 10)
        XCTAssertEqual(inventory.salable, 0)
        let ledger = try env.deployment.store.reservationLedger(sku: "LAST")
        XCTAssertEqual(ledger.count, 10)
        XCTAssertEqual(ledger.reduce(0) { $0 + $1.quantity }, -10)
    }

    func testCancelReleasesReservationsQueuesACancelAndFinalOrdersRefuse() throws {
        try seed()
        let number = try XCTUnwrap(try place(client, key: "c-1", orderBody([("MUG", 3, "12.50")])).jsonObject()["number"] as? String)
        XCTAssertEqual(try env.deployment.store.salableInventory(sku: "MUG")?.salable, 7)
        let cancelled = try client.send("POST", "/v1/orders/\(number)/cancel", headers: headers, text: #"{"reason": "customer asked"}"#)
        XCTAssertEqual(cancelled.status, 200, cancelled.bodyText)
        let order = try cancelled.jsonObject()
        XCTAssertEqual(order["status"] as? String, "cancelled")
        XCTAssertEqual((order["lines"] as? [[String: Any]])?.first?["cancelledQuantity"] as? Int, 3)
        XCTAssertEqual((order["history"] as? [[String: Any]])?.last?["note"] as? String, "customer asked")
        XCTAssertEqual(try env.deployment.store.salableInventory(sku: "MUG")?.salable, 10)
        XCTAssertEqual(try env.deployment.store.reservationLedger(sku: "MUG").map(\.quantity), [-3, 3], "append-only: reserve, then compensate")
        let kinds = try env.deployment.store.outboxMessages(state: nil, limit: 10, afterID: nil).map(\.kind)
        XCTAssertEqual(kinds, ["order", "cancel"])

        XCTAssertEqual(try client.send("POST", "/v1/orders/\(number)/cancel", headers: headers).status, 200, "cancelling twice is harmless")
        XCTAssertEqual(try client.send("POST", "/v1/orders/NOPE-1/cancel", headers: headers).status, 404)

        // A shipment for a cancelled order is refused with its reason.
        let shipment = Shipment(id: "S-1", orderNumber: number, carrier: "DHL", trackingNumbers: ["T1"], lines: [FulfilmentLine(sku: "MUG", quantity: 1)], shippedAt: .now())
        guard case .rejected(let reason) = try env.deployment.store.recordShipment(shipment) else { return XCTFail("a shipment for a cancelled order is refused") }
        XCTAssertTrue(reason.contains("cancelled"), reason)
    }

    func testShipmentsCompensateReservationsAndReturnsLeaveSourceQuantities() throws {
        try seed()
        let number = try XCTUnwrap(try place(client, key: "s-1", orderBody([("MUG", 4, "12.50")])).jsonObject()["number"] as? String)
        let store = env.deployment.store
        let partial = Shipment(id: "S-1", orderNumber: number, carrier: "DHL", trackingNumbers: ["T1"], lines: [FulfilmentLine(sku: "MUG", quantity: 3)], shippedAt: .now())
        guard case .applied(let afterFirst) = try store.recordShipment(partial) else { return XCTFail() }
        XCTAssertEqual(afterFirst.status, .partiallyShipped)
        guard case .unchanged = try store.recordShipment(partial) else { return XCTFail("the same shipment id twice changes nothing") }
        XCTAssertEqual(try store.salableInventory(sku: "MUG")?.reserved, 1)
        let tooMany = Shipment(id: "S-2", orderNumber: number, carrier: nil, trackingNumbers: [], lines: [FulfilmentLine(sku: "MUG", quantity: 2)], shippedAt: .now())
        guard case .rejected = try store.recordShipment(tooMany) else { return XCTFail("more than is open is refused") }
        let rest = Shipment(id: "S-3", orderNumber: number, carrier: "DHL", trackingNumbers: ["T2"], lines: [FulfilmentLine(sku: "MUG", quantity: 1)], shippedAt: .now())
        guard case .applied(let shipped) = try store.recordShipment(rest) else { return XCTFail() }
        XCTAssertEqual(shipped.status, .shipped)
        XCTAssertEqual(try store.salableInventory(sku: "MUG")?.reserved, 0)

        let back = OrderReturn(id: "R-1", orderNumber: number, lines: [FulfilmentLine(sku: "MUG", quantity: 2, reason: "broken", restock: true)], receivedAt: .now())
        guard case .applied(let returned) = try store.recordReturn(back) else { return XCTFail() }
        XCTAssertEqual(returned.lines.first?.returnedQuantity, 2)
        XCTAssertEqual(try store.inventory(sku: "MUG")?.totalQuantity, 10, "the ERP owns source quantities")

        var exported: [ModelRecord] = []
        try store.readRecords(entity: "return", changedSince: nil, batchSize: 10) { exported += $0; return true }
        XCTAssertEqual(exported.count, 1)
        let fields = RecordCodec.encode(try XCTUnwrap(exported.first))
        XCTAssertTrue(fields.contains { $0.name == "line.1.restock" && $0.value == "true" }, "export plugins read restocks: \(fields)")

        let shipments = try client.send("GET", "/v1/shipments?order=\(number)", headers: headers).jsonObject()
        XCTAssertEqual((shipments["items"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, ["S-1", "S-3"])
        let returns = try client.send("GET", "/v1/returns?restock=true", headers: headers).jsonObject()
        let returnLines = (returns["items"] as? [[String: Any]])?.first?["lines"] as? [[String: Any]]
        XCTAssertEqual(returnLines?.first?["restock"] as? Bool, true)
        guard case .rejected = try store.applyOrderStatus(number: number, OrderStatusChange(status: .processing, at: .now(), source: "oms")) else {
            return XCTFail("shipped → processing is not a valid transition")
        }
    }

    func testOrderListFiltersAndPagesByChangeTime() throws {
        try seed()
        var numbers: [String] = []
        for i in 0..<5 {
            numbers.append(try XCTUnwrap(try place(client, key: "l-\(i)", orderBody([("MUG", 1, "12.50")])).jsonObject()["number"] as? String))
        }
        Thread.sleep(forTimeInterval: 0.01)  // so the cancellation's change time is later than every placement's
        XCTAssertEqual(try client.send("POST", "/v1/orders/\(numbers[1])/cancel", headers: headers).status, 200)
        var seen: [String] = []
        var cursor: String?
        repeat {
            let path = "/v1/orders?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
            let page = try client.send("GET", path, headers: headers).jsonObject()
            seen += (page["items"] as? [[String: Any]] ?? []).compactMap { $0["number"] as? String }
            cursor = page["nextCursor"] as? String
        } while cursor != nil
        XCTAssertEqual(Set(seen), Set(numbers))
        XCTAssertEqual(seen.count, 5)
        XCTAssertEqual(seen.last, numbers[1], "the cancelled order changed last")
        let cancelled = try client.send("GET", "/v1/orders?status=cancelled", headers: headers).jsonObject()
        XCTAssertEqual((cancelled["items"] as? [[String: Any]])?.compactMap { $0["number"] as? String }, [numbers[1]])
        XCTAssertEqual(try client.send("GET", "/v1/orders?status=lost", headers: headers).status, 400)
        XCTAssertEqual(try client.send("GET", "/v1/orders/\(numbers[0])", headers: headers).status, 200)
        XCTAssertEqual(try client.send("GET", "/v1/orders/NOPE", headers: headers).status, 404)
    }
}

/// A price resolution that is down.
struct FailingPriceCheck: OrderPriceCheck {
    struct Down: Error, CustomStringConvertible { var description: String { "CPQ timed out" } }
    func unitPrice(sku: String, quantity: Int64, order: NewOrder) throws -> Money? { throw Down() }
}

extension OrderPlacementTests {
    func testAFailingPriceResolutionIsA503AndPlacesNothing() throws {
        try seed()
        let request = HTTPRequest(
            method: .POST, target: "/v1/orders", headers: HTTPHeaders([("Idempotency-Key", "p-1"), ("Content-Type", "application/json")]),
            body: Array(orderBody([("MUG", 1, "12.50")]).utf8))
        XCTAssertThrowsError(try OrderRoutes.place(request, store: env.deployment.store, outbox: OutboxSignal(), prices: FailingPriceCheck())) { error in
            let problem = error as? ProblemDetails
            XCTAssertEqual(problem?.status, 503)
            XCTAssertTrue(problem?.detail?.contains("CPQ timed out") == true, "\(error)")
        }
        XCTAssertNil(try env.deployment.store.order(idempotencyKey: "p-1"))
        XCTAssertEqual(try env.deployment.store.salableInventory(sku: "MUG")?.reserved, 0)
    }
}

/// Statuses collected from racing threads.
final class RaceResults: @unchecked Sendable {
    private let lock = NSLock()
    private var statuses: [Int] = []

    func add(_ status: Int) {
        lock.lock()
        statuses.append(status)
        lock.unlock()
    }

    var counts: [Int: Int] {
        lock.lock()
        defer { lock.unlock() }
        return statuses.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }
}

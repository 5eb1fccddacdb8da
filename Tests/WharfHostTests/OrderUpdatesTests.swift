import Foundation
import WharfAuth
import WharfModel
import WharfPlugins
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Status changes, shipments and returns pulled from a local OMS by the `oms` plugin's ingest: transitions are
/// validated (a refused one is a reject with its reason), shipments compensate reservations, returns leave source
/// quantities alone, and the cursor makes the next pull incremental.
final class OrderUpdatesTests: XCTestCase {
    var env: TestDeployment!
    var oms: OMSTestServer!

    override func tearDown() {
        oms?.stop()
    }

    func testPulledUpdatesMoveOrdersAndRefusedTransitionsAreRejectsWithTheirReason() throws {
        oms = try OMSTestServer()
        env = try TestDeployment(connectors: """
            [ { name: "oms", plugin: "oms", config: { baseURL: "\(oms.baseURL)",
                updates: { statusPath: "/order-status", shipmentsPath: "/shipments", returnsPath: "/returns" } } } ]
            """)
        try env.deployment.plugins.install(from: BuildProducts.plugin("wharf-oms").path, replace: false, host: HostServices.table)
        let store = env.deployment.store
        let eur = Currency(code: "EUR")!
        _ = try store.putProduct(Product(sku: "MUG", name: "Mug"))
        _ = try store.apply([.stock(InventorySourceItem(sku: "MUG", sourceCode: "BER", quantity: 10))], cursor: nil)
        func place(_ quantity: Int64) throws -> Order {
            let new = NewOrder(channel: "web", customerID: "c-1", currency: eur, lines: [NewOrderLine(sku: "MUG", quantity: quantity, unitPrice: Money(minorUnits: 1250, currency: eur))])
            guard case .created(let order) = try store.placeOrder(new, idempotencyKey: UUID().uuidString, requestDigest: [], payload: { _ in "{}" }) else {
                throw XCTSkip("placing failed")
            }
            return order
        }
        let a = try place(3)
        let b = try place(1)
        XCTAssertEqual(try store.salableInventory(sku: "MUG")?.reserved, 4)

        oms.serveUpdates("/order-status", timeField: "at", items: [
            ["orderNumber": a.number, "status": "processing", "at": "2026-11-23T10:00:00Z"],
            ["orderNumber": b.number, "status": "cancelled", "at": "2026-11-23T10:01:00Z", "note": "fraud check"],
            ["orderNumber": "W-NOPE", "status": "processing", "at": "2026-11-23T10:02:00Z"],
        ])
        oms.serveUpdates("/shipments", timeField: "shippedAt", items: [
            ["id": "S-1", "orderNumber": a.number, "carrier": "DHL", "trackingNumbers": ["T1", "T2"], "shippedAt": "2026-11-23T11:00:00Z",
             "lines": [["sku": "MUG", "quantity": 2]]],
            ["id": "S-2", "orderNumber": b.number, "carrier": "DHL", "shippedAt": "2026-11-23T11:01:00Z", "lines": [["sku": "MUG", "quantity": 1]]],
            ["id": "S-3", "orderNumber": a.number, "carrier": "UPS", "shippedAt": "2026-11-23T11:02:00Z", "lines": [["sku": "MUG", "quantity": 1]]],
        ])
        oms.serveUpdates("/returns", timeField: "receivedAt", items: [
            ["id": "R-1", "orderNumber": a.number, "receivedAt": "2026-11-23T12:00:00Z",
             "lines": [["sku": "MUG", "quantity": 1, "reason": "broken", "restock": true]]],
        ])

        let run = try env.run("oms")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(run.counts.rejected, 2, "the unknown order and the shipment for the cancelled order")
        let rejects = try store.rejects(runID: run.id, limit: 10, afterID: nil)
        XCTAssertTrue(rejects.contains { $0.entity == "shipment" && $0.reason.contains("is cancelled") }, "\(rejects.map(\.reason))")
        XCTAssertTrue(rejects.contains { $0.entity == "order_status" && $0.reason.contains("W-NOPE") }, "\(rejects.map(\.reason))")

        let shipped = try XCTUnwrap(try store.order(number: a.number))
        XCTAssertEqual(shipped.status, .shipped)
        XCTAssertEqual(shipped.lines.first?.returnedQuantity, 1)
        XCTAssertEqual(shipped.history.map(\.status), [.placed, .processing, .partiallyShipped, .shipped])
        XCTAssertEqual(try store.order(number: b.number)?.status, .cancelled)
        XCTAssertEqual(try store.order(number: b.number)?.history.last?.note, "fraud check")
        let inventory = try XCTUnwrap(try store.salableInventory(sku: "MUG"))
        XCTAssertEqual(inventory.reserved, 0, "shipped units and the cancelled order no longer hold stock")
        XCTAssertEqual(inventory.summary.totalQuantity, 10, "returns do not touch source quantities (the ERP books restocks)")
        XCTAssertEqual(try store.shipments(orderNumber: a.number, limit: 10, afterID: nil).map(\.shipment.trackingNumbers), [["T1", "T2"], []])
        XCTAssertEqual(try store.returns(orderNumber: nil, restockOnly: true, limit: 10, afterID: nil).map(\.item.id), ["R-1"])

        // The next pull asks only for what changed since, per feed.
        oms.http.clearRequests()
        let again = try env.run("oms")
        XCTAssertEqual(again.state, .succeeded, again.error ?? "")
        XCTAssertEqual(again.counts.read, 0)
        let asked = Dictionary(oms.http.requests.map { ($0.path, $0.queryValue("updated_since") ?? "") }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(asked["/order-status"], "2026-11-23T10:02:00Z")
        XCTAssertEqual(asked["/shipments"], "2026-11-23T11:02:00Z")
        XCTAssertEqual(asked["/returns"], "2026-11-23T12:00:00Z")
    }

    func testFlatUpdateRecordsNameTheFieldAtFault() {
        let missing = RecordCodec.decode(entity: "shipment", fields: [("id", "S-1"), ("order", "W1"), ("line.1.sku", "MUG")])
        XCTAssertEqual(missing.failure?.field, "line.1.quantity")
        let status = RecordCodec.decode(entity: "order_status", fields: [("order", "W1"), ("status", "lost")])
        XCTAssertEqual(status.failure?.field, "status")
        let restock = RecordCodec.decode(entity: "return", fields: [("id", "R"), ("order", "W1"), ("line.1.sku", "A"), ("line.1.quantity", "1"), ("line.1.restock", "yes")])
        XCTAssertEqual(restock.failure?.field, "line.1.restock")
        guard case .success(.shipment(let s)) = RecordCodec.decode(entity: "shipment", fields: [
            ("id", "S-1"), ("order", "W1"), ("tracking", "T1, T2"), ("line.2.sku", "B"), ("line.2.quantity", "1"), ("line.1.sku", "A"), ("line.1.quantity", "2"),
        ]) else { return XCTFail("a well-formed shipment decodes") }
        XCTAssertEqual(s.lines.map(\.sku), ["A", "B"])
        XCTAssertEqual(s.trackingNumbers, ["T1", "T2"])
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

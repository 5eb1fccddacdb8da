import Foundation
import WharfAuth
import WharfManifest
import WharfModel
import WharfPlugins
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Orders out to a local OMS through the real `oms` plugin in a warm worker: coalescing, retries with backoff, dead
/// messages and the retry endpoint, slow answers past the deadline.
final class OrderDispatchTests: XCTestCase {
    var env: TestDeployment!
    var server: WharfServer!
    var oms: OMSTestServer!
    var client: TestHTTPClient!
    var headers: [(String, String)] = []

    func start(orders: String) throws {
        oms = try OMSTestServer()
        env = try TestDeployment(connectors: """
            [ { name: "oms", plugin: "oms", config: { baseURL: "\(oms.baseURL)", orders: \(orders) } } ]
            """)
        try env.deployment.plugins.install(from: BuildProducts.plugin("wharf-oms").path, replace: false, host: HostServices.table)
        server = try WharfServer(deployment: env.deployment, port: 0)
        try server.start()
        client = try TestHTTPClient(port: server.port, timeout: 20)
        headers = [
            ("Authorization", "Bearer \(try env.key([.catalogWrite, .inventoryWrite, .ordersRead, .ordersWrite, .metricsRead]))"),
            ("Content-Type", "application/json"),
        ]
        let store = env.deployment.store
        _ = try store.putProduct(Product(sku: "MUG", name: "Mug"))
        _ = try store.apply([
            .price(BasePrice(sku: "MUG", price: Money(minorUnits: 1250, currency: Currency(code: "EUR")!))),
            .stock(InventorySourceItem(sku: "MUG", sourceCode: "BER", quantity: 1000)),
        ], cursor: nil)
    }

    override func tearDown() {
        client?.close()
        server?.shutdown()
        oms?.stop()
    }

    @discardableResult
    func place(_ key: String) throws -> [String: Any] {
        let body = #"{"channel": "web", "customerId": "c-1", "currency": "EUR", "lines": [{"sku": "MUG", "quantity": 1, "unitPrice": "12.50"}]}"#
        let response = try client.send("POST", "/v1/orders", headers: headers + [("Idempotency-Key", key)], text: body)
        XCTAssertEqual(response.status, 201, response.bodyText)
        return try response.jsonObject()
    }

    func outbox(_ state: String) throws -> [[String: Any]] {
        try client.send("GET", "/v1/outbox?state=\(state)", headers: headers).jsonObject()["items"] as? [[String: Any]] ?? []
    }

    /// Polls `condition` every 20 ms for at most `seconds`.
    func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    func testOrdersArrivingWithinTheWindowGoOutInOneCallAndAreAcknowledged() throws {
        try start(orders: "{ windowMs: 1000, maxBatch: 100 }")
        var ids: [String] = []
        for i in 0..<5 { ids.append(try XCTUnwrap(try place("w-\(i)")["id"] as? String)) }
        XCTAssertTrue(oms.waitForMessages(5, timeout: 15))
        XCTAssertEqual(oms.receivedBatches.count, 1, "five orders inside the window make one call: \(oms.receivedBatches)")
        XCTAssertEqual(Set(oms.receivedBatches.flatMap { $0 }), Set(ids), "each order carries its stable id")
        XCTAssertTrue(try eventually(5) { try outbox("acknowledged").count == 5 })
        XCTAssertEqual(try outbox("pending").count, 0)
    }

    func testABatchIsCappedAtMaxBatch() throws {
        try start(orders: "{ windowMs: 1000, maxBatch: 2 }")
        for i in 0..<5 { try place("m-\(i)") }
        XCTAssertTrue(oms.waitForMessages(5, timeout: 15))
        XCTAssertTrue(oms.receivedBatches.allSatisfy { $0.count <= 2 }, "\(oms.receivedBatches)")
        XCTAssertGreaterThanOrEqual(oms.receivedBatches.count, 3)
    }

    func testFailuresBackOffThenParkTheOrderAsDeadAndTheRetryEndpointResendsIt() throws {
        try start(orders: "{ windowMs: 0, maxAttempts: 3, backoffMs: 50, maxBackoffMs: 200 }")
        oms.mode = .fail(status: 503)
        let order = try place("d-1")
        XCTAssertTrue(try eventually(20) { try outbox("dead").count == 1 }, "parked after 3 attempts")
        let dead = try XCTUnwrap(try outbox("dead").first)
        XCTAssertEqual(dead["attempts"] as? Int, 3)
        XCTAssertEqual(dead["orderNumber"] as? String, order["number"] as? String)
        XCTAssertTrue((dead["lastError"] as? String ?? "").contains("503"), "\(dead)")
        let batchesWhileFailing = oms.receivedBatches.count
        XCTAssertGreaterThanOrEqual(batchesWhileFailing, 3)
        let metrics = try client.send("GET", "/metrics", headers: headers).bodyText
        XCTAssertTrue(metrics.contains(#"wharf_outbox_messages{state="dead"} 1"#), metrics)

        oms.mode = .accept
        let id = try XCTUnwrap(dead["id"] as? Int)
        let retried = try client.send("POST", "/v1/outbox/\(id)/retry", headers: headers)
        XCTAssertEqual(retried.status, 202, retried.bodyText)
        XCTAssertTrue(try eventually(10) { try outbox("acknowledged").count == 1 })
        XCTAssertEqual(oms.receivedBatches.last, [order["id"] as? String].compactMap { $0 }, "resent with the same stable id")
        XCTAssertEqual(try client.send("POST", "/v1/outbox/\(id)/retry", headers: headers).status, 409, "acknowledged messages are not resent")
        XCTAssertEqual(try client.send("POST", "/v1/outbox/999/retry", headers: headers).status, 404)
    }

    func testAnOrderTheOMSRejectsIsRetriedWithItsReasonUntilAccepted() throws {
        try start(orders: "{ windowMs: 0, maxAttempts: 20, backoffMs: 50, maxBackoffMs: 100 }")
        oms.mode = .reject(reason: "unknown shipping method")
        try place("r-1")
        XCTAssertTrue(try eventually(10) { (try outbox("pending").first?["lastError"] as? String ?? "").contains("unknown shipping method") })
        oms.mode = .accept
        XCTAssertTrue(try eventually(10) { try outbox("acknowledged").count == 1 })
    }

    func testAnOMSRetryAfterPostponesTheNextAttemptBeyondTheBackoff() throws {
        try start(orders: "{ windowMs: 0, backoffMs: 50, maxBackoffMs: 10000 }")
        oms.http.failOnce("POST", "/orders/batch", with: .tooManyRequests(retryAfter: "3"))
        let placedAt = Date()
        try place("ra-1")
        var pending: [String: Any]?
        XCTAssertTrue(try eventually(10) {
            pending = try outbox("pending").first
            return (pending?["attempts"] as? Int) == 1
        })
        let next = try XCTUnwrap(Timestamp(rfc3339: try XCTUnwrap(pending?["nextAttemptAt"] as? String)))
        XCTAssertGreaterThanOrEqual(next.date.timeIntervalSince(placedAt), 2.9, "not before the OMS's Retry-After of 3 s (backoff alone: 50 ms)")
        XCTAssertTrue((pending?["lastError"] as? String ?? "").contains("429"), "\(pending ?? [:])")
        XCTAssertTrue(try eventually(10) { try outbox("acknowledged").count == 1 })
    }

    func testACancellationNeverOvertakesItsOrder() throws {
        try start(orders: "{ windowMs: 0, maxAttempts: 50, backoffMs: 50, maxBackoffMs: 100 }")
        oms.mode = .fail(status: 503)
        let order = try place("x-1")
        let id = try XCTUnwrap(order["id"] as? String)
        XCTAssertEqual(try client.send("POST", "/v1/orders/\(try XCTUnwrap(order["number"] as? String))/cancel", headers: headers).status, 200)
        XCTAssertTrue(oms.waitForBatches(3, timeout: 10))
        XCTAssertTrue(oms.receivedBatches.allSatisfy { $0 == [id] }, "only the order is tried while it fails: \(oms.receivedBatches)")
        oms.mode = .accept
        XCTAssertTrue(try eventually(10) { try outbox("acknowledged").count == 2 })
        let sent = oms.receivedBatches.flatMap { $0 }
        XCTAssertEqual(sent.last, id + ":cancel")
        XCTAssertLessThan(try XCTUnwrap(sent.lastIndex(of: id)), try XCTUnwrap(sent.firstIndex(of: id + ":cancel")))
    }

    func testACancellationBehindADeadOrderWaitsForItsRetry() throws {
        try start(orders: "{ windowMs: 0, maxAttempts: 1 }")
        oms.mode = .fail(status: 503)
        let order = try place("dc-1")
        XCTAssertTrue(try eventually(10) { try outbox("dead").count == 1 })
        XCTAssertEqual(try client.send("POST", "/v1/orders/\(try XCTUnwrap(order["number"] as? String))/cancel", headers: headers).status, 200)
        let store = env.deployment.store
        XCTAssertNil(try store.nextOutboxAttempt(), "the cancellation waits behind the dead order (and the dispatcher sleeps, not spins)")
        XCTAssertEqual(try store.dueOutboxMessages(limit: 10).count, 0)
        oms.mode = .accept
        let dead = try XCTUnwrap(try outbox("dead").first?["id"] as? Int)
        XCTAssertEqual(try client.send("POST", "/v1/outbox/\(dead)/retry", headers: headers).status, 202)
        XCTAssertTrue(try eventually(10) { try outbox("acknowledged").count == 2 })
    }

    func testAnAnswerSlowerThanTheDeadlineIsRetriedAndTheOMSSeesTheSameIdTwice() throws {
        try start(orders: "{ windowMs: 0, deadlineSeconds: 1, backoffMs: 50, maxBackoffMs: 100 }")
        oms.mode = .slow(seconds: 2)
        let order = try place("s-1")
        XCTAssertTrue(oms.waitForBatches(1, timeout: 10))
        oms.mode = .accept
        XCTAssertTrue(try eventually(15) { try outbox("acknowledged").count == 1 })
        let id = try XCTUnwrap(order["id"] as? String)
        XCTAssertGreaterThanOrEqual(oms.receivedBatches.filter { $0 == [id] }.count, 2, "resent after the timeout, same id: \(oms.receivedBatches)")
        XCTAssertEqual(oms.distinctMessages, 1, "the OMS de-duplicates by the stable id")
    }

    func testTheExampleManifestPassesTheOMSPluginsCheck() throws {
        let path = BuildProducts.packageRoot.appendingPathComponent("manifests/examples/orders-oms.json5").path
        let manifest = try Manifest.load(path: path)
        env = try TestDeployment()
        try env.deployment.plugins.install(from: BuildProducts.plugin("wharf-oms").path, replace: false, host: HostServices.table)
        setenv("OMS_TOKEN", "example-token", 1)
        defer { unsetenv("OMS_TOKEN") }
        XCTAssertNil(ConnectorRunner.checkConfiguration(
            of: manifest.connectors[0], manifest: manifest, plugins: env.deployment.plugins, logger: env.deployment.logger))
        let settings = try XCTUnwrap(OrderDispatchSettings.find(in: manifest))
        XCTAssertEqual(settings.window, .milliseconds(200))
        XCTAssertEqual(settings.maxBatch, 100)
        XCTAssertEqual(settings.maxBackoff, .seconds(300))
    }

    func testAManifestWithABadDispatchSettingIsRefusedWithItsPath() throws {
        oms = try OMSTestServer()
        env = try TestDeployment(connectors: """
            [ { name: "oms", plugin: "oms", config: { baseURL: "\(oms.baseURL)", orders: { windowMs: -5 } } } ]
            """)
        try env.deployment.plugins.install(from: BuildProducts.plugin("wharf-oms").path, replace: false, host: HostServices.table)
        let problem = ConnectorRunner.checkConfiguration(
            of: env.deployment.manifest.connectors[0], manifest: env.deployment.manifest, plugins: env.deployment.plugins,
            logger: env.deployment.logger)
        XCTAssertTrue(problem?.contains("connectors[0].config.orders.windowMs") == true, problem ?? "no problem reported")
    }
}

import Foundation
import WharfTestSupport
import XCTest

/// The real `wharf serve` with the `oms` plugin and a local OMS: an order whose batch reached the OMS but whose
/// answer never came back (Wharf killed in between) is sent again after a restart, with the same stable id.
final class OrderOutboxEndToEndTests: XCTestCase {
    var folder: TemporaryDirectory!
    var manifest: String!
    var oms: OMSTestServer!

    override func setUpWithError() throws {
        folder = TemporaryDirectory(prefix: "wharf-orders")
        oms = try OMSTestServer()
        manifest = folder.write("deploy.json5", """
            {
              database: "state/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins",
              connectors: [
                { name: "oms", plugin: "oms", config: { baseURL: "\(oms.baseURL)", timeoutSeconds: 30,
                  orders: { windowMs: 0, deadlineSeconds: 60, backoffMs: 100 } } },
              ],
            }
            """)
    }

    override func tearDown() {
        oms?.release()
        oms?.stop()
    }

    @discardableResult
    func wharf(_ arguments: String..., expect code: Int32, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let result = try ProcessRunner.run(BuildProducts.wharf, ["--manifest", manifest] + arguments, timeout: 60)
        XCTAssertEqual(result.exitCode, code, "wharf \(arguments.joined(separator: " "))\nstdout: \(result.stdout)\nstderr: \(result.stderr)", file: file, line: line)
        return result
    }

    func testKillingWharfBetweenSentAndAcknowledgedResendsTheOrderAfterARestart() throws {
        try wharf("plugins", "install", BuildProducts.plugin("wharf-oms").path, expect: 0)
        try wharf("manifest", "check", expect: 0)
        let key = try wharf("keys", "create", "--name", "shop", "--scopes", "catalog:write,inventory:write,orders:read,orders:write", expect: 0)
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let auth = [("Authorization", "Bearer \(key)"), ("Content-Type", "application/json")]

        let first = try ServerProcess(manifest: manifest)
        defer { first.stop() }
        let client = try TestHTTPClient(port: first.port, timeout: 30)
        XCTAssertEqual(try client.send("PUT", "/v1/products/MUG", headers: auth, text: #"{"name": "Mug"}"#).status, 201)
        XCTAssertEqual(try client.send("POST", "/v1/prices/base", headers: auth, text: #"{"items": [{"sku": "MUG", "currency": "EUR", "amount": "12.50"}]}"#).status, 200)
        XCTAssertEqual(try client.send("POST", "/v1/inventory/source-items", headers: auth, text: #"{"items": [{"sku": "MUG", "source": "BER", "quantity": 5}]}"#).status, 200)

        oms.mode = .hold  // the OMS takes the batch and does not answer
        let placed = try client.send("POST", "/v1/orders", headers: auth + [("Idempotency-Key", "kill-1")], text: """
            {"channel": "web", "customerId": "c-1", "currency": "EUR", "lines": [{"sku": "MUG", "quantity": 2, "unitPrice": "12.50"}]}
            """)
        XCTAssertEqual(placed.status, 201, placed.bodyText)
        let id = try XCTUnwrap(try placed.jsonObject()["id"] as? String)
        XCTAssertTrue(oms.waitForBatches(1, timeout: 20), "the order reached the OMS")
        XCTAssertEqual(oms.receivedBatches.first, [id])
        client.close()
        first.stop()  // SIGKILL between "sent" and "acknowledged"
        oms.release()  // the held answer goes to a dead connection

        let second = try ServerProcess(manifest: manifest)
        defer { second.stop() }
        let again = try TestHTTPClient(port: second.port, timeout: 30)
        defer { again.close() }
        XCTAssertTrue(oms.waitForBatches(2, timeout: 30), "resent after the restart")
        XCTAssertEqual(oms.receivedBatches.filter { $0.contains(id) }.count, 2, "\(oms.receivedBatches)")
        XCTAssertEqual(oms.distinctMessages, 1, "same stable id: the OMS keeps one order")
        var acknowledged: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(20)
        repeat {
            acknowledged = try again.send("GET", "/v1/outbox?state=acknowledged", headers: auth).jsonObject()["items"] as? [[String: Any]] ?? []
            if !acknowledged.isEmpty { break }
            usleep(50_000)
        } while Date() < deadline
        XCTAssertEqual(acknowledged.first?["messageId"] as? String, id)
        let orders = try again.send("GET", "/v1/orders", headers: auth).jsonObject()["items"] as? [[String: Any]] ?? []
        XCTAssertEqual(orders.compactMap { $0["id"] as? String }, [id], "one order, kept across the kill")
        XCTAssertEqual(second.stopGracefully(), 0)
    }
}

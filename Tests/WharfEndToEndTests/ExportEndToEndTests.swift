import Foundation
import WharfTestSupport
import XCTest

/// The real `wharf serve` with the `edm-export` and `bi-export` plugins in worker processes: consent and orders
/// recorded over REST, exports started over REST, files listed and downloaded, the watermark kept across a restart.
final class ExportEndToEndTests: XCTestCase {
    var folder: TemporaryDirectory!
    var manifest: String!

    override func setUpWithError() throws {
        folder = TemporaryDirectory(prefix: "wharf-exports")
        manifest = folder.write("deploy.json5", """
            {
              database: "state/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins",
              connectors: [
                { name: "edm", plugin: "edm-export", config: { folder: "exports/edm", settleSeconds: 0 } },
                { name: "bi", plugin: "bi-export", config: { folder: "exports/bi", settleSeconds: 0, entities: ["order", "order_line"], formats: ["ndjson"] } },
              ],
            }
            """)
    }

    @discardableResult
    func wharf(_ arguments: String..., expect code: Int32, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let result = try ProcessRunner.run(BuildProducts.wharf, ["--manifest", manifest] + arguments, timeout: 60)
        XCTAssertEqual(result.exitCode, code, "wharf \(arguments.joined(separator: " "))\nstdout: \(result.stdout)\nstderr: \(result.stderr)", file: file, line: line)
        return result
    }

    /// Starts an export and waits (at most 200 polls) until its run is no longer running.
    func export(_ client: TestHTTPClient, _ auth: [(String, String)], _ connector: String) throws -> [String: Any] {
        let started = try client.send("POST", "/v1/exports/\(connector)", headers: auth)
        XCTAssertEqual(started.status, 202, started.bodyText)
        let id = try XCTUnwrap(try started.jsonObject()["id"] as? Int)
        for _ in 0..<200 {
            let run = try client.send("GET", "/v1/runs/\(id)", headers: auth).jsonObject()
            if run["state"] as? String != "running" { return run }
            usleep(50_000)
        }
        XCTFail("run \(id) did not finish")
        return [:]
    }

    func testExportsRunInWorkersOverRESTAndTheWatermarkSurvivesARestart() throws {
        for plugin in ["wharf-edm-export", "wharf-bi-export"] {
            try wharf("plugins", "install", BuildProducts.plugin(plugin).path, expect: 0)
        }
        try wharf("manifest", "check", expect: 0)
        let key = try wharf(
            "keys", "create", "--name", "ops",
            "--scopes", "catalog:write,inventory:write,orders:write,customers:write,exports:read,exports:write,runs:read", expect: 0)
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let auth = [("Authorization", "Bearer \(key)"), ("Content-Type", "application/json")]

        let first = try ServerProcess(manifest: manifest)
        defer { first.stop() }
        let client = try TestHTTPClient(port: first.port, timeout: 30)
        XCTAssertEqual(try client.send("PUT", "/v1/customers/c-1", headers: auth, text: #"{"email": "ana@example.com", "firstName": "Ana"}"#).status, 200)
        XCTAssertEqual(try client.send("PUT", "/v1/customers/c-2", headers: auth, text: #"{"email": "ben@example.com", "firstName": "Ben"}"#).status, 200)
        XCTAssertEqual(try client.send("PUT", "/v1/consents/ana@example.com", headers: auth, text: #"{"personKind": "customer", "personId": "c-1", "status": "granted", "source": "checkout"}"#).status, 200)
        XCTAssertEqual(try client.send("PUT", "/v1/products/MUG", headers: auth, text: #"{"name": "Mug"}"#).status, 201)
        XCTAssertEqual(try client.send("POST", "/v1/prices/base", headers: auth, text: #"{"items": [{"sku": "MUG", "currency": "EUR", "amount": "12.50"}]}"#).status, 200)
        XCTAssertEqual(try client.send("POST", "/v1/inventory/source-items", headers: auth, text: #"{"items": [{"sku": "MUG", "source": "BER", "quantity": 5}]}"#).status, 200)
        let placed = try client.send("POST", "/v1/orders", headers: auth + [("Idempotency-Key", "e2e-1")], text: """
            {"channel": "web", "customerId": "c-1", "currency": "EUR", "lines": [{"sku": "MUG", "quantity": 2, "unitPrice": "12.50"}]}
            """)
        XCTAssertEqual(placed.status, 201, placed.bodyText)
        let number = try XCTUnwrap(try placed.jsonObject()["number"] as? String)
        usleep(10_000)

        let edm = try export(client, auth, "edm")
        XCTAssertEqual(edm["state"] as? String, "succeeded", "\(edm)")
        let bi = try export(client, auth, "bi")
        XCTAssertEqual(bi["state"] as? String, "succeeded", "\(bi)")

        let list = try client.send("GET", "/v1/exports?connector=bi", headers: auth).jsonObject()
        let files = try XCTUnwrap((list["items"] as? [[String: Any]])?.first?["files"] as? [[String: Any]])
        let lines = try XCTUnwrap(files.first { ($0["name"] as? String)?.hasPrefix("order_line/") == true })
        let body = try client.send("GET", try XCTUnwrap(lines["href"] as? String), headers: auth)
        XCTAssertEqual(body.status, 200)
        let row = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(body.body.split(separator: 0x0A)[0])) as? [String: Any])
        XCTAssertEqual(row["order_number"] as? String, number)
        XCTAssertEqual(row["quantity"] as? Int, 2)
        XCTAssertEqual(row["line_total"] as? Int, 2500)

        let edmFiles = try client.send("GET", "/v1/exports?connector=edm", headers: auth).jsonObject()
        let contacts = try XCTUnwrap(((edmFiles["items"] as? [[String: Any]])?.first?["files"] as? [[String: Any]])?.first { $0["name"] as? String == "contacts.csv" })
        let csv = try client.send("GET", try XCTUnwrap(contacts["href"] as? String), headers: auth).bodyText
        XCTAssertTrue(csv.contains("ana@example.com,Ana,"))
        XCTAssertFalse(csv.contains("ben@"), "Ben gave no consent")
        client.close()
        XCTAssertEqual(first.stopGracefully(), 0)

        // After a restart the watermark is where the last export left it: nothing new, nothing exported again.
        let second = try ServerProcess(manifest: manifest)
        defer { second.stop() }
        let again = try TestHTTPClient(port: second.port, timeout: 30)
        defer { again.close() }
        let next = try export(again, auth, "bi")
        XCTAssertEqual(next["state"] as? String, "succeeded", "\(next)")
        XCTAssertEqual((next["counts"] as? [String: Any])?["read"] as? Int, 0)
        XCTAssertEqual(second.stopGracefully(), 0)
    }
}

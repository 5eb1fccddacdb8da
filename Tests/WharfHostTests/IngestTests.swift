import Foundation
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Runs through the real plugin libraries (dlopen), the host services and the real SQLite store.
final class IngestTests: XCTestCase {
    static let connectors = """
        [
          { name: "stock", plugin: "stock-csv", config: { path: "data/stock.csv", delimiter: ";" },
            mapping: { sku: "Item", source: "Warehouse", quantity: "Qty" } },
          { name: "catalog", plugin: "catalog-file", config: { path: "data/products.jsonl" },
            mapping: { sku: "id", name: "title", attributes: { color: "colour" } } },
          { name: "missing-file", plugin: "stock-csv", config: { path: "data/nope.csv" } },
          { name: "not-installed", plugin: "pim-x", config: {} },
          { name: "off", plugin: "stock-csv", enabled: false, config: { path: "data/stock.csv" } },
        ]
        """
    static let stock = "Item;Warehouse;Qty\r\nA-1;BER;10\r\nA-1;HAM;5\r\nB-2;BER\r\nC-3;BER;ten\r\nC-3;HAM;0\r\n"
    static let products = """
        {"id":"A-1","title":"Anchor","colour":"navy","price":"12.50","currency":"EUR"}
        {"id":"B-2","title":"Buoy"
        {"id":"C-3","title":"","price":"1.999","currency":"EUR"}
        {"id":"D-4","title":"Dock line","price":"3","currency":"JPY"}

        """

    func makeEnv() throws -> TestDeployment {
        try TestDeployment(connectors: Self.connectors, files: ["data/stock.csv": Self.stock, "data/products.jsonl": Self.products])
    }

    func testStockCSVPluginInC_IngestsAndRejectsWithLineNumbers() throws {
        let env = try makeEnv()
        let run = try env.run("stock")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(run.counts.read, 5)
        XCTAssertEqual(run.counts.inserted, 3)
        XCTAssertEqual(run.counts.rejected, 2)
        let store = env.deployment.store
        let a1 = try XCTUnwrap(try store.inventory(sku: "A-1"))
        XCTAssertEqual(a1.totalQuantity, 15)
        XCTAssertEqual(a1.items.map(\.sourceCode), ["BER", "HAM"])
        XCTAssertEqual(try store.inventory(sku: "C-3")?.items.first?.status, .outOfStock)
        XCTAssertEqual(Set(try store.sources().map(\.code)), ["BER", "HAM"], "unknown sources are created")

        let rejects = try store.rejects(runID: run.id, limit: 10, afterID: nil)
        XCTAssertEqual(rejects.map(\.location.line), [4, 5])
        XCTAssertTrue(rejects.allSatisfy { $0.location.source?.hasSuffix("stock.csv") == true })
        XCTAssertEqual(rejects.last?.field, "quantity")
        XCTAssertTrue(rejects.last?.reason.contains("ten") == true, rejects.last?.reason ?? "")
        XCTAssertEqual(rejects.last?.raw, "C-3;BER;ten")
        XCTAssertNotNil(try store.cursor(connector: "stock"), "the cursor moved with the final batch")

        let skipped = try env.run("stock")
        XCTAssertEqual(skipped.counts.read, 0, "the same file (by its fingerprint) is not read twice")
        env.folder.write("data/stock.csv", Self.stock)  // the same snapshot delivered again as a new file
        let again = try env.run("stock")
        XCTAssertEqual(again.counts.read, 5)
        XCTAssertEqual(again.counts.unchanged, 3, "a second identical snapshot changes nothing")
        XCTAssertEqual(again.counts.inserted + again.counts.updated, 0)
    }

    func testCatalogPluginInSwift_IngestsProductsAndPricesAndSkipsAnUnchangedFile() throws {
        let env = try makeEnv()
        let run = try env.run("catalog")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        let store = env.deployment.store
        let anchor = try XCTUnwrap(try store.product(sku: "A-1"))
        XCTAssertEqual(anchor.name, "Anchor")
        XCTAssertEqual(anchor.attributes, ["color": "navy"])
        XCTAssertEqual(try store.basePrices(sku: "A-1").map(\.price.minorUnits), [1250])
        XCTAssertEqual(try store.basePrices(sku: "D-4").map(\.price.minorUnits), [3], "JPY has no minor unit")
        XCTAssertNil(try store.product(sku: "B-2"), "a cut-off line is rejected, not half-stored")
        XCTAssertNil(try store.product(sku: "C-3"))
        let rejects = try store.rejects(runID: run.id, limit: 10, afterID: nil)
        XCTAssertEqual(Set(rejects.compactMap(\.location.line)), [2, 3], "\(rejects.map(\.reason))")
        XCTAssertTrue(rejects.contains { $0.field == "name" }, "\(rejects.map { ($0.field, $0.reason) })")
        XCTAssertGreaterThanOrEqual(run.counts.rejected, 2)

        let again = try env.run("catalog")
        XCTAssertEqual(again.state, .succeeded)
        XCTAssertEqual(again.counts.read, 0, "the unchanged file is skipped by its cursor")
        XCTAssertTrue(env.logLines.all.contains { $0.contains("unchanged") && $0.contains("run=\(again.id)") })
        let kept = try env.deployment.store.runLogs(runID: again.id, limit: 10, afterID: nil)
        XCTAssertTrue(kept.contains { $0.level == "info" && $0.message.contains("unchanged") }, "the plugin's log lines are kept with the run: \(kept)")
    }

    func testRunsThatCannotWorkAreRecordedAsFailedWithTheReason() throws {
        let env = try makeEnv()
        let missing = try env.run("missing-file")
        XCTAssertEqual(missing.state, .failed)
        XCTAssertTrue(missing.error?.contains("nope.csv") == true, missing.error ?? "")
        let notInstalled = try env.run("not-installed")
        XCTAssertEqual(notInstalled.state, .failed)
        XCTAssertTrue(notInstalled.error?.contains("wharf plugins install") == true, notInstalled.error ?? "")
        XCTAssertThrowsError(try env.run("off")) { XCTAssertTrue("\($0)".contains("disabled")) }
        XCTAssertThrowsError(try env.run("nobody")) { XCTAssertTrue("\($0)".contains("stock, catalog")) }
        XCTAssertEqual(try env.deployment.store.runs(connector: nil, limit: 10, beforeID: nil).map(\.state), [.failed, .failed])
    }

    func testCancelledRunKeepsNothingHalfAndIsRecordedAsCancelled() throws {
        let env = try makeEnv()
        let flag = CancellationFlag()
        flag.cancel()
        let run = try ConnectorRunner(deployment: env.deployment).ingest(connector: "stock", trigger: .manual, cancellation: flag)
        XCTAssertEqual(run.state, .cancelled)
        XCTAssertNil(try env.deployment.store.inventory(sku: "A-1"))
        XCTAssertNil(try env.deployment.store.cursor(connector: "stock"))
    }

    func testRunsAndRejectsAreServedOverHTTP() throws {
        let env = try makeEnv()
        let run = try env.run("stock")
        let server = try WharfServer(deployment: env.deployment, port: 0)
        try server.start()
        defer { server.shutdown() }
        let client = try TestHTTPClient(port: server.port)
        defer { client.close() }
        let key = try env.key([.runsRead, .inventoryRead, .connectorsRead])
        let headers = [("Authorization", "Bearer \(key)")]

        let served = try client.send("GET", "/v1/runs/\(run.id)", headers: headers).jsonObject()
        XCTAssertEqual(served["state"] as? String, "succeeded")
        XCTAssertEqual((served["counts"] as? [String: Any])?["rejected"] as? Int, 2)
        let page1 = try client.send("GET", "/v1/runs/\(run.id)/rejects?limit=1", headers: headers).jsonObject()
        let first = try XCTUnwrap((page1["items"] as? [[String: Any]])?.first)
        XCTAssertEqual((first["location"] as? [String: Any])?["line"] as? Int, 4)
        let cursor = try XCTUnwrap(page1["nextCursor"] as? String)
        let page2 = try client.send("GET", "/v1/runs/\(run.id)/rejects?limit=1&cursor=\(cursor)", headers: headers).jsonObject()
        XCTAssertEqual(((page2["items"] as? [[String: Any]])?.first?["location"] as? [String: Any])?["line"] as? Int, 5)
        XCTAssertEqual(try client.send("GET", "/v1/runs/999/rejects", headers: headers).status, 404)

        let logs = try client.send("GET", "/v1/runs/\(run.id)/logs", headers: headers)
        XCTAssertEqual(logs.status, 200)
        XCTAssertNotNil(try logs.jsonObject()["items"] as? [Any])
        XCTAssertEqual(try client.send("GET", "/v1/runs/999/logs", headers: headers).status, 404)

        let inventory = try client.send("GET", "/v1/inventory/A-1", headers: headers).jsonObject()
        XCTAssertEqual(inventory["totalQuantity"] as? Int, 15)
        XCTAssertEqual((inventory["sources"] as? [[String: Any]])?.count, 2)
        XCTAssertEqual(try client.send("GET", "/v1/inventory/NOPE", headers: headers).status, 404)

        let metrics = try client.send("GET", "/metrics", headers: [("Authorization", "Bearer \(try env.key([.metricsRead]))")]).bodyText
        XCTAssertTrue(metrics.contains(#"wharf_runs_total{connector="stock",state="succeeded"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"wharf_records_total{connector="stock",outcome="rejected"} 2"#), metrics)
        XCTAssertTrue(metrics.contains(#"wharf_records_total{connector="stock",outcome="written"} 3"#), metrics)
        XCTAssertTrue(metrics.contains(#"wharf_run_duration_seconds_count{connector="stock",state="succeeded"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"wharf_run_duration_seconds_bucket{connector="stock",state="succeeded",le="1"} 1"#), metrics)

        let connectors = try client.send("GET", "/v1/connectors", headers: headers).jsonObject()
        let items = try XCTUnwrap(connectors["items"] as? [[String: Any]])
        XCTAssertEqual(items.map { $0["name"] as? String }, ["stock", "catalog", "missing-file", "not-installed", "off"])
        XCTAssertEqual(items[0]["pluginInstalled"] as? Bool, true)
        XCTAssertEqual((items[0]["lastRun"] as? [String: Any])?["id"] as? Int, Int(run.id))
        XCTAssertEqual(items[3]["pluginInstalled"] as? Bool, false)
    }
}

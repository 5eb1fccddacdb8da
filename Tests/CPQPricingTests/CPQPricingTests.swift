import Foundation
import WharfManifest
import WharfModel
import WharfPlugins
import WharfStore
import WharfTestSupport
import XCTest

@testable import WharfHost

#if canImport(Glibc)
import Glibc
#endif

private let token = "cpq-test-token-7f3a9c"

/// The real cpq-pricing plugin, run by the real host against a CPQ test server on loopback.
final class CPQPricingTests: XCTestCase {
    var cpq: StubHTTPServer!
    var folder: TemporaryDirectory!
    var deployment: Deployment!
    let logLines = LogLines()

    /// Items of the CPQ's export, by cursor page: each item is one tier of one SKU in one price list.
    let export = ExportPages()
    var pages: [[String]] {
        get { export.pages }
        set { export.pages = newValue }
    }

    override func setUpWithError() throws {
        let path = BuildProducts.plugin("wharf-cpq-pricing").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("build it first: swift build --product wharf-cpq-pricing (\(path) is missing)")
        }
        setenv("CPQ_TEST_TOKEN", token, 1)
        cpq = try StubHTTPServer()
        folder = TemporaryDirectory(prefix: "wharf-cpq")
    }

    override func tearDown() {
        cpq?.stop()
        deployment?.store.close()
    }

    static func item(_ list: String, _ sku: String, _ price: String, min: Int = 1, group: String = "wholesale", mode: String = "lowest", deleted: Bool = false) -> String {
        """
        {"priceList": {"code": "\(list)", "name": "List \(list)", "currency": "EUR", "type": "\(mode)"},
         "item": {"sku": " \(sku.lowercased()) "}, "minQty": \(min), "unitPrice": "\(price)", "segments": ["\(group)"], "isDeleted": \(deleted)}
        """
    }

    /// Serves `pages` with cursor paging: `?cursor=N` → page N, `next_cursor` = N+1 while more pages follow.
    func serveExport() {
        let export = export
        cpq.handle("GET", "/api/v2/price-export") { request in
            let pages = export.pages
            let index = Int(request.queryValue("cursor") ?? "0") ?? 0
            let items = index < pages.count ? pages[index] : []
            let next = index + 1 < pages.count ? "\"\(index + 1)\"" : "null"
            return .json("{\"data\": [\(items.joined(separator: ","))], \"paging\": {\"next_cursor\": \(next)}}")
        }
    }

    func open(connectorConfig: String, files: [String: String] = [:]) throws {
        for (name, text) in files { folder.write(name, text) }
        let path = folder.write("wharf.json5", """
            { database: "db/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins", connectors: [
              { name: "cpq", plugin: "cpq-pricing", isolation: "inprocess", \(connectorConfig) } ] }
            """)
        let manifest = try Manifest.load(path: path)
        let lines = logLines
        deployment = try Deployment(manifest: manifest, logger: Logger(level: .debug, sink: { lines.append($0) }))
        try deployment.plugins.install(from: BuildProducts.plugin("wharf-cpq-pricing").path, replace: true, host: HostServices.table)
    }

    var httpConfig: String {
        """
        config: { sync: "incremental", http: {
            baseURL: "\(cpq.baseURL)/api/v2", path: "price-export", itemsPath: "data",
            paging: { mode: "cursor", next: "paging.next_cursor" }, modifiedSince: "modified_since",
            auth: { header: "Authorization", scheme: "Bearer", secret: "env:CPQ_TEST_TOKEN" }, timeoutSeconds: 5, maxAttempts: 3 } },
        mapping: { fields: {
            list: "priceList.code", list_name: "priceList.name", currency: "priceList.currency", mode: "priceList.type",
            sku: { path: "item.sku", transform: ["trim", "upper"] }, min_quantity: "minQty", amount: "unitPrice",
            group: "segments", deleted: "isDeleted" } }
        """
    }

    func runConnector() throws -> Run {
        try ConnectorRunner(deployment: deployment).ingest(connector: "cpq", trigger: .manual)
    }

    func price(_ sku: String, qty: Int64 = 1) throws -> Int64? {
        let result = try deployment.store.resolvePrice(PriceQuery(sku: sku, group: "wholesale", quantity: qty))
        return try? result.get().unitPrice.minorUnits
    }

    func testFullSyncOverPagedHTTPWithA503AndA429() throws {
        pages = [
            [Self.item("WHS", "sku-1", "9.00"), Self.item("WHS", "sku-1", "8.00", min: 10)],
            [Self.item("WHS", "sku-2", "5.00"), Self.item("VIP", "sku-1", "7.50", group: "vip")],
            [Self.item("WHS", "sku-3", "1.25")],
        ]
        serveExport()
        cpq.failOnce("GET", "/api/v2/price-export", with: .serviceUnavailable(), when: { $0.queryValue("cursor") == "1" })
        cpq.failOnce("GET", "/api/v2/price-export", with: .tooManyRequests(retryAfter: "1"), when: { $0.queryValue("cursor") == "2" })
        try open(connectorConfig: httpConfig)
        let run = try runConnector()
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(try price("SKU-1"), 900)
        XCTAssertEqual(try price("SKU-1", qty: 10), 800)
        XCTAssertEqual(try price("SKU-2"), 500)
        XCTAssertEqual(try price("SKU-3"), 125)
        let requests = cpq.requests
        XCTAssertEqual(requests.map { $0.queryValue("cursor") ?? "-" }, ["-", "1", "1", "2", "2"], "each failed page was asked for again")
        XCTAssertTrue(requests.allSatisfy { $0.header("Authorization") == "Bearer \(token)" })
        XCTAssertNil(requests.first?.queryValue("modified_since"), "the first sync is a full one")
        XCTAssertTrue(logLines.all.contains { $0.contains("HTTP 503") && $0.contains("retrying") }, logLines.all.joined(separator: "\n"))
        XCTAssertFalse(logLines.all.contains { $0.contains(token) })
        let lists = try deployment.store.priceLists()
        XCTAssertEqual(lists.map(\.list.code), ["VIP", "WHS"])
        XCTAssertEqual(lists.last?.entryCount, 4)
        XCTAssertEqual(lists.last?.assignments.map(\.code), ["wholesale"])
    }

    func testIncrementalSyncAppliesChangesSinceTheCursor() throws {
        pages = [[Self.item("WHS", "sku-1", "9.00"), Self.item("WHS", "sku-2", "5.00")]]
        serveExport()
        try open(connectorConfig: httpConfig)
        XCTAssertEqual(try runConnector().state, .succeeded)
        let cursor = try XCTUnwrap(try deployment.store.cursor(connector: "cpq"))
        pages = [[Self.item("WHS", "sku-1", "8.50"), Self.item("WHS", "sku-2", "5.00", deleted: true)]]
        cpq.clearRequests()
        let second = try runConnector()
        XCTAssertEqual(second.state, .succeeded, second.error ?? "")
        XCTAssertEqual(cpq.requests.first?.queryValue("modified_since"), cursor)
        XCTAssertEqual(try price("SKU-1"), 850)
        XCTAssertNil(try price("SKU-2"), "the deleted entry is gone and SKU-2 has no base price")
    }

    func testAFullSyncReplacesTheListAndAFailedOneKeepsThePreviousPrices() throws {
        pages = [[Self.item("WHS", "sku-1", "9.00"), Self.item("WHS", "sku-2", "5.00")]]
        serveExport()
        try open(connectorConfig: httpConfig.replacingOccurrences(of: "sync: \"incremental\"", with: "sync: \"full\""))
        XCTAssertEqual(try runConnector().state, .succeeded)

        // The next export fails for good on its second page: the run fails and nothing of it is visible.
        pages = [[Self.item("WHS", "sku-1", "1.00")], [Self.item("WHS", "sku-3", "3.00")]]
        let export = export
        cpq.handle("GET", "/api/v2/price-export") { request in
            let pages = export.pages
            if request.queryValue("cursor") == "1" { return .text("backend down, token was \(request.header("Authorization") ?? "")", status: 500) }
            return .json("{\"data\": [\(pages[0].joined(separator: ","))], \"paging\": {\"next_cursor\": \"1\"}}")
        }
        let failed = try runConnector()
        XCTAssertEqual(failed.state, .failed)
        let error = failed.error ?? ""
        XCTAssertTrue(error.contains("/api/v2/price-export?cursor=1") && error.contains("HTTP 500") && error.contains("backend down"), error)
        XCTAssertFalse(error.contains(token), error)
        XCTAssertEqual(try price("SKU-1"), 900, "the failed run left the previous prices in force")
        XCTAssertEqual(try price("SKU-2"), 500)

        // A full sync that succeeds replaces the list: SKU-2 is no longer in the export, so it is no longer priced.
        pages = [[Self.item("WHS", "sku-1", "8.00")]]
        serveExport()
        XCTAssertEqual(try runConnector().state, .succeeded)
        XCTAssertEqual(try price("SKU-1"), 800)
        XCTAssertNil(try price("SKU-2"))
    }

    func testCSVExportWithTransformsAndARejectedRow() throws {
        let csv = """
            list,currency,sku,min,price,group
            B2B,EUR,a-1,1,"12,50",dealers
            B2B,EUR,a-1,5,"11,00",dealers
            B2B,EUR,,1,"3,00",dealers
            B2B,EUR,a-2,1,"not a price",dealers
            """
        try open(connectorConfig: """
            config: { file: { path: "export/prices.csv" } },
            mapping: { fields: { sku: { path: "sku", transform: "upper" }, min_quantity: "min",
                amount: { path: "price", transform: { decimal: { separator: "," } } } } }
            """, files: ["export/prices.csv": csv])
        let run = try runConnector()
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(run.counts.rejected, 2)
        let rejects = try deployment.store.rejects(runID: run.id, limit: 10, afterID: nil)
        XCTAssertEqual(rejects.map(\.field), ["sku", "amount"])
        XCTAssertEqual(rejects.first?.location.line, 4)
        let result = try deployment.store.resolvePrice(PriceQuery(sku: "A-1", group: "dealers", quantity: 6))
        XCTAssertEqual(try result.get().unitPrice.minorUnits, 1100)
    }

    func testTheShippedExampleManifestPassesTheCheck() throws {
        setenv("CPQ_API_TOKEN", "example-token", 1)
        let path = BuildProducts.packageRoot.appendingPathComponent("manifests/examples/cpq-pricing.json5").path
        var manifest = try Manifest.load(path: path)
        manifest.database = folder.file("db/wharf.sqlite")
        manifest.pluginFolder = folder.file("plugins")
        for index in manifest.connectors.indices { manifest.connectors[index].isolation = .inprocess }
        deployment = try Deployment(manifest: manifest)
        try deployment.plugins.install(from: BuildProducts.plugin("wharf-cpq-pricing").path, replace: true, host: HostServices.table)
        for connector in manifest.connectors {
            let message = ConnectorRunner.checkConfiguration(
                of: connector, manifest: manifest, plugins: deployment.plugins, logger: deployment.logger)
            XCTAssertNil(message, "\(connector.name): \(message ?? "")")
        }
    }

    func testManifestMistakesNameTheirPath() throws {
        try open(connectorConfig: """
            config: { http: { baseURL: "https://cpq.example.com", paging: { mode: "pages" } } }
            """)
        let message = ConnectorRunner.checkConfiguration(
            of: deployment.manifest.connector(named: "cpq")!, manifest: deployment.manifest, plugins: deployment.plugins,
            logger: deployment.logger)
        XCTAssertTrue(message?.contains("config.http.paging.mode must be") == true, message ?? "accepted")
    }
}

/// The export the CPQ test server serves, changed by tests between runs.
final class ExportPages: @unchecked Sendable {
    private let lock = NSLock()
    private var value: [[String]] = []

    var pages: [[String]] {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}

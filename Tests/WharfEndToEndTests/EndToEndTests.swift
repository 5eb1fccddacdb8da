import Foundation
import WharfTestSupport
import XCTest

/// Drives the real `wharf` binary: installs both real plugins, runs them, serves the result over loopback HTTP.
final class EndToEndTests: XCTestCase {
    var folder: TemporaryDirectory!
    var manifest: String!

    override func setUpWithError() throws {
        folder = TemporaryDirectory(prefix: "wharf-e2e")
        let data = BuildProducts.packageRoot.appendingPathComponent("manifests/demo-data")
        for name in ["products.jsonl", "stock.csv"] {
            try FileManager.default.copyItem(at: data.appendingPathComponent(name), to: folder.url.appendingPathComponent(name))
        }
        manifest = folder.write("deploy.json5", """
            // end-to-end deployment
            {
              database: "state/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins",
              connectors: [
                { name: "catalog", plugin: "catalog-file", config: { path: "products.jsonl" },
                  mapping: { sku: "id", name: "title", description: "body", status: "state",
                             attributes: { color: "colour" }, price: { amount: "price", currency: "currency" } } },
                { name: "stock", plugin: "stock-csv", config: { path: "stock.csv", delimiter: ";" },
                  mapping: { sku: "Item", source: "Warehouse", quantity: "Qty" } },
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

    func testInstallRunAndServeThroughTheRealBinary() throws {
        try wharf("plugins", "install", BuildProducts.plugin("wharf-catalog-file").path, expect: 0)
        try wharf("plugins", "install", BuildProducts.plugin("wharf-stock-csv").path, expect: 0)
        let list = try wharf("plugins", "list", expect: 0)
        XCTAssertTrue(list.stdout.contains("catalog-file") && list.stdout.contains("stock-csv"), list.stdout)
        XCTAssertTrue(list.stdout.contains("ingest"))
        try wharf("manifest", "check", expect: 0)

        let stock = try wharf("run", "stock", expect: 0)
        XCTAssertTrue(stock.stdout.contains("succeeded: read 42, inserted 40"), stock.stdout)
        XCTAssertTrue(stock.stdout.contains("rejected 2"), stock.stdout)
        let catalog = try wharf("run", "catalog", expect: 0)
        // 20 products + 20 prices; a cut-off line (1 reject) and a line with an empty name and a 3-decimal EUR
        // price (2 rejects: the product and its price).
        XCTAssertTrue(catalog.stdout.contains("read 43, inserted 40"), catalog.stdout)
        XCTAssertTrue(catalog.stdout.contains("rejected 3"), catalog.stdout)

        let created = try wharf("keys", "create", "--name", "storefront", "--scopes", "catalog:read,inventory:read,runs:read", expect: 0)
        let key = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(key.hasPrefix("wharf_"), key)
        let keys = try wharf("keys", "list", expect: 0)
        XCTAssertTrue(keys.stdout.contains("storefront"))
        XCTAssertFalse(keys.stdout.contains(key), "the key is never shown again")

        let server = try ServerProcess(manifest: manifest)
        defer { server.stop() }
        let client = try TestHTTPClient(port: server.port)
        defer { client.close() }
        let auth = [("Authorization", "Bearer \(key)")]
        let product = try client.send("GET", "/v1/products/MUG-001", headers: auth)
        XCTAssertEqual(product.status, 200, product.bodyText)
        let body = try product.jsonObject()
        XCTAssertEqual(body["name"] as? String, "Green steel mug 1")
        XCTAssertEqual((body["prices"] as? [[String: Any]])?.first?["amount"] as? String, "55.00")
        let inventory = try client.send("GET", "/v1/inventory/MUG-001", headers: auth).jsonObject()
        XCTAssertEqual(inventory["totalQuantity"] as? Int, 30)
        let rejects = try client.send("GET", "/v1/runs/1/rejects", headers: auth).jsonObject()
        let lines = (rejects["items"] as? [[String: Any]])?.compactMap { ($0["location"] as? [String: Any])?["line"] as? Int }
        XCTAssertEqual(lines, [10, 16], "the stock file's bad rows, by line")
        XCTAssertEqual(try client.send("GET", "/v1/products/MUG-001").status, 401)
        XCTAssertEqual(try client.send("GET", "/health").status, 200)
        XCTAssertEqual(server.stopGracefully(), 0, "SIGTERM ends serve cleanly")
    }

    func testUsageAndFailureExitCodes() throws {
        let help = try ProcessRunner.run(BuildProducts.wharf, ["--help"])
        XCTAssertEqual(help.exitCode, 0)
        XCTAssertTrue(help.stdout.contains("Usage: wharf"))
        for command in ["serve", "run", "plugins", "keys", "manifest"] {
            let result = try ProcessRunner.run(BuildProducts.wharf, [command, "--help"])
            XCTAssertEqual(result.exitCode, 0, command)
            XCTAssertTrue(result.stdout.contains("wharf \(command)"), "\(command): \(result.stdout)")
        }
        XCTAssertEqual(try ProcessRunner.run(BuildProducts.wharf, ["frobnicate"]).exitCode, 2)
        try wharf("run", expect: 2)
        try wharf("keys", "create", "--name", "x", "--scopes", "catalog:read,orders:eat", expect: 2)
        try wharf("plugins", "install", "--bogus", expect: 2)

        let broken = try wharf("plugins", "install", BuildProducts.plugin("wharf-fixture-no-entry").path, expect: 1)
        XCTAssertTrue(broken.stderr.contains("wharf_plugin_entry"), broken.stderr)
        XCTAssertEqual(broken.stderr.split(separator: "\n").count, 1, "one line: \(broken.stderr)")
        try wharf("plugins", "install", BuildProducts.plugin("wharf-stock-csv").path, expect: 0)
        let duplicate = try wharf("plugins", "install", BuildProducts.plugin("wharf-fixture-duplicate-id").path, expect: 1)
        XCTAssertTrue(duplicate.stderr.contains("stock-csv"), duplicate.stderr)

        let unchecked = try wharf("manifest", "check", expect: 1)
        XCTAssertTrue(unchecked.stderr.contains("connectors[0].plugin"), unchecked.stderr)
        XCTAssertTrue(unchecked.stderr.contains("catalog-file"), unchecked.stderr)
        try wharf("run", "nobody", expect: 1)

        let bad = folder.write("bad.json5", "{ database: 3, connectors: [ { name: \"Bad Name\", plugin: \"x\" } ] }")
        let result = try ProcessRunner.run(BuildProducts.wharf, ["manifest", "check", bad])
        XCTAssertEqual(result.exitCode, 1)
        XCTAssertTrue(result.stderr.contains("database"), result.stderr)
        XCTAssertTrue(result.stderr.contains("connectors[0].name"), result.stderr)
    }
}

extension EndToEndTests {
    func testManifestCheckLetsThePluginCheckItsConfigAndMapping() throws {
        try wharf("plugins", "install", BuildProducts.plugin("wharf-stock-csv").path, expect: 0)
        let bad = folder.write("mapping.json5", """
            { database: "state/wharf.sqlite", pluginFolder: "plugins", connectors: [
              { name: "stock", plugin: "stock-csv", config: { path: "stock.csv", delimiter: ";;" } } ] }
            """)
        let result = try ProcessRunner.run(BuildProducts.wharf, ["manifest", "check", bad])
        XCTAssertEqual(result.exitCode, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("mapping.json5: connectors[0]"), result.stderr)
        XCTAssertTrue(result.stderr.contains("delimiter"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.file("state/wharf.sqlite")), "check opens no database")
    }
}

extension EndToEndTests {
    /// A catalog big enough that a run lasts seconds in a debug build.
    func writeBigCatalog(lines: Int) {
        var text = ""
        text.reserveCapacity(lines * 90)
        for i in 1...lines { text += "{\"id\":\"BIG-\(i)\",\"title\":\"Big product \(i)\",\"price\":\"\(i % 90 + 1).50\",\"currency\":\"EUR\"}\n" }
        folder.write("products.jsonl", text)
    }

    func testARunCancelledOverHTTPStopsAtABatchBoundaryAndKeepsWhatItCommitted() throws {
        writeBigCatalog(lines: 200_000)
        try wharf("plugins", "install", BuildProducts.plugin("wharf-catalog-file").path, expect: 0)
        try wharf("plugins", "install", BuildProducts.plugin("wharf-stock-csv").path, expect: 0)
        let key = try wharf("keys", "create", "--name", "ops", "--scopes", "runs:write,runs:read,catalog:read", expect: 0)
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try ServerProcess(manifest: manifest)
        defer { server.stop() }
        let client = try TestHTTPClient(port: server.port, timeout: 30)
        defer { client.close() }
        let auth = [("Authorization", "Bearer \(key)")]
        let started = try client.send("POST", "/v1/connectors/catalog/runs", headers: auth)
        XCTAssertEqual(started.status, 202, started.bodyText)
        let location = try XCTUnwrap(started.header("Location"))
        XCTAssertEqual(try client.send("POST", location + "/cancel", headers: auth).status, 202)
        var state = ""
        var run: [String: Any] = [:]
        for _ in 0..<300 where state == "" || state == "running" {
            run = try client.send("GET", location, headers: auth).jsonObject()
            state = run["state"] as? String ?? ""
            if state == "running" { usleep(100_000) }
        }
        XCTAssertEqual(state, "cancelled", "\(run)")
        let inserted = (run["counts"] as? [String: Any])?["inserted"] as? Int ?? -1
        XCTAssertLessThan(inserted, 400_000, "it stopped before the end")
        let page = try client.send("GET", "/v1/products?limit=1000", headers: auth).jsonObject()
        XCTAssertEqual((page["items"] as? [Any])?.count ?? 0 > 0, inserted > 0, "what it committed is kept")
    }

    func testARunLeftRunningByAKilledServerIsMarkedFailedAtTheNextStart() throws {
        writeBigCatalog(lines: 400_000)
        try wharf("plugins", "install", BuildProducts.plugin("wharf-catalog-file").path, expect: 0)
        try wharf("plugins", "install", BuildProducts.plugin("wharf-stock-csv").path, expect: 0)
        let key = try wharf("keys", "create", "--name", "ops", "--scopes", "runs:write,runs:read", expect: 0)
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let auth = [("Authorization", "Bearer \(key)")]
        let first = try ServerProcess(manifest: manifest)
        let client = try TestHTTPClient(port: first.port, timeout: 30)
        let started = try client.send("POST", "/v1/connectors/catalog/runs", headers: auth)
        XCTAssertEqual(started.status, 202, started.bodyText)
        let location = try XCTUnwrap(started.header("Location"))
        XCTAssertEqual(try client.send("GET", location, headers: auth).jsonObject()["state"] as? String, "running")
        client.close()
        first.stop()  // SIGKILL in the middle of the run

        let second = try ServerProcess(manifest: manifest)
        defer { second.stop() }
        let again = try TestHTTPClient(port: second.port)
        defer { again.close() }
        let run = try again.send("GET", location, headers: auth).jsonObject()
        XCTAssertEqual(run["state"] as? String, "failed", "\(run)")
        XCTAssertTrue((run["error"] as? String ?? "").contains("stopped before the run ended"), "\(run)")
    }
}

/// `wharf serve` as a child process; its port is read from the line it prints when it listens.
final class ServerProcess {
    let process = Process()
    let port: Int
    private let output = Pipe()

    init(manifest: String) throws {
        process.executableURL = BuildProducts.wharf
        process.arguments = ["--manifest", manifest, "serve"]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        while !text.contains("\n") && Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
            let port = Int(text[range].split(separator: ":").last ?? "")
        else {
            process.terminate()
            throw TestHTTPClientError("wharf serve did not say where it listens: \(text)")
        }
        self.port = port
    }

    /// SIGTERM, then the exit status (or -1 if it did not exit within 10 s).
    func stopGracefully() -> Int32 {
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? -1 : process.terminationStatus
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

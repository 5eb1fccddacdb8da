import Foundation
import WharfTestSupport
import XCTest

/// The real `wharf serve` with plugins that crash, hang, and get upgraded while it serves: the REST API answers
/// throughout, each bad run fails with its reason, and the next run gets a fresh worker.
final class CrashIsolationTests: XCTestCase {
    var folder: TemporaryDirectory!
    var manifest: String!

    override func setUpWithError() throws {
        folder = TemporaryDirectory(prefix: "wharf-isolation")
        let data = BuildProducts.packageRoot.appendingPathComponent("manifests/demo-data/stock.csv")
        try FileManager.default.copyItem(at: data, to: folder.url.appendingPathComponent("stock.csv"))
        manifest = folder.write("deploy.json5", """
            {
              database: "state/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins",
              connectors: [
                { name: "crash", plugin: "fixture-crashes" },
                { name: "hang", plugin: "fixture-hangs", deadlineSeconds: 2 },
                { name: "slow", plugin: "fixture-hangs", config: { startedFile: "started", releaseFile: "release", sku: "SLOW-1" } },
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

    /// Installs the plugins, creates a key and starts `wharf serve`.
    func serve() throws -> (server: ServerProcess, key: String) {
        for product in ["wharf-fixture-crashes", "wharf-fixture-hangs", "wharf-stock-csv"] {
            try wharf("plugins", "install", BuildProducts.plugin(product).path, expect: 0)
        }
        let key = try wharf("keys", "create", "--name", "ops", "--scopes", "runs:write,runs:read,catalog:read,inventory:read", expect: 0)
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return (try ServerProcess(manifest: manifest), key)
    }

    /// Starts `connector` over HTTP and waits (at most 30 s) for its run to end; returns the run.
    func run(_ connector: String, _ client: TestHTTPClient, _ auth: [(String, String)], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let started = try client.send("POST", "/v1/connectors/\(connector)/runs", headers: auth)
        XCTAssertEqual(started.status, 202, started.bodyText, file: file, line: line)
        return try waitForEnd(try XCTUnwrap(started.header("Location")), client, auth)
    }

    func waitForEnd(_ location: String, _ client: TestHTTPClient, _ auth: [(String, String)]) throws -> [String: Any] {
        var run: [String: Any] = [:]
        let deadline = Date().addingTimeInterval(30)
        repeat {
            run = try client.send("GET", location, headers: auth).jsonObject()
            if run["state"] as? String != "running" { break }
            usleep(20_000)
        } while Date() < deadline
        return run
    }

    func testTheRealServerKeepsAnsweringWhilePluginsCrashOrHangAndTheNextRunWorks() throws {
        let (server, key) = try serve()
        defer { server.stop() }
        let auth = [("Authorization", "Bearer \(key)")]
        let prober = Prober(port: server.port, auth: auth, path: "/v1/products/CRASH-1")
        let client = try TestHTTPClient(port: server.port, timeout: 30)
        defer { client.close() }

        let crashed = try run("crash", client, auth)
        XCTAssertEqual(crashed["state"] as? String, "failed", "\(crashed)")
        XCTAssertTrue((crashed["error"] as? String ?? "").contains("the plugin crashed with SIGSEGV (signal 11)"), "\(crashed)")
        XCTAssertEqual((crashed["counts"] as? [String: Any])?["inserted"] as? Int, 2, "\(crashed)")
        let product = try client.send("GET", "/v1/products/CRASH-1", headers: auth)
        XCTAssertEqual(product.status, 200, "the batch emitted before the crash stays committed: \(product.bodyText)")

        let hung = try run("hang", client, auth)
        XCTAssertEqual(hung["state"] as? String, "failed", "\(hung)")
        XCTAssertTrue((hung["error"] as? String ?? "").contains("made no progress for 2 s; killed"), "\(hung)")

        let good = try run("stock", client, auth)
        XCTAssertEqual(good["state"] as? String, "succeeded", "the next run gets a fresh worker: \(good)")
        XCTAssertEqual(try client.send("GET", "/v1/inventory/MUG-001", headers: auth).jsonObject()["totalQuantity"] as? Int, 30)

        let probes = prober.stop()
        XCTAssertEqual(probes.failures, [], "the REST API answered every request during and after the crashes")
        XCTAssertGreaterThan(probes.answered, 20, "it was asked throughout")
        XCTAssertTrue(server.process.isRunning)
        XCTAssertEqual(server.stopGracefully(), 0)
    }

    func testAPluginUpgradedWhileServingIsUsedByTheNextRunAndTheRunInFlightFinishesOnTheOldOne() throws {
        // The "new release": the same fixture with its version string bumped, in a copy (same length, so the library
        // stays intact).
        var library = [UInt8](try Data(contentsOf: BuildProducts.plugin("wharf-fixture-hangs")))
        let old = Array("1.0.0-r1".utf8), new = Array("1.0.0-r2".utf8)
        var patched = 0
        var index = 0
        while index + old.count <= library.count {
            if library[index] == old[0] && Array(library[index..<(index + old.count)]) == old {
                library.replaceSubrange(index..<(index + old.count), with: new)
                patched += 1
            }
            index += 1
        }
        XCTAssertGreaterThan(patched, 0, "the fixture carries its version string")
        let upgrade = folder.file("release-2/libwharf-fixture-hangs.so")
        try FileManager.default.createDirectory(atPath: folder.file("release-2"), withIntermediateDirectories: true)
        try Data(library).write(to: URL(fileURLWithPath: upgrade))

        let (server, key) = try serve()
        defer { server.stop() }
        let auth = [("Authorization", "Bearer \(key)")]
        let prober = Prober(port: server.port, auth: auth, path: "/v1/products/SLOW-1")
        let client = try TestHTTPClient(port: server.port, timeout: 30)
        defer { client.close() }

        let started = try client.send("POST", "/v1/connectors/slow/runs", headers: auth)
        XCTAssertEqual(started.status, 202, started.bodyText)
        let first = try XCTUnwrap(started.header("Location"))
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: folder.file("started")) && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(try String(contentsOfFile: folder.file("started"), encoding: .utf8), "1.0.0-r1\n", "the run in flight loaded the old library")

        let installed = try wharf("plugins", "install", upgrade, "--replace", expect: 0)
        XCTAssertTrue(installed.stdout.contains("installed fixture-hangs 1.0.0-r2"), installed.stdout)
        XCTAssertEqual(try client.send("GET", first, headers: auth).jsonObject()["state"] as? String, "running", "the upgrade does not touch it")

        folder.write("release", "go")
        let finished = try waitForEnd(first, client, auth)
        XCTAssertEqual(finished["state"] as? String, "succeeded", "\(finished)")
        XCTAssertEqual(try client.send("GET", "/v1/products/SLOW-1", headers: auth).jsonObject()["name"] as? String, "fixture-hangs 1.0.0-r1",
            "the run in flight finished on the old library")

        let next = try run("slow", client, auth)
        XCTAssertEqual(next["state"] as? String, "succeeded", "\(next)")
        XCTAssertEqual(try client.send("GET", "/v1/products/SLOW-1", headers: auth).jsonObject()["name"] as? String, "fixture-hangs 1.0.0-r2",
            "the next run loaded the new library")
        let logs = try client.send("GET", "/v1/runs/\(next["id"] as? Int ?? 0)/logs", headers: auth).bodyText
        XCTAssertTrue(logs.contains("loaded plugin fixture-hangs 1.0.0-r2"), "the run's log says which version ran: \(logs)")

        let probes = prober.stop()
        XCTAssertEqual(probes.failures, [], "the REST API never stopped answering")
        XCTAssertGreaterThan(probes.answered, 4)
    }

    func testAWorkerStopsAsSoonAsItsServerIsKilled() throws {
        let (server, key) = try serve()
        let auth = [("Authorization", "Bearer \(key)")]
        let client = try TestHTTPClient(port: server.port, timeout: 30)
        defer { client.close() }
        XCTAssertEqual(try client.send("POST", "/v1/connectors/slow/runs", headers: auth).status, 202)
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: folder.file("started")) && Date() < deadline { usleep(10_000) }
        let workers = Self.children(of: server.process.processIdentifier)
        XCTAssertEqual(workers.count, 1, "one worker runs the plugin")
        defer { for pid in workers where !Self.isGone(pid) { kill(pid, SIGKILL) } }  // only if the test failed
        server.stop()  // SIGKILL: nobody left to supervise the run

        let gone = Date().addingTimeInterval(5)
        while !workers.allSatisfy(Self.isGone) && Date() < gone { usleep(10_000) }
        XCTAssertTrue(workers.allSatisfy(Self.isGone), "the worker noticed its server is gone and stopped (the plugin itself would wait forever)")
    }

    /// The processes whose parent is `pid`, from /proc.
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }
    }

    /// True when `pid` no longer runs (gone, or a zombie nobody has reaped yet).
    static func isGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return true
        }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
    }
}

/// Asks the server for a product (200 or 404 are answers) and for /health over and over on its own connection until
/// stopped, collecting every failure.
final class Prober: @unchecked Sendable {
    private let lock = NSLock()
    private var running = true
    private var answered = 0
    private var failures: [String] = []
    private let done = DispatchSemaphore(value: 0)

    init(port: Int, auth: [(String, String)], path: String) {
        Thread { [self] in
            defer { done.signal() }
            let client: TestHTTPClient
            do {
                client = try TestHTTPClient(port: port, timeout: 5)
            } catch {
                lock.withLock { failures.append("connect: \(error)") }
                return
            }
            defer { client.close() }
            while lock.withLock({ running }) {
                for (target, headers, expected) in [("/health", [], [200]), (path, auth, [200, 404])] {
                    do {
                        let response = try client.send("GET", target, headers: headers)
                        lock.withLock {
                            if expected.contains(response.status) { answered += 1 } else { failures.append("\(target): \(response.status)") }
                        }
                    } catch {
                        lock.withLock { failures.append("\(target): \(error)") }
                        return
                    }
                }
                usleep(20_000)
            }
        }.start()
    }

    /// Stops probing and returns how many answers came and what failed.
    func stop() -> (answered: Int, failures: [String]) {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { (answered, failures) }
    }
}

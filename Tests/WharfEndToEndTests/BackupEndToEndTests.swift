import Foundation
import Synchronization
import WharfTestSupport
import XCTest

/// `wharf backup` of a serving deployment under write load, and `wharf restore` of that backup, through the real
/// binary.
final class BackupEndToEndTests: XCTestCase {
    var folder: TemporaryDirectory!
    var manifest: String!

    override func setUp() {
        folder = TemporaryDirectory(prefix: "wharf-backup")
        manifest = folder.write("deploy.json5", """
            { database: "state/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins", connectors: [] }
            """)
    }

    override func tearDown() {
        folder = nil
    }

    @discardableResult
    func wharf(_ arguments: String..., expect code: Int32, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let result = try ProcessRunner.run(BuildProducts.wharf, ["--manifest", manifest] + arguments, timeout: 60)
        XCTAssertEqual(result.exitCode, code, "wharf \(arguments.joined(separator: " "))\n\(result.stdout)\n\(result.stderr)", file: file, line: line)
        return result
    }

    /// Batch `k`: 100 new products, and the product LAST renamed "batch k" — one request, one transaction.
    static func batch(_ k: Int) -> String {
        let items = (0..<100).map { "{\"sku\":\"K\(String(k + 1_000_000).dropFirst())-\($0)\",\"name\":\"Product \(k)/\($0)\"}" }
        return "{\"items\":[" + items.joined(separator: ",") + ",{\"sku\":\"LAST\",\"name\":\"batch \(k)\"}]}"
    }

    func testABackupTakenUnderWriteLoadRestoresToAWholeNumberOfBatches() throws {
        let key = try wharf("keys", "create", "--name", "writer", "--scopes", "catalog:write,catalog:read", expect: 0)
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let auth = [("Authorization", "Bearer \(key)"), ("Content-Type", "application/json")]
        var server = try LoggedServer(manifest: manifest, environment: [:], folder: folder)
        defer { server.kill() }
        let setup = try TestHTTPClient(port: server.port, timeout: 30)
        for k in 0..<40 { XCTAssertEqual(try setup.send("POST", "/v1/products:batch", headers: auth, text: Self.batch(k)).status, 200) }
        setup.close()

        // A writer posts batch after batch while the backup runs.
        let committed = Counter(40)
        let port = server.port
        let writer = Thread {
            guard let client = try? TestHTTPClient(port: port, timeout: 30) else { return committed.fail("cannot connect") }
            defer { client.close() }
            while !committed.stopped {
                let k = committed.value
                guard let response = try? client.send("POST", "/v1/products:batch", headers: auth, text: Self.batch(k)),
                    response.status == 200
                else { return committed.fail("batch \(k) was refused") }
                committed.increment()
            }
        }
        writer.start()
        try committed.wait(until: 45)
        let before = committed.value
        let backup = try wharf("backup", folder.file("backups/wharf-1.sqlite"), expect: 1)
        XCTAssertTrue(backup.stderr.contains("backups/wharf-1.sqlite"), "a missing folder is named: \(backup.stderr)")
        try FileManager.default.createDirectory(atPath: folder.file("backups"), withIntermediateDirectories: true)
        let made = try wharf("backup", folder.file("backups/wharf-1.sqlite"), expect: 0)
        let after = committed.value
        XCTAssertTrue(made.stdout.contains("integrity checked"), made.stdout)
        let refused = try wharf("restore", folder.file("backups/wharf-1.sqlite"), expect: 1)
        XCTAssertTrue(refused.stderr.contains("another process has it open"), refused.stderr)
        try committed.wait(until: after + 3)  // the server kept taking writes after the refusal
        committed.stop()
        while !writer.isFinished { usleep(5_000) }
        XCTAssertNil(committed.failure, "the writer was never refused")
        XCTAssertEqual(server.stop(), 0)
        let again = try wharf("backup", folder.file("backups/wharf-1.sqlite"), expect: 1)
        XCTAssertTrue(again.stderr.contains("already exists") && again.stderr.contains("--replace"), again.stderr)

        let restored = try wharf("restore", folder.file("backups/wharf-1.sqlite"), expect: 0)
        XCTAssertTrue(restored.stdout.contains("before-restore"), "says where the old content is kept: \(restored.stdout)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: folder.file("state")).filter { $0.contains(".before-restore-") }
        XCTAssertEqual(kept.count, 1, "\(kept)")

        server = try LoggedServer(manifest: manifest, environment: [:], folder: folder)
        let client = try TestHTTPClient(port: server.port, timeout: 30)
        defer { client.close() }
        var products = 0
        var cursor: String?
        repeat {
            let page = try client.send("GET", "/v1/products?skuPrefix=K&limit=1000" + (cursor.map { "&cursor=\($0)" } ?? ""), headers: auth).jsonObject()
            products += (page["items"] as? [Any])?.count ?? 0
            cursor = page["nextCursor"] as? String
        } while cursor != nil
        XCTAssertEqual(products % 100, 0, "whole batches only: \(products) products")
        let batches = products / 100
        XCTAssertGreaterThanOrEqual(batches, before, "every batch committed before the backup started is in it")
        XCTAssertLessThanOrEqual(batches, after, "no batch committed after it ended is in it")
        let last = try client.send("GET", "/v1/products/LAST", headers: auth).jsonObject()
        XCTAssertEqual(last["name"] as? String, "batch \(batches - 1)", "LAST is as the last whole batch left it")
        XCTAssertEqual(server.stop(), 0)
    }
}

/// The writer thread's progress, shared with the test.
final class Counter: Sendable {
    private let state: Mutex<(value: Int, stopped: Bool, failure: String?)>

    init(_ value: Int) { state = Mutex((value, false, nil)) }

    var value: Int { state.withLock { $0.value } }
    var stopped: Bool { state.withLock { $0.stopped } }
    var failure: String? { state.withLock { $0.failure } }

    func increment() { state.withLock { $0.value += 1 } }
    func stop() { state.withLock { $0.stopped = true } }
    func fail(_ reason: String) { state.withLock { $0.failure = reason } }

    /// Waits (at most 30 s) until `value` reaches `target`; throws when the writer failed or is too slow.
    func wait(until target: Int) throws {
        let deadline = Date().addingTimeInterval(30)
        while value < target {
            if let failure { throw TestHTTPClientError("the writer failed: \(failure)") }
            guard Date() < deadline else { throw TestHTTPClientError("the writer did not reach batch \(target)") }
            usleep(5_000)
        }
    }
}

import Foundation
import WharfPlugins
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Real-time calls through warm `wharf worker` processes, with the fixture plugin whose calls echo, crash or hang.
final class CallPoolTests: XCTestCase {
    /// Kept for the whole test: its folder (with the installed plugins) goes when it does.
    var env: TestDeployment!

    func makeEnv(_ options: String = "memoryLimitMB: 128") throws -> (TestDeployment, CallPool) {
        env = try TestDeployment(connectors: """
            [ { name: "live", plugin: "fixture-hangs", \(options) },
              { name: "stock", plugin: "stock-csv", config: { path: "stock.csv" } } ]
            """)
        try env.deployment.plugins.install(from: BuildProducts.plugin("wharf-fixture-hangs").path, replace: false, host: HostServices.table)
        return (env, CallPool(deployment: env.deployment, warmWorkers: 1, maxWorkers: 2))
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func pid(_ pool: CallPool) throws -> pid_t {
        try XCTUnwrap(pid_t(text(try pool.call(connector: "live", operation: "pid", request: []))))
    }

    func isGone(_ pid: pid_t) -> Bool { kill(pid, 0) == -1 && errno == ESRCH }

    func testCallsAreAnsweredByAWarmWorkerInItsOwnProcess() throws {
        let (_, pool) = try makeEnv()
        defer { pool.shutdown() }
        try pool.warm(connector: "live")
        XCTAssertEqual(pool.idleCount("live"), 1, "warmed before the first call")
        XCTAssertEqual(text(try pool.call(connector: "live", operation: "echo", request: Array(#"{"sku":"A-1"}"#.utf8))), #"{"sku":"A-1"}"#)
        let first = try pid(pool)
        XCTAssertNotEqual(first, getpid())
        XCTAssertEqual(try pid(pool), first, "the warm worker answers the next call too")
        XCTAssertEqual(text(try pool.call(connector: "live", operation: "version", request: [])), "1.0.0-r1")
        pool.shutdown()
        let deadline = Date().addingTimeInterval(5)
        while !isGone(first) && Date() < deadline { usleep(10_000) }
        XCTAssertTrue(isGone(first), "shutdown stops the warm workers")
        XCTAssertThrowsError(try pool.call(connector: "live", operation: "echo", request: [])) { error in
            XCTAssertEqual((error as? CallError)?.kind, .busy)
        }
    }

    func testACallPastItsDeadlineKillsItsWorkerAndTheNextCallGetsAFreshOne() throws {
        let (_, pool) = try makeEnv()
        defer { pool.shutdown() }
        let first = try pid(pool)
        let started = Date()
        XCTAssertThrowsError(try pool.call(connector: "live", operation: "hang", request: [], deadline: .milliseconds(300))) { error in
            let error = error as? CallError
            XCTAssertEqual(error?.kind, .timeout)
            XCTAssertTrue(error?.message.contains("did not answer 'hang' within 0.3 s; its worker was killed") == true, error?.message ?? "")
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(elapsed, 0.3)
        XCTAssertLessThan(elapsed, 3)
        XCTAssertTrue(isGone(first), "the hung worker was killed and reaped")
        let second = try pid(pool)
        XCTAssertNotEqual(second, first, "a fresh worker answers the next call")
    }

    func testACrashingCallFailsWithTheSignalAndThePoolRecovers() throws {
        let (_, pool) = try makeEnv()
        defer { pool.shutdown() }
        XCTAssertThrowsError(try pool.call(connector: "live", operation: "crash", request: [])) { error in
            let error = error as? CallError
            XCTAssertEqual(error?.kind, .crashed)
            XCTAssertTrue(error?.message.contains("the plugin crashed with SIGSEGV (signal 11)") == true, error?.message ?? "")
        }
        XCTAssertEqual(text(try pool.call(connector: "live", operation: "echo", request: Array("ok".utf8))), "ok")
    }

    func testThePluginsOwnFailuresAndRefusalsAreReported() throws {
        let (_, pool) = try makeEnv()
        defer { pool.shutdown() }
        let worker = try pid(pool)
        XCTAssertThrowsError(try pool.call(connector: "live", operation: "dance", request: [])) { error in
            let error = error as? CallError
            XCTAssertEqual(error?.kind, .failed)
            XCTAssertTrue(error?.message.contains("dance: unsupported: unknown operation") == true, error?.message ?? "")
        }
        XCTAssertEqual(try pid(pool), worker, "a call the plugin failed keeps its worker")
        XCTAssertThrowsError(try pool.call(connector: "stock", operation: "echo", request: [])) { error in
            let error = error as? CallError
            XCTAssertEqual(error?.kind, .unavailable)
            XCTAssertTrue(error?.message.contains("plugin 'stock-csv' answers no calls") == true, error?.message ?? "")
        }
        XCTAssertThrowsError(try pool.call(connector: "nobody", operation: "echo", request: [])) { error in
            XCTAssertEqual((error as? CallError)?.kind, .unknownConnector)
        }
    }

    func testAnUpgradedPluginAnswersTheNextCall() throws {
        let (env, pool) = try makeEnv()
        defer { pool.shutdown() }
        XCTAssertEqual(text(try pool.call(connector: "live", operation: "version", request: [])), "1.0.0-r1")
        let old = try pid(pool)
        var library = [UInt8](try Data(contentsOf: BuildProducts.plugin("wharf-fixture-hangs")))
        let from = Array("1.0.0-r1".utf8), to = Array("1.0.0-r2".utf8)
        var index = 0
        while index + from.count <= library.count {
            if Array(library[index..<(index + from.count)]) == from { library.replaceSubrange(index..<(index + from.count), with: to) }
            index += 1
        }
        let upgrade = env.folder.write("upgrade/libwharf-fixture-hangs.so", "")
        try Data(library).write(to: URL(fileURLWithPath: upgrade))
        let info = try env.deployment.plugins.install(from: upgrade, replace: true, host: HostServices.table)
        XCTAssertEqual(info.version, "1.0.0-r2")
        XCTAssertEqual(text(try pool.call(connector: "live", operation: "version", request: [])), "1.0.0-r2", "the warm worker of the old library was retired")
        XCTAssertNotEqual(try pid(pool), old)
    }

    func testCallsBeyondMaxWorkersWaitForOneAndGiveUpAtTheirDeadline() throws {
        let (env, _) = try makeEnv()
        let pool = CallPool(deployment: env.deployment, warmWorkers: 1, maxWorkers: 1)
        defer { pool.shutdown() }
        let hung = expectation(description: "the hanging call times out")
        Thread {
            _ = try? pool.call(connector: "live", operation: "hang", request: [], deadline: .seconds(1))
            hung.fulfill()
        }.start()
        let deadline = Date().addingTimeInterval(10)
        while pool.inUseCount("live") == 0 && Date() < deadline { usleep(5_000) }  // the hanging call took the only worker
        XCTAssertThrowsError(try pool.call(connector: "live", operation: "echo", request: [], deadline: .milliseconds(200))) { error in
            let error = error as? CallError
            XCTAssertEqual(error?.kind, .busy)
            XCTAssertTrue(error?.message.contains("all 1 workers of connector 'live' stayed busy") == true, error?.message ?? "")
        }
        let waited = try pool.call(connector: "live", operation: "echo", request: Array("after".utf8), deadline: .seconds(10))
        XCTAssertEqual(text(waited), "after", "a waiting call gets the worker that replaces the killed one")
        wait(for: [hung], timeout: 10)
    }

    func testInProcessCallsRunOnTheCallersThread() throws {
        let (_, pool) = try makeEnv(#"isolation: "inprocess""#)
        defer { pool.shutdown() }
        XCTAssertEqual(try pid(pool), getpid())
        XCTAssertEqual(text(try pool.call(connector: "live", operation: "echo", request: Array("here".utf8))), "here")
        XCTAssertEqual(pool.idleCount("live"), 0, "no workers")
    }
}

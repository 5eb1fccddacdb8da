import Foundation
import WharfModel
import WharfPlugins
import WharfSchedule
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Runs with `isolation: process`: real `wharf worker` processes (the built binary) running the misbehaving fixture
/// plugins (they segfault, abort, hang and eat memory) against the real store. Deadlines and grace periods are short
/// so every test ends in seconds.
final class WorkerIsolationTests: XCTestCase {
    static let stock = "Item;Warehouse;Qty\nA-1;BER;10\nB-2;BER;4\n"

    /// A deployment with the fixtures installed beside the real plugins, and these connectors.
    func makeEnv(_ connectors: String) throws -> TestDeployment {
        let env = try TestDeployment(connectors: connectors, files: ["stock.csv": Self.stock])
        for fixture in ["crashes", "aborts", "hangs", "hogs-memory"] {
            try env.deployment.plugins.install(
                from: BuildProducts.plugin("wharf-fixture-\(fixture)").path, replace: false, host: HostServices.table)
        }
        return env
    }

    static let good = """
        { name: "stock", plugin: "stock-csv", config: { path: "stock.csv", delimiter: ";", force: true },
          mapping: { sku: "Item", source: "Warehouse", quantity: "Qty" } }
        """

    func runLog(_ env: TestDeployment, _ run: Run) throws -> [String] {
        try env.deployment.store.runLogs(runID: run.id, limit: 100, afterID: nil).map(\.message)
    }

    /// The worker's pid, from the line it adds to the run's log.
    func workerPID(_ env: TestDeployment, _ run: Run) throws -> pid_t? {
        for line in try runLog(env, run) where line.hasPrefix("worker process ") {
            return pid_t(line.dropFirst("worker process ".count).prefix { $0.isNumber })
        }
        return nil
    }

    /// Waits (at most 20 s) until `path` exists.
    func waitForFile(_ path: String, file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: path) && Date() < deadline { usleep(10_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "\(path) never appeared", file: file, line: line)
    }

    func testACrashingPluginFailsOnlyItsRunAndTheBatchItCommittedStays() throws {
        let env = try makeEnv("[ { name: \"crash\", plugin: \"fixture-crashes\" }, \(Self.good) ]")
        let progress = RunProgress()
        let run = try ConnectorRunner(deployment: env.deployment).ingest(connector: "crash", trigger: .manual, progress: progress)
        XCTAssertEqual(run.state, .failed)
        XCTAssertTrue(run.error?.contains("the plugin crashed with SIGSEGV (signal 11)") == true, run.error ?? "")
        XCTAssertTrue(run.error?.contains("batches committed before that are kept") == true, run.error ?? "")
        XCTAssertEqual(run.counts.inserted, 2, "the counts of the batch before the crash are recorded")
        XCTAssertEqual(progress.counts.inserted, 2, "progress crossed the process boundary")
        let store = env.deployment.store
        XCTAssertEqual(try store.product(sku: "CRASH-1")?.name, "Crash one", "the batch before the crash stays committed")
        XCTAssertNotNil(try store.product(sku: "CRASH-2"))
        XCTAssertEqual(try store.cursor(connector: "crash"), "after-first-batch", "the cursor moved with that batch")
        let log = try runLog(env, run)
        XCTAssertTrue(log.contains("emitted one batch; crashing now"), "the plugin's lines before the crash are kept: \(log)")
        let pid = try XCTUnwrap(try workerPID(env, run))
        XCTAssertNotEqual(pid, getpid(), "the plugin ran in another process")
        XCTAssertTrue(kill(pid, 0) == -1 && errno == ESRCH, "the dead worker was reaped")

        let next = try env.run("stock")
        XCTAssertEqual(next.state, .succeeded, next.error ?? "")
        XCTAssertEqual(try store.inventory(sku: "A-1")?.totalQuantity, 10, "the next run gets a fresh worker and works")
        XCTAssertNotEqual(try workerPID(env, next), pid)
    }

    func testAnAbortingPluginFailsItsRunWithSIGABRTAndItsLastOutput() throws {
        let env = try makeEnv(#"[ { name: "abort", plugin: "fixture-aborts" } ]"#)
        let run = try env.run("abort")
        XCTAssertEqual(run.state, .failed)
        let error = run.error ?? ""
        XCTAssertTrue(error.contains("the plugin aborted (SIGABRT, signal 6)"), error)
        XCTAssertTrue(error.contains("its last output: fixture-aborts: invariant broken"), "what it wrote to stderr says why: \(error)")
        XCTAssertTrue(env.logLines.all.contains { $0.contains("worker output") && $0.contains("invariant broken") && $0.contains("run=\(run.id)") })
    }

    func testAHungPluginIsKilledWhenItMakesNoProgressForItsDeadline() throws {
        let env = try makeEnv(#"[ { name: "hang", plugin: "fixture-hangs", deadlineSeconds: 1 } ]"#)
        let started = Date()
        let run = try env.run("hang")
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(run.state, .failed)
        XCTAssertTrue(run.error?.contains("the plugin made no progress for 1 s; killed") == true, run.error ?? "")
        XCTAssertGreaterThanOrEqual(elapsed, 1, "not before its deadline")
        XCTAssertLessThan(elapsed, 10, "soon after it")
        let pid = try XCTUnwrap(try workerPID(env, run))
        XCTAssertTrue(kill(pid, 0) == -1 && errno == ESRCH, "the hung worker is gone")
    }

    func testAPluginThatHogsMemoryFailsWithItsMemoryLimit() throws {
        let env = try makeEnv(#"[ { name: "hog", plugin: "fixture-hogs-memory", memoryLimitMB: 64, config: { maxMB: 4096 } } ]"#)
        let run = try env.run("hog")
        XCTAssertEqual(run.state, .failed)
        let error = run.error ?? ""
        XCTAssertTrue(error.contains("exceeded its memory limit of 64 MB (an allocation failed)"), "the worker's dying report says why: \(error)")
        XCTAssertTrue(error.contains("SIGSEGV"), "and how it died: \(error)")
        XCTAssertTrue(error.contains("raise memoryLimitMB of connector 'hog'"), "says what to do: \(error)")
        XCTAssertFalse(error.contains("was not stopped"), "the limit stopped it, not its own safety stop: \(error)")
    }

    func testAnOrdinaryCrashIsNotBlamedOnMemory() throws {
        let env = try makeEnv(#"[ { name: "crash", plugin: "fixture-crashes", memoryLimitMB: 16 } ]"#)
        let run = try env.run("crash")
        XCTAssertEqual(run.state, .failed)
        XCTAssertFalse(run.error?.contains("memory") == true, "a crash far below the limit is a crash: \(run.error ?? "")")
    }

    func testCancellingAHungWorkerKillsItAfterTheGracePeriod() throws {
        let env = try makeEnv(#"[ { name: "hang", plugin: "fixture-hangs", deadlineSeconds: 60, config: { startedFile: "started" } } ]"#)
        let coordinator = try RunCoordinator(
            deployment: env.deployment, clock: ManualClock(Date()), workers: WorkerSettings(cancelGrace: .milliseconds(500)))
        let run = try coordinator.trigger(connector: "hang", trigger: .api)
        waitForFile(env.folder.file("started"))
        let cancelled = Date()
        try coordinator.cancel(runID: run.id)
        coordinator.waitUntilIdle()
        let elapsed = Date().timeIntervalSince(cancelled)
        let finished = try XCTUnwrap(try env.deployment.store.run(id: run.id))
        XCTAssertEqual(finished.state, .cancelled, finished.error ?? "")
        XCTAssertTrue(finished.error?.contains("did not stop within 0.5 s of the cancel, so its worker was killed") == true, finished.error ?? "")
        XCTAssertGreaterThanOrEqual(elapsed, 0.5, "the plugin gets its grace period")
        XCTAssertLessThan(elapsed, 5, "and no more")
        let pid = try XCTUnwrap(try workerPID(env, finished))
        XCTAssertTrue(kill(pid, 0) == -1 && errno == ESRCH, "the worker was killed and reaped")
        XCTAssertTrue(coordinator.running.isEmpty)
    }

    func testACrashUnderOnErrorFailKeepsNothingOfTheRun() throws {
        let env = try makeEnv(#"[ { name: "crash", plugin: "fixture-crashes", onError: "fail" } ]"#)
        let run = try env.run("crash")
        XCTAssertEqual(run.state, .failed)
        XCTAssertTrue(run.error?.contains("SIGSEGV") == true && run.error?.contains("nothing of the run was kept") == true, run.error ?? "")
        XCTAssertEqual(run.counts.inserted, 0, "the run's one transaction died with the worker")
        XCTAssertNil(try env.deployment.store.product(sku: "CRASH-1"))
        XCTAssertNil(try env.deployment.store.cursor(connector: "crash"))
    }

    func testProgressLogsAndRejectsCrossTheProcessBoundary() throws {
        let env = try makeEnv("[ \(Self.good) ]")
        env.folder.write("stock.csv", Self.stock + "C-3;BER;ten\n")
        let progress = RunProgress()
        let run = try ConnectorRunner(deployment: env.deployment).ingest(connector: "stock", trigger: .manual, progress: progress)
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(run.counts, RunCounts(read: 3, inserted: 2, updated: 0, unchanged: 0, rejected: 1))
        XCTAssertEqual(progress.counts, run.counts)
        XCTAssertEqual(try env.deployment.store.rejects(runID: run.id, limit: 10, afterID: nil).map(\.location.line), [4])
        let log = try runLog(env, run)
        XCTAssertTrue(log.contains { $0.contains("loaded plugin stock-csv 1.0.0") }, "\(log)")
        XCTAssertTrue(log.contains { $0.contains("read 3 rows") }, "the plugin's own line: \(log)")
        XCTAssertTrue(env.logLines.all.contains { $0.contains("read 3 rows") && $0.contains("run=\(run.id)") && $0.contains("connector=stock") },
            "the server logs the worker's lines in its own format with the run's fields")
        XCTAssertNotEqual(try workerPID(env, run), getpid())
    }

    func testInProcessIsolationRunsThePluginInThisProcess() throws {
        let env = try makeEnv("[ \(Self.good.replacingOccurrences(of: "plugin: \"stock-csv\",", with: "plugin: \"stock-csv\", isolation: \"inprocess\",")) ]")
        XCTAssertEqual(env.deployment.manifest.connectors[0].isolation, .inprocess)
        let progress = RunProgress()
        let run = try ConnectorRunner(deployment: env.deployment).ingest(connector: "stock", trigger: .manual, progress: progress)
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(progress.counts, run.counts)
        let log = try runLog(env, run)
        XCTAssertFalse(log.contains { $0.hasPrefix("worker process ") }, "no worker: \(log)")
        XCTAssertTrue(env.logLines.all.contains { $0.contains("run started") && $0.contains("isolation=inprocess") })
    }

    func testAWorkerThatCannotStartFailsTheRunAndSaysWhatToDo() throws {
        let env = try makeEnv("[ \(Self.good) ]")
        let run = try ConnectorRunner(deployment: env.deployment, workers: WorkerSettings(executable: "/nonexistent/wharf"))
            .ingest(connector: "stock", trigger: .manual)
        XCTAssertEqual(run.state, .failed)
        let error = run.error ?? ""
        XCTAssertTrue(error.contains("cannot start a worker process from /nonexistent/wharf"), error)
        XCTAssertTrue(error.contains("WHARF_WORKER_EXECUTABLE") && error.contains("inprocess"), error)
    }

    func testTheServerAnswersWhileAPluginCrashesAndItsNextRunWorks() throws {
        let env = try makeEnv("[ { name: \"crash\", plugin: \"fixture-crashes\" }, \(Self.good) ]")
        let server = try WharfServer(deployment: env.deployment, port: 0)
        try server.start()
        defer { server.shutdown() }
        let client = try TestHTTPClient(port: server.port)
        defer { client.close() }
        let auth = [("Authorization", "Bearer \(try env.key([.runsWrite, .runsRead, .catalogRead, .inventoryRead]))")]

        let started = try client.send("POST", "/v1/connectors/crash/runs", headers: auth)
        XCTAssertEqual(started.status, 202, started.bodyText)
        XCTAssertEqual(try client.send("GET", "/health").status, 200, "answering while the worker runs")
        server.coordinator.waitUntilIdle()
        let run = try client.send("GET", try XCTUnwrap(started.header("Location")), headers: auth).jsonObject()
        XCTAssertEqual(run["state"] as? String, "failed")
        XCTAssertTrue((run["error"] as? String ?? "").contains("SIGSEGV"), "\(run)")
        XCTAssertEqual(try client.send("GET", "/v1/products/CRASH-1", headers: auth).status, 200, "the committed batch is served")

        XCTAssertEqual(try client.send("POST", "/v1/connectors/stock/runs", headers: auth).status, 202)
        server.coordinator.waitUntilIdle()
        XCTAssertEqual(try client.send("GET", "/v1/inventory/A-1", headers: auth).jsonObject()["totalQuantity"] as? Int, 10)
    }
}

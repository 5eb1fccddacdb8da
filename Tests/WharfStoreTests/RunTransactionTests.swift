import Dispatch
import Synchronization
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

/// `withRunTransaction`: a whole ingest committed or rolled back as one.
final class RunTransactionTests: StoreTestCase {
    private struct PluginFailed: Error, Equatable {}

    func testCommitMakesEverythingVisibleAtOnce() throws {
        _ = try store.apply([product("A", "Old")], cursor: ("erp", "c1"))
        let run = try store.beginRun(connector: "erp", pluginID: "p", trigger: .manual)
        let store = self.store!
        let counts = try store.withRunTransaction { writer -> Store.UpsertCounts in
            var total = try writer.apply([product("A", "New"), product("B")], cursor: ("erp", "c2"))
            let second = try writer.apply(
                [price("B", 100)], cursor: ("erp", "c3"), rejects: [NewReject(runID: run.id, connector: "erp", reason: "bad")])
            total.inserted += second.inserted
            try writer.addRejects([NewReject(runID: run.id, connector: "erp", reason: "late")])
            // The run sees its own writes; readers (also on this thread) see only committed data.
            XCTAssertEqual(try writer.cursor(connector: "erp"), "c3")
            XCTAssertEqual(try store.cursor(connector: "erp"), "c1")
            XCTAssertEqual(try store.product(sku: "A")?.name, "Old")
            XCTAssertNil(try store.product(sku: "B"))
            XCTAssertEqual(try store.basePrices(sku: "B"), [])
            XCTAssertEqual(try store.rejects(runID: run.id, limit: 10, afterID: nil), [])
            // And so do readers on other threads.
            let seen = Mutex<String?>(nil)
            let done = DispatchSemaphore(value: 0)
            Thread {
                seen.withLock { $0 = (try? store.product(sku: "A"))??.name }
                done.signal()
            }.start()
            done.wait()
            XCTAssertEqual(seen.withLock { $0 }, "Old")
            return total
        }
        XCTAssertEqual(counts, .counts(2, 1, 0))
        XCTAssertEqual(try store.product(sku: "A")?.name, "New")
        XCTAssertEqual(try store.product(sku: "B")?.name, "Name")
        XCTAssertEqual(try store.basePrices(sku: "B").count, 1)
        XCTAssertEqual(try store.cursor(connector: "erp"), "c3")
        XCTAssertEqual(try store.rejects(runID: run.id, limit: 10, afterID: nil).map(\.reason), ["bad", "late"])
    }

    func testThrowRollsBackDataCursorRejectsAndSnapshotZeroing() throws {
        _ = try store.apply([product("A", "Old"), stock("A", "w1", 5), stock("B", "w1", 6)], cursor: ("erp", "c1"))
        let run = try store.beginRun(connector: "erp", pluginID: "p", trigger: .manual)
        XCTAssertThrowsError(
            try store.withRunTransaction { writer in
                try writer.beginSnapshot(runID: run.id)
                _ = try writer.apply(
                    [product("A", "New"), product("C"), stock("A", "w1", 4)], cursor: ("erp", "c2"),
                    rejects: [NewReject(runID: run.id, connector: "erp", reason: "bad")],
                    options: Store.ApplyOptions(runID: run.id))
                XCTAssertEqual(try writer.finishSnapshot(runID: run.id, absent: .zero), 1)  // B
                throw PluginFailed()
            }
        ) { error in
            XCTAssertEqual(error as? PluginFailed, PluginFailed(), "the body's error comes out unchanged")
        }
        XCTAssertEqual(try store.product(sku: "A")?.name, "Old")
        XCTAssertNil(try store.product(sku: "C"))
        XCTAssertEqual(try store.inventory(sku: "A")?.totalQuantity, 5)
        XCTAssertEqual(try store.inventory(sku: "B")?.totalQuantity, 6)
        XCTAssertEqual(try store.cursor(connector: "erp"), "c1")
        XCTAssertEqual(try store.rejects(runID: run.id, limit: 10, afterID: nil), [])
        // The snapshot's begin was rolled back too: nothing is left open for the run.
        XCTAssertEqual(storeError { try store.finishSnapshot(runID: run.id, absent: .zero) }?.code, .misuse)
        // The writer is free again.
        XCTAssertEqual(try store.apply([product("D")], cursor: ("erp", "c9")), .counts(1, 0, 0))
    }

    func testAFailedBatchUndoesOnlyItselfUntilTheRunEnds() throws {
        try sql(
            """
            CREATE TRIGGER boom BEFORE INSERT ON products WHEN NEW.sku = 'BOOM'
            BEGIN SELECT RAISE(ABORT, 'the test trigger refused BOOM'); END
            """)
        try store.withRunTransaction { writer in
            XCTAssertEqual(try writer.apply([product("A")], cursor: ("erp", "c1")), .counts(1, 0, 0))
            let error = storeError { try writer.apply([product("B"), product("BOOM")], cursor: ("erp", "c2")) }
            XCTAssertEqual(
                error?.message,
                "cannot apply a batch of 2 records in database \(store.path): record 2 (product 'BOOM'): the test trigger "
                    + "refused BOOM; nothing of the batch was stored")
            XCTAssertEqual(storeError { try writer.apply([product("a/b")], cursor: nil) }?.code, .invalidRecord)
            XCTAssertEqual(try writer.apply([product("C")], cursor: nil), .counts(1, 0, 0))
        }
        XCTAssertNotNil(try store.product(sku: "A"))
        XCTAssertNil(try store.product(sku: "B"))
        XCTAssertNotNil(try store.product(sku: "C"))
        XCTAssertEqual(try store.cursor(connector: "erp"), "c1")
    }

    func testStoreWritesInsideTheBodyFailInsteadOfWaitingForThemselves() throws {
        var escaped: Store.RunWriter?
        try store.withRunTransaction { writer in
            escaped = writer
            let error = storeError { try store.apply([product("A")], cursor: nil) }
            XCTAssertEqual(error?.code, .misuse)
            XCTAssertEqual(
                error?.message,
                "cannot apply a batch of 1 records in database \(store.path) inside withRunTransaction: the run holds the "
                    + "writer; use the RunWriter it was given")
            XCTAssertEqual(storeError { try store.beginRun(connector: "x", pluginID: "p", trigger: .manual) }?.code, .misuse)
            XCTAssertEqual(storeError { try store.withRunTransaction { _ in 1 } }?.code, .misuse)
            _ = try writer.apply([product("B")], cursor: nil)
        }
        XCTAssertNil(try store.product(sku: "A"))
        XCTAssertNotNil(try store.product(sku: "B"))
        // A writer kept beyond its run refuses work.
        XCTAssertEqual(storeError { try escaped!.apply([product("C")], cursor: nil) }?.code, .misuse)
        XCTAssertNil(try store.product(sku: "C"))
        // Store writes work again after the run.
        XCTAssertEqual(try store.apply([product("A")], cursor: nil), .counts(1, 0, 0))
    }

    /// Another thread's write waits for the run's commit: it lands after the run's writes, whatever the timing.
    func testOtherWritersWaitForTheRun() throws {
        let store = self.store!
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let otherResult = Mutex<String?>(nil)
        let otherRecord = product("A", "other")
        try store.withRunTransaction { writer in
            _ = try writer.apply([product("A", "run 1")], cursor: nil)
            Thread {
                started.signal()
                do {
                    _ = try store.apply([otherRecord], cursor: nil)
                    otherResult.withLock { $0 = "ok" }
                } catch {
                    otherResult.withLock { $0 = "\(error)" }
                }
                finished.signal()
            }.start()
            started.wait()
            // Give the other writer every chance to run now; it must not get in before the commit.
            usleep(50_000)
            XCTAssertNil(otherResult.withLock { $0 })
            _ = try writer.apply([product("A", "run 2")], cursor: nil)
        }
        finished.wait()
        XCTAssertEqual(otherResult.withLock { $0 }, "ok")
        XCTAssertEqual(try store.product(sku: "A")?.name, "other")
    }

    func testClosedStoreRefusesARunTransaction() throws {
        store.close()
        XCTAssertThrowsError(try store.withRunTransaction { _ in 1 }) { error in
            XCTAssertEqual((error as? StoreError)?.code, .closed)
        }
    }
}

import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

/// The in-memory keys of full inventory snapshots: exactness, the spill to `temp.snapshot_seen` beyond the bound,
/// and rolled-back batches and run transactions forgetting their keys.
final class SnapshotMemoryTests: StoreTestCase {
    /// Sets the memory bound of snapshots begun from now on.
    private func limitSnapshotMemory(bytes: Int) {
        store.writer.withLock { $0?.snapshotMemory?.limitBytes = bytes }
    }

    /// Keys in run `runID`'s memory, or nil when it has none.
    private func keysInMemory(_ runID: Int64) -> Int? {
        store.writer.withLock { $0?.snapshotMemory?.runs[runID]?.count }
    }

    // MARK: SeenKeys

    func testKeysAreExactAndSurviveGrowthAndTruncation() {
        let keys = Store.SeenKeys(limitBytes: 1 << 20)
        let w1 = keys.sourceNumber("w1")
        let w2 = keys.sourceNumber("w2")
        XCTAssertEqual(keys.sourceNumber("w1"), w1)
        let long = String(repeating: "x", count: 300)  // a two-byte length
        XCTAssertEqual(keys.insert(source: w1, sku: ""), .added)
        XCTAssertEqual(keys.insert(source: w1, sku: long), .added)
        for i in 0..<5000 { XCTAssertEqual(keys.insert(source: w1, sku: "SKU-\(i)"), .added) }
        let half = keys.arenaCount
        for i in 0..<5000 { XCTAssertEqual(keys.insert(source: w2, sku: "SKU-\(i)"), .added) }
        XCTAssertEqual(keys.count, 10_002)
        XCTAssertTrue(keys.contains(source: "w1", sku: ""))
        XCTAssertTrue(keys.contains(source: "w1", sku: long))
        XCTAssertFalse(keys.contains(source: "w1", sku: long + "x"))
        XCTAssertTrue(keys.contains(source: "w2", sku: "SKU-4999"))
        XCTAssertFalse(keys.contains(source: "w2", sku: "SKU-5000"))
        XCTAssertFalse(keys.contains(source: "w3", sku: "SKU-1"))

        // Keys appended after a look-up are found too (the table catches up), also a key given twice.
        XCTAssertEqual(keys.insert(source: w1, sku: "SKU-42"), .added)
        XCTAssertEqual(keys.insert(source: w2, sku: "LATE"), .added)
        XCTAssertTrue(keys.contains(source: "w2", sku: "LATE"))
        XCTAssertTrue(keys.contains(source: "w1", sku: "SKU-42"))
        XCTAssertEqual(keys.count, 10_004)

        // Enough new keys after a look-up that the table must grow: it is rebuilt, old keys and new.
        let growing = Store.SeenKeys(limitBytes: 1 << 20)
        let g = growing.sourceNumber("g")
        for i in 0..<700 { _ = growing.insert(source: g, sku: "G-\(i)") }
        XCTAssertTrue(growing.contains(source: "g", sku: "G-0"))
        for i in 700..<1100 { _ = growing.insert(source: g, sku: "G-\(i)") }
        for i in [0, 699, 700, 1099] { XCTAssertTrue(growing.contains(source: "g", sku: "G-\(i)"), "G-\(i)") }
        XCTAssertFalse(growing.contains(source: "g", sku: "G-1100"))

        keys.truncate(toArenaCount: half)
        XCTAssertEqual(keys.count, 5002)
        XCTAssertTrue(keys.contains(source: "w1", sku: "SKU-4999"))
        XCTAssertFalse(keys.contains(source: "w2", sku: "SKU-0"))
        XCTAssertEqual(keys.insert(source: w2, sku: "SKU-0"), .added)
    }

    func testFullMemoryRefusesNewKeysButFindsOldOnes() {
        let keys = Store.SeenKeys(limitBytes: 4096 + 20)  // the first table (1024 slots) plus a few entries
        let w = keys.sourceNumber("w")
        XCTAssertEqual(keys.insert(source: w, sku: "A-1"), .added)
        var added = 1
        while keys.insert(source: w, sku: "A-\(added + 1)") == .added { added += 1 }
        XCTAssertGreaterThan(added, 1)
        XCTAssertEqual(keys.count, added)
        XCTAssertTrue(keys.contains(source: "w", sku: "A-1"))
        XCTAssertTrue(keys.contains(source: "w", sku: "A-\(added)"))
        XCTAssertFalse(keys.contains(source: "w", sku: "A-\(added + 1)"), "the key that did not fit")
        XCTAssertLessThanOrEqual(keys.arenaCount, 20)
    }

    // MARK: Through the store

    /// A snapshot larger than the memory bound: the keys beyond it go to `temp.snapshot_seen`, and finishing
    /// zeroes exactly what neither holds.
    func testSpilledSnapshotZeroesExactlyWhatItDidNotMention() throws {
        var existing: [ModelRecord] = []
        for i in 0..<300 {
            existing.append(stock("S\(i)", "w1", 5))
            existing.append(stock("S\(i)", "w2", 5))
        }
        _ = try store.apply(existing, cursor: nil)
        limitSnapshotMemory(bytes: 4096 + 200)
        let run = try store.beginRun(connector: "erp", pluginID: "p", trigger: .scheduled)
        try store.beginSnapshot(runID: run.id)
        let options = Store.ApplyOptions(runID: run.id)
        // Every SKU but those divisible by 7, at both sources, in batches of 50; and one new item.
        let mentioned = (0..<300).filter { $0 % 7 != 0 }
        for start in stride(from: 0, to: mentioned.count, by: 25) {
            let batch = mentioned[start..<min(start + 25, mentioned.count)].flatMap { [stock("S\($0)", "w1", 5), stock("S\($0)", "w2", 5)] }
            _ = try store.apply(batch, cursor: nil, options: options)
        }
        XCTAssertEqual(try store.apply([stock("NEW", "w2", 1)], cursor: nil, options: options), .counts(1, 0, 0))
        let inMemory = try XCTUnwrap(keysInMemory(run.id))
        let spilled = try sqlInt("SELECT count(*) FROM temp.snapshot_seen")
        XCTAssertGreaterThan(inMemory, 0)
        XCTAssertGreaterThan(spilled, 0, "the bound makes most keys spill")
        XCTAssertEqual(Int64(inMemory) + spilled, Int64(mentioned.count * 2 + 1))

        let unmentioned = 300 - mentioned.count
        XCTAssertEqual(try store.finishSnapshot(runID: run.id, absent: .zero), Int64(unmentioned * 2))
        for i in 0..<300 {
            let expected: [Int64] = i % 7 == 0 ? [0, 0] : [5, 5]
            XCTAssertEqual(try store.inventory(sku: "S\(i)")?.items.map(\.quantity), expected, "S\(i)")
        }
        XCTAssertNil(keysInMemory(run.id))
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM temp.snapshot_seen"), 0)
    }

    /// A batch that fails after remembering its stock rows forgets them: finishing zeroes them.
    func testFailedBatchForgetsItsKeys() throws {
        _ = try store.apply([stock("A", "w1", 5), stock("B", "w1", 6), stock("C", "w1", 7)], cursor: nil)
        try sql(
            """
            CREATE TRIGGER boom BEFORE INSERT ON products WHEN NEW.sku = 'BOOM'
            BEGIN SELECT RAISE(ABORT, 'the test trigger refused BOOM'); END
            """)
        let run = try store.beginRun(connector: "erp", pluginID: "p", trigger: .scheduled)
        try store.beginSnapshot(runID: run.id)
        let options = Store.ApplyOptions(runID: run.id)
        XCTAssertEqual(try store.apply([stock("A", "w1", 5)], cursor: nil, options: options), .counts(0, 0, 1))
        XCTAssertEqual(keysInMemory(run.id), 1)
        let error = storeError { try store.apply([stock("B", "w1", 6), product("BOOM")], cursor: nil, options: options) }
        XCTAssertEqual(error?.message.hasSuffix("the test trigger refused BOOM; nothing of the batch was stored"), true)
        XCTAssertEqual(keysInMemory(run.id), 2, "B is still in memory until the next use cuts it back")
        XCTAssertEqual(try store.apply([stock("C", "w1", 7)], cursor: nil, options: options), .counts(0, 0, 1))
        XCTAssertEqual(keysInMemory(run.id), 2, "A and C")
        XCTAssertEqual(try store.finishSnapshot(runID: run.id, absent: .zero), 1)
        XCTAssertEqual(try store.inventory(sku: "B")?.totalQuantity, 0)
        XCTAssertEqual(try store.inventory(sku: "A")?.totalQuantity, 5)
        XCTAssertEqual(try store.inventory(sku: "C")?.totalQuantity, 7)
    }

    /// Batches of a run transaction that rolls back are forgotten, though each batch's savepoint was released.
    func testRolledBackRunTransactionForgetsItsKeys() throws {
        struct PluginFailed: Error {}
        _ = try store.apply([stock("A", "w1", 5), stock("B", "w1", 6)], cursor: nil)
        let run = try store.beginRun(connector: "erp", pluginID: "p", trigger: .scheduled)
        try store.beginSnapshot(runID: run.id)
        let options = Store.ApplyOptions(runID: run.id)
        XCTAssertEqual(try store.apply([stock("A", "w1", 5)], cursor: nil, options: options), .counts(0, 0, 1))
        XCTAssertThrowsError(
            try store.withRunTransaction { writer in
                _ = try writer.apply([stock("B", "w1", 6)], cursor: nil, options: options)
                XCTAssertEqual(writer.db.snapshotMemory?.runs[run.id]?.count, 2)
                throw PluginFailed()
            })
        XCTAssertEqual(try store.finishSnapshot(runID: run.id, absent: .zero), 1)
        XCTAssertEqual(try store.inventory(sku: "B")?.totalQuantity, 0)
        XCTAssertEqual(try store.inventory(sku: "A")?.totalQuantity, 5)
    }

    /// In a committed run transaction the run's own batches count, and the finish inside it sees them.
    func testRunTransactionSnapshotFinishesWithItsOwnKeys() throws {
        _ = try store.apply([stock("A", "w1", 5), stock("B", "w1", 6), stock("C", "w2", 1)], cursor: nil)
        let run = try store.beginRun(connector: "erp", pluginID: "p", trigger: .scheduled)
        let options = Store.ApplyOptions(runID: run.id)
        let zeroed = try store.withRunTransaction { writer -> Int64 in
            try writer.beginSnapshot(runID: run.id)
            _ = try writer.apply([stock("A", "w1", 5)], cursor: nil, options: options)
            _ = try writer.apply([stock("C", "w2", 2)], cursor: nil, options: options)
            return try writer.finishSnapshot(runID: run.id, absent: .zero)
        }
        XCTAssertEqual(zeroed, 1)
        XCTAssertEqual(try store.inventory(sku: "B")?.totalQuantity, 0)
        XCTAssertEqual(try store.inventory(sku: "A")?.totalQuantity, 5)
        XCTAssertEqual(try store.inventory(sku: "C")?.totalQuantity, 2)
        XCTAssertNil(keysInMemory(run.id))
    }
}

import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

/// Relative stock deltas and full inventory snapshots.
final class InventoryModeTests: StoreTestCase {
    /// (quantity, status, updated_at) of one stock item, or nil.
    private func item(_ sku: String, _ source: String) throws -> String? {
        guard let item = try store.inventory(sku: sku)?.items.first(where: { $0.sourceCode == source }) else { return nil }
        return "\(item.quantity) \(item.status.rawValue) \(item.updatedAt!.millisecondsSinceEpoch)"
    }

    private func relative(_ run: Run?) -> Store.ApplyOptions {
        Store.ApplyOptions(stock: .relative, runID: run?.id)
    }

    // MARK: Relative deltas

    func testRelativeAdjustmentsAddToTheStoredQuantity() throws {
        _ = try store.apply([stock("A", "w1", 10), stock("B", "w1", 1)], cursor: nil)
        try sql("UPDATE inventory_source_items SET updated_at = 1000")
        let run = try store.beginRun(connector: "erp-delta", pluginID: "erp-xml", trigger: .scheduled)
        let counts = try store.apply(
            [stock("A", "w1", -3), stock("A", "w2", 5), stock("B", "w1", 0), stock("A", "w1", 2)], cursor: ("erp-delta", "d1"),
            options: relative(run))
        XCTAssertEqual(counts, Store.UpsertCounts(inserted: 1, updated: 2, unchanged: 1))
        XCTAssertEqual(try store.inventory(sku: "A")?.items.map(\.quantity), [9, 5])  // 10 - 3 + 2; new row from 0
        XCTAssertEqual(try item("B", "w1"), "1 in_stock 1000")  // +0: unchanged, not rewritten
        XCTAssertEqual(try store.cursor(connector: "erp-delta"), "d1")

        // Without a status, the status follows the new quantity; a given status wins.
        XCTAssertEqual(try store.apply([stock("A", "w2", -5)], cursor: nil, options: relative(run)), .counts(0, 1, 0))
        XCTAssertEqual(try store.inventory(sku: "A")?.items.last?.status, .outOfStock)
        XCTAssertEqual(try store.apply([stock("A", "w2", 4)], cursor: nil, options: relative(run)), .counts(0, 1, 0))
        XCTAssertEqual(try store.inventory(sku: "A")?.items.last?.status, .inStock)
        XCTAssertEqual(
            try store.apply([stock("A", "w2", 0, .outOfStock)], cursor: nil, options: relative(run)), .counts(0, 1, 0))
        XCTAssertEqual(try store.inventory(sku: "A")?.items.last.map { "\($0.quantity) \($0.status)" }, "4 outOfStock")
        XCTAssertEqual(try store.apply([stock("A", "w2", 1)], cursor: nil, options: relative(run)), .counts(0, 1, 0))
        XCTAssertEqual(try store.inventory(sku: "A")?.items.last?.status, .inStock, "status follows the quantity again")

        // The same records in absolute mode replace the quantity.
        XCTAssertEqual(try store.apply([stock("A", "w1", 2)], cursor: nil), .counts(0, 1, 0))
        XCTAssertEqual(try store.inventory(sku: "A")?.items.first?.quantity, 2)
        XCTAssertThrowsError(try store.apply([stock("A", "w1", -1)], cursor: nil)) { error in
            XCTAssertEqual((error as? StoreError)?.code, .invalidRecord)
        }
    }

    func testAdjustmentBelowZeroIsRejectedAndTheRestOfTheBatchLands() throws {
        _ = try store.apply([stock("A", "w1", 3)], cursor: nil)
        try sql("UPDATE inventory_source_items SET updated_at = 1000")
        let run = try store.beginRun(connector: "erp-delta", pluginID: "erp-xml", trigger: .scheduled)
        let locations = (1...4).map { RecordLocation(source: "delta.xml", line: Int64($0 * 10), recordNumber: Int64($0)) }
        let counts = try store.apply(
            [stock("A", "w1", -5), stock("B", "w1", 2), stock("A", "w1", -1), stock("C", "w9", -2)], cursor: ("erp-delta", "d2"),
            options: relative(run), locations: locations)
        XCTAssertEqual(counts, Store.UpsertCounts(inserted: 1, updated: 1, rejected: 2))
        XCTAssertEqual(try store.inventory(sku: "A")?.items.first?.quantity, 2)  // -5 refused, -1 applied
        XCTAssertEqual(try store.inventory(sku: "B")?.totalQuantity, 2)
        XCTAssertNil(try store.inventory(sku: "C"))
        XCTAssertEqual(try store.cursor(connector: "erp-delta"), "d2")
        let rejects = try store.rejects(runID: run.id, limit: 10, afterID: nil)
        XCTAssertEqual(rejects.count, 2)
        XCTAssertEqual(rejects.map(\.connector), ["erp-delta", "erp-delta"])
        XCTAssertEqual(rejects.map(\.entity), ["stock", "stock"])
        XCTAssertEqual(rejects.map(\.field), ["quantity", "quantity"])
        XCTAssertEqual(rejects.map(\.location), [locations[0], locations[3]])
        XCTAssertEqual(
            rejects[0].reason,
            "the adjustment -5 would take the quantity of 'A' at 'w1' from 3 to -2, below 0; it was not applied "
                + "(check the order of the deltas, or send a snapshot)")
        XCTAssertEqual(
            rejects[1].reason,
            "the adjustment -2 would take the quantity of 'C' at 'w9' from 0 (no stock recorded yet) to -2, below 0; it "
                + "was not applied (check the order of the deltas, or send a snapshot)")
        // Overflow is refused the same way, never wrapped.
        _ = try store.apply([stock("BIG", "w1", Int64.max - 1)], cursor: nil)
        XCTAssertEqual(
            try store.apply([stock("BIG", "w1", 5)], cursor: nil, options: relative(run)), Store.UpsertCounts(rejected: 1))
        XCTAssertEqual(try store.inventory(sku: "BIG")?.totalQuantity, Int64.max - 1)
    }

    func testRefusedAdjustmentWithoutARunFailsTheBatch() throws {
        _ = try store.apply([stock("A", "w1", 3)], cursor: nil)
        let error = storeError {
            try store.apply([stock("B", "w1", 1), stock("A", "w1", -4)], cursor: ("erp", "x"), options: relative(nil))
        }
        XCTAssertEqual(error?.code, .invalidRecord)
        XCTAssertEqual(
            error?.message,
            "cannot apply a batch: record 2 (stock of 'A' at 'w1') was refused: the adjustment -4 would take "
                + "the quantity of 'A' at 'w1' from 3 to -1, below 0; it was not applied (check the order of the deltas, or "
                + "send a snapshot); give ApplyOptions.runID to store such refusals as rejects and apply the rest; nothing "
                + "of the batch was stored")
        XCTAssertNil(try store.inventory(sku: "B"))
        XCTAssertNil(try store.cursor(connector: "erp"))
        // A run id that does not exist is named too.
        let missing = storeError {
            try store.apply([stock("A", "w1", -4)], cursor: nil, options: Store.ApplyOptions(stock: .relative, runID: 404))
        }
        XCTAssertEqual(missing?.code, .notFound)
        XCTAssertTrue(missing?.message.contains("run 404") ?? false, missing?.message ?? "")
        XCTAssertEqual(
            storeError { try store.apply([stock("A", "w1", -1)], cursor: nil, locations: [RecordLocation(), RecordLocation()]) }?
                .code,
            .invalidArgument)
    }

    // MARK: Full snapshots

    /// w1 and w2 are in the snapshot, w3 is not. Items of w1/w2 the snapshot did not mention are zeroed; items it
    /// mentioned (changed or not) and items already at zero keep their row and timestamp.
    func testSnapshotZeroesWhatItsSourcesDidNotMention() throws {
        _ = try store.apply(
            [stock("A", "w1", 5), stock("B", "w1", 6), stock("C", "w1", 7), stock("D", "w1", 0), stock("E", "w1", 3, .outOfStock),
             stock("A", "w2", 1), stock("B", "w2", 2), stock("A", "w3", 9)],
            cursor: nil)
        try sql("UPDATE inventory_source_items SET updated_at = 1000")
        let run = try store.beginRun(connector: "erp-stock", pluginID: "erp-xml", trigger: .scheduled)
        try store.beginSnapshot(runID: run.id)
        let options = Store.ApplyOptions(runID: run.id)
        XCTAssertEqual(try store.apply([stock("A", "w1", 5), stock("B", "w1", 60)], cursor: nil, options: options), .counts(0, 1, 1))
        XCTAssertEqual(try store.apply([stock("A", "w2", 1), stock("N", "w2", 4)], cursor: nil, options: options), .counts(1, 0, 1))
        // A batch of another run (no runID) is not part of the snapshot.
        XCTAssertEqual(try store.apply([stock("C", "w1", 7)], cursor: nil), .counts(0, 0, 1))

        XCTAssertEqual(try store.finishSnapshot(runID: run.id, absent: .zero), 3)  // C w1, E w1, B w2
        XCTAssertEqual(try item("A", "w1"), "5 in_stock 1000")
        XCTAssertEqual(try item("B", "w1")?.hasPrefix("60 in_stock"), true)
        let zeroed = try XCTUnwrap(try item("C", "w1"))
        XCTAssertTrue(zeroed.hasPrefix("0 out_of_stock"), zeroed)
        XCTAssertNotEqual(zeroed, "0 out_of_stock 1000", "a zeroed item is stamped")
        XCTAssertEqual(try item("D", "w1"), "0 out_of_stock 1000", "already zero: not rewritten")
        XCTAssertTrue(try item("E", "w1")!.hasPrefix("0 out_of_stock"))
        XCTAssertEqual(try item("A", "w2"), "1 in_stock 1000")
        XCTAssertTrue(try item("B", "w2")!.hasPrefix("0 out_of_stock"))
        XCTAssertEqual(try item("N", "w2")?.hasPrefix("4 in_stock"), true)
        XCTAssertEqual(try item("A", "w3"), "9 in_stock 1000", "a source missing from the file is untouched")
        // The snapshot is over.
        XCTAssertEqual(storeError { try store.finishSnapshot(runID: run.id, absent: .zero) }?.code, .misuse)
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM temp.snapshot_seen"), 0)
    }

    func testKeepPolicyChangesNothing() throws {
        _ = try store.apply([stock("A", "w1", 5), stock("B", "w1", 6)], cursor: nil)
        let run = try store.beginRun(connector: "erp-stock", pluginID: "erp-xml", trigger: .manual)
        try store.beginSnapshot(runID: run.id)
        _ = try store.apply([stock("A", "w1", 5)], cursor: nil, options: Store.ApplyOptions(runID: run.id))
        XCTAssertEqual(try store.finishSnapshot(runID: run.id, absent: .keep), 0)
        XCTAssertEqual(try store.inventory(sku: "B")?.totalQuantity, 6)
        XCTAssertEqual(storeError { try store.finishSnapshot(runID: run.id, absent: .zero) }?.code, .misuse)
        XCTAssertEqual(try store.inventory(sku: "B")?.totalQuantity, 6)
    }

    func testAbandonedSnapshotZeroesNothing() throws {
        _ = try store.apply([stock("A", "w1", 5), stock("B", "w1", 6)], cursor: nil)
        // A run that failed: finishing with .zero is refused and forgets the snapshot.
        let failed = try store.beginRun(connector: "erp-stock", pluginID: "erp-xml", trigger: .manual)
        try store.beginSnapshot(runID: failed.id)
        _ = try store.apply([stock("A", "w1", 5)], cursor: nil, options: Store.ApplyOptions(runID: failed.id))
        try store.finishRun(id: failed.id, state: .failed, counts: RunCounts(), error: "plugin crashed")
        let error = storeError { try store.finishSnapshot(runID: failed.id, absent: .zero) }
        XCTAssertEqual(error?.code, .misuse)
        XCTAssertEqual(
            error?.message,
            "did not zero the stock missing from the inventory snapshot of run \(failed.id) in database \(store.path): the "
                + "run is failed, so the snapshot may be incomplete; the snapshot was abandoned and no stock changed "
                + "(call abandonSnapshot for runs that fail)")
        XCTAssertEqual(try store.inventory(sku: "B")?.totalQuantity, 6)
        XCTAssertEqual(storeError { try store.finishSnapshot(runID: failed.id, absent: .zero) }?.code, .misuse)

        // Abandoned explicitly.
        let abandoned = try store.beginRun(connector: "erp-stock", pluginID: "erp-xml", trigger: .manual)
        try store.beginSnapshot(runID: abandoned.id)
        _ = try store.apply([stock("A", "w1", 5)], cursor: nil, options: Store.ApplyOptions(runID: abandoned.id))
        try store.abandonSnapshot(runID: abandoned.id)
        try store.abandonSnapshot(runID: abandoned.id)  // twice is fine
        XCTAssertEqual(storeError { try store.finishSnapshot(runID: abandoned.id, absent: .zero) }?.code, .misuse)
        XCTAssertEqual(try store.inventory(sku: "B")?.totalQuantity, 6)

        // Interrupted by the process stopping: the next process cannot finish it.
        let interrupted = try store.beginRun(connector: "erp-stock", pluginID: "erp-xml", trigger: .manual)
        try store.beginSnapshot(runID: interrupted.id)
        _ = try store.apply([stock("A", "w1", 5)], cursor: nil, options: Store.ApplyOptions(runID: interrupted.id))
        store.close()
        store = try Store(path: folder.file("wharf.sqlite"), readerCount: 2)
        XCTAssertEqual(storeError { try store.finishSnapshot(runID: interrupted.id, absent: .zero) }?.code, .misuse)
        XCTAssertEqual(try store.inventory(sku: "B")?.totalQuantity, 6)
    }

    func testConcurrentSnapshotsOfTwoRunsStayApart() throws {
        _ = try store.apply([stock("A", "w1", 1), stock("B", "w1", 1), stock("A", "w2", 1), stock("B", "w2", 1)], cursor: nil)
        let first = try store.beginRun(connector: "erp-1", pluginID: "erp-xml", trigger: .manual)
        let second = try store.beginRun(connector: "erp-2", pluginID: "erp-xml", trigger: .manual)
        try store.beginSnapshot(runID: first.id)
        try store.beginSnapshot(runID: second.id)
        _ = try store.apply([stock("A", "w1", 1)], cursor: nil, options: Store.ApplyOptions(runID: first.id))
        _ = try store.apply([stock("B", "w2", 1)], cursor: nil, options: Store.ApplyOptions(runID: second.id))
        XCTAssertEqual(try store.finishSnapshot(runID: first.id, absent: .zero), 1)  // B w1 only
        XCTAssertEqual(try store.inventory(sku: "A")?.items.map(\.quantity), [1, 1])
        // The second snapshot still remembers its own records.
        XCTAssertEqual(try store.finishSnapshot(runID: second.id, absent: .zero), 1)  // A w2 only
        XCTAssertEqual(try store.inventory(sku: "A")?.items.map(\.quantity), [1, 0])
        XCTAssertEqual(try store.inventory(sku: "B")?.items.map(\.quantity), [0, 1])
    }

    func testSnapshotMisuseIsRefused() throws {
        XCTAssertEqual(storeError { try store.beginSnapshot(runID: 77) }?.code, .notFound)
        let run = try store.beginRun(connector: "erp", pluginID: "p", trigger: .manual)
        try store.beginSnapshot(runID: run.id)
        let twice = storeError { try store.beginSnapshot(runID: run.id) }
        XCTAssertEqual(twice?.code, .misuse)
        XCTAssertEqual(
            twice?.message,
            "cannot begin an inventory snapshot for run \(run.id) in database \(store.path): one is already open")
        // A snapshot's quantities are absolute.
        XCTAssertEqual(
            storeError {
                try store.apply([stock("A", "w", 1)], cursor: nil, options: Store.ApplyOptions(stock: .relative, runID: run.id))
            }?.code,
            .invalidArgument)
        let done = try store.beginRun(connector: "erp", pluginID: "p", trigger: .manual)
        try store.finishRun(id: done.id, state: .succeeded, counts: RunCounts(), error: nil)
        XCTAssertEqual(storeError { try store.beginSnapshot(runID: done.id) }?.code, .misuse)
        XCTAssertEqual(storeError { try store.finishSnapshot(runID: done.id, absent: .keep) }?.code, .misuse)
    }
}

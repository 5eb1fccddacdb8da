import WharfModel
import XCTest

@testable import WharfStore

/// Element digests (`Store.ElementLedger`): which source elements a run may skip as unchanged, and every write that
/// must take that back. Real SQLite file; the plugin's side is played by tagging records directly.
final class ElementDigestTests: StoreTestCase {
    let settings = "element-digests 1\nplugin erp-xml 1.0.0"

    func tag(_ n: UInt64, sequence: UInt64? = nil) -> Store.ElementTag {
        Store.ElementTag(high: 0x1000 + n, low: 0xABC0 + n, sequence: sequence ?? n)
    }

    func ledger(_ settings: String? = nil) -> Store.ElementLedger {
        Store.ElementLedger(store: store, connector: "erp", settings: settings ?? self.settings)
    }

    /// Applies `elements` (each a tag and its records) as one batch of `ledger`'s run.
    @discardableResult
    func apply(
        _ elements: [(Store.ElementTag, [ModelRecord])], ledger: Store.ElementLedger, runID: Int64? = nil,
        failed: [UInt64] = []
    ) throws -> Store.UpsertCounts {
        var records: [ModelRecord] = []
        var tags: [Store.ElementTag] = []
        for (tag, list) in elements {
            records += list
            tags += Array(repeating: tag, count: list.count)
        }
        return try store.apply(
            chunks: Store.RecordChunk.once(Store.RecordChunk(records: records, elements: tags, failedElements: failed)),
            cursor: nil, rejects: { [] }, options: Store.ApplyOptions(runID: runID, elements: ledger))
    }

    func element(_ n: UInt64, sku: String, quantity: Int64 = 5, price: Int64 = 1000) -> (Store.ElementTag, [ModelRecord]) {
        (tag(n), [product(sku, "Product \(sku)"), self.price(sku, price), stock(sku, "W1", quantity), stock(sku, "W2", 1)])
    }

    /// Digests recorded and not revoked since (of one high half, or all).
    func live(high: Int64? = nil) throws -> Int64 {
        let digests = try store.write("read digests") { db in try Store.liveElementDigests(db) }
        return Int64(digests.filter { high == nil || $0.high == UInt64(high!) }.count)
    }

    /// The high half of the live digest that owns product `sku`, if any.
    func ownerHigh(ofProduct sku: String) throws -> UInt64? {
        let owner = try sqlInt("SELECT coalesce((SELECT element_owner FROM products WHERE sku = '\(sku)'), 0)")
        let digests = try store.write("read digests") { db in try Store.liveElementDigests(db) }
        return digests.first { $0.id == owner }?.high
    }

    /// Run 1 imports two elements; returns a fresh ledger for run 2.
    func importTwoElements() throws -> Store.ElementLedger {
        let first = ledger()
        XCTAssertFalse(try first.skipUnchanged(tag(1)), "nothing is known before the first import")
        try apply([element(1, sku: "A"), element(2, sku: "B")], ledger: first)
        try store.recordElements(first)
        return ledger()
    }

    func testElementsStoredWithoutRejectAreSkippedNextRunWithTheirRecordsCounted() throws {
        let second = try importTwoElements()
        XCTAssertTrue(try second.skipUnchanged(tag(1)))
        XCTAssertTrue(try second.skipUnchanged(tag(2)))
        XCTAssertFalse(try second.skipUnchanged(Store.ElementTag(high: 0x1001, low: 0xFFFF, sequence: 3)),
                       "the same high half with another low half is another element")
        let skipped = second.takeSkipped()
        XCTAssertEqual(skipped.elements, 2)
        XCTAssertEqual(skipped.products, 2)
        XCTAssertEqual(skipped.prices, 2)
        XCTAssertEqual(skipped.stock, 4)
        XCTAssertEqual(second.takeSkipped().elements, 0, "taken once")
        XCTAssertEqual(try ownerHigh(ofProduct: "A"), 0x1001, "product A names element 1's digest")
    }

    func testAConnectorWithMoreDigestsThanARunHoldsSkipsNothingAndSaysSo() throws {
        let second = try importTwoElements()
        second.maxLoadedDigests = 1
        XCTAssertFalse(try second.skipUnchanged(tag(1)))
        XCTAssertFalse(try second.skipUnchanged(tag(2)))
        XCTAssertEqual(second.tooManyDigests, 2)
        let third = ledger()
        XCTAssertTrue(try third.skipUnchanged(tag(1)), "within the bound, the same digests are used")
        XCTAssertNil(third.tooManyDigests)
    }

    func testADatabaseWithoutItsOwnerIdRowRefusesTaggedBatchesAndSaysWhatToDo() throws {
        try sql("DELETE FROM element_ids")
        let error = storeError { try self.apply([self.element(1, sku: "A")], ledger: self.ledger()) }
        XCTAssertTrue(error?.message.contains("element_ids") == true, error?.message ?? "")
        XCTAssertTrue(error?.message.contains("wharf restore") == true, error?.message ?? "")
        XCTAssertNil(try store.product(sku: "A"), "nothing of the batch was stored")
        _ = try store.apply([product("B")], cursor: nil)  // untagged writes need no owner id
    }

    func testAskingOutOfOrderIsRefused() throws {
        let second = try importTwoElements()
        _ = try second.skipUnchanged(tag(2))
        XCTAssertEqual(storeError { try second.skipUnchanged(tag(1)) }?.code, .invalidArgument)
    }

    func testAWriteThroughTheAPIRevokesTheElementThatOwnedTheRow() throws {
        let second = try importTwoElements()
        _ = try store.putProduct(Product(sku: "A", name: "Renamed by the API"))
        XCTAssertFalse(try second.skipUnchanged(tag(1)), "A's product row no longer holds what element 1 wrote")
        XCTAssertTrue(try second.skipUnchanged(tag(2)))
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM products WHERE sku = 'A' AND element_owner IS NULL"), 1)
    }

    func testAnUntaggedBatchAndAnUnchangedWriteByAnotherWriterRevokeToo() throws {
        _ = try importTwoElements()
        // Same value, another writer: the row is unchanged, but it is no longer element 2's.
        _ = try store.apply([stock("B", "W2", 1)], cursor: nil)
        XCTAssertFalse(try ledger().skipUnchanged(tag(2)))
        XCTAssertEqual(try live(), 1)
    }

    func testDeletingAProductRevokesItsElement() throws {
        _ = try importTwoElements()
        XCTAssertTrue(try store.deleteProduct(sku: "B"))
        let third = ledger()
        XCTAssertTrue(try third.skipUnchanged(tag(1)))
        XCTAssertFalse(try third.skipUnchanged(tag(2)), "a skip would leave B deleted")
    }

    func testOtherSettingsDropEveryDigest() throws {
        _ = try importTwoElements()
        let changed = ledger(settings + "\ninventory full keep")
        XCTAssertFalse(try changed.skipUnchanged(tag(1)))
        try apply([element(3, sku: "C")], ledger: changed)
        try store.recordElements(changed)
        XCTAssertEqual(try live(), 1, "only the element recorded under the new settings")
        XCTAssertTrue(try ledger(settings + "\ninventory full keep").skipUnchanged(tag(3)))
    }

    func testAnElementWithARecordThatFailedToDecodeIsNotRecorded() throws {
        let first = ledger()
        try apply([element(1, sku: "A"), element(2, sku: "B")], ledger: first, failed: [2])
        try store.recordElements(first)
        let second = ledger()
        XCTAssertTrue(try second.skipUnchanged(tag(1)))
        XCTAssertFalse(try second.skipUnchanged(tag(2)))
    }

    func testAnElementIsRecordedOnlyOnceItsLastRecordIsStored() throws {
        let first = ledger()
        let (tag1, records1) = element(1, sku: "A")
        try apply([(tag1, Array(records1.prefix(2)))], ledger: first)
        XCTAssertEqual(try live(), 0, "element 1 may continue in the next batch")
        try apply([(tag1, Array(records1.suffix(2))), element(2, sku: "B")], ledger: first)
        XCTAssertEqual(try live(), 1, "element 1 ended when element 2 began")
        try store.recordElements(first)
        XCTAssertEqual(try live(), 2)
        let skipped = { let l = self.ledger(); _ = try l.skipUnchanged(tag1); return l.takeSkipped() }
        XCTAssertEqual(try skipped().stock, 2, "both halves counted")
    }

    func testAFailedBatchRecordsNothing() throws {
        let first = ledger()
        try apply([element(1, sku: "A")], ledger: first)
        try sql("CREATE TRIGGER fail_b BEFORE INSERT ON products WHEN NEW.sku = 'B' BEGIN SELECT RAISE(ABORT, 'no B'); END")
        XCTAssertNotNil(storeError { try self.apply([element(2, sku: "B")], ledger: first) })
        XCTAssertEqual(try live(), 0, "element 1 was to be recorded with the failed batch")
    }

    /// Run 2 asks ahead of its writer: element 2 (sequence 5) is answered "skip" before element 9 (sequence 3), which
    /// comes earlier in the file, writes the same stock row. Applied in order the row would end as element 2 left
    /// it, so it is left to element 2.
    func testARowOfALaterSkippedElementIsLeftToItAndTheEarlierElementIsNotRecorded() throws {
        let first = ledger()
        try apply([element(2, sku: "B")], ledger: first)
        try store.recordElements(first)
        let second = ledger()
        XCTAssertTrue(try second.skipUnchanged(tag(2, sequence: 5)))
        let early = Store.ElementTag(high: 0x9009, low: 0x9, sequence: 3)
        let counts = try apply([(early, [stock("B", "W1", 77), stock("Q", "W1", 1)])], ledger: second)
        try store.recordElements(second)
        XCTAssertEqual(counts.inserted, 1)
        XCTAssertEqual(try sqlInt("SELECT quantity FROM inventory_source_items WHERE sku = 'B' AND source_code = 'W1'"), 5)
        XCTAssertEqual(try live(high: 0x9009), 0)
        XCTAssertTrue(try ledger().skipUnchanged(tag(2)), "element 2 still holds all its rows")
    }

    func testARowTakenByALaterElementRevokesTheEarlierSkippedOne() throws {
        let first = ledger()
        try apply([element(2, sku: "B")], ledger: first)
        try store.recordElements(first)
        let second = ledger()
        XCTAssertTrue(try second.skipUnchanged(tag(2, sequence: 1)))
        let later = Store.ElementTag(high: 0x9009, low: 0x9, sequence: 2)
        try apply([(later, [stock("B", "W1", 77)])], ledger: second)
        try store.recordElements(second)
        XCTAssertEqual(try sqlInt("SELECT quantity FROM inventory_source_items WHERE sku = 'B' AND source_code = 'W1'"), 77)
        let third = ledger()
        XCTAssertFalse(try third.skipUnchanged(tag(2)))
        XCTAssertTrue(try third.skipUnchanged(Store.ElementTag(high: 0x9009, low: 0x9, sequence: 3)))
    }

    func testAFullSnapshotCountsSkippedStockAsDeliveredAndZeroesTheRest() throws {
        // Run 1: elements 1–3 at W1/W2, plus a row at W1 written by the API.
        let run1 = try store.beginRun(connector: "erp", pluginID: "erp-xml", trigger: .scheduled)
        try store.beginSnapshot(runID: run1.id)
        let first = ledger()
        try apply([element(1, sku: "A"), element(2, sku: "B"), element(3, sku: "C", quantity: 4)], ledger: first, runID: run1.id)
        try store.recordElements(first)
        XCTAssertEqual(try store.finishSnapshot(runID: run1.id, absent: .zero, elements: first), 0)
        try store.finishRun(id: run1.id, state: .succeeded, counts: RunCounts(), error: nil)
        _ = try store.apply([stock("Z", "W1", 3)], cursor: nil)

        // Run 2: elements 1 and 2 unchanged and skipped, element 3 gone from the feed.
        let run2 = try store.beginRun(connector: "erp", pluginID: "erp-xml", trigger: .scheduled)
        try store.beginSnapshot(runID: run2.id)
        let second = ledger()
        XCTAssertTrue(try second.skipUnchanged(tag(1)))
        XCTAssertTrue(try second.skipUnchanged(tag(2)))
        try store.recordElements(second)
        let zeroed = try store.finishSnapshot(runID: run2.id, absent: .zero, elements: second)
        XCTAssertEqual(zeroed, 3, "C at W1 and W2 and Z at W1: the snapshot named none of them")
        XCTAssertFalse(second.zeroingWithheld)
        XCTAssertEqual(
            try sqlInt("SELECT sum(quantity) FROM inventory_source_items WHERE sku IN ('A', 'B') AND source_code = 'W1'"), 10)
        XCTAssertEqual(try sqlInt("SELECT quantity FROM inventory_source_items WHERE sku = 'Z'"), 0)
        XCTAssertEqual(try live(high: 0x1003), 0, "C's rows were zeroed")
    }

    /// Owner ids come from `element_ids` in blocks reserved in the batch's transaction: two runs writing batches in
    /// turn never share one, and a batch that rolls back gives its block back without its ledger keeping it.
    func testOwnerIdsOfInterleavedRunsNeverCollideAndARolledBackBlockIsNotReused() throws {
        let a = ledger(), b = Store.ElementLedger(store: store, connector: "other", settings: settings)
        a.ownerIDBlock = 2
        b.ownerIDBlock = 2
        try apply([element(1, sku: "A")], ledger: a)
        try apply([element(2, sku: "B")], ledger: b)
        try apply([element(3, sku: "C")], ledger: a)
        try store.recordElements(a)
        try store.recordElements(b)
        let owners = try store.write("read owners") { db in
            let st = try db.statement("SELECT DISTINCT element_owner FROM products ORDER BY sku")
            defer { st.reset() }
            var owners: [Int64] = []
            while try st.step() { owners.append(st.int64(0)) }
            return owners
        }
        XCTAssertEqual(owners.count, 3)
        XCTAssertEqual(Set(owners).count, 3, "\(owners)")
        XCTAssertTrue(owners.allSatisfy { $0 > 0 && $0 < 1 << 24 }, "small ids, a few bytes a row: \(owners)")
        XCTAssertEqual(try live(), 3)

        try sql("CREATE TRIGGER fail_d BEFORE INSERT ON products WHEN NEW.sku = 'D' BEGIN SELECT RAISE(ABORT, 'no D'); END")
        XCTAssertNotNil(storeError { try self.apply([self.element(4, sku: "D")], ledger: a) })
        try sql("DROP TRIGGER fail_d")
        // a's block of D's batch was rolled back: b gets those ids now, and a must not hand them out too.
        try apply([element(5, sku: "E")], ledger: b)
        try apply([element(6, sku: "F")], ledger: a)
        try apply([element(7, sku: "G")], ledger: b)
        try apply([element(8, sku: "H")], ledger: b)
        try store.recordElements(a)
        try store.recordElements(b)
        XCTAssertEqual(try sqlInt("SELECT count(DISTINCT element_owner) FROM products"), 7)
        XCTAssertEqual(try live(), 7)
    }

    /// Revocations pile up until a run ends with many of them: then the packed rows are rewritten without the
    /// digests they take back, and they are forgotten; a digest recorded after the revocation stays live.
    func testACompactionDropsRevokedDigestsAndKeepsOnesRecordedSince() throws {
        _ = try importTwoElements()
        _ = try store.putProduct(Product(sku: "A", name: "Changed by the API"))  // revokes element 1
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM element_revoked"), 1)
        XCTAssertEqual(try live(), 1)
        let second = ledger()
        XCTAssertFalse(try second.skipUnchanged(tag(1)))
        try apply([element(1, sku: "A")], ledger: second)
        try store.recordElements(second)  // 1 revocation against 3 packed digests: compacted
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM element_revoked"), 0)
        XCTAssertEqual(try sqlInt("SELECT sum(length(entries)) FROM element_digests"), 2 * Int64(Store.packedDigestBytes))
        let third = ledger()
        XCTAssertTrue(try third.skipUnchanged(tag(1)))
        XCTAssertTrue(try third.skipUnchanged(tag(2)))
    }

    /// Rows this run's elements wrote count as delivered by their owner ids; a row another connector's run wrote
    /// meanwhile at the same source, with owner ids of its own, does not.
    func testASnapshotCountsOnlyItsOwnElementsRowsAsDelivered() throws {
        let run = try store.beginRun(connector: "erp", pluginID: "erp-xml", trigger: .scheduled)
        try store.beginSnapshot(runID: run.id)
        let mine = ledger(), theirs = Store.ElementLedger(store: store, connector: "other", settings: settings)
        mine.ownerIDBlock = 1
        theirs.ownerIDBlock = 1
        try apply([element(1, sku: "A")], ledger: mine, runID: run.id)
        try apply([(tag(9), [stock("OTHER", "W1", 4)])], ledger: theirs)
        try apply([element(2, sku: "B")], ledger: mine, runID: run.id)
        try store.recordElements(mine)
        XCTAssertEqual(try store.finishSnapshot(runID: run.id, absent: .zero, elements: mine), 1, "OTHER at W1 only")
        XCTAssertEqual(try sqlInt("SELECT quantity FROM inventory_source_items WHERE sku = 'OTHER'"), 0)
        XCTAssertEqual(try sqlInt("SELECT sum(quantity) FROM inventory_source_items WHERE source_code = 'W1'"), 10)
    }

    func testASnapshotWithoutItsSkippedElementsZeroesTheirStock() throws {
        // The control for the test above: the same finish without the ledger zeroes the skipped elements' rows.
        _ = try importTwoElements()
        let run = try store.beginRun(connector: "erp", pluginID: "erp-xml", trigger: .scheduled)
        try store.beginSnapshot(runID: run.id)
        _ = try store.apply([stock("A", "W1", 5)], cursor: nil, options: Store.ApplyOptions(runID: run.id))
        XCTAssertEqual(try store.finishSnapshot(runID: run.id, absent: .zero), 1, "B at W1")
    }

    // MARK: Review findings

    /// The run's last element is recorded by `recordElements`, after the last batch committed. A write by another
    /// writer in between revokes its owner id; the compaction that `recordElements` runs first must not forget that
    /// revocation before the element's digest is stored, or the next run skips the element and the API's value stays
    /// where a run without skipping would restore the feed's.
    func testTheLastElementRevokedBeforeItIsRecordedStaysRevokedThroughTheCompaction() throws {
        let first = ledger()
        XCTAssertFalse(try first.skipUnchanged(tag(1)))
        try apply([element(1, sku: "A")], ledger: first)  // element 1 pending: the run may continue it
        _ = try store.putProduct(Product(sku: "A", name: "Renamed by the API"))  // revokes element 1's owner id
        try store.recordElements(first)  // 1 revocation against 0 digests: compacts, then records element 1
        XCTAssertFalse(try ledger().skipUnchanged(tag(1)), "A holds the API's name, not what element 1 wrote")
    }

    /// The same through another connector's run: element 1 spans two batches; between them the API takes one of its
    /// rows and another connector's run ends (and compacts). Element 1 is recorded with the second batch.
    func testARevocationOfAnElementSpanningBatchesSurvivesAnotherRunsCompaction() throws {
        // Both runs are running, as their imports are.
        _ = try store.beginRun(connector: "erp", pluginID: "erp-xml", trigger: .scheduled)
        _ = try store.beginRun(connector: "other", pluginID: "erp-xml", trigger: .scheduled)
        let mine = ledger(), theirs = Store.ElementLedger(store: store, connector: "other", settings: settings)
        let (tag1, records1) = element(1, sku: "A")
        try apply([(tag1, Array(records1.prefix(2)))], ledger: mine)
        _ = try store.putProduct(Product(sku: "A", name: "Renamed by the API"))
        try apply([(tag(9), [stock("OTHER", "W1", 4)])], ledger: theirs)
        try store.recordElements(theirs)
        try apply([(tag1, Array(records1.suffix(2))), element(2, sku: "B")], ledger: mine)
        try store.recordElements(mine)
        XCTAssertFalse(try ledger().skipUnchanged(tag(1)), "A holds the API's name, not what element 1 wrote")
    }

    /// A full snapshot skips element 1; while it runs, the API writes one of element 1's stock rows. Without
    /// skipping, the run would have written that row (before or after the API), so it was delivered and is never
    /// zeroed; with skipping it is neither seen nor owned by a skipped element any more, and is zeroed.
    func testASkippedElementsStockRowWrittenByTheAPIDuringTheSnapshotIsNotZeroed() throws {
        _ = try importTwoElements()
        let run = try store.beginRun(connector: "erp", pluginID: "erp-xml", trigger: .scheduled)
        try store.beginSnapshot(runID: run.id)
        let second = ledger()
        XCTAssertTrue(try second.skipUnchanged(tag(1)))
        XCTAssertTrue(try second.skipUnchanged(tag(2)))
        _ = try store.apply([stock("A", "W1", 9)], cursor: nil)
        try store.recordElements(second)
        XCTAssertEqual(try store.finishSnapshot(runID: run.id, absent: .zero, elements: second), 0)
        XCTAssertTrue(second.zeroingWithheld, "the run says why it zeroed nothing")
        XCTAssertNotEqual(
            try sqlInt("SELECT quantity FROM inventory_source_items WHERE sku = 'A' AND source_code = 'W1'"), 0,
            "the feed lists A at W1: a run without skipping never zeroes it")
    }

    /// The digests are loaded on the first question; a revocation by another writer after that is not seen, so an
    /// element whose row the API changed after the load but before it was asked about is still answered "skip".
    func testAnElementRevokedAfterTheLoadIsNotSkipped() throws {
        let second = try importTwoElements()
        second.revocationPollInterval = 1  // new revocations are read every question (1024 by default)
        XCTAssertTrue(try second.skipUnchanged(tag(1)))  // loads the digests
        _ = try store.putProduct(Product(sku: "B", name: "Renamed by the API"))  // revokes element 2
        XCTAssertFalse(try second.skipUnchanged(tag(2)), "B no longer holds what element 2 wrote")
    }
}

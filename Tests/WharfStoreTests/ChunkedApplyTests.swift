import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

/// `apply(chunks:…)`: a batch whose records arrive in chunks is stored as the same batch given at once would be —
/// one transaction, record numbers counted across chunks, rejects and cursor after the last chunk.
final class ChunkedApplyTests: StoreTestCase {
    /// Hands out `chunks` one by one and counts how often it was asked.
    final class Chunks {
        var remaining: [Store.RecordChunk]
        var asked = 0
        init(_ chunks: [[ModelRecord]]) { remaining = chunks.map { Store.RecordChunk(records: $0) } }
        func next() -> Store.RecordChunk? {
            asked += 1
            return remaining.isEmpty ? nil : remaining.removeFirst()
        }
    }

    func testChunksAreStoredLikeOneBatchWithRejectsAndCursorAfterTheLastChunk() throws {
        let run = try store.beginRun(connector: "erp", pluginID: "p", trigger: .manual)
        let chunks = Chunks([[product("A"), price("A", 100)], [], [stock("A", "wh1", 5), product("B")]])
        var rejectsAskedAfter = -1
        let counts = try store.apply(
            chunks: chunks.next, cursor: (connector: "erp", value: "c-1"),
            rejects: {
                rejectsAskedAfter = chunks.asked
                return [NewReject(runID: run.id, connector: "erp", location: RecordLocation(recordNumber: 9), reason: "bad row")]
            },
            options: Store.ApplyOptions(runID: run.id))
        XCTAssertEqual(counts, .counts(4, 0, 0))
        XCTAssertEqual(rejectsAskedAfter, 4, "rejects are asked once every chunk (and the final nil) was taken")
        XCTAssertEqual(try store.product(sku: "B")?.name, "Name")
        XCTAssertEqual(try store.inventory(sku: "A")?.totalQuantity, 5)
        XCTAssertEqual(try store.cursor(connector: "erp"), "c-1")
        XCTAssertEqual(try store.rejects(runID: run.id, limit: 10, afterID: nil).map(\.reason), ["bad row"])

        // The same records again, given at once: all unchanged, as they would be in chunks.
        XCTAssertEqual(
            try store.apply([product("A"), price("A", 100), stock("A", "wh1", 5), product("B")], cursor: nil),
            .counts(0, 0, 4))
    }

    func testAnInvalidRecordInALaterChunkStoresNothingAndIsNumberedAcrossChunks() throws {
        let chunks = Chunks([[product("A"), product("B")], [product("C"), product("a/b")], [product("D")]])
        var rejectsAsked = false
        XCTAssertThrowsError(
            try store.apply(
                chunks: chunks.next, cursor: (connector: "erp", value: "c-2"), rejects: { rejectsAsked = true; return [] })
        ) { error in
            let message = (error as? StoreError)?.message ?? "\(error)"
            XCTAssertEqual((error as? StoreError)?.code, .invalidRecord)
            XCTAssertTrue(message.contains("record 4 (product 'a/b') is invalid"), message)
            XCTAssertTrue(message.hasSuffix("nothing of the batch was stored"), message)
        }
        XCTAssertEqual(chunks.asked, 2, "no chunk is asked for after the failure")
        XCTAssertFalse(rejectsAsked)
        XCTAssertNil(try store.product(sku: "A"), "the first chunk was rolled back with the rest")
        XCTAssertNil(try store.cursor(connector: "erp"))
    }

    func testARunTransactionTakesChunksInASavepointOfTheirOwn() throws {
        struct Abort: Error {}
        XCTAssertThrowsError(
            try store.withRunTransaction { writer in
                let first = Chunks([[product("A")], [price("A", 100)]])
                XCTAssertEqual(try writer.apply(chunks: first.next, cursor: nil, rejects: { [] }), .counts(2, 0, 0))
                let second = Chunks([[product("B")], [product("b/b")]])
                XCTAssertThrowsError(try writer.apply(chunks: second.next, cursor: nil, rejects: { [] }))
                XCTAssertEqual(try writer.apply(chunks: Chunks([[product("C")]]).next, cursor: nil, rejects: { [] }), .counts(1, 0, 0))
                throw Abort()
            })
        XCTAssertNil(try store.product(sku: "A"), "the run rolled back")

        try store.withRunTransaction { writer in
            let second = Chunks([[product("B")], [product("b/b")]])
            XCTAssertThrowsError(try writer.apply(chunks: second.next, cursor: nil, rejects: { [] }))
            _ = try writer.apply(chunks: Chunks([[product("C")]]).next, cursor: nil, rejects: { [] })
        }
        XCTAssertNil(try store.product(sku: "B"), "the failed batch's savepoint was rolled back")
        XCTAssertNotNil(try store.product(sku: "C"), "the run's other batches committed")
    }
}

import Dispatch
import Synchronization
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

final class ConcurrencyTests: StoreTestCase {
    /// WAL: while the writer holds an open transaction with uncommitted changes, readers are not blocked and see
    /// the last committed state; they see the new state right after the commit.
    func testReadersSeeCommittedDataWhileTheWriterHoldsATransaction() throws {
        _ = try store.apply([product("A", "Committed"), price("A", 100)], cursor: ("erp", "c1"))
        let store = self.store!
        try store.write("hold a transaction open") { db in
            try db.transaction {
                var upserter = try Store.Upserter(db, now: 1)
                _ = try upserter.upsert(.product(Product(sku: "A", name: "Uncommitted")))
                _ = try upserter.upsert(.product(Product(sku: "B", name: "Uncommitted")))
                _ = try upserter.upsert(.price(BasePrice(sku: "A", price: Money(minorUnits: 999, currency: Currency(code: "EUR")!))))
                // These reads run on reader connections while this thread holds the write lock and the open
                // transaction; a blocked read would fail after the 5 s busy timeout instead of answering.
                XCTAssertEqual(try store.product(sku: "A")?.name, "Committed")
                XCTAssertNil(try store.product(sku: "B"))
                XCTAssertEqual(try store.basePrices(sku: "A").map(\.price.minorUnits), [100])
                XCTAssertEqual(try store.products(Store.ProductQuery()).items.map(\.sku), ["A"])
                XCTAssertEqual(try store.cursor(connector: "erp"), "c1")
                var read = 0
                try store.readRecords(entity: "product", changedSince: nil, batchSize: 10) { batch in
                    read += batch.count
                    return true
                }
                XCTAssertEqual(read, 1)
            }
        }
        XCTAssertEqual(try store.product(sku: "A")?.name, "Uncommitted")
        XCTAssertEqual(try store.product(sku: "B")?.name, "Uncommitted")
    }

    /// Many threads read (more threads than readers, so some wait for a connection) while batches are written.
    func testParallelReadsDuringImports() throws {
        let store = self.store!
        _ = try store.apply((0..<100).map { product("P\($0)") }, cursor: nil)
        let problems = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            if worker == 0 {
                for round in 0..<20 {
                    let records = (0..<100).map { i in ModelRecord.product(Product(sku: "P\(i)", name: "round \(round)")) }
                    do { _ = try store.apply(records, cursor: nil) } catch { problems.withLock { $0.append("\(error)") } }
                }
            } else {
                for i in 0..<500 {
                    do {
                        guard let p = try store.product(sku: "P\(i % 100)") else {
                            problems.withLock { $0.append("P\(i % 100) missing") }
                            continue
                        }
                        if p.name != "Name" && !p.name.hasPrefix("round ") { problems.withLock { $0.append(p.name) } }
                    } catch {
                        problems.withLock { $0.append("\(error)") }
                    }
                }
            }
        }
        XCTAssertEqual(problems.withLock { $0 }, [])
        XCTAssertEqual(try store.product(sku: "P7")?.name, "round 19")
    }

    /// Closing while reads are in flight lets them finish and later reads fail cleanly.
    func testCloseWithReadersInFlight() throws {
        let store = self.store!
        _ = try store.apply([product("A")], cursor: nil)
        let outcomes = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            if worker == 0 {
                store.close()
                return
            }
            for _ in 0..<200 {
                do {
                    _ = try store.product(sku: "A")
                } catch let error as StoreError {
                    if error.code != .closed { outcomes.withLock { $0.append("\(error)") } }
                    return
                } catch {
                    outcomes.withLock { $0.append("\(error)") }
                }
            }
        }
        XCTAssertEqual(outcomes.withLock { $0 }, [])
        XCTAssertEqual(storeError { try store.product(sku: "A") }?.code, .closed)
    }
}

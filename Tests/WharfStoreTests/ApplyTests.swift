import Dispatch
import Synchronization
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

final class ApplyTests: StoreTestCase {
    func testCountsInsertedUpdatedUnchangedExactly() throws {
        let batch: [ModelRecord] = [
            product("A", attributes: ["color": "red"]), product("B"), price("A", 100), price("A", 200, usd),
            stock("A", "wh1", 5), .source(Source(code: "wh2", name: "Two")),
        ]
        XCTAssertEqual(try store.apply(batch, cursor: nil), .counts(6, 0, 0))
        XCTAssertEqual(try store.apply(batch, cursor: nil), .counts(0, 0, 6))

        let changed: [ModelRecord] = [
            product("A", attributes: ["color": "blue"]),  // attribute changed
            product("B"),  // same
            price("A", 101),  // amount changed
            price("A", 200, usd),  // same
            stock("A", "wh1", 5, .outOfStock),  // status changed
            .source(Source(code: "wh2", name: "Two", enabled: false)),  // enabled changed
            product("C"),  // new
        ]
        XCTAssertEqual(try store.apply(changed, cursor: nil), .counts(1, 4, 2))
        XCTAssertEqual(try store.product(sku: "A")?.attributes, ["color": "blue"])
        XCTAssertEqual(try store.basePrices(sku: "A").map(\.price.minorUnits), [101, 200])
    }

    func testEveryProductFieldCountsAsAChange() throws {
        let base = Product(sku: "P", name: "N", description: "D", status: .active, attributes: ["a": "1"])
        XCTAssertEqual(try store.apply([.product(base)], cursor: nil), .counts(1, 0, 0))
        var variants: [Product] = []
        var p = base
        p.name = "N2"
        variants.append(p)
        p = base
        p.description = nil
        variants.append(p)
        p = base
        p.description = ""
        variants.append(p)
        p = base
        p.status = .inactive
        variants.append(p)
        p = base
        p.attributes = [:]
        variants.append(p)
        p = base
        p.attributes = ["a": "1", "b": "2"]
        variants.append(p)
        for variant in variants {
            XCTAssertEqual(try store.apply([.product(variant)], cursor: nil), .counts(0, 1, 0), "\(variant)")
            XCTAssertEqual(try store.product(sku: "P")?.description, variant.description)
            XCTAssertEqual(try store.apply([.product(base)], cursor: nil), .counts(0, 1, 0))
        }
        // Timestamps on input are ignored, they never make a record "changed".
        p = base
        p.updatedAt = Timestamp(millisecondsSinceEpoch: 5)
        p.createdAt = Timestamp(millisecondsSinceEpoch: 5)
        XCTAssertEqual(try store.apply([.product(p)], cursor: nil), .counts(0, 0, 1))
    }

    func testUnchangedRecordsKeepTheirUpdatedAt() throws {
        let batch: [ModelRecord] = [product("A"), price("A", 100), stock("A", "wh1", 5), .source(Source(code: "wh1"))]
        _ = try store.apply(batch, cursor: nil)
        // Back-date every row, so a write now would be visible whatever the clock does.
        for table in ["products", "base_prices", "inventory_source_items", "sources"] {
            try sql("UPDATE \(table) SET updated_at = 1000")
        }
        XCTAssertEqual(try store.apply(batch, cursor: nil), .counts(0, 0, 4))
        XCTAssertEqual(try store.product(sku: "A")?.updatedAt, Timestamp(millisecondsSinceEpoch: 1000))
        XCTAssertEqual(try store.basePrices(sku: "A").first?.updatedAt, Timestamp(millisecondsSinceEpoch: 1000))
        XCTAssertEqual(try store.inventory(sku: "A")?.items.first?.updatedAt, Timestamp(millisecondsSinceEpoch: 1000))
        XCTAssertEqual(try store.sources().first?.updatedAt, Timestamp(millisecondsSinceEpoch: 1000))

        XCTAssertEqual(try store.apply([product("A", "Renamed"), price("A", 150)], cursor: nil), .counts(0, 2, 0))
        let updated = try XCTUnwrap(try store.product(sku: "A"))
        XCTAssertGreaterThan(updated.updatedAt!.millisecondsSinceEpoch, 1000)
        XCTAssertGreaterThan(try store.basePrices(sku: "A").first!.updatedAt!.millisecondsSinceEpoch, 1000)
        XCTAssertEqual(try store.inventory(sku: "A")?.items.first?.updatedAt, Timestamp(millisecondsSinceEpoch: 1000))
    }

    /// The upserter guesses per entity whether the next record is new (INSERT first) or known (probe first); every
    /// mix of new, unchanged and changed records in any order must still be counted and stored exactly.
    func testMixedNewUnchangedAndChangedRecordsAreCountedExactly() throws {
        var model: [String: Int64] = [:]  // "entity key" -> value, what the store should hold
        var generator = SystemRandomNumberGenerator()
        for round in 0..<6 {
            var batch: [ModelRecord] = []
            var expected = Store.UpsertCounts()
            for _ in 0..<300 {
                let n = Int.random(in: 0..<40, using: &generator)
                let value = Int64.random(in: 0..<3, using: &generator)
                let record: ModelRecord
                let key: String
                switch Int.random(in: 0..<4, using: &generator) {
                case 0:
                    record = product("P\(n)", "name \(value)")
                    key = "product P\(n)"
                case 1:
                    record = .price(BasePrice(sku: "P\(n)", price: Money(minorUnits: value, currency: eur), minQuantity: 1 + Int64(n % 3)))
                    key = "price P\(n) \(n % 3)"
                case 2:
                    record = stock("P\(n)", "w\(n % 2)", value)
                    key = "stock P\(n) w\(n % 2)"
                default:
                    record = .category(Category(code: "C\(n)", name: "name \(value)", position: value))
                    key = "category C\(n)"
                }
                switch model[key] {
                case nil: expected.inserted += 1
                case value: expected.unchanged += 1
                default: expected.updated += 1
                }
                model[key] = value
                batch.append(record)
            }
            XCTAssertEqual(try store.apply(batch, cursor: nil), expected, "round \(round)")
        }
        for (key, value) in model {
            let parts = key.split(separator: " ").map(String.init)
            switch parts[0] {
            case "product": XCTAssertEqual(try store.product(sku: parts[1])?.name, "name \(value)", key)
            case "price":
                let tier = try store.basePrices(sku: parts[1]).first { $0.minQuantity == 1 + Int64(parts[2])! }
                XCTAssertEqual(tier?.price.minorUnits, value, key)
            case "stock":
                XCTAssertEqual(try store.inventory(sku: parts[1])?.items.first { $0.sourceCode == parts[2] }?.quantity, value, key)
            default: XCTAssertEqual(try store.category(code: parts[1])?.position, value, key)
            }
        }
    }

    func testSameKeyTwiceInOneBatch() throws {
        XCTAssertEqual(try store.apply([product("A"), product("A"), product("A", "New")], cursor: nil), .counts(1, 1, 1))
        XCTAssertEqual(try store.product(sku: "A")?.name, "New")
    }

    func testStockCreatesUnknownSourceAndNeedsNoProduct() throws {
        XCTAssertEqual(try store.apply([stock("NOPRODUCT", "wh-9", 3), price("NOPRODUCT", 5)], cursor: nil), .counts(2, 0, 0))
        let sources = try store.sources()
        XCTAssertEqual(sources.count, 1)
        XCTAssertEqual(sources[0].code, "wh-9")
        XCTAssertEqual(sources[0].name, "wh-9")
        XCTAssertTrue(sources[0].enabled)
        XCTAssertNil(try store.product(sku: "NOPRODUCT"))
        XCTAssertEqual(try store.inventory(sku: "NOPRODUCT")?.totalQuantity, 3)
        // A later source record names it; the created source counts as existing.
        XCTAssertEqual(try store.apply([.source(Source(code: "wh-9", name: "Nine"))], cursor: nil), .counts(0, 1, 0))
        // A source record then stock in one batch; stock for an existing source does not touch it.
        XCTAssertEqual(
            try store.apply([.source(Source(code: "wh-10", name: "Ten")), stock("X", "wh-10", 1), stock("X", "wh-9", 1)], cursor: nil),
            .counts(3, 0, 0))
        XCTAssertEqual(try store.sources().map(\.name), ["Ten", "Nine"])  // "wh-10" < "wh-9"
    }

    func testCursorMovesWithItsBatch() throws {
        XCTAssertNil(try store.cursor(connector: "erp"))
        _ = try store.apply([product("A")], cursor: ("erp", "c1"))
        XCTAssertEqual(try store.cursor(connector: "erp"), "c1")
        _ = try store.apply([], cursor: ("erp", "c2"))  // a cursor alone may move
        XCTAssertEqual(try store.cursor(connector: "erp"), "c2")
        _ = try store.apply([product("B")], cursor: nil)  // no cursor: unchanged
        XCTAssertEqual(try store.cursor(connector: "erp"), "c2")
        _ = try store.apply([], cursor: ("pim", "p1"))
        XCTAssertEqual(try store.cursor(connector: "erp"), "c2")
        XCTAssertEqual(try store.cursor(connector: "pim"), "p1")
    }

    func testFailingBatchRollsBackDataCursorAndRejects() throws {
        let run = try store.beginRun(connector: "erp", pluginID: "p", trigger: .manual)
        _ = try store.apply([product("A", "Old")], cursor: ("erp", "c1"))
        // A reject naming a run that does not exist fails at the end of the batch, after the records were written.
        let error = storeError {
            try store.apply(
                [product("A", "New"), product("B"), stock("B", "wh1", 1)], cursor: ("erp", "c2"),
                rejects: [
                    NewReject(runID: run.id, connector: "erp", reason: "fine"),
                    NewReject(runID: 9999, connector: "erp", reason: "no such run"),
                ])
        }
        XCTAssertEqual(error?.code, .invalidRecord)
        XCTAssertEqual(
            error?.message,
            "cannot apply a batch of 3 records in database \(store.path): reject 2 (of run 9999): "
                + "FOREIGN KEY constraint failed; nothing of the batch was stored")
        XCTAssertEqual(try store.product(sku: "A")?.name, "Old")
        XCTAssertNil(try store.product(sku: "B"))
        XCTAssertEqual(try store.sources(), [])
        XCTAssertEqual(try store.cursor(connector: "erp"), "c1")
        XCTAssertEqual(try store.rejects(runID: run.id, limit: 10, afterID: nil), [])
        // The store still works after the rollback.
        XCTAssertEqual(try store.apply([product("B")], cursor: ("erp", "c3")), .counts(1, 0, 0))
    }

    func testFailingRecordIsNamedAndEverythingRollsBack() throws {
        try sql(
            """
            CREATE TRIGGER boom BEFORE INSERT ON products WHEN NEW.sku = 'BOOM'
            BEGIN SELECT RAISE(ABORT, 'the test trigger refused BOOM'); END
            """)
        let error = storeError {
            try store.apply([product("A"), price("A", 1), product("BOOM"), product("C")], cursor: ("erp", "c1"))
        }
        XCTAssertEqual(
            error?.message,
            "cannot apply a batch of 4 records in database \(store.path): record 3 (product 'BOOM'): "
                + "the test trigger refused BOOM; nothing of the batch was stored")
        XCTAssertNil(try store.product(sku: "A"))
        XCTAssertEqual(try store.basePrices(sku: "A"), [])
        XCTAssertNil(try store.cursor(connector: "erp"))
    }

    func testInvalidRecordFailsTheBatchBeforeWriting() throws {
        let error = storeError {
            try store.apply([product("A"), product("a/b")], cursor: ("erp", "c1"))
        }
        XCTAssertEqual(error?.code, .invalidRecord)
        XCTAssertEqual(
            error?.message,
            "cannot apply a batch of 2 records: record 2 (product 'a/b') is invalid: sku 'a/b' contains '/', which SKUs "
                + "may not (it would break URLs); nothing of the batch was stored")
        XCTAssertNil(try store.product(sku: "A"))
        XCTAssertNil(try store.cursor(connector: "erp"))
        XCTAssertThrowsError(try store.apply([price("A", -1)], cursor: nil))
        XCTAssertThrowsError(try store.apply([stock("A", "w", -1)], cursor: nil))
    }

    func testRejectsStoredWithTheirBatch() throws {
        let run = try store.beginRun(connector: "erp", pluginID: "p", trigger: .scheduled)
        _ = try store.apply(
            [product("A")], cursor: nil,
            rejects: [NewReject(runID: run.id, connector: "erp", entity: "product", field: "sku", reason: "bad")])
        let rejects = try store.rejects(runID: run.id, limit: 10, afterID: nil)
        XCTAssertEqual(rejects.map(\.reason), ["bad"])
        XCTAssertEqual(rejects.first?.field, "sku")
    }

    func testConcurrentAppliesAreSerialized() throws {
        let store = self.store!
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for batch in 0..<10 {
                let records = (0..<50).map { i in
                    ModelRecord.product(Product(sku: "W\(worker)-B\(batch)-\(i)", name: "n"))
                }
                do {
                    let counts = try store.apply(records, cursor: ("w\(worker)", "\(batch)"))
                    if counts != .counts(50, 0, 0) { failures.withLock { $0.append("\(counts)") } }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM products"), 2000)
        for worker in 0..<4 { XCTAssertEqual(try store.cursor(connector: "w\(worker)"), "9") }
    }
}

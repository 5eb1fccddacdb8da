import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

final class CatalogTests: StoreTestCase {
    // MARK: products(_:)

    /// Every combination of filters and page sizes on a small catalog, paged to the end, against an in-memory
    /// filter of the same data.
    func testProductPagingAndFiltersExhaustively() throws {
        let skus = [
            "A", "A-1", "A-2", "A-10", "AB", "AB-1", "ABC", "B", "B-1", "Ba", "a", "a-1", "É-1", "É-2", "Éa", "Z",
            "Z\u{10FFFF}", "漢字-1", "0", "9-9", "A\u{7E}", "A\u{A0}x",
        ]
        var records: [ModelRecord] = []
        for (i, sku) in skus.enumerated() {
            records.append(product(sku, "Product \(i)", status: i % 3 == 0 ? .inactive : .active))
        }
        _ = try store.apply(records, cursor: nil)
        // Spread updated_at over three instants.
        var expected: [Product] = []
        for (i, sku) in skus.enumerated() {
            let t = Int64(1000 * (i % 3 + 1))
            try sql("UPDATE products SET updated_at = \(t) WHERE sku = '\(sku)'")
            expected.append(
                Product(sku: sku, name: "Product \(i)", status: i % 3 == 0 ? .inactive : .active,
                        updatedAt: Timestamp(millisecondsSinceEpoch: t)))
        }
        expected.sort { $0.sku.utf8.lexicographicallyPrecedes($1.sku.utf8) }  // SQLite's BINARY order

        var combinations = 0
        for prefix in [nil, "", "A", "A-", "AB", "B", "a", "É", "Z", "漢", "Q", "A-1"] as [String?] {
            for status in [nil, ProductStatus.active, .inactive] {
                for since in [nil, 1000, 2000, 3000, 4000] as [Int64?] {
                    let want = expected.filter { p in
                        (prefix == nil || p.sku.utf8.starts(with: prefix!.utf8))
                            && (status == nil || p.status == status)
                            && (since == nil || p.updatedAt!.millisecondsSinceEpoch >= since!)
                    }.map(\.sku)
                    for limit in [1, 2, 3, 7, 1000] {
                        combinations += 1
                        var got: [String] = []
                        var after: String?
                        var pages = 0
                        repeat {
                            let page = try store.products(
                                Store.ProductQuery(
                                    skuPrefix: prefix, status: status,
                                    updatedSince: since.map { Timestamp(millisecondsSinceEpoch: $0) }, after: after,
                                    limit: limit))
                            pages += 1
                            XCTAssertLessThanOrEqual(page.items.count, limit)
                            if page.nextAfter != nil {
                                XCTAssertEqual(page.items.count, limit, "a page before the last is full")
                                XCTAssertEqual(page.nextAfter, page.items.last?.sku)
                            }
                            got += page.items.map(\.sku)
                            after = page.nextAfter
                            XCTAssertLessThan(pages, 100)
                        } while after != nil && pages < 100
                        let context = "prefix \(prefix ?? "nil") status \(status?.rawValue ?? "nil") since \(since ?? -1) limit \(limit)"
                        XCTAssertEqual(got, want, context)
                        // nextAfter is nil exactly on the last page: the page count is the minimum needed.
                        XCTAssertEqual(pages, max(1, (want.count + limit - 1) / limit), context)
                    }
                }
            }
        }
        XCTAssertEqual(combinations, 12 * 3 * 5 * 5)
        // Whole products come back, not just keys.
        let first = try store.products(Store.ProductQuery(skuPrefix: "AB", limit: 1)).items.first
        XCTAssertEqual(first?.name, "Product 4")
        XCTAssertNotNil(first?.createdAt)
    }

    func testProductLimitIsValidated() {
        for limit in [0, -1, 1001] {
            XCTAssertEqual(storeError { try store.products(Store.ProductQuery(limit: limit)) }?.code, .invalidArgument)
        }
        XCTAssertEqual(try store.products(Store.ProductQuery(limit: 1000)).items, [])
    }

    // MARK: One product

    func testProductRoundTripsEveryField() throws {
        let attributes = [
            "color": "red", "quote\"d": "back\\slash", "newline": "a\nb\tc\r", "unicode": "Ünïcødé 漢字 😀",
            "control": "\u{01}\u{1F}", "empty-ish": " ", "json": "{\"a\":[1,2]}", "slash": "a/b",
        ]
        let input = Product(sku: "SKU-1", name: "Shirt", description: "Long\ntext", status: .inactive, attributes: attributes)
        _ = try store.apply([.product(input)], cursor: nil)
        let stored = try XCTUnwrap(try store.product(sku: "SKU-1"))
        XCTAssertEqual(stored.sku, "SKU-1")
        XCTAssertEqual(stored.name, "Shirt")
        XCTAssertEqual(stored.description, "Long\ntext")
        XCTAssertEqual(stored.status, .inactive)
        XCTAssertEqual(stored.attributes, attributes)
        XCTAssertNotNil(stored.createdAt)
        XCTAssertEqual(stored.createdAt, stored.updatedAt)
        XCTAssertNil(try store.product(sku: "sku-1"))  // keys are case-sensitive
        XCTAssertNil(try store.product(sku: ""))
        // The same attributes in another order are the same text, so re-applying is "unchanged".
        XCTAssertEqual(try store.apply([.product(input)], cursor: nil), .counts(0, 0, 1))
    }

    func testAttributesJSONIsCanonicalAndDecodable() {
        XCTAssertEqual(AttributesJSON.encode([:]), "{}")
        XCTAssertEqual(AttributesJSON.encode(["b": "2", "a": "1", "B": "x"]), #"{"B":"x","a":"1","b":"2"}"#)
        XCTAssertEqual(AttributesJSON.encode(["q": "\"\\\n\u{01}"]), #"{"q":"\"\\\n\u0001"}"#)
        func decode(_ text: String) -> [String: String]? {
            var text = text
            return text.withUTF8 { AttributesJSON.decode($0) }
        }
        XCTAssertEqual(decode(#" { "a" : "1" , "b":"\u00e9\ud83d\ude00\/\b\f\t" } "#), ["a": "1", "b": "é😀/\u{8}\u{c}\t"])
        XCTAssertEqual(decode("{}"), [:])
        for bad in ["", "[]", "{", #"{"a":1}"#, #"{"a":"1",}"#, #"{"a":"1"} x"#, #"{"a":"\x"}"#, #"{"a":"\ud83d"}"#, #"{"a""#] {
            XCTAssertNil(decode(bad), bad)
        }
    }

    func testPutProductOutcomes() throws {
        let (o1, p1) = try store.putProduct(Product(sku: "P", name: "One", attributes: ["a": "1"]))
        XCTAssertEqual(o1, .inserted)
        XCTAssertEqual(p1.name, "One")
        XCTAssertEqual(p1.attributes, ["a": "1"])
        let created = try XCTUnwrap(p1.createdAt)
        XCTAssertEqual(p1.updatedAt, created)

        try sql("UPDATE products SET created_at = 500, updated_at = 500")
        let (o2, p2) = try store.putProduct(Product(sku: "P", name: "One", attributes: ["a": "1"]))
        XCTAssertEqual(o2, .unchanged)
        XCTAssertEqual(p2.updatedAt, Timestamp(millisecondsSinceEpoch: 500))

        let (o3, p3) = try store.putProduct(Product(sku: "P", name: "Two"))
        XCTAssertEqual(o3, .updated)
        XCTAssertEqual(p3.name, "Two")
        XCTAssertEqual(p3.attributes, [:])
        XCTAssertEqual(p3.createdAt, Timestamp(millisecondsSinceEpoch: 500))
        XCTAssertGreaterThan(p3.updatedAt!.millisecondsSinceEpoch, 500)
        XCTAssertEqual(try store.product(sku: "P"), p3)

        let error = storeError { try store.putProduct(Product(sku: "P", name: "")) }
        XCTAssertEqual(error?.code, .invalidRecord)
        XCTAssertEqual(error?.message, "product 'P' is invalid: name is empty; it needs 1 to 512 characters")
    }

    func testDeleteProductRemovesPricesAndStock() throws {
        _ = try store.apply(
            [product("A"), price("A", 1), price("A", 2, usd), stock("A", "w1", 1), stock("A", "w2", 2), product("B"),
             price("B", 3), stock("B", "w1", 4)], cursor: nil)
        XCTAssertTrue(try store.deleteProduct(sku: "A"))
        XCTAssertNil(try store.product(sku: "A"))
        XCTAssertEqual(try store.basePrices(sku: "A"), [])
        XCTAssertNil(try store.inventory(sku: "A"))
        XCTAssertFalse(try store.deleteProduct(sku: "A"))
        // Other products and the sources stay.
        XCTAssertNotNil(try store.product(sku: "B"))
        XCTAssertEqual(try store.basePrices(sku: "B").count, 1)
        XCTAssertEqual(try store.inventory(sku: "B")?.totalQuantity, 4)
        XCTAssertEqual(try store.sources().map(\.code), ["w1", "w2"])
        // Orphan prices and stock (no product) are removed too, though no product existed.
        _ = try store.apply([price("C", 1), stock("C", "w1", 1)], cursor: nil)
        XCTAssertFalse(try store.deleteProduct(sku: "C"))
        XCTAssertEqual(try store.basePrices(sku: "C"), [])
        XCTAssertNil(try store.inventory(sku: "C"))
    }

    func testBasePricesOrderedByCurrency() throws {
        _ = try store.apply([price("A", 1250, usd), price("A", 999), price("A", 1500, jpy), price("B", 1)], cursor: nil)
        let prices = try store.basePrices(sku: "A")
        XCTAssertEqual(prices.map(\.price.currency.code), ["EUR", "JPY", "USD"])
        XCTAssertEqual(prices.map(\.price.decimalString), ["9.99", "1500", "12.50"])
        XCTAssertTrue(prices.allSatisfy { $0.sku == "A" && $0.updatedAt != nil })
        XCTAssertEqual(try store.basePrices(sku: "none"), [])
    }

    func testProductWithPrices() throws {
        _ = try store.apply([product("A", "Shirt"), price("A", 1250, usd), price("A", 999), price("ORPHAN", 5)], cursor: nil)
        let detail = try XCTUnwrap(try store.productWithPrices(sku: "A"))
        XCTAssertEqual(detail.product, try store.product(sku: "A"))
        XCTAssertEqual(detail.prices, try store.basePrices(sku: "A"))
        XCTAssertEqual(detail.prices.map(\.price.currency.code), ["EUR", "USD"])
        XCTAssertNil(try store.productWithPrices(sku: "ORPHAN"))
        XCTAssertNil(try store.productWithPrices(sku: "NONE"))
    }

    func testInventoryTotals() throws {
        _ = try store.apply(
            [product("A"), stock("A", "w3", 5), stock("A", "w1", 10), stock("A", "w2", 7, .outOfStock),
             stock("A", "w4", 0), product("EMPTY"), stock("ORPHAN", "w1", 2)], cursor: nil)
        let summary = try XCTUnwrap(try store.inventory(sku: "A"))
        XCTAssertEqual(summary.sku, "A")
        XCTAssertEqual(summary.items.map(\.sourceCode), ["w1", "w2", "w3", "w4"])
        XCTAssertEqual(summary.items.map(\.status), [.inStock, .outOfStock, .inStock, .outOfStock])
        XCTAssertEqual(summary.totalQuantity, 15)
        XCTAssertEqual(try store.inventory(sku: "EMPTY"), InventorySummary(sku: "EMPTY", items: []))
        XCTAssertEqual(try store.inventory(sku: "ORPHAN")?.totalQuantity, 2)
        XCTAssertNil(try store.inventory(sku: "NONE"))
    }

    // MARK: readRecords

    func testReadRecordsInKeyOrderAndBatches() throws {
        var records: [ModelRecord] = []
        for i in (0..<25).reversed() {
            let sku = "S\(String(format: "%02d", i))"
            records += [product(sku), price(sku, Int64(i), usd), price(sku, Int64(i)), stock(sku, "w2", Int64(i)), stock(sku, "w1", 1)]
            // Tiers share SKU and currency: the price key has three parts.
            if i % 5 == 0 { records.append(.price(BasePrice(sku: sku, price: Money(minorUnits: 1, currency: eur), minQuantity: 10))) }
            if i % 2 == 0 { records.append(.category(Category(code: "cat-\(sku)", name: "C"))) }
        }
        _ = try store.apply(records, cursor: nil)
        for batchSize in [1, 4, 7, 50, 10_000] {
            for entity in ModelRecord.entities {
                var all: [ModelRecord] = []
                var batches = 0
                try store.readRecords(entity: entity, changedSince: nil, batchSize: batchSize) { batch in
                    XCTAssertFalse(batch.isEmpty)
                    XCTAssertLessThanOrEqual(batch.count, batchSize)
                    batches += 1
                    all += batch
                    return true
                }
                let expectedCount = ["source": 2, "product": 25, "price": 55, "stock": 50, "category": 13][entity]!
                XCTAssertEqual(all.count, expectedCount, "\(entity) \(batchSize)")
                XCTAssertTrue(all.allSatisfy { $0.entity == entity })
                let keys = all.map { record -> String in
                    switch record {
                    case .product(let p): return p.sku
                    case .price(let p): return p.sku + "|" + p.price.currency.code + "|" + String(p.minQuantity + 100)
                    case .stock(let s): return s.sku + "|" + s.sourceCode
                    case .source(let s): return s.code
                    case .category(let c): return c.code
                    case .orderStatus, .shipment, .orderReturn: return ""
                    case .company, .companyUser, .customerGroup: return ""  // never read back
                    case .pricing: return ""
                    }
                }
                XCTAssertEqual(keys, keys.sorted(), "\(entity) in key order")
                XCTAssertEqual(Set(keys).count, keys.count, "\(entity) without repeats")
                XCTAssertLessThanOrEqual(batches, expectedCount / batchSize + 1)
            }
        }
        // Records carry their updated_at for exports.
        var first: ModelRecord?
        try store.readRecords(entity: "price", changedSince: nil, batchSize: 1) { batch in
            first = batch.first
            return false
        }
        guard case .price(let p) = first else { return XCTFail("expected a price") }
        XCTAssertEqual(p.sku, "S00")
        XCTAssertEqual(p.price, Money(minorUnits: 0, currency: eur))
        XCTAssertNotNil(p.updatedAt)
    }

    func testReadRecordsChangedSinceAndStop() throws {
        _ = try store.apply([product("A"), product("B"), product("C"), price("A", 1), price("B", 1), stock("C", "w", 1)], cursor: nil)
        try sql("UPDATE products SET updated_at = 100 WHERE sku IN ('A', 'C')")
        try sql("UPDATE products SET updated_at = 300 WHERE sku = 'B'")
        try sql("UPDATE base_prices SET updated_at = 100 WHERE sku = 'A'")
        try sql("UPDATE base_prices SET updated_at = 300 WHERE sku = 'B'")
        func skus(_ entity: String, _ since: Int64?) throws -> [String] {
            var out: [String] = []
            try store.readRecords(
                entity: entity, changedSince: since.map { Timestamp(millisecondsSinceEpoch: $0) }, batchSize: 1
            ) { batch in
                for record in batch {
                    switch record {
                    case .product(let p): out.append(p.sku)
                    case .price(let p): out.append(p.sku)
                    default: break
                    }
                }
                return true
            }
            return out
        }
        XCTAssertEqual(try skus("product", nil), ["A", "B", "C"])
        XCTAssertEqual(try skus("product", 100), ["A", "B", "C"])
        XCTAssertEqual(try skus("product", 101), ["B"])
        XCTAssertEqual(try skus("product", 300), ["B"])
        XCTAssertEqual(try skus("product", 301), [])
        XCTAssertEqual(try skus("price", 200), ["B"])

        var calls = 0
        try store.readRecords(entity: "product", changedSince: nil, batchSize: 1) { _ in
            calls += 1
            return false
        }
        XCTAssertEqual(calls, 1)

        struct Stop: Error {}
        XCTAssertThrowsError(try store.readRecords(entity: "product", changedSince: nil, batchSize: 2) { _ in throw Stop() }) {
            XCTAssertTrue($0 is Stop)
        }
        XCTAssertThrowsError(try store.readRecords(entity: "order", changedSince: nil, batchSize: 2) { _ in true }) {
            XCTAssertEqual(
                ($0 as? StoreError)?.message,
                "unknown entity 'order'; this host knows source, product, price, stock, category")
        }
        for size in [0, 10_001] {
            XCTAssertThrowsError(try store.readRecords(entity: "product", changedSince: nil, batchSize: size) { _ in true }) {
                XCTAssertEqual(($0 as? StoreError)?.code, .invalidArgument)
            }
        }
    }
}

import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

/// Product categories, media and texts, the category entity and price tiers in the store.
final class CatalogContentTests: StoreTestCase {
    private let rich = Product(
        sku: "A", name: "Shirt", description: "Cotton", attributes: ["color": "red"],
        categories: ["men/shirts", "sale", "new"], media: ["https://cdn.example.com/a.jpg", "/media/b.png", "c.jpg"],
        texts: [
            "de": LocalizedText(name: "Hemd", description: "Baumwolle"), "en-GB": LocalizedText(name: "Shirt (UK)"),
            "fr": LocalizedText(description: "Coton"),
        ])

    private func content(_ p: Product?) -> String {
        guard let p else { return "nil" }
        let texts = p.texts.keys.sorted().map { "\($0)=\(p.texts[$0]!.name ?? "-")/\(p.texts[$0]!.description ?? "-")" }
        return "\(p.categories) \(p.media) \(texts)"
    }

    func testProductContentRoundTripsThroughEveryRead() throws {
        XCTAssertEqual(try store.apply([.product(rich), product("PLAIN"), price("A", 100)], cursor: nil), .counts(3, 0, 0))
        let stored = try XCTUnwrap(try store.product(sku: "A"))
        XCTAssertEqual(stored.categories, rich.categories)
        XCTAssertEqual(stored.media, rich.media)
        XCTAssertEqual(stored.texts, rich.texts)
        var expected = rich
        expected.createdAt = stored.createdAt
        expected.updatedAt = stored.updatedAt
        XCTAssertEqual(stored, expected)
        XCTAssertEqual(try store.productWithPrices(sku: "A")?.product, stored)
        XCTAssertEqual(try store.products(Store.ProductQuery()).items, [stored, try store.product(sku: "PLAIN")!])
        XCTAssertEqual(try store.product(sku: "PLAIN")?.categories, [])
        var exported: [ModelRecord] = []
        try store.readRecords(entity: "product", changedSince: nil, batchSize: 10) { batch in
            exported += batch
            return true
        }
        XCTAssertEqual(exported.first, .product(stored))
        // The content tables hold one row per link, medium and language.
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM product_categories WHERE sku = 'A'"), 3)
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM product_media WHERE sku = 'A'"), 3)
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM product_texts WHERE sku = 'A'"), 3)
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM products WHERE content_digest IS NULL"), 1)  // PLAIN
    }

    func testStoreNormalizesWhatValidationWould() throws {
        var p = Product(sku: "N", name: "N", categories: ["b", "a", "b"], texts: ["en-gb": LocalizedText(name: "x")])
        XCTAssertEqual(try store.apply([.product(p)], cursor: nil), .counts(1, 0, 0))
        XCTAssertEqual(try store.product(sku: "N")?.categories, ["b", "a"])
        XCTAssertEqual(try store.product(sku: "N")?.texts.keys.sorted(), ["en-GB"])
        // The normalized and the raw spelling are the same product.
        p.categories = ["b", "a"]
        p.texts = ["en-GB": LocalizedText(name: "x")]
        XCTAssertEqual(try store.apply([.product(p)], cursor: nil), .counts(0, 0, 1))
    }

    func testUnchangedDetectionIncludesCategoriesMediaAndTexts() throws {
        XCTAssertEqual(try store.apply([.product(rich)], cursor: nil), .counts(1, 0, 0))
        try sql("UPDATE products SET updated_at = 1000")
        XCTAssertEqual(try store.apply([.product(rich)], cursor: nil), .counts(0, 0, 1))
        XCTAssertEqual(try store.product(sku: "A")?.updatedAt, Timestamp(millisecondsSinceEpoch: 1000))

        var variants: [(String, Product)] = []
        func variant(_ label: String, _ change: (inout Product) -> Void) {
            var p = rich
            change(&p)
            variants.append((label, p))
        }
        variant("category removed") { $0.categories.removeLast() }
        variant("category added") { $0.categories.append("x") }
        variant("categories reordered") { $0.categories.swapAt(0, 1) }
        variant("no categories") { $0.categories = [] }
        variant("medium changed") { $0.media[2] = "d.jpg" }
        variant("media reordered") { $0.media.reverse() }
        variant("medium added") { $0.media.append("e.jpg") }
        variant("no media") { $0.media = [] }
        variant("text name changed") { $0.texts["de"]?.name = "Oberhemd" }
        variant("text description removed") { $0.texts["de"]?.description = nil }
        variant("description moved to name") { $0.texts["fr"] = LocalizedText(name: "Coton") }
        variant("language added") { $0.texts["it"] = LocalizedText(name: "Camicia") }
        variant("language removed") { $0.texts["fr"] = nil }
        variant("no content") {
            $0.categories = []
            $0.media = []
            $0.texts = [:]
        }
        variant("category text moved to media") {
            $0.categories = ["x"]
            $0.media = []
        }
        variant("media text moved to categories") {
            $0.categories = []
            $0.media = ["x"]
        }
        for (label, p) in variants {
            XCTAssertEqual(try store.apply([.product(p)], cursor: nil), .counts(0, 1, 0), label)
            XCTAssertEqual(content(try store.product(sku: "A")), content(p), label)
            XCTAssertEqual(try store.apply([.product(p)], cursor: nil), .counts(0, 0, 1), label + " again")
            XCTAssertEqual(try store.apply([.product(rich)], cursor: nil), .counts(0, 1, 0), label + " back")
            XCTAssertEqual(content(try store.product(sku: "A")), content(rich), label + " back")
        }
        // A changed name rewrites the content rows without losing them.
        var renamed = rich
        renamed.name = "Renamed"
        XCTAssertEqual(try store.apply([.product(renamed)], cursor: nil), .counts(0, 1, 0))
        XCTAssertEqual(content(try store.product(sku: "A")), content(rich))
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM product_categories"), 3)
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM product_texts"), 3)
    }

    func testPutProductAndDeleteProductHandleContent() throws {
        let (outcome, stored) = try store.putProduct(rich)
        XCTAssertEqual(outcome, .inserted)
        XCTAssertEqual(stored.categories, rich.categories)
        XCTAssertEqual(try store.putProduct(rich).outcome, .unchanged)
        let withoutContent = Product(sku: "A", name: "Shirt", description: "Cotton", attributes: ["color": "red"])
        XCTAssertEqual(try store.putProduct(withoutContent).outcome, .updated)
        XCTAssertEqual(try sqlInt("SELECT count(*) FROM product_media"), 0)
        _ = try store.putProduct(rich)
        _ = try store.apply([product("B", attributes: [:]), .product(Product(sku: "B", name: "B", categories: ["sale"]))], cursor: nil)
        XCTAssertTrue(try store.deleteProduct(sku: "A"))
        for table in ["product_categories", "product_media", "product_texts"] {
            XCTAssertEqual(try sqlInt("SELECT count(*) FROM \(table) WHERE sku = 'A'"), 0, table)
        }
        XCTAssertEqual(try store.product(sku: "B")?.categories, ["sale"])  // others stay
        // A product created again after its deletion starts without the old content.
        _ = try store.apply([product("A")], cursor: nil)
        XCTAssertEqual(content(try store.product(sku: "A")), content(Product(sku: "A", name: "N")))
    }

    func testCategoriesUpsertListAndExport() throws {
        let men = Category(code: "men", name: "Men", position: 1, texts: ["de": "Herren"])
        let shirts = Category(code: "men/shirts", name: "Shirts", parent: "men", position: 2)
        let orphan = Category(code: "z", name: "Z", parent: "not-yet-delivered")
        XCTAssertEqual(
            try store.apply([.category(shirts), .category(men), .category(orphan)], cursor: nil), .counts(3, 0, 0))
        XCTAssertEqual(try store.apply([.category(men), .category(shirts)], cursor: nil), .counts(0, 0, 2))
        let listed = try store.categories()
        XCTAssertEqual(listed.map(\.code), ["men", "men/shirts", "z"])
        XCTAssertEqual(listed[0].texts, ["de": "Herren"])
        XCTAssertEqual(listed[1].parent, "men")
        XCTAssertEqual(listed[1].position, 2)
        XCTAssertNil(listed[0].parent)
        XCTAssertNotNil(listed[0].updatedAt)
        XCTAssertEqual(try store.category(code: "men/shirts")?.name, "Shirts")
        XCTAssertNil(try store.category(code: "none"))

        try sql("UPDATE categories SET updated_at = 1000")
        for change in [
            Category(code: "men", name: "Herren", position: 1, texts: ["de": "Herren"]),
            Category(code: "men", name: "Men", parent: "root", position: 1, texts: ["de": "Herren"]),
            Category(code: "men", name: "Men", position: nil, texts: ["de": "Herren"]),
            Category(code: "men", name: "Men", position: 1, texts: ["de": "Herren", "fr": "Hommes"]),
            Category(code: "men", name: "Men", position: 1),
        ] {
            XCTAssertEqual(try store.apply([.category(change)], cursor: nil), .counts(0, 1, 0), "\(change)")
            XCTAssertEqual(try store.category(code: "men")?.texts, change.texts)
            XCTAssertEqual(try store.apply([.category(men)], cursor: nil), .counts(0, 1, 0))
        }
        XCTAssertEqual(try store.category(code: "men/shirts")?.updatedAt, Timestamp(millisecondsSinceEpoch: 1000))
        // Language tags in another case are the same names.
        XCTAssertEqual(
            try store.apply([.category(Category(code: "men", name: "Men", position: 1, texts: ["DE": "Herren"]))], cursor: nil),
            .counts(0, 0, 1))

        var exported: [ModelRecord] = []
        try store.readRecords(entity: "category", changedSince: Timestamp(millisecondsSinceEpoch: 1001), batchSize: 1) {
            exported += $0
            return true
        }
        XCTAssertEqual(exported.map(\.entity), ["category"])
        guard case .category(let c) = exported.first else { return XCTFail("no category") }
        XCTAssertEqual(c.code, "men")
        XCTAssertEqual(RecordCodec.encode(exported[0]).map(\.name), ["code", "name", "position", "name.de", "updated_at"])
    }

    func testPriceTiers() throws {
        func tier(_ minor: Int64, _ min: Int64, _ currency: Currency? = nil, sku: String = "A") -> ModelRecord {
            .price(BasePrice(sku: sku, price: Money(minorUnits: minor, currency: currency ?? eur), minQuantity: min))
        }
        XCTAssertEqual(
            try store.apply(
                [tier(800, 100), tier(1000, 1), tier(900, 10), tier(1200, 1, usd), tier(1100, 10, usd), tier(5, 1, sku: "B")],
                cursor: nil),
            .counts(6, 0, 0))
        let prices = try store.basePrices(sku: "A")
        XCTAssertEqual(prices.map { "\($0.price.currency.code)@\($0.minQuantity)=\($0.price.minorUnits)" },
                       ["EUR@1=1000", "EUR@10=900", "EUR@100=800", "USD@1=1200", "USD@10=1100"])
        XCTAssertEqual(try store.productWithPrices(sku: "A")?.prices, nil)  // no product
        _ = try store.apply([product("A")], cursor: nil)
        XCTAssertEqual(try store.productWithPrices(sku: "A")?.prices, prices)
        // Each tier is its own row: changing one leaves the others unchanged.
        XCTAssertEqual(try store.apply([tier(850, 10), tier(1000, 1), tier(800, 100)], cursor: nil), .counts(0, 1, 2))
        XCTAssertEqual(try store.basePrices(sku: "A").map(\.price.minorUnits), [1000, 850, 800, 1200, 1100])
        // A price without min_quantity is the tier from 1.
        XCTAssertEqual(try store.apply([price("A", 999)], cursor: nil), .counts(0, 1, 0))
        XCTAssertEqual(try store.basePrices(sku: "A").first?.price.minorUnits, 999)
        // Exports page through all three key parts.
        for batchSize in [1, 2, 3, 100] {
            var keys: [String] = []
            try store.readRecords(entity: "price", changedSince: nil, batchSize: batchSize) { batch in
                for case .price(let p) in batch { keys.append("\(p.sku)/\(p.price.currency.code)/\(p.minQuantity)") }
                return true
            }
            XCTAssertEqual(keys, ["A/EUR/1", "A/EUR/10", "A/EUR/100", "A/USD/1", "A/USD/10", "B/EUR/1"], "\(batchSize)")
        }
        XCTAssertThrowsError(try store.apply([tier(1, 0)], cursor: nil)) { error in
            XCTAssertEqual((error as? StoreError)?.code, .invalidRecord)
        }
    }

    func testContentDigestIsSipHashOfACanonicalEncoding() {
        // SipHash-2-4 reference vectors (key 00..0f; messages 00..n-1).
        let k0: UInt64 = 0x0706_0504_0302_0100
        let k1: UInt64 = 0x0F0E_0D0C_0B0A_0908
        func sip(_ n: Int) -> UInt64 {
            let bytes = (0..<n).map { UInt8($0) }
            return bytes.withUnsafeBytes { SipHash24.hash($0, k0: k0, k1: k1) }
        }
        XCTAssertEqual(sip(0), 0x726F_DB47_DD0E_0E31)
        XCTAssertEqual(sip(1), 0x74F8_39C5_93DC_67FD)
        XCTAssertEqual(sip(7), 0xAB02_00F5_8B01_D137)
        XCTAssertEqual(sip(15), 0xA129_CA61_49BE_45E5)
        XCTAssertEqual(sip(8), 0x93F5_F579_9A93_2462)

        XCTAssertNil(ContentDigest.of(categories: [], media: [], texts: [:]))
        let a = ContentDigest.of(categories: ["ab"], media: [], texts: [:])
        XCTAssertEqual(a?.count, 16)
        // Boundaries between values are part of the encoding: these must all differ.
        let variants: [[UInt8]?] = [
            a, ContentDigest.of(categories: ["a", "b"], media: [], texts: [:]),
            ContentDigest.of(categories: [], media: ["ab"], texts: [:]),
            ContentDigest.of(categories: ["a"], media: ["b"], texts: [:]),
            ContentDigest.of(categories: [], media: [], texts: ["ab": LocalizedText(name: "")]),
            ContentDigest.of(categories: [], media: [], texts: ["ab": LocalizedText()]),
            ContentDigest.of(categories: [], media: [], texts: ["ab": LocalizedText(description: "")]),
        ]
        XCTAssertEqual(Set(variants.map { $0! }).count, variants.count)
        // Stable across runs and processes: a stored digest must match the next import's.
        XCTAssertEqual(
            ContentDigest.of(categories: ["men"], media: [], texts: [:]),
            ContentDigest.of(categories: ["men"], media: [], texts: [:]))
    }
}

import WharfModel
import XCTest

final class ValidationTests: XCTestCase {
    private func productError(_ product: Product) -> FieldError? {
        do {
            _ = try product.validated()
            return nil
        } catch { return error }
    }

    func testSKURules() {
        XCTAssertNil(productError(Product(sku: "A", name: "n")))
        XCTAssertNil(productError(Product(sku: String(repeating: "x", count: 64), name: "n")))
        XCTAssertNil(productError(Product(sku: "Ünïcødé-€-漢字 with space", name: "n")))
        XCTAssertEqual(
            productError(Product(sku: String(repeating: "x", count: 65), name: "n")),
            FieldError(field: "sku", reason: "sku must be 1 to 64 characters, got 65"))
        XCTAssertEqual(
            productError(Product(sku: "", name: "n")),
            FieldError(field: "sku", reason: "sku is empty; a SKU needs 1 to 64 characters"))
        XCTAssertEqual(productError(Product(sku: "a/b", name: "n"))?.field, "sku")
        XCTAssertTrue(productError(Product(sku: "a/b", name: "n"))!.reason.contains("contains '/'"))
        for control in ["a\nb", "a\tb", "\u{0}", "a\u{7F}", "a\u{85}"] {
            let error = productError(Product(sku: control, name: "n"))
            XCTAssertEqual(error?.field, "sku", control)
            XCTAssertTrue(error?.reason.contains("control character") ?? false, control)
        }
    }

    func testNameAndAttributeRules() {
        XCTAssertNil(productError(Product(sku: "A", name: String(repeating: "n", count: 512))))
        XCTAssertEqual(
            productError(Product(sku: "A", name: String(repeating: "n", count: 513))),
            FieldError(field: "name", reason: "name must be 1 to 512 characters, got 513"))
        XCTAssertEqual(productError(Product(sku: "A", name: ""))?.field, "name")
        XCTAssertNil(productError(Product(sku: "A", name: "n", attributes: [String(repeating: "a", count: 128): "v"])))
        XCTAssertEqual(
            productError(Product(sku: "A", name: "n", attributes: [String(repeating: "a", count: 129): "v"]))?.reason,
            "attribute name must be 1 to 128 characters, got 129")
        XCTAssertEqual(productError(Product(sku: "A", name: "n", attributes: ["": "v"]))?.field, "attr.")
    }

    func testSourcePriceAndStockRules() {
        XCTAssertNoThrow(try Source(code: "wh-1.main_A").validated())
        XCTAssertEqual(Source(code: "wh1").name, "wh1")
        for bad in ["", "wh 1", "wh/1", "wé", String(repeating: "a", count: 65)] {
            XCTAssertThrowsError(try Source(code: bad).validated(), bad) { error in
                XCTAssertEqual((error as? FieldError)?.field, "code")
            }
        }
        let eur = Currency(code: "EUR")!
        XCTAssertNoThrow(try BasePrice(sku: "A", price: Money(minorUnits: 0, currency: eur)).validated())
        XCTAssertThrowsError(try BasePrice(sku: "A", price: Money(minorUnits: -1, currency: eur)).validated()) { error in
            XCTAssertEqual(
                error as? FieldError,
                FieldError(field: "amount", reason: "amount -0.01 is negative; a base price must be 0 or more"))
        }
        XCTAssertThrowsError(try InventorySourceItem(sku: "A", sourceCode: "wh", quantity: -1).validated()) { error in
            XCTAssertEqual((error as? FieldError)?.field, "quantity")
        }
        XCTAssertThrowsError(try InventorySourceItem(sku: "A", sourceCode: "w h", quantity: 1).validated()) { error in
            XCTAssertEqual((error as? FieldError)?.field, "source")
        }
    }

    func testStockStatusDefaultsFromQuantity() {
        XCTAssertEqual(InventorySourceItem(sku: "A", sourceCode: "w", quantity: 3).status, .inStock)
        XCTAssertEqual(InventorySourceItem(sku: "A", sourceCode: "w", quantity: 0).status, .outOfStock)
        XCTAssertEqual(InventorySourceItem(sku: "A", sourceCode: "w", quantity: 3, status: .outOfStock).status, .outOfStock)
    }

    func testInventorySummaryCountsOnlyInStockItems() {
        let summary = InventorySummary(sku: "A", items: [
            InventorySourceItem(sku: "A", sourceCode: "a", quantity: 5),
            InventorySourceItem(sku: "A", sourceCode: "b", quantity: 7, status: .outOfStock),
            InventorySourceItem(sku: "A", sourceCode: "c", quantity: 2),
        ])
        XCTAssertEqual(summary.totalQuantity, 7)
    }

    func testRunCountsAdd() {
        var counts = RunCounts(read: 1, inserted: 2)
        counts.add(RunCounts(read: 10, inserted: 20, updated: 30, unchanged: 40, rejected: 50))
        XCTAssertEqual(counts, RunCounts(read: 11, inserted: 22, updated: 30, unchanged: 40, rejected: 50))
    }
}

import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

/// Shared set-up: a fresh store in a temporary folder per test, plus raw SQL for arranging states the public
/// API cannot (old timestamps, failing triggers, foreign schema versions).
class StoreTestCase: XCTestCase {
    var folder: TemporaryDirectory!
    var store: Store!

    override func setUpWithError() throws {
        folder = TemporaryDirectory(prefix: "wharf-store-test")
        store = try Store(path: folder.file("wharf.sqlite"), readerCount: 2)
    }

    override func tearDown() {
        store?.close()
        store = nil
        folder = nil
    }

    let eur = Currency(code: "EUR")!
    let usd = Currency(code: "USD")!
    let jpy = Currency(code: "JPY")!

    func product(_ sku: String, _ name: String = "Name", status: ProductStatus = .active, attributes: [String: String] = [:]) -> ModelRecord {
        .product(Product(sku: sku, name: name, status: status, attributes: attributes))
    }

    func price(_ sku: String, _ minor: Int64, _ currency: Currency? = nil) -> ModelRecord {
        .price(BasePrice(sku: sku, price: Money(minorUnits: minor, currency: currency ?? eur)))
    }

    func stock(_ sku: String, _ source: String, _ quantity: Int64, _ status: StockStatus? = nil) -> ModelRecord {
        .stock(InventorySourceItem(sku: sku, sourceCode: source, quantity: quantity, status: status))
    }

    /// Runs raw SQL on the store's writer.
    func sql(_ text: String) throws {
        try store.write("run test SQL") { db in try db.execute(text) }
    }

    /// An integer from raw SQL on the writer.
    func sqlInt(_ text: String) throws -> Int64 {
        try store.write("run test SQL") { db in try db.scalarInt(text) }
    }

    /// The error `body` throws, failing the test when it throws none or another type.
    func storeError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> StoreError? {
        do {
            let value = try body()
            XCTFail("expected a StoreError, got \(value)", file: file, line: line)
        } catch let error as StoreError {
            return error
        } catch {
            XCTFail("expected a StoreError, got \(error)", file: file, line: line)
        }
        return nil
    }
}

extension Store.UpsertCounts {
    static func counts(_ inserted: Int64, _ updated: Int64, _ unchanged: Int64) -> Store.UpsertCounts {
        Store.UpsertCounts(inserted: inserted, updated: updated, unchanged: unchanged)
    }
}

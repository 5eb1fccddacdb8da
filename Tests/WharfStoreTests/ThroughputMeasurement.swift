import Foundation
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

/// Not a test of speed (no timed assertions): prints how fast the import and lookup paths run, for people tuning
/// them. Runs only when WHARF_STORE_MEASURE=1, best in release:
/// `WHARF_STORE_MEASURE=1 swift test -c release -Xswiftc -enable-testing --filter ThroughputMeasurement`
final class ThroughputMeasurement: XCTestCase {
    func testMeasureApplyAndLookups() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["WHARF_STORE_MEASURE"] == "1", "set WHARF_STORE_MEASURE=1")
        let folder = TemporaryDirectory(prefix: "wharf-store-measure")
        let store = try Store(path: folder.file("wharf.sqlite"))
        defer { store.close() }
        let eur = Currency(code: "EUR")!
        let count = 200_000
        // A realistic mix: 50k products with attributes, 50k prices, 100k stock rows over 4 sources.
        func records(round: Int) -> [ModelRecord] {
            var out: [ModelRecord] = []
            out.reserveCapacity(count)
            for i in 0..<(count / 4) {
                let sku = "SKU-\(String(i, radix: 10))"
                out.append(.product(Product(
                    sku: sku, name: "Product \(i) r\(round % 2 == 0 ? 0 : round)", description: "A description of product \(i)",
                    attributes: ["color": "red", "size": "M", "material": "cotton"])))
                out.append(.price(BasePrice(sku: sku, price: Money(minorUnits: Int64(1000 + i + round), currency: eur))))
                out.append(.stock(InventorySourceItem(sku: sku, sourceCode: "wh-\(i % 4)", quantity: Int64(i % 50))))
                out.append(.stock(InventorySourceItem(sku: sku, sourceCode: "wh-\((i + 1) % 4)", quantity: Int64(i % 7))))
            }
            return out
        }
        func measure(_ label: String, _ batch: Int, _ data: [ModelRecord]) throws {
            let start = ContinuousClock.now
            var total = Store.UpsertCounts()
            var i = 0
            while i < data.count {
                let slice = Array(data[i..<min(i + batch, data.count)])
                let c = try store.apply(slice, cursor: ("measure", "\(i)"))
                total.inserted += c.inserted
                total.updated += c.updated
                total.unchanged += c.unchanged
                i += batch
            }
            let seconds = (ContinuousClock.now - start) / .seconds(1)
            print(
                "measure: apply \(label), batches of \(batch): \(data.count) records in \(String(format: "%.3f", seconds)) s"
                    + " = \(Int(Double(data.count) / seconds)) records/s (\(total))")
        }
        try measure("insert", 1000, records(round: 0))
        try measure("unchanged", 1000, records(round: 0))
        try measure("update (products unchanged, prices changed)", 1000, records(round: 2))
        try measure("unchanged, one batch", count, records(round: 2))

        var decodeInput: [[(name: String, value: String?)]] = []
        for i in 0..<100_000 {
            decodeInput.append([("sku", "SKU-\(i)"), ("source", "wh-1"), ("quantity", "\(i % 100).000")])
        }
        var start = ContinuousClock.now
        var ok = 0
        for fields in decodeInput {
            if case .success = RecordCodec.decode(entity: "stock", fields: fields) { ok += 1 }
        }
        var seconds = (ContinuousClock.now - start) / .seconds(1)
        print("measure: RecordCodec.decode stock: \(Int(Double(ok) / seconds)) records/s")

        let lookups = 200_000
        start = ContinuousClock.now
        var found = 0
        for i in 0..<lookups where try store.product(sku: "SKU-\(i % (count / 4))") != nil { found += 1 }
        seconds = (ContinuousClock.now - start) / .seconds(1)
        print("measure: product(sku:) one thread: \(Int(Double(lookups) / seconds)) lookups/s (\(found) found)")

        start = ContinuousClock.now
        DispatchQueue.concurrentPerform(iterations: 2) { t in
            for i in 0..<(lookups / 2) { _ = try? store.product(sku: "SKU-\((i * 2 + t) % (count / 4))") }
        }
        seconds = (ContinuousClock.now - start) / .seconds(1)
        print("measure: product(sku:) two threads: \(Int(Double(lookups) / seconds)) lookups/s")
    }
}

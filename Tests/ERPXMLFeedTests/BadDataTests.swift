import Foundation
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Generated feeds with bad records and broken files, through the real plugin, host and store.
final class BadDataTests: XCTestCase {
    /// Items with a SKU, a name, a price (decimal comma) and stock per warehouse.
    static let mapping = """
        { records: [{ path: "/feed/item", entity: "product", fields: { sku: "sku", name: "name" }, records: [
            { each: "price", entity: "price", fields: { sku: { record: "sku" }, currency: "@currency",
                amount: { path: ".", transform: [{ decimal: "," }] } } },
            { each: "stock", entity: "stock", fields: { sku: { record: "sku" }, source: "@wh", quantity: "." } } ] }] }
        """

    static func connector(_ name: String = "feed", file: String, extra: String = "") -> String {
        "[{ name: \"\(name)\", plugin: \"erp-xml\", config: { path: \"\(file)\"\(extra) }, mapping: \(mapping) }]"
    }

    /// Writes raw bytes (which may be invalid UTF-8) into the deployment's folder.
    static func write(_ bytes: [UInt8], to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    func testBadRecordsAreRejectedWithTheirPositionAndTheRestLands() throws {
        let lines = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            "<feed>",
            #"  <item><sku>A1</sku><name>Anchor</name><price currency="EUR">12,30</price><stock wh="BER">5</stock></item>"#,
            "  <item><name>No SKU</name></item>",
            #"  <item><sku>B2</sku><name>Buoy</name><price currency="EUR">12,3x</price></item>"#,
            #"  <item><sku>C3</sku><name>Cleat</name><stock wh="BER">-4</stock></item>"#,
            #"  <item><sku>D4</sku><name>Dock</name><price currency="XXY">1,00</price></item>"#,
            "  <item><sku>E5</sku><name>Bad \u{1} name</name></item>",
            #"  <item><sku>F6</sku><name>Fender</name><stock wh="HAM">0</stock></item>"#,
            "</feed>",
        ]
        var bytes = Array(lines.joined(separator: "\n").utf8)
        // Line 8: replace the placeholder U+0001 with a byte sequence that is not UTF-8 (0xC3 then '(').
        let marker = bytes.firstIndex(of: 0x01)!
        bytes.replaceSubrange(marker...marker, with: [0xC3, 0x28])
        let env = try XMLDeployment(connectors: Self.connector(file: "feed.xml"))
        Self.write(bytes, to: env.folder.file("feed.xml"))
        let path = env.folder.file("feed.xml")

        let run = try env.run("feed")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        let store = env.store
        XCTAssertEqual(try ["A1", "B2", "C3", "D4", "E5", "F6"].map { try store.product(sku: $0)?.name }, ["Anchor", "Buoy", "Cleat", "Dock", nil, "Fender"])
        XCTAssertEqual(try store.basePrices(sku: "A1").map(\.price.decimalString), ["12.30"])
        XCTAssertEqual(try store.basePrices(sku: "B2"), [])
        XCTAssertEqual(try store.basePrices(sku: "D4"), [])
        XCTAssertEqual(try store.inventory(sku: "A1")?.totalQuantity, 5)
        XCTAssertEqual(try store.inventory(sku: "F6")?.items.map(\.quantity), [0])
        XCTAssertEqual(try store.inventory(sku: "C3")?.items ?? [], [])

        let rejects = try env.rejects(run).sorted { ($0.location.line ?? 0) < ($1.location.line ?? 0) }
        XCTAssertEqual(run.counts.rejected, 5)
        func at(_ needle: String, line: Int) -> (Int64?, Int64?) {
            let text = lines[line - 1]
            let column = text.distance(from: text.startIndex, to: text.range(of: needle)!.lowerBound) + 1
            return (Int64(line), Int64(column))
        }
        let expected: [(line: Int64?, column: Int64?, record: Int64, field: String, reason: String)] = [
            (at("<item>", line: 4).0, at("<item>", line: 4).1, 2, "sku", "sku is missing: sku gave no value for this record (mapping.records[0].fields.sku)"),
            (at("<price", line: 5).0, at("<price", line: 5).1, 3, "amount", "'12,3x' is not a decimal number"),
            (at("<stock", line: 6).0, at("<stock", line: 6).1, 4, "quantity", "-4"),
            (at("<price", line: 7).0, at("<price", line: 7).1, 5, "currency", "XXY"),
            (at("<item>", line: 8).0, at("<item>", line: 8).1, 6, "name", "not valid UTF-8"),
        ]
        XCTAssertEqual(rejects.count, expected.count, "\(rejects.map(\.reason))")
        guard rejects.count == expected.count else { return }
        for (reject, want) in zip(rejects, expected) {
            XCTAssertEqual(reject.location.line, want.line, reject.reason)
            XCTAssertEqual(reject.location.column, want.column, reject.reason)
            XCTAssertEqual(reject.location.recordNumber, want.record, reject.reason)
            XCTAssertEqual(reject.location.source, path)
            XCTAssertEqual(reject.field, want.field, reject.reason)
            XCTAssertTrue(reject.reason.contains(want.reason), "\(reject.reason) should contain \(want.reason)")
            XCTAssertTrue(reject.raw?.hasPrefix("<item>") == true, reject.raw ?? "-")
        }
        XCTAssertTrue(rejects[4].reason.contains("line 8, column \(at("<name>", line: 8).1!)"), rejects[4].reason)
        XCTAssertTrue(rejects[4].raw?.contains("Bad ?( name") == true, "the raw excerpt shows the bad byte as '?': \(rejects[4].raw ?? "-")")
        XCTAssertFalse(env.logs(containing: "1 bytes that are not valid UTF-8").isEmpty)
    }

    /// 25 items, batches of 10, the file cut inside item 23: batches 1 and 2 (items 1-20) are committed, items 21
    /// and 22 (read but in the unfinished third batch) are not, and the file is not marked as imported.
    func testCutOffFileFailsAtTheErrorAndKeepsOnlyFullBatches() throws {
        let items = (1...25).map { "<item><sku>S\($0)</sku><name>Item \($0)</name></item>" }
        let whole = "<?xml version=\"1.0\"?>\n<feed>\n" + items.joined(separator: "\n") + "\n</feed>\n"
        let cut = String(whole[..<whole.range(of: "<name>Item 23")!.upperBound])
        let env = try XMLDeployment(connectors: Self.connector(file: "feed.xml", extra: ", batchSize: 10"), files: ["feed.xml": cut])

        let run = try env.run("feed")
        XCTAssertEqual(run.state, .failed)
        let error = run.error ?? ""
        let lastLine = cut.split(separator: "\n").count
        XCTAssertTrue(error.contains("\(env.folder.file("feed.xml")):\(lastLine):"), error)
        XCTAssertTrue(error.contains("not well-formed XML"), error)
        XCTAssertTrue(error.contains("20 records of it were already committed in 2 full batches of 10"), error)
        XCTAssertTrue(error.contains("the 2 records read after the last full batch were not"), error)
        XCTAssertEqual(try (1...25).filter { try env.store.product(sku: "S\($0)") != nil }, Array(1...20))
        XCTAssertNil(try env.store.cursor(connector: "feed"), "the file is not marked as imported")

        env.folder.write("feed.xml", whole)
        let fixed = try env.run("feed")
        XCTAssertEqual(fixed.state, .succeeded, fixed.error ?? "")
        XCTAssertEqual(fixed.counts.inserted, 5)
        XCTAssertEqual(fixed.counts.unchanged, 20, "what was committed before is not rewritten")
        XCTAssertNotNil(try env.store.cursor(connector: "feed"))
    }

    func testMismatchedTagFailsWithLineAndColumn() throws {
        let feed = "<feed>\n  <item><sku>A</sku><name>A</name></item>\n  <item><sku>B</sku></itme>\n</feed>\n"
        let env = try XMLDeployment(connectors: Self.connector(file: "feed.xml"), files: ["feed.xml": feed])
        let run = try env.run("feed")
        XCTAssertEqual(run.state, .failed)
        XCTAssertTrue(run.error?.contains("\(env.folder.file("feed.xml")):3:") == true, run.error ?? "")
        XCTAssertTrue(run.error?.contains("mismatch") == true, run.error ?? "")
        XCTAssertNil(try env.store.product(sku: "A"), "the record before the error was in the unfinished batch")
    }

    func testAFailedFileMovesToTheFailedFolderAndTheNextFilesStillCome() throws {
        let env = try XMLDeployment(connectors: """
            [{ name: "feed", plugin: "erp-xml", config: { folder: "in", failed: "failed", archive: "done" }, mapping: \(Self.mapping) }]
            """)
        env.folder.write("in/a.xml", "<feed><item><sku>A</sku><name>A</name></item></feed>")
        env.folder.write("in/b.xml", "<feed><item><sku>B</sku>")
        env.folder.write("in/c.xml", "<feed><item><sku>C</sku><name>C</name></item></feed>")
        for (index, name) in ["a", "b", "c"].enumerated() {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: Double(1_000 + index))], ofItemAtPath: env.folder.file("in/\(name).xml"))
        }
        let first = try env.run("feed")
        XCTAssertEqual(first.state, .failed)
        XCTAssertTrue(first.error?.contains("it was moved to \(env.folder.file("failed/b.xml"))") == true, first.error ?? "")
        XCTAssertNotNil(try env.store.product(sku: "A"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: env.folder.file("done/a.xml")))
        let second = try env.run("feed")
        XCTAssertEqual(second.state, .succeeded, second.error ?? "")
        XCTAssertNotNil(try env.store.product(sku: "C"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: env.folder.file("in")), [])
    }

    func testCancelledRunKeepsNothing() throws {
        let env = try XMLDeployment(connectors: Self.connector(file: "feed.xml"), files: ["feed.xml": "<feed><item><sku>A</sku><name>A</name></item></feed>"])
        let flag = CancellationFlag()
        flag.cancel()
        let run = try ConnectorRunner(deployment: env.deployment).ingest(connector: "feed", trigger: .manual, cancellation: flag)
        XCTAssertEqual(run.state, .cancelled)
        XCTAssertNil(try env.store.product(sku: "A"))
        XCTAssertNil(try env.store.cursor(connector: "feed"))
    }
}

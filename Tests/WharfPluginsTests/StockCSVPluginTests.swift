import Foundation
import WharfABI
import WharfPlugins
import WharfTestSupport
import XCTest

/// The C plugin `stock-csv`, loaded from its real .so and driven through a recording host.
final class StockCSVPluginTests: XCTestCase {
    private var descriptor: UnsafePointer<wharf_plugin_descriptor>!
    private var folder: TemporaryDirectory!

    override func setUpWithError() throws {
        let path = BuildProducts.plugin("wharf-stock-csv").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) is not built") }
        descriptor = try PluginLoader.load(path: path, host: recordingHost).descriptor
        folder = TemporaryDirectory(prefix: "stock-csv")
    }

    override func tearDown() {
        folder = nil
    }

    private func make(_ run: RecordingRun, file: StaticString = #filePath, line: UInt = #line) throws -> PluginInstance {
        switch PluginInstance.create(descriptor, run: run) {
        case .success(let instance): return instance
        case .failure(let failure):
            XCTFail("create failed (\(failure.status)): \(failure.message ?? "-")", file: file, line: line)
            throw failure
        }
    }

    func testIngestsMappedColumnsWithQuotesCRLFAndBOM() throws {
        let csv = "\u{FEFF}Item;Warehouse;Qty\r\n"
            + "A-1;W1;10\r\n"
            + "\"B;2\";\"W \"\"north\"\"\"; 5 \r\n"
            + "\r\n"
            + "C-3;W1\r\n"
            + "\"multi\nline\";W2;7\r\n"
            + "D-4;W2;0"
        let path = folder.write("stock.csv", csv)
        let run = RecordingRun(
            config: ["path": path, "delimiter": ";"],
            mapping: #"{"sku": "Item", "source": "Warehouse", "quantity": "Qty"}"#)
        let plugin = try make(run)
        XCTAssertEqual(plugin.ingest(run), WHARF_OK, run.lastError ?? "")

        XCTAssertEqual(run.records, [
            SeenRecord(entity: "stock", fields: ["sku=A-1", "source=W1", "quantity=10"], source: path, line: 2, recordNumber: 1, raw: "A-1;W1;10"),
            SeenRecord(entity: "stock", fields: ["sku=B;2", "source=W \"north\"", "quantity=5"], source: path, line: 3, recordNumber: 2, raw: "\"B;2\";\"W \"\"north\"\"\"; 5 "),
            SeenRecord(entity: "stock", fields: ["sku=multi\nline", "source=W2", "quantity=7"], source: path, line: 6, recordNumber: 4, raw: "\"multi\nline\";W2;7"),
            SeenRecord(entity: "stock", fields: ["sku=D-4", "source=W2", "quantity=0"], source: path, line: 8, recordNumber: 5, raw: "D-4;W2;0"),
        ])
        XCTAssertEqual(run.rejects, [
            SeenReject(line: 5, recordNumber: 3, source: path, field: nil,
                       reason: "line 5 has 2 columns but the header has 3; check the delimiter and the quoting", raw: "C-3;W1"),
        ])
        XCTAssertEqual(run.emits.count, 1)
        let cursor = try XCTUnwrap(run.emits.last?.cursor)
        XCTAssertTrue(cursor.hasPrefix("file:v1 size=\(csv.utf8.count) "), cursor)
        XCTAssertTrue(cursor.hasSuffix("path=\(path)"), cursor)
        XCTAssertTrue(run.logs.contains { $0.message.contains("4 stock records, 1 rejected") }, "\(run.logs)")
    }

    func testDefaultsCommaDelimiterAndFixedSource() throws {
        let path = folder.write("stock.csv", "sku,quantity\nA,1\nB,2\n")
        let run = RecordingRun(config: ["path": path, "source": "main"])
        let plugin = try make(run)
        XCTAssertEqual(plugin.ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.records.map(\.fields), [
            ["sku=A", "source=main", "quantity=1"], ["sku=B", "source=main", "quantity=2"],
        ])
    }

    func testEmitsInBatchesAndMovesTheCursorOnlyWithTheLast() throws {
        var csv = "sku,source,quantity\n"
        for index in 1...2500 { csv += "S\(index),W1,\(index)\n" }
        let path = folder.write("big.csv", csv)
        let run = RecordingRun(config: ["path": path])
        let plugin = try make(run)
        XCTAssertEqual(plugin.ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.emits.map(\.records.count), [1000, 1000, 500])
        XCTAssertEqual(run.emits.map { $0.cursor != nil }, [false, false, true])
        XCTAssertEqual(run.records.last?.fields, ["sku=S2500", "source=W1", "quantity=2500"])
        XCTAssertEqual(run.records.last?.line, 2501)
    }

    func testStopsBetweenBatchesWhenCancelled() throws {
        var csv = "sku,source,quantity\n"
        for index in 1...10 { csv += "S\(index),W1,1\n" }
        let path = folder.write("stock.csv", csv)
        let run = RecordingRun(config: ["path": path, "batch_size": "3"])
        run.cancelAfterEmits = 1
        let plugin = try make(run)
        XCTAssertEqual(plugin.ingest(run), WHARF_ERR_CANCELLED)
        XCTAssertEqual(run.emits.count, 1)
        XCTAssertNil(run.cursor, "a cancelled run must not move the cursor")
        XCTAssertTrue(run.lastError?.contains("cancelled") ?? false, run.lastError ?? "")
    }

    func testUnchangedFileIsSkippedUnlessForced() throws {
        let path = folder.write("stock.csv", "sku,source,quantity\nA,W,1\n")
        let first = RecordingRun(config: ["path": path])
        XCTAssertEqual(try make(first).ingest(first), WHARF_OK)
        let again = RecordingRun(config: ["path": path], cursor: first.cursor)
        XCTAssertEqual(try make(again).ingest(again), WHARF_OK)
        XCTAssertTrue(again.emits.isEmpty)
        XCTAssertTrue(again.logs.contains { $0.message.contains("unchanged") && $0.message.contains("force") }, "\(again.logs)")
        let forced = RecordingRun(config: ["path": path, "force": "true"], cursor: first.cursor)
        XCTAssertEqual(try make(forced).ingest(forced), WHARF_OK)
        XCTAssertEqual(forced.records.count, 1)
    }

    func testMissingFileFailsNamingPathAndConfigKey() throws {
        let path = folder.file("absent.csv")
        let run = RecordingRun(config: ["path": path])
        XCTAssertEqual(try make(run).ingest(run), WHARF_ERR_IO)
        let message = try XCTUnwrap(run.lastError)
        XCTAssertTrue(message.contains("cannot open stock file \(path) (config key \"path\")"), message)
        XCTAssertTrue(message.contains("No such file"), message)
    }

    func testMissingColumnFailsListingTheHeader() throws {
        let path = folder.write("stock.csv", "Item,Qty\nA,1\n")
        let run = RecordingRun(config: ["path": path], mapping: #"{"sku": "Item", "quantity": "Quantity"}"#)
        XCTAssertEqual(try make(run).ingest(run), WHARF_ERR_INVALID)
        let message = try XCTUnwrap(run.lastError)
        XCTAssertTrue(message.contains("has no column \"Quantity\" (mapping.quantity)"), message)
        XCTAssertTrue(message.contains("\"Item\", \"Qty\""), message)
    }

    func testMissingSourceColumnSuggestsFixedSource() throws {
        let path = folder.write("stock.csv", "sku,quantity\nA,1\n")
        let run = RecordingRun(config: ["path": path])
        XCTAssertEqual(try make(run).ingest(run), WHARF_ERR_INVALID)
        XCTAssertTrue(run.lastError?.contains("config \"source\"") ?? false, run.lastError ?? "")
    }

    func testUnclosedQuoteIsRejectedWithItsLine() throws {
        let path = folder.write("stock.csv", "sku,source,quantity\nA,W,1\n\"B,W,2\n")
        let run = RecordingRun(config: ["path": path])
        XCTAssertEqual(try make(run).ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.records.count, 1)
        XCTAssertEqual(run.rejects.map(\.line), [3])
        XCTAssertTrue(run.rejects.first?.reason.contains("not closed") ?? false)
    }

    func testBadConfigurationIsRefusedAtCreate() {
        let cases: [(RecordingRun, String)] = [
            (RecordingRun(config: [:]), "config key \"path\" is required"),
            (RecordingRun(config: ["path": "x.csv", "delimiter": ";;"]), "config key \"delimiter\" must be one character"),
            (RecordingRun(config: ["path": "x.csv", "batch_size": "0"]), "config key \"batch_size\""),
            (RecordingRun(config: ["path": "x.csv"], mapping: #"{"sku": 3}"#), "mapping.sku must be a column name string"),
            (RecordingRun(config: ["path": "x.csv"], mapping: #"{"skew": "Item"}"#), "mapping.skew is not known to stock-csv"),
            (RecordingRun(config: ["path": "x.csv"], mapping: #"{"sku": "Item""#), "not a flat JSON object"),
            (RecordingRun(config: ["path": "x.csv"], mapping: #"["sku"]"#), "not a flat JSON object"),
        ]
        for (run, expected) in cases {
            switch PluginInstance.create(descriptor, run: run) {
            case .success: XCTFail("accepted \(run.configJSON) \(run.mappingJSON)")
            case .failure(let failure):
                XCTAssertEqual(failure.status, WHARF_ERR_INVALID)
                XCTAssertTrue(failure.message?.contains(expected) ?? false, "\(failure.message ?? "-") lacks \(expected)")
            }
        }
    }

    func testMappingWithEscapesIsDecoded() throws {
        let path = folder.write("stock.csv", "Artikel\u{E9},Lager,Menge\nA,W,1\n")
        let run = RecordingRun(
            config: ["path": path], mapping: #"{"sku": "Artikel\u00e9", "source": "Lager", "quantity": "Menge"}"#)
        XCTAssertEqual(try make(run).ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.records.map(\.fields), [["sku=A", "source=W", "quantity=1"]])
    }

    func testRelativePathIsResolvedByTheHost() throws {
        let absolute = folder.write("stock.csv", "sku,source,quantity\nA,W,1\n")
        let run = RecordingRun(config: ["path": "data/stock.csv"])
        run.baseFolder = folder.path
        try FileManager.default.createDirectory(atPath: folder.file("data"), withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: absolute, toPath: folder.file("data/stock.csv"))
        XCTAssertEqual(try make(run).ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.records.first?.source, folder.file("data/stock.csv"))
    }
}

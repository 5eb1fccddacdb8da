import Foundation
import WharfABI
import WharfPlugins
import WharfTestSupport
import XCTest

/// The Swift plugin `catalog-file`, loaded from its real .so and driven through a recording host.
final class CatalogFilePluginTests: XCTestCase {
    private var descriptor: UnsafePointer<wharf_plugin_descriptor>!
    private var folder: TemporaryDirectory!

    override func setUpWithError() throws {
        let path = BuildProducts.plugin("wharf-catalog-file").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) is not built") }
        descriptor = try PluginLoader.load(path: path, host: recordingHost).descriptor
        folder = TemporaryDirectory(prefix: "catalog-file")
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

    static let mapping = """
        {"sku": "id", "name": "title", "description": "body", "status": "state",
         "attributes": {"color": "colour", "size": "dims.size"}, "price": {"amount": "price", "currency": "currency"}}
        """

    func testIngestsMappedProductsAndPrices() throws {
        let lines = [
            #"{"id": "A-1", "title": "Mug", "body": "A mug", "state": "active", "colour": "red", "dims": {"size": 2}, "price": 12.50, "currency": "EUR"}"#,
            #"{"id": "B-2", "title": "Cap", "price": null}"#,
            "",
            #"{"id": "C-3", "body": "no title"}"#,
            #"{"id": "D-4", "title": "Broken""#,
            #"{"id": "E-5", "title": "Pen", "price": "1.20"}"#,
            #"["not", "an", "object"]"#,
        ]
        let path = folder.write("products.jsonl", lines.joined(separator: "\n") + "\n")
        let run = RecordingRun(config: ["path": path], mapping: Self.mapping)
        let plugin = try make(run)
        XCTAssertEqual(plugin.ingest(run), WHARF_OK, run.lastError ?? "")

        XCTAssertEqual(run.records, [
            SeenRecord(entity: "product", fields: ["sku=A-1", "name=Mug", "description=A mug", "status=active", "attr.color=red", "attr.size=2"],
                       source: path, line: 1, recordNumber: 1, raw: lines[0]),
            SeenRecord(entity: "price", fields: ["sku=A-1", "currency=EUR", "amount=12.50"], source: path, line: 1, recordNumber: 1, raw: lines[0]),
            SeenRecord(entity: "product", fields: ["sku=B-2", "name=Cap"], source: path, line: 2, recordNumber: 2, raw: lines[1]),
            SeenRecord(entity: "product", fields: ["sku=E-5", "name=Pen"], source: path, line: 6, recordNumber: 5, raw: lines[5]),
        ])
        XCTAssertEqual(run.rejects.map(\.line), [4, 5, 6, 7])
        XCTAssertEqual(run.rejects.map(\.recordNumber), [3, 4, 5, 6])
        XCTAssertEqual(run.rejects.map(\.field), ["name", nil, "price.currency", nil])
        XCTAssertEqual(run.rejects[0].reason, "line 4 has no \"title\" (mapping.name): every product needs a name")
        XCTAssertTrue(run.rejects[1].reason.hasPrefix("line 5 is not valid JSON ("), run.rejects[1].reason)
        XCTAssertTrue(run.rejects[2].reason.contains("no \"currency\""), run.rejects[2].reason)
        XCTAssertTrue(run.rejects[3].reason.contains("an array, not a JSON object"), run.rejects[3].reason)
        XCTAssertEqual(run.rejects[1].raw, lines[4])
        XCTAssertEqual(run.emits.count, 1)
        let cursor = try XCTUnwrap(run.emits.last?.cursor)
        XCTAssertTrue(cursor.hasPrefix("file:v1 size="), cursor)
        XCTAssertTrue(cursor.hasSuffix("path=\(path)"), cursor)
    }

    func testDefaultMappingUsesSameNamesAndAttributesObject() throws {
        let line = #"{"sku": "A", "name": "Mug", "attributes": {"color": "red", "weight": 0.3}, "price": "9.99", "currency": "USD"}"#
        let path = folder.write("products.jsonl", line + "\r\n")
        let run = RecordingRun(config: ["path": path])
        XCTAssertEqual(try make(run).ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.records.map(\.fields), [
            ["sku=A", "name=Mug", "attr.color=red", "attr.weight=0.3"], ["sku=A", "currency=USD", "amount=9.99"],
        ])
        XCTAssertEqual(run.records.first?.raw, line, "CR of a CRLF line end is not part of the line")
    }

    func testConfigCurrencyIsUsedWhenTheLineHasNone() throws {
        let path = folder.write("products.jsonl", #"{"sku": "A", "name": "Mug", "price": 3}"# + "\n")
        let run = RecordingRun(config: ["path": path, "currency": "EUR"])
        XCTAssertEqual(try make(run).ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.records.last?.fields, ["sku=A", "currency=EUR", "amount=3"])
    }

    func testBatchesHonourCancellationAndCursorTravelsWithTheLastBatch() throws {
        var text = ""
        for index in 1...7 { text += #"{"sku": "S\#(index)", "name": "N\#(index)"}"# + "\n" }
        let path = folder.write("products.jsonl", text)
        let run = RecordingRun(config: ["path": path, "batch_size": "3"])
        XCTAssertEqual(try make(run).ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.emits.map(\.records.count), [3, 3, 1])
        XCTAssertEqual(run.emits.map { $0.cursor != nil }, [false, false, true])

        let cancelled = RecordingRun(config: ["path": path, "batch_size": "3"])
        cancelled.cancelAfterEmits = 1
        XCTAssertEqual(try make(cancelled).ingest(cancelled), WHARF_ERR_CANCELLED)
        XCTAssertEqual(cancelled.emits.count, 1)
        XCTAssertNil(cancelled.cursor)
    }

    func testUnchangedFileIsSkippedUnlessForced() throws {
        let path = folder.write("products.jsonl", #"{"sku": "A", "name": "Mug"}"# + "\n")
        let first = RecordingRun(config: ["path": path])
        XCTAssertEqual(try make(first).ingest(first), WHARF_OK)
        let again = RecordingRun(config: ["path": path], cursor: first.cursor)
        XCTAssertEqual(try make(again).ingest(again), WHARF_OK)
        XCTAssertTrue(again.emits.isEmpty)
        XCTAssertTrue(again.logs.contains { $0.message.contains("unchanged") }, "\(again.logs)")
        let forced = RecordingRun(config: ["path": path, "force": "true"], cursor: first.cursor)
        XCTAssertEqual(try make(forced).ingest(forced), WHARF_OK)
        XCTAssertEqual(forced.records.count, 1)
    }

    func testMissingFileFailsNamingPathAndConfigKey() throws {
        let path = folder.file("absent.jsonl")
        let run = RecordingRun(config: ["path": path])
        XCTAssertEqual(try make(run).ingest(run), WHARF_ERR_IO)
        let message = try XCTUnwrap(run.lastError)
        XCTAssertTrue(message.contains("cannot open \(path)"), message)
        XCTAssertTrue(message.contains("config key \"path\""), message)
    }

    func testBadConfigurationIsRefusedAtCreate() {
        let cases: [(RecordingRun, String)] = [
            (RecordingRun(config: [:]), "config key \"path\" is required"),
            (RecordingRun(config: ["path": "x", "force": "maybe"]), "config key \"force\" must be true or false"),
            (RecordingRun(config: ["path": "x"], mapping: #"{"skus": "id"}"#), "mapping.skus is not known"),
            (RecordingRun(config: ["path": "x"], mapping: #"{"price": "p"}"#), "mapping.price must be an object"),
            (RecordingRun(config: ["path": "x"], mapping: #"{"name": 1}"#), "mapping.name must be the name of a key"),
            (RecordingRun(config: ["path": "x"], mapping: #"{"name": "#), "mapping is not valid JSON"),
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

    func testRelativePathIsResolvedByTheHost() throws {
        let absolute = folder.write("products.jsonl", #"{"sku": "A", "name": "Mug"}"# + "\n")
        let run = RecordingRun(config: ["path": "data/products.jsonl"])
        run.baseFolder = folder.path
        try FileManager.default.createDirectory(atPath: folder.file("data"), withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: absolute, toPath: folder.file("data/products.jsonl"))
        XCTAssertEqual(try make(run).ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.records.first?.source, folder.file("data/products.jsonl"))
    }
}

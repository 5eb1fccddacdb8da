import Foundation
import WharfABI
import WharfModel
import WharfStore
import WharfTestSupport
import XCTest

@testable import WharfHost

/// The "wharf.element-digests.v1" extension, called the way a plugin calls it: through `get_extension`.
final class ElementDigestServiceTests: XCTestCase {
    var env: TestDeployment!
    let api = HostServices.table.pointee

    override func setUpWithError() throws {
        env = try TestDeployment(connectors: """
            [ { name: "feed", plugin: "stock-csv", config: { path: "in/feed.csv" }, mapping: { sku: "Item" } } ]
            """)
    }

    var store: Store { env.deployment.store }

    /// An ingest context of a new run, with its element ledger as the runner makes it.
    func context(_ phase: ContextPhase = .ingest) throws -> ConnectorContext {
        let manifest = env.deployment.manifest
        let runID = try store.beginRun(connector: "feed", pluginID: "stock-csv", trigger: .manual).id
        let context = ConnectorContext(
            connector: manifest.connectors[0], phase: phase, store: store, runID: runID, logger: env.deployment.logger,
            cancellation: CancellationFlag(), baseDirectory: manifest.directory)
        context.runLog = RunLog()
        let ledger = Store.ElementLedger(store: store, connector: "feed", settings: "test settings")
        context.elementLedger = ledger
        context.applyOptions = Store.ApplyOptions(runID: runID, elements: ledger)
        return context
    }

    var digests: wharf_element_digests_v1 {
        get throws {
            let pointer = try XCTUnwrap(api.get_extension(WHARF_EXT_ELEMENT_DIGESTS_V1))
            return pointer.assumingMemoryBound(to: wharf_element_digests_v1.self).pointee
        }
    }

    func element(_ n: UInt64, sequence: UInt64? = nil) -> wharf_element_digest {
        wharf_element_digest(digest_high: 0x7000 + n, digest_low: n, sequence: sequence ?? n)
    }

    /// Emits two stock records per element of `elements` (sku "S<n>" at BER and HAM).
    func emit(_ ctx: ConnectorContext, elements: [UInt64], size: Int = MemoryLayout<wharf_record>.size) -> wharf_status {
        let records = elements.flatMap { n in
            [("stock", [("sku", "S\(n)"), ("source", "BER"), ("quantity", "\(n)")]),
             ("stock", [("sku", "S\(n)"), ("source", "HAM"), ("quantity", "1")])]
        }
        return withRecords(records) { pointer, count in
            let copy = UnsafeMutableRawPointer.allocate(byteCount: size * count, alignment: 16)
            defer { copy.deallocate() }
            for i in 0..<count {
                var record = pointer[i]
                record.struct_size = UInt32(size)
                record.element = element(elements[i / 2])
                // An ABI 1.0 plugin's record ends before `element`: copy only its own size.
                withUnsafeBytes(of: &record) { (copy + i * size).copyMemory(from: $0.baseAddress!, byteCount: size) }
            }
            return api.emit(ctx.opaque, copy.assumingMemoryBound(to: wharf_record.self), count, nil, nil)
        }
    }

    func ask(_ ctx: ConnectorContext, _ elements: [wharf_element_digest]) throws -> (wharf_status, [UInt8]) {
        var skip = [UInt8](repeating: 7, count: elements.count)
        let status = try digests.skip_unchanged(ctx.opaque, elements, elements.count, &skip)
        return (status, skip)
    }

    /// The run log's lines (a refusal is explained there: the extension may be called from any plugin thread).
    func logged(_ ctx: ConnectorContext) -> [String] {
        ctx.runLog?.drain().map(\.message) ?? []
    }

    func testTheHostOffersTheExtensionAndNothingUnknown() throws {
        XCTAssertEqual(Int(try digests.struct_size), MemoryLayout<wharf_element_digests_v1>.size)
        XCTAssertNil(api.get_extension("wharf.no-such-thing.v1"))
    }

    func testEmittedElementsAreSkippedInTheNextRunAndCountedUnchanged() throws {
        let first = try context()
        XCTAssertEqual(try ask(first, [element(1), element(2)]).1, [0, 0])
        XCTAssertEqual(emit(first, elements: [1, 2]), WHARF_OK)
        try store.recordElements(try XCTUnwrap(first.elementLedger))

        let second = try context()
        XCTAssertEqual(try ask(second, [element(1), element(2), element(3)]).1, [1, 1, 0])
        second.addSkippedElements()
        XCTAssertEqual(second.counts.unchanged, 4)
        XCTAssertEqual(second.counts.read, 4)
    }

    func testRecordsOfAnABI10PluginNameNoElementAndAreNeverSkipped() throws {
        let size = RecordReader.minimumRecordSize
        XCTAssertLessThan(size, MemoryLayout<wharf_record>.size)
        let first = try context()
        XCTAssertEqual(emit(first, elements: [1], size: size), WHARF_OK, "an ABI 1.0 record is still accepted")
        try store.recordElements(try XCTUnwrap(first.elementLedger))
        XCTAssertEqual(try store.inventory(sku: "S1")?.totalQuantity, 2)
        XCTAssertEqual(try ask(try context(), [element(1)]).1, [0])
    }

    func testBadQuestionsAreRefusedWithEveryAnswerNo() throws {
        let ctx = try context()
        let zero = wharf_element_digest(digest_high: 0, digest_low: 0, sequence: 1)
        var (status, skip) = try ask(ctx, [zero])
        XCTAssertEqual(status, WHARF_ERR_INVALID)
        XCTAssertEqual(skip, [0])
        XCTAssertTrue(logged(ctx).contains { $0.contains("zero digest") }, "\(logged(ctx))")
        (status, skip) = try ask(ctx, [element(5), element(4)])
        XCTAssertEqual(status, WHARF_ERR_INVALID)
        XCTAssertEqual(skip, [0, 0])
        XCTAssertTrue(logged(ctx).contains { $0.contains("increasing sequence") }, "\(logged(ctx))")
        XCTAssertEqual(try digests.skip_unchanged(ctx.opaque, nil, 1, nil), WHARF_ERR_INVALID)

        let export = try context(.export)
        (status, skip) = try ask(export, [element(9)])
        XCTAssertEqual(status, WHARF_ERR_STATE)
        XCTAssertEqual(skip, [0])
    }
}

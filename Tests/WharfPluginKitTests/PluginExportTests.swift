import WharfABI
import WharfPluginKit
import XCTest

/// A plugin whose behaviour the test picks through config "mode".
final class EchoPlugin: WharfPlugin {
    static let id = "kit-echo"
    static let systemKind = "other"
    static let version = "1.2.3"
    static let description: String? = "Kit test plugin"
    static let capabilities: PluginCapabilities = [.ingest, .export, .call]

    struct Unexpected: Error, CustomStringConvertible {
        var description: String { "something unexpected" }
    }

    let mode: String
    let count: Int
    let batchSize: Int
    var stashed: IngestContext?

    init(context: PluginContext) throws {
        let config = try context.config()
        mode = config["mode"]?.stringValue ?? "emit"
        count = config["count"]?.intValue ?? 0
        batchSize = config["batch_size"]?.intValue ?? 1000
    }

    func ingest(_ context: IngestContext) throws {
        switch mode {
        case "emit":
            let batcher = RecordBatcher(context: context, batchSize: batchSize)
            for index in 0..<count {
                try batcher.add(Record(entity: "stock", ["sku": "S\(index + 1)", "source": "W", "quantity": "1"]))
            }
            let counts = try batcher.finish(cursor: "done-\(count)")
            context.log(.info, "inserted \(counts.inserted) in \(batcher.emittedBatches) batches")
        case "prepared":
            // Batches prepared on a producer thread, emitted on this one (as the erp-xml plugin does).
            let batcher = RecordBatcher(context: context, batchSize: batchSize)
            let builder = RecordBatchBuilder(batchSize: batchSize)
            try ProducerPipeline.run(produce: { send in
                for index in 0..<count {
                    if let batch = builder.add(Record(entity: "stock", ["sku": "S\(index + 1)", "source": "W", "quantity": "1"])) {
                        try send(batch)
                    }
                }
            }, consume: { batch in try batcher.emit(batch) })
            let counts = try batcher.finish(builder.finish(), cursor: "done-\(count)")
            context.log(.info, "inserted \(counts.inserted) in \(batcher.emittedBatches) batches")
        case "prepared-overtaking":
            let batcher = RecordBatcher(context: context, batchSize: batchSize)
            try batcher.add(Record(entity: "stock", ["sku": "FIRST", "source": "W", "quantity": "1"]))
            try batcher.emit(PreparedBatch([Record(entity: "stock", ["sku": "SECOND", "source": "W", "quantity": "1"])]))
        case "fields":
            var record = Record(
                entity: "product", ["sku": "Ä-1", "name": "Tasse ☕", "description": nil, "attr.empty": ""],
                location: RecordLocation(source: "feed.jsonl", line: 7, column: 3, recordNumber: 5), raw: "{\"raw\": 1}")
            record["status"] = "active"
            try context.emit([record, Record(entity: "price", ["sku": "Ä-1", "currency": "EUR", "amount": "1.50"])])
        case "elements":
            // Element i (1...count) has digest (i, 1000 + i); elements are asked about on a producer thread, the
            // kept ones emitted tagged (odd ones through a prepared batch, even ones added), the last one untagged.
            guard let channel = context.elementDigests else {
                try context.emit([Record(entity: "stock", ["sku": "NO-CHANNEL", "source": "W", "quantity": "1"])])
                return
            }
            let batcher = RecordBatcher(context: context, batchSize: batchSize)
            let builder = RecordBatchBuilder(batchSize: batchSize)
            try ProducerPipeline.run(produce: { send in
                for index in 1...max(count, 1) {
                    let element = ElementDigest(high: UInt64(index), low: UInt64(1000 + index), sequence: UInt64(index))
                    if channel.skipUnchanged(element) { continue }
                    let record = Record(entity: "stock", ["sku": "S\(index)", "source": "W", "quantity": "1"], element: element)
                    if let batch = builder.add(record) { try send(batch) }
                }
            }, consume: { batch in try batcher.emit(batch) })
            try batcher.finish(builder.finish(), cursor: nil)
            try context.emit([Record(entity: "stock", ["sku": "UNTAGGED", "source": "W", "quantity": "1"])])
        case "plugin-error":
            throw PluginError.invalid("config key \"x\" is wrong; set it to y")
        case "other-error":
            throw Unexpected()
        case "reject":
            try context.reject(
                location: RecordLocation(source: "in.csv", line: 4, recordNumber: 3), field: "sku",
                reason: "no SKU on line 4", raw: "a;b")
        case "stash":
            // First call: keep the context (wrongly). Later calls: use the stale one.
            if let stashed {
                stashed.log(.info, "never delivered")
                try stashed.emit([Record(entity: "stock")])
            } else {
                stashed = context
            }
        case "paths":
            context.log(.info, [context.resolvePath("data/x.csv"), context.resolvePath("/abs/y.csv")].joined(separator: " "))
        case "secret":
            let token = try context.secret("env:TOKEN")
            context.log(.debug, "token has \(token.count) characters; cursor \(context.cursor ?? "none")")
        default:
            throw PluginError.invalid("unknown mode \(mode)")
        }
    }

    func export(_ context: ExportContext) throws {
        if mode == "export-services" {
            var values: [String] = []
            try context.readRawRecords(entity: "product", batchSize: 2) { batch in
                for index in 0..<batch.count {
                    values += batch.fields(index).map { "\(RawRecordBatch.name($0))=\(String(decoding: RawRecordBatch.value($0), as: UTF8.self))" }
                }
                return true
            }
            context.log(.info, "raw \(values.joined(separator: " ")); full=\(context.parameter("full") ?? "nil")")
            try context.addFile(name: "a.csv", path: "/x/a.csv", rows: 3, bytes: 10, sha256: String(repeating: "0", count: 64))
            try context.setCursor("2026-11-23T00:00:00.000Z")
            return
        }
        var seen: [String] = []
        try context.readRecords(entity: "product", changedSince: "2024-01-01T00:00:00Z", batchSize: 2) { records in
            seen += records.map { $0["sku"] ?? "?" }
            return mode != "stop-early"
        }
        context.log(.info, "read \(seen.joined(separator: ","))")
    }

    func call(_ operation: String, request: [UInt8], context: CallContext) throws -> [UInt8] {
        guard operation == "echo" else { throw PluginError.unsupported("no operation \(operation)") }
        return Array("echo:".utf8) + request
    }
}

/// A plugin whose configuration is always refused.
struct RefusingPlugin: WharfPlugin {
    static let id = "kit-refusing"
    static let systemKind = "erp"
    static let version = "0.1.0"
    static let capabilities: PluginCapabilities = [.ingest]

    init(context: PluginContext) throws {
        throw PluginError.invalid("config key \"path\" is required")
    }
}

final class PluginExportTests: XCTestCase {
    private var descriptor: UnsafePointer<wharf_plugin_descriptor> {
        PluginExport.descriptor(for: EchoPlugin.self, hostMajor: 1, hostMinor: 0, host: fakeHost)!
    }

    private func run(config: String) -> FakeRun {
        let run = FakeRun()
        run.configJSON = config
        return run
    }

    private func create(_ run: FakeRun, _ descriptor: UnsafePointer<wharf_plugin_descriptor>? = nil)
        -> (status: wharf_status, instance: UnsafeMutableRawPointer?)
    {
        var instance: UnsafeMutableRawPointer? = UnsafeMutableRawPointer(bitPattern: 0xdead)
        let status = (descriptor ?? self.descriptor).pointee.create!(fakeHost, run.context, &instance)
        return (status, instance)
    }

    /// Creates an instance with `config`, runs ingest with the same run, destroys it; returns the status.
    private func ingest(_ run: FakeRun) -> wharf_status {
        let made = create(run)
        XCTAssertEqual(made.status, WHARF_OK, run.lastError ?? "")
        defer { descriptor.pointee.destroy!(made.instance) }
        return descriptor.pointee.ingest!(made.instance, run.context)
    }

    func testDescriptorDescribesThePlugin() {
        let d = descriptor.pointee
        XCTAssertEqual(Int(d.struct_size), MemoryLayout<wharf_plugin_descriptor>.size)
        XCTAssertEqual(d.abi_major, UInt16(WHARF_ABI_MAJOR))
        XCTAssertEqual(d.abi_minor, UInt16(WHARF_ABI_MINOR))
        XCTAssertEqual(String(cString: d.id), "kit-echo")
        XCTAssertEqual(String(cString: d.system_kind), "other")
        XCTAssertEqual(String(cString: d.version), "1.2.3")
        XCTAssertEqual(String(cString: d.description), "Kit test plugin")
        XCTAssertEqual(d.capabilities, 0b111, "WHARF_CAP_INGEST | WHARF_CAP_EXPORT | WHARF_CAP_CALL")
        XCTAssertNotNil(d.ingest)
        XCTAssertNotNil(d.export_data)
        XCTAssertNotNil(d.call)
        XCTAssertNil(d.get_extension)
        XCTAssertEqual(descriptor, descriptor, "the same type gets the same descriptor")

        let other = PluginExport.descriptor(for: RefusingPlugin.self, hostMajor: 1, hostMinor: 0, host: fakeHost)!
        XCTAssertNotEqual(other, descriptor)
        XCTAssertNil(other.pointee.description)
        XCTAssertNil(other.pointee.export_data, "no operation without its capability")
        XCTAssertNil(other.pointee.call)
        XCTAssertEqual(other.pointee.capabilities, 1, "WHARF_CAP_INGEST")
        let createA = unsafeBitCast(descriptor.pointee.create, to: UnsafeRawPointer.self)
        let createB = unsafeBitCast(other.pointee.create, to: UnsafeRawPointer.self)
        XCTAssertNotEqual(createA, createB, "each registered type needs its own create function")
    }

    func testRefusesAnotherABIMajorOrAShortHostTable() {
        XCTAssertNil(PluginExport.descriptor(for: EchoPlugin.self, hostMajor: 2, hostMinor: 0, host: fakeHost))
        XCTAssertNil(PluginExport.descriptor(for: EchoPlugin.self, hostMajor: 1, hostMinor: 0, host: nil))
        XCTAssertNil(PluginExport.descriptor(for: EchoPlugin.self, hostMajor: 1, hostMinor: 0, host: makeFakeHost(abiMajor: 2)))
        XCTAssertNil(PluginExport.descriptor(for: EchoPlugin.self, hostMajor: 1, hostMinor: 0, host: makeFakeHost(structSize: 16)))
        XCTAssertNotNil(PluginExport.descriptor(for: EchoPlugin.self, hostMajor: 1, hostMinor: 7, host: fakeHost), "a newer minor host is fine")
    }

    func testBatcherEmitsFullBatchesAndMovesTheCursorWithTheLast() {
        let run = run(config: #"{"count": 2500}"#)
        XCTAssertEqual(ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.emits.map(\.records.count), [1000, 1000, 500])
        XCTAssertEqual(run.emits.map(\.cursor), [nil, nil, "done-2500"])
        XCTAssertEqual(run.emits[1].records.first?["sku"], "S1001")
        XCTAssertEqual(run.logs.last?.message, "inserted 2500 in 3 batches")
    }

    /// Batches prepared on a producer thread and emitted on the operation's thread arrive as `add` would send them:
    /// same sizes, same order, the cursor with the last (non-empty) batch, also on an exact multiple.
    func testPreparedBatchesArriveLikeAddedRecords() {
        let run = run(config: #"{"mode": "prepared", "count": 2500}"#)
        XCTAssertEqual(ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.emits.map(\.records.count), [1000, 1000, 500])
        XCTAssertEqual(run.emits.map(\.cursor), [nil, nil, "done-2500"])
        XCTAssertEqual(run.emits.flatMap(\.records).map { $0["sku"] ?? "?" }, (1...2500).map { "S\($0)" })
        XCTAssertEqual(run.emits[2].records.last?["quantity"], "1")
        XCTAssertEqual(run.logs.last?.message, "inserted 2500 in 3 batches")

        let exact = self.run(config: #"{"mode": "prepared", "count": 6, "batch_size": 3}"#)
        XCTAssertEqual(ingest(exact), WHARF_OK, exact.lastError ?? "")
        XCTAssertEqual(exact.emits.map(\.records.count), [3, 3])
        XCTAssertEqual(exact.emits.map(\.cursor), [nil, "done-6"])

        let none = self.run(config: #"{"mode": "prepared", "count": 0}"#)
        XCTAssertEqual(ingest(none), WHARF_OK, none.lastError ?? "")
        XCTAssertEqual(none.emits.map(\.records.count), [0])
        XCTAssertEqual(none.cursor, "done-0")
    }

    func testAPreparedBatchMayNotOvertakeAddedRecords() {
        let run = run(config: #"{"mode": "prepared-overtaking"}"#)
        XCTAssertEqual(ingest(run), WHARF_ERR_STATE)
        XCTAssertTrue(run.lastError?.contains("while 1 added records wait") == true, run.lastError ?? "")
        XCTAssertTrue(run.emits.isEmpty)
    }

    func testBatcherKeepsTheCursorWithDataOnAnExactMultiple() {
        let run = run(config: #"{"count": 6, "batch_size": 3}"#)
        XCTAssertEqual(ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.emits.map(\.records.count), [3, 3])
        XCTAssertEqual(run.emits.map(\.cursor), [nil, "done-6"])
    }

    func testBatcherWithoutRecordsMovesOnlyTheCursor() {
        let run = run(config: #"{"count": 0}"#)
        XCTAssertEqual(ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.emits.map(\.records.count), [0])
        XCTAssertEqual(run.cursor, "done-0")
    }

    func testCancellationStopsBetweenBatches() {
        let run = run(config: #"{"count": 10, "batch_size": 3}"#)
        run.cancelAfterEmits = 2
        XCTAssertEqual(ingest(run), WHARF_ERR_CANCELLED)
        XCTAssertEqual(run.emits.count, 2)
        XCTAssertNil(run.cursor)
        XCTAssertEqual(run.lastError, "the run was cancelled")
    }

    func testHostStoreFailureBecomesTheStatus() {
        let run = run(config: #"{"count": 5}"#)
        run.emitStatus = WHARF_ERR_IO
        XCTAssertEqual(ingest(run), WHARF_ERR_IO)
        XCTAssertEqual(run.lastError, "the host could not store a batch of 5 records; nothing of that batch was kept")
    }

    func testRecordsReachTheHostAsCRecords() {
        let run = run(config: #"{"mode": "fields"}"#)
        XCTAssertEqual(ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.emits.count, 1)
        let records = run.emits[0].records
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records[0].entity, "product")
        XCTAssertEqual(records[0].fields, [
            RecordField("sku", "Ä-1"), RecordField("name", "Tasse ☕"), RecordField("description", nil),
            RecordField("attr.empty", ""), RecordField("status", "active"),
        ])
        XCTAssertEqual(records[0].location, RecordLocation(source: "feed.jsonl", line: 7, column: 3, recordNumber: 5))
        XCTAssertEqual(records[0].raw, "{\"raw\": 1}")
        XCTAssertEqual(records[1], Record(entity: "price", ["sku": "Ä-1", "currency": "EUR", "amount": "1.50"]))
        XCTAssertEqual(run.rawRecordSizes, [UInt32(MemoryLayout<wharf_record>.size), UInt32(MemoryLayout<wharf_record>.size)])
    }

    func testPluginErrorBecomesStatusAndMessage() {
        let run = run(config: #"{"mode": "plugin-error"}"#)
        XCTAssertEqual(ingest(run), WHARF_ERR_INVALID)
        XCTAssertEqual(run.errors, ["config key \"x\" is wrong; set it to y"])
    }

    func testAnyOtherErrorIsCaughtAtTheEdgeAsInternal() {
        let run = run(config: #"{"mode": "other-error"}"#)
        XCTAssertEqual(ingest(run), WHARF_ERR_INTERNAL)
        XCTAssertEqual(run.lastError, "unexpected error: something unexpected")
    }

    func testRefusedConfigurationFailsCreateWithoutAnInstance() {
        let other = PluginExport.descriptor(for: RefusingPlugin.self, hostMajor: 1, hostMinor: 0, host: fakeHost)!
        let run = FakeRun()
        let made = create(run, other)
        XCTAssertEqual(made.status, WHARF_ERR_INVALID)
        XCTAssertNil(made.instance)
        XCTAssertEqual(run.lastError, "config key \"path\" is required")
    }

    func testInvalidConfigJSONFailsCreate() {
        let run = run(config: "{not json")
        XCTAssertEqual(create(run).status, WHARF_ERR_INVALID)
        XCTAssertTrue(run.lastError?.hasPrefix("the connector's config is not valid JSON: ") ?? false, run.lastError ?? "")
    }

    func testRejectReachesTheHost() {
        let run = run(config: #"{"mode": "reject"}"#)
        XCTAssertEqual(ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.rejects.count, 1)
        XCTAssertEqual(run.rejects[0].location, RecordLocation(source: "in.csv", line: 4, recordNumber: 3))
        XCTAssertEqual(run.rejects[0].field, "sku")
        XCTAssertEqual(run.rejects[0].reason, "no SKU on line 4")
        XCTAssertEqual(run.rejects[0].raw, "a;b")
    }

    func testContextUsedAfterItsCallReturnedThrowsInsteadOfTouchingTheHost() {
        let run = run(config: #"{"mode": "stash"}"#)
        let made = create(run)
        defer { descriptor.pointee.destroy!(made.instance) }
        XCTAssertEqual(descriptor.pointee.ingest!(made.instance, run.context), WHARF_OK)
        XCTAssertEqual(descriptor.pointee.ingest!(made.instance, run.context), WHARF_ERR_STATE)
        XCTAssertTrue(run.emits.isEmpty, "a stale context never reaches the host")
        XCTAssertTrue(run.logs.isEmpty)
        XCTAssertEqual(run.lastError, "emit() was used after the plugin call it belongs to returned; use a context only during its call")
    }

    func testResolvePathGoesThroughTheHostWhenItHasTheFunction() {
        let run = run(config: #"{"mode": "paths"}"#)
        run.baseFolder = "/srv/deploy"
        XCTAssertEqual(ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.logs.map(\.message), ["/srv/deploy/data/x.csv /abs/y.csv"])

        // A host table that ends before resolve_path (an older 1.x host): paths come back unchanged.
        let olderHost = makeFakeHost(structSize: MemoryLayout<wharf_host_api>.offset(of: \wharf_host_api.resolve_path)!)
        let older = self.run(config: #"{"mode": "paths"}"#)
        var instance: UnsafeMutableRawPointer?
        XCTAssertEqual(descriptor.pointee.create!(olderHost, older.context, &instance), WHARF_OK)
        defer { descriptor.pointee.destroy!(instance) }
        XCTAssertEqual(descriptor.pointee.ingest!(instance, older.context), WHARF_OK)
        XCTAssertEqual(older.logs.map(\.message), ["data/x.csv /abs/y.csv"])
    }

    func testSecretAndCursorAccess() {
        let run = run(config: #"{"mode": "secret"}"#)
        run.secrets["env:TOKEN"] = "abcdef"
        run.cursor = "c-1"
        XCTAssertEqual(ingest(run), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.logs.map(\.message), ["token has 6 characters; cursor c-1"])
        XCTAssertEqual(run.logs.map(\.level), [WHARF_LOG_DEBUG.rawValue])

        let missing = self.run(config: #"{"mode": "secret"}"#)
        XCTAssertEqual(ingest(missing), WHARF_ERR_INVALID)
        XCTAssertTrue(missing.lastError?.contains("secret env:TOKEN could not be resolved") ?? false, missing.lastError ?? "")
    }

    func testExportReadsRecordsInBatches() {
        let run = run(config: "{}")
        run.readable = (1...5).map { ("product", [("sku", "P\($0)"), ("name", "N\($0)")]) }
        let made = create(run)
        defer { descriptor.pointee.destroy!(made.instance) }
        XCTAssertEqual(descriptor.pointee.export_data!(made.instance, run.context), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.logs.map(\.message), ["read P1,P2,P3,P4,P5"])
        XCTAssertEqual(run.readRequests.map(\.batchSize), [2])
        XCTAssertEqual(run.readRequests.map(\.changedSince), ["2024-01-01T00:00:00Z"])

        let early = self.run(config: #"{"mode": "stop-early"}"#)
        early.readable = run.readable
        let second = create(early)
        defer { descriptor.pointee.destroy!(second.instance) }
        XCTAssertEqual(descriptor.pointee.export_data!(second.instance, early.context), WHARF_OK, early.lastError ?? "")
        XCTAssertEqual(early.logs.map(\.message), ["read P1,P2"])
    }

    func testExportServicesReachTheHostAndAnOlderHostWithoutThemIsAnsweredClearly() {
        let run = run(config: #"{"mode": "export-services"}"#)
        run.readable = [("product", [("sku", "P1"), ("name", "Mug, \"big\"")])]
        run.parameters["full"] = "true"
        let made = create(run)
        defer { descriptor.pointee.destroy!(made.instance) }
        XCTAssertEqual(descriptor.pointee.export_data!(made.instance, run.context), WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.logs.map(\.message), [#"raw sku=P1 name=Mug, "big"; full=true"#])
        XCTAssertEqual(run.files.map(\.name), ["a.csv"])
        XCTAssertEqual(run.files.first?.rows, 3)
        XCTAssertEqual(run.cursor, "2026-11-23T00:00:00.000Z")

        // A host table that ends before the export services (a 1.0 host built before them): no parameters, files
        // are not listed, and storing the watermark fails with a message that says what to do.
        let olderHost = makeFakeHost(structSize: MemoryLayout<wharf_host_api>.offset(of: \wharf_host_api.cursor_set)!)
        let older = self.run(config: #"{"mode": "export-services"}"#)
        older.parameters["full"] = "true"
        var instance: UnsafeMutableRawPointer?
        XCTAssertEqual(descriptor.pointee.create!(olderHost, older.context, &instance), WHARF_OK)
        defer { descriptor.pointee.destroy!(instance) }
        XCTAssertEqual(descriptor.pointee.export_data!(instance, older.context), WHARF_ERR_UNSUPPORTED)
        XCTAssertEqual(older.logs.map(\.message), ["raw ; full=nil"])
        XCTAssertTrue(older.files.isEmpty)
        XCTAssertNil(older.cursor)
        XCTAssertEqual(older.lastError?.contains("cannot store an export's watermark"), true, older.lastError ?? "")
    }

    func testCallAnswersThroughSetResponse() {
        let run = run(config: "{}")
        let made = create(run)
        defer { descriptor.pointee.destroy!(made.instance) }
        let request = Array("{\"a\":1}".utf8)
        let status = request.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                descriptor.pointee.call!(made.instance, run.context, "echo", chars.baseAddress, chars.count)
            }
        }
        XCTAssertEqual(status, WHARF_OK, run.lastError ?? "")
        XCTAssertEqual(run.response.map { String(decoding: $0, as: UTF8.self) }, "echo:{\"a\":1}")
        XCTAssertEqual(descriptor.pointee.call!(made.instance, run.context, "other", nil, 0), WHARF_ERR_UNSUPPORTED)
        XCTAssertEqual(run.lastError, "no operation other")
    }
}

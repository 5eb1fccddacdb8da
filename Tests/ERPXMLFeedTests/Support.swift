import Foundation
import WharfABI
import WharfManifest
import WharfModel
import WharfPlugins
import WharfStore
import WharfTestSupport
import XCTest

@testable import WharfHost

/// The real erp-xml plugin library.
enum ERPXMLPlugin {
    static var path: String { BuildProducts.plugin("wharf-erp-xml").path }

    /// Fails the test with a hint when the library was not built.
    static func requireBuilt() throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("build it first: swift build --product wharf-erp-xml (\(path) is missing)")
        }
    }
}

/// The real samples (written by others; read only).
enum Samples {
    static func path(_ name: String) -> String {
        BuildProducts.sharedSamples.appendingPathComponent("real-world/\(name)").path
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOfFile: path(name), encoding: .utf8)
    }

    /// The 1-based line and column of the `occurrence`-th (1-based) `needle` in a sample, found by plain text search,
    /// to check reported positions against the file itself.
    static func position(of needle: String, occurrence: Int = 1, in text: String) -> (line: Int64, column: Int64)? {
        var count = 0
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var searchStart = line.startIndex
            while let range = line[searchStart...].range(of: needle) {
                count += 1
                if count == occurrence {
                    return (Int64(index + 1), Int64(line[line.startIndex..<range.lowerBound].count + 1))
                }
                searchStart = range.upperBound
            }
        }
        return nil
    }
}

/// A deployment in a temporary folder with the real erp-xml plugin installed: the real host (ConnectorRunner), the
/// real SQLite store.
final class XMLDeployment {
    let folder: TemporaryDirectory
    let deployment: Deployment
    let logLines = LogLines()
    var store: Store { deployment.store }

    /// Writes a manifest with `connectors` (JSON5) and `files`, and opens it.
    convenience init(connectors: String, files: [String: String] = [:]) throws {
        let folder = TemporaryDirectory(prefix: "wharf-erp-xml")
        for (name, text) in files { folder.write(name, text) }
        let path = folder.write("wharf.json5", """
            { database: "db/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins", connectors: \(connectors) }
            """)
        try self.init(manifest: try Manifest.load(path: path), folder: folder)
    }

    /// Opens a shipped manifest (manifests/examples/…) as it is, with only its database and plugin folder moved into
    /// a temporary folder.
    convenience init(example name: String) throws {
        let path = BuildProducts.packageRoot.appendingPathComponent("manifests/examples/\(name)").path
        var manifest = try Manifest.load(path: path)
        let folder = TemporaryDirectory(prefix: "wharf-erp-xml-example")
        manifest.database = folder.file("db/wharf.sqlite")
        manifest.pluginFolder = folder.file("plugins")
        try self.init(manifest: manifest, folder: folder)
    }

    /// Connectors run in this process (`isolation: inprocess`), so the tests exercise the plugin through the real
    /// host services and store without depending on a built `wharf` worker binary.
    private init(manifest: Manifest, folder: TemporaryDirectory) throws {
        try ERPXMLPlugin.requireBuilt()
        var manifest = manifest
        for index in manifest.connectors.indices { manifest.connectors[index].isolation = .inprocess }
        self.folder = folder
        let lines = logLines
        deployment = try Deployment(manifest: manifest, logger: Logger(level: .debug, sink: { lines.append($0) }))
        try deployment.plugins.install(from: ERPXMLPlugin.path, replace: true, host: HostServices.table)
    }

    /// Runs a connector's ingest through the host.
    func run(_ connector: String) throws -> Run {
        try ConnectorRunner(deployment: deployment).ingest(connector: connector, trigger: .manual)
    }

    /// What `wharf manifest check` says about a connector (nil: accepted).
    func check(_ connector: String) -> String? {
        ConnectorRunner.checkConfiguration(
            of: deployment.manifest.connector(named: connector)!, manifest: deployment.manifest,
            plugins: deployment.plugins, logger: deployment.logger)
    }

    func rejects(_ run: Run) throws -> [Reject] {
        try store.rejects(runID: run.id, limit: 1000, afterID: nil)
    }

    func logs(containing text: String) -> [String] {
        logLines.all.filter { $0.contains(text) }
    }
}

// MARK: Recording host

/// One record as the recording host saw it: fields as "name=value".
struct SeenRecord: Equatable, CustomStringConvertible {
    var entity: String
    var fields: [String]
    var line: UInt64
    var column: UInt64
    var recordNumber: UInt64
    var source: String?
    var raw: String?
    /// `wharf_record.element` (nil when all zero).
    var element: SeenElement? = nil

    var description: String { "\(entity)(\(fields.joined(separator: ", ")) @\(line):\(column)#\(recordNumber))" }

    /// Every value of field `name`.
    func values(_ name: String) -> [String] {
        fields.compactMap { field in
            field.hasPrefix(name + "=") ? String(field.dropFirst(name.count + 1)) : nil
        }
    }

    subscript(name: String) -> String? { values(name).first }
}

/// An element digest as the recording host saw it (asked about, or in a record).
struct SeenElement: Hashable, CustomStringConvertible {
    var high: UInt64
    var low: UInt64
    var sequence: UInt64

    init(_ element: wharf_element_digest) {
        high = element.digest_high
        low = element.digest_low
        sequence = element.sequence
    }

    /// The digest without its sequence.
    var digest: [UInt64] { [high, low] }

    var description: String { "#\(sequence):\(String(high, radix: 16))/\(String(low, radix: 16))" }
}

/// One reject as the recording host saw it.
struct SeenReject: Equatable {
    var line: UInt64
    var column: UInt64
    var recordNumber: UInt64
    var source: String?
    var field: String?
    var reason: String
    var raw: String?
}

/// The state behind one fake `wharf_context` of the recording host.
final class RecordingRun {
    var configJSON: String
    var mappingJSON: String
    var cursor: String?
    var baseFolder = "/"
    var emits: [(records: [SeenRecord], cursor: String?)] = []
    var rejects: [SeenReject] = []
    var logs: [String] = []
    var lastError: String?
    /// Elements asked about through "wharf.element-digests.v1", in order (from the plugin's producer thread).
    var askedElements: [SeenElement] = []
    /// Digests (high, low) the host answers "skip" for.
    var skippable: Set<[UInt64]> = []
    private var strings: [UnsafeMutablePointer<CChar>] = []

    init(config: String, mapping: String, cursor: String? = nil) {
        configJSON = config
        mappingJSON = mapping
        self.cursor = cursor
    }

    deinit { for pointer in strings { free(pointer) } }

    var context: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }
    var records: [SeenRecord] { emits.flatMap(\.records) }

    func keep(_ text: String) -> UnsafePointer<CChar> {
        let pointer = strdup(text)!
        strings.append(pointer)
        return UnsafePointer(pointer)
    }

    static func from(_ context: OpaquePointer?) -> RecordingRun {
        Unmanaged<RecordingRun>.fromOpaque(UnsafeRawPointer(context!)).takeUnretainedValue()
    }
}

private func text(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String? {
    guard let pointer else { return nil }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
}

/// A host table that records what the plugin emits, for fields the real host may not store yet.
nonisolated(unsafe) let recordingHost: UnsafePointer<wharf_host_api> = {
    var api = wharf_host_api()
    api.struct_size = UInt32(MemoryLayout<wharf_host_api>.size)
    api.abi_major = UInt16(WHARF_ABI_MAJOR)
    api.abi_minor = UInt16(WHARF_ABI_MINOR)
    api.log = { ctx, _, message in RecordingRun.from(ctx).logs.append(String(cString: message!)) }
    api.config_json = { ctx in
        let run = RecordingRun.from(ctx)
        return run.keep(run.configJSON)
    }
    api.mapping_json = { ctx in
        let run = RecordingRun.from(ctx)
        return run.keep(run.mappingJSON)
    }
    api.config_string = { _, _ in nil }
    api.secret = { _, _ in nil }
    api.cursor_get = { ctx in
        let run = RecordingRun.from(ctx)
        return run.cursor.map { run.keep($0) }
    }
    api.emit = { ctx, records, count, cursor, counts in
        let run = RecordingRun.from(ctx)
        var seen: [SeenRecord] = []
        if count > 0, let records {
            let stride = Int(records.pointee.struct_size)
            for index in 0..<count {
                let record = (UnsafeRawPointer(records) + index * stride).assumingMemoryBound(to: wharf_record.self).pointee
                var fields: [String] = []
                for fieldIndex in 0..<Int(record.field_count) {
                    let field = record.fields![fieldIndex]
                    let name = String(cString: field.name!)
                    fields.append(text(field.value, field.value_len).map { "\(name)=\($0)" } ?? name)
                }
                seen.append(
                    SeenRecord(
                        entity: String(cString: record.entity!), fields: fields, line: record.location.line,
                        column: record.location.column, recordNumber: record.location.record_number,
                        source: record.location.source.map { String(cString: $0) }, raw: text(record.raw, record.raw_len),
                        element: record.element.digest_high == 0 && record.element.digest_low == 0 ? nil : SeenElement(record.element)))
            }
        }
        let newCursor = cursor.map { String(cString: $0) }
        run.emits.append((seen, newCursor))
        if let newCursor { run.cursor = newCursor }
        if let counts, counts.pointee.struct_size >= UInt32(MemoryLayout<wharf_emit_counts>.size) {
            counts.pointee.inserted = UInt64(count)
        }
        return WHARF_OK
    }
    api.reject = { ctx, reject in
        let r = reject!.pointee
        RecordingRun.from(ctx).rejects.append(
            SeenReject(
                line: r.location.line, column: r.location.column, recordNumber: r.location.record_number,
                source: r.location.source.map { String(cString: $0) }, field: r.field.map { String(cString: $0) },
                reason: String(cString: r.reason!), raw: text(r.raw, r.raw_len)))
        return WHARF_OK
    }
    api.is_cancelled = { _ in 0 }
    api.set_error = { ctx, message in RecordingRun.from(ctx).lastError = String(cString: message!) }
    api.read_records = { _, _, _, _ in WHARF_ERR_UNSUPPORTED }
    api.set_response = { _, _, _ in WHARF_ERR_STATE }
    api.get_extension = { id in strcmp(id!, WHARF_EXT_ELEMENT_DIGESTS_V1) == 0 ? UnsafeRawPointer(recordingElementDigests) : nil }
    api.resolve_path = { ctx, path in
        let run = RecordingRun.from(ctx)
        guard let path, path.pointee != 0 else { return nil }
        let text = String(cString: path)
        return run.keep(text.hasPrefix("/") ? text : "\(run.baseFolder)/\(text)")
    }
    let pointer = UnsafeMutablePointer<wharf_host_api>.allocate(capacity: 1)
    pointer.initialize(to: api)
    return UnsafePointer(pointer)
}()

/// The recording host without any extension (an older host).
nonisolated(unsafe) let recordingHostWithoutExtensions: UnsafePointer<wharf_host_api> = {
    var api = recordingHost.pointee
    api.get_extension = { _ in nil }
    let pointer = UnsafeMutablePointer<wharf_host_api>.allocate(capacity: 1)
    pointer.initialize(to: api)
    return UnsafePointer(pointer)
}()

/// The recording host's "wharf.element-digests.v1": records what is asked and answers "skip" for the run's
/// `skippable` digests. Like the real host, it refuses a sequence that does not increase.
nonisolated(unsafe) let recordingElementDigests: UnsafePointer<wharf_element_digests_v1> = {
    let table = UnsafeMutablePointer<wharf_element_digests_v1>.allocate(capacity: 1)
    table.initialize(
        to: wharf_element_digests_v1(
            struct_size: UInt32(MemoryLayout<wharf_element_digests_v1>.size), reserved: 0,
            skip_unchanged: { ctx, elements, count, skip in
                let run = RecordingRun.from(ctx)
                for index in 0..<count {
                    let element = SeenElement(elements![index])
                    if element.sequence <= run.askedElements.last?.sequence ?? 0 || element.digest == [0, 0] {
                        skip!.update(repeating: 0, count: count)
                        return WHARF_ERR_INVALID
                    }
                    run.askedElements.append(element)
                    skip![index] = run.skippable.contains(element.digest) ? 1 : 0
                }
                return WHARF_OK
            }))
    return UnsafePointer(table)
}()

/// Runs the real plugin library against the recording host.
enum RecordingIngest {
    struct Failure: Error, CustomStringConvertible {
        var status: wharf_status
        var message: String
        var description: String { "status \(status): \(message)" }
    }

    static func descriptor() throws -> UnsafePointer<wharf_plugin_descriptor> {
        try ERPXMLPlugin.requireBuilt()
        return try PluginLoader.load(path: ERPXMLPlugin.path, host: recordingHost).descriptor
    }

    /// Creates an instance for `run` (throws the create error) and ingests; returns the ingest status.
    @discardableResult
    static func ingest(_ run: RecordingRun, host: UnsafePointer<wharf_host_api> = recordingHost) throws -> wharf_status {
        let descriptor = try descriptor()
        var instance: UnsafeMutableRawPointer?
        let status = descriptor.pointee.create!(host, run.context, &instance)
        guard status == WHARF_OK else { throw Failure(status: status, message: run.lastError ?? "-") }
        defer { descriptor.pointee.destroy!(instance) }
        return descriptor.pointee.ingest!(instance, run.context)
    }

    /// The create error message for a mapping (nil when accepted).
    static func createError(config: String, mapping: String) throws -> String? {
        let run = RecordingRun(config: config, mapping: mapping)
        let descriptor = try descriptor()
        var instance: UnsafeMutableRawPointer?
        let status = descriptor.pointee.create!(recordingHost, run.context, &instance)
        if status == WHARF_OK {
            descriptor.pointee.destroy!(instance)
            return nil
        }
        return run.lastError ?? "status \(status) without a message"
    }
}

/// JSON text of a Swift string, for building config/mapping JSON in tests.
func jsonString(_ text: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])
    let array = String(decoding: data, as: UTF8.self)
    return String(array.dropFirst().dropLast())
}

import Foundation
import WharfABI

/// One record as the fake host saw it in `emit`, with fields written "name=value" ("name" alone when absent) so
/// that tests can compare whole records in one assertion.
struct SeenRecord: Equatable, CustomStringConvertible {
    var entity: String
    var fields: [String]
    var source: String?
    var line: UInt64
    var recordNumber: UInt64
    var raw: String?

    var description: String { "\(entity)(\(fields.joined(separator: ", ")) @\(source ?? "-"):\(line)#\(recordNumber))" }
}

/// One reject as the fake host saw it.
struct SeenReject: Equatable {
    var line: UInt64
    var recordNumber: UInt64
    var source: String?
    var field: String?
    var reason: String
    var raw: String?
}

/// One `emit` call.
struct SeenEmit {
    var records: [SeenRecord]
    var cursor: String?
}

/// The state behind one fake `wharf_context`: configuration in, everything the plugin did out.
///
/// The `wharf_context *` handed to the plugin is this object's address, so the C stubs below need no globals.
final class RecordingRun {
    var configJSON: String
    /// What `config_string` answers, by dotted path.
    var configValues: [String: String]
    var mappingJSON: String
    var cursor: String?
    /// The folder `resolve_path` resolves relative paths against (the manifest's folder in the real host).
    var baseFolder = "/base"
    /// After this many emits, `is_cancelled` answers 1.
    var cancelAfterEmits: Int?
    var emits: [SeenEmit] = []
    var rejects: [SeenReject] = []
    var logs: [(level: UInt32, message: String)] = []
    var lastError: String?
    private var strings: [UnsafeMutablePointer<CChar>] = []

    /// `config` scalars: values "true"/"false" and whole numbers go into the JSON text unquoted.
    init(config: KeyValuePairs<String, String> = [:], mapping: String = "{}", cursor: String? = nil) {
        var members: [String] = []
        var values: [String: String] = [:]
        for (key, value) in config {
            values[key] = value
            let literal = value == "true" || value == "false" || (!value.isEmpty && value.allSatisfy(\.isNumber))
            members.append("\(Self.quote(key)): \(literal ? value : Self.quote(value))")
        }
        configJSON = "{" + members.joined(separator: ", ") + "}"
        configValues = values
        mappingJSON = mapping
        self.cursor = cursor
    }

    deinit {
        for pointer in strings { free(pointer) }
    }

    var context: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }
    var records: [SeenRecord] { emits.flatMap(\.records) }
    var isCancelled: Bool { cancelAfterEmits.map { emits.count >= $0 } ?? false }

    /// A C string that lives as long as the run (the ABI promises host strings for the duration of the call).
    func keep(_ text: String) -> UnsafePointer<CChar> {
        let pointer = strdup(text)!
        strings.append(pointer)
        return UnsafePointer(pointer)
    }

    static func from(_ context: OpaquePointer?) -> RecordingRun {
        Unmanaged<RecordingRun>.fromOpaque(UnsafeRawPointer(context!)).takeUnretainedValue()
    }

    private static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

func string(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String? {
    guard let pointer else { return nil }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
}

/// The recording host table: stub services that write into the `RecordingRun` behind each context.
/// Lives for the whole test process, as the ABI requires of a host table.
nonisolated(unsafe) let recordingHost: UnsafePointer<wharf_host_api> = {
    var api = wharf_host_api()
    api.struct_size = UInt32(MemoryLayout<wharf_host_api>.size)
    api.abi_major = UInt16(WHARF_ABI_MAJOR)
    api.abi_minor = UInt16(WHARF_ABI_MINOR)
    api.log = { ctx, level, message in
        RecordingRun.from(ctx).logs.append((level.rawValue, String(cString: message!)))
    }
    api.config_json = { ctx in
        let run = RecordingRun.from(ctx)
        return run.keep(run.configJSON)
    }
    api.mapping_json = { ctx in
        let run = RecordingRun.from(ctx)
        return run.keep(run.mappingJSON)
    }
    api.config_string = { ctx, path in
        let run = RecordingRun.from(ctx)
        return run.configValues[String(cString: path!)].map { run.keep($0) }
    }
    api.secret = { ctx, reference in
        RecordingRun.from(ctx).lastError = "no secret \(String(cString: reference!))"
        return nil
    }
    api.cursor_get = { ctx in
        let run = RecordingRun.from(ctx)
        return run.cursor.map { run.keep($0) }
    }
    api.emit = { ctx, records, count, cursor, counts in
        let run = RecordingRun.from(ctx)
        var seen: [SeenRecord] = []
        if count > 0, let records {
            // Step by the array's struct_size, as the ABI says readers must.
            let stride = Int(records.pointee.struct_size)
            for index in 0..<count {
                let record = (UnsafeRawPointer(records) + index * stride).assumingMemoryBound(to: wharf_record.self).pointee
                var fields: [String] = []
                for fieldIndex in 0..<Int(record.field_count) {
                    let field = record.fields![fieldIndex]
                    let name = String(cString: field.name!)
                    fields.append(string(field.value, field.value_len).map { "\(name)=\($0)" } ?? name)
                }
                seen.append(
                    SeenRecord(
                        entity: String(cString: record.entity!), fields: fields,
                        source: record.location.source.map { String(cString: $0) }, line: record.location.line,
                        recordNumber: record.location.record_number, raw: string(record.raw, record.raw_len)))
            }
        }
        let newCursor = cursor.map { String(cString: $0) }
        run.emits.append(SeenEmit(records: seen, cursor: newCursor))
        if let newCursor { run.cursor = newCursor }
        if let counts, counts.pointee.struct_size >= UInt32(MemoryLayout<wharf_emit_counts>.size) {
            counts.pointee.inserted = UInt64(count)
        }
        return WHARF_OK
    }
    api.reject = { ctx, reject in
        let run = RecordingRun.from(ctx)
        let r = reject!.pointee
        run.rejects.append(
            SeenReject(
                line: r.location.line, recordNumber: r.location.record_number,
                source: r.location.source.map { String(cString: $0) }, field: r.field.map { String(cString: $0) },
                reason: String(cString: r.reason!), raw: string(r.raw, r.raw_len)))
        return WHARF_OK
    }
    api.is_cancelled = { ctx in RecordingRun.from(ctx).isCancelled ? 1 : 0 }
    api.set_error = { ctx, message in RecordingRun.from(ctx).lastError = String(cString: message!) }
    api.read_records = { _, _, _, _ in WHARF_ERR_UNSUPPORTED }
    api.set_response = { _, _, _ in WHARF_ERR_STATE }
    api.get_extension = { _ in nil }
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

/// An instance of a loaded plugin, created through its descriptor with a recording run's config.
final class PluginInstance {
    let descriptor: UnsafePointer<wharf_plugin_descriptor>
    let instance: UnsafeMutableRawPointer?

    /// Creates the instance, or returns the status and the plugin's error message.
    static func create(
        _ descriptor: UnsafePointer<wharf_plugin_descriptor>, run: RecordingRun
    ) -> Result<PluginInstance, CreateFailure> {
        var instance: UnsafeMutableRawPointer?
        let status = descriptor.pointee.create!(recordingHost, run.context, &instance)
        if status != WHARF_OK { return .failure(CreateFailure(status: status, message: run.lastError)) }
        return .success(PluginInstance(descriptor: descriptor, instance: instance))
    }

    struct CreateFailure: Error {
        var status: wharf_status
        var message: String?
    }

    private init(descriptor: UnsafePointer<wharf_plugin_descriptor>, instance: UnsafeMutableRawPointer?) {
        self.descriptor = descriptor
        self.instance = instance
    }

    func ingest(_ run: RecordingRun) -> wharf_status {
        descriptor.pointee.ingest!(instance, run.context)
    }

    deinit { descriptor.pointee.destroy!(instance) }
}

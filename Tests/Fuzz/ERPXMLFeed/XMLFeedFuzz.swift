import ERPXMLFeed
import Foundation
import WharfABI
import WharfManifest

// Fuzzes the erp-xml plugin on feed input: the real plugin (linked in), created and run through the plugin ABI the
// way the host does it, against a small host table that checks what the plugin hands over.
//
// Input: byte 0 picks the mapping (the erp-xml connectors of manifests/examples, sorted by name, then one built in)
// and the limits (defaults, or the smallest the plugin allows); the rest is the feed file. Besides "no crash, no
// sanitizer report", each input is checked for:
//  - a run that fails says why (`set_error` with a message);
//  - every record emitted has an entity and named fields whose values are UTF-8 (as the ABI promises the host);
//  - every reject has a reason.

/// One fuzz run's side of the host: what the plugin asked for and handed over.
final class FuzzContext: @unchecked Sendable {
    let configJSON: String
    let mappingJSON: String
    /// Guarded by `lock`: the plugin may call the host from its parsing thread.
    private let lock = NSLock()
    private var kept: [UnsafeMutablePointer<CChar>] = []
    var error: String?
    var records = 0
    var rejects = 0

    init(configJSON: String, mappingJSON: String) {
        self.configJSON = configJSON
        self.mappingJSON = mappingJSON
    }

    deinit { for pointer in kept { free(pointer) } }

    /// A C copy that lives as long as this context (the ABI: valid until the call that received `ctx` returns).
    func keep(_ text: String) -> UnsafePointer<CChar> {
        let pointer = strdup(text)!
        lock.withLock { kept.append(pointer) }
        return UnsafePointer(pointer)
    }

    var opaque: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ ctx: OpaquePointer?) -> FuzzContext {
        guard let ctx else { fatalError("erp-xml property violated: a host call without a context") }
        return Unmanaged<FuzzContext>.fromOpaque(UnsafeRawPointer(ctx)).takeUnretainedValue()
    }
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("erp-xml property violated: \(message())") }
}

private func requireText(_ pointer: UnsafePointer<CChar>?, _ what: String) -> String {
    guard let pointer else { fatalError("erp-xml property violated: \(what) is NULL") }
    return String(cString: pointer)
}

/// The host table: every service the ABI lists, checking its arguments.
nonisolated(unsafe) private let host: UnsafePointer<wharf_host_api> = {
    var api = wharf_host_api()
    api.struct_size = UInt32(MemoryLayout<wharf_host_api>.size)
    api.abi_major = UInt16(WHARF_ABI_MAJOR)
    api.abi_minor = UInt16(WHARF_ABI_MINOR)
    api.log = { ctx, _, message in
        _ = FuzzContext.from(ctx)
        _ = requireText(message, "a log message")
    }
    api.config_json = { ctx in
        let context = FuzzContext.from(ctx)
        return context.keep(context.configJSON)
    }
    api.mapping_json = { ctx in
        let context = FuzzContext.from(ctx)
        return context.keep(context.mappingJSON)
    }
    api.config_string = { _, _ in nil }
    api.secret = { _, _ in nil }
    api.cursor_get = { _ in nil }
    api.emit = { ctx, records, count, _, counts in
        let context = FuzzContext.from(ctx)
        if count > 0 {
            guard let records else { fatalError("erp-xml property violated: emit with a count and no records") }
            let stride = Int(records.pointee.struct_size)
            check(stride >= MemoryLayout<wharf_record>.size, "a record struct_size of \(stride)")
            for index in 0..<count {
                let record = (UnsafeRawPointer(records) + index * stride).assumingMemoryBound(to: wharf_record.self).pointee
                check(!requireText(record.entity, "a record's entity").isEmpty, "an empty entity")
                check(record.field_count == 0 || record.fields != nil, "fields missing")
                for fieldIndex in 0..<Int(record.field_count) {
                    let field = record.fields![fieldIndex]
                    check(!requireText(field.name, "a field name").isEmpty, "an empty field name")
                    check(field.value_len == 0 || field.value != nil, "a field value of \(field.value_len) bytes at NULL")
                    if let value = field.value {
                        let bytes = UnsafeRawBufferPointer(start: value, count: field.value_len)
                        check(
                            String(validating: bytes, as: UTF8.self) != nil,
                            "field \(String(cString: field.name!)) is not UTF-8: \(Array(bytes.prefix(64)))")
                    }
                }
                check(record.raw_len == 0 || record.raw != nil, "raw bytes at NULL")
            }
        }
        context.records += count
        if let counts, counts.pointee.struct_size >= UInt32(MemoryLayout<wharf_emit_counts>.size) {
            counts.pointee.inserted = UInt64(count)
        }
        return WHARF_OK
    }
    api.reject = { ctx, reject in
        let context = FuzzContext.from(ctx)
        guard let reject else { fatalError("erp-xml property violated: reject(NULL)") }
        check(!requireText(reject.pointee.reason, "a reject's reason").isEmpty, "a reject without a reason")
        check(reject.pointee.raw_len == 0 || reject.pointee.raw != nil, "reject raw bytes at NULL")
        context.rejects += 1
        return WHARF_OK
    }
    api.is_cancelled = { _ in 0 }
    api.set_error = { ctx, message in FuzzContext.from(ctx).error = requireText(message, "an error message") }
    api.read_records = { _, _, _, _ in WHARF_ERR_STATE }
    api.set_response = { _, _, _ in WHARF_ERR_STATE }
    api.get_extension = { _ in nil }
    api.resolve_path = { ctx, path in
        let context = FuzzContext.from(ctx)
        guard let path, path.pointee != 0 else { return nil }
        return context.keep(String(cString: path))
    }
    api.report_progress = { _, _, _ in }
    let pointer = UnsafeMutablePointer<wharf_host_api>.allocate(capacity: 1)
    pointer.initialize(to: api)
    return UnsafePointer(pointer)
}()

/// A feed file of this process's own; tmpfs when there is one.
private let feedPath: String = {
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(folder)/wharf-fuzz-erp-xml-\(getpid()).xml"
}()

/// A mapping every feed shape can reach: attributes, predicates, nested records, transforms.
private let builtInMapping = """
    { records: [
        { path: "/feed/item", entity: "product",
          fields: { sku: "sku", name: { path: ["name[@lang='en']", "name"], transform: ["collapse"] },
                    description: "description", status: "@status", "attr.ean": "ean",
                    "attr.tags": { path: "tag", all: true, join: ", " }, category: { path: "cat", all: true } },
          attributes: { each: "feature", name: "@name", value: "." },
          records: [ { each: "price[@type='net']", entity: "price",
                       fields: { sku: { record: "sku" }, currency: { path: ["@currency", "/feed/@currency"] },
                                 amount: { path: ".", transform: ["decimal"] }, min_quantity: { path: "@from", transform: ["integer"] } } } ] },
        { path: "/feed/stock", entity: "stock",
          fields: { sku: "@sku", source: "@at", quantity: { path: ".", transform: ["integer"] } } }
    ] }
    """

/// (name, mapping as JSON text) for every erp-xml connector of manifests/examples, by name, then the built-in one.
private let mappings: [(name: String, json: String)] = {
    var found: [(String, String)] = []
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let examples = root.appendingPathComponent("manifests/examples")
    let files = (try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? []
    for file in files.sorted() where file.hasSuffix(".json5") {
        do {
            let manifest = try Manifest.load(path: examples.appendingPathComponent(file).path)
            for connector in manifest.connectors where connector.plugin == "erp-xml" {
                found.append((connector.name, connector.mapping.jsonText()))
            }
        } catch {
            fatalError("cannot read the example manifest \(file) for its mapping: \(error)")
        }
    }
    if found.isEmpty {
        FileHandle.standardError.write(Data("note: no example manifests at \(examples.path); fuzzing with the built-in mapping only\n".utf8))
    }
    found.sort { $0.0 < $1.0 }
    guard let builtIn = try? JSONValue.parse(json5: builtInMapping) else { fatalError("the built-in mapping does not parse") }
    found.append(("built-in", builtIn.jsonText()))
    return found
}()

/// One plugin instance per mapping and limit set, created once (creating compiles the mapping).
nonisolated(unsafe) private let instances: [UnsafeMutableRawPointer?] = {
    guard let descriptor = wharfPluginEntry(UInt32(WHARF_ABI_MAJOR), UInt32(WHARF_ABI_MINOR), host) else {
        fatalError("the erp-xml plugin refused the fuzz host table")
    }
    let defaults = #"{"path":"\#(feedPath)","force":true}"#
    let smallest = #"{"path":"\#(feedPath)","force":true,"batchSize":1,"maxDepth":8,"maxTextBytes":1024,"maxRecordBytes":1024,"rawBytes":16}"#
    var made: [UnsafeMutableRawPointer?] = []
    for config in [defaults, smallest] {
        for mapping in mappings {
            let context = FuzzContext(configJSON: config, mappingJSON: mapping.json)
            var instance: UnsafeMutableRawPointer?
            let status = descriptor.pointee.create!(host, context.opaque, &instance)
            guard status == WHARF_OK else {
                fatalError("the erp-xml plugin refused mapping \(mapping.name): \(context.error ?? "no message")")
            }
            made.append(instance)
        }
    }
    return made
}()

nonisolated(unsafe) private let descriptor = wharfPluginEntry(UInt32(WHARF_ABI_MAJOR), UInt32(WHARF_ABI_MINOR), host)!

/// `WHARF_FUZZ_VERBOSE=1` prints what each input did (for checking that seeds reach the mappings).
private let verbose = ProcessInfo.processInfo.environment["WHARF_FUZZ_VERBOSE"] != nil

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzXMLFeed(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let choice = Int(data[0]) % instances.count
    let feed = Data(bytes: data + 1, count: size - 1)
    guard FileManager.default.createFile(atPath: feedPath, contents: feed) else {
        fatalError("cannot write the feed file \(feedPath)")
    }
    defer { unlink(feedPath) }
    let context = FuzzContext(configJSON: "{}", mappingJSON: "{}")
    let status = descriptor.pointee.ingest!(instances[choice], context.opaque)
    if verbose {
        print("\(mappings[choice % mappings.count].name)\(choice >= mappings.count ? " (smallest limits)" : ""): status \(status), \(context.records) records, \(context.rejects) rejects\(context.error.map { ", error: \($0)" } ?? "")")
    }
    if status != WHARF_OK {
        check(!(context.error ?? "").isEmpty, "ingest failed with status \(status) and no message (mapping \(mappings[choice % mappings.count].name))")
    }
    return 0
}

import Synchronization
import WharfABI

/// Log levels for ``PluginContext/log(_:_:)``.
public enum LogLevel: Int32, Sendable {
    /// Fine detail for debugging plugin internals.
    case trace = 0
    /// Detail useful when diagnosing a connector.
    case debug = 1
    /// Normal progress ("read 1200 lines").
    case info = 2
    /// Something odd that did not stop the run.
    case warning = 3
    /// A failure.
    case error = 4
}

/// The host services available while the host runs one plugin call (`create`, or any operation).
///
/// A context is valid only during the call it was handed to: the kit invalidates it when the call returns, after
/// which throwing methods throw ``PluginError/Status/state`` and the others do nothing (return nil). Use it on the
/// thread that runs the call; only ``log(_:_:)`` and, on operation contexts, `isCancelled` may be used from other
/// threads the plugin starts (while the call runs). That is why it is `@unchecked Sendable`.
public class PluginContext: @unchecked Sendable {
    /// The host's service table (valid for the life of the process).
    let host: UnsafePointer<wharf_host_api>
    /// The host's opaque context for this call.
    let raw: OpaquePointer
    private let valid = Atomic<Bool>(true)

    init(host: UnsafePointer<wharf_host_api>, raw: OpaquePointer) {
        self.host = host
        self.raw = raw
    }

    /// Ends the context's life (the call it belongs to is returning).
    func invalidate() {
        valid.store(false, ordering: .releasing)
    }

    /// True while the call this context belongs to is running.
    public var isValid: Bool { valid.load(ordering: .acquiring) }

    func checkValid(_ what: String) throws(PluginError) {
        guard isValid else {
            throw PluginError(.state, "\(what) was used after the plugin call it belongs to returned; use a context only during its call")
        }
    }

    /// The connector's `config` object from the manifest, as JSON text (`"{}"` when absent).
    public var configJSON: String {
        guard isValid, let text = host.pointee.config_json(raw) else { return "{}" }
        return String(cString: text)
    }

    /// The connector's `mapping` object from the manifest, as JSON text (`"{}"` when absent).
    public var mappingJSON: String {
        guard isValid, let text = host.pointee.mapping_json(raw) else { return "{}" }
        return String(cString: text)
    }

    /// The parsed `config` (an object; secrets appear as written, e.g. `"env:NAME"`).
    public func config() throws(PluginError) -> JSON {
        try checkValid("config()")
        return try parseObject(configJSON, what: "config")
    }

    /// The parsed `mapping` (an object).
    public func mapping() throws(PluginError) -> JSON {
        try checkValid("mapping()")
        return try parseObject(mappingJSON, what: "mapping")
    }

    /// One scalar config value by dotted path (`"files.delimiter"`), as text, or nil when absent or not a scalar.
    public func configString(_ path: String) -> String? {
        guard isValid else { return nil }
        return path.withCString { cPath in
            host.pointee.config_string(raw, cPath).map { String(cString: $0) }
        }
    }

    /// A file path from the config made usable: absolute paths stay as they are, relative ones are resolved by the
    /// host against the deployment manifest's folder (so a manifest and its data files move together). With a host
    /// older than `resolve_path`, the path is returned unchanged (relative to the working directory).
    public func resolvePath(_ path: String) -> String {
        guard isValid, !path.isEmpty, Int(host.pointee.struct_size) >= Self.resolvePathEnd,
            let resolve = host.pointee.resolve_path
        else { return path }
        return path.withCString { resolve(raw, $0) }.map { String(cString: $0) } ?? path
    }

    /// The end of `resolve_path` in the host table: a host whose struct_size is smaller does not have it.
    static let resolvePathEnd =
        MemoryLayout<wharf_host_api>.offset(of: \wharf_host_api.resolve_path)! + MemoryLayout<UnsafeRawPointer?>.size

    /// Resolves a secret reference (`"env:NAME"`). Never log the result.
    public func secret(_ reference: String) throws(PluginError) -> String {
        try checkValid("secret()")
        let value = reference.withCString { host.pointee.secret(raw, $0).map { String(cString: $0) } }
        guard let value else {
            throw PluginError.invalid("secret \(reference) could not be resolved; set it in the environment of the Wharf process")
        }
        return value
    }

    /// Writes one log line for the connector (and run). May be called from any thread while the call runs.
    public func log(_ level: LogLevel, _ message: String) {
        guard isValid else { return }
        message.withCString { host.pointee.log(raw, wharf_log_level(rawValue: UInt32(level.rawValue)), $0) }
    }

    /// Explains the failure about to be returned (the kit does this for thrown errors).
    func setError(_ message: String) {
        guard isValid else { return }
        message.withCString { host.pointee.set_error(raw, $0) }
    }

    private func parseObject(_ text: String, what: String) throws(PluginError) -> JSON {
        let value: JSON
        do {
            value = try JSON.parse(text)
        } catch {
            throw PluginError.invalid("the connector's \(what) is not valid JSON: \(error)")
        }
        guard case .object = value else {
            throw PluginError.invalid("the connector's \(what) must be a JSON object, found \(value.kindName)")
        }
        return value
    }
}

/// The host services during `ingest`: the stored cursor, `emit`, `reject` and cancellation.
public final class IngestContext: PluginContext, @unchecked Sendable {
    /// The connector's stored cursor (watermark), or nil if none was ever stored.
    public var cursor: String? {
        guard isValid else { return nil }
        return host.pointee.cursor_get(raw).map { String(cString: $0) }
    }

    /// True when the run was cancelled (or the host is shutting down): stop soon and throw
    /// ``PluginError/cancelled(_:)``. May be called from any thread while the operation runs.
    public var isCancelled: Bool {
        guard isValid else { return true }
        return host.pointee.is_cancelled(raw) != 0
    }

    /// Throws ``PluginError/cancelled(_:)`` when the run was cancelled.
    public func checkCancelled() throws(PluginError) {
        if isCancelled { throw PluginError.cancelled() }
    }

    /// The host's "wharf.element-digests.v1" service, for skipping source elements the host already holds
    /// unchanged; nil when the host does not offer it (then never skip, and leave ``Record/element`` nil). Each
    /// access makes a new channel: take it once per ingest and hand it to the thread that asks.
    public var elementDigests: ElementDigestChannel? {
        guard isValid else { return nil }
        return ElementDigestChannel(context: self)
    }

    /// Hands records to the host in one transaction, with the new cursor when `cursor` is non-nil (so the cursor
    /// never runs ahead of its data). Records the host finds invalid are stored as rejects and counted, not thrown.
    /// For many records use a ``RecordBatcher``, which reuses its C storage between batches.
    @discardableResult
    public func emit(_ records: [Record], cursor: String? = nil) throws(PluginError) -> EmitCounts {
        try emit(records, cursor: cursor, storage: CRecordStorage())
    }

    func emit(_ records: some Collection<Record>, cursor: String?, storage: CRecordStorage) throws(PluginError) -> EmitCounts {
        try checkValid("emit()")
        let count = storage.fill(records)
        return try emit(storage, count: count, cursor: cursor)
    }

    /// Emits a batch prepared on another thread (see ``PreparedBatch``).
    func emit(_ batch: PreparedBatch, cursor: String?) throws(PluginError) -> EmitCounts {
        try checkValid("emit()")
        return try emit(batch.storage, count: batch.count, cursor: cursor)
    }

    /// Emits the `count` records `storage` holds.
    private func emit(_ storage: CRecordStorage, count: Int, cursor: String?) throws(PluginError) -> EmitCounts {
        var counts = wharf_emit_counts()
        counts.struct_size = UInt32(MemoryLayout<wharf_emit_counts>.size)
        let status = storage.withFilled(count: count) { pointer, count in
            if let cursor {
                return cursor.withCString { host.pointee.emit(raw, pointer, count, $0, &counts) }
            }
            return host.pointee.emit(raw, pointer, count, nil, &counts)
        }
        switch status {
        case WHARF_OK:
            return EmitCounts(
                inserted: Int(counts.inserted), updated: Int(counts.updated), unchanged: Int(counts.unchanged),
                rejected: Int(counts.rejected))
        case WHARF_ERR_CANCELLED:
            throw PluginError.cancelled("the run was cancelled; the last batch of \(count) records was not kept")
        case WHARF_ERR_IO:
            throw PluginError.io("the host could not store a batch of \(count) records; nothing of that batch was kept")
        default:
            throw PluginError(PluginError.Status(rawValue: status), "the host refused a batch of \(count) records (status \(PluginError.Status(rawValue: status)))")
        }
    }

    /// Reports a record the plugin could not use (unparseable line, missing key). It is stored with the run and
    /// counted as rejected; `reason` should say what is wrong and what to do.
    public func reject(location: RecordLocation, field: String? = nil, reason: String, raw rawText: String? = nil) throws(PluginError) {
        try checkValid("reject()")
        let status = withOptionalCString(location.source) { source in
            withOptionalCString(field) { field in
                reason.withCString { reason in
                    withOptionalBytes(rawText) { rawPointer, rawLength in
                        var reject = wharf_reject()
                        reject.struct_size = UInt32(MemoryLayout<wharf_reject>.size)
                        reject.location = wharf_location(
                            struct_size: UInt32(MemoryLayout<wharf_location>.size), reserved: 0, source: source,
                            line: UInt64(max(0, location.line)), column: UInt64(max(0, location.column)),
                            record_number: UInt64(max(0, location.recordNumber)))
                        reject.field = field
                        reject.reason = reason
                        reject.raw = rawPointer
                        reject.raw_len = rawLength
                        return host.pointee.reject(raw, &reject)
                    }
                }
            }
        }
        if status == WHARF_ERR_CANCELLED { throw PluginError.cancelled() }
        if status != WHARF_OK {
            throw PluginError(PluginError.Status(rawValue: status), "the host could not store a reject (status \(PluginError.Status(rawValue: status)))")
        }
    }
}

/// The host services during `export_data`: the stored cursor, reading records, cancellation.
public final class ExportContext: PluginContext, @unchecked Sendable {
    /// The connector's stored cursor (watermark), or nil if none was ever stored.
    public var cursor: String? {
        guard isValid else { return nil }
        return host.pointee.cursor_get(raw).map { String(cString: $0) }
    }

    /// True when the run was cancelled. May be called from any thread while the operation runs.
    public var isCancelled: Bool {
        guard isValid else { return true }
        return host.pointee.is_cancelled(raw) != 0
    }

    /// Reads records of `entity` from Wharf in key order, `batchSize` at a time (0 = host default), changed at or
    /// after `changedSince` (RFC 3339 UTC) when given. `body` returns false to stop early.
    public func readRecords(
        entity: String, changedSince: String? = nil, batchSize: Int = 0, _ body: ([Record]) throws -> Bool
    ) throws {
        try readFromHost(self, entity: entity, changedSince: changedSince, batchSize: batchSize, body)
    }

    /// Reads records of `entity` like ``readRecords(entity:changedSince:batchSize:_:)`` but hands `body` the host's
    /// C records as they are (no Swift strings made): for exports that copy bytes straight into files. The batch is
    /// valid only during `body`.
    public func readRawRecords(
        entity: String, changedSince: String? = nil, batchSize: Int = 0, _ body: (RawRecordBatch) throws -> Bool
    ) throws {
        try readRawFromHost(self, entity: entity, changedSince: changedSince, batchSize: batchSize) { records, count in
            guard let records, count > 0 else { return true }
            let stride = Int(records.pointee.struct_size)
            guard stride >= MemoryLayout<wharf_record>.size else {
                throw PluginError.unsupported("the host's records are smaller (\(stride) bytes) than this plugin's wharf_record")
            }
            return try body(RawRecordBatch(base: UnsafeRawPointer(records), stride: stride, count: count))
        }
    }

    /// True when the host has the export services appended to the ABI (`cursor_set`, `export_file`, `run_parameter`).
    public var hostHasExportServices: Bool {
        Int(host.pointee.struct_size)
            >= MemoryLayout<wharf_host_api>.offset(of: \wharf_host_api.run_parameter)! + MemoryLayout<UnsafeRawPointer?>.size
    }

    /// One parameter of this run (`POST /v1/exports/{connector}` body: "full", "from", "to"), or nil.
    public func parameter(_ name: String) -> String? {
        guard isValid, hostHasExportServices else { return nil }
        return name.withCString { host.pointee.run_parameter(raw, $0).map { String(cString: $0) } }
    }

    /// Stores the connector's watermark now. Call it only after every file it covers is in place.
    public func setCursor(_ cursor: String) throws(PluginError) {
        try checkValid("setCursor()")
        guard hostHasExportServices else { throw PluginError.unsupported("this Wharf host cannot store an export's watermark (cursor_set); upgrade it") }
        let status = cursor.withCString { host.pointee.cursor_set(raw, $0) }
        guard status == WHARF_OK else { throw PluginError(PluginError.Status(rawValue: status), "the host could not store the watermark") }
    }

    /// Tells the host about a completed file (for `GET /v1/exports` and downloads).
    public func addFile(name: String, path: String, rows: Int64, bytes: Int64, sha256: String) throws(PluginError) {
        try checkValid("addFile()")
        guard hostHasExportServices else { return }  // an older host just does not list files
        let status = name.withCString { n in
            path.withCString { p in sha256.withCString { s in host.pointee.export_file(raw, n, p, UInt64(rows), UInt64(bytes), s) } }
        }
        guard status == WHARF_OK else { throw PluginError(PluginError.Status(rawValue: status), "the host could not record export file \(name)") }
    }
}

/// The host services during `call`: reading records (the response is what `call` returns).
public final class CallContext: PluginContext, @unchecked Sendable {
    /// Reads records of `entity` from Wharf, as ``ExportContext/readRecords(entity:changedSince:batchSize:_:)``.
    public func readRecords(
        entity: String, changedSince: String? = nil, batchSize: Int = 0, _ body: ([Record]) throws -> Bool
    ) throws {
        try readFromHost(self, entity: entity, changedSince: changedSince, batchSize: batchSize, body)
    }

    func setResponse(_ bytes: [UInt8]) -> wharf_status {
        guard isValid else { return WHARF_ERR_STATE }
        return bytes.withUnsafeBytes { buffer in
            host.pointee.set_response(raw, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), buffer.count)
        }
    }
}

/// The C records of one `read_records` batch, read in place. Valid only inside the callback that received it.
public struct RawRecordBatch {
    let base: UnsafeRawPointer
    let stride: Int
    /// Records in the batch.
    public let count: Int

    /// Record `index`'s fields (`field_count` of them).
    @inline(__always)
    public func fields(_ index: Int) -> UnsafeBufferPointer<wharf_field> {
        let record = (base + index * stride).assumingMemoryBound(to: wharf_record.self)
        return UnsafeBufferPointer(start: record.pointee.fields, count: Int(record.pointee.field_count))
    }

    /// The bytes of a field's value (empty for NULL).
    @inline(__always)
    public static func value(_ field: wharf_field) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: field.value.map { UnsafeRawPointer($0) }, count: field.value == nil ? 0 : field.value_len)
    }

    /// A field's name.
    public static func name(_ field: wharf_field) -> String { field.name.map { String(cString: $0) } ?? "" }
}

// MARK: Not public

/// Carries a Swift closure (and what it threw) through `read_records`' C callback.
private final class ReadState {
    let body: (UnsafePointer<wharf_record>?, Int) throws -> Bool
    var error: (any Error)?
    var stopped = false
    init(body: @escaping (UnsafePointer<wharf_record>?, Int) throws -> Bool) { self.body = body }
}

/// The status the read callback returns to stop reading; never surfaced as such (the kit rethrows or returns).
private let readStopStatus: wharf_status = WHARF_ERR_CANCELLED

private func readFromHost(
    _ context: PluginContext, entity: String, changedSince: String?, batchSize: Int, _ body: ([Record]) throws -> Bool
) throws {
    try withoutActuallyEscaping(body) { escapable in
        try readRawFromHost(context, entity: entity, changedSince: changedSince, batchSize: batchSize) { records, count in
            try escapable(swiftRecords(records, count: count))
        }
    }
}

private func readRawFromHost(
    _ context: PluginContext, entity: String, changedSince: String?, batchSize: Int,
    _ body: (UnsafePointer<wharf_record>?, Int) throws -> Bool
) throws {
    try context.checkValid("readRecords()")
    guard (0...10_000).contains(batchSize) else {
        throw PluginError.invalid("readRecords batchSize must be 0...10000, not \(batchSize)")
    }
    let status: wharf_status = try withoutActuallyEscaping(body) { escapable in
        let state = ReadState(body: escapable)
        let user = Unmanaged.passRetained(state)
        defer { user.release() }
        let callback: wharf_read_callback = { user, records, count in
            let state = Unmanaged<ReadState>.fromOpaque(user!).takeUnretainedValue()
            do {
                if try state.body(records, count) { return WHARF_OK }
                state.stopped = true
                return readStopStatus
            } catch {
                state.error = error
                return readStopStatus
            }
        }
        let status = entity.withCString { cEntity in
            withOptionalCString(changedSince) { since in
                var request = wharf_read_request(
                    struct_size: UInt32(MemoryLayout<wharf_read_request>.size), batch_size: UInt32(batchSize),
                    entity: cEntity, changed_since: since)
                return context.host.pointee.read_records(context.raw, &request, callback, user.toOpaque())
            }
        }
        if let error = state.error { throw error }
        return state.stopped ? WHARF_OK : status
    }
    switch status {
    case WHARF_OK: return
    case WHARF_ERR_UNSUPPORTED: throw PluginError.unsupported("the host cannot read entity \"\(entity)\"")
    case WHARF_ERR_IO: throw PluginError.io("the host could not read \(entity) records from its store")
    default:
        throw PluginError(PluginError.Status(rawValue: status), "reading \(entity) records failed (status \(PluginError.Status(rawValue: status)))")
    }
}

func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) throws -> R) rethrows -> R {
    guard let text else { return try body(nil) }
    return try text.withCString { try body($0) }
}

func withOptionalBytes<R>(_ text: String?, _ body: (UnsafePointer<CChar>?, Int) throws -> R) rethrows -> R {
    guard var text else { return try body(nil, 0) }
    return try text.withUTF8 { utf8 in
        try body(utf8.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, utf8.count)
    }
}

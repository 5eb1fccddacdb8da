import Glibc
import WharfABI
import WharfPluginKit

/// What one fake `wharf_context` holds and records. The context pointer handed to the kit is this object's address.
final class FakeRun {
    var configJSON = "{}"
    var mappingJSON = "{}"
    var configValues: [String: String] = [:]
    var secrets: [String: String] = [:]
    var cursor: String?
    var baseFolder = "/base"
    var cancelAfterEmits: Int?
    /// The status `emit` answers (after recording the call).
    var emitStatus: wharf_status = WHARF_OK
    /// Records `read_records` serves, in batches of the requested size.
    var readable: [(entity: String, fields: [(String, String)])] = []
    var readRequests: [(entity: String, batchSize: UInt32, changedSince: String?)] = []

    var emits: [(records: [Record], cursor: String?)] = []
    var rawRecordSizes: [UInt32] = []
    var rejects: [(location: RecordLocation, field: String?, reason: String, raw: String?)] = []
    var logs: [(level: UInt32, message: String)] = []
    var errors: [String] = []
    var response: [UInt8]?
    /// Run parameters `run_parameter` answers.
    var parameters: [String: String] = [:]
    /// Files reported with `export_file`.
    var files: [(name: String, path: String, rows: UInt64, bytes: UInt64, sha256: String)] = []
    /// Elements asked about with the element-digests extension, in order (its table is `fakeElementDigests`).
    var askedElements: [ElementDigest] = []
    /// The (high, low) digests `skip_unchanged` answers "skip" for.
    var skippable: Set<[UInt64]> = []
    /// The status `skip_unchanged` answers (nothing is skipped unless it is WHARF_OK).
    var skipStatus: wharf_status = WHARF_OK
    private var strings: [UnsafeMutablePointer<CChar>] = []

    init() {}

    deinit { for pointer in strings { free(pointer) } }

    var context: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }
    var lastError: String? { errors.last }

    func keep(_ text: String) -> UnsafePointer<CChar> {
        let pointer = strdup(text)!
        strings.append(pointer)
        return UnsafePointer(pointer)
    }

    static func from(_ context: OpaquePointer?) -> FakeRun {
        Unmanaged<FakeRun>.fromOpaque(UnsafeRawPointer(context!)).takeUnretainedValue()
    }
}

private func text(_ pointer: UnsafePointer<CChar>?, _ count: Int) -> String? {
    guard let pointer else { return nil }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: count), as: UTF8.self)
}

private func location(_ location: wharf_location) -> RecordLocation {
    RecordLocation(
        source: location.source.map { String(cString: $0) }, line: Int(location.line), column: Int(location.column),
        recordNumber: Int(location.record_number))
}

/// Builds a host table of recording stubs; `abiMajor`/`structSize` can be changed to test refusals.
func makeFakeHost(
    abiMajor: UInt16 = UInt16(WHARF_ABI_MAJOR), structSize: Int = MemoryLayout<wharf_host_api>.size,
    elementDigests: Bool = false
) -> UnsafePointer<wharf_host_api> {
    var api = wharf_host_api()
    api.struct_size = UInt32(structSize)
    api.abi_major = abiMajor
    api.abi_minor = UInt16(WHARF_ABI_MINOR)
    api.log = { ctx, level, message in FakeRun.from(ctx).logs.append((level.rawValue, String(cString: message!))) }
    api.config_json = { ctx in
        let run = FakeRun.from(ctx)
        return run.keep(run.configJSON)
    }
    api.mapping_json = { ctx in
        let run = FakeRun.from(ctx)
        return run.keep(run.mappingJSON)
    }
    api.config_string = { ctx, path in
        let run = FakeRun.from(ctx)
        return run.configValues[String(cString: path!)].map { run.keep($0) }
    }
    api.secret = { ctx, reference in
        let run = FakeRun.from(ctx)
        let name = String(cString: reference!)
        guard let value = run.secrets[name] else {
            run.errors.append("no secret \(name)")
            return nil
        }
        return run.keep(value)
    }
    api.cursor_get = { ctx in
        let run = FakeRun.from(ctx)
        return run.cursor.map { run.keep($0) }
    }
    api.emit = { ctx, records, count, cursor, counts in
        let run = FakeRun.from(ctx)
        var seen: [Record] = []
        if let records, count > 0 {
            let stride = Int(records.pointee.struct_size)
            for index in 0..<count {
                let record = (UnsafeRawPointer(records) + index * stride).assumingMemoryBound(to: wharf_record.self).pointee
                run.rawRecordSizes.append(record.struct_size)
                var fields: [RecordField] = []
                for fieldIndex in 0..<Int(record.field_count) {
                    let field = record.fields![fieldIndex]
                    fields.append(RecordField(String(cString: field.name!), text(field.value, field.value_len)))
                }
                let element = record.element
                seen.append(
                    Record(
                        entity: String(cString: record.entity!), fields: fields, location: location(record.location),
                        raw: text(record.raw, record.raw_len),
                        element: element.digest_high == 0 && element.digest_low == 0
                            ? nil : ElementDigest(high: element.digest_high, low: element.digest_low, sequence: element.sequence)))
            }
        }
        let newCursor = cursor.map { String(cString: $0) }
        run.emits.append((seen, newCursor))
        guard run.emitStatus == WHARF_OK else { return run.emitStatus }
        if let newCursor { run.cursor = newCursor }
        if let counts, counts.pointee.struct_size >= UInt32(MemoryLayout<wharf_emit_counts>.size) {
            counts.pointee.inserted = UInt64(count)
            counts.pointee.rejected = 0
        }
        return WHARF_OK
    }
    api.reject = { ctx, reject in
        let r = reject!.pointee
        FakeRun.from(ctx).rejects.append(
            (location(r.location), r.field.map { String(cString: $0) }, String(cString: r.reason!), text(r.raw, r.raw_len)))
        return WHARF_OK
    }
    api.is_cancelled = { ctx in
        let run = FakeRun.from(ctx)
        return run.cancelAfterEmits.map { run.emits.count >= $0 } ?? false ? 1 : 0
    }
    api.set_error = { ctx, message in FakeRun.from(ctx).errors.append(String(cString: message!)) }
    api.read_records = { ctx, request, callback, user in
        let run = FakeRun.from(ctx)
        let entity = String(cString: request!.pointee.entity!)
        let batchSize = Int(request!.pointee.batch_size == 0 ? 500 : request!.pointee.batch_size)
        run.readRequests.append((entity, request!.pointee.batch_size, request!.pointee.changed_since.map { String(cString: $0) }))
        guard entity == "product" else { return WHARF_ERR_UNSUPPORTED }
        var start = 0
        while start < run.readable.count {
            let batch = run.readable[start..<min(start + batchSize, run.readable.count)]
            start += batchSize
            // Host-owned C storage, valid during the callback only.
            var owned: [UnsafeMutablePointer<CChar>] = []
            defer { owned.forEach { free($0) } }
            var fieldArrays: [UnsafeMutablePointer<wharf_field>] = []
            defer { fieldArrays.forEach { $0.deallocate() } }
            var records: [wharf_record] = []
            for item in batch {
                let fields = UnsafeMutablePointer<wharf_field>.allocate(capacity: item.fields.count)
                fieldArrays.append(fields)
                for (index, field) in item.fields.enumerated() {
                    let name = strdup(field.0)!
                    let value = strdup(field.1)!
                    owned += [name, value]
                    fields[index] = wharf_field(name: name, value: value, value_len: field.1.utf8.count)
                }
                let entityName = strdup(item.entity)!
                owned.append(entityName)
                var record = wharf_record()
                record.struct_size = UInt32(MemoryLayout<wharf_record>.size)
                record.field_count = UInt32(item.fields.count)
                record.entity = UnsafePointer(entityName)
                record.fields = UnsafePointer(fields)
                records.append(record)
            }
            let status = records.withUnsafeBufferPointer { callback!(user, $0.baseAddress, $0.count) }
            if status != WHARF_OK { return status }
        }
        return WHARF_OK
    }
    api.set_response = { ctx, data, length in
        FakeRun.from(ctx).response = Array(UnsafeRawBufferPointer(start: data, count: length))
        return WHARF_OK
    }
    if elementDigests {
        api.get_extension = { id in strcmp(id!, WHARF_EXT_ELEMENT_DIGESTS_V1) == 0 ? UnsafeRawPointer(fakeElementDigests) : nil }
    } else {
        api.get_extension = { _ in nil }
    }
    api.resolve_path = { ctx, path in
        let run = FakeRun.from(ctx)
        guard let path, path.pointee != 0 else { return nil }
        let text = String(cString: path)
        return run.keep(text.hasPrefix("/") ? text : "\(run.baseFolder)/\(text)")
    }
    api.cursor_set = { ctx, cursor in
        FakeRun.from(ctx).cursor = String(cString: cursor!)
        return WHARF_OK
    }
    api.export_file = { ctx, name, path, rows, bytes, sha in
        FakeRun.from(ctx).files.append((String(cString: name!), String(cString: path!), rows, bytes, String(cString: sha!)))
        return WHARF_OK
    }
    api.run_parameter = { ctx, name in
        let run = FakeRun.from(ctx)
        return run.parameters[String(cString: name!)].map { run.keep($0) }
    }
    let pointer = UnsafeMutablePointer<wharf_host_api>.allocate(capacity: 1)
    pointer.initialize(to: api)
    return UnsafePointer(pointer)
}

/// The default fake host table, alive for the whole test process.
nonisolated(unsafe) let fakeHost = makeFakeHost()

/// A host table that also offers the "wharf.element-digests.v1" extension (`fakeElementDigests`).
nonisolated(unsafe) let fakeHostWithElementDigests = makeFakeHost(elementDigests: true)

/// The fake "wharf.element-digests.v1" table: records what is asked in the run's `askedElements` and answers from
/// its `skippable` set and `skipStatus`.
nonisolated(unsafe) let fakeElementDigests: UnsafePointer<wharf_element_digests_v1> = {
    let table = UnsafeMutablePointer<wharf_element_digests_v1>.allocate(capacity: 1)
    table.initialize(
        to: wharf_element_digests_v1(
            struct_size: UInt32(MemoryLayout<wharf_element_digests_v1>.size), reserved: 0,
            skip_unchanged: { ctx, elements, count, skip in
                let run = FakeRun.from(ctx)
                for index in 0..<count {
                    let element = elements![index]
                    run.askedElements.append(ElementDigest(high: element.digest_high, low: element.digest_low, sequence: element.sequence))
                    skip![index] = run.skipStatus == WHARF_OK && run.skippable.contains([element.digest_high, element.digest_low]) ? 1 : 0
                }
                return run.skipStatus
            }))
    return UnsafePointer(table)
}()

import Foundation
import WharfABI
import WharfManifest
import WharfModel
import WharfStore

/// The host's side of the plugin ABI: the `wharf_host_api` table every plugin receives.
///
/// Each entry turns the opaque `wharf_context *` back into its `ConnectorContext`, checks that the service is allowed
/// in the context's phase, and never lets a Swift error cross into the plugin: failures become a status code and a
/// message (ABI rule 6).
public enum HostServices {
    /// The table handed to `wharf_plugin_entry`; it lives for the life of the process, as the ABI promises.
    nonisolated(unsafe) public static let table: UnsafePointer<wharf_host_api> = {
        let table = UnsafeMutablePointer<wharf_host_api>.allocate(capacity: 1)
        table.initialize(to: wharf_host_api(
            struct_size: UInt32(MemoryLayout<wharf_host_api>.size),
            abi_major: UInt16(WHARF_ABI_MAJOR),
            abi_minor: UInt16(WHARF_ABI_MINOR),
            log: { ctx, level, message in HostServices.log(ctx, level, message) },
            config_json: { ctx in HostServices.configJSON(ctx) },
            mapping_json: { ctx in HostServices.mappingJSON(ctx) },
            config_string: { ctx, path in HostServices.configString(ctx, path) },
            secret: { ctx, reference in HostServices.secret(ctx, reference) },
            cursor_get: { ctx in HostServices.cursorGet(ctx) },
            emit: { ctx, records, count, cursor, counts in HostServices.emit(ctx, records, count, cursor, counts) },
            reject: { ctx, reject in HostServices.reject(ctx, reject) },
            is_cancelled: { ctx in HostServices.isCancelled(ctx) },
            set_error: { ctx, message in HostServices.setError(ctx, message) },
            read_records: { ctx, request, callback, user in HostServices.readRecords(ctx, request, callback, user) },
            set_response: { ctx, data, length in HostServices.setResponse(ctx, data, length) },
            get_extension: { id in HostServices.extension(id) },
            resolve_path: { ctx, path in HostServices.resolvePath(ctx, path) },
            report_progress: { ctx, done, total in ConnectorContext.from(ctx)?.progress?.report(done: done, total: total) },
            cursor_set: { ctx, cursor in HostServices.cursorSet(ctx, cursor) },
            export_file: { ctx, name, path, rows, bytes, sha in HostServices.exportFile(ctx, name, path, rows, bytes, sha) },
            run_parameter: { ctx, name in HostServices.runParameter(ctx, name) }
        ))
        return UnsafePointer(table)
    }()

    /// The "wharf.element-digests.v1" table (see wharf_plugin.h); lives for the life of the process.
    nonisolated(unsafe) static let elementDigests: UnsafePointer<wharf_element_digests_v1> = {
        let table = UnsafeMutablePointer<wharf_element_digests_v1>.allocate(capacity: 1)
        table.initialize(to: wharf_element_digests_v1(
            struct_size: UInt32(MemoryLayout<wharf_element_digests_v1>.size), reserved: 0,
            skip_unchanged: { ctx, elements, count, skip in HostServices.skipUnchanged(ctx, elements, count, skip) }))
        return UnsafePointer(table)
    }()

    /// Entities the host accepts in records and can read back for exports.
    public static let entities: Set<String> = ["source", "product", "price", "stock"]

    // MARK: Not public

    static func `extension`(_ id: UnsafePointer<CChar>?) -> UnsafeRawPointer? {
        guard let id else { return nil }
        if strcmp(id, WHARF_EXT_ELEMENT_DIGESTS_V1) == 0 { return UnsafeRawPointer(elementDigests) }
        return nil
    }

    /// `skip_unchanged`: may run on any plugin thread during ingest, so it touches only the run's ledger (which
    /// locks) and explains a refusal in the run's log (which any thread may write), not in `set_error`'s message.
    static func skipUnchanged(
        _ ctx: OpaquePointer?, _ elements: UnsafePointer<wharf_element_digest>?, _ count: Int,
        _ skip: UnsafeMutablePointer<UInt8>?
    ) -> wharf_status {
        guard let context = ConnectorContext.from(ctx) else { return WHARF_ERR_STATE }
        func refuse(_ status: wharf_status, _ message: String) -> wharf_status {
            skip?.update(repeating: 0, count: count)
            context.log(.warning, message)
            return status
        }
        guard let elements, let skip else {
            return count == 0 ? WHARF_OK : refuse(WHARF_ERR_INVALID, "skip_unchanged was given \(count) elements but a NULL array")
        }
        guard context.phase == .ingest else {
            return refuse(WHARF_ERR_STATE, "skip_unchanged is only allowed during ingest (called during \(context.phase.rawValue))")
        }
        skip.update(repeating: 0, count: count)
        guard let ledger = context.elementLedger else { return WHARF_OK }
        for index in 0..<count {
            guard let tag = RecordReader.element(elements[index]) else {
                return refuse(WHARF_ERR_INVALID, "skip_unchanged: element \(index + 1) of \(count) has a zero digest; nothing was skipped")
            }
            do {
                skip[index] = try ledger.skipUnchanged(tag) ? 1 : 0
            } catch {
                return refuse(
                    error.code == .invalidArgument ? WHARF_ERR_INVALID : WHARF_ERR_IO,
                    "skip_unchanged: \(error.message); nothing was skipped")
            }
        }
        return WHARF_OK
    }

    static func log(_ ctx: OpaquePointer?, _ level: wharf_log_level, _ message: UnsafePointer<CChar>?) {
        guard let context = ConnectorContext.from(ctx), let message else { return }
        let mapped: LogLevel =
            switch level {
            case WHARF_LOG_TRACE: .trace
            case WHARF_LOG_DEBUG: .debug
            case WHARF_LOG_INFO: .info
            case WHARF_LOG_WARNING: .warning
            default: .error
            }
        context.log(mapped, String(cString: message))
    }

    static func configJSON(_ ctx: OpaquePointer?) -> UnsafePointer<CChar>? {
        guard let context = ConnectorContext.from(ctx) else { return nil }
        return context.keep(context.connector.config.jsonText(), cacheKey: "config")
    }

    static func mappingJSON(_ ctx: OpaquePointer?) -> UnsafePointer<CChar>? {
        guard let context = ConnectorContext.from(ctx) else { return nil }
        return context.keep(context.connector.mapping.jsonText(), cacheKey: "mapping")
    }

    static func configString(_ ctx: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
        guard let context = ConnectorContext.from(ctx), let path else { return nil }
        let key = String(cString: path)
        guard let text = context.connector.config.value(atPath: key)?.scalarText else { return nil }
        return context.keep(text, cacheKey: "config:" + key)
    }

    static func secret(_ ctx: OpaquePointer?, _ reference: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
        guard let context = ConnectorContext.from(ctx), let reference else { return nil }
        let text = String(cString: reference)
        guard let parsed = SecretReference.parse(text) else {
            context.errorMessage = "'\(text)' is not a secret reference; write it as env:NAME"
            return nil
        }
        do {
            let value = try parsed.resolve(environment: context.environment)
            context.secrets.add(value)
            return context.keep(value)
        } catch {
            context.errorMessage = "\(error)"
            return nil
        }
    }

    static func resolvePath(_ ctx: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
        guard let context = ConnectorContext.from(ctx), let path, path.pointee != 0 else { return nil }
        let text = String(cString: path)
        guard !text.hasPrefix("/") else { return context.keep(text) }  // host-owned, as the ABI says
        return context.keep(URL(fileURLWithPath: text, relativeTo: URL(fileURLWithPath: context.baseDirectory, isDirectory: true)).standardizedFileURL.path)
    }

    static func cursorGet(_ ctx: OpaquePointer?) -> UnsafePointer<CChar>? {
        guard let context = ConnectorContext.from(ctx), context.phase == .ingest || context.phase == .export else {
            return nil
        }
        do {
            guard let cursor = try context.currentCursor() else { return nil }
            return context.keep(cursor)
        } catch {
            context.errorMessage = "cannot read the cursor: \(error)"
            return nil
        }
    }

    static func emit(
        _ ctx: OpaquePointer?, _ records: UnsafePointer<wharf_record>?, _ count: Int, _ cursor: UnsafePointer<CChar>?,
        _ countsOut: UnsafeMutablePointer<wharf_emit_counts>?
    ) -> wharf_status {
        guard let context = ConnectorContext.from(ctx) else { return WHARF_ERR_STATE }
        guard context.phase == .ingest else {
            context.errorMessage = "emit is only allowed during ingest (called during \(context.phase.rawValue))"
            return WHARF_ERR_STATE
        }
        if context.cancellation.isCancelled { return WHARF_ERR_CANCELLED }
        if let failing = context.failingReject {
            context.errorMessage = "onError: fail, and a record was rejected (\(failing)); the run is rolled back"
            return WHARF_ERR_INVALID
        }
        guard count == 0 || records != nil else {
            context.errorMessage = "emit was given \(count) records but a NULL array"
            return WHARF_ERR_INVALID
        }
        // Step through the array by the plugin's struct size, so records from other minors stay readable.
        let stride = records.map { Int($0.pointee.struct_size) } ?? 0
        if records != nil, count > 0, stride < RecordReader.minimumRecordSize {
            context.errorMessage = "wharf_record.struct_size is \(stride); at least \(RecordReader.minimumRecordSize) expected"
            return WHARF_ERR_INVALID
        }
        let base = records.map { UnsafeRawPointer($0) }
        /// The rejects of records that did not decode (built here: they need the context).
        func rejects(_ failures: [(index: Int, error: FieldError)]) -> [NewReject] {
            guard let base else { return [] }
            return failures.map {
                RecordReader.reject(
                    for: RecordReader.record(at: base + $0.index * stride, size: stride), error: $0.error, context: context)
            }
        }
        do {
            let newCursor = cursor.map { String(cString: $0) }
            let result: Store.UpsertCounts
            var invalidCount = 0
            if let base, count >= EmitDecoder.minimumRecords {
                // A bulk batch: decode the next chunk on a helper thread while the store writes this one.
                let decoder = EmitDecoder(base: base, stride: stride, count: count, options: context.decodeOptions)
                defer { decoder.finish() }
                result = try context.apply(
                    chunks: decoder.next,
                    invalid: {
                        decoder.finish()
                        invalidCount = decoder.failures.count
                        return rejects(decoder.failures)
                    },
                    read: Int64(count), cursor: newCursor)
            } else {
                let decoded = base.map {
                    EmitDecoder.decode(base: $0, stride: stride, range: 0..<count, options: context.decodeOptions)
                }
                let invalid = rejects(decoded?.failures ?? [])
                invalidCount = invalid.count
                result = try context.apply(
                    chunks: Store.RecordChunk.once(decoded?.chunk ?? Store.RecordChunk(records: [])), invalid: { invalid },
                    read: Int64(count), cursor: newCursor)
            }
            if let countsOut, countsOut.pointee.struct_size >= UInt32(MemoryLayout<wharf_emit_counts>.size) {
                countsOut.pointee.inserted = UInt64(result.inserted)
                countsOut.pointee.updated = UInt64(result.updated)
                countsOut.pointee.unchanged = UInt64(result.unchanged)
                countsOut.pointee.rejected = UInt64(invalidCount) + UInt64(result.rejected)
            }
            if let failing = context.failingReject {
                context.errorMessage = "onError: fail, and a record was rejected (\(failing)); the run is rolled back"
                return WHARF_ERR_INVALID
            }
            return WHARF_OK
        } catch {
            context.errorMessage = "the store refused the batch: \(error)"
            context.logger.log(.error, "batch not stored", fields: context.logFields + [("error", "\(error)")])
            return WHARF_ERR_IO
        }
    }

    static func reject(_ ctx: OpaquePointer?, _ reject: UnsafePointer<wharf_reject>?) -> wharf_status {
        guard let context = ConnectorContext.from(ctx) else { return WHARF_ERR_STATE }
        guard context.phase == .ingest, let runID = context.runID else {
            context.errorMessage = "reject is only allowed during ingest"
            return WHARF_ERR_STATE
        }
        guard let reject, reject.pointee.struct_size >= UInt32(MemoryLayout<wharf_reject>.size) else {
            context.errorMessage = "reject was given a NULL or too small wharf_reject"
            return WHARF_ERR_INVALID
        }
        let value = reject.pointee
        let mask = context.secrets
        let reason = mask.redact(value.reason.map { String(cString: $0) } ?? "rejected by the plugin (no reason given)")
        context.pendingRejects.append(NewReject(
            runID: runID, connector: context.connector.name, location: RecordReader.location(value.location),
            entity: nil, field: value.field.map { mask.redact(String(cString: $0)) }, reason: reason,
            raw: RecordReader.maskedText(value.raw, value.raw_len, mask)))
        context.counts.read += 1
        context.counts.rejected += 1
        context.progress?.add(read: 1, rejected: 1)
        return WHARF_OK
    }

    static func isCancelled(_ ctx: OpaquePointer?) -> Int32 {
        guard let context = ConnectorContext.from(ctx) else { return 1 }
        return context.cancellation.isCancelled ? 1 : 0
    }

    static func setError(_ ctx: OpaquePointer?, _ message: UnsafePointer<CChar>?) {
        guard let context = ConnectorContext.from(ctx), let message else { return }
        context.errorMessage = String(cString: message)
    }

    static func setResponse(_ ctx: OpaquePointer?, _ data: UnsafePointer<CChar>?, _ length: Int) -> wharf_status {
        guard let context = ConnectorContext.from(ctx) else { return WHARF_ERR_STATE }
        guard context.phase == .call else {
            context.errorMessage = "set_response is only allowed during call"
            return WHARF_ERR_STATE
        }
        guard length == 0 || data != nil else { return WHARF_ERR_INVALID }
        context.response = data.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []
        return WHARF_OK
    }

    static func readRecords(
        _ ctx: OpaquePointer?, _ request: UnsafePointer<wharf_read_request>?, _ callback: wharf_read_callback?,
        _ user: UnsafeMutableRawPointer?
    ) -> wharf_status {
        guard let context = ConnectorContext.from(ctx) else { return WHARF_ERR_STATE }
        guard context.phase == .export || context.phase == .call, let store = context.store else {
            context.errorMessage = "read_records is only allowed during export_data or call"
            return WHARF_ERR_STATE
        }
        guard let request, let callback, request.pointee.struct_size >= UInt32(MemoryLayout<wharf_read_request>.size),
            let entityPointer = request.pointee.entity
        else {
            context.errorMessage = "read_records needs a request with an entity and a callback"
            return WHARF_ERR_INVALID
        }
        let entity = String(cString: entityPointer)
        let isExportEntity = Store.exportEntities.contains(entity)
        guard isExportEntity || entities.contains(entity) else {
            context.errorMessage = "read_records: unknown entity '\(entity)'; this host has \((entities.sorted() + Store.exportEntities).joined(separator: ", "))"
            return WHARF_ERR_UNSUPPORTED
        }
        var since: Timestamp?
        if let text = request.pointee.changed_since.map({ String(cString: $0) }) {
            guard let parsed = Timestamp(rfc3339: text) else {
                context.errorMessage = "read_records: changed_since '\(text)' is not an RFC 3339 time"
                return WHARF_ERR_INVALID
            }
            since = parsed
        }
        let batchSize = request.pointee.batch_size == 0 ? 500 : Int(min(request.pointee.batch_size, 10_000))
        var stoppedWith = WHARF_OK
        do {
            // The flat export entities (orders, order lines, consents, customers) are read as rows of fields.
            if isExportEntity {
                try store.readExportRows(entity: entity, changedSince: since, batchSize: batchSize) { rows in
                    stoppedWith = RecordWriter.withCRecords(fields: rows, entity: entity) { pointer, count in
                        callback(user, pointer, count)
                    }
                    return stoppedWith == WHARF_OK
                }
            } else {
                try store.readRecords(entity: entity, changedSince: since, batchSize: batchSize) { batch in
                    stoppedWith = RecordWriter.withCRecords(batch, entity: entity) { pointer, count in
                        callback(user, pointer, count)
                    }
                    return stoppedWith == WHARF_OK
                }
            }
        } catch {
            context.errorMessage = "read_records failed: \(error)"
            return WHARF_ERR_IO
        }
        return stoppedWith
    }
}

import Foundation
import WharfABI
import WharfModel
import WharfStore

/// Reads `wharf_record`s a plugin handed over into model values.
enum RecordReader {
    /// The smallest record a plugin may hand over: ABI 1.0's layout (which ended before `element`).
    static let minimumRecordSize = MemoryLayout<wharf_record>.offset(of: \wharf_record.element)!

    /// The source element of a record, when its plugin's record layout has one and names it.
    static func element(_ record: wharf_record) -> Store.ElementTag? { element(record.element) }

    /// The tag of an element a plugin names, or nil for an all-zero digest ("no element").
    static func element(_ element: wharf_element_digest) -> Store.ElementTag? {
        guard element.digest_high != 0 || element.digest_low != 0 else { return nil }
        return Store.ElementTag(high: element.digest_high, low: element.digest_low, sequence: element.sequence)
    }

    /// The record at `address`, written by a plugin whose `wharf_record` is `size` bytes. Members past `size` read
    /// as absent (zero), so a record from an older minor is never read past its end.
    static func record(at address: UnsafeRawPointer, size: Int) -> wharf_record {
        if size >= MemoryLayout<wharf_record>.size {
            return address.loadUnaligned(as: wharf_record.self)
        }
        var record = wharf_record()
        withUnsafeMutableBytes(of: &record) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: size)) }
        return record
    }

    /// The record as a model value, or the reason it is not one.
    static func decode(_ record: wharf_record, options: RecordDecodingOptions = RecordDecodingOptions()) -> Result<ModelRecord, FieldError> {
        if let decoded = decodeFixedFields(record, options: options) { return decoded }
        return decodeFields(record, options: options)
    }

    /// The fast path of `decode` for the bulk entities (product, price, stock) when the record has only their
    /// fixed fields, each once, all valid UTF-8: names are compared as C bytes and only values become Strings.
    /// Returns nil for anything else — another entity, another field, a field twice, a missing name, invalid
    /// UTF-8 — which `decodeFields` then decodes (or refuses) with its usual messages.
    static func decodeFixedFields(_ record: wharf_record, options: RecordDecodingOptions) -> Result<ModelRecord, FieldError>? {
        guard let entityPointer = record.entity, record.field_count > 0, let pointer = record.fields else { return nil }
        let entity: RecordCodec.FixedFieldEntity
        let names: [[CChar]]
        if strcmp(entityPointer, "stock") == 0 {
            (entity, names) = (.stock, FixedNames.stock)
        } else if strcmp(entityPointer, "price") == 0 {
            (entity, names) = (.price, FixedNames.price)
        } else if strcmp(entityPointer, "product") == 0 {
            (entity, names) = (.product, FixedNames.product)
        } else {
            return nil
        }
        guard Int(record.field_count) <= names.count else { return nil }
        var values = [String?](repeating: nil, count: names.count)
        var seen = 0  // bit i: field i given
        for index in 0..<Int(record.field_count) {
            let field = pointer[index]
            guard let namePointer = field.name else { return nil }
            var position = -1
            for (candidate, name) in names.enumerated() where strcmp(namePointer, name) == 0 {
                position = candidate
                break
            }
            guard position >= 0, seen & (1 << position) == 0 else { return nil }
            seen |= 1 << position
            guard let valuePointer = field.value, field.value_len > 0 else { continue }
            let bytes = UnsafeRawBufferPointer(start: valuePointer, count: field.value_len).bindMemory(to: UInt8.self)
            if isASCII(bytes) {
                values[position] = String(decoding: bytes, as: UTF8.self)
            } else {
                guard let value = String(validating: bytes, as: UTF8.self) else { return nil }
                values[position] = value
            }
        }
        return RecordCodec.decode(entity, values: values, options: options)
    }

    /// The fixed field names of the fast path's entities as C strings (terminated).
    enum FixedNames {
        static let product = RecordCodec.FixedFieldEntity.product.fieldNames.map { Array($0.utf8CString) }
        static let price = RecordCodec.FixedFieldEntity.price.fieldNames.map { Array($0.utf8CString) }
        static let stock = RecordCodec.FixedFieldEntity.stock.fieldNames.map { Array($0.utf8CString) }
    }

    /// Whether every byte is ASCII (then the bytes are valid UTF-8 and need no further check).
    @inline(__always)
    static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var any: UInt8 = 0
        for byte in bytes { any |= byte }
        return any < 0x80
    }

    /// The general path of `decode`: every field as a (name, value) pair, then `RecordCodec.decode`.
    static func decodeFields(_ record: wharf_record, options: RecordDecodingOptions) -> Result<ModelRecord, FieldError> {
        guard let entityPointer = record.entity else {
            return .failure(FieldError(field: nil, reason: "the record has no entity name"))
        }
        let entity = String(cString: entityPointer)
        var fields: [(name: String, value: String?)] = []
        fields.reserveCapacity(Int(record.field_count))
        if record.field_count > 0 {
            guard let pointer = record.fields else {
                return .failure(FieldError(field: nil, reason: "the record says it has \(record.field_count) fields but gives none"))
            }
            for index in 0..<Int(record.field_count) {
                let field = pointer[index]
                guard let namePointer = field.name else {
                    return .failure(FieldError(field: nil, reason: "field \(index + 1) has no name"))
                }
                let name = String(cString: namePointer)
                guard let valuePointer = field.value else {
                    fields.append((name, nil))
                    continue
                }
                let bytes = UnsafeRawBufferPointer(start: valuePointer, count: field.value_len)
                guard let value = String(validating: bytes, as: UTF8.self) else {
                    return .failure(FieldError(field: name, reason: "the value is not valid UTF-8"))
                }
                fields.append((name, value))
            }
        }
        return RecordCodec.decode(entity: entity, fields: fields, options: options)
    }

    /// The reject stored for a record that failed validation.
    static func reject(for record: wharf_record, error: FieldError, context: ConnectorContext) -> NewReject {
        NewReject(
            runID: context.runID ?? 0, connector: context.connector.name, location: location(record.location),
            entity: record.entity.map { String(cString: $0) }, field: error.field,
            reason: context.secrets.redact(error.reason),
            raw: maskedText(record.raw, record.raw_len, context.secrets))
    }

    /// A reject in one line, for a run's error message: where, which field, why.
    static func describe(_ reject: NewReject) -> String {
        var place: [String] = []
        if let source = reject.location.source { place.append(source) }
        if let line = reject.location.line { place.append("line \(line)") }
        if let column = reject.location.column { place.append("column \(column)") }
        if place.isEmpty, let number = reject.location.recordNumber { place.append("record \(number)") }
        let field = reject.field.map { " field \($0):" } ?? ""
        return (place.isEmpty ? "" : place.joined(separator: ", ") + ":") + field + " " + reject.reason
    }

    /// A location as the model has it (zero members become nil).
    static func location(_ location: wharf_location) -> RecordLocation {
        guard location.struct_size >= UInt32(MemoryLayout<wharf_location>.size) else {
            return RecordLocation(source: nil, line: nil, column: nil, recordNumber: nil)
        }
        func number(_ value: UInt64) -> Int64? { value == 0 ? nil : Int64(clamping: value) }
        return RecordLocation(
            source: location.source.map { String(cString: $0) }, line: number(location.line),
            column: number(location.column), recordNumber: number(location.record_number))
    }

    /// Text of a raw excerpt, at most 1 KiB (invalid UTF-8 is replaced: an excerpt is for people, not for data).
    static func text(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String? {
        guard let pointer, length > 0 else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: min(length, 1024)), as: UTF8.self)
    }

    /// A raw excerpt with the plugin's secrets masked. Read past the 1 KiB the store keeps, so a secret that
    /// straddles the cut is masked whole rather than leaving its first half (the store truncates afterwards).
    static func maskedText(_ pointer: UnsafePointer<CChar>?, _ length: Int, _ mask: SecretMask) -> String? {
        guard let pointer, length > 0 else { return nil }
        return mask.redact(String(decoding: UnsafeRawBufferPointer(start: pointer, count: min(length, 4096)), as: UTF8.self))
    }
}

/// Turns model values into C `wharf_record`s for `read_records`, valid only during one callback.
enum RecordWriter {
    /// Calls `body` with C records for `records`; every pointer is freed when `body` returns.
    static func withCRecords(
        _ records: [ModelRecord], entity: String, _ body: (UnsafePointer<wharf_record>, Int) -> wharf_status
    ) -> wharf_status {
        withCRecords(fields: records.map { RecordCodec.encode($0).map { (name: $0.name, value: $0.value) } }, entity: entity, body)
    }

    /// Calls `body` with C records made of flat field lists (the export entities); freed when `body` returns.
    /// Every string of the batch lives in one arena (names once each), so a batch costs three allocations, not two
    /// per field: exports read millions of rows.
    static func withCRecords(
        fields encoded: [[(name: String, value: String)]], entity: String,
        _ body: (UnsafePointer<wharf_record>, Int) -> wharf_status
    ) -> wharf_status {
        var arena: [UInt8] = []
        var nameOffsets: [String: Int] = [:]
        var offsets: [(name: Int, value: Int, length: Int)] = []
        offsets.reserveCapacity(encoded.reduce(0) { $0 + $1.count })
        func put(_ text: String) -> Int {
            let offset = arena.count
            arena.append(contentsOf: text.utf8)
            arena.append(0)
            return offset
        }
        let entityOffset = put(entity)
        for fields in encoded {
            for field in fields {
                let name: Int
                if let known = nameOffsets[field.name] {
                    name = known
                } else {
                    name = put(field.name)
                    nameOffsets[field.name] = name
                }
                let length = field.value.utf8.count
                offsets.append((name, put(field.value), length))
            }
        }
        return arena.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            let fieldArray = UnsafeMutablePointer<wharf_field>.allocate(capacity: max(offsets.count, 1))
            defer { fieldArray.deallocate() }
            for (index, offset) in offsets.enumerated() {
                fieldArray[index] = wharf_field(name: base + offset.name, value: base + offset.value, value_len: offset.length)
            }
            let cRecords = UnsafeMutablePointer<wharf_record>.allocate(capacity: max(encoded.count, 1))
            defer { cRecords.deallocate() }
            var next = 0
            for index in encoded.indices {
                var record = wharf_record()
                record.struct_size = UInt32(MemoryLayout<wharf_record>.size)
                record.field_count = UInt32(encoded[index].count)
                record.entity = base + entityOffset
                record.fields = UnsafePointer(fieldArray + next)
                next += encoded[index].count
                cRecords.advanced(by: index).initialize(to: record)
            }
            return body(UnsafePointer(cRecords), encoded.count)
        }
    }
}

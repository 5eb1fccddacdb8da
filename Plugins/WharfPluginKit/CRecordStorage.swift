import WharfABI

// MARK: Not public

/// Converts Swift records to a C `wharf_record` array whose strings live in one reusable byte arena.
///
/// The pointers are valid only inside `withCRecords`'s body (the duration of one `emit`); the arena is reused for
/// the next batch, so a steady ingest allocates nothing per batch once the arena has grown to the batch's size.
final class CRecordStorage {
    private var bytes: UnsafeMutableRawPointer?
    private var byteCapacity = 0
    private var fields: UnsafeMutablePointer<wharf_field>?
    private var fieldCapacity = 0
    private var records: UnsafeMutablePointer<wharf_record>?
    private var recordCapacity = 0

    init() {}

    deinit {
        bytes?.deallocate()
        fields?.deallocate()
        records?.deallocate()
    }

    /// Calls `body` with the records as a C array (count may be 0, with a non-NULL pointer).
    func withCRecords<R, E: Error>(
        _ input: some Collection<Record>, _ body: (UnsafePointer<wharf_record>, Int) throws(E) -> R
    ) throws(E) -> R {
        let count = fill(input)
        return try body(UnsafePointer(records!), count)
    }

    /// Calls `body` with the records the last `fill` wrote (`count` of them).
    func withFilled<R, E: Error>(count: Int, _ body: (UnsafePointer<wharf_record>, Int) throws(E) -> R) throws(E) -> R {
        if records == nil { reserve(bytes: 0, fields: 0, records: 0) }
        return try body(UnsafePointer(records!), count)
    }

    /// Writes `input` as C records into the arena (replacing what it held); returns how many.
    func fill(_ input: some Collection<Record>) -> Int {
        var byteCount = 0
        var fieldCount = 0
        for record in input {
            byteCount += record.entity.utf8.count + 1
            byteCount += (record.location.source?.utf8.count ?? -1) + 1
            byteCount += record.raw?.utf8.count ?? 0
            fieldCount += record.fields.count
            for field in record.fields {
                byteCount += field.name.utf8.count + 1 + (field.value?.utf8.count ?? 0) + 1
            }
        }
        reserve(bytes: byteCount, fields: fieldCount, records: input.count)

        var cursor = bytes!
        var fieldIndex = 0
        var recordIndex = 0
        // Consecutive records usually share entity and source: point at the previous copy instead of copying.
        var previousEntity: (String, UnsafePointer<CChar>)?
        var previousSource: (String, UnsafePointer<CChar>)?
        for record in input {
            let entity: UnsafePointer<CChar>
            if let previousEntity, previousEntity.0 == record.entity {
                entity = previousEntity.1
            } else {
                entity = copy(record.entity, to: &cursor, terminated: true)
                previousEntity = (record.entity, entity)
            }
            var source: UnsafePointer<CChar>?
            if let text = record.location.source {
                if let previousSource, previousSource.0 == text {
                    source = previousSource.1
                } else {
                    source = copy(text, to: &cursor, terminated: true)
                    previousSource = (text, source!)
                }
            }
            let firstField = fields! + fieldIndex
            for field in record.fields {
                let name = copy(field.name, to: &cursor, terminated: true)
                var value: UnsafePointer<CChar>?
                var valueLength = 0
                if let text = field.value {
                    valueLength = text.utf8.count
                    value = copy(text, to: &cursor, terminated: true)
                }
                (fields! + fieldIndex).initialize(to: wharf_field(name: name, value: value, value_len: valueLength))
                fieldIndex += 1
            }
            var raw: UnsafePointer<CChar>?
            var rawLength = 0
            if let text = record.raw {
                rawLength = text.utf8.count
                raw = copy(text, to: &cursor, terminated: false)
            }
            let location = wharf_location(
                struct_size: UInt32(MemoryLayout<wharf_location>.size), reserved: 0, source: source,
                line: UInt64(max(0, record.location.line)), column: UInt64(max(0, record.location.column)),
                record_number: UInt64(max(0, record.location.recordNumber)))
            (records! + recordIndex).initialize(
                to: wharf_record(
                    struct_size: UInt32(MemoryLayout<wharf_record>.size), field_count: UInt32(record.fields.count),
                    entity: entity, fields: record.fields.isEmpty ? nil : UnsafePointer(firstField),
                    location: location, raw: raw, raw_len: rawLength,
                    element: record.element?.c ?? wharf_element_digest()))
            recordIndex += 1
        }
        return recordIndex
    }

    private func reserve(bytes byteCount: Int, fields fieldCount: Int, records recordCount: Int) {
        if bytes == nil || byteCount > byteCapacity {
            bytes?.deallocate()
            byteCapacity = max(byteCount, byteCapacity * 2, 4096)
            bytes = UnsafeMutableRawPointer.allocate(byteCount: byteCapacity, alignment: 8)
        }
        if fields == nil || fieldCount > fieldCapacity {
            fields?.deallocate()
            fieldCapacity = max(fieldCount, fieldCapacity * 2, 64)
            fields = UnsafeMutablePointer<wharf_field>.allocate(capacity: fieldCapacity)
        }
        if records == nil || recordCount > recordCapacity {
            records?.deallocate()
            recordCapacity = max(recordCount, recordCapacity * 2, 16)
            records = UnsafeMutablePointer<wharf_record>.allocate(capacity: recordCapacity)
        }
    }

    /// Copies the UTF-8 of `text` (plus a NUL when `terminated`) at `cursor` and advances it.
    private func copy(_ text: String, to cursor: inout UnsafeMutableRawPointer, terminated: Bool) -> UnsafePointer<CChar> {
        let start = cursor
        var text = text
        let count = text.withUTF8 { utf8 -> Int in
            if let base = utf8.baseAddress { cursor.copyMemory(from: base, byteCount: utf8.count) }
            return utf8.count
        }
        cursor += count
        if terminated {
            cursor.storeBytes(of: 0, as: UInt8.self)
            cursor += 1
        }
        return UnsafePointer(start.assumingMemoryBound(to: CChar.self))
    }
}

/// Reads C records (host-owned, valid during a callback) into Swift values, stepping by each array's struct_size
/// and reading only the members that fit in it.
func swiftRecords(_ records: UnsafePointer<wharf_record>?, count: Int) -> [Record] {
    guard let records, count > 0 else { return [] }
    let base = UnsafeRawPointer(records)
    let stride = Int(records.pointee.struct_size)
    guard stride > 0 else { return [] }
    var result: [Record] = []
    result.reserveCapacity(count)
    for index in 0..<count {
        var record = wharf_record()
        withUnsafeMutableBytes(of: &record) { target in
            target.copyMemory(
                from: UnsafeRawBufferPointer(start: base + index * stride, count: min(stride, target.count)))
        }
        let entity = record.entity.map { String(cString: $0) } ?? ""
        var fields: [RecordField] = []
        fields.reserveCapacity(Int(record.field_count))
        if let cFields = record.fields {
            for fieldIndex in 0..<Int(record.field_count) {
                let field = cFields[fieldIndex]
                let name = field.name.map { String(cString: $0) } ?? ""
                let value = field.value.map { text(UnsafeRawPointer($0), count: field.value_len) }
                fields.append(RecordField(name, value))
            }
        }
        var location = RecordLocation()
        if record.location.struct_size > 0 {
            location = RecordLocation(
                source: record.location.source.map { String(cString: $0) }, line: Int(record.location.line),
                column: Int(record.location.column), recordNumber: Int(record.location.record_number))
        }
        let raw = record.raw.map { text(UnsafeRawPointer($0), count: record.raw_len) }
        // Records of an ABI 1.0 writer end before `element`; the copy above left it zero ("no element").
        let element = record.element
        let tag =
            element.digest_high == 0 && element.digest_low == 0
            ? nil : ElementDigest(high: element.digest_high, low: element.digest_low, sequence: element.sequence)
        result.append(Record(entity: entity, fields: fields, location: location, raw: raw, element: tag))
    }
    return result
}

/// Decodes `count` bytes of UTF-8 (repairing invalid sequences).
func text(_ pointer: UnsafeRawPointer, count: Int) -> String {
    String(decoding: UnsafeRawBufferPointer(start: pointer, count: count), as: UTF8.self)
}

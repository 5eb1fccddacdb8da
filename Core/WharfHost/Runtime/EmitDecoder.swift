import Foundation
import WharfABI
import WharfModel
import WharfStore

/// Decodes the C records of one large `emit` into model values in chunks, on a helper thread, while the calling
/// thread stores the chunks already decoded (`Store.apply(chunks:…)`).
///
/// Why: in a bulk import the thread that calls `emit` is the critical path: it decodes every record and then waits
/// for SQLite. Decoding the next chunk while SQLite writes this one takes the decoding off that path. The ABI's
/// contract is unchanged: `emit` still returns only when the whole batch is stored or refused, so the plugin's
/// records stay valid for as long as the helper reads them.
///
/// Threading: created, read (`next`) and finished (`finish`) on the thread that called `emit`; `decodeAll` runs on
/// one helper thread. They share `chunks` and the counters under `condition`. `finish` must be called before
/// `emit` returns (it waits for the helper to stop reading the plugin's memory).
final class EmitDecoder: @unchecked Sendable {
    /// Records per chunk: small enough that the writer waits little for the first chunk, large enough that the hand-off
    /// costs nothing next to decoding.
    static let chunkSize = 128
    /// Batches below this size are decoded on the calling thread (a helper would not pay for itself).
    static let minimumRecords = 2 * chunkSize

    /// What one chunk decoded to.
    struct Decoded {
        var chunk: Store.RecordChunk
        /// Records that did not decode: their index in the batch and the reason.
        var failures: [(index: Int, error: FieldError)]
    }

    private let base: UnsafeRawPointer
    private let stride: Int
    private let count: Int
    private let options: RecordDecodingOptions
    private let chunkCount: Int
    private let condition = NSCondition()
    /// Decoded chunks not yet taken, by chunk number (guarded by `condition`).
    private var decoded: [Decoded?]
    /// How many chunks a thread has started on, the helper or this one (guarded by `condition`).
    private var claimed = 0
    /// Set by `finish`: the helper stops at the next chunk (guarded by `condition`).
    private var stopping = false
    /// Set by the helper when it no longer reads the plugin's memory (guarded by `condition`).
    private var helperDone = false
    /// The next chunk `next` hands out (calling thread only).
    private var taken = 0
    /// The failures of the chunks handed out so far (calling thread only).
    private(set) var failures: [(index: Int, error: FieldError)] = []

    /// A decoder for the `count` records at `base`, `stride` bytes apart; starts decoding at once.
    init(base: UnsafeRawPointer, stride: Int, count: Int, options: RecordDecodingOptions) {
        self.base = base
        self.stride = stride
        self.count = count
        self.options = options
        chunkCount = (count + Self.chunkSize - 1) / Self.chunkSize
        decoded = [Decoded?](repeating: nil, count: chunkCount)
        DispatchQueue.global().async { self.decodeAll() }
    }

    /// The next decoded chunk; nil after the last one. When the helper has not started on it yet, this thread
    /// decodes it itself rather than wait (the helper may be waiting for a core); it waits only for a chunk the
    /// helper is decoding.
    func next() -> Store.RecordChunk? {
        guard taken < chunkCount else { return nil }
        condition.lock()
        var chunk: Decoded
        if claimed == taken {
            claimed += 1
            condition.unlock()
            chunk = decode(number: taken)
        } else {
            while decoded[taken] == nil { condition.wait() }
            chunk = decoded[taken]!
            decoded[taken] = nil
            condition.unlock()
        }
        taken += 1
        failures += chunk.failures
        return chunk.chunk
    }

    /// Stops the helper (if the store gave up early) and waits until it no longer reads the plugin's records.
    func finish() {
        condition.lock()
        stopping = true
        while !helperDone { condition.wait() }
        condition.unlock()
    }

    /// Decodes records `range` of the batch, as `emit` does inline.
    static func decode(
        base: UnsafeRawPointer, stride: Int, range: Range<Int>, options: RecordDecodingOptions
    ) -> Decoded {
        var records: [ModelRecord] = []
        records.reserveCapacity(range.count)
        var locations: [RecordLocation] = []
        locations.reserveCapacity(range.count)
        var failures: [(index: Int, error: FieldError)] = []
        var sources = LocationReader()
        // Elements only when the plugin's records are large enough to name them (ABI 1.1).
        let named = stride >= MemoryLayout<wharf_record>.size
        var elements: [Store.ElementTag] = []
        var failedElements: [UInt64] = []
        for index in range {
            let record = RecordReader.record(at: base + index * stride, size: stride)
            let element = named ? RecordReader.element(record) : nil
            switch RecordReader.decode(record, options: options) {
            case .success(let model):
                if let element {
                    if elements.isEmpty { elements.reserveCapacity(range.count) }
                    // Records before the first named one get "no element" tags.
                    while elements.count < records.count { elements.append(Store.ElementTag(high: 0, low: 0, sequence: 0)) }
                    elements.append(element)
                } else if !elements.isEmpty {
                    elements.append(Store.ElementTag(high: 0, low: 0, sequence: 0))
                }
                records.append(model)
                locations.append(sources.location(record.location))
            case .failure(let error):
                failures.append((index, error))
                if let element { failedElements.append(element.sequence) }
            }
        }
        return Decoded(
            chunk: Store.RecordChunk(records: records, locations: locations, elements: elements, failedElements: failedElements),
            failures: failures)
    }

    private func decode(number: Int) -> Decoded {
        let start = number * Self.chunkSize
        return Self.decode(base: base, stride: stride, range: start..<min(start + Self.chunkSize, count), options: options)
    }

    private func decodeAll() {
        while true {
            condition.lock()
            guard !stopping, claimed < chunkCount else { break }
            let number = claimed
            claimed += 1
            condition.unlock()
            let chunk = decode(number: number)
            condition.lock()
            decoded[number] = chunk
            condition.broadcast()
            condition.unlock()
        }
        helperDone = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Turns `wharf_location`s into model locations, making the source name a String once for a run of records that
/// share its pointer (a plugin passes the same file name with every record of a file).
struct LocationReader {
    private var lastSource: UnsafePointer<CChar>?
    private var lastSourceName: String?

    /// `location` as the model has it (see `RecordReader.location`).
    mutating func location(_ location: wharf_location) -> RecordLocation {
        guard location.struct_size >= UInt32(MemoryLayout<wharf_location>.size) else { return RecordReader.location(location) }
        var result = location
        let source = location.source
        result.source = nil
        var model = RecordReader.location(result)
        if let source {
            if source != lastSource {
                lastSource = source
                lastSourceName = String(cString: source)
            }
            model.source = lastSourceName
        }
        return model
    }
}

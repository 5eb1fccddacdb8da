/// Collects records and hands them to the host in batches, reusing one C storage arena for every batch.
///
/// ```swift
/// let batcher = RecordBatcher(context: context)          // 1000 records per emit
/// for row in rows { try batcher.add(record(for: row)) }  // emits a full batch before adding the next record
/// try batcher.finish(cursor: newCursor)                  // last batch, together with the cursor
/// ```
///
/// Before every emit it checks `isCancelled` and throws ``PluginError/cancelled(_:)`` when the run was cancelled,
/// so a plugin that feeds a batcher honours cancellation between batches without further code. Intermediate
/// batches carry no cursor; the cursor moves only with the final batch, once everything it covers was handed over.
public final class RecordBatcher {
    /// Records per emit.
    public let batchSize: Int
    /// What the host reported for all emitted batches so far.
    public private(set) var counts = EmitCounts()
    /// Records handed to the host so far.
    public private(set) var emittedRecords = 0
    /// Emits done so far.
    public private(set) var emittedBatches = 0
    /// Records added but not yet emitted.
    public var pendingCount: Int { pending.count }

    private let context: IngestContext
    private var pending: [Record] = []
    private let storage = CRecordStorage()
    private var finished = false

    /// A batcher emitting through `context`, `batchSize` records at a time (1...100_000, default 1000).
    public init(context: IngestContext, batchSize: Int = 1000) {
        self.context = context
        self.batchSize = min(max(batchSize, 1), 100_000)
        pending.reserveCapacity(self.batchSize)
    }

    /// Adds a record; emits the pending batch first when it is full.
    public func add(_ record: Record) throws(PluginError) {
        guard !finished else { throw PluginError(.state, "RecordBatcher.add was called after finish") }
        // Emitting a full batch only when the next record arrives keeps the final batch non-empty, so the cursor
        // travels with data whenever there is any.
        if pending.count >= batchSize { try flush(cursor: nil) }
        pending.append(record)
    }

    /// Emits the remaining records together with `cursor` (with no records when none are pending, to move only
    /// the cursor; nothing at all when there are neither). Returns the counts for the whole run of the batcher.
    @discardableResult
    public func finish(cursor: String?) throws(PluginError) -> EmitCounts {
        guard !finished else { throw PluginError(.state, "RecordBatcher.finish was called twice") }
        if !pending.isEmpty || cursor != nil { try flush(cursor: cursor) }
        finished = true
        return counts
    }

    /// Emits a batch a ``RecordBatchBuilder`` prepared (on another thread), without a cursor. Records added with
    /// `add` and not emitted yet would be overtaken, so there must be none.
    public func emit(_ batch: PreparedBatch) throws(PluginError) {
        guard !finished else { throw PluginError(.state, "RecordBatcher.emit was called after finish") }
        try emitPrepared(batch, cursor: nil, call: "emit")
    }

    /// Emits `last` (the builder's final, partial batch, if any) together with `cursor`, as `finish(cursor:)` does
    /// for added records. Returns the counts for the whole run of the batcher.
    @discardableResult
    public func finish(_ last: PreparedBatch?, cursor: String?) throws(PluginError) -> EmitCounts {
        guard let last else { return try finish(cursor: cursor) }
        guard !finished else { throw PluginError(.state, "RecordBatcher.finish was called twice") }
        try emitPrepared(last, cursor: cursor, call: "finish")
        finished = true
        return counts
    }

    /// Emits a prepared batch after checking that no added record waits (`call` names the public method).
    private func emitPrepared(_ batch: PreparedBatch, cursor: String?, call: String) throws(PluginError) {
        guard pending.isEmpty else {
            throw PluginError(.state, "RecordBatcher.\(call) was given a prepared batch while \(pending.count) added records wait")
        }
        try context.checkCancelled()
        tally(try context.emit(batch, cursor: cursor), records: batch.count)
    }

    /// Adds what the host reported for one emitted batch of `records` records.
    private func tally(_ batch: EmitCounts, records: Int) {
        counts.add(batch)
        emittedRecords += records
        emittedBatches += 1
    }

    private func flush(cursor: String?) throws(PluginError) {
        try context.checkCancelled()
        tally(try context.emit(pending, cursor: cursor, storage: storage), records: pending.count)
        pending.removeAll(keepingCapacity: true)
    }
}

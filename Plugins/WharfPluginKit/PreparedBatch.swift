import WharfABI

/// A batch of records already turned into the C form `emit` takes, so that a plugin's producer thread (see
/// ``ProducerPipeline``) can do that work and the operation's thread only hands it over.
///
/// Why: in a bulk import the operation's thread waits for the host's store; copying every string of every record
/// into C memory, and freeing the Swift records afterwards, belongs on the thread that has time for it.
///
/// Threading: built by ``RecordBatchBuilder`` on any thread; handed to the operation's thread (through the pipeline)
/// and emitted there with ``RecordBatcher/emit(_:)``. Never used by two threads at once.
public final class PreparedBatch: @unchecked Sendable {
    /// Records in the batch.
    public let count: Int
    let storage = CRecordStorage()

    /// The C form of `records`.
    public init(_ records: some Collection<Record>) {
        count = storage.fill(records)
    }
}

/// Groups records into ``PreparedBatch``es of `batchSize` on a producer thread; the operation's thread emits them
/// with ``RecordBatcher/emit(_:)`` and the last, partial one with ``RecordBatcher/finish(_:cursor:)``.
///
/// ```swift
/// let builder = RecordBatchBuilder(batchSize: 2000)
/// try ProducerPipeline.run(produce: { send in
///     for row in rows { if let batch = builder.add(record(for: row)) { try send(batch) } }   // producer thread
/// }, consume: { batch in try batcher.emit(batch) })                                          // operation's thread
/// try batcher.finish(builder.finish(), cursor: cursor)
/// ```
///
/// Threading: one thread at a time (the producer's; read `pendingCount` from another only after joining it).
public final class RecordBatchBuilder {
    /// Records per batch.
    public let batchSize: Int
    /// Records added and not yet handed out in a batch.
    public var pendingCount: Int { pending.count }
    private var pending: [Record] = []

    /// A builder of batches of `batchSize` records (1...100_000).
    public init(batchSize: Int) {
        self.batchSize = min(max(batchSize, 1), 100_000)
        pending.reserveCapacity(self.batchSize)
    }

    /// Adds a record; returns the pending batch when it was full. As ``RecordBatcher/add(_:)`` does, a full batch is
    /// handed out only when the next record arrives, so the final batch is never empty when there are records and
    /// the cursor travels with data.
    public func add(_ record: Record) -> PreparedBatch? {
        var full: PreparedBatch?
        if pending.count >= batchSize {
            full = PreparedBatch(pending)
            pending.removeAll(keepingCapacity: true)
        }
        pending.append(record)
        return full
    }

    /// The records added since the last full batch, as a batch; nil when there are none.
    public func finish() -> PreparedBatch? {
        guard !pending.isEmpty else { return nil }
        defer { pending.removeAll() }
        return PreparedBatch(pending)
    }
}

import Foundation
import Synchronization
import WharfABI
import WharfManifest
import WharfModel
import WharfStore

/// A flag a run's owner sets to ask the plugin to stop at its next batch boundary.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    /// A flag that is not set.
    public init() {}

    /// Asks the run to stop.
    public func cancel() { flag.store(true, ordering: .relaxed) }

    /// Whether a stop was asked for.
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// What a `wharf_context` was handed out for; it decides which host services the plugin may use with it.
enum ContextPhase: String {
    case create, ingest, export, call
}

/// The host side of one `wharf_context *`: the connector, the run, and everything a plugin call may touch.
///
/// One is made for each plugin call (`create`, `ingest`, `export_data`, `call`) and lives exactly as long as that
/// call: the strings it hands to the plugin stay valid until then, as the ABI promises. Only `log` and
/// `is_cancelled` may be used from other threads, and both touch only `Sendable` members.
final class ConnectorContext: @unchecked Sendable {
    let connector: ConnectorConfig
    let phase: ContextPhase
    let store: Store?
    let runID: Int64?
    let logger: Logger
    let cancellation: CancellationFlag
    let environment: [String: String]
    /// The folder relative config paths are resolved against: the manifest's folder.
    let baseDirectory: String
    /// Live counters for whoever shows progress (nil when nobody does).
    var progress: RunProgress?
    /// Where the plugin's log lines are kept for the run (nil outside runs, e.g. `manifest check`).
    var runLog: RunLog?
    /// How batches are applied (stock deltas relative or absolute; the run that owns rejects the store makes).
    var applyOptions = Store.ApplyOptions()
    /// How records are decoded (a relative delta's quantity is a signed adjustment).
    var decodeOptions = RecordDecodingOptions()
    /// Set while the whole run is one transaction (`onError: fail`); batches join it instead of committing.
    var runWriter: Store.RunWriter?
    /// `onError: fail`: the first reject, which dooms the run; every later emit is refused.
    var failingReject: String?
    /// `onError: fail`: rejects to store after the run's transaction is rolled back, so the run says why.
    var rejectsToKeep: [NewReject] = []

    /// The run's element digests, when its records may name their source elements (ingest of absolute data).
    /// Set before the plugin is called and never changed during it: `skip_unchanged` reads it from plugin threads.
    var elementLedger: Store.ElementLedger?

    /// Counts of this call's records (ingest).
    var counts = RunCounts()
    /// The plugin's explanation of its failure (`set_error`), with every secret value handed out masked.
    var errorMessage: String? {
        didSet { if let errorMessage { self.errorMessage = secrets.redact(errorMessage) } }
    }
    /// Values of the connector's secrets: masked in everything the plugin says back.
    let secrets: SecretMask
    /// The response body of a `call`.
    var response: [UInt8]?
    /// Rejects the plugin reported, written with the next batch (one transaction) or when the call ends.
    var pendingRejects: [NewReject] = []
    /// The run's parameters (`run_parameter`): what `POST /v1/exports/{connector}` asked for.
    var parameters: [String: String] = [:]
    /// The cursor as stored, loaded on first use and kept current as batches commit.
    private var cursor: String??
    // C strings handed to the plugin; freed when the call ends.
    private var kept: [UnsafeMutablePointer<CChar>] = []
    private var keptByKey: [String: UnsafePointer<CChar>] = [:]

    init(
        connector: ConnectorConfig, phase: ContextPhase, store: Store?, runID: Int64?, logger: Logger,
        cancellation: CancellationFlag, baseDirectory: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.baseDirectory = baseDirectory
        self.connector = connector
        self.phase = phase
        self.store = store
        self.runID = runID
        self.logger = logger
        self.cancellation = cancellation
        self.environment = environment
        self.secrets = SecretMask(config: connector.config, environment: environment)
    }

    deinit {
        for pointer in kept { free(pointer) }
    }

    /// The opaque pointer handed to the plugin. Valid while `self` is alive (the caller keeps it alive).
    var opaque: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    /// The context behind a pointer the plugin handed back.
    static func from(_ pointer: OpaquePointer?) -> ConnectorContext? {
        guard let pointer else { return nil }
        return Unmanaged<ConnectorContext>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }

    /// A C copy of `text` that lives until the call ends; the same `cacheKey` returns the same pointer.
    func keep(_ text: String, cacheKey: String? = nil) -> UnsafePointer<CChar> {
        if let cacheKey, let existing = keptByKey[cacheKey] { return existing }
        let pointer = strdup(text)!
        kept.append(pointer)
        if let cacheKey { keptByKey[cacheKey] = UnsafePointer(pointer) }
        return UnsafePointer(pointer)
    }

    /// Log fields that identify this connector and run.
    var logFields: [(String, String)] {
        var fields = [("connector", connector.name), ("plugin", connector.plugin)]
        if let runID { fields.append(("run", String(runID))) }
        return fields
    }

    /// Writes one line for the connector and run (secret values masked): into the run's log, and into the process
    /// log unless the run log forwards it to the server, which logs it there.
    func log(_ level: LogLevel, _ message: String) {
        let text = secrets.redact(message)
        runLog?.append(level, text)
        if runLog?.forwards != true { logger.log(level, text, fields: logFields) }
    }

    /// The stored cursor (nil when none).
    func currentCursor() throws -> String? {
        if let cursor { return cursor }
        let value = try store?.cursor(connector: connector.name)
        cursor = .some(value)
        return value
    }

    /// Stores `value` as the connector's cursor on its own (an export's watermark, after its files are in place).
    func storeCursor(_ value: String) throws {
        guard let store else { throw StoreError(code: .misuse, message: "no store is open for this call") }
        try store.setCursor(connector: connector.name, value)
        cursor = .some(value)
    }

    /// Stores one batch the plugin emitted, with the plugin's pending rejects, in one transaction. The records are
    /// what `RecordReader.decode` returned with `decodeOptions`, so validated already: the store does not repeat it.
    /// They may arrive in chunks while the batch is stored (see `EmitDecoder`); `invalid` is asked after the last
    /// chunk, for the rejects of the records that did not decode.
    func apply(
        chunks nextChunk: () -> Store.RecordChunk?, invalid: () -> [NewReject], read: Int64, cursor newCursor: String?
    ) throws -> Store.UpsertCounts {
        guard let store else { throw StoreError(code: .misuse, message: "no store is open for this call") }
        let pending = pendingRejects
        var rejects: [NewReject] = []
        var invalidCount = 0
        let allRejects: () -> [NewReject] = {
            let invalid = invalid()
            invalidCount = invalid.count
            rejects = pending + invalid
            return rejects
        }
        let cursorUpdate = newCursor.map { (connector: connector.name, value: $0) }
        // `emit` hands over only what RecordReader.decode returned, with `decodeOptions` (which match `stock`).
        var applyOptions = self.applyOptions
        applyOptions.recordsAreValidated = applyOptions.stock == (decodeOptions.stockQuantityIsAdjustment ? .relative : .absolute)
        let result =
            if let runWriter {
                try runWriter.apply(chunks: nextChunk, cursor: cursorUpdate, rejects: allRejects, options: applyOptions)
            } else {
                try store.apply(chunks: nextChunk, cursor: cursorUpdate, rejects: allRejects, options: applyOptions)
            }
        if connector.onError == .fail {
            rejectsToKeep += rejects
            if failingReject == nil {
                if let first = rejects.first {
                    failingReject = RecordReader.describe(first)
                } else if result.rejected > 0 {
                    failingReject = "\(result.rejected) record(s) of a batch were refused by the store (e.g. a stock adjustment below zero)"
                }
            }
        }
        pendingRejects.removeAll()
        addSkippedElements()
        counts.read += read
        counts.inserted += result.inserted
        counts.updated += result.updated
        counts.unchanged += result.unchanged
        counts.rejected += Int64(invalidCount) + result.rejected
        progress?.addBatch(
            read: read, inserted: result.inserted, updated: result.updated, unchanged: result.unchanged,
            rejected: Int64(invalidCount) + result.rejected)
        if let newCursor { cursor = .some(newCursor) }
        return result
    }

    /// Adds the records of the elements the plugin skipped as unchanged since the last call to the run's counts.
    func addSkippedElements() {
        guard let skipped = elementLedger?.takeSkipped(), skipped.elements > 0 else { return }
        counts.read += skipped.records
        counts.unchanged += skipped.records
        progress?.addBatch(read: skipped.records, inserted: 0, updated: 0, unchanged: skipped.records, rejected: 0)
    }

    /// Writes rejects that did not travel with a batch.
    func flushRejects() throws {
        guard !pendingRejects.isEmpty, let store else { return }
        if connector.onError == .fail {
            rejectsToKeep += pendingRejects
            if failingReject == nil, let first = pendingRejects.first { failingReject = RecordReader.describe(first) }
        }
        if let runWriter { try runWriter.addRejects(pendingRejects) } else { try store.addRejects(pendingRejects) }
        pendingRejects.removeAll()
    }
}

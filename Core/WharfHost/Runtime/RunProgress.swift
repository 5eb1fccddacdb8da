import Foundation
import Synchronization
import WharfModel

/// Live counters of a run in progress, written by the plugin's thread and read by whoever shows progress.
public final class RunProgress: Sendable {
    private let recordsRead = Atomic<Int64>(0)
    private let recordsInserted = Atomic<Int64>(0)
    private let recordsUpdated = Atomic<Int64>(0)
    private let recordsUnchanged = Atomic<Int64>(0)
    private let recordsRejected = Atomic<Int64>(0)
    private let unitsDone = Atomic<UInt64>(0)
    private let unitsTotal = Atomic<UInt64>(0)
    /// Told after every change; `batch` is true when a batch was stored (a worker reports those at once).
    private let onChange: (@Sendable (_ progress: RunProgress, _ batch: Bool) -> Void)?
    /// When the run started.
    public let started = ContinuousClock.now

    /// Fresh counters.
    public init() {
        onChange = nil
    }

    /// Fresh counters that call `onChange` after every change (a worker streams them to its server).
    init(onChange: @escaping @Sendable (_ progress: RunProgress, _ batch: Bool) -> Void) {
        self.onChange = onChange
    }

    /// Records handed over so far (including rejected ones).
    public var read: Int64 { recordsRead.load(ordering: .relaxed) }
    /// Records rejected so far.
    public var rejected: Int64 { recordsRejected.load(ordering: .relaxed) }
    /// How far through its source the plugin says it is, and the total (0 when unknown).
    public var position: (done: UInt64, total: UInt64) {
        (unitsDone.load(ordering: .relaxed), unitsTotal.load(ordering: .relaxed))
    }

    /// Every count so far. Inserted, updated and unchanged count stored batches (with `onError: fail`, batches of
    /// the run's one transaction, which a failure still rolls back).
    public var counts: RunCounts {
        RunCounts(
            read: recordsRead.load(ordering: .relaxed), inserted: recordsInserted.load(ordering: .relaxed),
            updated: recordsUpdated.load(ordering: .relaxed), unchanged: recordsUnchanged.load(ordering: .relaxed),
            rejected: recordsRejected.load(ordering: .relaxed))
    }

    /// Records the plugin rejected itself (not a stored batch).
    func add(read: Int64, rejected: Int64) {
        recordsRead.add(read, ordering: .relaxed)
        recordsRejected.add(rejected, ordering: .relaxed)
        onChange?(self, false)
    }

    /// A batch the store applied.
    func addBatch(read: Int64, inserted: Int64, updated: Int64, unchanged: Int64, rejected: Int64) {
        recordsRead.add(read, ordering: .relaxed)
        recordsInserted.add(inserted, ordering: .relaxed)
        recordsUpdated.add(updated, ordering: .relaxed)
        recordsUnchanged.add(unchanged, ordering: .relaxed)
        recordsRejected.add(rejected, ordering: .relaxed)
        onChange?(self, true)
    }

    func report(done: UInt64, total: UInt64) {
        unitsDone.store(done, ordering: .relaxed)
        unitsTotal.store(total, ordering: .relaxed)
        onChange?(self, false)
    }

    /// Takes over a worker's counters as they arrive in its progress frames.
    func replace(counts: RunCounts, done: UInt64, total: UInt64) {
        recordsRead.store(counts.read, ordering: .relaxed)
        recordsInserted.store(counts.inserted, ordering: .relaxed)
        recordsUpdated.store(counts.updated, ordering: .relaxed)
        recordsUnchanged.store(counts.unchanged, ordering: .relaxed)
        recordsRejected.store(counts.rejected, ordering: .relaxed)
        unitsDone.store(done, ordering: .relaxed)
        unitsTotal.store(total, ordering: .relaxed)
    }

    /// One line: records, rate, elapsed and — when the source size is known — percent and time left.
    public func line(connector: String, now: ContinuousClock.Instant = .now) -> String {
        let elapsed = now - started
        let seconds = max(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, 0.001)
        let records = read
        var text = "\(connector): \(records) records (\(Int(Double(records) / seconds))/s)"
        if rejected > 0 { text += ", \(rejected) rejected" }
        text += ", \(RunProgress.duration(seconds)) elapsed"
        let (done, total) = position
        if total > 0, done > 0, done <= total {
            let fraction = Double(done) / Double(total)
            text += String(format: ", %.0f%%", fraction * 100)
            if fraction < 1 { text += ", about \(RunProgress.duration(seconds / fraction - seconds)) left" }
        }
        return text
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        if whole < 60 { return String(format: "%.1fs", seconds) }
        if whole < 3600 { return "\(whole / 60)m\(String(format: "%02d", whole % 60))s" }
        return "\(whole / 3600)h\(String(format: "%02d", whole / 60 % 60))m"
    }
}

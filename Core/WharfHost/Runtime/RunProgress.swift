import Foundation
import Synchronization

/// Live counters of a run in progress, written by the plugin's thread and read by whoever shows progress.
public final class RunProgress: Sendable {
    private let recordsRead = Atomic<Int64>(0)
    private let recordsRejected = Atomic<Int64>(0)
    private let unitsDone = Atomic<UInt64>(0)
    private let unitsTotal = Atomic<UInt64>(0)
    /// When the run started.
    public let started = ContinuousClock.now

    /// Fresh counters.
    public init() {}

    /// Records handed over so far (including rejected ones).
    public var read: Int64 { recordsRead.load(ordering: .relaxed) }
    /// Records rejected so far.
    public var rejected: Int64 { recordsRejected.load(ordering: .relaxed) }
    /// How far through its source the plugin says it is, and the total (0 when unknown).
    public var position: (done: UInt64, total: UInt64) {
        (unitsDone.load(ordering: .relaxed), unitsTotal.load(ordering: .relaxed))
    }

    func add(read: Int64, rejected: Int64) {
        recordsRead.add(read, ordering: .relaxed)
        recordsRejected.add(rejected, ordering: .relaxed)
    }

    func report(done: UInt64, total: UInt64) {
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

import Foundation

/// Collects log lines written during a test. Locked, because a deployment's logger sink is called from worker
/// threads.
public final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    /// An empty collection; make one per test so tests share no lines.
    public init() {}

    /// Adds one line.
    public func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    /// Every line so far, in the order written.
    public var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}

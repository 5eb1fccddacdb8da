import Synchronization
import WharfModel

/// The log lines a run's plugin emits, kept (up to `limit`) to be stored with the run when it ends.
///
/// Plugins may log from any thread they start, so lines are collected under a lock; they are written to the store
/// once, after the run, so logging never waits for the database or joins a run's transaction.
///
/// In a worker the lines are not kept but forwarded to the server, which keeps them and logs them with the run's
/// fields; `forwards` tells the host services not to log them a second time.
final class RunLog: Sendable {
    let limit: Int
    private let state = Mutex<(lines: [RunLogLine], dropped: Int)>(([], 0))
    private let forward: (@Sendable (LogLevel, String) -> Void)?

    init(limit: Int = 10_000) {
        self.limit = limit
        forward = nil
    }

    /// A run log that hands every line to `forward` instead of keeping it.
    init(forward: @escaping @Sendable (LogLevel, String) -> Void) {
        limit = 0
        self.forward = forward
    }

    /// Whether lines go elsewhere (to the server) rather than being kept here.
    var forwards: Bool { forward != nil }

    func append(_ level: LogLevel, _ message: String) {
        if let forward { return forward(level, message) }
        state.withLock { state in
            if state.lines.count < limit {
                state.lines.append(RunLogLine(loggedAt: .now(), level: level.name, message: message))
            } else {
                state.dropped += 1
            }
        }
    }

    /// The lines, with a last line saying how many were dropped past the limit.
    func drain() -> [RunLogLine] {
        state.withLock { state in
            var lines = state.lines
            if state.dropped > 0 {
                lines.append(RunLogLine(
                    loggedAt: .now(), level: LogLevel.warning.name,
                    message: "\(state.dropped) more log lines were not kept (a run keeps at most \(limit))"))
            }
            state = ([], 0)
            return lines
        }
    }
}

import Synchronization
import WharfModel

/// The log lines a run's plugin emits, kept (up to `limit`) to be stored with the run when it ends.
///
/// Plugins may log from any thread they start, so lines are collected under a lock; they are written to the store
/// once, after the run, so logging never waits for the database or joins a run's transaction.
final class RunLog: Sendable {
    let limit: Int
    private let state = Mutex<(lines: [RunLogLine], dropped: Int)>(([], 0))

    init(limit: Int = 10_000) {
        self.limit = limit
    }

    func append(_ level: LogLevel, _ message: String) {
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

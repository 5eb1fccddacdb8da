import Foundation
import Synchronization

/// A source of the current wall-clock time, injected into ``Scheduler`` so that tests can move time by hand.
///
/// Note: this protocol shadows the standard library's `Swift.Clock` in modules that import WharfSchedule;
/// write `Swift.Clock` for the other one.
public protocol Clock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The system's real-time clock (`Date()`).
public struct SystemClock: Clock {
    /// The system clock.
    public init() {}

    /// The current instant.
    public func now() -> Date { Date() }
}

/// A clock that stands still until told to move: for tests and simulations. Thread-safe.
public final class ManualClock: Clock {
    private let current: Mutex<Date>

    /// A clock showing `now`.
    public init(_ now: Date) {
        current = Mutex(now)
    }

    /// The time the clock shows.
    public func now() -> Date {
        current.withLock { $0 }
    }

    /// Sets the clock to `date` (it may move backwards, as a real clock may after an NTP correction).
    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }

    /// Moves the clock forward by `seconds`.
    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

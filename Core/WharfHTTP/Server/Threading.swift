#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CWharfSystem

// MARK: Not public

/// A pthread mutex with one condition variable. Heap-allocated so the pthread objects never move.
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func signal() { pthread_cond_signal(condition) }
    func broadcast() { pthread_cond_broadcast(condition) }
    /// Waits (lock held) until signalled.
    func wait() { pthread_cond_wait(condition, mutex) }
    /// Waits (lock held) until signalled or until the monotonic clock reaches `deadlineMs`; false on timeout.
    func wait(untilMonotonicMs deadlineMs: UInt64) -> Bool {
        var ts = timespec(tv_sec: Int(deadlineMs / 1000), tv_nsec: Int(deadlineMs % 1000) * 1_000_000)
        return pthread_cond_timedwait(condition, mutex, &ts) == 0
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// Starts a detached pthread named `name` (at most 15 bytes show) running `body`.
func startThread(name: String, _ body: @escaping @Sendable () -> Void) -> pthread_t? {
    let box = Unmanaged.passRetained(ThreadStart(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
        wharf_set_thread_name(box.name)
        box.body()
        return nil
    }, box)
    if rc != 0 {
        Unmanaged<ThreadStart>.fromOpaque(box).release()
        return nil
    }
    pthread_detach(thread)
    return thread
}

private final class ThreadStart: @unchecked Sendable {
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}

extension Duration {
    /// Whole milliseconds, at least 1 for any positive duration.
    var milliseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let ms = UInt64(seconds) * 1000 + UInt64(attoseconds / 1_000_000_000_000_000)
        return max(1, ms)
    }
}

/// The monotonic clock in milliseconds.
@inline(__always) func monotonicMs() -> UInt64 { wharf_monotonic_ms() }

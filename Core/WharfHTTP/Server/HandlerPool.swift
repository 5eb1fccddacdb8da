#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: Not public

/// A request handed from an event loop to the pool; the answer goes back to the same loop and connection.
struct HandlerJob: @unchecked Sendable {
    let loop: EventLoop
    let connection: Connection
    let request: HTTPRequest
    let keepAlive: Bool
    let isHead: Bool
    let http10: Bool

    /// Runs the responder (and the completion hook) on the calling pool thread and posts the answer back.
    func run(_ core: ServerCore) {
        let started = core.onRequestCompleted == nil ? nil : ContinuousClock.now
        let response = core.responder(request)
        if let hook = core.onRequestCompleted, let started { hook(request, response, ContinuousClock.now - started) }
        loop.post(.completed(connection, response, isHead: isHead, keepAlive: keepAlive, http10: http10))
    }
}

/// A fixed set of threads running handlers, fed by a FIFO queue. Bounded in threads; the queue holds at most one
/// job per connection (a connection waits for its answer before its next request is parsed).
final class HandlerPool: @unchecked Sendable {
    private let lock = ConditionLock()
    private var queue: [HandlerJob] = []
    private var head = 0
    private var idleThreads = 0
    private var stopping = false
    private var running = 0
    private let threadCount: Int
    private let run: @Sendable (HandlerJob) -> Void

    init(threads: Int, run: @escaping @Sendable (HandlerJob) -> Void) {
        threadCount = max(1, threads)
        self.run = run
        queue.reserveCapacity(256)
    }

    /// Starts the threads; returns false when a thread could not be created.
    func start(onThreadStart: @escaping @Sendable () -> Void) -> Bool {
        for i in 0..<threadCount {
            lock.withLock { running += 1 }
            let started = startThread(name: "wharf-handler-\(i)") { [self] in
                onThreadStart()
                work()
            }
            if started == nil {
                lock.withLock { running -= 1 }
                return false
            }
        }
        return true
    }

    func submit(_ job: HandlerJob) {
        lock.lock()
        queue.append(job)
        let wake = idleThreads > 0
        lock.unlock()
        if wake { lock.signal() }
    }

    private func work() {
        lock.lock()
        while true {
            if head < queue.count {
                let job = queue[head]
                head += 1
                if head == queue.count {
                    queue.removeAll(keepingCapacity: true)
                    head = 0
                }
                lock.unlock()
                run(job)
                lock.lock()
            } else if stopping {
                break
            } else {
                idleThreads += 1
                lock.wait()
                idleThreads -= 1
            }
        }
        running -= 1
        lock.broadcast()
        lock.unlock()
    }

    /// Lets queued jobs finish, then ends the threads. Returns false when they did not end by `deadlineMs`.
    func stop(deadlineMs: UInt64) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        stopping = true
        lock.broadcast()
        while running > 0 {
            if !lock.wait(untilMonotonicMs: deadlineMs) && monotonicMs() >= deadlineMs { return running == 0 }
        }
        return true
    }
}

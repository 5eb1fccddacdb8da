#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CWharfSystem
import Synchronization

/// An HTTP/1.1 server on non-blocking sockets: one epoll loop per event-loop thread, connections spread across
/// loops, handlers on the loops or on a bounded pool (see `HandlerExecution`).
///
/// ```swift
/// var router = Router()
/// router.add(.GET, "/health") { _, _ in .json(200, #"{"status":"ok"}"#) }
/// let server = HTTPServer(configuration: .init(port: 8080), router: router)
/// try server.start()
/// server.waitUntilShutdown()   // until someone calls server.shutdown()
/// ```
///
/// Behaviour: keep-alive (HTTP/1.1 by default, HTTP/1.0 on request), pipelined requests answered in order,
/// Content-Length and chunked bodies, `Expect: 100-continue`. Every limit and timeout in `HTTPServerConfiguration`
/// is answered with an RFC 9457 problem (400, 408, 413, 414, 431, 505) and the connection closed; request-smuggling
/// shapes (Content-Length with Transfer-Encoding, differing Content-Lengths, obs-fold, whitespace before a colon,
/// bare LF) are refused with 400. SIGPIPE is ignored process-wide once a server starts.
///
/// Lifetime: a started server's threads keep it alive until `shutdown()`; releasing the last reference does not
/// stop it. A server starts once; create a new one to listen again.
public final class HTTPServer: Sendable {
    /// The configuration given at creation.
    public let configuration: HTTPServerConfiguration
    private let responder: @Sendable (HTTPRequest) -> HTTPResponse
    private let state = Mutex(State())
    private let stopped = StopSignal()

    private struct State: @unchecked Sendable {
        var phase = Phase.created
        var localPort = 0
        var loops: [EventLoop] = []
        var pool: HandlerPool?
        var threads: [pthread_t] = []
        var onRequestCompleted: (@Sendable (HTTPRequest, HTTPResponse, Duration) -> Void)?
        var onProtocolError: (@Sendable (String, ProblemDetails) -> Void)?
    }

    private enum Phase { case created, running, stopping, stopped }

    /// A server that answers every request with `responder` (called on a loop or pool thread; it must not throw).
    public init(configuration: HTTPServerConfiguration, responder: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        self.configuration = configuration
        self.responder = responder
    }

    /// A server that answers with `router`.
    public convenience init(configuration: HTTPServerConfiguration, router: Router) {
        self.init(configuration: configuration) { request in router.respond(to: request) }
    }

    /// Called after every request the responder answered, with the time the responder took (access log, metrics).
    /// Runs on the thread that ran the handler, so keep it cheap. Set it before `start()`; later changes are ignored.
    public var onRequestCompleted: (@Sendable (HTTPRequest, HTTPResponse, Duration) -> Void)? {
        get { state.withLock { $0.onRequestCompleted } }
        set { state.withLock { $0.onRequestCompleted = newValue } }
    }

    /// Called with the peer address and the problem whenever the server itself refuses a request (malformed,
    /// over a limit, timed out). Set it before `start()`.
    public var onProtocolError: (@Sendable (String, ProblemDetails) -> Void)? {
        get { state.withLock { $0.onProtocolError } }
        set { state.withLock { $0.onProtocolError = newValue } }
    }

    /// The bound port once started (the ephemeral one when the configuration says 0); 0 before `start()`.
    public var localPort: Int { state.withLock { $0.localPort } }

    /// Whether the server is accepting connections.
    public var isRunning: Bool { state.withLock { $0.phase == .running } }

    /// Binds, listens and starts the loop (and pool) threads; returns once connections are being accepted.
    /// Throws `HTTPServerError` with a message naming the address and what to do (e.g. address in use).
    public func start() throws(HTTPServerError) {
        let c = configuration
        let claimed: (onCompleted: (@Sendable (HTTPRequest, HTTPResponse, Duration) -> Void)?,
                      onError: (@Sendable (String, ProblemDetails) -> Void)?)? = state.withLock {
            guard $0.phase == .created else { return nil }
            $0.phase = .running
            return ($0.onRequestCompleted, $0.onProtocolError)
        }
        guard let claimed else {
            throw HTTPServerError(code: .alreadyStarted, message: "the HTTP server was already started; create a new HTTPServer to start again")
        }
        let listenFD: Int32
        var boundPort: Int32 = 0
        do throws(HTTPServerError) {
            try validate(c)
            wharf_ignore_sigpipe()
            let fd = wharf_tcp_listen(c.host, Int32(c.port), Int32(c.backlog), &boundPort)
            if fd < 0 { throw listenError(code: -fd) }
            listenFD = fd
        } catch {
            state.withLock { $0.phase = .created }
            throw error
        }

        let core = ServerCore(
            configuration: c, responder: responder, onRequestCompleted: claimed.onCompleted,
            onProtocolError: claimed.onError)
        var loops: [EventLoop] = []
        do throws(HTTPServerError) {
            for i in 0..<c.eventLoopCount { loops.append(try EventLoop(index: i, core: core)) }
        } catch {
            for loop in loops { loop.releaseDescriptors() }
            _ = wharf_close(listenFD)
            state.withLock { $0.phase = .created }
            throw error
        }
        var pool: HandlerPool?
        if case .threadPool(let threads) = c.handlerExecution {
            pool = HandlerPool(threads: threads) { job in job.run(core) }
        }
        loops[0].listenFD = listenFD
        loops[0].siblings = loops
        for loop in loops { loop.pool = pool }

        stopped.set(false)
        state.withLock {
            $0.localPort = Int(boundPort)
            $0.loops = loops
            $0.pool = pool
        }
        let group = LoopGroup(count: loops.count)
        if let pool, !pool.start(onThreadStart: { [self] in registerThread() }) {
            abortStart(loops: loops, unstartedFrom: 0, group: group)
            throw HTTPServerError(code: .system, message: "cannot start the HTTP handler threads; lower handlerThreadCount")
        }
        for (i, loop) in loops.enumerated() {
            let started = startThread(name: "wharf-loop-\(loop.index)") { [self] in
                registerThread()
                loop.run()
                if group.finishOne() { finishShutdown() }
            }
            if started == nil {
                abortStart(loops: loops, unstartedFrom: i, group: group)
                throw HTTPServerError(code: .system, message: "cannot start the HTTP event-loop threads; lower eventLoopCount")
            }
        }
    }

    /// Stops accepting, lets in-flight requests finish (at most `shutdownTimeout`), closes every connection and
    /// returns once the port is released. Called from a handler, it starts the shutdown and returns at once.
    public func shutdown() {
        let deadline = monotonicMs() + configuration.shutdownTimeout.milliseconds
        let loops: [EventLoop]? = state.withLock {
            guard $0.phase == .running else { return nil }
            $0.phase = .stopping
            return $0.loops
        }
        if let loops {
            for loop in loops { loop.post(.shutdown(deadlineMs: deadline)) }
        }
        if !isServerThread() { waitUntilShutdown() }
    }

    /// Blocks until the server has shut down (returns at once if it never started).
    public func waitUntilShutdown() { stopped.wait() }

    // MARK: Not public

    private func validate(_ c: HTTPServerConfiguration) throws(HTTPServerError) {
        func invalid(_ message: String) -> HTTPServerError { HTTPServerError(code: .invalidConfiguration, message: message) }
        if !(0...65535).contains(c.port) { throw invalid("port \(c.port) is out of range; use 1...65535, or 0 for any free port") }
        if c.eventLoopCount < 1 || c.eventLoopCount > 256 { throw invalid("eventLoopCount must be 1...256, not \(c.eventLoopCount)") }
        if case .threadPool(let n) = c.handlerExecution, n < 1 || n > 1024 {
            throw invalid("handler thread count must be 1...1024, not \(n)")
        }
        if c.maxConnections < 1 { throw invalid("maxConnections must be at least 1") }
        if c.maxRequestLineBytes < 16 || c.maxHeaderBytes < 16 || c.maxHeaderCount < 1 || c.maxBodyBytes < 0 {
            throw invalid("request limits are too small: maxRequestLineBytes and maxHeaderBytes need at least 16, maxHeaderCount 1")
        }
    }

    private func listenError(code: Int32) -> HTTPServerError {
        let address = configuration.host.contains(":") ? "[\(configuration.host)]:\(configuration.port)" : "\(configuration.host):\(configuration.port)"
        let prefix = "cannot listen on \(address)"
        switch code {
        case WHARF_ERR_RESOLVE:
            return HTTPServerError(code: .addressUnavailable, message: "\(prefix): the host name does not resolve; use an IP address such as 127.0.0.1 or 0.0.0.0 in `listen`")
        case EADDRINUSE:
            return HTTPServerError(code: .addressInUse, message: "\(prefix): address already in use; choose another port with `listen` in the manifest", errno: code)
        case EACCES, EPERM:
            return HTTPServerError(code: .permissionDenied, message: "\(prefix): permission denied; ports below 1024 need privileges, choose a port above 1023 with `listen` in the manifest", errno: code)
        case EADDRNOTAVAIL:
            return HTTPServerError(code: .addressUnavailable, message: "\(prefix): the address is not available on this machine; use 127.0.0.1 or 0.0.0.0 in `listen`", errno: code)
        default:
            return HTTPServerError(code: .system, message: "\(prefix): \(String(cString: strerror(code)))", errno: code)
        }
    }

    private func registerThread() {
        let me = pthread_self()
        state.withLock { $0.threads.append(me) }
    }

    private func isServerThread() -> Bool {
        let me = pthread_self()
        return state.withLock { $0.threads.contains { pthread_equal($0, me) != 0 } }
    }

    /// Undoes a half-finished start: loops that run are told to stop; those never started are counted as finished
    /// (and the listener closed when the acceptor never ran), so shutdown completes and waiters wake.
    private func abortStart(loops: [EventLoop], unstartedFrom first: Int, group: LoopGroup) {
        state.withLock { $0.phase = .stopping }
        let deadline = monotonicMs() + 1000
        for loop in loops[..<first] { loop.post(.shutdown(deadlineMs: deadline)) }
        if first == 0, loops[0].listenFD >= 0 {
            _ = wharf_close(loops[0].listenFD)
            loops[0].listenFD = -1
        }
        for _ in first..<loops.count where group.finishOne() { finishShutdown() }
    }

    /// Runs on the last loop thread to exit: stop the pool, release descriptors, wake waiters.
    private func finishShutdown() {
        let (loops, pool) = state.withLock { ($0.loops, $0.pool) }
        let poolStopped = pool?.stop(deadlineMs: monotonicMs() + configuration.shutdownTimeout.milliseconds) ?? true
        // A pool thread still stuck in a handler may yet post to a loop; keep the eventfds open in that case.
        if poolStopped { for loop in loops { loop.releaseDescriptors() } }
        // The acceptor's `siblings` lists the acceptor itself: a reference cycle that kept every loop (and its
        // mailbox) alive after shutdown. Every loop thread has returned, so the links can go.
        for loop in loops {
            loop.siblings = []
            loop.pool = nil
        }
        state.withLock {
            $0.phase = .stopped
            $0.loops = []
            $0.pool = nil
            $0.threads = []
        }
        stopped.set(true)
    }
}

extension HTTPServer {
    /// The running server's event-loop objects, for tests that check they are freed after `shutdown()`; empty
    /// before `start()` and after shutdown.
    @_spi(Testing)
    public var eventLoopObjects: [AnyObject] { state.withLock { $0.loops } }
}

/// Counts loop threads down; the last one to finish runs the final clean-up.
private final class LoopGroup: Sendable {
    private let remaining: Atomic<Int>
    init(count: Int) { remaining = Atomic(count) }
    /// True for the caller that brought the count to zero.
    func finishOne() -> Bool { remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 }
}

/// A flag other threads can wait on.
private final class StopSignal: @unchecked Sendable {
    private let lock = ConditionLock()
    private var stopped = true

    func set(_ value: Bool) {
        lock.withLock {
            stopped = value
            if value { lock.broadcast() }
        }
    }

    func wait() {
        lock.lock()
        while !stopped { lock.wait() }
        lock.unlock()
    }
}

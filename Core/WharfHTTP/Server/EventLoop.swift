#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CWharfSystem
import Synchronization

// MARK: Not public

/// Settings and shared state every loop reads; immutable after `start()` except the atomics.
final class ServerCore: Sendable {
    let limits: ParserLimits
    let bufferLimit: Int
    let headerTimeoutMs: UInt64
    let bodyTimeoutMs: UInt64
    let idleTimeoutMs: UInt64
    let writeTimeoutMs: UInt64
    let lingerMs: UInt64
    let tickMs: UInt64
    let maxConnections: Int
    let inline: Bool
    let responder: @Sendable (HTTPRequest) -> HTTPResponse
    let onRequestCompleted: (@Sendable (HTTPRequest, HTTPResponse, Duration) -> Void)?
    let onProtocolError: (@Sendable (String, ProblemDetails) -> Void)?
    let activeConnections = Atomic<Int>(0)
    /// Pipelined answers queued beyond this many bytes pause parsing until the client reads.
    let outputHighWater = 1 << 20

    init(
        configuration c: HTTPServerConfiguration, responder: @escaping @Sendable (HTTPRequest) -> HTTPResponse,
        onRequestCompleted: (@Sendable (HTTPRequest, HTTPResponse, Duration) -> Void)?,
        onProtocolError: (@Sendable (String, ProblemDetails) -> Void)?
    ) {
        limits = ParserLimits(c)
        bufferLimit = limits.bufferLimit
        headerTimeoutMs = c.headerTimeout.milliseconds
        bodyTimeoutMs = c.bodyTimeout.milliseconds
        idleTimeoutMs = c.idleTimeout.milliseconds
        writeTimeoutMs = c.writeTimeout.milliseconds
        lingerMs = min(2000, max(50, idleTimeoutMs))
        let timeouts: [UInt64] = [headerTimeoutMs, bodyTimeoutMs, idleTimeoutMs, writeTimeoutMs].filter { $0 > 0 }
        let shortest: UInt64 = timeouts.min() ?? 1000
        tickMs = min(250, max(5, shortest / 10))
        maxConnections = c.maxConnections
        if case .eventLoop = c.handlerExecution { inline = true } else { inline = false }
        self.responder = responder
        self.onRequestCompleted = onRequestCompleted
        self.onProtocolError = onProtocolError
    }
}

/// Messages other threads post to a loop.
enum LoopMessage: @unchecked Sendable {
    /// A connection accepted by the acceptor loop for this loop to serve.
    case adopt(fd: Int32, remoteAddress: String)
    /// A handler-pool answer for `connection`'s in-flight request.
    case completed(Connection, HTTPResponse, isHead: Bool, keepAlive: Bool, http10: Bool)
    /// Stop accepting, finish in-flight work, close idle connections; force-close at `deadlineMs`.
    case shutdown(deadlineMs: UInt64)
}

/// One event-loop thread: an epoll set, its connections, and a mailbox woken through an eventfd.
/// Everything except `mailbox` and `post` is confined to the loop's thread.
final class EventLoop: @unchecked Sendable {
    let index: Int
    let core: ServerCore
    let epfd: Int32
    let wakeFD: Int32
    var pool: HandlerPool?
    /// Set on the acceptor loop only: the listening socket and all loops to hand connections to.
    var listenFD: Int32 = -1
    var siblings: [EventLoop] = []

    private let mailbox = Mutex<[LoopMessage]>([])
    private var drained: [LoopMessage] = []
    private var connections: [Connection] = []
    private var byFD: [Connection?] = []
    /// Connections that still have readable input after their fair share of reads this turn.
    private var again: [Connection] = []
    private var encoder = ResponseEncoder()
    private var now: UInt64 = 0
    private var nextTick: UInt64 = 0
    private var nextLoop = 0
    private var acceptPausedUntil: UInt64 = 0
    private var draining = false
    private var drainDeadline: UInt64 = 0

    private static let wakeToken = UInt64.max
    private static let listenToken = UInt64.max - 1
    private static let connectionEvents = wharf_EPOLLIN | wharf_EPOLLOUT | wharf_EPOLLRDHUP | wharf_EPOLLET

    init(index: Int, core: ServerCore) throws(HTTPServerError) {
        self.index = index
        self.core = core
        let ep = wharf_epoll_create()
        guard ep >= 0 else { throw HTTPServerError.system("cannot create an epoll set", errno: -ep) }
        let wake = wharf_eventfd_create()
        guard wake >= 0 else {
            _ = wharf_close(ep)
            throw HTTPServerError.system("cannot create an eventfd", errno: -wake)
        }
        epfd = ep
        wakeFD = wake
        _ = wharf_epoll_add(epfd, wakeFD, wharf_EPOLLIN, EventLoop.wakeToken)
    }

    /// Closes the loop's own descriptors; only after its thread ended and no pool job can post to it.
    func releaseDescriptors() {
        _ = wharf_close(wakeFD)
        _ = wharf_close(epfd)
    }

    /// Queues a message from any thread, waking the loop when the queue was empty.
    func post(_ message: LoopMessage) {
        let wasEmpty = mailbox.withLock { queue in
            let empty = queue.isEmpty
            queue.append(message)
            return empty
        }
        if wasEmpty { _ = wharf_eventfd_signal(wakeFD) }
    }

    // MARK: The loop

    func run() {
        if listenFD >= 0 { _ = wharf_epoll_add(epfd, listenFD, wharf_EPOLLIN, EventLoop.listenToken) }
        let events = UnsafeMutablePointer<wharf_epoll_event>.allocate(capacity: 256)
        defer { events.deallocate() }
        now = monotonicMs()
        nextTick = now + core.tickMs
        while true {
            let timeout: Int32 = again.isEmpty ? Int32(clamping: nextTick > now ? nextTick - now : 0) : 0
            let n = wharf_epoll_wait(epfd, events, 256, timeout)
            now = monotonicMs()
            if n > 0 {
                for i in 0..<Int(n) {
                    let event = events[i]
                    switch event.data {
                    case EventLoop.wakeToken: drainMailbox()
                    case EventLoop.listenToken: acceptConnections()
                    default: connectionEvent(fd: Int32(truncatingIfNeeded: event.data), events: event.events)
                    }
                }
            }
            if !again.isEmpty {
                let pending = again
                again.removeAll(keepingCapacity: true)
                for connection in pending where !connection.closed { drive(connection) }
            }
            if now >= nextTick {
                tick()
                nextTick = now + core.tickMs
            }
            if draining && (connections.isEmpty || now >= drainDeadline) { break }
        }
        for connection in connections { close(connection) }
        drainMailbox()  // close any connection handed over after the last turn
        if listenFD >= 0 {
            _ = wharf_close(listenFD)
            listenFD = -1
        }
    }

    private func drainMailbox() {
        _ = wharf_eventfd_drain(wakeFD)
        mailbox.withLock { swap(&$0, &drained) }
        for message in drained {
            switch message {
            case .adopt(let fd, let address):
                if draining {
                    _ = wharf_close(fd)
                    core.activeConnections.subtract(1, ordering: .relaxed)
                } else {
                    register(fd: fd, address: address)
                }
            case .completed(let connection, let response, let isHead, let keepAlive, let http10):
                guard !connection.closed else { continue }
                connection.inFlight = false
                let keep = keepAlive && !draining
                if connection.outPending == 0 { connection.lastWrite = now }
                encoder.encode(response, isHead: isHead, keepAlive: keep, http10: http10, into: &connection.out)
                if !keep { connection.closeAfterWrite = true }
                drive(connection)
            case .shutdown(let deadline):
                beginDrain(deadline: deadline)
            }
        }
        drained.removeAll(keepingCapacity: true)
    }

    private func beginDrain(deadline: UInt64) {
        guard !draining else { return }
        draining = true
        drainDeadline = deadline
        if listenFD >= 0 {
            _ = wharf_epoll_remove(epfd, listenFD)
            _ = wharf_close(listenFD)
            listenFD = -1
        }
        for connection in connections {
            if connection.isIdle {
                close(connection)
            } else if connection.lingering {
                connection.lingerUntil = min(connection.lingerUntil, now + 100)
                updateTimer(connection)
            }
        }
    }

    // MARK: Accepting

    private func acceptConnections() {
        var address = [CChar](repeating: 0, count: 64)
        for _ in 0..<128 {
            let fd = address.withUnsafeMutableBufferPointer { wharf_accept(listenFD, $0.baseAddress, 64) }
            if fd < 0 {
                let err = -fd
                if err == EAGAIN || err == EWOULDBLOCK { return }
                if err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM {
                    // Out of descriptors: stop polling the listener briefly instead of spinning on it.
                    _ = wharf_epoll_remove(epfd, listenFD)
                    acceptPausedUntil = now + 100
                    return
                }
                continue  // ECONNABORTED and friends concern only that one connection.
            }
            let active = core.activeConnections.wrappingAdd(1, ordering: .relaxed).newValue
            if active > core.maxConnections {
                refuse(fd)
                continue
            }
            let remote = address.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let target = siblings.isEmpty ? self : siblings[nextLoop % siblings.count]
            nextLoop &+= 1
            if target === self {
                register(fd: fd, address: remote)
            } else {
                target.post(.adopt(fd: fd, remoteAddress: remote))
            }
        }
    }

    /// Answers a connection over the limit with 503 (best effort, never blocking) and closes it.
    private func refuse(_ fd: Int32) {
        var problem = ProblemDetails.unavailable(
            "The server is at its connection limit (\(core.maxConnections)); retry shortly.")
        problem.headers.add(name: "Retry-After", value: "1")
        var out: [UInt8] = []
        encoder.encode(problem.response(), isHead: false, keepAlive: false, http10: false, into: &out)
        _ = out.withUnsafeBytes { wharf_send(fd, $0.baseAddress, $0.count) }
        _ = wharf_shutdown_write(fd)
        _ = wharf_close(fd)
        core.activeConnections.subtract(1, ordering: .relaxed)
    }

    private func register(fd: Int32, address: String) {
        let connection = Connection(fd: fd, remoteAddress: address)
        connection.idleSince = now
        connection.listIndex = connections.count
        connections.append(connection)
        let slot = Int(fd)
        if slot >= byFD.count { byFD.append(contentsOf: repeatElement(nil, count: max(slot + 1 - byFD.count, 64))) }
        byFD[slot] = connection
        if wharf_epoll_add(epfd, fd, EventLoop.connectionEvents, UInt64(UInt32(bitPattern: fd))) != 0 {
            close(connection)
            return
        }
        updateTimer(connection)
    }

    // MARK: Connection events

    private func connectionEvent(fd: Int32, events: UInt32) {
        let slot = Int(fd)
        guard slot >= 0, slot < byFD.count, let connection = byFD[slot] else { return }
        if events & wharf_EPOLLERR != 0 {
            close(connection)
            return
        }
        if events & (wharf_EPOLLIN | wharf_EPOLLRDHUP | wharf_EPOLLHUP) != 0 { connection.readable = true }
        if events & (wharf_EPOLLRDHUP | wharf_EPOLLHUP) != 0 { connection.hangupSeen = true }
        drive(connection)
    }

    /// Moves a connection as far as it can go: flush, parse and answer buffered requests, read more, repeat.
    private func drive(_ c: Connection) {
        if c.closed { return }
        if c.lingering {
            discardInput(c)
            return
        }
        if c.outPending > 0 && !flush(c) { return }
        var reads = 0
        while !c.closed {
            if !c.inFlight && !c.closeAfterWrite { processBuffered(c) }
            if c.closed { return }
            if c.outPending >= core.outputHighWater {
                if !flush(c) { return }
                if c.outPending > 0 { break }
            }
            if c.inFlight || c.closeAfterWrite || c.peerClosed || !c.readable || c.outPending >= core.outputHighWater {
                break
            }
            if reads == 8 {
                again.append(c)  // fairness: let other connections run; resume this one next turn
                break
            }
            let space = c.prepareForRead(limit: core.bufferLimit)
            if space == 0 {
                fail(c, Connection.inputDoesNotFit)
                break
            }
            let n = wharf_recv(c.fd, c.buffer + c.end, space)
            if n > 0 {
                if c.start == c.end && c.phase == .requestLine { c.requestStarted = 0 }
                c.end += n
                c.lastRead = now
                c.idleSince = 0
                reads += 1
                // A short read means the socket is drained, so the next edge will tell us about more data —
                // unless the FIN came with this data: its edge is already spent, so read on to the EOF.
                if n < space && !c.hangupSeen { c.readable = false }
            } else if n == 0 {
                c.peerClosed = true
                c.readable = false
            } else if n == -Int(EAGAIN) || n == -Int(EWOULDBLOCK) {
                c.readable = false
            } else {
                close(c)
                return
            }
        }
        if c.closed { return }
        _ = flush(c)
        if c.closed { return }
        afterWrite(c)
    }

    /// Parses and answers as many buffered requests as possible (in order), stopping at a pool hand-off.
    private func processBuffered(_ c: Connection) {
        while !c.inFlight && !c.closeAfterWrite && c.outPending < core.outputHighWater {
            switch c.parse(core.limits) {
            case .needMore:
                return
            case .sendContinue:
                if c.outPending == 0 { c.lastWrite = now }
                c.out.append(contentsOf: ResponseEncoder.continueResponse)
            case .failure(let problem):
                fail(c, problem)
                return
            case .request(let request, let keepAlive):
                let keep = keepAlive && !draining
                let isHead = request.method == .HEAD
                let http10 = request.version.minor == 0
                if core.inline {
                    let started = core.onRequestCompleted == nil ? nil : ContinuousClock.now
                    let response = core.responder(request)
                    if let hook = core.onRequestCompleted, let started {
                        hook(request, response, ContinuousClock.now - started)
                    }
                    if c.outPending == 0 { c.lastWrite = now }
                    encoder.encode(response, isHead: isHead, keepAlive: keep, http10: http10, into: &c.out)
                    if !keep { c.closeAfterWrite = true }
                } else {
                    c.inFlight = true
                    c.closeAfterWrite = false
                    pool!.submit(HandlerJob(
                        loop: self, connection: c, request: request, keepAlive: keep, isHead: isHead, http10: http10))
                }
            }
        }
    }

    /// Answers a protocol error with its problem and closes the connection after writing it.
    private func fail(_ c: Connection, _ problem: ProblemDetails) {
        core.onProtocolError?(c.remoteAddress, problem)
        if c.outPending == 0 { c.lastWrite = now }
        encoder.encode(problem.response(), isHead: false, keepAlive: false, http10: false, into: &c.out)
        c.closeAfterWrite = true
    }

    /// Sends as much pending output as the socket takes. Returns false when the connection was closed.
    private func flush(_ c: Connection) -> Bool {
        while c.outPending > 0 {
            let n = c.out.withUnsafeBytes { wharf_send(c.fd, $0.baseAddress! + c.outSent, c.outPending) }
            if n > 0 {
                c.outSent += n
                c.lastWrite = now
            } else if n == -Int(EAGAIN) || n == -Int(EWOULDBLOCK) {
                break  // EPOLLOUT (edge) tells us when to continue.
            } else {
                close(c)
                return false
            }
        }
        if c.outPending == 0 && !c.out.isEmpty {
            c.out.removeAll(keepingCapacity: true)
            c.outSent = 0
        }
        return true
    }

    /// After a write attempt: end the connection if its last answer is out, otherwise re-arm its timer.
    private func afterWrite(_ c: Connection) {
        if c.outPending == 0 && !c.inFlight {
            if c.closeAfterWrite {
                beginLinger(c)
                return
            }
            if c.peerClosed {
                close(c)  // the client left; whatever partial request it sent can never complete
                return
            }
            if draining && c.isIdle {
                close(c)
                return
            }
            c.shrinkIfIdle()
        }
        updateTimer(c)
    }

    /// Sends FIN and keeps reading (and discarding) briefly so the client receives our last answer intact.
    private func beginLinger(_ c: Connection) {
        if c.peerClosed {
            close(c)
            return
        }
        _ = wharf_shutdown_write(c.fd)
        c.lingering = true
        // While shutting down, linger only briefly: the answer is out, and the process is about to stop.
        c.lingerUntil = now + (draining ? min(core.lingerMs, 100) : core.lingerMs)
        c.start = 0
        c.end = 0
        c.scanFrom = 0
        updateTimer(c)
        discardInput(c)
    }

    private func discardInput(_ c: Connection) {
        for _ in 0..<16 {
            let n = wharf_recv(c.fd, c.buffer, c.capacity)
            if n > 0 { continue }
            if n == -Int(EAGAIN) || n == -Int(EWOULDBLOCK) { return }
            close(c)  // EOF or error: the client has seen everything
            return
        }
    }

    // MARK: Timers

    private func updateTimer(_ c: Connection) {
        if c.lingering {
            c.timerKind = .linger
            c.deadline = c.lingerUntil
        } else if c.outPending > 0 {
            c.timerKind = .write
            c.deadline = c.lastWrite + core.writeTimeoutMs
        } else if c.inFlight {
            c.timerKind = .none
            c.deadline = 0
        } else if c.phase == .requestLine && c.start == c.end {
            if c.idleSince == 0 { c.idleSince = now }
            c.requestStarted = 0
            c.timerKind = .idle
            c.deadline = c.idleSince + core.idleTimeoutMs
        } else if c.phase == .requestLine || c.phase == .headers {
            if c.requestStarted == 0 { c.requestStarted = c.lastRead != 0 ? c.lastRead : now }
            c.timerKind = .header
            c.deadline = c.requestStarted + core.headerTimeoutMs
        } else {
            c.timerKind = .body
            c.deadline = (c.lastRead != 0 ? c.lastRead : now) + core.bodyTimeoutMs
        }
    }

    private func tick() {
        if acceptPausedUntil != 0 && now >= acceptPausedUntil && listenFD >= 0 {
            acceptPausedUntil = 0
            _ = wharf_epoll_add(epfd, listenFD, wharf_EPOLLIN, EventLoop.listenToken)
        }
        var i = 0
        while i < connections.count {
            let c = connections[i]
            if c.deadline != 0 && now >= c.deadline {
                expire(c)
                if c.closed { continue }  // swap-removed: index i now holds another connection
            }
            i += 1
        }
    }

    private func expire(_ c: Connection) {
        switch c.timerKind {
        case .none:
            return
        case .idle, .write, .linger:
            close(c)
        case .header, .body:
            let phase = c.timerKind == .header ? "headers" : "body"
            let limit = c.timerKind == .header ? core.headerTimeoutMs : core.bodyTimeoutMs
            c.deadline = 0
            fail(c, ProblemDetails(
                slug: "request-timeout", title: "Request timeout", status: 408,
                detail: "The request \(phase) did not arrive within \(limit) ms; the connection is closed."))
            c.readable = false
            _ = flush(c)
            if !c.closed { afterWrite(c) }
        }
    }

    private func close(_ c: Connection) {
        guard !c.closed else { return }
        c.closed = true
        _ = wharf_close(c.fd)
        let slot = Int(c.fd)
        if slot < byFD.count, byFD[slot] === c { byFD[slot] = nil }
        let last = connections.count - 1
        if c.listIndex != last {
            let moved = connections[last]
            connections[c.listIndex] = moved
            moved.listIndex = c.listIndex
        }
        connections.removeLast()
        core.activeConnections.subtract(1, ordering: .relaxed)
    }
}

extension HTTPServerError {
    static func system(_ what: String, errno: Int32) -> HTTPServerError {
        HTTPServerError(code: .system, message: "\(what): \(String(cString: strerror(errno)))", errno: errno)
    }
}

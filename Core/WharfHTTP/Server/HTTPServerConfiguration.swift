/// Where handlers run.
public enum HandlerExecution: Sendable, Hashable {
    /// On the event-loop thread that read the request: no thread hop, the highest throughput for short,
    /// non-blocking handlers. The trade-off: while a handler runs, every other connection on that loop waits, so a
    /// handler that blocks (slow disk, a lock held by an import) stalls a share of all clients.
    case eventLoop
    /// On a bounded pool of `threads` handler threads: a slow or blocking handler ties up one pool thread and its
    /// own connection only; event loops keep reading, writing and timing out other connections. Costs one
    /// hand-off to the pool and one back per request.
    case threadPool(threads: Int)
}

/// Limits, timeouts and threading of an `HTTPServer`. Every limit protects the server from what a client controls.
public struct HTTPServerConfiguration: Sendable {
    /// The address to listen on: an IP literal (`127.0.0.1`, `0.0.0.0`, `::1`) or a name (`localhost`).
    public var host: String = "127.0.0.1"
    /// The TCP port; 0 picks a free ephemeral port (read it from `HTTPServer.localPort` after `start()`).
    public var port: Int = 8080
    /// Event-loop threads, each with its own epoll set; connections are spread across them. Default: CPU count.
    public var eventLoopCount: Int = HTTPServerConfiguration.processorCount
    /// Where handlers run. Default: `.threadPool` with `max(4, 2 × CPUs)` threads, because REST handlers read
    /// SQLite and may block; a blocked handler then delays only its own connection. `.eventLoop` is faster for
    /// handlers that never block (measured on 2 cores, tiny JSON GET, wrk -c64: ~90k req/s inline, ~65k pool).
    public var handlerExecution: HandlerExecution
    /// Handler-pool threads when `handlerExecution` is `.threadPool`, else 0. Setting a positive value selects
    /// `.threadPool(threads:)`; setting 0 selects `.eventLoop`.
    public var handlerThreadCount: Int {
        get { if case .threadPool(let n) = handlerExecution { return n } else { return 0 } }
        set { handlerExecution = newValue > 0 ? .threadPool(threads: newValue) : .eventLoop }
    }
    /// Open connections at most; further connections get a `503` and are closed without touching existing ones.
    public var maxConnections: Int = 10_000
    /// Longest request line (`GET /path HTTP/1.1`) in bytes; longer -> 414.
    public var maxRequestLineBytes: Int = 8 * 1024
    /// Largest header block (all header lines) in bytes; larger -> 431.
    public var maxHeaderBytes: Int = 16 * 1024
    /// Most header fields in one request; more -> 431.
    public var maxHeaderCount: Int = 100
    /// Largest request body in bytes (declared or de-chunked); larger -> 413.
    public var maxBodyBytes: Int = 8 * 1024 * 1024
    /// Time from the first byte of a request to the end of its headers; exceeded -> 408 and close (slowloris).
    public var headerTimeout: Duration = .seconds(10)
    /// Longest pause between two reads of a request body; exceeded -> 408 and close.
    public var bodyTimeout: Duration = .seconds(30)
    /// How long an idle keep-alive connection (or a new one that has sent nothing) stays open.
    public var idleTimeout: Duration = .seconds(60)
    /// Longest pause in writing a response to a client that does not read; exceeded -> close.
    public var writeTimeout: Duration = .seconds(30)
    /// How long `shutdown()` lets in-flight requests finish before closing their connections.
    public var shutdownTimeout: Duration = .seconds(5)
    /// The `listen(2)` backlog.
    public var backlog: Int = 1024

    /// Defaults: `127.0.0.1:8080`, one event loop per CPU, a handler pool of twice that many threads.
    public init(host: String = "127.0.0.1", port: Int = 8080) {
        self.host = host
        self.port = port
        handlerExecution = .threadPool(threads: max(4, 2 * HTTPServerConfiguration.processorCount))
    }

    /// The number of CPUs this process may use.
    public static var processorCount: Int {
        max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

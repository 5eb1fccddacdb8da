/// The server's HTTP/1.1 request parser, driven from byte buffers instead of a socket: for parser-level tests and
/// fuzzing (`@_spi(Testing) import WharfHTTP`). The server itself does not use this type.
///
/// It runs the very code an event loop runs for one connection — the same input buffer with its growth,
/// compaction and size limit, and the same `parse` steps — so whatever a byte stream does here, it does on the
/// wire. Each `feed` behaves like data arriving from the socket, in reads of at most `maxRead` bytes.
///
/// ```swift
/// let parser = RequestStreamParser(configuration: HTTPServerConfiguration())
/// let events = parser.feed(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
/// // [.request(GET /, keepAlive: true)]
/// ```
@_spi(Testing)
public final class RequestStreamParser {
    /// What the parser produced, in order.
    public enum Event {
        /// A complete request; `keepAlive` says whether the connection may carry another one.
        case request(HTTPRequest, keepAlive: Bool)
        /// The request asked for `100 Continue` and its body has not started: the server sends it now.
        case sendContinue
        /// The bytes are not an acceptable request: the server answers with this problem and closes. Nothing after
        /// it is parsed.
        case failure(ProblemDetails)
    }

    private let limits: ParserLimits
    private let connection: Connection
    /// Whether a failure ended the stream; later `feed` calls return nothing.
    public private(set) var failed = false

    /// A parser with the limits of `configuration` (request line, header block, header count, body) and the
    /// longest chunk-size line (the server's is 4096 bytes; fuzzers set it lower to reach it more often).
    public init(configuration: HTTPServerConfiguration, maxChunkLineBytes: Int = 4096) {
        var limits = ParserLimits(configuration)
        limits.maxChunkLineBytes = maxChunkLineBytes
        self.limits = limits
        connection = Connection(fd: -1, remoteAddress: "127.0.0.1:0")
    }

    /// Parses `bytes` as the next part of the stream, arriving in reads of at most `maxRead` bytes (each read is
    /// also bounded by the free space in the input buffer, as with `recv`). Returns the events in order.
    public func feed(_ bytes: [UInt8], maxRead: Int = .max) -> [Event] {
        bytes.withUnsafeBytes { feed($0, maxRead: maxRead) }
    }

    /// Parses `bytes` as the next part of the stream; see `feed(_:maxRead:)`.
    public func feed(_ bytes: UnsafeRawBufferPointer, maxRead: Int = .max) -> [Event] {
        var events: [Event] = []
        guard !failed else { return events }
        let c = connection
        var offset = 0
        while true {
            parsing: while true {
                switch c.parse(limits) {
                case .needMore:
                    break parsing
                case .sendContinue:
                    events.append(.sendContinue)
                case .request(let request, let keepAlive):
                    events.append(.request(request, keepAlive: keepAlive))
                case .failure(let problem):
                    events.append(.failure(problem))
                    failed = true
                    return events
                }
            }
            if offset == bytes.count { break }
            let space = c.prepareForRead(limit: limits.bufferLimit)
            if space == 0 {
                events.append(.failure(Connection.inputDoesNotFit))
                failed = true
                return events
            }
            let n = min(space, bytes.count - offset, max(1, maxRead))
            (c.buffer + c.end).update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset, count: n)
            c.end += n
            offset += n
        }
        c.shrinkIfIdle()
        return events
    }

    /// Whether part of a request has arrived but not yet completed (the server would answer 408 on a timeout).
    public var hasPartialRequest: Bool { connection.hasPartialRequest }

    /// The bytes the server writes for `response`: status line, `Server`, `Date`, `Connection` when needed, the
    /// handler's headers (framing headers dropped, CR/LF/NUL in values neutralised), `Content-Length`, body.
    /// `isHead` drops the body; `keepAlive` false adds `Connection: close`; `http10` adds `Connection: keep-alive`.
    public static func encode(_ response: HTTPResponse, isHead: Bool, keepAlive: Bool, http10: Bool) -> [UInt8] {
        var encoder = ResponseEncoder()
        var out: [UInt8] = []
        encoder.encode(response, isHead: isHead, keepAlive: keepAlive, http10: http10, into: &out)
        return out
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: Not public

/// Limits the parser enforces, copied out of the configuration once.
struct ParserLimits: Sendable {
    var maxRequestLineBytes: Int
    var maxHeaderBytes: Int
    var maxHeaderCount: Int
    var maxBodyBytes: Int
    /// Longest chunk-size line (size plus extensions).
    var maxChunkLineBytes = 4096

    /// Largest input buffer a connection may grow to: room for the longest line any limit allows, plus slack so a
    /// limit is always detected (and answered with its own status) before the buffer is full.
    var bufferLimit: Int { max(maxRequestLineBytes, maxHeaderBytes, maxChunkLineBytes) + 1024 }
}

extension ParserLimits {
    /// The limits of a server configuration.
    init(_ c: HTTPServerConfiguration) {
        self.init(
            maxRequestLineBytes: c.maxRequestLineBytes, maxHeaderBytes: c.maxHeaderBytes,
            maxHeaderCount: c.maxHeaderCount, maxBodyBytes: c.maxBodyBytes)
    }
}

/// What one step of parsing produced.
enum ParseOutcome {
    /// The buffer holds no complete request yet.
    case needMore
    /// Headers announced `Expect: 100-continue` and the body has not started: send `100 Continue` now.
    case sendContinue
    /// A complete request; `keepAlive` says whether the connection may carry another one.
    case request(HTTPRequest, keepAlive: Bool)
    /// The bytes are not an acceptable request: answer with this problem and close.
    case failure(ProblemDetails)
}

/// One client connection. Owned by exactly one event loop and only touched on its thread; handler-pool jobs carry
/// a reference back to the loop but never read or write its fields.
final class Connection: @unchecked Sendable {
    let fd: Int32
    let remoteAddress: String
    /// Index in the loop's connection list (for O(1) removal).
    var listIndex = 0

    // MARK: Input buffer: bytes [start, end) are received and not yet parsed.
    var buffer: UnsafeMutablePointer<UInt8>
    var capacity: Int
    var start = 0
    var end = 0
    /// Where the search for the next LF resumes, so a partial line is never scanned twice.
    var scanFrom = 0

    // MARK: Parser state for the request being read.
    enum Phase { case requestLine, headers, body, chunkSize, chunkData, chunkDataEnd, trailers }
    var phase = Phase.requestLine
    var method = HTTPMethod.GET
    var target = ""
    var version = HTTPVersion.http1_1
    var headers = HTTPHeaders()
    var headerBytes = 0
    var contentLength: Int?
    var chunked = false
    var sawTransferEncoding = false
    var hostCount = 0
    var connectionClose = false
    var connectionKeepAlive = false
    var expectContinue = false
    var continueSent = false
    var bodyRemaining = 0
    var body: [UInt8] = []

    // MARK: Output: bytes [outSent, out.count) still to send.
    var out: [UInt8] = []
    var outSent = 0
    var outPending: Int { out.count - outSent }

    // MARK: Lifecycle.
    /// Epoll reported readable and we have not yet read to EAGAIN (edge-triggered).
    var readable = false
    /// A request is with the handler pool; nothing else is parsed until its answer is queued (keeps order).
    var inFlight = false
    /// The last response ends this connection: no more parsing; close once `out` is flushed.
    var closeAfterWrite = false
    /// The peer sent FIN (we read the EOF).
    var peerClosed = false
    /// Epoll reported RDHUP/HUP: an EOF is waiting behind any buffered data.
    var hangupSeen = false
    /// Our FIN is sent; waiting briefly for the peer's so unread input does not turn into an RST.
    var lingering = false
    var closed = false

    // MARK: Timers (monotonic ms; 0 = not started).
    var idleSince: UInt64 = 0
    var requestStarted: UInt64 = 0
    var lastRead: UInt64 = 0
    var lastWrite: UInt64 = 0
    var lingerUntil: UInt64 = 0
    enum TimerKind { case none, idle, header, body, write, linger }
    var timerKind = TimerKind.none
    var deadline: UInt64 = 0

    static let initialCapacity = 4096

    /// The answer when the input buffer is full at `ParserLimits.bufferLimit` and the parser still needs more. The
    /// limits are meant to fire first (each with its own status), so this is a last line of defence.
    static let inputDoesNotFit = ProblemDetails.badRequest("The request does not fit the input buffer.")

    init(fd: Int32, remoteAddress: String) {
        self.fd = fd
        self.remoteAddress = remoteAddress
        capacity = Connection.initialCapacity
        buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// Whether nothing of a next request has arrived and nothing is pending: safe to close on shutdown.
    var isIdle: Bool {
        !inFlight && outPending == 0 && phase == .requestLine && start == end
    }

    /// Makes room for at least one more byte at `end`: compacts, then grows up to `limit` bytes.
    /// Returns the writable space (0 when the buffer is full at its limit).
    func prepareForRead(limit: Int) -> Int {
        if start == end {
            start = 0
            end = 0
            scanFrom = 0
            // A large body streams through the buffer: read it in 64 KiB steps rather than 4 KiB ones.
            if (phase == .body || phase == .chunkData) && bodyRemaining > capacity && capacity < 64 * 1024 {
                buffer.deallocate()
                capacity = 64 * 1024
                buffer = .allocate(capacity: capacity)
            }
        }
        if end == capacity && start > 0 {
            let count = end - start
            memmove(buffer, buffer + start, count)
            scanFrom -= start
            start = 0
            end = count
        }
        if end == capacity && capacity < limit {
            let newCapacity = min(limit, capacity * 2)
            let newBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            newBuffer.update(from: buffer, count: end)
            buffer.deallocate()
            buffer = newBuffer
            capacity = newCapacity
        }
        return capacity - end
    }

    /// Shrinks a buffer that grew for one large request back to the initial size once it is empty.
    func shrinkIfIdle() {
        if capacity > 4 * Connection.initialCapacity && start == end {
            buffer.deallocate()
            capacity = Connection.initialCapacity
            buffer = .allocate(capacity: capacity)
            start = 0
            end = 0
            scanFrom = 0
        }
        if out.capacity > 256 * 1024 && outPending == 0 {
            out = []
            outSent = 0
        }
    }

    // MARK: Parsing

    /// Parses as far as the buffered bytes allow. Call again after `.sendContinue`; stop after `.request`
    /// (the parser is reset for the next request) or `.failure`.
    func parse(_ limits: ParserLimits) -> ParseOutcome {
        while true {
            switch phase {
            case .requestLine:
                guard let (a, b) = nextLine() else {
                    if end - start > limits.maxRequestLineBytes + 1 { return .failure(uriTooLong(limits)) }
                    return .needMore
                }
                if bareLF { return .failure(.badRequest("The request line must end with CRLF, not a bare LF.")) }
                if a == b { continue }  // RFC 9112 §2.2: ignore empty lines before a request line.
                if b - a > limits.maxRequestLineBytes { return .failure(uriTooLong(limits)) }
                if let problem = parseRequestLine(a, b) { return .failure(problem) }
                phase = .headers

            case .headers:
                guard let (a, b) = nextLine() else {
                    if headerBytes + (end - start) > limits.maxHeaderBytes { return .failure(headersTooLarge(limits)) }
                    return .needMore
                }
                if bareLF { return .failure(.badRequest("A header line must end with CRLF, not a bare LF.")) }
                headerBytes += b - a + 2
                if headerBytes > limits.maxHeaderBytes { return .failure(headersTooLarge(limits)) }
                if a == b {
                    if let problem = finishHeaders(limits) { return .failure(problem) }
                    if phase == .requestLine { return completeRequest() }  // no body
                    if expectContinue && !continueSent && start == end && version.minor >= 1 {
                        continueSent = true
                        return .sendContinue
                    }
                    continue
                }
                if headers.count >= limits.maxHeaderCount {
                    return .failure(ProblemDetails(
                        slug: "header-fields-too-large", title: "Request header fields too large", status: 431,
                        detail: "The request has more than \(limits.maxHeaderCount) header fields."))
                }
                if let problem = parseHeaderLine(a, b) { return .failure(problem) }

            case .body:
                let available = end - start
                if available == 0 { return .needMore }
                let n = min(available, bodyRemaining)
                body.append(contentsOf: UnsafeBufferPointer(start: buffer + start, count: n))
                start += n
                scanFrom = start
                bodyRemaining -= n
                if bodyRemaining == 0 { return completeRequest() }

            case .chunkSize:
                // The partial check allows for the CR of a line that has not ended yet, and the complete check
                // applies the same limit: a line is refused whether it arrives in one read or byte by byte.
                guard let (a, b) = nextLine() else {
                    if end - start > limits.maxChunkLineBytes + 1 { return .failure(chunkLineTooLong(limits)) }
                    return .needMore
                }
                if b - a > limits.maxChunkLineBytes { return .failure(chunkLineTooLong(limits)) }
                switch parseChunkSize(a, b) {
                case nil:
                    return .failure(.badRequest("A chunk-size line is not a hexadecimal size; the chunked body is malformed."))
                case 0?:
                    phase = .trailers
                case let size?:
                    if size > limits.maxBodyBytes - body.count { return .failure(bodyTooLarge(limits)) }
                    bodyRemaining = size
                    if body.capacity == 0 { body.reserveCapacity(min(size, 64 * 1024)) }
                    phase = .chunkData
                }

            case .chunkData:
                let available = end - start
                if available == 0 { return .needMore }
                let n = min(available, bodyRemaining)
                body.append(contentsOf: UnsafeBufferPointer(start: buffer + start, count: n))
                start += n
                scanFrom = start
                bodyRemaining -= n
                if bodyRemaining == 0 { phase = .chunkDataEnd }

            case .chunkDataEnd:
                if end - start < 2 { return .needMore }
                guard buffer[start] == 13 && buffer[start + 1] == 10 else {
                    return .failure(.badRequest("Chunk data is not followed by CRLF; the chunked body is malformed."))
                }
                start += 2
                scanFrom = start
                phase = .chunkSize

            case .trailers:
                // Trailer fields are tolerated and dropped; they still count against the header limits. The closing
                // empty line does not count, so a lone CR (which may be its start) must not trip the partial check:
                // the verdict may not depend on how the bytes were split into reads.
                guard let (a, b) = nextLine() else {
                    let pending = end - start
                    if (pending > 1 || (pending == 1 && buffer[start] != 13)) && headerBytes + pending > limits.maxHeaderBytes {
                        return .failure(headersTooLarge(limits))
                    }
                    return .needMore
                }
                if bareLF { return .failure(.badRequest("A trailer line must end with CRLF, not a bare LF.")) }
                if a == b { return completeRequest() }
                headerBytes += b - a + 2
                if headerBytes > limits.maxHeaderBytes { return .failure(headersTooLarge(limits)) }
                if buffer[a] == 32 || buffer[a] == 9 {
                    return .failure(.badRequest("A trailer field uses obsolete line folding."))
                }
            }
        }
    }

    /// Finds the next LF-terminated line and consumes it; returns its content range without the line ending.
    /// Sets `bareLF` when the line ended in LF without CR, which callers refuse (smuggling defence).
    private func nextLine() -> (Int, Int)? {
        bareLF = false
        let from = max(scanFrom, start)
        guard from < end else { return nil }
        guard let hit = memchr(buffer + from, 10, end - from) else {
            scanFrom = end
            return nil
        }
        let lf = buffer.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        let lineStart = start
        start = lf + 1
        scanFrom = start
        if lf == lineStart || buffer[lf - 1] != 13 {
            // Bare LF: mark the line as invalid by returning a range that contains a lone LF, checked by callers.
            bareLF = true
            return (lineStart, lf)
        }
        return (lineStart, lf - 1)
    }

    /// Set when the last line ended in a bare LF.
    private var bareLF = false

    private func parseRequestLine(_ a: Int, _ b: Int) -> ProblemDetails? {
        guard let sp1 = find(32, a, b), let sp2 = find(32, sp1 + 1, b) else {
            return .badRequest("The request line is not 'METHOD target HTTP/1.1'.")
        }
        if sp1 == a { return .badRequest("The request line does not start with a method.") }
        for i in a..<sp1 where !isTokenByte(buffer[i]) {
            return .badRequest("The request method contains a character that is not allowed in a method token.")
        }
        method = makeMethod(a, sp1)
        if sp2 == sp1 + 1 { return .badRequest("The request line has an empty target.") }
        for i in (sp1 + 1)..<sp2 where buffer[i] <= 32 || buffer[i] >= 127 {
            return .badRequest("The request target contains a space, a control character or a non-ASCII byte; percent-encode it.")
        }
        // Version: exactly "HTTP/d.d".
        let v = sp2 + 1
        guard b - v == 8, buffer[v] == 72, buffer[v + 1] == 84, buffer[v + 2] == 84, buffer[v + 3] == 80,
              buffer[v + 4] == 47, buffer[v + 6] == 46,
              (48...57).contains(buffer[v + 5]), (48...57).contains(buffer[v + 7])
        else {
            return .badRequest("The request line does not end with an HTTP version such as HTTP/1.1.")
        }
        let major = Int(buffer[v + 5] - 48), minor = Int(buffer[v + 7] - 48)
        guard major == 1 else {
            return ProblemDetails(
                slug: "http-version-not-supported", title: "HTTP version not supported", status: 505,
                detail: "HTTP/\(major).\(minor) is not supported; use HTTP/1.1.")
        }
        version = HTTPVersion(major: 1, minor: minor)

        var targetStart = sp1 + 1
        let first = buffer[targetStart]
        if first != 47 {  // not "/"
            if sp2 - targetStart == 1 && first == 42 {  // "*"
                target = "*"
                return nil
            }
            // Absolute form (RFC 9112 §3.2.2): keep the path and query, drop scheme and authority.
            guard let colon = find(58, targetStart, sp2), colon + 2 < sp2, buffer[colon + 1] == 47, buffer[colon + 2] == 47
            else {
                return .badRequest("The request target must be a path starting with '/'.")
            }
            if let slash = find(47, colon + 3, sp2) {
                targetStart = slash
            } else {
                target = "/"
                return nil
            }
        }
        target = String(decoding: UnsafeBufferPointer(start: buffer + targetStart, count: sp2 - targetStart), as: UTF8.self)
        return nil
    }

    private func makeMethod(_ a: Int, _ b: Int) -> HTTPMethod {
        let raw = UnsafeRawBufferPointer(start: buffer + a, count: b - a)
        switch raw.count {
        case 3:
            if raw[0] == 71 && raw[1] == 69 && raw[2] == 84 { return .GET }
            if raw[0] == 80 && raw[1] == 85 && raw[2] == 84 { return .PUT }
        case 4:
            if raw[0] == 80 && raw[1] == 79 && raw[2] == 83 && raw[3] == 84 { return .POST }
            if raw[0] == 72 && raw[1] == 69 && raw[2] == 65 && raw[3] == 68 { return .HEAD }
        case 6:
            if raw.elementsEqual("DELETE".utf8) { return .DELETE }
        case 5:
            if raw.elementsEqual("PATCH".utf8) { return .PATCH }
        case 7:
            if raw.elementsEqual("OPTIONS".utf8) { return .OPTIONS }
        default:
            break
        }
        return HTTPMethod(rawValue: String(decoding: raw, as: UTF8.self))
    }

    private func parseHeaderLine(_ a: Int, _ b: Int) -> ProblemDetails? {
        if buffer[a] == 32 || buffer[a] == 9 {
            return .badRequest("A header field uses obsolete line folding (a line starting with whitespace); send each field on one line.")
        }
        guard let colon = find(58, a, b) else {
            return .badRequest("A header line has no ':' between name and value.")
        }
        let nameBytes = UnsafeRawBufferPointer(start: buffer + a, count: colon - a)
        let kind = HeaderName.classify(nameBytes)
        if kind == .invalid {
            if let last = nameBytes.last, last == 32 || last == 9 {
                return .badRequest("A header field has whitespace between its name and the colon, which is not allowed.")
            }
            return .badRequest("A header field name is empty or contains a character not allowed in a token.")
        }
        var v0 = colon + 1, v1 = b
        while v0 < v1 && (buffer[v0] == 32 || buffer[v0] == 9) { v0 += 1 }
        while v1 > v0 && (buffer[v1 - 1] == 32 || buffer[v1 - 1] == 9) { v1 -= 1 }
        for i in v0..<v1 {
            let c = buffer[i]
            if (c < 32 && c != 9) || c == 127 {
                return .badRequest("A header field value contains a control character.")
            }
        }
        let valueBytes = UnsafeRawBufferPointer(start: buffer + v0, count: v1 - v0)
        switch kind {
        case .contentLength:
            guard let length = parseContentLength(valueBytes) else {
                return .badRequest("Content-Length must be a non-negative decimal number.")
            }
            if let existing = contentLength, existing != length {
                return .badRequest("The request has differing Content-Length values.")
            }
            contentLength = length
        case .transferEncoding:
            if sawTransferEncoding || !HeaderName.equalsLowercase(valueBytes, "chunked") {
                return .badRequest("Only 'Transfer-Encoding: chunked' is supported, sent once.")
            }
            sawTransferEncoding = true
            chunked = true
        case .host:
            hostCount += 1
        case .connection:
            scanConnectionTokens(valueBytes)
        case .expect:
            if HeaderName.equalsLowercase(valueBytes, "100-continue") {
                expectContinue = true
            } else {
                return ProblemDetails(
                    slug: "expectation-failed", title: "Expectation failed", status: 417,
                    detail: "Only 'Expect: 100-continue' is supported.")
            }
        default:
            break
        }
        headers.add(
            name: String(decoding: nameBytes, as: UTF8.self), value: String(decoding: valueBytes, as: UTF8.self))
        return nil
    }

    /// Digits only, or a comma list of identical digit strings; nil when invalid or absurdly large.
    private func parseContentLength(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var result: Int?
        var current = 0, digits = 0
        func finish() -> Bool {
            guard digits > 0 else { return false }
            if let r = result, r != current { return false }
            result = current
            current = 0
            digits = 0
            return true
        }
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c >= 48 && c <= 57 {
                digits += 1
                if digits > 15 { return nil }
                current = current * 10 + Int(c - 48)
            } else if c == 44 {  // ","
                if !finish() { return nil }
                while i + 1 < bytes.count && (bytes[i + 1] == 32 || bytes[i + 1] == 9) { i += 1 }
            } else {
                return nil
            }
            i += 1
        }
        return finish() ? result : nil
    }

    private func scanConnectionTokens(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        while i < bytes.count {
            while i < bytes.count && (bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 44) { i += 1 }
            let s = i
            while i < bytes.count && bytes[i] != 44 && bytes[i] != 32 && bytes[i] != 9 { i += 1 }
            let token = UnsafeRawBufferPointer(rebasing: bytes[s..<i])
            if HeaderName.equalsLowercase(token, "close") { connectionClose = true }
            if HeaderName.equalsLowercase(token, "keep-alive") { connectionKeepAlive = true }
        }
    }

    /// Applies framing rules once the header block is complete; sets `phase` to the body phase or back to
    /// `.requestLine` when there is no body.
    private func finishHeaders(_ limits: ParserLimits) -> ProblemDetails? {
        if version.minor >= 1 && hostCount == 0 {
            return .badRequest("An HTTP/1.1 request must have a Host header.")
        }
        if hostCount > 1 { return .badRequest("The request has more than one Host header.") }
        if chunked {
            if contentLength != nil {
                return .badRequest("The request has both Content-Length and Transfer-Encoding; send only one.")
            }
            if version.minor == 0 {
                return .badRequest("Transfer-Encoding is not allowed in an HTTP/1.0 request.")
            }
            phase = .chunkSize
            return nil
        }
        if let length = contentLength, length > 0 {
            if length > limits.maxBodyBytes { return bodyTooLarge(limits) }
            bodyRemaining = length
            body.reserveCapacity(min(length, 64 * 1024))
            phase = .body
            return nil
        }
        phase = .requestLine
        return nil
    }

    /// Hands out the finished request and resets the parser for the next one.
    private func completeRequest() -> ParseOutcome {
        let request = HTTPRequest(
            method: method, target: target, version: version, headers: headers, body: body,
            remoteAddress: remoteAddress)
        let keepAlive = version.minor >= 1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        resetParser()
        return .request(request, keepAlive: keepAlive)
    }

    func resetParser() {
        phase = .requestLine
        headers = HTTPHeaders()
        headers.reserveCapacity(8)
        headerBytes = 0
        contentLength = nil
        chunked = false
        sawTransferEncoding = false
        hostCount = 0
        connectionClose = false
        connectionKeepAlive = false
        expectContinue = false
        continueSent = false
        bodyRemaining = 0
        body = []
        bareLF = false
        requestStarted = 0
    }

    /// Whether part of a request has been received (for deciding between 408 and a silent close).
    var hasPartialRequest: Bool { phase != .requestLine || start < end }

    /// Hex size before any `;extension`, or nil when malformed or larger than 2^60.
    private func parseChunkSize(_ a: Int, _ b: Int) -> Int? {
        if bareLF { return nil }
        var size = 0, digits = 0, i = a
        while i < b, let h = PercentDecoding.hexValue(buffer[i]) {
            digits += 1
            if digits > 15 { return nil }
            size = size << 4 | Int(h)
            i += 1
        }
        guard digits > 0 else { return nil }
        while i < b && (buffer[i] == 32 || buffer[i] == 9) { i += 1 }
        if i < b && buffer[i] != 59 { return nil }  // only ";ext" may follow
        for j in i..<b where buffer[j] < 32 && buffer[j] != 9 { return nil }
        return size
    }

    private func find(_ byte: UInt8, _ from: Int, _ to: Int) -> Int? {
        var i = from
        while i < to {
            if buffer[i] == byte { return i }
            i += 1
        }
        return nil
    }

    private func uriTooLong(_ limits: ParserLimits) -> ProblemDetails {
        ProblemDetails(
            slug: "uri-too-long", title: "URI too long", status: 414,
            detail: "The request line is longer than \(limits.maxRequestLineBytes) bytes.")
    }

    private func headersTooLarge(_ limits: ParserLimits) -> ProblemDetails {
        ProblemDetails(
            slug: "header-fields-too-large", title: "Request header fields too large", status: 431,
            detail: "The request's header fields are larger than \(limits.maxHeaderBytes) bytes.")
    }

    private func chunkLineTooLong(_ limits: ParserLimits) -> ProblemDetails {
        .badRequest("A chunk-size line is longer than \(limits.maxChunkLineBytes) bytes.")
    }

    private func bodyTooLarge(_ limits: ParserLimits) -> ProblemDetails {
        ProblemDetails(
            slug: "content-too-large", title: "Content too large", status: 413,
            detail: "The request body is larger than \(limits.maxBodyBytes) bytes.")
    }
}

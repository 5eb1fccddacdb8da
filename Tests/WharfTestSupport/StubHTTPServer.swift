import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A request as ``StubHTTPServer`` received it.
public struct StubRequest: Sendable {
    /// The method (`GET`).
    public var method: String
    /// The path without the query (`/v1/prices`), percent-decoding not applied.
    public var path: String
    /// The raw query string without `?` (`""` when none).
    public var rawQuery: String
    /// The query parameters, decoded, in order.
    public var query: [(name: String, value: String)]
    /// The header fields, names as sent.
    public var headers: [(name: String, value: String)]
    /// The body (de-chunked).
    public var body: [UInt8]
    /// The request's number on the server, from 1.
    public var sequence: Int

    /// The first value of query parameter `name`.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    /// The body as UTF-8 text.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed with JSONSerialization.
    public func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
    }
}

/// What a ``StubHTTPServer`` handler answers.
public struct StubResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Extra header fields (Content-Length and Connection are added by the server).
    public var headers: [(name: String, value: String)]
    /// The body.
    public var body: [UInt8]
    /// A wait before the answer is written, in seconds (for timeout tests).
    public var delay: Double

    /// A response.
    public init(status: Int = 200, headers: [(name: String, value: String)] = [], body: [UInt8] = [], delay: Double = 0) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
    }

    /// A JSON response from text.
    public static func json(_ text: String, status: Int = 200, headers: [(name: String, value: String)] = [], delay: Double = 0) -> StubResponse {
        StubResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8), delay: delay)
    }

    /// A JSON response from a JSONSerialization-compatible value (`[String: Any]`, `[Any]`).
    public static func json(object: Any, status: Int = 200, headers: [(name: String, value: String)] = []) -> StubResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("null".utf8)
        return StubResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(data))
    }

    /// A plain-text response.
    public static func text(_ text: String, status: Int) -> StubResponse {
        StubResponse(status: status, headers: [("Content-Type", "text/plain")], body: Array(text.utf8))
    }

    /// `503 Service Unavailable` (optionally with Retry-After).
    public static func serviceUnavailable(retryAfter: String? = nil) -> StubResponse {
        var response = text("upstream unavailable, try again", status: 503)
        if let retryAfter { response.headers.append(("Retry-After", retryAfter)) }
        return response
    }

    /// `429 Too Many Requests` with `Retry-After: retryAfter` (seconds or an HTTP date).
    public static func tooManyRequests(retryAfter: String) -> StubResponse {
        var response = text("rate limit exceeded", status: 429)
        response.headers.append(("Retry-After", retryAfter))
        return response
    }
}

/// A scriptable HTTP/1.1 server on 127.0.0.1 (ephemeral port) that plays an external system (CPQ, CRM, OMS) in
/// tests: handlers per method + path, a record of every request, and one-off failures (503, 429 + Retry-After).
///
/// ```swift
/// let server = try StubHTTPServer()
/// server.handle("GET", "/prices") { request in .json("{\"items\":[]}") }
/// server.failOnce("GET", "/prices", with: .tooManyRequests(retryAfter: "1"), when: { $0.queryValue("page") == "2" })
/// // … point the client at server.baseURL …
/// XCTAssertEqual(server.requests.count, 3)
/// ```
///
/// One thread accepts, one thread serves each connection (keep-alive supported). Unknown routes answer 404.
/// Blocking sockets only, Foundation/Glibc only. Call ``stop()`` (or let it deinit) to close everything.
public final class StubHTTPServer: @unchecked Sendable {
    /// A handler: request in, response out. Called on the connection's thread.
    public typealias Handler = @Sendable (StubRequest) -> StubResponse

    /// The port the server listens on.
    public let port: Int
    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let lock = NSLock()
    private var handlers: [String: Handler] = [:]
    private var prefixHandlers: [(method: String, prefix: String, handler: Handler)] = []
    private var failures: [(method: String, path: String, when: @Sendable (StubRequest) -> Bool, response: StubResponse)] = []
    private var recorded: [StubRequest] = []
    private var connections: Set<Int32> = []
    private var stopped = false
    private var sequence = 0

    /// Starts listening on 127.0.0.1 at a free port, and accepting.
    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StubServerError("socket() failed: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw StubServerError("bind/listen on 127.0.0.1 failed: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "StubHTTPServer.accept"
        thread.start()
    }

    deinit {
        stop()
    }

    /// Answers `method` + `path` (exact path, without query) with `handler`; replaces an earlier handler.
    public func handle(_ method: String, _ path: String, _ handler: @escaping Handler) {
        lock.withLock { handlers["\(method.uppercased()) \(path)"] = handler }
    }

    /// Answers `method` for every path that starts with `prefix` (exact handlers win).
    public func handle(_ method: String, prefix: String, _ handler: @escaping Handler) {
        lock.withLock { prefixHandlers.append((method.uppercased(), prefix, handler)) }
    }

    /// Makes the next request to `method` + `path` that satisfies `when` answer `response` instead of its handler,
    /// once. Several one-off failures for the same route are used in the order they were added.
    public func failOnce(
        _ method: String, _ path: String, with response: StubResponse = .serviceUnavailable(),
        when: @escaping @Sendable (StubRequest) -> Bool = { _ in true }
    ) {
        lock.withLock { failures.append((method.uppercased(), path, when, response)) }
    }

    /// Every request received so far, in arrival order.
    public var requests: [StubRequest] {
        lock.withLock { recorded }
    }

    /// The requests received for `method` + `path`.
    public func requests(_ method: String, _ path: String) -> [StubRequest] {
        requests.filter { $0.method == method.uppercased() && $0.path == path }
    }

    /// Forgets the recorded requests.
    public func clearRequests() {
        lock.withLock { recorded.removeAll() }
    }

    /// Stops accepting and closes every open connection. Safe to call more than once.
    public func stop() {
        let open: Set<Int32> = lock.withLock {
            if stopped { return [] }
            stopped = true
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
            return connections
        }
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    // MARK: Not public

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let accepted: Bool = lock.withLock {
                if stopped { return false }
                connections.insert(fd)
                return true
            }
            guard accepted else {
                close(fd)
                return
            }
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var yes: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            let thread = Thread { [self] in
                serve(fd)
                lock.withLock { _ = connections.remove(fd) }
                close(fd)
            }
            thread.name = "StubHTTPServer.connection"
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        var reader = SocketReader(fd: fd)
        while let request = reader.readRequest() {
            var numbered = request
            let decision: Decision = lock.withLock {
                sequence += 1
                numbered.sequence = sequence
                recorded.append(numbered)
                if let index = failures.firstIndex(where: { $0.method == numbered.method && $0.path == numbered.path && $0.when(numbered) }) {
                    return .fixed(failures.remove(at: index).response)
                }
                if let handler = handlers["\(numbered.method) \(numbered.path)"] { return .handler(handler) }
                if let match = prefixHandlers.last(where: { $0.method == numbered.method && numbered.path.hasPrefix($0.prefix) }) {
                    return .handler(match.handler)
                }
                return .fixed(.text("no stub for \(numbered.method) \(numbered.path)", status: 404))
            }
            // Handlers run outside the lock so they may read `requests` or register failures.
            let answer: StubResponse
            switch decision {
            case .fixed(let response): answer = response
            case .handler(let handler): answer = handler(numbered)
            }
            if answer.delay > 0 { Thread.sleep(forTimeInterval: answer.delay) }
            let keepAlive = request.header("Connection")?.lowercased() != "close"
            guard write(answer, to: fd, head: request.method == "HEAD", keepAlive: keepAlive), keepAlive else { return }
        }
    }

    private func write(_ response: StubResponse, to fd: Int32, head: Bool, keepAlive: Bool) -> Bool {
        var text = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        for header in response.headers { text += "\(header.name): \(header.value)\r\n" }
        text += "Content-Length: \(response.body.count)\r\n"
        text += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"
        var bytes = Array(text.utf8)
        if !head { bytes += response.body }
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 {
                if count < 0 && errno == EINTR { continue }
                return false
            }
            sent += count
        }
        return true
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 409: "Conflict"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status"
        }
    }
}

/// Why ``StubHTTPServer`` could not start.
public struct StubServerError: Error, CustomStringConvertible {
    /// What failed.
    public var description: String
    init(_ description: String) { self.description = description }
}

// MARK: Not public

/// What the server does with a request: a canned answer or a handler to run outside the lock.
private enum Decision {
    case fixed(StubResponse)
    case handler(StubHTTPServer.Handler)
}

/// Reads HTTP/1.1 requests off a blocking socket.
private struct SocketReader {
    let fd: Int32
    var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    /// Reads more bytes; false at end of stream, error or timeout.
    mutating func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer += chunk[0..<count]
                return true
            }
            if count < 0 && errno == EINTR { continue }
            return false
        }
    }

    mutating func readLine() -> String? {
        while true {
            if let index = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<index])
                if line.last == 13 { line.removeLast() }
                buffer.removeSubrange(...index)
                return String(decoding: line, as: UTF8.self)
            }
            guard buffer.count < 1_048_576, fill() else { return nil }
        }
    }

    mutating func readBytes(_ count: Int) -> [UInt8]? {
        while buffer.count < count {
            guard fill() else { return nil }
        }
        let bytes = Array(buffer[..<count])
        buffer.removeSubrange(..<count)
        return bytes
    }

    mutating func readRequest() -> StubRequest? {
        var requestLine = ""
        while requestLine.isEmpty {
            guard let line = readLine() else { return nil }
            requestLine = line
        }
        let parts = requestLine.split(separator: " ")
        guard parts.count == 3 else { return nil }
        var headers: [(name: String, value: String)] = []
        while let line = readLine(), !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }
        var body: [UInt8] = []
        if header("transfer-encoding")?.lowercased().contains("chunked") == true {
            while let sizeLine = readLine(), let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) {
                if size == 0 {
                    while let trailer = readLine(), !trailer.isEmpty {}
                    break
                }
                guard let chunk = readBytes(size) else { return nil }
                body += chunk
                _ = readLine()
            }
        } else if let length = header("content-length").flatMap({ Int($0) }), length > 0 {
            guard let bytes = readBytes(length) else { return nil }
            body = bytes
        }
        let target = String(parts[1])
        let path: String
        var rawQuery = ""
        if let mark = target.firstIndex(of: "?") {
            path = String(target[..<mark])
            rawQuery = String(target[target.index(after: mark)...])
        } else {
            path = target
        }
        var query: [(name: String, value: String)] = []
        for pair in rawQuery.split(separator: "&") where !pair.isEmpty {
            let pieces = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
            }
            query.append((decode(pieces[0]), pieces.count > 1 ? decode(pieces[1]) : ""))
        }
        return StubRequest(
            method: String(parts[0]).uppercased(), path: path, rawQuery: rawQuery, query: query, headers: headers,
            body: body, sequence: 0)
    }
}

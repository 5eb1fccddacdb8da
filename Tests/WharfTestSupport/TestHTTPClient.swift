import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A parsed HTTP response as `TestHTTPClient` read it off the wire.
public struct TestHTTPResponse: Sendable {
    /// The status code (`200`).
    public var status: Int
    /// The reason phrase (`OK`).
    public var reason: String
    /// The protocol on the status line (`HTTP/1.1`).
    public var version: String
    /// The header fields in order, names as sent.
    public var headers: [(name: String, value: String)]
    /// The body, de-chunked; empty for HEAD, 1xx, 204 and 304.
    public var body: [UInt8]

    /// The first value of header `name` (case-insensitive), or nil.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of header `name` (case-insensitive), in order.
    public func headerValues(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The body as UTF-8 text.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as JSON (`[String: Any]`, `[Any]`, `String`, `NSNumber`, `NSNull`).
    public func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
    }

    /// The body parsed as a JSON object; throws when it is not one.
    public func jsonObject() throws -> [String: Any] {
        guard let object = try json() as? [String: Any] else {
            throw TestHTTPClientError("the response body is not a JSON object: \(bodyText.prefix(200))")
        }
        return object
    }

    /// The body parsed as a JSON array; throws when it is not one.
    public func jsonArray() throws -> [Any] {
        guard let array = try json() as? [Any] else {
            throw TestHTTPClientError("the response body is not a JSON array: \(bodyText.prefix(200))")
        }
        return array
    }
}

/// What went wrong in `TestHTTPClient` (connect failure, timeout, closed connection, malformed response).
public struct TestHTTPClientError: Error, CustomStringConvertible {
    /// What happened.
    public var message: String
    /// Whether the server closed (or reset) the connection.
    public var connectionClosed: Bool
    /// Whether the time limit ran out.
    public var timedOut: Bool

    /// An error with this message.
    public init(_ message: String, connectionClosed: Bool = false, timedOut: Bool = false) {
        self.message = message
        self.connectionClosed = connectionClosed
        self.timedOut = timedOut
    }

    /// The message.
    public var description: String { message }
}

/// A blocking HTTP/1.1 client over one loopback TCP connection, for tests.
///
/// ```swift
/// let client = try TestHTTPClient(port: server.localPort)
/// let response = try client.send("GET", "/v1/products/A-1", headers: [("Authorization", "Bearer …")])
/// XCTAssertEqual(response.status, 200)
/// let product = try response.jsonObject()
/// ```
///
/// The connection is kept alive between `send` calls. `sendRaw` and `readResponse` write and read bytes exactly, for
/// malformed requests and pipelining. Every read waits at most `timeout` seconds. Not thread-safe: use one client
/// per thread.
public final class TestHTTPClient {
    /// The server port.
    public let port: Int
    /// The server address.
    public let host: String
    /// Longest wait for any one read, in seconds.
    public var timeout: TimeInterval
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var peerClosed = false

    /// Connects to `host:port` (IPv4 literal) within `timeout` seconds.
    public init(host: String = "127.0.0.1", port: Int, timeout: TimeInterval = 5) throws {
        self.host = host
        self.port = port
        self.timeout = timeout
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestHTTPClientError("socket() failed: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            Glibc.close(fd)
            throw TestHTTPClientError("'\(host)' is not an IPv4 address")
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw TestHTTPClientError("cannot connect to \(host):\(port): \(message)", connectionClosed: true)
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close() }

    /// Whether the socket is still open on this side.
    public var isOpen: Bool { fd >= 0 }

    /// Sends one request and reads its final response (interim 1xx responses are skipped).
    ///
    /// Adds `Host` unless given, and `Content-Length` when there is a body (or the method is POST, PUT or PATCH).
    public func send(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil
    ) throws -> TestHTTPResponse {
        var head = "\(method) \(path) HTTP/1.1\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { head += "Host: \(host):\(port)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let hasLength = headers.contains { ["content-length", "transfer-encoding"].contains($0.0.lowercased()) }
        if !hasLength, body != nil || ["POST", "PUT", "PATCH"].contains(method) {
            head += "Content-Length: \(body?.count ?? 0)\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += body }
        try sendRaw(bytes)
        var response = try readResponse(isHeadRequest: method == "HEAD")
        while (100..<200).contains(response.status) {
            response = try readResponse(isHeadRequest: method == "HEAD")
        }
        return response
    }

    /// Sends one request with a UTF-8 text body.
    public func send(
        _ method: String, _ path: String, headers: [(String, String)] = [], text: String
    ) throws -> TestHTTPResponse {
        try send(method, path, headers: headers, body: Array(text.utf8))
    }

    /// Writes `bytes` exactly as given.
    public func sendRaw(_ bytes: [UInt8]) throws {
        guard fd >= 0 else { throw TestHTTPClientError("the client is closed", connectionClosed: true) }
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TestHTTPClientError("send failed: \(String(cString: strerror(errno)))", connectionClosed: true)
            }
            sent += n
        }
    }

    /// Writes `text` as UTF-8 exactly as given (write `\r\n` yourself).
    public func sendRaw(_ text: String) throws { try sendRaw(Array(text.utf8)) }

    /// Reads the next response, 1xx included. Pass `isHeadRequest` when it answers a HEAD (no body follows).
    public func readResponse(isHeadRequest: Bool = false) throws -> TestHTTPResponse {
        let deadline = Date().addingTimeInterval(timeout)
        var headerEnd: Int?
        while headerEnd == nil {
            headerEnd = find([13, 10, 13, 10], from: 0)
            if headerEnd == nil { try fill(deadline: deadline, context: "the response headers") }
        }
        let headText = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
        buffer.removeFirst(headerEnd! + 4)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            throw TestHTTPClientError("malformed status line: \(statusLine)")
        }
        var response = TestHTTPResponse(
            status: status, reason: parts.count > 2 ? String(parts[2]) : "", version: String(parts[0]), headers: [],
            body: [])
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw TestHTTPClientError("malformed header line: \(line)") }
            response.headers.append((
                name: String(line[..<colon]),
                value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        if isHeadRequest || (100..<200).contains(status) || status == 204 || status == 304 { return response }
        if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            response.body = try readChunkedBody(deadline: deadline)
        } else if let lengthText = response.header("Content-Length") {
            guard let length = Int(lengthText) else { throw TestHTTPClientError("bad Content-Length: \(lengthText)") }
            while buffer.count < length { try fill(deadline: deadline, context: "the response body") }
            response.body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        } else {
            while !peerClosed { try fill(deadline: deadline, context: "the response body (read to close)", eofIsError: false) }
            response.body = buffer
            buffer.removeAll()
        }
        return response
    }

    /// Waits until the server closes (or resets) the connection, discarding anything it sends meanwhile.
    /// Returns false when the connection is still open after `timeout` seconds.
    public func waitForClose(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !peerClosed {
            do {
                try fill(deadline: deadline, context: "close", eofIsError: false)
            } catch let error as TestHTTPClientError {
                return error.connectionClosed
            } catch {
                return false
            }
        }
        return true
    }

    /// Bytes received but not yet consumed by `readResponse`.
    public var unreadBytes: [UInt8] { buffer }

    /// Closes the connection (idempotent).
    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    // MARK: Not public

    private func readChunkedBody(deadline: Date) throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            var lineEnd = find([13, 10], from: 0)
            while lineEnd == nil {
                try fill(deadline: deadline, context: "a chunk size")
                lineEnd = find([13, 10], from: 0)
            }
            let line = String(decoding: buffer[0..<lineEnd!], as: UTF8.self)
            buffer.removeFirst(lineEnd! + 2)
            let sizeText = line.split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw TestHTTPClientError("bad chunk size line: \(line)")
            }
            if size == 0 {
                // Skip trailers up to the empty line.
                while true {
                    var end = find([13, 10], from: 0)
                    while end == nil {
                        try fill(deadline: deadline, context: "the chunked trailer")
                        end = find([13, 10], from: 0)
                    }
                    buffer.removeFirst(end! + 2)
                    if end == 0 { return body }
                }
            }
            while buffer.count < size + 2 { try fill(deadline: deadline, context: "chunk data") }
            body += buffer[0..<size]
            buffer.removeFirst(size + 2)
        }
    }

    private func find(_ needle: [UInt8], from: Int) -> Int? {
        guard buffer.count >= needle.count + from else { return nil }
        var i = from
        while i + needle.count <= buffer.count {
            if buffer[i] == needle[0] && Array(buffer[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    /// Reads whatever arrives next, waiting until `deadline`.
    private func fill(deadline: Date, context: String, eofIsError: Bool = true) throws {
        guard fd >= 0 else { throw TestHTTPClientError("the client is closed", connectionClosed: true) }
        if peerClosed {
            throw TestHTTPClientError("the server closed the connection before \(context) arrived", connectionClosed: true)
        }
        let remaining = deadline.timeIntervalSinceNow
        guard remaining > 0 else {
            throw TestHTTPClientError("timed out waiting for \(context)", timedOut: true)
        }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, Int32(min(remaining * 1000, Double(Int32.max))) + 1)
        if ready == 0 { throw TestHTTPClientError("timed out waiting for \(context)", timedOut: true) }
        if ready < 0 {
            if errno == EINTR { return }
            throw TestHTTPClientError("poll failed: \(String(cString: strerror(errno)))")
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            buffer += chunk[0..<n]
        } else if n == 0 || errno == ECONNRESET {
            peerClosed = true
            if eofIsError || n < 0 {
                throw TestHTTPClientError(
                    n == 0 ? "the server closed the connection before \(context) arrived"
                        : "the server reset the connection before \(context) arrived", connectionClosed: true)
            }
        } else if errno != EINTR && errno != EAGAIN {
            throw TestHTTPClientError("recv failed: \(String(cString: strerror(errno)))", connectionClosed: true)
        }
    }
}

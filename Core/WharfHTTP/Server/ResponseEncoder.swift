import CWharfSystem

// MARK: Not public

/// Serialises responses into a connection's reusable output buffer: a precomputed status line, cached `Date`, the
/// handler's headers (sanitised), `Content-Length`, then the body — one contiguous buffer, written with one `send`.
struct ResponseEncoder {
    /// `"HTTP/1.1 200 OK\r\n"` for every status 100...599, built once.
    private static let statusLines: [[UInt8]] = (0..<600).map { status in
        Array("HTTP/1.1 \(status) \(HTTPResponse.reasonPhrase(status))\r\n".utf8)
    }
    private static let serverLine = Array("Server: wharf\r\n".utf8)
    private static let closeLine = Array("Connection: close\r\n".utf8)
    private static let keepAliveLine = Array("Connection: keep-alive\r\n".utf8)
    private static let contentLengthPrefix = Array("Content-Length: ".utf8)
    private static let defaultContentType = Array("Content-Type: application/octet-stream\r\n".utf8)
    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// `"Date: <IMF-fixdate>\r\n"`, refreshed at most once a second.
    private var dateLine: [UInt8] = []
    private var dateSecond: Int64 = -1

    private mutating func refreshDate() {
        let now = wharf_wall_seconds()
        guard now != dateSecond else { return }
        dateSecond = now
        var line = Array("Date: ".utf8)
        line.append(contentsOf: repeatElement(0, count: 29))
        line.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.advanced(by: 6).withMemoryRebound(to: CChar.self, capacity: 29) {
                wharf_http_date(now, $0)
            }
        }
        line.append(contentsOf: [13, 10])
        dateLine = line
    }

    /// Appends the whole response to `out`. `isHead` drops the body (keeping a handler-given `Content-Length`);
    /// `keepAlive` false adds `Connection: close`; HTTP/1.0 keep-alive adds `Connection: keep-alive`.
    mutating func encode(
        _ response: HTTPResponse, isHead: Bool, keepAlive: Bool, http10: Bool, into out: inout [UInt8]
    ) {
        refreshDate()
        let status = (100...599).contains(response.status) ? response.status : 500
        out.append(contentsOf: ResponseEncoder.statusLines[status])
        out.append(contentsOf: ResponseEncoder.serverLine)
        out.append(contentsOf: dateLine)
        if !keepAlive {
            out.append(contentsOf: ResponseEncoder.closeLine)
        } else if http10 {
            out.append(contentsOf: ResponseEncoder.keepAliveLine)
        }
        let bodyAllowed = status >= 200 && status != 204 && status != 304
        var declaredLength: Int?
        var hasContentType = false
        for field in response.headers {
            switch HeaderName.classify(field.name) {
            case .contentLength:
                // A HEAD answer may announce the length a GET would have; a negative or malformed value is ignored
                // (it once reached `appendDecimal` and trapped on UInt8 overflow, taking the server down).
                if isHead, let length = Int(field.value), length >= 0 { declaredLength = length }
                continue
            case .server, .date, .connection, .transferEncoding, .invalid:
                continue
            case .contentType:
                hasContentType = true
            case .other, .host, .expect:
                break
            }
            out.append(contentsOf: field.name.utf8)
            out.append(UInt8(ascii: ":"))
            out.append(UInt8(ascii: " "))
            let valueStart = out.count
            out.append(contentsOf: field.value.utf8)
            // A CR or LF in a handler's value would split the response; neutralise it.
            for i in valueStart..<out.count where out[i] == 13 || out[i] == 10 || out[i] == 0 { out[i] = 32 }
            out.append(13)
            out.append(10)
        }
        if bodyAllowed {
            if !hasContentType && !response.body.isEmpty { out.append(contentsOf: ResponseEncoder.defaultContentType) }
            out.append(contentsOf: ResponseEncoder.contentLengthPrefix)
            appendDecimal(isHead ? (declaredLength ?? response.body.count) : response.body.count, to: &out)
            out.append(13)
            out.append(10)
        }
        out.append(13)
        out.append(10)
        if bodyAllowed && !isHead { out.append(contentsOf: response.body) }
    }

    private func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 10 {
            out.append(UInt8(truncatingIfNeeded: value) + 48)
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = max(0, value)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while n > 0 {
                buffer[19 - count] = UInt8(truncatingIfNeeded: n % 10) + 48
                n /= 10
                count += 1
            }
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }
}

/// Header names the server treats specially, recognised without allocating.
enum HeaderName {
    case contentLength, transferEncoding, connection, expect, host, contentType, server, date, other, invalid

    static func classify(_ name: String) -> HeaderName {
        var name = name
        return name.withUTF8 { classify(UnsafeRawBufferPointer($0)) }
    }

    /// Classifies a raw header name; `.invalid` when it is not a token (empty, spaces, CTLs).
    static func classify(_ bytes: UnsafeRawBufferPointer) -> HeaderName {
        if bytes.isEmpty { return .invalid }
        for b in bytes where !isTokenByte(b) { return .invalid }
        switch bytes.count {
        case 4:
            if equalsLowercase(bytes, "host") { return .host }
            if equalsLowercase(bytes, "date") { return .date }
        case 6:
            if equalsLowercase(bytes, "expect") { return .expect }
            if equalsLowercase(bytes, "server") { return .server }
        case 10:
            if equalsLowercase(bytes, "connection") { return .connection }
        case 12:
            if equalsLowercase(bytes, "content-type") { return .contentType }
        case 14:
            if equalsLowercase(bytes, "content-length") { return .contentLength }
        case 17:
            if equalsLowercase(bytes, "transfer-encoding") { return .transferEncoding }
        default:
            break
        }
        return .other
    }

    /// Whether `bytes`, ASCII-lowercased, equal `lowercase` (which must be lowercase ASCII).
    static func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for i in 0..<bytes.count {
            var b = bytes[i]
            if b >= 65 && b <= 90 { b |= 0x20 }
            if b != expected[i] { return false }
        }
        return true
    }
}

/// RFC 9110 `tchar`.
@inline(__always) func isTokenByte(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
         UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
         UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default:
        return false
    }
}

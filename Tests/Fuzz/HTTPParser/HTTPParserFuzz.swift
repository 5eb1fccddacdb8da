@_spi(Testing) import WharfHTTP

// Fuzzes the server's request parser (`RequestStreamParser` runs the connection's own parsing code on buffers).
//
// Input: byte 0 picks the limits and how the stream is cut into reads; the rest is what a client sends.
// Besides "no crash, no sanitizer report", each input is checked for properties a smuggling-safe parser has:
//  - cutting the same bytes into different reads yields the same requests and the same verdict;
//  - every request it accepts is well-formed (token names, no CR/LF/NUL in values, framing headers consistent with
//    the body it read, limits respected) — so no two servers could read it differently;
//  - a request written back out in canonical form parses to the same request;
//  - echoed into a response (headers, body, status), it encodes as exactly one well-formed response;
//  - failures use the statuses the server documents.

/// Limits small enough that the fuzzer reaches them often, and the server's defaults.
private let configurations: [HTTPServerConfiguration] = {
    var small = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
    small.maxRequestLineBytes = 256
    small.maxHeaderBytes = 512
    small.maxHeaderCount = 8
    small.maxBodyBytes = 1024
    var tiny = small
    tiny.maxRequestLineBytes = 32
    tiny.maxHeaderBytes = 64
    tiny.maxHeaderCount = 2
    tiny.maxBodyBytes = 16
    return [small, small, HTTPServerConfiguration(host: "127.0.0.1", port: 0), tiny]
}()

/// Read sizes for the piecewise run (1 = byte by byte).
private let readSizes = [1, 2, 3, 5, 7, 11, 16, 64, 100, 1000, 4096, Int.max]

private let router: Router = {
    var router = Router()
    router.add(.GET, "/v1/products/{sku}") { _, parameters in
        HTTPResponse(status: parameters["sku"] == nil ? 500 : 200, body: Array((parameters["sku"] ?? "").utf8))
    }
    router.add(.PUT, "/v1/products/{sku}") { request, _ in HTTPResponse(status: 200, body: request.body) }
    router.add(.GET, "/hello") { request, _ in HTTPResponse(status: request.query.isEmpty ? 204 : 200) }
    return router
}()

/// What must be equal between two parses of the same bytes.
private struct Summary: Equatable {
    var method: String
    var target: String
    var minor: Int
    var headers: [String]
    var body: [UInt8]
    var keepAlive: Bool

    init(_ request: HTTPRequest, keepAlive: Bool, framing: Bool = true) {
        method = request.method.rawValue
        target = request.target
        minor = request.version.minor
        headers = request.headers.compactMap { field in
            if !framing {
                let name = field.name.lowercased()
                if name == "content-length" || name == "transfer-encoding" { return nil }
            }
            return field.name + "\u{0}" + field.value
        }
        body = request.body
        self.keepAlive = keepAlive
    }
}

private func summarize(_ events: [RequestStreamParser.Event]) -> (requests: [Summary], failure: ProblemDetails?) {
    var requests: [Summary] = []
    var failure: ProblemDetails?
    for event in events {
        switch event {
        case .request(let request, let keepAlive): requests.append(Summary(request, keepAlive: keepAlive))
        case .sendContinue: break  // depends on how the bytes were cut: sent only when the body has not started
        case .failure(let problem): failure = problem
        }
    }
    return (requests, failure)
}

private func isToken(_ text: String) -> Bool {
    !text.isEmpty && text.utf8.allSatisfy { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            || "!#$%&'*+-.^_`|~".utf8.contains(b)
    }
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("HTTP parser property violated: \(message())") }
}

/// Checks one accepted request against what the server promises about every request it hands to a handler.
private func checkWellFormed(_ request: HTTPRequest, _ configuration: HTTPServerConfiguration) {
    check(request.version.major == 1, "version \(request.version)")
    check(!request.target.isEmpty, "empty target")
    check(request.target.utf8.allSatisfy { $0 > 32 && $0 < 127 }, "target bytes \(Array(request.target.utf8))")
    check(request.target == "*" || request.target.hasPrefix("/"), "target \(request.target)")
    check(isToken(request.method.rawValue), "method \(request.method.rawValue)")
    check(request.headers.count <= configuration.maxHeaderCount, "\(request.headers.count) header fields")
    check(request.body.count <= configuration.maxBodyBytes, "body of \(request.body.count) bytes")
    var hosts = 0, lengths: [String] = [], codings: [String] = []
    for field in request.headers {
        check(isToken(field.name), "header name \(Array(field.name.utf8))")
        check(!field.value.utf8.contains { $0 == 13 || $0 == 10 || $0 == 0 }, "CR, LF or NUL in \(field.name)")
        if let first = field.value.utf8.first { check(first != 32 && first != 9, "leading whitespace in a value") }
        if let last = field.value.utf8.last { check(last != 32 && last != 9, "trailing whitespace in a value") }
        switch field.name.lowercased() {
        case "host": hosts += 1
        case "content-length": lengths.append(field.value)
        case "transfer-encoding": codings.append(field.value)
        default: break
        }
    }
    check(hosts <= 1, "\(hosts) Host fields")
    if request.version.minor >= 1 { check(hosts == 1, "HTTP/1.1 without Host") }
    if !codings.isEmpty {
        check(lengths.isEmpty, "Transfer-Encoding and Content-Length together")
        check(codings.count == 1 && codings[0].lowercased() == "chunked", "Transfer-Encoding \(codings)")
        check(request.version.minor >= 1, "Transfer-Encoding in HTTP/1.0")
    }
    for length in lengths {
        // Every Content-Length value (a list of equal numbers is allowed) must be the body's length.
        for item in length.split(separator: ",") {
            let digits = item.trimmingSpaces
            check(Int(digits) == request.body.count, "Content-Length \(length) but a body of \(request.body.count)")
        }
    }
    if codings.isEmpty && lengths.isEmpty { check(request.body.isEmpty, "a body without framing headers") }
}

/// The request as a client would send it in canonical form: `name:value` (never longer than what was read, so it
/// stays within the same limits) and `Content-Length` framing.
private func canonicalBytes(_ request: HTTPRequest) -> [UInt8] {
    var text = "\(request.method.rawValue) \(request.target) HTTP/1.\(request.version.minor)\r\n"
    for field in request.headers {
        let name = field.name.lowercased()
        if name == "content-length" || name == "transfer-encoding" { continue }
        text += "\(field.name):\(field.value)\r\n"
    }
    if !request.body.isEmpty { text += "Content-Length:\(request.body.count)\r\n" }
    text += "\r\n"
    return Array(text.utf8) + request.body
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return s
    }
}

private let documentedStatuses: Set<Int> = [400, 413, 414, 417, 431, 505]

/// Echoes the request into a response (its headers, with `X-R-Name` becoming `Name` so any response header can be
/// reached, its body, the status from `?status=`) and checks the bytes the server would write: one well-formed
/// response, whatever a handler put in it.
private func checkEncodedEcho(of request: HTTPRequest, keepAlive: Bool) {
    let status = request.query["status"].flatMap { Int($0) } ?? 200
    var headers = HTTPHeaders()
    for field in request.headers {
        let renamed = field.name.count > 4 && field.name.lowercased().hasPrefix("x-r-")
        headers.add(name: renamed ? String(field.name.dropFirst(4)) : field.name, value: field.value)
    }
    let response = HTTPResponse(status: status, headers: headers, body: request.body)
    let isHead = request.method == .HEAD
    let http10 = request.version.minor == 0
    let bytes = RequestStreamParser.encode(response, isHead: isHead, keepAlive: keepAlive, http10: http10)

    var split: Int?
    for i in 0..<max(0, bytes.count - 3) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
        split = i
        break
    }
    guard let split else { fatalError("HTTP parser property violated: an encoded response has no end of headers") }
    let head = Array(bytes[..<split])
    let rest = Array(bytes[(split + 4)...])
    var lines: [[UInt8]] = [[]]
    var i = 0
    while i < head.count {
        if head[i] == 13 && i + 1 < head.count && head[i + 1] == 10 {
            lines.append([])
            i += 2
            continue
        }
        check(head[i] != 13 && head[i] != 10 && head[i] != 0, "CR, LF or NUL inside an encoded header line")
        lines[lines.count - 1].append(head[i])
        i += 1
    }
    let statusLine = String(decoding: lines[0], as: UTF8.self)
    let expected = (100...599).contains(status) ? status : 500
    check(statusLine.hasPrefix("HTTP/1.1 \(expected) "), "status line \(statusLine) for status \(status)")
    var counts: [String: Int] = [:]
    var values: [String: String] = [:]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: 58) else { fatalError("HTTP parser property violated: an encoded header line without ':'") }
        let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
        check(isToken(name), "encoded header name \(name)")
        counts[name, default: 0] += 1
        values[name] = String(Substring(String(decoding: line[(colon + 1)...], as: UTF8.self)).trimmingSpaces)
    }
    check(counts["server"] == 1 && counts["date"] == 1, "Server and Date once each: \(counts)")
    check(counts["transfer-encoding"] == nil, "an encoded response with Transfer-Encoding")
    if !keepAlive {
        check(counts["connection"] == 1 && values["connection"] == "close", "Connection: close missing")
    } else if http10 {
        check(counts["connection"] == 1 && values["connection"] == "keep-alive", "Connection: keep-alive missing")
    } else {
        check(counts["connection"] == nil, "a Connection header on a keep-alive HTTP/1.1 answer")
    }
    let bodyAllowed = expected >= 200 && expected != 204 && expected != 304
    if bodyAllowed {
        // A HEAD answer keeps the last non-negative Content-Length the handler declared, else the body's length.
        var declared: Int?
        for field in headers where field.name.lowercased() == "content-length" {
            if let length = Int(field.value), length >= 0 { declared = length }
        }
        let length = isHead ? (declared ?? request.body.count) : request.body.count
        check(counts["content-length"] == 1 && values["content-length"] == String(length), "Content-Length \(values["content-length"] ?? "none") for \(length)")
        check(rest == (isHead ? [] : request.body), "the encoded body differs")
    } else {
        check(counts["content-length"] == nil && rest.isEmpty, "a body or Content-Length on a \(expected)")
    }
}

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzHTTPParser(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let options = Int(data[0])
    let configuration = configurations[options & 3]
    let maxChunkLineBytes = configuration.maxHeaderCount == 2 ? 24 : 4096  // the tiny limits get a tiny chunk line
    let readSize = readSizes[(options >> 2) % readSizes.count]
    let stream = UnsafeRawBufferPointer(start: data + 1, count: size - 1)

    let whole = RequestStreamParser(configuration: configuration, maxChunkLineBytes: maxChunkLineBytes)
    let events = whole.feed(stream)
    let (requests, failure) = summarize(events)

    // The same bytes in several feeds of small reads.
    let pieces = RequestStreamParser(configuration: configuration, maxChunkLineBytes: maxChunkLineBytes)
    var piecewise: [RequestStreamParser.Event] = []
    var offset = 0
    while offset < stream.count {
        let n = min(stream.count - offset, readSize == .max ? stream.count : readSize * 3)
        piecewise += pieces.feed(UnsafeRawBufferPointer(rebasing: stream[offset..<(offset + n)]), maxRead: readSize)
        offset += n
    }
    let (pieceRequests, pieceFailure) = summarize(piecewise)
    check(requests == pieceRequests, "reads of \(readSize) bytes gave different requests")
    check(
        (failure == nil) == (pieceFailure == nil),
        "reads of \(readSize) bytes: \(failure?.detail ?? "no failure") vs \(pieceFailure?.detail ?? "no failure")")
    if let failure {
        check(documentedStatuses.contains(failure.status), "status \(failure.status)")
        check(failure.detail != "The request does not fit the input buffer.", "the input buffer filled before a limit fired")
    }

    if whole.failed { check(whole.feed(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)).isEmpty, "parsed after a failure") }
    for event in events {
        guard case .request(let request, let keepAlive) = event else { continue }
        checkWellFormed(request, configuration)
        // Header values keep bytes that are not UTF-8 as U+FFFD (three bytes), so allow for that growth.
        var relaxed = configuration
        relaxed.maxHeaderBytes *= 3
        let again = RequestStreamParser(configuration: relaxed, maxChunkLineBytes: maxChunkLineBytes).feed(canonicalBytes(request))
        guard again.count == 1, case .request(let reparsed, _) = again[0] else {
            fatalError("HTTP parser property violated: the canonical form of an accepted request gave \(again)")
        }
        check(
            Summary(reparsed, keepAlive: true, framing: false) == Summary(request, keepAlive: true, framing: false),
            "the canonical form parsed differently")
        let response = router.respond(to: request)
        check((100...599).contains(response.status), "router status \(response.status)")
        checkEncodedEcho(of: request, keepAlive: keepAlive)
    }
    return 0
}

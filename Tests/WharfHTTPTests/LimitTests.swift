import Foundation
import WharfHTTP
import WharfTestSupport
import XCTest

/// Malformed requests, limits and request-smuggling shapes: each gets a problem+json answer and a close, and the
/// server keeps serving others. Limits come from `Fixture.configuration` (request line 1 KiB, headers 2 KiB and
/// 20 fields, body 4 KiB).
final class LimitTests: ServerTestCase {
    private func assertRefused(
        _ raw: String, status: Int, slug: String? = nil, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let server = try startServer()
        let response = try rawExchange(server, raw, file: file, line: line)
        XCTAssertEqual(response.status, status, "for \(raw.debugDescription.prefix(120))", file: file, line: line)
        XCTAssertEqual(response.header("Content-Type"), "application/problem+json", file: file, line: line)
        let object = try response.jsonObject()
        XCTAssertEqual(object["status"] as? Int, status, file: file, line: line)
        if let slug {
            XCTAssertEqual(object["type"] as? String, "https://wharf.dev/problems/\(slug)", file: file, line: line)
        }
        try assertServes(server, file: file, line: line)
    }

    func testMalformedRequestLines() throws {
        try assertRefused("GARBAGE\r\n\r\n", status: 400, slug: "bad-request")
        try assertRefused("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        try assertRefused("GET hello HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        try assertRefused("GET  /hello HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        try assertRefused("G(T /hello HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        try assertRefused("GET /hello HTTX/1.1\r\nHost: x\r\n\r\n", status: 400)
        try assertRefused("GET /hello\r\n\r\n", status: 400)
    }

    func testMalformedHeaders() throws {
        try assertRefused("GET /hello HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", status: 400)
        try assertRefused("GET /hello HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n", status: 400)
        try assertRefused("GET /hello HTTP/1.1\r\nHost: x\r\nX-Bad: a\u{1}b\r\n\r\n", status: 400)
        try assertRefused("GET /hello HTTP/1.1\r\n\r\n", status: 400)  // HTTP/1.1 needs Host
        try assertRefused("GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400)
    }

    func testRequestLineTooLongIs414() throws {
        let path = "/" + String(repeating: "a", count: 2000)
        try assertRefused("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n", status: 414, slug: "uri-too-long")
        // Also when the line has not ended yet.
        try assertRefused("GET \(path)", status: 414, slug: "uri-too-long")
    }

    func testHeaderBlockTooLargeIs431() throws {
        let big = String(repeating: "v", count: 3000)
        try assertRefused("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n", status: 431, slug: "header-fields-too-large")
        let many = (0..<10).map { "X-H\($0): \(String(repeating: "v", count: 250))\r\n" }.joined()
        try assertRefused("GET /hello HTTP/1.1\r\nHost: x\r\n\(many)\r\n", status: 431)
    }

    func testTooManyHeadersIs431() throws {
        let fields = (0..<25).map { "X-\($0): 1\r\n" }.joined()
        try assertRefused("GET /hello HTTP/1.1\r\nHost: x\r\n\(fields)\r\n", status: 431, slug: "header-fields-too-large")
    }

    func testBodyTooLargeIs413() throws {
        try assertRefused("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", status: 413, slug: "content-too-large")
        // Chunked bodies are counted as they accumulate.
        let chunk = String(repeating: "z", count: 3000)
        try assertRefused(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nBB8\r\n\(chunk)\r\nBB8\r\n\(chunk)\r\n0\r\n\r\n",
            status: 413)
    }

    func testUnsupportedVersionIs505() throws {
        try assertRefused("GET /hello HTTP/2.0\r\nHost: x\r\n\r\n", status: 505, slug: "http-version-not-supported")
        try assertRefused("GET /hello HTTP/0.9\r\n\r\n", status: 505)
    }

    func testSmugglingShapesAreRefused() throws {
        let shapes: [(String, String)] = [
            ("CL+TE", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("TE+CL", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"),
            ("differing CLs", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
            ("CL list", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd"),
            ("CL sign", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc"),
            ("CL negative", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
            ("CL hex", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0x3\r\n\r\nabc"),
            ("CL huge", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            ("TE gzip", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
            ("TE list", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
            ("TE twice", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("TE in 1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("obs-fold", "GET /hello HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n"),
            ("space before colon", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\nabc"),
            ("tab before colon", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n"),
            ("bare LF in headers", "GET /hello HTTP/1.1\nHost: x\n\n"),
            ("bare CR in value", "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"),
            ("bad chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
            ("chunk without CRLF", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"),
        ]
        let server = try startServer()
        for (name, raw) in shapes {
            let response = try rawExchange(server, raw)
            XCTAssertEqual(response.status, 400, "\(name) must be refused with 400")
            XCTAssertEqual(response.header("Content-Type"), "application/problem+json", name)
        }
        try assertServes(server)
    }

    func testIdenticalDuplicateContentLengthIsAccepted() throws {
        let server = try startServer()
        let client = try client(server)
        try client.sendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
        XCTAssertEqual(try client.readResponse().bodyText, "abc")
    }

    func testGarbageBytesNeverWedgeTheServer() throws {
        let server = try startServer()
        var generator = SystemRandomNumberGenerator()
        for round in 0..<20 {
            let client = try client(server)
            var bytes = (0..<(200 + round * 50)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if round % 2 == 0 { bytes += Array("\r\n\r\n".utf8) }
            try? client.sendRaw(bytes)
            // Either a 400 problem or (for bytes that never end a line) a silent wait: both are fine; what matters
            // is that nothing crashes and the server keeps serving.
            if round % 2 == 0, let response = try? client.readResponse() {
                XCTAssertTrue([400, 414, 431, 505].contains(response.status), "garbage answered with \(response.status)")
            }
            client.close()
        }
        try assertServes(server)
    }

    func testProtocolErrorHookSeesRefusals() throws {
        let seen = ErrorLog()
        let server = try startServer { _ in } setUp: { server in
            server.onProtocolError = { _, problem in seen.append("\(problem.status)") }
        }
        _ = try rawExchange(server, "GET /hello HTTP/2.0\r\nHost: x\r\n\r\n")
        XCTAssertEqual(seen.all, ["505"])
    }
}

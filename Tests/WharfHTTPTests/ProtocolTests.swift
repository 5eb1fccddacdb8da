import Foundation
import WharfHTTP
import WharfTestSupport
import XCTest

/// HTTP/1.1 behaviour over real loopback sockets, in both handler-execution modes where it matters.
final class ProtocolTests: ServerTestCase {
    func testRoutingStatusesAndHead() throws {
        let server = try startServer()
        let client = try client(server)
        let ok = try client.send("GET", "/items/42")
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(try ok.jsonObject()["id"] as? String, "42")
        XCTAssertEqual(ok.header("Content-Type"), "application/json")

        let missing = try client.send("GET", "/missing")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(try missing.jsonObject()["type"] as? String, "https://wharf.dev/problems/not-found")

        let notAllowed = try client.send("POST", "/hello")
        XCTAssertEqual(notAllowed.status, 405)
        XCTAssertEqual(notAllowed.header("Allow"), "GET, HEAD")

        let head = try client.send("HEAD", "/hello")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("Content-Length"), "17")
        XCTAssertTrue(head.body.isEmpty)
        // The HEAD answer carried no body: the next response on the same connection parses cleanly.
        XCTAssertEqual(try client.send("GET", "/hello").bodyText, #"{"hello":"world"}"#)
    }

    func testStandardResponseHeaders() throws {
        let server = try startServer()
        let response = try client(server).send("GET", "/hello")
        XCTAssertEqual(response.header("Server"), "wharf")
        XCTAssertEqual(response.header("Content-Length"), "17")
        let date = try XCTUnwrap(response.header("Date"))
        XCTAssertNotNil(date.range(of: #"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$"#, options: .regularExpression), date)
        XCTAssertNil(response.header("Connection"), "HTTP/1.1 keep-alive is the default and needs no header")
    }

    func testHandlerHeaderValuesCannotSplitResponse() throws {
        let server = try startServer()
        let client = try client(server)
        let response = try client.send("GET", "/split")
        XCTAssertNil(response.header("Set-Cookie"))
        XCTAssertEqual(response.header("X-Injected"), "a  Set-Cookie: evil=1")
        XCTAssertEqual(try client.send("GET", "/hello").status, 200)
    }

    func testKeepAliveServesManyRequestsOnOneConnection() throws {
        let peers = ErrorLog()
        let server = try startServer { $0.handlerExecution = .threadPool(threads: 2) } setUp: { server in
            server.onRequestCompleted = { request, _, _ in peers.append(request.remoteAddress) }
        }
        let client = try client(server)
        for i in 0..<200 {
            let response = try client.send("GET", "/items/\(i)")
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(try response.jsonObject()["id"] as? String, String(i))
        }
        XCTAssertEqual(peers.all.count, 200, "the completion hook runs once per request")
        XCTAssertEqual(Set(peers.all).count, 1, "all requests came over one connection")
    }

    func testPipelinedRequestsAnsweredInOrder() throws {
        for execution in [HandlerExecution.eventLoop, .threadPool(threads: 4)] {
            let server = try startServer { $0.handlerExecution = execution }
            let client = try client(server)
            var raw = ""
            for i in 0..<20 { raw += "GET /items/\(i) HTTP/1.1\r\nHost: x\r\n\r\n" }
            raw += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            raw += "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
            raw += "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
            try client.sendRaw(raw)
            for i in 0..<20 {
                XCTAssertEqual(try client.readResponse().bodyText, #"{"id":"\#(i)"}"#, "\(execution)")
            }
            XCTAssertEqual(try client.readResponse().bodyText, "hello")
            XCTAssertEqual(try client.readResponse().bodyText, "slow done")
            XCTAssertEqual(try client.readResponse().bodyText, #"{"hello":"world"}"#)
        }
    }

    func testDeepPipelineAcrossBufferBoundaries() throws {
        for execution in [HandlerExecution.eventLoop, .threadPool(threads: 2)] {
            let server = try startServer { $0.handlerExecution = execution }
            let client = try client(server)
            // ~40 KB of requests in one write: they straddle every read-buffer boundary.
            let raw = (0..<600).map { "GET /items/\($0) HTTP/1.1\r\nHost: x\r\nX-Pad: \(String(repeating: "p", count: $0 % 37))\r\n\r\n" }
            try client.sendRaw(raw.joined())
            for i in 0..<600 {
                let response = try client.readResponse()
                XCTAssertEqual(response.bodyText, #"{"id":"\#(i)"}"#, "\(execution) #\(i)")
                if response.bodyText != #"{"id":"\#(i)"}"# { break }
            }
        }
    }

    func testChunkedRequestBodyWithExtensionsAndTrailers() throws {
        let server = try startServer()
        let client = try client(server)
        try client.sendRaw(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;name=value\r\nhello\r\n" + "1\r\n \r\n" + "A\r\n0123456789\r\n" + "0\r\nX-Trailer: yes\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.bodyText, "hello 0123456789")
        XCTAssertEqual(response.header("X-Body-Length"), "16")
        // The connection stays usable after a chunked request.
        XCTAssertEqual(try client.send("GET", "/hello").status, 200)
    }

    func testChunkedBodyArrivingInPieces() throws {
        let server = try startServer()
        let client = try client(server)
        let pieces = ["POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-", "Encoding: chunked\r\n\r\n3\r", "\nabc", "\r\n", "0\r\n", "\r\n"]
        for piece in pieces {
            try client.sendRaw(piece)
            usleep(20_000)
        }
        XCTAssertEqual(try client.readResponse().bodyText, "abc")
    }

    func testLargeBodiesByLengthAndChunked() throws {
        let server = try startServer { $0.maxBodyBytes = 3 * 1024 * 1024 }
        let client = try client(server)
        let body = (0..<(2 * 1024 * 1024 + 7)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let byLength = try client.send("POST", "/echo-bytes", body: body)
        XCTAssertEqual(byLength.header("Content-Length"), String(body.count))
        XCTAssertTrue(byLength.body == body, "the body must arrive intact")

        var chunked = Array("POST /echo-bytes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        var offset = 0
        while offset < body.count {
            let size = min(100_000, body.count - offset)
            chunked += Array("\(String(size, radix: 16))\r\n".utf8) + body[offset..<(offset + size)] + [13, 10]
            offset += size
        }
        chunked += Array("0\r\n\r\n".utf8)
        try client.sendRaw(chunked)
        let response = try client.readResponse()
        XCTAssertEqual(response.body.count, body.count)
        XCTAssertTrue(response.body == body, "the chunked body must arrive intact")
        XCTAssertEqual(try client.send("GET", "/hello").status, 200)
    }

    func testExpectContinue() throws {
        let server = try startServer()
        let client = try client(server)
        try client.sendRaw("PUT /items/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let interim = try client.readResponse()
        XCTAssertEqual(interim.status, 100)
        try client.sendRaw("body")
        let final = try client.readResponse()
        XCTAssertEqual(final.status, 200)
        XCTAssertEqual(try final.jsonObject()["bytes"] as? Int, 4)
    }

    func testExpectContinueRefusedWhenBodyTooLarge() throws {
        let server = try startServer()
        let response = try rawExchange(
            server, "PUT /items/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(response.status, 413, "the body must be refused before the client sends it")
    }

    func testUnknownExpectationIs417() throws {
        let server = try startServer()
        let response = try rawExchange(server, "GET /hello HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n")
        XCTAssertEqual(response.status, 417)
    }

    func testConnectionCloseIsHonoured() throws {
        let server = try startServer()
        let client = try client(server)
        let response = try client.send("GET", "/hello", headers: [("Connection", "close")])
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(client.waitForClose(timeout: 3))
    }

    func testHTTP10ClosesUnlessKeepAlive() throws {
        let server = try startServer()
        let closing = try client(server)
        try closing.sendRaw("GET /hello HTTP/1.0\r\n\r\n")
        XCTAssertEqual(try closing.readResponse().status, 200)
        XCTAssertTrue(closing.waitForClose(timeout: 3))

        let keeping = try client(server)
        try keeping.sendRaw("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let first = try keeping.readResponse()
        XCTAssertEqual(first.header("Connection"), "keep-alive")
        try keeping.sendRaw("GET /items/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(try keeping.readResponse().bodyText, #"{"id":"2"}"#)
    }

    func testPathQueryAndAbsoluteFormTarget() throws {
        let server = try startServer()
        let client = try client(server)
        XCTAssertEqual(try client.send("GET", "/path?b=2&a=x%20y").bodyText, "/path|a=x y&b=2")
        try client.sendRaw("GET http://example.com/path?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        XCTAssertEqual(try client.readResponse().bodyText, "/path|q=1")
    }

    func testProblemJSONShape() throws {
        let server = try startServer()
        let response = try client(server).send("GET", "/problem")
        XCTAssertEqual(response.status, 409)
        XCTAssertEqual(response.header("Content-Type"), "application/problem+json")
        let object = try response.jsonObject()
        XCTAssertEqual(object["type"] as? String, "https://wharf.dev/problems/out-of-stock")
        XCTAssertEqual(object["title"] as? String, "Out of stock")
        XCTAssertEqual(object["status"] as? Int, 409)
        XCTAssertEqual(object["detail"] as? String, "SKU A-1 has no stock.")
        XCTAssertEqual(object["instance"] as? String, "/problem")
    }

    func testPlainErrorBecomes500WithoutLeaking() throws {
        let server = try startServer()
        let client = try client(server)
        let response = try client.send("GET", "/crash")
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(try response.jsonObject()["type"] as? String, "https://wharf.dev/problems/internal-error")
        XCTAssertFalse(response.bodyText.contains("hunter2"))
        XCTAssertFalse(response.bodyText.contains("SecretError"))
        XCTAssertEqual(errors.all, ["database password is hunter2"])
        XCTAssertEqual(try client.send("GET", "/hello").status, 200, "a failing handler does not break the connection")
    }

    func testInlineExecutionServesRoutesAndBodies() throws {
        let server = try startServer { $0.handlerExecution = .eventLoop }
        let client = try client(server)
        XCTAssertEqual(try client.send("GET", "/hello").status, 200)
        XCTAssertEqual(try client.send("POST", "/echo", text: "inline").bodyText, "inline")
        XCTAssertEqual(try client.send("GET", "/crash").status, 500)
    }

    func testSlowHandlerDoesNotBlockOtherConnectionsInPoolMode() throws {
        let server = try startServer { $0.eventLoopCount = 1; $0.handlerExecution = .threadPool(threads: 2) }
        let slow = try client(server)
        try slow.sendRaw("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(50_000)  // let the slow request reach its handler
        let fast = try client(server)
        let started = Date()
        XCTAssertEqual(try fast.send("GET", "/hello").status, 200)
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.3, "a fast request waited for a slow handler")
        XCTAssertEqual(try slow.readResponse().bodyText, "slow done")
    }
}

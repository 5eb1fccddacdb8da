import Foundation
@_spi(Testing) import WharfHTTP
import WharfTestSupport
import XCTest

/// The request parser on byte buffers (no sockets): how the bytes are cut into reads must never change what is
/// parsed. Regression cases for what the fuzzer (Tests/Fuzz/HTTPParser) found live here.
final class StreamParserTests: XCTestCase {
    /// Requests and the verdict (accepted or refused, ignoring `100 Continue`) for `bytes` fed in reads of `readSize`.
    private func outcome(
        _ bytes: [UInt8], readSize: Int, configuration: HTTPServerConfiguration, maxChunkLineBytes: Int = 4096
    ) -> (requests: [String], failure: Int?) {
        let parser = RequestStreamParser(configuration: configuration, maxChunkLineBytes: maxChunkLineBytes)
        var events: [RequestStreamParser.Event] = []
        var offset = 0
        while offset < bytes.count {
            let n = min(readSize, bytes.count - offset)
            events += parser.feed(Array(bytes[offset..<(offset + n)]), maxRead: readSize)
            offset += n
        }
        var requests: [String] = []
        var failure: Int?
        for event in events {
            switch event {
            case .request(let request, let keepAlive):
                let headers = request.headers.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
                requests.append("\(request.method) \(request.target) \(request.version) [\(headers)] \(request.bodyText) \(keepAlive)")
            case .sendContinue:
                break
            case .failure(let problem):
                failure = problem.status
            }
        }
        return (requests, failure)
    }

    private func assertSameInAnyReadSize(
        _ bytes: [UInt8], configuration: HTTPServerConfiguration, maxChunkLineBytes: Int = 4096,
        file: StaticString = #filePath, line: UInt = #line
    ) -> (requests: [String], failure: Int?) {
        let whole = outcome(bytes, readSize: .max, configuration: configuration, maxChunkLineBytes: maxChunkLineBytes)
        for readSize in [1, 2, 3, 7, 64] {
            let cut = outcome(bytes, readSize: readSize, configuration: configuration, maxChunkLineBytes: maxChunkLineBytes)
            XCTAssertEqual(cut.requests, whole.requests, "reads of \(readSize) bytes", file: file, line: line)
            XCTAssertEqual(cut.failure != nil, whole.failure != nil, "reads of \(readSize) bytes: \(cut.failure ?? 0) vs \(whole.failure ?? 0)", file: file, line: line)
        }
        return whole
    }

    private var tinyLimits: HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.maxRequestLineBytes = 32
        configuration.maxHeaderBytes = 64
        configuration.maxHeaderCount = 2
        configuration.maxBodyBytes = 16
        return configuration
    }

    /// Fuzzer find: trailers that fill the header budget exactly were accepted when the closing CRLF came in the
    /// same read, and refused with 431 when its CR arrived alone (the partial-line check counted the CR of the
    /// closing empty line, which the complete-line path does not count).
    func testTrailersAtTheHeaderLimitDoNotDependOnReadSizes() {
        // Headers "Host: x" (9) + "Transfer-Encoding: chunked" (28) + blank line (2) = 39 bytes; the trailer line
        // "X-Trailer-Field: 123456" is 23 + 2 = 25 bytes more: 64 of 64. The closing CRLF does not count.
        let request = "PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\nX-Trailer-Field: 123456\r\n\r\n"
        let result = assertSameInAnyReadSize(Array(request.utf8), configuration: tinyLimits)
        XCTAssertNil(result.failure)
        XCTAssertEqual(result.requests.count, 1)
        // One byte more and the trailers pass the limit, however the bytes arrive.
        let over = request.replacingOccurrences(of: "123456", with: "1234567")
        XCTAssertEqual(assertSameInAnyReadSize(Array(over.utf8), configuration: tinyLimits).failure, 431)
    }

    /// The input the fuzzer reported, byte for byte (its first byte chose the tiny limits).
    func testFuzzerCrashInputParsesTheSameInAnyReadSize() throws {
        let input = try XCTUnwrap(Data(base64Encoded: "UFVUIC92MC9wcm9kdWN0cy9BLTEgSFRUUC8xLjENCkhvc3Q6IHgNClRyYW5zZmVyLUVuY29kaW5nOiBjaHVua2VkDQoNCjA7ZTANCiEtVHIAAAAAAAAAYWlsZXIhIHgNOiB0DQoNCg=="))
        let result = assertSameInAnyReadSize([UInt8](input), configuration: tinyLimits, maxChunkLineBytes: 24)
        XCTAssertNil(result.failure)
    }

    /// Review find (while writing the fuzz oracle): a chunk-size line longer than the limit was refused only while
    /// it was incomplete; arriving whole in one read, it was accepted. Both are now refused with 400.
    func testOverlongChunkSizeLineIsRefusedWhetherOrNotItArrivesWhole() {
        let configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        let long = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;\(String(repeating: "e", count: 5000))\r\nabc\r\n0\r\n\r\n"
        XCTAssertEqual(assertSameInAnyReadSize(Array(long.utf8), configuration: configuration).failure, 400)
        // At the limit exactly, it is fine.
        let line = "3;" + String(repeating: "e", count: 4094)
        let fits = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\(line)\r\nabc\r\n0\r\n\r\n"
        let result = assertSameInAnyReadSize(Array(fits.utf8), configuration: configuration)
        XCTAssertNil(result.failure)
        XCTAssertEqual(result.requests.count, 1)
    }

    /// Every committed seed of the HTTP parser's fuzz corpus (its first byte picks the limits, as in the harness)
    /// parses the same in every read size.
    func testFuzzCorpusParsesTheSameInAnyReadSize() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fuzz/Corpus/HTTPParser")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }
        XCTAssertGreaterThan(files.count, 10)
        var small = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        small.maxRequestLineBytes = 256
        small.maxHeaderBytes = 512
        small.maxHeaderCount = 8
        small.maxBodyBytes = 1024
        for name in files {
            let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
            guard let options = bytes.first else { continue }
            let configuration = [small, small, HTTPServerConfiguration(host: "127.0.0.1", port: 0), tinyLimits][Int(options & 3)]
            _ = assertSameInAnyReadSize(Array(bytes.dropFirst()), configuration: configuration)
        }
    }

    /// A failure ends the stream: nothing after it is parsed, not even a valid request.
    func testNothingIsParsedAfterAFailure() {
        let parser = RequestStreamParser(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0))
        let events = parser.feed(Array("GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        XCTAssertEqual(events.count, 1)
        guard case .failure(let problem)? = events.first else { return XCTFail("expected a failure, got \(events)") }
        XCTAssertEqual(problem.status, 400)
        XCTAssertTrue(parser.failed)
        XCTAssertTrue(parser.feed(Array("GET /b HTTP/1.1\r\nHost: x\r\n\r\n".utf8)).isEmpty)
    }
}

/// Answers whose own headers are wrong must not take the server down.
final class ResponseHardeningTests: ServerTestCase {
    /// Review find: a HEAD handler announcing a negative `Content-Length` trapped the event loop (UInt8 overflow
    /// while writing the number), killing the whole server. The value is now ignored.
    func testHeadAnswerWithNegativeContentLengthDoesNotCrashTheServer() throws {
        var router = Fixture.router()
        router.add(.HEAD, "/negative") { _, _ in HTTPResponse(status: 200, headers: ["Content-Length": "-5"]) }
        router.add(.HEAD, "/huge") { _, _ in HTTPResponse(status: 200, headers: ["Content-Length": "99999999999999999999"]) }
        router.add(.HEAD, "/declared") { _, _ in HTTPResponse(status: 200, headers: ["Content-Length": "1234"]) }
        let server = try startServer(router: router)
        let client = try client(server)
        XCTAssertEqual(try client.send("HEAD", "/negative").header("Content-Length"), "0")
        XCTAssertEqual(try client.send("HEAD", "/huge").header("Content-Length"), "0")
        XCTAssertEqual(try client.send("HEAD", "/declared").header("Content-Length"), "1234")
        XCTAssertEqual(try client.send("GET", "/hello").status, 200)
    }
}

/// Resources a server must give back when it stops.
final class ServerLifetimeTests: XCTestCase {
    /// ASan/LeakSanitizer find (`swift test --sanitize=address`, in `wharf serve`): the acceptor loop listed itself
    /// among its siblings, so the event loops and their mailboxes were never freed after shutdown.
    func testEventLoopsAreFreedAfterShutdown() throws {
        var configuration = Fixture.configuration()
        configuration.eventLoopCount = 3
        let server = HTTPServer(configuration: configuration, router: Fixture.router())
        try server.start()
        XCTAssertEqual(try TestHTTPClient(port: server.localPort).send("GET", "/hello").status, 200)
        let loops = server.eventLoopObjects.map { WeakBox($0) }
        XCTAssertEqual(loops.count, 3)
        server.shutdown()
        // The last loop thread releases its own reference just after shutdown() returns.
        let deadline = Date().addingTimeInterval(2)
        while loops.contains(where: { $0.object != nil }) && Date() < deadline { usleep(5_000) }
        XCTAssertEqual(loops.filter { $0.object != nil }.count, 0, "event loops still alive after shutdown")
    }
}

/// A weak reference, for checking that an object was freed.
final class WeakBox: @unchecked Sendable {
    weak var object: AnyObject?
    init(_ object: AnyObject) { self.object = object }
}

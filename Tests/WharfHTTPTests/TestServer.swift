import Foundation
import WharfHTTP
import WharfTestSupport
import XCTest

/// An error whose text must never reach a client.
struct SecretError: Error, CustomStringConvertible {
    var description: String { "database password is hunter2" }
}

/// Shared fixtures: a router covering the behaviours under test and a server on an ephemeral port.
enum Fixture {
    static func router(observedErrors: ErrorLog? = nil) -> Router {
        var router = Router()
        router.add(.GET, "/hello") { _, _ in .json(200, #"{"hello":"world"}"#) }
        router.add(.GET, "/items/{id}") { _, params in .json(200, #"{"id":"\#(params["id"]!)"}"#) }
        router.add(.PUT, "/items/{id}") { request, params in
            .json(200, #"{"id":"\#(params["id"]!)","bytes":\#(request.body.count)}"#)
        }
        router.add(.GET, "/items/special") { _, _ in .json(200, #"{"special":true}"#) }
        router.add(.POST, "/echo") { request, _ in
            var response = HTTPResponse.text(200, request.bodyText)
            response.headers.add(name: "X-Body-Length", value: String(request.body.count))
            return response
        }
        router.add(.POST, "/echo-bytes") { request, _ in HTTPResponse(status: 200, body: request.body) }
        router.add(.GET, "/path") { request, _ in
            let query = request.query.keys.sorted().map { "\($0)=\(request.query[$0]!)" }.joined(separator: "&")
            return .text(200, "\(request.path)|\(query)")
        }
        router.add(.GET, "/slow") { _, _ in
            usleep(400_000)
            return .text(200, "slow done")
        }
        router.add(.GET, "/problem") { request, _ in
            throw ProblemDetails(
                slug: "out-of-stock", title: "Out of stock", status: 409, detail: "SKU A-1 has no stock.",
                instance: request.path)
        }
        router.add(.GET, "/crash") { _, _ in throw SecretError() }
        router.add(.GET, "/split") { _, _ in
            var response = HTTPResponse.text(200, "ok")
            response.headers.add(name: "X-Injected", value: "a\r\nSet-Cookie: evil=1")
            return response
        }
        router.errorObserver = { _, error in observedErrors?.append("\(error)") }
        return router
    }

    /// A configuration for tests: ephemeral port, two loops, timeouts short enough to test but not flaky.
    static func configuration(_ customize: (inout HTTPServerConfiguration) -> Void = { _ in }) -> HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.eventLoopCount = 2
        configuration.handlerExecution = .threadPool(threads: 4)
        configuration.headerTimeout = .seconds(3)
        configuration.bodyTimeout = .seconds(3)
        configuration.idleTimeout = .seconds(5)
        configuration.writeTimeout = .seconds(3)
        configuration.shutdownTimeout = .seconds(2)
        configuration.maxRequestLineBytes = 1024
        configuration.maxHeaderBytes = 2048
        configuration.maxHeaderCount = 20
        configuration.maxBodyBytes = 4096
        customize(&configuration)
        return configuration
    }
}

/// A thread-safe list of strings (observed errors, log lines).
final class ErrorLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ item: String) { lock.lock(); items.append(item); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}

/// Base class: starts a server per test (`startServer`) and shuts every one down afterwards.
class ServerTestCase: XCTestCase {
    private var servers: [HTTPServer] = []
    let errors = ErrorLog()

    @discardableResult
    func startServer(
        router: Router? = nil, _ customize: (inout HTTPServerConfiguration) -> Void = { _ in },
        setUp: (HTTPServer) -> Void = { _ in }
    ) throws -> HTTPServer {
        let router = router ?? Fixture.router(observedErrors: errors)
        let server = HTTPServer(configuration: Fixture.configuration(customize), router: router)
        setUp(server)
        try server.start()
        servers.append(server)
        return server
    }

    func client(_ server: HTTPServer, timeout: TimeInterval = 5) throws -> TestHTTPClient {
        try TestHTTPClient(port: server.localPort, timeout: timeout)
    }

    /// Sends `raw` on a fresh connection and returns the single answer; asserts the server then closes.
    func rawExchange(
        _ server: HTTPServer, _ raw: String, expectClose: Bool = true, file: StaticString = #filePath, line: UInt = #line
    ) throws -> TestHTTPResponse {
        let client = try client(server)
        try client.sendRaw(raw)
        let response = try client.readResponse()
        if expectClose {
            XCTAssertEqual(response.header("Connection"), "close", "an error answer must announce the close", file: file, line: line)
            XCTAssertTrue(client.waitForClose(timeout: 3), "the server should close after \(response.status)", file: file, line: line)
        }
        return response
    }

    /// Asserts the server still answers a normal request.
    func assertServes(_ server: HTTPServer, file: StaticString = #filePath, line: UInt = #line) throws {
        let response = try client(server).send("GET", "/hello")
        XCTAssertEqual(response.status, 200, file: file, line: line)
        XCTAssertEqual(response.bodyText, #"{"hello":"world"}"#, file: file, line: line)
    }

    override func tearDown() {
        for server in servers { server.shutdown() }
        servers = []
        super.tearDown()
    }
}

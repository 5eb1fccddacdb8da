import Foundation
import WharfHTTP
import WharfTestSupport
import XCTest

/// Timeouts, disconnects, connection limits, concurrency, start errors and shutdown.
final class ConnectionTests: ServerTestCase {
    func testClientDisconnectMidHeadersAndMidBody() throws {
        let server = try startServer()
        for partial in [
            "GET /hello HTTP/1.1\r\nHost: x\r\nX-Half",
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part",
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
        ] {
            let client = try client(server)
            try client.sendRaw(partial)
            usleep(20_000)
            client.close()
        }
        // The abandoned connections are cleaned up and others are served.
        for _ in 0..<5 { try assertServes(server) }
    }

    func testAbandonedConnectionsAreReleasedPromptly() throws {
        // One slot and a long header timeout: each abandoned half-request must free the slot on the client's FIN,
        // not when a timer fires, or the next client would be refused.
        let server = try startServer { $0.maxConnections = 1; $0.headerTimeout = .seconds(30) }
        for i in 0..<15 {
            let quitter = try client(server)
            try quitter.sendRaw(i % 2 == 0 ? "GET /hello HTTP/1.1\r\nHo" : "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nab")
            quitter.close()
            var status = 0
            let deadline = Date().addingTimeInterval(1)
            while status != 200 && Date() < deadline {
                status = (try? client(server).send("GET", "/hello"))?.status ?? 0
                if status != 200 { usleep(10_000) }
            }
            XCTAssertEqual(status, 200, "round \(i): the abandoned connection still held the only slot")
        }
    }

    func testHeaderTimeoutClosesSlowClientWhileOthersAreServed() throws {
        let server = try startServer { $0.headerTimeout = .milliseconds(300) }
        let slow = try client(server)
        try slow.sendRaw("GET /hello HTTP/1.1\r\nHost: x\r\n")
        let started = Date()
        // Another client is served normally while the slow one dribbles.
        let other = try client(server)
        for _ in 0..<5 {
            XCTAssertEqual(try other.send("GET", "/hello").status, 200)
            try? slow.sendRaw("X-Drip: 1\r\n")
            usleep(40_000)
        }
        let response = try slow.readResponse()
        XCTAssertEqual(response.status, 408)
        XCTAssertEqual(try response.jsonObject()["type"] as? String, "https://wharf.dev/problems/request-timeout")
        XCTAssertTrue(slow.waitForClose(timeout: 3))
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThan(elapsed, 0.2, "closed before the header timeout")
        XCTAssertLessThan(elapsed, 2.5, "dripping bytes must not extend the header timeout")
        XCTAssertEqual(try other.send("GET", "/hello").status, 200)
    }

    func testBodyTimeoutAnswers408() throws {
        let server = try startServer { $0.bodyTimeout = .milliseconds(300) }
        let client = try client(server)
        try client.sendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 408)
        XCTAssertTrue(client.waitForClose(timeout: 3))
    }

    func testIdleKeepAliveConnectionIsClosed() throws {
        let server = try startServer { $0.idleTimeout = .milliseconds(300) }
        let client = try client(server)
        XCTAssertEqual(try client.send("GET", "/hello").status, 200)
        let started = Date()
        XCTAssertTrue(client.waitForClose(timeout: 3), "idle connection was not closed")
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 0.2)
        XCTAssertTrue(client.unreadBytes.isEmpty, "an idle close is silent (no 408)")
        // A connection that never sends anything is closed the same way.
        let silent = try self.client(server)
        XCTAssertTrue(silent.waitForClose(timeout: 3))
    }

    func testActiveConnectionIsNotClosedByIdleTimeout() throws {
        let server = try startServer { $0.idleTimeout = .milliseconds(300) }
        let client = try client(server)
        for _ in 0..<8 {
            XCTAssertEqual(try client.send("GET", "/hello").status, 200)
            usleep(100_000)
        }
    }

    func testMaxConnectionsRefusesExtraWithoutAffectingExisting() throws {
        let server = try startServer { $0.maxConnections = 3 }
        let clients = try (0..<3).map { _ in try client(server) }
        for c in clients { XCTAssertEqual(try c.send("GET", "/hello").status, 200) }
        let extra = try client(server)
        let refused = try extra.readResponse()
        XCTAssertEqual(refused.status, 503)
        XCTAssertEqual(refused.header("Retry-After"), "1")
        XCTAssertTrue(extra.waitForClose(timeout: 3))
        for c in clients { XCTAssertEqual(try c.send("GET", "/items/1").status, 200) }
        // Closing one frees a slot.
        clients[0].close()
        var served = false
        for _ in 0..<50 where !served {
            usleep(20_000)
            if let response = try? client(server).send("GET", "/hello"), response.status == 200 { served = true }
        }
        XCTAssertTrue(served, "a freed slot was not reused")
    }

    func testManyConcurrentKeepAliveConnections() throws {
        let server = try startServer()
        let failures = ErrorLog()
        let threads = 8, perThread = 25, rounds = 5
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            do {
                let clients = try (0..<perThread).map { _ in try TestHTTPClient(port: server.localPort, timeout: 10) }
                for round in 0..<rounds {
                    // Write on every connection first so all 200 are in flight together, then read.
                    for (i, c) in clients.enumerated() {
                        try c.sendRaw("GET /items/\(t)-\(i)-\(round) HTTP/1.1\r\nHost: x\r\n\r\n")
                    }
                    for (i, c) in clients.enumerated() {
                        let response = try c.readResponse()
                        if response.status != 200 || response.bodyText != #"{"id":"\#(t)-\#(i)-\#(round)"}"# {
                            failures.append("unexpected \(response.status) \(response.bodyText)")
                        }
                    }
                }
            } catch {
                failures.append("\(error)")
            }
        }
        XCTAssertEqual(failures.all, [])
    }

    func testAddressInUseErrorIsClear() throws {
        let first = try startServer()
        let second = HTTPServer(configuration: Fixture.configuration { $0.port = first.localPort }, router: Router())
        XCTAssertThrowsError(try second.start()) { error in
            let serverError = error as? HTTPServerError
            XCTAssertEqual(serverError?.code, .addressInUse)
            XCTAssertEqual(
                serverError?.description,
                "cannot listen on 127.0.0.1:\(first.localPort): address already in use; choose another port with `listen` in the manifest")
        }
        XCTAssertFalse(second.isRunning)
        try assertServes(first)
    }

    func testUnresolvableHostAndBadPortAreReported() {
        let badHost = HTTPServer(configuration: Fixture.configuration { $0.host = "no-such-host.invalid" }, router: Router())
        XCTAssertThrowsError(try badHost.start()) { XCTAssertEqual(($0 as? HTTPServerError)?.code, .addressUnavailable) }
        let badPort = HTTPServer(configuration: Fixture.configuration { $0.port = 70000 }, router: Router())
        XCTAssertThrowsError(try badPort.start()) { XCTAssertEqual(($0 as? HTTPServerError)?.code, .invalidConfiguration) }
    }

    func testEphemeralPortIsReported() throws {
        let server = try startServer()
        XCTAssertGreaterThan(server.localPort, 0)
        XCTAssertTrue(server.isRunning)
        XCTAssertThrowsError(try server.start()) { XCTAssertEqual(($0 as? HTTPServerError)?.code, .alreadyStarted) }
    }

    func testGracefulShutdownFinishesInFlightRequest() throws {
        let server = HTTPServer(configuration: Fixture.configuration(), router: Fixture.router())
        try server.start()
        let port = server.localPort
        let inFlight = try TestHTTPClient(port: port)
        try inFlight.sendRaw("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        let idle = try TestHTTPClient(port: port)
        XCTAssertEqual(try idle.send("GET", "/hello").status, 200)
        usleep(50_000)

        let started = Date()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            server.shutdown()
            done.signal()
        }
        XCTAssertTrue(idle.waitForClose(timeout: 2), "idle connections close at once on shutdown")
        let response = try inFlight.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.bodyText, "slow done")
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success, "shutdown is bounded")
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        XCTAssertFalse(server.isRunning)
        XCTAssertThrowsError(try TestHTTPClient(port: port), "the port is released after shutdown")
        server.waitUntilShutdown()  // returns at once now
    }

    func testShutdownForceClosesStuckRequestsAtTheDeadline() throws {
        var router = Router()
        router.add(.GET, "/stuck") { _, _ in
            usleep(1_500_000)
            return .noContent
        }
        let server = HTTPServer(
            configuration: Fixture.configuration { $0.shutdownTimeout = .milliseconds(200) }, router: router)
        try server.start()
        let client = try TestHTTPClient(port: server.localPort)
        try client.sendRaw("GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(50_000)
        let started = Date()
        server.shutdown()
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.4, "shutdown waited for a stuck handler past its deadline")
        XCTAssertTrue(client.waitForClose(timeout: 1))
    }

    func testWaitUntilShutdownReturnsAfterShutdownFromHandler() throws {
        let holder = ServerHolder()
        var router = Router()
        router.add(.POST, "/shutdown") { _, _ in
            holder.server?.shutdown()
            return .noContent
        }
        let server = HTTPServer(configuration: Fixture.configuration(), router: router)
        holder.server = server
        try server.start()
        let client = try TestHTTPClient(port: server.localPort)
        XCTAssertEqual(try client.send("POST", "/shutdown").status, 204)
        let waited = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            server.waitUntilShutdown()
            waited.signal()
        }
        XCTAssertEqual(waited.wait(timeout: .now() + 5), .success)
        holder.server = nil
    }
}

final class ServerHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var value: HTTPServer?
    var server: HTTPServer? {
        get { lock.lock(); defer { lock.unlock() }; return value }
        set { lock.lock(); value = newValue; lock.unlock() }
    }
}

/// Slow readers and answers that end a connection part-way through a pipeline.
final class WriteTests: ServerTestCase {
    func testWriteTimeoutClosesClientThatDoesNotRead() throws {
        let size = 48 * 1024 * 1024
        var router = Router()
        router.add(.GET, "/huge") { _, _ in HTTPResponse(status: 200, body: [UInt8](repeating: 0x61, count: size)) }
        let server = try startServer(router: router) { $0.writeTimeout = .milliseconds(300) }
        let client = try client(server)
        try client.sendRaw("GET /huge HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(1_200_000)  // read nothing for well over the write timeout
        XCTAssertThrowsError(try client.readResponse(), "a client that stops reading must be cut off") { error in
            XCTAssertEqual((error as? TestHTTPClientError)?.connectionClosed, true, "\(error)")
        }
    }

    func testRequestsAfterConnectionCloseAreNotAnswered() throws {
        let server = try startServer()
        let client = try client(server)
        try client.sendRaw(
            "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /items/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                + "GET /items/3 HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try client.readResponse().bodyText, #"{"id":"1"}"#)
        let second = try client.readResponse()
        XCTAssertEqual(second.bodyText, #"{"id":"2"}"#)
        XCTAssertEqual(second.header("Connection"), "close")
        XCTAssertTrue(client.waitForClose(timeout: 3))
        XCTAssertTrue(client.unreadBytes.isEmpty, "nothing may follow the answer that closed the connection")
    }
}

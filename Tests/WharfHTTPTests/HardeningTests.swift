import Foundation
import WharfHTTP
import WharfTestSupport
import XCTest

/// Issue 5, item 3: the server under hostile or heavy clients, over real loopback sockets. Limits come from
/// `Fixture.configuration` (request line 1 KiB, headers 2 KiB and 20 fields, body 4 KiB) unless a test sets its own.
final class HardeningTests: ServerTestCase {
    /// Slowloris: several clients dribble a request's headers one byte a second. The others' requests must still be
    /// answered at once, and the dribblers must be cut off when the header timeout (counted from their first byte,
    /// not their last) runs out.
    func testClientsDribblingHeadersByteByByteDoNotStarveOthers() throws {
        let headerTimeout = 2.0
        let server = try startServer { $0.headerTimeout = .milliseconds(Int64(headerTimeout * 1000)) }
        let request = Array("GET /hello HTTP/1.1\r\nHost: slow\r\nX-Padding: \(String(repeating: "p", count: 40))\r\n\r\n".utf8)
        let dribblers = 8
        let results = ErrorLog()
        let finished = DispatchGroup()
        for index in 0..<dribblers {
            let thread = Thread {
                defer { finished.leave() }
                do {
                    // The read timeout is the pause between bytes: wait a second for an answer, else send a byte.
                    let client = try TestHTTPClient(port: server.localPort, timeout: 1)
                    // Stagger the dribblers across the second so some byte arrives every ~125 ms.
                    usleep(useconds_t(index * 125_000))
                    try client.sendRaw([request[0]])
                    let started = Date()
                    var sent = 1
                    while true {
                        do {
                            let response = try client.readResponse()
                            let elapsed = Date().timeIntervalSince(started)
                            results.append("\(response.status) after \(String(format: "%.1f", elapsed)) s and \(sent) bytes")
                            if response.status != 408 || elapsed < headerTimeout - 0.3 || elapsed > headerTimeout + 1 {
                                results.append("WRONG")
                            }
                            break
                        } catch let error as TestHTTPClientError where error.timedOut {
                            if Date().timeIntervalSince(started) > headerTimeout + 2 || sent == request.count {
                                results.append("dribbler \(index): no answer after \(sent) bytes")
                                results.append("WRONG")
                                break
                            }
                            try client.sendRaw([request[sent]])
                            sent += 1
                        }
                    }
                } catch {
                    results.append("dribbler \(index): \(error)")
                    results.append("WRONG")
                }
            }
            finished.enter()
            thread.start()
        }

        // Meanwhile a normal client keeps asking; every answer must come back promptly.
        let normal = try client(server)
        var latencies: [TimeInterval] = []
        let until = Date().addingTimeInterval(headerTimeout + 1)
        while Date() < until {
            let started = Date()
            XCTAssertEqual(try normal.send("GET", "/items/\(latencies.count)").status, 200)
            latencies.append(Date().timeIntervalSince(started))
            usleep(20_000)
        }
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success, "the dribblers did not finish")
        let slowest = latencies.max() ?? 0
        XCTAssertGreaterThan(latencies.count, 50)
        XCTAssertLessThan(slowest, 0.25, "a normal request waited \(slowest)s while clients dribbled")
        XCTAssertFalse(results.all.contains("WRONG"), "dribblers: \(results.all)")
        XCTAssertEqual(results.all.filter { $0.hasPrefix("408") }.count, dribblers, "\(results.all)")
        try assertServes(server)
    }

    /// Many connections that sent half a request and went quiet do not slow down a client that talks normally.
    func testManyStalledPartialRequestsDoNotSlowOthers() throws {
        let server = try startServer { $0.headerTimeout = .seconds(10); $0.bodyTimeout = .seconds(10) }
        var stalled: [TestHTTPClient] = []
        for i in 0..<300 {
            let client = try client(server)
            switch i % 3 {
            case 0: try client.sendRaw("GET /hello HTTP/1.1\r\nHo")
            case 1: try client.sendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf")
            default: try client.sendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc")
            }
            stalled.append(client)
        }
        let normal = try client(server)
        let started = Date()
        for i in 0..<200 { XCTAssertEqual(try normal.send("GET", "/items/\(i)").bodyText, #"{"id":"\#(i)"}"#) }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "200 requests beside 300 stalled connections were slow")
        for client in stalled { client.close() }
    }

    /// A burst of clients from several threads against a limit of 16: exactly 16 are served, every other one gets a
    /// 503 with `Retry-After` and a close, and the slots come back when the 16 leave.
    func testConnectionLimitHoldsUnderAConcurrentBurst() throws {
        let server = try startServer { $0.maxConnections = 16 }
        let outcomes = ErrorLog()
        let holders = ClientList()
        let finished = DispatchGroup()
        for _ in 0..<8 {
            finished.enter()
            Thread {
                defer { finished.leave() }
                for _ in 0..<5 {
                    do {
                        // A refused client is answered at once, unasked; an accepted one hears nothing until it asks.
                        // (Asking first could race the refusal's close into a reset that swallows the 503.)
                        let client = try TestHTTPClient(port: server.localPort, timeout: 0.25)
                        holders.append(client)
                        let response: TestHTTPResponse
                        do {
                            response = try client.readResponse()
                        } catch let error as TestHTTPClientError where error.timedOut {
                            client.timeout = 5
                            response = try client.send("GET", "/hello")
                        }
                        if response.status == 503 {
                            outcomes.append(response.header("Retry-After") == "1" && client.waitForClose(timeout: 3) ? "503" : "503 without Retry-After or close")
                        } else {
                            outcomes.append("\(response.status)")
                        }
                    } catch {
                        outcomes.append("error: \(error)")
                    }
                }
            }.start()
        }
        XCTAssertEqual(finished.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(outcomes.all.filter { $0 == "200" }.count, 16, "\(outcomes.all)")
        XCTAssertEqual(outcomes.all.filter { $0 == "503" }.count, 24, "\(outcomes.all)")
        holders.closeAll()
        var served = false
        let deadline = Date().addingTimeInterval(2)
        while !served && Date() < deadline {
            served = (try? client(server).send("GET", "/hello").status) == 200
            if !served { usleep(10_000) }
        }
        XCTAssertTrue(served, "the slots were not given back")
    }

    /// 10,000 keep-alive requests from 64 clients on their own threads, all at once: every answer is right, and the
    /// server saw exactly 64 connections (no client was dropped and had to reconnect).
    func testTenThousandKeepAliveRequestsFromSixtyFourConcurrentClients() throws {
        let remotes = ErrorLog()
        let server = try startServer { $0.maxConnections = 200 } setUp: { server in
            server.onRequestCompleted = { request, _, _ in
                if request.headers["X-Seq"] == "0" { remotes.append(request.remoteAddress) }
            }
        }
        let clients = 64, total = 10_000
        let failures = ErrorLog()
        let ready = DispatchGroup(), done = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        let completed = Counter()
        for t in 0..<clients {
            let count = total / clients + (t < total % clients ? 1 : 0)
            ready.enter()
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                let client: TestHTTPClient
                do {
                    client = try TestHTTPClient(port: server.localPort, timeout: 10)
                } catch {
                    failures.append("client \(t) could not connect: \(error)")
                    ready.leave()
                    return
                }
                ready.leave()
                go.wait()
                for i in 0..<count {
                    do {
                        if i % 4 == 3 {
                            let body = Array("\(t):\(i)".utf8)
                            let response = try client.send("PUT", "/items/\(t)-\(i)", headers: [("X-Seq", "\(i)")], body: body)
                            guard response.status == 200, response.bodyText == #"{"id":"\#(t)-\#(i)","bytes":\#(body.count)}"# else {
                                failures.append("client \(t) request \(i): \(response.status) \(response.bodyText)")
                                return
                            }
                        } else {
                            let response = try client.send("GET", "/items/\(t)-\(i)", headers: [("X-Seq", "\(i)")])
                            guard response.status == 200, response.bodyText == #"{"id":"\#(t)-\#(i)"}"# else {
                                failures.append("client \(t) request \(i): \(response.status) \(response.bodyText)")
                                return
                            }
                        }
                        completed.increment()
                    } catch {
                        failures.append("client \(t) request \(i): \(error)")
                        return
                    }
                }
            }
            thread.start()
        }
        XCTAssertEqual(ready.wait(timeout: .now() + 10), .success)
        let started = Date()
        for _ in 0..<clients { go.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success, "the clients did not finish")
        let seconds = Date().timeIntervalSince(started)
        XCTAssertEqual(failures.all, [])
        XCTAssertEqual(completed.value, total)
        XCTAssertEqual(Set(remotes.all).count, clients, "each client kept one connection for all its requests")
        print("10,000 keep-alive requests from 64 clients in \(String(format: "%.2f", seconds)) s")
    }

    /// Framing shapes beyond `LimitTests.testSmugglingShapesAreRefused` that two HTTP implementations could read
    /// differently: each is refused with 400 and the connection closed.
    func testMoreSmugglingShapesAreRefused() throws {
        let shapes: [(String, String)] = [
            ("CL empty", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n"),
            ("CL space inside", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\nabcdefghijkl"),
            ("CL list with empty item", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3,,3\r\n\r\nabc"),
            ("CL differing case", "POST /echo HTTP/1.1\r\nHost: x\r\ncontent-length: 3\r\nCONTENT-LENGTH: 4\r\n\r\nabcd"),
            ("CL with NUL", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\u{0}\r\n\r\nabc"),
            ("CL vertical tab name", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length\u{0B}: 3\r\n\r\nabc"),
            ("TE chunked twice in a list", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
            ("TE with parameter", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n"),
            ("TE prefixed", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
            ("TE identity", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc"),
            ("TE differing case twice", "POST /echo HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\nTRANSFER-ENCODING: chunked\r\n\r\n0\r\n\r\n"),
            ("TE folded", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"),
            ("CL+TE in HTTP/1.0", "POST /echo HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("chunk size overflow", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000003\r\nabc\r\n0\r\n\r\n"),
            ("chunk size negative", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n"),
            ("chunk size 0x", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n"),
            ("chunk size bare LF", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n"),
            ("chunk data bare LF", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n"),
            ("chunk ext control", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\u{1}\r\nabc\r\n0\r\n\r\n"),
            ("last chunk bare LF", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\n\r\n"),
            ("trailer bare LF", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\r\n"),
            ("headers end in bare LF", "GET /hello HTTP/1.1\r\nHost: x\r\n\n"),
            ("CR inside request line", "GET /hel\rlo HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("trailing space after version", "GET /hello HTTP/1.1 \r\nHost: x\r\n\r\n"),
            ("lowercase version", "GET /hello http/1.1\r\nHost: x\r\n\r\n"),
            ("tab between parts", "GET\t/hello HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("NUL in header name", "GET /hello HTTP/1.1\r\nHost: x\r\nX-\u{0}A: 1\r\n\r\n"),
            ("header without name", "GET /hello HTTP/1.1\r\nHost: x\r\n:1\r\n\r\n"),
            ("Host twice differing case", "GET /hello HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"),
        ]
        let server = try startServer()
        for (name, raw) in shapes {
            let response = try rawExchange(server, raw)
            XCTAssertEqual(response.status, 400, "\(name) must be refused with 400")
            XCTAssertEqual(response.header("Content-Type"), "application/problem+json", name)
        }
        try assertServes(server)
    }

    /// The classic smuggling payload: a request hidden in the body of a refused one is never parsed or answered.
    func testRequestHiddenBehindRefusedFramingIsNeverAnswered() throws {
        let seen = ErrorLog()
        let server = try startServer { _ in } setUp: { server in
            server.onRequestCompleted = { request, _, _ in seen.append(request.target) }
        }
        for framing in [
            "Content-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
            "Content-Length: 0\r\nContent-Length: 44\r\n\r\n",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
        ] {
            let client = try client(server)
            try client.sendRaw("POST /echo HTTP/1.1\r\nHost: x\r\n\(framing)GET /items/smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertEqual(try client.readResponse().status, 400, framing)
            XCTAssertTrue(client.waitForClose(timeout: 3), framing)
            XCTAssertTrue(client.unreadBytes.isEmpty, "a second answer followed the refusal: \(framing)")
        }
        XCTAssertFalse(seen.all.contains("/items/smuggled"), "the hidden request reached a handler: \(seen.all)")
    }

    /// A header block that never ends is refused with 431 as soon as it passes the limit, not after a timeout; so is
    /// a trailer section that grows past it. A chunk-size line that never ends is refused with 400.
    func testOversizedUnfinishedHeadersTrailersAndChunkLines() throws {
        let server = try startServer { $0.headerTimeout = .seconds(30); $0.bodyTimeout = .seconds(30) }
        let endless = "GET /hello HTTP/1.1\r\nHost: x\r\n" + (0..<200).map { "X-Field-\($0): \(String(repeating: "v", count: 200))\r\n" }.joined()
        var started = Date()
        var response = try rawExchange(server, endless)
        XCTAssertEqual(response.status, 431)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "431 must not wait for a timeout")

        let oneLongLine = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Long: " + String(repeating: "v", count: 5000)
        response = try rawExchange(server, oneLongLine)
        XCTAssertEqual(response.status, 431)

        let trailers = (0..<200).map { "X-Trailer-\($0): value\r\n" }.joined()
        response = try rawExchange(
            server, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\(trailers)\r\n")
        XCTAssertEqual(response.status, 431)

        started = Date()
        response = try rawExchange(
            server, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;" + String(repeating: "e", count: 6000))
        XCTAssertEqual(response.status, 400)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        try assertServes(server)
    }

    /// A request whose body passes the limit only in its last chunk is refused with 413 when that chunk's size
    /// arrives, before its data; the declared length of an unread body is refused before any of it is read.
    func testOversizedBodiesAreRefusedBeforeTheyAreRead() throws {
        let server = try startServer()
        let client = try client(server)
        try client.sendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 413)
        XCTAssertTrue(client.waitForClose(timeout: 3))

        let chunked = try self.client(server)
        try chunked.sendRaw(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n\(String(repeating: "a", count: 2048))\r\n801\r\n")
        XCTAssertEqual(try chunked.readResponse().status, 413)
        XCTAssertTrue(chunked.waitForClose(timeout: 3))
    }
}

/// Clients kept open until the test says otherwise (thread-safe).
final class ClientList: @unchecked Sendable {
    private let lock = NSLock()
    private var clients: [TestHTTPClient] = []
    func append(_ client: TestHTTPClient) { lock.lock(); clients.append(client); lock.unlock() }
    func closeAll() { lock.lock(); for client in clients { client.close() }; clients = []; lock.unlock() }
}

/// A thread-safe counter.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

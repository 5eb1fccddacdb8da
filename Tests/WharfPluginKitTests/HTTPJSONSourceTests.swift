import Foundation
import Synchronization
import WharfPluginKit
import WharfTestSupport
import XCTest

/// The waits a client asked for, recorded instead of slept (so retry tests run at once).
private final class Waits: Sendable {
    let values = Mutex<[Double]>([])
    var all: [Double] { values.withLock { $0 } }
    var sleep: @Sendable (Double) -> Void { { seconds in self.values.withLock { $0.append(seconds) } } }
}

/// Log lines a client wrote.
private final class LogLines: Sendable {
    let values = Mutex<[String]>([])
    var all: [String] { values.withLock { $0 } }
}

private let secretToken = "s3cr3t-T0KEN-value"

final class HTTPJSONSourceTests: XCTestCase {
    var server: StubHTTPServer!
    private var waits: Waits!

    override func setUpWithError() throws {
        server = try StubHTTPServer()
        waits = Waits()
    }

    override func tearDown() {
        server.stop()
        server = nil
    }

    private func client(
        retry: HTTPRetryPolicy = HTTPRetryPolicy(maxAttempts: 4, initialDelay: 0.25, jitter: 0), timeout: Double = 5,
        logs: LogLines? = nil
    ) throws -> HTTPJSONClient {
        let sink = logs.map { box in { @Sendable (_: LogLevel, line: String) in box.values.withLock { $0.append(line) } } }
        return try HTTPJSONClient(
            baseURL: server.baseURL + "/api/", auth: HTTPAuth(secret: secretToken), timeout: timeout, retry: retry,
            log: sink, sleep: waits.sleep)
    }

    /// Serves `total` items `{ "sku": "SKU-n" }` under `data`, paged by offset/limit.
    private func serveOffsetItems(total: Int) {
        server.handle("GET", "/api/prices") { request in
            let offset = Int(request.queryValue("offset") ?? "0") ?? 0
            let limit = Int(request.queryValue("limit") ?? "10") ?? 10
            let items = (offset..<min(total, offset + limit)).map { "{\"sku\":\"SKU-\($0)\"}" }
            return .json("{\"data\":[\(items.joined(separator: ","))],\"total\":\(total)}")
        }
    }

    private func skus(_ pages: [HTTPJSONPage]) -> [String] {
        pages.flatMap { $0.items.compactMap { $0["sku"]?.stringValue } }
    }

    func testOffsetPagingReadsEveryPageWithAuthAndModifiedSince() throws {
        serveOffsetItems(total: 25)
        let source = HTTPJSONSource(
            client: try client(), path: "prices", query: [("currency", "EUR")], paging: .offset(pageSize: 10),
            itemsPath: "data", modifiedSince: ("updated_since", "2026-01-01T00:00:00+01:00"))
        var pages: [HTTPJSONPage] = []
        let count = try source.forEachPage { pages.append($0); return true }
        XCTAssertEqual(count, 3)
        XCTAssertEqual(skus(pages), (0..<25).map { "SKU-\($0)" })
        XCTAssertEqual(pages.map(\.firstItemIndex), [0, 10, 20])
        let requests = server.requests("GET", "/api/prices")
        XCTAssertEqual(requests.map { $0.queryValue("offset") }, ["0", "10", "20"])
        for request in requests {
            XCTAssertEqual(request.header("Authorization"), "Bearer \(secretToken)")
            XCTAssertEqual(request.queryValue("updated_since"), "2026-01-01T00:00:00+01:00", "a '+' must survive the query")
            XCTAssertEqual(request.queryValue("currency"), "EUR")
            XCTAssertEqual(request.queryValue("limit"), "10")
        }
    }

    func testFullReadSendsNoModifiedSince() throws {
        serveOffsetItems(total: 3)
        let source = HTTPJSONSource(
            client: try client(), path: "prices", paging: .offset(pageSize: 10), itemsPath: "data",
            modifiedSince: ("updated_since", nil))
        try source.forEachPage { _ in true }
        XCTAssertNil(server.requests.first?.queryValue("updated_since"))
        XCTAssertEqual(server.requests.count, 1, "a short first page ends the read")
    }

    func testPageNumberPaging() throws {
        server.handle("GET", "/api/lists") { request in
            let page = Int(request.queryValue("p") ?? "0") ?? 0
            let items = page <= 2 ? "[{\"sku\":\"A\(page)\"},{\"sku\":\"B\(page)\"}]" : "[]"
            return .json(items)
        }
        let source = HTTPJSONSource(
            client: try client(), path: "/lists", paging: .page(pageParameter: "p", sizeParameter: "size", pageSize: 2, firstPage: 1))
        var pages: [HTTPJSONPage] = []
        try source.forEachPage { pages.append($0); return true }
        XCTAssertEqual(skus(pages), ["A1", "B1", "A2", "B2"])
        XCTAssertEqual(server.requests.map { $0.queryValue("p") }, ["1", "2", "3"], "an empty page ends the read")
    }

    func testCursorPaging() throws {
        server.handle("GET", "/api/entries") { request in
            switch request.queryValue("after") {
            case nil: return .json("{\"items\":[{\"sku\":\"1\"}],\"meta\":{\"next\":\"c2\"}}")
            case "c2"?: return .json("{\"items\":[{\"sku\":\"2\"}],\"meta\":{\"next\":\"c3\"}}")
            default: return .json("{\"items\":[{\"sku\":\"3\"}],\"meta\":{\"next\":null}}")
            }
        }
        let source = HTTPJSONSource(client: try client(), path: "entries", paging: .cursor(parameter: "after", nextPath: "meta.next"), itemsPath: "items")
        var pages: [HTTPJSONPage] = []
        try source.forEachPage { pages.append($0); return true }
        XCTAssertEqual(skus(pages), ["1", "2", "3"])
        XCTAssertEqual(server.requests.map { $0.queryValue("after") }, [nil, "c2", "c3"])
    }

    func testNextLinkPagingResolvesRelativeLinks() throws {
        server.handle("GET", "/api/export") { request in
            request.queryValue("page") == "2"
                ? .json("{\"results\":[{\"sku\":\"y\"}]}")
                : .json("{\"results\":[{\"sku\":\"x\"}],\"links\":{\"next\":\"/api/export?page=2\"}}")
        }
        let source = HTTPJSONSource(client: try client(), path: "export", paging: .nextLink(nextPath: "links.next"), itemsPath: "results")
        var pages: [HTTPJSONPage] = []
        try source.forEachPage { pages.append($0); return true }
        XCTAssertEqual(skus(pages), ["x", "y"])
        XCTAssertEqual(server.requests.last?.header("Authorization"), "Bearer \(secretToken)")
    }

    func testNextLinkToAnotherOriginGetsNoCredentials() throws {
        let other = try StubHTTPServer()
        defer { other.stop() }
        other.handle("GET", "/elsewhere") { _ in .json("{\"results\":[]}") }
        server.handle("GET", "/api/export") { _ in .json("{\"results\":[{\"sku\":\"x\"}],\"next\":\"\(other.baseURL)/elsewhere\"}") }
        let source = HTTPJSONSource(client: try client(), path: "export", paging: .nextLink(), itemsPath: "results")
        try source.forEachPage { _ in true }
        XCTAssertEqual(other.requests.count, 1)
        XCTAssertNil(other.requests.first?.header("Authorization"))
    }

    func testRepeatingCursorIsAnErrorNotALoop() throws {
        server.handle("GET", "/api/loop") { _ in .json("{\"items\":[{\"sku\":\"1\"}],\"next\":\"same\"}") }
        let source = HTTPJSONSource(client: try client(), path: "loop", paging: .cursor(nextPath: "next"), itemsPath: "items")
        XCTAssertThrowsError(try source.forEachPage { _ in true }) { error in
            XCTAssertTrue("\(error)".contains("repeats"), "\(error)")
        }
        XCTAssertEqual(server.requests.count, 2)
    }

    func testA503PageIsRetriedWithBackoff() throws {
        serveOffsetItems(total: 15)
        server.failOnce("GET", "/api/prices", with: .serviceUnavailable(), when: { $0.queryValue("offset") == "10" })
        let logs = LogLines()
        let source = HTTPJSONSource(client: try client(logs: logs), path: "prices", paging: .offset(pageSize: 10), itemsPath: "data")
        var pages: [HTTPJSONPage] = []
        try source.forEachPage { pages.append($0); return true }
        XCTAssertEqual(skus(pages).count, 15)
        XCTAssertEqual(server.requests.map { $0.queryValue("offset") }, ["0", "10", "10"])
        XCTAssertEqual(waits.all, [0.25])
        let lines = logs.all
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines[0].contains("HTTP 503") && lines[0].contains("attempt 2 of 4"), lines[0])
        XCTAssertFalse(lines[0].contains(secretToken))
    }

    func testA429WaitsForRetryAfterSeconds() throws {
        serveOffsetItems(total: 5)
        server.failOnce("GET", "/api/prices", with: .tooManyRequests(retryAfter: "3"))
        let source = HTTPJSONSource(client: try client(), path: "prices", paging: .offset(pageSize: 10), itemsPath: "data")
        try source.forEachPage { _ in true }
        XCTAssertEqual(waits.all, [3])
        XCTAssertEqual(server.requests.count, 2)
    }

    func testA429WithAnHTTPDateRetryAfter() throws {
        serveOffsetItems(total: 5)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        server.failOnce("GET", "/api/prices", with: .tooManyRequests(retryAfter: formatter.string(from: Date().addingTimeInterval(20))))
        let source = HTTPJSONSource(client: try client(), path: "prices", paging: .offset(pageSize: 10), itemsPath: "data")
        try source.forEachPage { _ in true }
        XCTAssertEqual(waits.all.count, 1)
        XCTAssertTrue((17...20).contains(waits.all[0]), "waited \(waits.all)")
    }

    func testParseRetryAfter() {
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        XCTAssertEqual(HTTPJSONClient.parseRetryAfter("120", now: now), 120)
        XCTAssertEqual(HTTPJSONClient.parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now: now), 30)
        XCTAssertEqual(HTTPJSONClient.parseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now: now), 0, "a past date means now")
        XCTAssertNil(HTTPJSONClient.parseRetryAfter("soon", now: now))
        XCTAssertNil(HTTPJSONClient.parseRetryAfter("-5", now: now))
    }

    func testRetryAfterLongerThanAllowedGivesUpAtOnce() throws {
        server.handle("GET", "/api/slow") { _ in .tooManyRequests(retryAfter: "3600") }
        let client = try client(retry: HTTPRetryPolicy(maxAttempts: 5, maxRetryAfter: 60))
        XCTAssertThrowsError(try client.getJSON("slow")) { error in
            let error = error as! HTTPSourceError
            XCTAssertEqual(error.status, 429)
            XCTAssertEqual(error.retryAfter, 3600)
            XCTAssertTrue(error.description.contains("Retry-After"), error.description)
        }
        XCTAssertEqual(server.requests.count, 1)
        XCTAssertEqual(waits.all, [])
    }

    func testGivesUpAfterBoundedAttemptsWithURLStatusAndBodyButNoSecret() throws {
        // The server echoes the credential in its error body: the client must not repeat it.
        server.handle("GET", "/api/broken") { request in
            .text("internal error for token \(request.header("Authorization") ?? "")", status: 500)
        }
        let client = try client(retry: HTTPRetryPolicy(maxAttempts: 3, initialDelay: 0.5, multiplier: 2, jitter: 0))
        XCTAssertThrowsError(try client.getJSON("broken", query: [("x", "1")])) { error in
            let error = error as! HTTPSourceError
            XCTAssertEqual(error.code, .status)
            XCTAssertEqual(error.status, 500)
            XCTAssertEqual(error.attempts, 3)
            let text = error.description
            XCTAssertTrue(text.contains("GET \(self.server.baseURL)/api/broken?x=1"), text)
            XCTAssertTrue(text.contains("after 3 attempts"), text)
            XCTAssertTrue(text.contains("internal error for token"), text)
            XCTAssertFalse(text.contains(secretToken), text)
            XCTAssertFalse(error.pluginError.message.contains(secretToken))
            XCTAssertEqual(error.pluginError.status, .remote)
        }
        XCTAssertEqual(server.requests.count, 3)
        XCTAssertEqual(waits.all, [0.5, 1.0])
    }

    func testClientErrorsAreNotRetried() throws {
        server.handle("GET", "/api/missing") { _ in .json("{\"error\":\"no such list\"}", status: 404) }
        XCTAssertThrowsError(try client().getJSON("missing")) { error in
            let error = error as! HTTPSourceError
            XCTAssertEqual(error.status, 404)
            XCTAssertTrue(error.description.contains("no such list"))
        }
        // What the server received is the proof: one request, not retried. (The client's attempt count may include a
        // transport failure before the request reached the server, which is retried for a GET, as it should be.)
        XCTAssertEqual(server.requests("GET", "/api/missing").count, 1)
    }

    func testConnectionRefusedIsRetriedThenReported() throws {
        let dead = try StubHTTPServer()
        let url = dead.baseURL
        dead.stop()
        let client = try HTTPJSONClient(
            baseURL: url, timeout: 2, retry: HTTPRetryPolicy(maxAttempts: 2, initialDelay: 0.1, jitter: 0), sleep: waits.sleep)
        XCTAssertThrowsError(try client.getJSON("/x")) { error in
            let error = error as! HTTPSourceError
            XCTAssertEqual(error.code, .connection, error.description)
            XCTAssertEqual(error.attempts, 2)
            XCTAssertEqual(error.pluginError.status, .io)
        }
        XCTAssertEqual(waits.all, [0.1])
    }

    func testSlowAnswerTimesOut() throws {
        server.handle("GET", "/api/sleepy") { _ in .json("{}", delay: 3) }
        let client = try client(retry: HTTPRetryPolicy(maxAttempts: 1), timeout: 0.5)
        XCTAssertThrowsError(try client.getJSON("sleepy")) { error in
            let error = error as! HTTPSourceError
            XCTAssertEqual(error.code, .timeout, error.description)
            XCTAssertEqual(error.pluginError.status, .timeout)
        }
    }

    func testPostSendsJSONAndIsNotRetriedByDefault() throws {
        server.handle("POST", "/api/accounts") { request in
            .json("{\"id\":\"42\",\"echo\":\(request.bodyText)}", status: 201)
        }
        let body = JSON.object(JSONObject([("name", .string("Acme \"B2B\"")), ("credit", .number("1000.50"))]))
        let answer = try client().postJSON("accounts", body: body)
        XCTAssertEqual(answer["id"]?.stringValue, "42")
        XCTAssertEqual(answer["echo"], body)
        let request = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(request.header("Content-Type"), "application/json")
        XCTAssertEqual(request.header("Authorization"), "Bearer \(secretToken)")

        server.failOnce("POST", "/api/accounts", with: .serviceUnavailable())
        XCTAssertThrowsError(try client().postJSON("accounts", body: body)) { error in
            XCTAssertEqual((error as! HTTPSourceError).status, 503)
        }
        XCTAssertEqual(server.requests("POST", "/api/accounts").count, 2, "a POST is sent once unless declared retryable")
        XCTAssertEqual(try client().postJSON("accounts", body: body, retryable: true)["id"]?.stringValue, "42")
    }

    func testSingleGetWithSendReturnsHeaders() throws {
        server.handle("GET", "/api/one") { _ in StubResponse(status: 200, headers: [("X-Total", "7")], body: Array("[1,2]".utf8)) }
        let response = try client().send(HTTPJSONRequest(path: "one"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("x-total"), "7")
        XCTAssertEqual(try response.json(), JSON.array([JSON.number("1"), JSON.number("2")]))
    }

    func testItemsNotWhereTheMappingSaysIsAClearError() throws {
        server.handle("GET", "/api/odd") { _ in .json("{\"rows\":[]}") }
        let source = HTTPJSONSource(client: try client(), path: "odd", paging: .none, itemsPath: "data")
        XCTAssertThrowsError(try source.forEachPage { _ in true }) { error in
            XCTAssertTrue("\(error)".contains("\"data\"") && "\(error)".contains("itemsPath"), "\(error)")
        }
        server.handle("GET", "/api/html") { _ in StubResponse(status: 200, body: Array("<html>oops</html>".utf8)) }
        XCTAssertThrowsError(try client().getJSON("html")) { error in
            XCTAssertTrue("\(error)".contains("not valid JSON") && "\(error)".contains("<html>oops"), "\(error)")
        }
    }

    func testConfigParsingNamesThePath() throws {
        XCTAssertEqual(try HTTPPaging.parse(JSON.parse("{\"mode\":\"cursor\",\"next\":\"meta.next\"}"), path: "config.paging"),
                       .cursor(parameter: "cursor", nextPath: "meta.next"))
        XCTAssertEqual(try HTTPPaging.parse(nil, path: "config.paging"), HTTPPaging.none)
        XCTAssertThrowsError(try HTTPPaging.parse(JSON.parse("{\"mode\":\"pages\"}"), path: "config.paging")) { error in
            XCTAssertTrue("\(error)".hasPrefix("config.paging.mode must be"), "\(error)")
        }
        XCTAssertThrowsError(try HTTPPaging.parse(JSON.parse("{\"mode\":\"offset\",\"pageSize\":0}"), path: "config.paging")) { error in
            XCTAssertTrue("\(error)".hasPrefix("config.paging.pageSize"), "\(error)")
        }
        let auth = try HTTPAuth.parse(JSON.parse("{\"header\":\"X-Api-Key\",\"scheme\":\"\",\"secret\":\"env:K\"}"), path: "config.auth") {
            reference throws(PluginError) in
            XCTAssertEqual(reference, "env:K")
            return "key-123"
        }
        XCTAssertEqual(auth.header, "X-Api-Key")
        XCTAssertEqual(auth.value, "key-123")
        XCTAssertFalse(auth.description.contains("key-123"))
        XCTAssertThrowsError(try HTTPAuth.parse(JSON.parse("{\"secret\":\"plain-token\"}"), path: "config.auth") { _ throws(PluginError) in "" }) { error in
            XCTAssertTrue("\(error)".contains("config.auth.secret must be a secret reference"), "\(error)")
        }
    }

    func testBackoffGrowsAndIsBounded() {
        let policy = HTTPRetryPolicy(initialDelay: 1, maxDelay: 5, multiplier: 2, jitter: 0.5)
        XCTAssertEqual(policy.backoff(retry: 1, random: 0), 1)
        XCTAssertEqual(policy.backoff(retry: 2, random: 0), 2)
        XCTAssertEqual(policy.backoff(retry: 10, random: 0), 5)
        XCTAssertEqual(policy.backoff(retry: 2, random: 1), 3)
        XCTAssertEqual(policy.backoff(retry: 2, random: -1), 1)
    }

    func testStubServerRecordsRequestsAndAnswers404ForUnknownRoutes() throws {
        server.handle("PUT", prefix: "/api/items/") { request in .json("{\"path\":\"\(request.path)\"}") }
        let client = try client()
        let response = try client.send(HTTPJSONRequest(method: "PUT", path: "items/7", query: [("q", "a b&c")], body: Array("{}".utf8)))
        XCTAssertEqual(try response.json()["path"]?.stringValue, "/api/items/7")
        XCTAssertThrowsError(try client.getJSON("nowhere"))
        let requests = server.requests
        XCTAssertEqual(requests.map(\.method), ["PUT", "GET"])
        XCTAssertEqual(requests[0].queryValue("q"), "a b&c")
        XCTAssertEqual(requests[0].bodyText, "{}")
        XCTAssertEqual(requests.map(\.sequence), [1, 2])
    }
}

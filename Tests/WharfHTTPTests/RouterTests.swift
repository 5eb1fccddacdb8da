import WharfHTTP
import XCTest

/// The router on its own, without sockets.
final class RouterTests: XCTestCase {
    private func request(_ method: HTTPMethod, _ target: String) -> HTTPRequest {
        HTTPRequest(method: method, target: target, headers: ["Host": "test"])
    }

    func testLiteralSegmentBeatsParameter() {
        let router = Fixture.router()
        XCTAssertEqual(router.respond(to: request(.GET, "/items/special")).bodyText, #"{"special":true}"#)
        XCTAssertEqual(router.respond(to: request(.GET, "/items/other")).bodyText, #"{"id":"other"}"#)
    }

    func testParametersArePercentDecodedAfterMatching() {
        var router = Router()
        router.add(.GET, "/p/{sku}/x") { _, params in .text(200, params["sku"]!) }
        // %2F must stay inside the parameter instead of splitting the path.
        XCTAssertEqual(router.respond(to: request(.GET, "/p/A%2FB%20C/x")).bodyText, "A/B C")
        XCTAssertEqual(router.respond(to: request(.GET, "/p//x")).status, 404, "an empty segment never matches a parameter")
    }

    func testRequestPathAndQueryDecoding() {
        let r = request(.GET, "/a%20b/c?x=1&y=two+words&z=%26&flag")
        XCTAssertEqual(r.path, "/a b/c")
        XCTAssertEqual(r.query["x"], "1")
        XCTAssertEqual(r.query("y"), "two words")
        XCTAssertEqual(r.query["z"], "&")
        XCTAssertEqual(r.query["flag"], "")
        XCTAssertEqual(r.rawPath, "/a%20b/c")
    }

    func testNotFoundAndMethodNotAllowed() throws {
        let router = Fixture.router()
        let missing = router.respond(to: request(.GET, "/nope"))
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.headers["content-type"], "application/problem+json")
        let wrongMethod = router.respond(to: request(.DELETE, "/items/1"))
        XCTAssertEqual(wrongMethod.status, 405)
        XCTAssertEqual(wrongMethod.headers["Allow"], "GET, HEAD, PUT")
    }

    func testHeadUsesGetHandlerWithoutBody() {
        let router = Fixture.router()
        let head = router.respond(to: request(.HEAD, "/hello"))
        XCTAssertEqual(head.status, 200)
        XCTAssertTrue(head.body.isEmpty)
        XCTAssertEqual(head.headers["Content-Length"], String(#"{"hello":"world"}"#.utf8.count))
    }

    func testRoutesListsRegistrationOrder() {
        var router = Router()
        router.add(.GET, "/a") { _, _ in .noContent }
        router.add(.POST, "/a") { _, _ in .noContent }
        router.add(.GET, "/b/{x}") { _, _ in .noContent }
        XCTAssertEqual(router.routes.map { "\($0.method) \($0.pattern)" }, ["GET /a", "POST /a", "GET /b/{x}"])
    }

    func testThrownErrorsBecomeProblems() throws {
        let log = ErrorLog()
        let router = Fixture.router(observedErrors: log)
        let problem = router.respond(to: request(.GET, "/problem"))
        XCTAssertEqual(problem.status, 409)
        let crash = router.respond(to: request(.GET, "/crash"))
        XCTAssertEqual(crash.status, 500)
        XCTAssertFalse(crash.bodyText.contains("hunter2"), "internal error text leaked: \(crash.bodyText)")
        XCTAssertEqual(log.all, ["database password is hunter2"], "the error observer sees the real cause")
    }

    func testProblemDetailsJSONEscapesAndOrdersMembers() throws {
        var problem = ProblemDetails(slug: "x", title: "Quote \" and \\ and\nnewline", status: 422, detail: "d")
        problem.extensions = [("errors", .rawJSON(#"[{"field":"sku"}]"#)), ("count", .int(2))]
        let text = problem.jsonText
        XCTAssertTrue(text.hasPrefix(#"{"type":"https://wharf.dev/problems/x","title":"Quote \" and \\ and\nnewline","status":422"#), text)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(object["count"] as? Int, 2)
        XCTAssertEqual((object["errors"] as? [[String: String]])?.first?["field"], "sku")
    }
}

extension HTTPResponse {
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

import Foundation

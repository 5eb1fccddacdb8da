import Foundation
import WharfAuth
import WharfHTTP
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfHost

/// API keys that expire or are revoked, and failed authentication throttled per client address.
final class AccessTests: XCTestCase {
    var env: TestDeployment!
    var server: WharfServer!

    override func setUpWithError() throws {
        env = try TestDeployment()
        server = try WharfServer(deployment: env.deployment, port: 0)
        try server.start()
    }

    override func tearDown() {
        server?.shutdown()
        server = nil
        env = nil
    }

    /// A key stored with the given expiry (and creation a day before now).
    func key(expiresAt: Timestamp?, scopes: [Scope] = [.catalogRead]) throws -> String {
        let created = Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch - 86_400_000)
        let (key, record) = APIKeys.generate(name: "k", scopes: scopes.map(\.rawValue), now: created, expiresAt: expiresAt)
        try env.deployment.store.insertAPIKey(record)
        return key
    }

    /// Answers `GET path` with `key` (when given) as if it came from `address`.
    func get(_ path: String, key: String?, from address: String) -> HTTPResponse {
        var headers = HTTPHeaders()
        if let key { headers.add(name: "Authorization", value: "Bearer \(key)") }
        return server.api.respond(to: HTTPRequest(method: .GET, target: path, headers: headers, remoteAddress: address))
    }

    func problem(_ response: HTTPResponse) throws -> [String: Any] {
        XCTAssertEqual(response.headers["Content-Type"], "application/problem+json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func testAnExpiredKeyIsRefusedWith401SayingItExpired() throws {
        let past = Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch - 1000)
        let expired = try key(expiresAt: past)
        let response = get("/v1/products", key: expired, from: "10.1.0.1:1000")
        XCTAssertEqual(response.status, 401)
        let detail = try problem(response)["detail"] as? String ?? ""
        XCTAssertTrue(detail.contains("expired at \(past.rfc3339)"), detail)
        XCTAssertTrue(detail.contains("wharf keys create"), detail)

        let valid = try key(expiresAt: Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch + 86_400_000))
        XCTAssertEqual(get("/v1/products", key: valid, from: "10.1.0.1:1000").status, 200)
        XCTAssertEqual(get("/v1/products", key: try key(expiresAt: nil), from: "10.1.0.1:1000").status, 200, "no expiry: works")
    }

    func testAKeyStopsWorkingAtItsExpiryTimeEvenWhileItsRecordIsCached() throws {
        let soon = Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch + 400)
        let key = try key(expiresAt: soon)
        XCTAssertEqual(get("/v1/products", key: key, from: "10.1.0.2:1000").status, 200, "works before, and is cached now")
        while Timestamp.now() < soon { usleep(20_000) }
        let response = get("/v1/products", key: key, from: "10.1.0.2:1000")
        XCTAssertEqual(response.status, 401, "the cache holds the record, the check uses the time of the request")
        XCTAssertTrue((try problem(response)["detail"] as? String ?? "").contains("expired"))
    }

    func testARevokedKeyIsRefusedWith401SayingItWasRevoked() throws {
        let key = try key(expiresAt: nil)
        let id = try XCTUnwrap(APIKeys.keyID(fromPresented: key))
        XCTAssertTrue(try env.deployment.store.revokeAPIKey(id: id))
        let response = get("/v1/products", key: key, from: "10.1.0.3:1000")
        XCTAssertEqual(response.status, 401)
        let detail = try problem(response)["detail"] as? String ?? ""
        XCTAssertTrue(detail.contains("'\(id)' was revoked"), detail)
    }

    func testRepeatedFailuresFromOneAddressGet429WithRetryAfterWhileOtherAddressesGoOn() throws {
        let valid = try key(expiresAt: nil)
        let (unknown, _) = APIKeys.generate(name: "never stored", scopes: [], now: .now())
        let attacker = "203.0.113.9"
        let limit = AuthenticationThrottle.Limits().maxFailures
        XCTAssertEqual(limit, 20)
        for attempt in 1...limit {
            let guess = attempt % 2 == 0 ? unknown : "wharf_not-even-a-key-\(attempt)"
            let response = get("/v1/products", key: guess, from: "\(attacker):\(40_000 + attempt)")
            XCTAssertEqual(response.status, 401, "failure \(attempt) is still answered 401")
        }
        let blocked = get("/v1/products", key: unknown, from: "\(attacker):50000")
        XCTAssertEqual(blocked.status, 429)
        let retryAfter = try XCTUnwrap(Int(blocked.headers["Retry-After"] ?? ""), "Retry-After is a number of seconds")
        XCTAssertTrue((1...60).contains(retryAfter), "\(retryAfter)")
        let body = try problem(blocked)
        XCTAssertEqual(body["type"] as? String, "https://wharf.dev/problems/too-many-authentication-failures")
        XCTAssertEqual(body["status"] as? Int, 429)
        XCTAssertTrue((body["detail"] as? String ?? "").contains("try again in \(retryAfter) s"), "\(body)")
        XCTAssertEqual(get("/v1/products", key: valid, from: "\(attacker):50001").status, 429, "even a right key waits: the address guesses")
        XCTAssertEqual(get("/health", key: nil, from: "\(attacker):50002").status, 200, "routes without a key are not affected")

        XCTAssertEqual(get("/v1/products", key: valid, from: "198.51.100.1:1000").status, 200, "another address is not affected")
        XCTAssertEqual(get("/v1/products", key: unknown, from: "198.51.100.1:1000").status, 401, "and its own failures are its own")
    }

    func testTheManifestSetsTheThrottlesLimitsAndTheOpenAPIDocumentShowsThe429() throws {
        let configured = try TestDeployment(server: "{ authThrottle: { maxFailures: 3, blockSeconds: 2 } }")
        let api = RESTAPI(deployment: configured.deployment, coordinator: try RunCoordinator(deployment: configured.deployment))
        func get(_ key: String) -> HTTPResponse {
            var headers = HTTPHeaders()
            headers.add(name: "Authorization", value: "Bearer \(key)")
            return api.respond(to: HTTPRequest(method: .GET, target: "/v1/products", headers: headers, remoteAddress: "203.0.113.20:1"))
        }
        XCTAssertEqual((1...3).map { get("wharf_guess-\($0)").status }, [401, 401, 401])
        let blocked = get("wharf_guess-4")
        XCTAssertEqual(blocked.status, 429, "the fourth guess: maxFailures is 3, not the default 20")
        XCTAssertTrue((1...2).contains(Int(blocked.headers["Retry-After"] ?? "") ?? 0), "blockSeconds 2: \(blocked.headers["Retry-After"] ?? "none")")

        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(api.openAPIDocument)) as? [String: Any])
        let paths = try XCTUnwrap(document["paths"] as? [String: [String: [String: Any]]])
        for (path, operations) in paths {
            for (method, operation) in operations {
                let responses = try XCTUnwrap(operation["responses"] as? [String: Any])
                XCTAssertEqual(responses["429"] != nil, operation["x-wharf-scope"] != nil, "\(method) \(path): a keyed route documents the 429")
            }
        }
    }

    func testRequestsWithoutAKeyAndRequestsWithTheWrongScopeDoNotCountAsFailures() throws {
        let reader = try key(expiresAt: nil, scopes: [.inventoryRead])
        for _ in 0..<30 {
            XCTAssertEqual(get("/v1/products", key: nil, from: "192.0.2.50:1").status, 401)
            XCTAssertEqual(get("/v1/products", key: reader, from: "192.0.2.50:1").status, 403)
        }
        let valid = try key(expiresAt: nil)
        XCTAssertEqual(get("/v1/products", key: valid, from: "192.0.2.50:1").status, 200)
    }

    func testOnRealConnectionsTheThrottleCountsTheClientALocalProxyForwards() throws {
        let client = try TestHTTPClient(port: server.port)
        defer { client.close() }
        let (unknown, _) = APIKeys.generate(name: "never stored", scopes: [], now: .now())
        let limit = AuthenticationThrottle.Limits().maxFailures
        func statuses(forwardedFor: String?, count: Int) throws -> [Int] {
            var headers = [("X-API-Key", unknown)]
            if let forwardedFor { headers.append(("X-Forwarded-For", forwardedFor)) }
            return try (0..<count).map { _ in try client.send("GET", "/v1/products", headers: headers).status }
        }
        // Straight from this machine (a health check, a script): not throttled, or a local proxy would lock out all.
        XCTAssertEqual(try statuses(forwardedFor: nil, count: limit + 5), Array(repeating: 401, count: limit + 5))
        let proxied = try statuses(forwardedFor: "192.0.2.10, 203.0.113.77", count: limit + 1)
        XCTAssertEqual(proxied.last, 429, "the forwarded client is throttled: \(proxied)")
        XCTAssertEqual(proxied.filter { $0 == 401 }.count, limit)
        XCTAssertEqual(try statuses(forwardedFor: "203.0.113.78", count: 1), [401], "another forwarded client is not")
        XCTAssertEqual(try statuses(forwardedFor: nil, count: 1), [401])
    }
}

import Foundation
import WharfAuth
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfHost

/// The exports API and the consent routes over a real server on loopback, and the optional HTTP POST of files.
final class ExportAPITests: XCTestCase {
    var env: TestDeployment!
    var server: WharfServer!
    var client: TestHTTPClient!
    var upstream: StubHTTPServer?
    var headers: [(String, String)] = []

    override func tearDown() {
        server?.shutdown()
        upstream?.stop()
    }

    func start(_ connectors: String) throws {
        env = try TestDeployment(connectors: connectors)
        for product in ["wharf-edm-export", "wharf-bi-export"] {
            try env.deployment.plugins.install(from: BuildProducts.plugin(product).path, replace: false, host: HostServices.table)
        }
        server = try WharfServer(deployment: env.deployment, port: 0)
        try server.start()
        client = try TestHTTPClient(port: server.port, timeout: 10)
        headers = [("Authorization", "Bearer \(try env.key([.customersWrite, .customersRead, .exportsRead, .exportsWrite, .runsRead]))")]
    }

    /// Polls the run until it is no longer running (at most 200 polls).
    func finished(_ id: Int) throws -> [String: Any] {
        for _ in 0..<200 {
            let run = try client.send("GET", "/v1/runs/\(id)", headers: headers).jsonObject()
            if run["state"] as? String != "running" { return run }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTFail("run \(id) did not finish")
        return [:]
    }

    func testConsentRoutesExportsAPIListsRunsWithFilesAndDownloadsThem() throws {
        try start("""
            [ { name: "edm", plugin: "edm-export", isolation: "inprocess", config: { folder: "out/edm", settleSeconds: 0 } } ]
            """)
        XCTAssertEqual(try client.send("PUT", "/v1/customers/c-1", headers: headers, text: #"{"email": "ana@example.com", "firstName": "Ana", "lastName": "Lima", "country": "pt"}"#).status, 200)
        XCTAssertEqual(try client.send("PUT", "/v1/customers/c-2", headers: headers, text: #"{"email": "ben@example.com", "firstName": "Ben"}"#).status, 200)
        let consent = try client.send("PUT", "/v1/consents/Ana@Example.com", headers: headers, text: #"{"personKind": "customer", "personId": "c-1", "status": "granted", "at": "2026-11-20T09:30:00Z", "source": "checkout"}"#)
        XCTAssertEqual(consent.status, 200, consent.bodyText)
        XCTAssertEqual(try consent.jsonObject()["email"] as? String, "ana@example.com")
        let customer = try client.send("GET", "/v1/customers/c-1", headers: headers).jsonObject()
        XCTAssertEqual(customer["country"] as? String, "PT")
        XCTAssertEqual((customer["consent"] as? [String: Any])?["status"] as? String, "granted")

        // Bad input: every field named.
        let bad = try client.send("PUT", "/v1/consents/not-an-email", headers: headers, text: #"{"personKind": "robot", "status": "maybe"}"#)
        XCTAssertEqual(bad.status, 422)
        let fields = (try bad.jsonObject()["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
        XCTAssertEqual(Set(fields), ["email", "personKind", "personId", "status", "source"], bad.bodyText)
        XCTAssertEqual(try client.send("PUT", "/v1/customers/c-3", headers: headers, text: #"{"email": "x@y.z", "country": "Germany"}"#).status, 422)
        XCTAssertEqual(try client.send("POST", "/v1/exports/nope", headers: headers).status, 404)
        XCTAssertEqual(try client.send("POST", "/v1/exports/edm", headers: headers, text: #"{"fulll": true}"#).status, 400)
        Thread.sleep(forTimeInterval: 0.01)

        let started = try client.send("POST", "/v1/exports/edm", headers: headers)
        XCTAssertEqual(started.status, 202, started.bodyText)
        let id = try XCTUnwrap(try started.jsonObject()["id"] as? Int)
        XCTAssertEqual(try finished(id)["state"] as? String, "succeeded")

        let list = try client.send("GET", "/v1/exports", headers: headers).jsonObject()
        let items = try XCTUnwrap(list["items"] as? [[String: Any]])
        XCTAssertEqual(items.count, 1)
        XCTAssertEqual((items[0]["run"] as? [String: Any])?["id"] as? Int, id)
        XCTAssertEqual(items[0]["rows"] as? Int, 1, "only Ana: Ben gave no consent")
        let files = try XCTUnwrap(items[0]["files"] as? [[String: Any]])
        XCTAssertEqual(files.map { $0["name"] as? String }, ["contacts.csv", "manifest.json", "withdrawals.csv"])
        let contacts = try XCTUnwrap(files.first { $0["name"] as? String == "contacts.csv" })
        let download = try client.send("GET", try XCTUnwrap(contacts["href"] as? String), headers: headers)
        XCTAssertEqual(download.status, 200)
        XCTAssertEqual(download.header("Content-Type"), "text/csv; charset=utf-8")
        XCTAssertEqual(
            download.bodyText,
            "Email Address,First Name,Last Name,Country,Marketing Consent,Consent Time,Consent Source\r\nana@example.com,Ana,Lima,PT,granted,2026-11-20T09:30:00.000Z,checkout\r\n")
        XCTAssertEqual(SHA256.hex(download.body), contacts["sha256"] as? String)
        XCTAssertEqual(try client.send("GET", "/v1/exports/\(id)/files/nothing.csv", headers: headers).status, 404)
        let noScope = [("Authorization", "Bearer \(try env.key([.runsRead]))")]
        XCTAssertEqual(try client.send("GET", "/v1/exports", headers: noScope).status, 403)
    }

    func testFilesArePostedToTheEndpointAndAFailedPushKeepsTheWatermark() throws {
        let stub = try StubHTTPServer()
        upstream = stub
        try start("""
            [ { name: "bi", plugin: "bi-export", isolation: "inprocess",
                config: { folder: "out/bi", settleSeconds: 0, formats: ["csv"], push: { url: "\(stub.baseURL)/upload" } } } ]
            """)
        stub.handle("POST", "/upload") { _ in StubResponse(status: 503) }
        let failed = try client.send("POST", "/v1/exports/bi", headers: headers)
        let failedRun = try finished(try XCTUnwrap(try failed.jsonObject()["id"] as? Int))
        XCTAssertEqual(failedRun["state"] as? String, "failed")
        XCTAssertEqual((failedRun["error"] as? String)?.contains("push of manifest.json failed"), true, "\(failedRun)")
        XCTAssertNil(try env.deployment.store.cursor(connector: "bi"), "a failed push keeps the watermark")

        stub.clearRequests()
        stub.handle("POST", "/upload") { _ in StubResponse(status: 200) }
        let ok = try client.send("POST", "/v1/exports/bi", headers: headers)
        XCTAssertEqual(try finished(try XCTUnwrap(try ok.jsonObject()["id"] as? Int))["state"] as? String, "succeeded")
        let posted = stub.requests("POST", "/upload")
        XCTAssertEqual(posted.map { $0.header("X-Wharf-File") }, ["manifest.json"], "no orders: only the manifest")
        let manifest = try XCTUnwrap(try posted[0].json() as? [String: Any])
        XCTAssertEqual(manifest["format"] as? String, "wharf-export-manifest/1")
        XCTAssertEqual(posted[0].header("X-Wharf-SHA256"), SHA256.hex(posted[0].body))
        XCTAssertNotNil(try env.deployment.store.cursor(connector: "bi"))
    }
}

import Foundation
import WharfAuth
import WharfManifest
import WharfModel
import WharfStore
import WharfTestSupport
import XCTest

@testable import WharfHost

/// A Wharf deployment with the real crm-companies plugin installed, pointed at a ``TestCRM``, served over loopback.
final class CRMDeployment {
    let folder = TemporaryDirectory(prefix: "wharf-crm")
    let crm: TestCRM
    let manifestPath: String
    var deployment: Deployment
    var server: WharfServer?
    var client: TestHTTPClient?
    var key = ""

    /// `registration` is the connector's `config.registration` (JSON5); `extra` more config keys.
    init(registration: String = "{ deadlineSeconds: 2 }", extra: String = "", mapping: String = "{}") throws {
        crm = try TestCRM()
        manifestPath = folder.write("wharf.json5", """
            { database: "db/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins",
              connectors: [ { name: "crm", plugin: "crm-companies", memoryLimitMB: 256,
                config: { api: "hubspot", baseURL: "\(crm.baseURL)", timeoutSeconds: 5, registration: \(registration) \(extra) },
                mapping: \(mapping) } ] }
            """)
        deployment = try Deployment(manifest: try Manifest.load(path: manifestPath), logger: Logger(level: .warning))
        try deployment.plugins.install(
            from: BuildProducts.plugin("wharf-crm-companies").path, replace: false, host: HostServices.table)
    }

    /// Starts (or restarts, on a freshly opened deployment) the server and makes an API key.
    func start() throws {
        let server = try WharfServer(deployment: deployment, port: 0)
        try server.start()
        self.server = server
        client = try TestHTTPClient(port: server.port, timeout: 15)
        if key.isEmpty {
            let (text, record) = APIKeys.generate(name: "test", scopes: [Scope.admin.rawValue], now: .now())
            try deployment.store.insertAPIKey(record)
            key = text
        }
    }

    /// Stops the server and opens the deployment again from its manifest, as a restarted process would.
    func restart() throws {
        client?.close()
        server?.shutdown()
        deployment.store.close()
        deployment = try Deployment(manifest: try Manifest.load(path: manifestPath), logger: Logger(level: .warning))
        try start()
    }

    func send(_ method: String, _ path: String, _ body: String? = nil) throws -> TestHTTPResponse {
        var headers = [("Authorization", "Bearer \(key)")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        return try client!.send(method, path, headers: headers, body: body.map { Array($0.utf8) })
    }

    func stop() {
        client?.close()
        server?.shutdown()
        crm.server.stop()
    }
}

/// Base class for tests on a ``CRMDeployment``: each test makes its own `env` (the manifests differ per test) and
/// it is stopped afterwards, so no server or test CRM outlives its test.
class CRMTestCase: XCTestCase {
    /// This test's deployment, made by the test itself.
    var env: CRMDeployment!

    /// Stops the server and the test CRM (nil-safe: the test may have failed before making `env`).
    override func tearDown() {
        env?.stop()
        env = nil
    }
}

/// `POST /v1/companies` asks the CRM in real time through the plugin's call operation.
final class RegistrationTests: CRMTestCase {
    let acme = #"{"legalName": "ACME GmbH", "email": "buyer@acme.example", "taxId": "DE 123 456 789", "addresses": [{"street": "Hauptstr. 1", "city": "Berlin", "postalCode": "10115", "country": "de"}]}"#

    func testACompanyTheCRMKnowsByDomainIsLinkedNotCreated() throws {
        env = try CRMDeployment()
        let crmID = env.crm.addCompany(["name": "ACME (CRM)", "domain": "acme.example"])
        try env.start()
        let response = try env.send("POST", "/v1/companies", acme)
        XCTAssertEqual(response.status, 201, response.bodyText)
        let body = try response.jsonObject()
        XCTAssertEqual(body["crmOutcome"] as? String, "linked")
        XCTAssertEqual(body["crmId"] as? String, crmID)
        XCTAssertEqual(body["crmState"] as? String, "linked")
        XCTAssertEqual(body["status"] as? String, "pending", "registered companies wait for approval")
        XCTAssertEqual(body["taxId"] as? String, "DE123456789")
        let id = try XCTUnwrap(body["id"] as? String)
        XCTAssertEqual(response.header("Location"), "/v1/companies/\(id)")
        XCTAssertEqual(env.crm.creates, 0)
        XCTAssertEqual(try env.deployment.store.company(id: id)?.crmID, crmID)
    }

    func testAnUnknownCompanyIsCreatedInTheCRMWithWharfsIDAsItsExternalKey() throws {
        env = try CRMDeployment()
        env.crm.addCompany(["name": "Someone else", "domain": "other.example", "vat_id": "FR999"])
        try env.start()
        let response = try env.send("POST", "/v1/companies", acme)
        XCTAssertEqual(response.status, 201, response.bodyText)
        let body = try response.jsonObject()
        XCTAssertEqual(body["crmOutcome"] as? String, "created")
        let id = try XCTUnwrap(body["id"] as? String)
        let created = try XCTUnwrap(env.crm.liveCompanies.first { $0.properties["wharf_id"] == id })
        XCTAssertEqual(body["crmId"] as? String, created.id)
        XCTAssertEqual(created.properties["name"], "ACME GmbH")
        XCTAssertEqual(created.properties["domain"], "acme.example")
        XCTAssertEqual(created.properties["vat_id"], "DE123456789")
        XCTAssertEqual(created.properties["city"], "Berlin")
        XCTAssertEqual(env.crm.creates, 1)
        // The same company again: Wharf already has it.
        let again = try env.send("POST", "/v1/companies", acme)
        XCTAssertEqual(again.status, 409, again.bodyText)
        XCTAssertEqual(again.header("Content-Type"), "application/problem+json")
        XCTAssertEqual(try again.jsonObject()["instance"] as? String, "/v1/companies/\(id)")
        XCTAssertEqual(env.crm.creates, 1)
    }

    func testASearchThatHitsTheRateLimitIsRetriedAfterRetryAfter() throws {
        env = try CRMDeployment(registration: "{ deadlineSeconds: 5 }")
        env.crm.server.failOnce("POST", "/crm/v3/objects/companies/search", with: .tooManyRequests(retryAfter: "1"))
        try env.start()
        let started = Date()
        let response = try env.send("POST", "/v1/companies", acme)
        XCTAssertEqual(response.status, 201, response.bodyText)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 1, "waited as Retry-After asked")
        XCTAssertEqual(env.crm.creates, 1)
    }

    func testWhenTheCRMIsDownAndTheManifestSaysRefuseTheAnswerIs503AndNothingIsKept() throws {
        env = try CRMDeployment(registration: #"{ deadlineSeconds: 2, whenCRMUnavailable: "refuse" }"#, extra: ", maxAttempts: 1")
        env.crm.down = true
        try env.start()
        let response = try env.send("POST", "/v1/companies", acme)
        XCTAssertEqual(response.status, 503, response.bodyText)
        XCTAssertEqual(response.header("Content-Type"), "application/problem+json")
        let problem = try response.jsonObject()
        XCTAssertEqual(problem["type"] as? String, "https://wharf.dev/problems/crm-unavailable")
        XCTAssertTrue((problem["detail"] as? String)?.contains("HTTP 503") == true, "\(problem)")
        XCTAssertEqual(try env.deployment.store.companies(Store.CompanyQuery()).items, [], "a refused registration leaves nothing behind")
        // The CRM is back: the same registration goes through.
        env.crm.down = false
        XCTAssertEqual(try env.send("POST", "/v1/companies", acme).status, 201)
    }

    /// The CRM makes the record but answers after the deadline. The registration is kept as pending; the background
    /// retry finds the record by Wharf's id instead of creating a second one — also across a server restart.
    func testASlowCRMThatCreatedTheRecordAfterTheDeadlineNeverGetsADuplicate() throws {
        env = try CRMDeployment(registration: #"{ deadlineSeconds: 1, whenCRMUnavailable: "pending", retrySeconds: 2 }"#)
        env.crm.createDelay = 3
        try env.start()
        let response = try env.send("POST", "/v1/companies", acme)
        XCTAssertEqual(response.status, 202, response.bodyText)
        XCTAssertEqual(response.header("Retry-After"), "2", "the first background retry")
        let body = try response.jsonObject()
        XCTAssertEqual(body["crmOutcome"] as? String, "pending")
        XCTAssertEqual(body["crmState"] as? String, "pending")
        XCTAssertNil(body["crmId"] as? String)
        let id = try XCTUnwrap(body["id"] as? String)
        XCTAssertEqual(env.crm.creates, 1, "the create reached the CRM; only its answer was late")

        // Restart before the retry: the pending state is in the database.
        try env.restart()
        env.crm.createDelay = 0
        var company = try env.deployment.store.company(id: id)
        let deadline = Date().addingTimeInterval(20)
        while company?.crmState == .pending && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            company = try env.deployment.store.company(id: id)
        }
        XCTAssertEqual(company?.crmState, .created, "the retry found the record the late create made")
        XCTAssertEqual(env.crm.creates, 1, "no second create")
        XCTAssertEqual(env.crm.liveCompanies.filter { $0.properties["wharf_id"] == id }.count, 1)
        XCTAssertEqual(company?.crmID, env.crm.liveCompanies.first { $0.properties["wharf_id"] == id }?.id)
        let read = try env.send("GET", "/v1/companies/\(id)")
        XCTAssertEqual(try read.jsonObject()["crmState"] as? String, "created")
    }

    func testRegistrationsPendingWhileTheCRMIsDownAreRetriedUntilItIsBack() throws {
        env = try CRMDeployment(
            registration: #"{ deadlineSeconds: 1, whenCRMUnavailable: "pending", retrySeconds: 0.2 }"#, extra: ", maxAttempts: 1")
        env.crm.down = true
        try env.start()
        let response = try env.send("POST", "/v1/companies", acme)
        XCTAssertEqual(response.status, 202, response.bodyText)
        let id = try XCTUnwrap(try response.jsonObject()["id"] as? String)
        // A few failed retries are recorded with their reason.
        let deadline = Date().addingTimeInterval(10)
        while (try env.deployment.store.crmAttempts(companyID: id)?.attempts ?? 0) < 2 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        let attempts = try XCTUnwrap(env.deployment.store.crmAttempts(companyID: id))
        XCTAssertGreaterThanOrEqual(attempts.attempts, 2)
        XCTAssertTrue(attempts.lastError?.contains("503") == true, attempts.lastError ?? "")
        env.crm.down = false
        var company = try env.deployment.store.company(id: id)
        while company?.crmState == .pending && Date() < deadline.addingTimeInterval(10) {
            Thread.sleep(forTimeInterval: 0.1)
            company = try env.deployment.store.company(id: id)
        }
        XCTAssertEqual(company?.crmState, .created)
        XCTAssertEqual(env.crm.creates, 1)
        let list = try env.send("GET", "/v1/companies?crmState=pending")
        XCTAssertEqual((try list.jsonObject()["items"] as? [Any])?.count, 0)
    }

    func testABadRegistrationIsRefusedFieldByField() throws {
        env = try CRMDeployment()
        try env.start()
        let response = try env.send("POST", "/v1/companies", #"{"legalName": 5, "colour": "red", "priceLists": [1]}"#)
        XCTAssertEqual(response.status, 422, response.bodyText)
        let fields = (try response.jsonObject()["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
        XCTAssertEqual(fields, ["colour", "legalName", "priceLists"])
        let keyless = try env.send("POST", "/v1/companies", #"{"legalName": "No keys Ltd"}"#)
        XCTAssertEqual(keyless.status, 422)
        XCTAssertTrue(keyless.bodyText.contains("give email or taxId"), keyless.bodyText)
        XCTAssertEqual(env.crm.server.requests.count, 0, "nothing reached the CRM")
    }
}

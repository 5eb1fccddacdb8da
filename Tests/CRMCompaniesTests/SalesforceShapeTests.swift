import Foundation
import WharfManifest
import WharfModel
import WharfStore
import WharfTestSupport
import XCTest

@testable import WharfHost

/// The same connector against a Salesforce-shaped API: SOQL searches, sobjects create, nextRecordsUrl paging,
/// queryAll for deleted Accounts.
final class SalesforceShapeTests: XCTestCase {
    var server: StubHTTPServer!
    var folder: TemporaryDirectory!

    override func tearDown() {
        server?.stop()
    }

    func testRegistrationAndSyncSpeakSOQL() throws {
        server = try StubHTTPServer()
        folder = TemporaryDirectory(prefix: "wharf-sf")
        let accounts = LockedAccounts()
        accounts.add(["Id": "001A", "Name": "Acme Inc", "Website": "https://www.acme.example/", "SystemModstamp": "2026-11-23T10:00:00.000+0000"])
        accounts.add(["Id": "001B", "Name": "Bolt Ltd", "VAT_Number__c": "GB999", "SystemModstamp": "2026-11-23T10:00:01.000+0000"])
        server.handle("GET", "/services/data/v59.0/query") { request in
            let soql = request.queryValue("q") ?? ""
            if soql.hasPrefix("SELECT Id FROM Account WHERE ") {
                // SELECT Id FROM Account WHERE Field = 'value' LIMIT 2
                let condition = soql.dropFirst("SELECT Id FROM Account WHERE ".count).components(separatedBy: " = '")
                let field = condition[0]
                let value = condition[1].components(separatedBy: "' LIMIT")[0]
                let found = accounts.all.filter { ($0[field] ?? "").lowercased() == value.lowercased() }
                return .json(object: ["totalSize": found.count, "done": true, "records": found.map { ["Id": $0["Id"]!] }])
            }
            // The sync: two pages linked by nextRecordsUrl.
            if request.queryValue("page") == "2" {
                return .json(object: ["totalSize": 2, "done": true, "records": [accounts.all[1]]])
            }
            return .json(object: [
                "totalSize": 2, "done": false, "records": [accounts.all[0]],
                "nextRecordsUrl": "/services/data/v59.0/query?page=2",
            ])
        }
        server.handle("GET", "/services/data/v59.0/queryAll") { _ in
            .json(object: ["totalSize": 1, "done": true, "records": [["Id": "001Z", "IsDeleted": true, "MasterRecordId": "001A"]]])
        }
        server.handle("POST", "/services/data/v59.0/sobjects/Account") { request in
            guard var fields = try? request.json() as? [String: String] else { return .json("[]", status: 400) }
            fields["Id"] = "001N"
            accounts.add(fields)
            return .json(object: ["id": "001N", "success": true, "errors": []], status: 201)
        }
        let path = folder.write("wharf.json5", """
            { database: "db/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins",
              connectors: [ { name: "crm", plugin: "crm-companies", isolation: "inprocess",
                config: { api: "salesforce", baseURL: "\(server.baseURL)", sync: { deletions: true },
                          registration: { deadlineSeconds: 5 } } } ] }
            """)
        let deployment = try Deployment(manifest: try Manifest.load(path: path), logger: Logger(level: .warning))
        try deployment.plugins.install(from: BuildProducts.plugin("wharf-crm-companies").path, replace: false, host: HostServices.table)
        let registration = CompanyRegistration(deployment: deployment, calls: CallPool(deployment: deployment))

        // Found by the tax id.
        let (bolt, boltOutcome) = try registration.register(Company(id: "", legalName: "Bolt", taxID: "GB 999"))
        XCTAssertEqual(boltOutcome, .linked)
        XCTAssertEqual(bolt.crmID, "001B")
        // Unknown: created as an Account with Wharf's id.
        let (new, newOutcome) = try registration.register(Company(id: "", legalName: "Nova", email: "a@nova.example"))
        XCTAssertEqual(newOutcome, .created)
        XCTAssertEqual(new.crmID, "001N")
        XCTAssertEqual(accounts.all.last?["Wharf_Id__c"], new.id)
        XCTAssertEqual(accounts.all.last?["Website"], "nova.example")

        // The sync pages by nextRecordsUrl and finds Acme by its website domain.
        let run = try ConnectorRunner(deployment: deployment).ingest(connector: "crm", trigger: .manual)
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(try deployment.store.company(crmID: "001A")?.emailDomain, "acme.example")
        XCTAssertEqual(try deployment.store.company(crmID: "001B")?.id, bolt.id, "the linked company is updated, not duplicated")
        let soql = server.requests("GET", "/services/data/v59.0/query").compactMap { $0.queryValue("q") }.filter { $0.contains("ORDER BY") }
        XCTAssertTrue(soql.first?.hasPrefix("SELECT Id, SystemModstamp, Name") == true, soql.first ?? "")
        XCTAssertEqual(server.requests("GET", "/services/data/v59.0/queryAll").count, 1)
    }
}

/// Accounts shared with the stub's handler threads.
final class LockedAccounts: @unchecked Sendable {
    private let lock = NSLock()
    private var accounts: [[String: String]] = []
    var all: [[String: String]] { lock.withLock { accounts } }
    func add(_ account: [String: String]) { lock.withLock { accounts.append(account) } }
}

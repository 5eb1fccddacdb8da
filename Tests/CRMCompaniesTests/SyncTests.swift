import Foundation
import WharfManifest
import WharfModel
import WharfStore
import WharfTestSupport
import XCTest

@testable import WharfHost

/// The scheduled sync: companies, contacts and customer groups paged out of the test CRM, incrementally, with
/// rate limits, deletions and merges.
final class SyncTests: CRMTestCase {
    func makeEnv() throws -> CRMDeployment {
        try CRMDeployment(
            registration: #"{ deadlineSeconds: 2 }"#,
            extra: #", sync: { pageSize: 2, users: "/crm/v3/objects/contacts", groups: "/crm/v3/objects/customer_groups" }"#,
            mapping: #"{ company: { customerGroup: "customer_group", priceLists: "price_lists", status: "lifecyclestage", statusValues: { customer: "approved", blocked: "blocked" } }, user: { role: "b2b_role" } }"#)
    }

    func sync() throws -> Run {
        try ConnectorRunner(deployment: env.deployment).ingest(connector: "crm", trigger: .manual)
    }

    func testCompaniesPeopleAndGroupsAreSyncedIncrementallyAndDeletionsDeactivate() throws {
        env = try makeEnv()
        let store = env.deployment.store
        env.crm.addGroup(["code": "wholesale", "name": "Wholesale"])
        env.crm.addGroup(["code": "retail", "name": "Retail"])
        let a = env.crm.addCompany([
            "name": "Alpha AG", "domain": "alpha.example", "vat_id": "CHE-123.456.789", "customer_group": "wholesale",
            "price_lists": "PL-A; PL-B", "lifecyclestage": "customer", "address": "Bahnhofstr. 1", "city": "Zürich",
            "country": "CH",
        ])
        let b = env.crm.addCompany(["name": "Beta GmbH", "domain": "beta.example"])
        let c = env.crm.addCompany(["name": "Gamma SARL", "domain": "gamma.example", "lifecyclestage": "blocked"])
        env.crm.addContact(["email": "Ann@alpha.example", "firstname": "Ann", "lastname": "Ames", "jobtitle": "CFO", "associatedcompanyid": a, "b2b_role": "approver"])
        env.crm.addContact(["email": "bob@alpha.example", "firstname": "Bob", "associatedcompanyid": a])
        env.crm.addContact(["email": "consumer@mail.example", "firstname": "Con"])
        env.crm.addContact(["email": "x@nowhere.example", "firstname": "X", "associatedcompanyid": "999"])
        // Beta registered on the storefront while the CRM was down: pending in Wharf, no CRM id yet.
        let pending = try store.insertCompany(
            Company(id: "co_beta", legalName: "Beta", email: "buyer@beta.example", crmState: .pending),
            crmRetryAt: Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch + 3_600_000))
        // The second page of companies is rate-limited once.
        env.crm.server.failOnce(
            "GET", "/crm/v3/objects/companies", with: .tooManyRequests(retryAfter: "1"),
            when: { $0.queryValue("after") == "2" && $0.queryValue("archived") == nil })

        let first = try sync()
        XCTAssertEqual(first.state, .succeeded, first.error ?? "")
        XCTAssertEqual(first.counts.rejected, 1, "the contact of an unknown company")
        let rejects = try store.rejects(runID: first.id, limit: 10, afterID: nil)
        XCTAssertEqual(rejects.first?.entity, "company_user")
        XCTAssertTrue(rejects.first?.reason.contains("no company with CRM id '999'") == true, rejects.first?.reason ?? "")

        XCTAssertEqual(try store.customerGroups().map(\.code), ["retail", "wholesale"])
        let alpha = try XCTUnwrap(store.company(crmID: a))
        XCTAssertEqual(alpha.legalName, "Alpha AG")
        XCTAssertEqual(alpha.taxID, "CHE123456789")
        XCTAssertEqual(alpha.emailDomain, "alpha.example")
        XCTAssertEqual(alpha.status, .approved)
        XCTAssertEqual(alpha.customerGroup, "wholesale")
        XCTAssertEqual(alpha.priceLists, ["PL-A", "PL-B"])
        XCTAssertEqual(alpha.addresses.first?.city, "Zürich")
        XCTAssertEqual(alpha.crmState, .synced)
        XCTAssertEqual(try store.company(crmID: c)?.status, .blocked, "the CRM's status values are mapped")
        let beta = try XCTUnwrap(store.company(crmID: b))
        XCTAssertEqual(beta.id, pending.id, "the pending registration was matched by domain and linked")
        XCTAssertEqual(beta.crmState, .linked)
        XCTAssertEqual(beta.status, .pending, "Wharf's status is kept when the CRM gives none")
        XCTAssertEqual(try store.claimPendingCRMCompanies(now: Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch + 7_200_000), lease: .seconds(5)), [], "no more CRM retries for it")
        let users = try store.companyUsers(companyID: alpha.id)
        XCTAssertEqual(users.map(\.email), ["ann@alpha.example", "bob@alpha.example"])
        XCTAssertEqual(users.first?.name, "Ann Ames")
        XCTAssertEqual(users.first?.role, .approver)
        XCTAssertEqual(users.first?.jobTitle, "CFO")
        XCTAssertEqual(users.last?.role, .buyer)
        let companyPages = env.crm.server.requests("GET", "/crm/v3/objects/companies").filter { $0.queryValue("archived") == nil }
        XCTAssertEqual(companyPages.count, 3, "2 pages of 2, the second one twice (429)")

        // Changes in the CRM: Gamma deleted, Beta merged into Alpha, Alpha renamed.
        env.crm.server.clearRequests()
        env.crm.archive(c)
        env.crm.merge(b, into: a)
        env.crm.update(a, ["name": "Alpha Holding AG"])
        let second = try sync()
        XCTAssertEqual(second.state, .succeeded, second.error ?? "")
        let incremental = env.crm.server.requests("GET", "/crm/v3/objects/companies").filter { $0.queryValue("archived") == nil }
        XCTAssertNotNil(incremental.first?.queryValue("updatedAfter"), "the second sync reads only what changed")
        XCTAssertEqual(incremental.count, 1, "only Alpha changed: one page")
        XCTAssertEqual(try store.company(crmID: a)?.legalName, "Alpha Holding AG")
        let gamma = try XCTUnwrap(store.company(crmID: c))
        XCTAssertFalse(gamma.active, "deleted in the CRM: deactivated, not kept active")
        let merged = try XCTUnwrap(store.company(id: pending.id))
        XCTAssertFalse(merged.active)
        XCTAssertEqual(merged.mergedInto, a)
        let active = try store.companies(Store.CompanyQuery(active: true)).items.map(\.crmID)
        XCTAssertEqual(active, [a])

        // A third sync with nothing new changes nothing.
        let third = try sync()
        XCTAssertEqual(third.counts.inserted + third.counts.updated, 0)
    }

    /// A CRM change that would give a company another company's match key is refused; the reject names the key.
    func testAMatchKeyClashIsRefusedNamingTheKey() throws {
        env = try makeEnv()
        let store = env.deployment.store
        let alpha = env.crm.addCompany(["name": "Alpha AG", "domain": "alpha.example"])
        let delta = env.crm.addCompany(["name": "Delta AG", "domain": "delta.example"])
        let first = try sync()
        XCTAssertEqual(first.state, .succeeded, first.error ?? "")
        XCTAssertEqual(first.counts.rejected, 0)

        env.crm.update(delta, ["domain": "alpha.example"])
        let second = try sync()
        XCTAssertEqual(second.state, .succeeded, second.error ?? "")
        XCTAssertEqual(second.counts.rejected, 1)
        let reason = try store.rejects(runID: second.id, limit: 10, afterID: nil).first?.reason ?? ""
        let alphaID = try XCTUnwrap(store.company(crmID: alpha)).id
        XCTAssertTrue(reason.contains("clashes with company '\(alphaID)' on its email domain 'alpha.example'"), reason)
        XCTAssertEqual(try store.company(crmID: delta)?.emailDomain, "delta.example", "the refused change is not stored")
    }

    func testMappingMistakesAreReportedWithTheirManifestPath() throws {
        env = try CRMDeployment(
            registration: #"{ deadlineSeconds: 2, whenCRMUnavailable: "queue" }"#)
        let manifest = env.deployment.manifest
        let connector = try XCTUnwrap(manifest.connector(named: "crm"))
        let problem = ConnectorRunner.checkConfiguration(
            of: connector, manifest: manifest, plugins: env.deployment.plugins, logger: Logger(level: .warning))
        XCTAssertEqual(
            problem,
            "\(manifest.filePath): connectors[0].config.registration.whenCRMUnavailable: expected \"refuse\" (answer 503) or \"pending\" (keep the company pending and retry), found \"queue\"")
        env.stop()
        env = try CRMDeployment(mapping: #"{ company: { externalId: null } }"#)
        let second = env.deployment.manifest
        let message = ConnectorRunner.checkConfiguration(
            of: try XCTUnwrap(second.connector(named: "crm")), manifest: second, plugins: env.deployment.plugins, logger: Logger(level: .warning))
        XCTAssertTrue(message?.contains("connectors[0].mapping.company.externalId: required") == true, message ?? "nil")
    }

    func testTheExampleManifestsPassTheirCheck() throws {
        env = try CRMDeployment()
        setenv("HUBSPOT_TOKEN", "test-token", 1)
        setenv("SF_TOKEN", "test-token", 1)
        for name in ["crm-hubspot", "crm-salesforce"] {
            let path = BuildProducts.packageRoot.appendingPathComponent("manifests/examples/\(name).json5").path
            let manifest = try Manifest.load(path: path)
            for connector in manifest.connectors {
                XCTAssertNil(
                    ConnectorRunner.checkConfiguration(
                        of: connector, manifest: manifest, plugins: env.deployment.plugins, logger: Logger(level: .warning)),
                    name)
            }
            let settings = try XCTUnwrap(CompanyRegistrationSettings.from(manifest))
            XCTAssertEqual(settings.deadline, .seconds(5))
        }
    }
}

import WharfModel
import XCTest

@testable import WharfStore

/// B2B companies, their users and customer groups in the store: match keys, paging, CRM links and the durable
/// pending state the background CRM retry works from.
final class CompanyStoreTests: StoreTestCase {
    func acme(_ id: String = "co_acme", email: String? = "buyer@Acme.example", taxID: String? = "de 123.456-789") -> Company {
        Company(
            id: id, legalName: "ACME GmbH", displayName: "ACME", taxID: taxID, email: email, phone: "+49 30 1234",
            addresses: [CompanyAddress(kind: "billing", street: "Hauptstr. 1", city: "Berlin", postalCode: "10115", country: "de")],
            customerGroup: "wholesale", priceLists: ["PL-B2B", "PL-EU", "PL-B2B"])
    }

    func testACompanyIsStoredNormalizedWithItsAddressesAndPriceLists() throws {
        let stored = try store.insertCompany(acme())
        XCTAssertEqual(stored.taxID, "DE123456789")
        XCTAssertEqual(stored.emailDomain, "acme.example")
        XCTAssertEqual(stored.addresses.first?.country, "DE")
        XCTAssertEqual(stored.priceLists, ["PL-B2B", "PL-EU"], "repeats dropped, order kept")
        XCTAssertEqual(stored.status, .pending)
        XCTAssertEqual(stored.crmState, CRMLinkState.none)
        XCTAssertNotNil(stored.createdAt)
        XCTAssertEqual(try store.company(id: "co_acme"), stored)
    }

    func testEmailDomainTaxIDAndCRMIDAreUniqueMatchKeys() throws {
        try store.insertCompany(acme())
        // Same domain, other case, other tax id.
        XCTAssertThrowsError(try store.insertCompany(acme("co_2", email: "x@ACME.example", taxID: "FR1"))) { error in
            let error = error as? StoreError
            XCTAssertEqual(error?.code, .conflict)
            XCTAssertTrue(error?.message.contains("company 'co_acme' (ACME GmbH) already has email domain 'acme.example'") == true, error?.message ?? "")
        }
        // Same tax id written differently.
        XCTAssertThrowsError(try store.insertCompany(acme("co_3", email: "x@other.example", taxID: "DE-123456789"))) { error in
            XCTAssertTrue((error as? StoreError)?.message.contains("already has tax id 'DE123456789'") == true, "\(error)")
        }
        let found = try store.company(matching: Company(id: "probe", legalName: "?", taxID: "de123456789"))
        XCTAssertEqual(found?.id, "co_acme")
        XCTAssertNil(try store.company(matching: Company(id: "probe", legalName: "?", email: "a@b.example")))
        // Companies without keys do not collide with each other.
        try store.insertCompany(Company(id: "co_4", legalName: "Keyless 1"))
        try store.insertCompany(Company(id: "co_5", legalName: "Keyless 2"))
    }

    func testAnInvalidCompanyIsRefusedNamingTheField() throws {
        var bad = acme()
        bad.addresses[0].country = "Germany"
        XCTAssertThrowsError(try store.insertCompany(bad)) { error in
            let error = error as? StoreError
            XCTAssertEqual(error?.code, .invalidRecord)
            XCTAssertTrue(error?.message.contains("addresses[0].country must be an ISO 3166-1 alpha-2 code") == true, error?.message ?? "")
        }
        bad = acme()
        bad.email = "not-an-address"
        XCTAssertThrowsError(try store.insertCompany(bad)) { error in
            XCTAssertTrue((error as? StoreError)?.message.contains("email 'not-an-address' is not an email address") == true, "\(error)")
        }
    }

    func testCompaniesPageInIDOrderWithFilters() throws {
        for index in 0..<5 {
            var company = Company(id: "co_\(index)", legalName: "Company \(index)", email: "a@c\(index).example")
            company.status = index % 2 == 0 ? .approved : .pending
            company.customerGroup = index < 3 ? "retail" : "wholesale"
            try store.insertCompany(company)
        }
        var query = Store.CompanyQuery(limit: 2)
        var ids: [String] = []
        while true {
            let page = try store.companies(query)
            ids += page.items.map(\.id)
            guard let next = page.nextAfter else { break }
            query.after = next
        }
        XCTAssertEqual(ids, ["co_0", "co_1", "co_2", "co_3", "co_4"])
        XCTAssertEqual(try store.companies(Store.CompanyQuery(status: .approved)).items.map(\.id), ["co_0", "co_2", "co_4"])
        XCTAssertEqual(
            try store.companies(Store.CompanyQuery(status: .approved, customerGroup: "wholesale")).items.map(\.id), ["co_4"])
        XCTAssertEqual(try store.companies(Store.CompanyQuery(emailDomain: "C3.example")).items.map(\.id), ["co_3"])
    }

    func testUpdateReplacesFieldsAndLeavesUnchangedCompaniesAlone() throws {
        let stored = try store.insertCompany(acme())
        XCTAssertEqual(try store.updateCompany(stored)?.updatedAt, stored.updatedAt, "unchanged: not touched")
        var changed = stored
        changed.status = .approved
        changed.priceLists = ["PL-NEW"]
        changed.addresses = []
        let updated = try XCTUnwrap(store.updateCompany(changed))
        XCTAssertEqual(updated.status, .approved)
        XCTAssertEqual(updated.priceLists, ["PL-NEW"])
        XCTAssertEqual(updated.addresses, [])
        XCTAssertNil(try store.updateCompany(Company(id: "co_missing", legalName: "X")))
        try store.insertCompany(Company(id: "co_other", legalName: "Other", email: "o@other.example"))
        var clash = updated
        clash.email = "me@other.example"
        XCTAssertThrowsError(try store.updateCompany(clash)) { XCTAssertEqual(($0 as? StoreError)?.code, .conflict) }
    }

    func testPendingCompaniesAreClaimedOnceWhenDueAndLinkingEndsTheRetries() throws {
        var company = acme()
        company.crmState = .pending
        let now = Timestamp.now()
        try store.insertCompany(company, crmRetryAt: Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch + 60_000))
        XCTAssertEqual(try store.claimPendingCRMCompanies(now: now, lease: .seconds(30)), [], "not due yet")
        let later = Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch + 61_000)
        let claimed = try store.claimPendingCRMCompanies(now: later, lease: .seconds(30))
        XCTAssertEqual(claimed.map(\.company.id), ["co_acme"])
        XCTAssertEqual(claimed.first?.attempts, 1)
        XCTAssertEqual(try store.claimPendingCRMCompanies(now: later, lease: .seconds(30)), [], "leased while the attempt runs")
        try store.recordCRMFailure(id: "co_acme", error: "CRM answered 503", retryAt: later)
        XCTAssertEqual(try store.crmAttempts(companyID: "co_acme")?.lastError, "CRM answered 503")
        XCTAssertEqual(try store.claimPendingCRMCompanies(now: later, lease: .seconds(30)).first?.attempts, 2)

        // The pending state is in the database: a reopened store still knows it.
        store.close()
        store = try Store(path: folder.file("wharf.sqlite"), readerCount: 2)
        let farLater = Timestamp(millisecondsSinceEpoch: later.millisecondsSinceEpoch + 31_000)
        XCTAssertEqual(try store.claimPendingCRMCompanies(now: farLater, lease: .seconds(30)).map(\.company.id), ["co_acme"])

        let linked = try XCTUnwrap(store.linkCompanyToCRM(id: "co_acme", crmID: "9001", state: .created))
        XCTAssertEqual(linked.crmID, "9001")
        XCTAssertEqual(linked.crmState, .created)
        let muchLater = Timestamp(millisecondsSinceEpoch: farLater.millisecondsSinceEpoch + 3_600_000)
        XCTAssertEqual(try store.claimPendingCRMCompanies(now: muchLater, lease: .seconds(30)), [], "linked: no more retries")
        try store.insertCompany(Company(id: "co_b", legalName: "B"))
        XCTAssertThrowsError(try store.linkCompanyToCRM(id: "co_b", crmID: "9001", state: .linked)) { error in
            XCTAssertTrue((error as? StoreError)?.message.contains("company 'co_acme' is already linked to it") == true, "\(error)")
        }
    }

    func testUsersBelongToACompanyAndGroupsAreUpserted() throws {
        try store.insertCompany(acme())
        let (outcome, user) = try store.putCompanyUser(
            CompanyUser(companyID: "co_acme", email: "Ann@Acme.example", name: "Ann", jobTitle: "Purchasing", role: .approver))
        XCTAssertEqual(outcome, .inserted)
        XCTAssertEqual(user.email, "ann@acme.example")
        XCTAssertEqual(try store.putCompanyUser(user).0, .unchanged)
        var changed = user
        changed.active = false
        XCTAssertEqual(try store.putCompanyUser(changed).0, .updated)
        XCTAssertEqual(try store.companyUsers(companyID: "co_acme").map(\.active), [false])
        XCTAssertThrowsError(try store.putCompanyUser(CompanyUser(companyID: "co_none", email: "a@b.example", name: "A"))) {
            XCTAssertEqual(($0 as? StoreError)?.code, .notFound)
        }
        XCTAssertEqual(try store.putCustomerGroup(CustomerGroup(code: "wholesale", name: "Wholesale")), .inserted)
        XCTAssertEqual(try store.putCustomerGroup(CustomerGroup(code: "wholesale", name: "Wholesale")), .unchanged)
        XCTAssertEqual(try store.customerGroups().map(\.name), ["Wholesale"])
        XCTAssertTrue(try store.deleteCompany(id: "co_acme"))
        XCTAssertEqual(try store.companyUsers(companyID: "co_acme"), [], "users go with their company")
    }
}

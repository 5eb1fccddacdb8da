import XCTest

@testable import WharfModel

/// The B2B entities of the plugin ABI ("company", "company_user", "customer_group") and the company rules.
final class CompanyRecordTests: XCTestCase {
    func decode(_ entity: String, _ fields: [(String, String?)]) -> Result<ModelRecord, FieldError> {
        RecordCodec.decode(entity: entity, fields: fields.map { (name: $0.0, value: $0.1) })
    }

    func testACompanyRecordDecodesNormalizedAndRoundTrips() throws {
        let fields: [(String, String?)] = [
            ("crm_id", "42"), ("legal_name", "ACME GmbH"), ("tax_id", "de 1234"), ("domain", "ACME.example"),
            ("status", "approved"), ("price_list", "PL-1"), ("price_list", "PL-2"),
            ("address.street", "Hauptstr. 1"), ("address.city", "Berlin"), ("address.country", "de"),
        ]
        guard case .company(let record) = try decode("company", fields).get() else { return XCTFail("not a company") }
        XCTAssertEqual(record.crmID, "42")
        XCTAssertEqual(record.company?.taxID, "DE1234")
        XCTAssertEqual(record.company?.emailDomain, "acme.example")
        XCTAssertEqual(record.company?.priceLists, ["PL-1", "PL-2"])
        XCTAssertEqual(record.company?.addresses.first?.country, "DE")
        let again = RecordCodec.encode(.company(record)).map { (name: $0.name, value: Optional($0.value)) }
        XCTAssertEqual(try RecordCodec.decode(entity: "company", fields: again).get(), .company(record))
    }

    func testADeletedCompanyNeedsOnlyItsCRMID() throws {
        guard case .company(let record) = try decode("company", [("crm_id", "7"), ("deleted", "true"), ("merged_into", "8")]).get()
        else { return XCTFail("not a company") }
        XCTAssertTrue(record.deleted)
        XCTAssertEqual(record.mergedInto, "8")
    }

    func testBadB2BRecordsNameTheField() {
        XCTAssertEqual(try? decode("company", [("crm_id", "1")]).mapError { $0 }.get(), nil)
        if case .failure(let error) = decode("company", [("crm_id", "1")]) { XCTAssertEqual(error.field, "legal_name") }
        if case .failure(let error) = decode("company", [("crm_id", "1"), ("legal_name", "A"), ("status", "vip")]) {
            XCTAssertEqual(error.field, "status")
            XCTAssertTrue(error.reason.contains("'vip' is not one of pending, approved, rejected, blocked"), error.reason)
        } else { XCTFail("accepted status vip") }
        if case .failure(let error) = decode("company_user", [("company_crm_id", "1"), ("email", "nope"), ("name", "N")]) {
            XCTAssertEqual(error.field, "email")
        } else { XCTFail("accepted a bad email") }
        if case .failure(let error) = decode("company_user", [("company_crm_id", "1"), ("email", "a@b.example"), ("name", "N"), ("role", "boss")]) {
            XCTAssertEqual(error.field, "role")
        } else { XCTFail("accepted role boss") }
        if case .failure(let error) = decode("customer_group", [("name", "No code")]) {
            XCTAssertEqual(error.field, "code")
        } else { XCTFail("accepted a group without code") }
    }

    func testNewIDsAreUniqueAndShaped() {
        let ids = (0..<100).map { _ in Company.newID() }
        XCTAssertEqual(Set(ids).count, 100)
        XCTAssertTrue(ids.allSatisfy { $0.hasPrefix("co_") && $0.count == 23 }, ids[0])
    }
}

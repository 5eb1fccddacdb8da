import Foundation
import WharfAuth
import WharfModel
import WharfStore
import WharfTestSupport
import XCTest

@testable import WharfHost

/// The company routes besides registration: list with filters and paging, get, merge-patch, users, groups, scopes.
final class CompanyAPITests: CRMTestCase {
    func testListGetPatchUsersAndGroups() throws {
        env = try CRMDeployment()
        try env.start()
        for name in ["a", "b", "c"] {
            let response = try env.send("POST", "/v1/companies", #"{"legalName": "\#(name) Ltd", "email": "x@\#(name).example"}"#)
            XCTAssertEqual(response.status, 201, response.bodyText)
        }
        var ids: [String] = []
        var path = "/v1/companies?limit=2"
        while true {
            let page = try env.send("GET", path).jsonObject()
            ids += (page["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            guard let cursor = page["nextCursor"] as? String else { break }
            path = "/v1/companies?limit=2&cursor=\(cursor)"
        }
        XCTAssertEqual(ids.count, 3)
        XCTAssertEqual(ids, ids.sorted())
        let id = ids[0]

        let patch = try env.send(
            "PATCH", "/v1/companies/\(id)", #"{"status": "approved", "customerGroup": "wholesale", "priceLists": ["PL-1"], "phone": null}"#)
        XCTAssertEqual(patch.status, 200, patch.bodyText)
        let patched = try patch.jsonObject()
        XCTAssertEqual(patched["status"] as? String, "approved")
        XCTAssertEqual(patched["priceLists"] as? [String], ["PL-1"])
        XCTAssertEqual(try env.send("GET", "/v1/companies?status=approved&customerGroup=wholesale").jsonObject()["items"].map { ($0 as? [Any])?.count }, 1)
        let bad = try env.send("PATCH", "/v1/companies/\(id)", #"{"status": "vip", "crmId": "x"}"#)
        XCTAssertEqual(bad.status, 422)
        XCTAssertEqual((try bad.jsonObject()["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String }, ["crmId", "status"])
        let otherDomain = try XCTUnwrap(try env.send("GET", "/v1/companies/\(ids[1])").jsonObject()["emailDomain"] as? String)
        let clash = try env.send("PATCH", "/v1/companies/\(id)", #"{"email": "y@\#(otherDomain)"}"#)
        XCTAssertEqual(clash.status, 409, clash.bodyText)
        XCTAssertEqual(try env.send("GET", "/v1/companies/co_missing").status, 404)
        XCTAssertEqual(try env.send("GET", "/v1/companies?status=vip").status, 400)

        let user = try env.send("POST", "/v1/companies/\(id)/users", #"{"email": "Ann@a.example", "name": "Ann", "role": "admin"}"#)
        XCTAssertEqual(user.status, 201, user.bodyText)
        XCTAssertEqual(try env.send("POST", "/v1/companies/\(id)/users", #"{"email": "ann@a.example", "name": "Ann", "role": "admin"}"#).status, 200)
        let users = try env.send("GET", "/v1/companies/\(id)/users").jsonObject()["items"] as? [[String: Any]]
        XCTAssertEqual(users?.map { $0["email"] as? String }, ["ann@a.example"])
        XCTAssertEqual(try env.send("POST", "/v1/companies/co_missing/users", #"{"email": "a@b.example", "name": "A"}"#).status, 404)

        try env.deployment.store.putCustomerGroup(CustomerGroup(code: "wholesale", name: "Wholesale"))
        let groups = try env.send("GET", "/v1/customer-groups").jsonObject()["items"] as? [[String: Any]]
        XCTAssertEqual(groups?.first?["name"] as? String, "Wholesale")

        // Scopes: reading needs companies:read, writing companies:write.
        let (readKey, record) = APIKeys.generate(name: "reader", scopes: [Scope.companiesRead.rawValue], now: .now())
        try env.deployment.store.insertAPIKey(record)
        let headers = [("Authorization", "Bearer \(readKey)"), ("Content-Type", "application/json")]
        XCTAssertEqual(try env.client!.send("GET", "/v1/companies", headers: headers).status, 200)
        XCTAssertEqual(try env.client!.send("POST", "/v1/companies", headers: headers, text: "{}").status, 403)
    }
}

import Foundation
import WharfAuth
import WharfHost
import WharfModel
import WharfStore
import WharfTestSupport
import XCTest

/// The pricing routes over a real loopback socket against a real SQLite file.
final class PricingAPITests: ServedTestCase {
    var writeKey: String!
    var readKey: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        writeKey = try env.key([.catalogRead, .catalogWrite])
        readKey = try env.key([.catalogRead])
    }

    private func send(_ method: String, _ path: String, key: String? = nil, json: String? = nil) throws -> TestHTTPResponse {
        var headers = [("Authorization", "Bearer \(key ?? writeKey!)")]
        if json != nil { headers.append(("Content-Type", "application/json")) }
        return try client.send(method, path, headers: headers, body: json.map { Array($0.utf8) })
    }

    /// Base 10.00 EUR for SKU-1 and SKU-2; list WHOLESALE (tiers 9.00 / 8.00 from 10) for group wholesale; an
    /// override contract at 9.50 for company ACME.
    private func arrange() throws {
        let eur = Currency(code: "EUR")!
        _ = try env.deployment.store.apply([
            .price(BasePrice(sku: "SKU-1", price: Money(minorUnits: 1000, currency: eur))),
            .price(BasePrice(sku: "SKU-2", price: Money(minorUnits: 1000, currency: eur))),
        ], cursor: nil)
        XCTAssertEqual(try send("PUT", "/v1/price-lists/WHOLESALE", json: "{\"name\":\"Wholesale\",\"currency\":\"EUR\",\"priority\":1}").status, 201)
        let entries = try send("PUT", "/v1/price-lists/WHOLESALE/entries", json: """
            {"entries": [{"sku": "SKU-1", "amount": "9.00"}, {"sku": "SKU-1", "minQuantity": 10, "amount": "8.00"},
                         {"sku": "SKU-2", "percentOff": "12.5"}]}
            """)
        XCTAssertEqual(entries.status, 200, entries.bodyText)
        XCTAssertEqual(try send("PUT", "/v1/price-lists/WHOLESALE/assignments/group/wholesale").status, 201)
        XCTAssertEqual(try send("PUT", "/v1/price-lists/WHOLESALE/assignments/group/wholesale").status, 204)
        XCTAssertEqual(try send("PUT", "/v1/price-lists/CONTRACT", json: "{\"currency\":\"EUR\",\"mode\":\"override\"}").status, 201)
        XCTAssertEqual(try send("PUT", "/v1/price-lists/CONTRACT/entries", json: "{\"entries\":[{\"sku\":\"SKU-1\",\"amount\":\"9.50\"}]}").status, 200)
        XCTAssertEqual(try send("PUT", "/v1/price-lists/CONTRACT/assignments/company/ACME").status, 201)
    }

    func testGetPriceExplainsEveryCandidate() throws {
        try arrange()
        let response = try send("GET", "/v1/prices/SKU-1?group=wholesale&qty=12&at=2026-11-23T12:00:00Z", key: readKey)
        XCTAssertEqual(response.status, 200, response.bodyText)
        let body = try response.jsonObject()
        XCTAssertEqual(body["unitPrice"] as? String, "8.00")
        XCTAssertEqual(body["currency"] as? String, "EUR")
        XCTAssertEqual(body["lineTotal"] as? String, "96.00")
        let source = try XCTUnwrap(body["source"] as? [String: Any])
        XCTAssertEqual(source["priceList"] as? String, "WHOLESALE")
        XCTAssertEqual(source["minQuantity"] as? Int, 10)
        let explain = try XCTUnwrap(body["explain"] as? [[String: Any]])
        XCTAssertEqual(explain.map { $0["outcome"] as? String }.sorted { ($0 ?? "") < ($1 ?? "") }, ["lost", "not_applicable", "won"])
        XCTAssertTrue(explain.allSatisfy { ($0["reason"] as? String)?.isEmpty == false })

        let contract = try send("GET", "/v1/prices/SKU-1?group=wholesale&company=ACME&qty=12", key: readKey).jsonObject()
        XCTAssertEqual(contract["unitPrice"] as? String, "9.50", "the override contract wins over the lower tier")

        let percent = try send("GET", "/v1/prices/SKU-2?group=wholesale", key: readKey).jsonObject()
        XCTAssertEqual(percent["unitPrice"] as? String, "8.75")
    }

    func testNoPriceIs404ProblemNotZero() throws {
        let response = try send("GET", "/v1/prices/NOPE", key: readKey)
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(response.header("Content-Type"), "application/problem+json")
        let body = try response.jsonObject()
        XCTAssertEqual(body["type"] as? String, "https://wharf.dev/problems/price-not-found")
        XCTAssertEqual(try send("GET", "/v1/prices/SKU-1?qty=0", key: readKey).status, 400)
        XCTAssertEqual(try send("GET", "/v1/prices/SKU-1?at=yesterday", key: readKey).status, 400)
    }

    func testResolveCartInOneCall() throws {
        try arrange()
        var lines = (0..<1000).map { "{\"sku\":\"SKU-\($0 % 2 + 1)\",\"qty\":\($0 % 20 + 1)}" }
        lines[999] = "{\"sku\":\"MISSING\",\"qty\":1}"
        let response = try send("POST", "/v1/prices:resolve", key: readKey, json: "{\"group\":\"wholesale\",\"lines\":[\(lines.joined(separator: ","))]}")
        XCTAssertEqual(response.status, 200, response.bodyText)
        let body = try response.jsonObject()
        XCTAssertEqual(body["complete"] as? Bool, false)
        let results = try XCTUnwrap(body["lines"] as? [[String: Any]])
        XCTAssertEqual(results.count, 1000)
        XCTAssertEqual(results[0]["unitPrice"] as? String, "9.00")
        XCTAssertEqual(results[18]["unitPrice"] as? String, "8.00", "line 19: SKU-1 at qty 19 is the tier from 10")
        XCTAssertEqual(results[1]["unitPrice"] as? String, "8.75")
        XCTAssertNil(results[0]["explain"], "explain only when asked")
        let error = try XCTUnwrap(results[999]["error"] as? [String: Any])
        XCTAssertEqual(error["type"] as? String, "https://wharf.dev/problems/price-not-found")

        let small = try send("POST", "/v1/prices:resolve", key: readKey, json: "{\"group\":\"wholesale\",\"explain\":true,\"lines\":[{\"sku\":\"SKU-1\",\"qty\":2}]}").jsonObject()
        XCTAssertEqual(small["total"] as? String, "18.00")
        XCTAssertEqual(small["currency"] as? String, "EUR")
        XCTAssertNotNil((small["lines"] as? [[String: Any]])?.first?["explain"])

        let tooMany = "{\"lines\":[\(Array(repeating: "{\"sku\":\"A\"}", count: 1001).joined(separator: ","))]}"
        XCTAssertEqual(try send("POST", "/v1/prices:resolve", key: readKey, json: tooMany).status, 413)
        XCTAssertEqual(try send("POST", "/v1/prices:resolve", key: readKey, json: "{\"lines\":[{\"sku\":\"A\",\"qty\":1.5}]}").status, 400)
    }

    func testSpecialPricesOverREST() throws {
        try arrange()
        let put = try send("PUT", "/v1/special-prices/SKU-1/web", json: "{\"currency\":\"EUR\",\"amount\":\"7.99\",\"from\":\"2026-01-01T00:00:00Z\"}")
        XCTAssertEqual(put.status, 201, put.bodyText)
        XCTAssertEqual(try send("PUT", "/v1/special-prices/SKU-1/web", json: "{\"currency\":\"EUR\",\"amount\":\"7.99\",\"from\":\"2026-01-01T00:00:00Z\"}").status, 200)
        XCTAssertEqual(try send("PUT", "/v1/special-prices/SKU-1/web", json: "{\"currency\":\"EUR\",\"amount\":7.99}").status, 422)
        let listed = try send("GET", "/v1/special-prices/SKU-1", key: readKey).jsonObject()["items"] as? [[String: Any]]
        XCTAssertEqual(listed?.first?["amount"] as? String, "7.99")
        let priced = try send("GET", "/v1/prices/SKU-1?channel=web&at=2026-06-01T00:00:00Z", key: readKey).jsonObject()
        XCTAssertEqual(priced["unitPrice"] as? String, "7.99")
        XCTAssertEqual((priced["source"] as? [String: Any])?["kind"] as? String, "special")
        XCTAssertEqual(try send("DELETE", "/v1/special-prices/SKU-1/web?currency=EUR&from=2026-01-01T00:00:00Z").status, 204)
        XCTAssertEqual(try send("DELETE", "/v1/special-prices/SKU-1/web?currency=EUR&from=2026-01-01T00:00:00Z").status, 404)
    }

    func testPriceListCRUD() throws {
        try arrange()
        let lists = try send("GET", "/v1/price-lists", key: readKey).jsonObject()["items"] as? [[String: Any]]
        XCTAssertEqual(lists?.map { $0["code"] as? String }, ["CONTRACT", "WHOLESALE"])
        XCTAssertEqual(lists?.last?["entryCount"] as? Int, 3)
        XCTAssertEqual(try send("PUT", "/v1/price-lists/X", key: readKey, json: "{\"currency\":\"EUR\"}").status, 403, "writes need catalog:write")

        let invalid = try send("PUT", "/v1/price-lists/BAD", json: "{\"currency\":\"EURO\",\"mode\":\"cheapest\",\"extra\":1}")
        XCTAssertEqual(invalid.status, 422)
        let fields = (try invalid.jsonObject()["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
        XCTAssertEqual(Set(fields ?? []), ["currency", "mode", "extra"])

        let wrongCurrency = try send("PUT", "/v1/price-lists/WHOLESALE", json: "{\"currency\":\"USD\"}")
        XCTAssertEqual(wrongCurrency.status, 409, wrongCurrency.bodyText)

        let page1 = try send("GET", "/v1/price-lists/WHOLESALE/entries?limit=2", key: readKey).jsonObject()
        XCTAssertEqual((page1["items"] as? [[String: Any]])?.count, 2)
        let cursor = try XCTUnwrap(page1["nextCursor"] as? String)
        let page2 = try send("GET", "/v1/price-lists/WHOLESALE/entries?limit=2&cursor=\(cursor)", key: readKey).jsonObject()
        XCTAssertEqual((page2["items"] as? [[String: Any]])?.first?["sku"] as? String, "SKU-2")

        let replaced = try send("PUT", "/v1/price-lists/WHOLESALE/entries?mode=replace", json: "{\"entries\":[{\"sku\":\"SKU-3\",\"amount\":\"1.00\"}]}")
        XCTAssertEqual(replaced.status, 200, replaced.bodyText)
        let after = try send("GET", "/v1/price-lists/WHOLESALE/entries", key: readKey).jsonObject()["items"] as? [[String: Any]]
        XCTAssertEqual(after?.map { $0["sku"] as? String }, ["SKU-3"])

        let badEntry = try send("PUT", "/v1/price-lists/WHOLESALE/entries", json: "{\"entries\":[{\"sku\":\"A\",\"amount\":12.5}]}")
        XCTAssertEqual(badEntry.status, 422)
        XCTAssertTrue(badEntry.bodyText.contains("entries[0].amount"), badEntry.bodyText)

        XCTAssertEqual(try send("DELETE", "/v1/price-lists/WHOLESALE/entries/SKU-3").status, 204)
        XCTAssertEqual(try send("DELETE", "/v1/price-lists/WHOLESALE/entries/SKU-3").status, 404)
        XCTAssertEqual(try send("DELETE", "/v1/price-lists/WHOLESALE/assignments/group/wholesale").status, 204)
        XCTAssertEqual(try send("DELETE", "/v1/price-lists/WHOLESALE/assignments/group/wholesale").status, 404)
        XCTAssertEqual(try send("PUT", "/v1/price-lists/WHOLESALE/assignments/team/x").status, 400)
        XCTAssertEqual(try send("DELETE", "/v1/price-lists/WHOLESALE").status, 204)
        XCTAssertEqual(try send("GET", "/v1/price-lists/WHOLESALE", key: readKey).status, 404)
    }
}

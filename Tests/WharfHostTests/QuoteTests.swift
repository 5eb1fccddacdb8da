import Foundation
import WharfAuth
import WharfModel
import WharfStore
import WharfTestSupport
import XCTest

@testable import WharfHost

/// B2B quotes over HTTP: requested → negotiated → accepted → one order at the quoted prices; refused transitions,
/// expiry and a second conversion.
final class QuoteTests: ServedTestCase {
    var headers: [(String, String)] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        headers = try jsonHeaders([.ordersRead, .ordersWrite])
        _ = try env.deployment.store.putProduct(Product(sku: "BOLT", name: "Bolt"))
        _ = try env.deployment.store.apply([.stock(InventorySourceItem(sku: "BOLT", sourceCode: "BER", quantity: 1000))], cursor: nil)
    }

    func request() throws -> String {
        let response = try client.send("POST", "/v1/quotes", headers: headers, text: """
            {"companyId": "acme", "companyUserId": "acme-ann", "channel": "b2b", "currency": "EUR",
             "lines": [{"sku": "BOLT", "quantity": 500, "requestedUnitPrice": "0.40"}], "note": "yearly need"}
            """)
        XCTAssertEqual(response.status, 201, response.bodyText)
        return try XCTUnwrap(try response.jsonObject()["id"] as? String)
    }

    func patch(_ id: String, _ body: String) throws -> TestHTTPResponse {
        try client.send("PATCH", "/v1/quotes/\(id)", headers: headers, text: body)
    }

    func testAnAcceptedQuoteBecomesOneOrderAtTheQuotedPrices() throws {
        let id = try request()
        XCTAssertEqual(try patch(id, #"{"status": "accepted"}"#).status, 409, "nothing offered yet")
        XCTAssertEqual(try patch(id, #"{"status": "negotiated"}"#).status, 409, "an offer needs a price per line")
        let offer = try patch(id, #"{"status": "negotiated", "lines": [{"line": 0, "quotedUnitPrice": "0.45"}], "expiresAt": "2099-01-01T00:00:00Z"}"#)
        XCTAssertEqual(offer.status, 200, offer.bodyText)
        XCTAssertEqual((try offer.jsonObject()["lines"] as? [[String: Any]])?.first?["quotedUnitPrice"] as? String, "0.45")
        XCTAssertEqual(try client.send("POST", "/v1/quotes/\(id)/order", headers: headers + [("Idempotency-Key", "q-0")]).status, 409, "not accepted yet")
        XCTAssertEqual(try patch(id, #"{"status": "accepted"}"#).status, 200)

        let ordered = try client.send("POST", "/v1/quotes/\(id)/order", headers: headers + [("Idempotency-Key", "q-1")],
                                      text: #"{"shippingAddress": {"company": "ACME", "country": "DE"}}"#)
        XCTAssertEqual(ordered.status, 201, ordered.bodyText)
        let order = try ordered.jsonObject()
        XCTAssertEqual(order["quoteId"] as? String, id)
        XCTAssertEqual(order["companyId"] as? String, "acme")
        XCTAssertEqual(order["grandTotal"] as? String, "225.00", "500 × 0.45, the quoted price (no base price exists)")
        let replay = try client.send("POST", "/v1/quotes/\(id)/order", headers: headers + [("Idempotency-Key", "q-1")],
                                     text: #"{"shippingAddress": {"company": "ACME", "country": "DE"}}"#)
        XCTAssertEqual(replay.status, 200)
        XCTAssertEqual(try replay.jsonObject()["number"] as? String, order["number"] as? String)
        let twice = try client.send("POST", "/v1/quotes/\(id)/order", headers: headers + [("Idempotency-Key", "q-2")])
        XCTAssertEqual(twice.status, 409, twice.bodyText)
        XCTAssertTrue(twice.bodyText.contains("ordered"), twice.bodyText)
        let quote = try client.send("GET", "/v1/quotes/\(id)", headers: headers).jsonObject()
        XCTAssertEqual(quote["status"] as? String, "ordered")
        XCTAssertEqual(quote["orderNumber"] as? String, order["number"] as? String)
        XCTAssertEqual(try env.deployment.store.salableInventory(sku: "BOLT")?.reserved, 500)
    }

    func testAnOfferPastItsExpiryIsExpiredAndCannotBeAccepted() throws {
        let id = try request()
        let offer = try patch(id, #"{"status": "negotiated", "lines": [{"line": 0, "quotedUnitPrice": "0.45"}], "expiresAt": "2099-01-01T00:00:00Z"}"#)
        XCTAssertEqual(offer.status, 200, offer.bodyText)
        // Let the offer run out by moving its expiry into the past through the store (as time passing would).
        var change = WharfStore.Store.QuoteChange()
        change.expiresAt = Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch - 1000)
        _ = try env.deployment.store.updateQuote(id: id, change)
        XCTAssertEqual(try client.send("GET", "/v1/quotes/\(id)", headers: headers).jsonObject()["status"] as? String, "expired")
        let accept = try patch(id, #"{"status": "accepted"}"#)
        XCTAssertEqual(accept.status, 409)
        XCTAssertTrue(accept.bodyText.contains("expired"), accept.bodyText)
        let bad = try client.send("POST", "/v1/quotes", headers: headers, text: #"{"companyId": "acme", "channel": "b2b", "currency": "EUR", "lines": [{"sku": "NOPE", "quantity": 1}]}"#)
        XCTAssertEqual(bad.status, 422)
        let fields = (try bad.jsonObject()["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
        XCTAssertEqual(Set(fields), ["companyUserId", "lines[0].sku"])
    }
}

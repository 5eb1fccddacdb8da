import Foundation
import WharfAuth
import WharfTestSupport
import XCTest

@testable import WharfHost

/// REST batch ingestion over loopback: per-item results, one transaction per request, runs and rejects recorded.
final class BatchIngestionTests: ServedTestCase {
    var headers: [(String, String)] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        headers = try jsonHeaders([.catalogWrite, .inventoryWrite, .runsRead])
    }

    func testProductBatchAppliesValidItemsAndAnswersPerItem() throws {
        let body = """
            {"items": [
              {"sku": "A-1", "name": "Anchor", "attributes": {"color": "navy"}},
              {"sku": "B-2", "name": "Buoy", "status": "inactive"},
              {"sku": "C-3", "name": ""},
              {"sku": "D-4", "name": "Dock", "colour": "red"},
              "not an object"
            ]}
            """
        let response = try client.send("POST", "/v1/products:batch", headers: headers, text: body)
        XCTAssertEqual(response.status, 200, response.bodyText)
        let result = try response.jsonObject()
        XCTAssertEqual(result["applied"] as? Bool, true)
        let counts = try XCTUnwrap(result["counts"] as? [String: Int])
        XCTAssertEqual(counts["received"], 5)
        XCTAssertEqual(counts["inserted"], 2)
        XCTAssertEqual(counts["rejected"], 3)
        let items = try XCTUnwrap(result["items"] as? [[String: Any]])
        XCTAssertEqual(items.map { $0["status"] as? String }, ["accepted", "accepted", "rejected", "rejected", "rejected"])
        XCTAssertEqual(items[2]["field"] as? String, "name")
        XCTAssertEqual(items[3]["field"] as? String, "colour")
        XCTAssertEqual(try env.deployment.store.product(sku: "A-1")?.attributes, ["color": "navy"])
        XCTAssertEqual(try env.deployment.store.product(sku: "B-2")?.status, .inactive)
        XCTAssertNil(try env.deployment.store.product(sku: "C-3"))

        let runID = try XCTUnwrap(result["run"] as? Int)
        let run = try XCTUnwrap(try env.deployment.store.run(id: Int64(runID)))
        XCTAssertEqual(run.connector, "api:products")
        XCTAssertEqual(run.trigger, .api)
        XCTAssertEqual(run.state, .succeeded)
        let rejects = try env.deployment.store.rejects(runID: run.id, limit: 10, afterID: nil)
        XCTAssertEqual(rejects.map(\.location.recordNumber), [3, 4, 5])

        let again = try client.send("POST", "/v1/products:batch", headers: headers, text: body).jsonObject()
        XCTAssertEqual((again["counts"] as? [String: Int])?["unchanged"], 2, "the same batch twice changes nothing")
    }

    func testOnErrorFailRefusesTheWholeRequest() throws {
        let response = try client.send("POST", "/v1/products:batch?onError=fail", headers: headers,
                                        text: #"{"items": [{"sku": "OK-1", "name": "Fine"}, {"sku": "BAD/1", "name": "Slash"}]}"#)
        XCTAssertEqual(response.status, 422, response.bodyText)
        let result = try response.jsonObject()
        XCTAssertEqual(result["applied"] as? Bool, false)
        XCTAssertEqual((result["items"] as? [[String: Any]])?.map { $0["status"] as? String }, ["not-applied", "rejected"])
        XCTAssertNil(try env.deployment.store.product(sku: "OK-1"), "nothing was applied")
        let run = try XCTUnwrap(try env.deployment.store.run(id: Int64(try XCTUnwrap(result["run"] as? Int))))
        XCTAssertEqual(run.state, .failed)
        XCTAssertEqual(try env.deployment.store.rejects(runID: run.id, limit: 10, afterID: nil).count, 1)
    }

    func testPricesKeepExactDecimalsAndStockNeedsItsOwnScope() throws {
        let prices = try client.send("POST", "/v1/prices/base", headers: headers, text: """
            {"items": [{"sku": "A-1", "currency": "EUR", "amount": "12.50"}, {"sku": "A-1", "currency": "USD", "amount": 12.5},
                       {"sku": "A-1", "currency": "XYZ", "amount": "1.00"}]}
            """).jsonObject()
        let items = try XCTUnwrap(prices["items"] as? [[String: Any]])
        XCTAssertEqual(items.map { $0["status"] as? String }, ["accepted", "rejected", "rejected"])
        XCTAssertTrue((items[1]["reason"] as? String ?? "").contains("string"), "\(items[1])")
        XCTAssertEqual(try env.deployment.store.basePrices(sku: "A-1").map(\.price.minorUnits), [1250])

        let stock = try client.send("POST", "/v1/inventory/source-items", headers: headers, text: """
            {"items": [{"sku": "A-1", "source": "BER", "quantity": 7}, {"sku": "A-1", "source": "HAM", "quantity": -2},
                       {"sku": "A-1", "source": "OSL", "quantity": 1.5}]}
            """).jsonObject()
        XCTAssertEqual((stock["items"] as? [[String: Any]])?.map { $0["status"] as? String }, ["accepted", "rejected", "rejected"])
        XCTAssertEqual(try env.deployment.store.inventory(sku: "A-1")?.totalQuantity, 7)

        let catalogOnly = [("Authorization", "Bearer \(try env.key([.catalogWrite]))")]
        XCTAssertEqual(try client.send("POST", "/v1/inventory/source-items", headers: catalogOnly, text: #"{"items": []}"#).status, 403)
    }

    func testMalformedAndOversizedBatchesAreRefused() throws {
        XCTAssertEqual(try client.send("POST", "/v1/products:batch", headers: headers, text: #"[1, 2]"#).status, 400)
        XCTAssertEqual(try client.send("POST", "/v1/products:batch", headers: headers, text: #"{"items": {}}"#).status, 400)
        XCTAssertEqual(try client.send("POST", "/v1/products:batch?onError=ignore", headers: headers, text: #"{"items": []}"#).status, 400)
        let many = "{\"items\": [" + Array(repeating: "{}", count: 10_001).joined(separator: ",") + "]}"
        let response = try client.send("POST", "/v1/products:batch", headers: headers, text: many)
        XCTAssertEqual(response.status, 413)
        XCTAssertTrue((try response.jsonObject()["detail"] as? String ?? "").contains("10000"))
        XCTAssertEqual(try env.deployment.store.runs(connector: nil, limit: 10, beforeID: nil).count, 0, "refused requests leave no run")
    }
}

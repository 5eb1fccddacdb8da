import Foundation
import WharfAuth
import WharfHTTP
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfHost

/// The REST API over a real loopback socket, against a real SQLite file.
final class RESTAPITests: ServedTestCase {
    var adminKey: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        adminKey = try env.key([.admin])
    }

    func auth(_ key: String) -> [(String, String)] { [("Authorization", "Bearer \(key)")] }

    // MARK: OpenAPI and access control

    func testOpenAPIDocumentDescribesExactlyTheRoutesTheRouterAnswers() throws {
        let response = try client.send("GET", "/openapi.json", headers: auth(adminKey))
        XCTAssertEqual(response.status, 200)
        let document = try response.jsonObject()
        XCTAssertEqual(document["openapi"] as? String, "3.1.0")
        let paths = try XCTUnwrap(document["paths"] as? [String: [String: Any]])
        var documented = Set<String>()
        for (path, operations) in paths {
            for method in operations.keys { documented.insert("\(method.uppercased()) \(path)") }
        }
        let routed = Set(server.api.router.routes.map { "\($0.method.rawValue) \($0.pattern)" })
        XCTAssertEqual(documented, routed)
        XCTAssertEqual(routed.count, server.api.routes.count, "each route is registered once")
        for required in ["GET /v1/products", "GET /v1/products/{sku}", "PUT /v1/products/{sku}", "DELETE /v1/products/{sku}",
                         "GET /v1/inventory/{sku}", "GET /v1/connectors", "GET /v1/runs", "GET /v1/runs/{id}",
                         "GET /v1/runs/{id}/rejects", "GET /v1/runs/{id}/logs", "GET /v1/plugins", "GET /health", "GET /openapi.json", "GET /metrics",
                         "POST /v1/products:batch", "POST /v1/prices/base", "POST /v1/inventory/source-items"] {
            XCTAssertTrue(documented.contains(required), "\(required) is documented")
        }
        // Every schema a route refers to exists.
        let schemas = try XCTUnwrap((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let text = response.bodyText
        let refs = text.components(separatedBy: "#/components/schemas/").dropFirst().map { $0.prefix { $0 != "\"" } }
        XCTAssertFalse(refs.isEmpty)
        for ref in refs { XCTAssertNotNil(schemas[String(ref)], "schema \(ref) exists") }
    }

    func testEveryDocumentedRouteRefusesMissingWrongAndUnscopedKeys() throws {
        let document = try client.send("GET", "/openapi.json", headers: auth(adminKey)).jsonObject()
        let paths = try XCTUnwrap(document["paths"] as? [String: [String: [String: Any]]])
        // A valid key whose only scope is one no route needs but /openapi.json's; and for that route, another one.
        let metaOnly = try env.key([.metaRead])
        let catalogOnly = try env.key([.catalogRead])
        let forged = "wharf_" + String(repeating: "a", count: 10) + "_" + String(repeating: "B", count: 43)
        var checked = 0
        for (pattern, operations) in paths.sorted(by: { $0.key < $1.key }) {
            let path = pattern.replacingOccurrences(of: "{sku}", with: "SKU-1").replacingOccurrences(of: "{id}", with: "1")
            for (method, operation) in operations {
                let security = try XCTUnwrap(operation["security"] as? [[String: [String]]], "\(method) \(pattern)")
                if pattern == "/health" {
                    XCTAssertTrue(security.isEmpty, "/health is the only open route")
                    XCTAssertEqual(try client.send(method.uppercased(), path).status, 200)
                    continue
                }
                let scope = try XCTUnwrap(operation["x-wharf-scope"] as? String, "\(method) \(pattern) names its scope")
                XCTAssertEqual(security.first?["bearerKey"], [scope])
                let body: [UInt8]? = method == "put" ? Array("{\"name\":\"x\"}".utf8) : nil
                let missing = try client.send(method.uppercased(), path, body: body)
                XCTAssertEqual(missing.status, 401, "\(method) \(pattern) without a key")
                XCTAssertEqual(missing.header("Content-Type"), "application/problem+json")
                XCTAssertEqual(try missing.jsonObject()["type"] as? String, "https://wharf.dev/problems/unauthorized")
                let wrong = try client.send(method.uppercased(), path, headers: auth(forged), body: body)
                XCTAssertEqual(wrong.status, 401, "\(method) \(pattern) with a forged key")
                let mistyped = try client.send(method.uppercased(), path, headers: auth(String(adminKey.dropLast()) + "x"), body: body)
                XCTAssertEqual(mistyped.status, 401, "\(method) \(pattern) with a mistyped key")
                let unscoped = try client.send(
                    method.uppercased(), path, headers: auth(scope == Scope.metaRead.rawValue ? catalogOnly : metaOnly), body: body)
                XCTAssertEqual(unscoped.status, 403, "\(method) \(pattern) with a key lacking \(scope)")
                XCTAssertEqual(try unscoped.jsonObject()["type"] as? String, "https://wharf.dev/problems/forbidden")
                XCTAssertTrue((try unscoped.jsonObject()["detail"] as? String ?? "").contains(scope))
                checked += 1
            }
        }
        XCTAssertEqual(checked, server.api.routes.count - 1)
    }

    func testXAPIKeyHeaderIsAcceptedAndRevokedKeysAreRefused() throws {
        let key = try env.key([.catalogRead])
        XCTAssertEqual(try client.send("GET", "/v1/products", headers: [("X-API-Key", key)]).status, 200)
        let id = try XCTUnwrap(APIKeys.keyID(fromPresented: key))
        XCTAssertTrue(try env.deployment.store.revokeAPIKey(id: id))
        // A fresh server has no cached key, so the revocation shows at once.
        let fresh = try WharfServer(deployment: env.deployment, port: 0)
        try fresh.start()
        defer { fresh.shutdown() }
        let other = try TestHTTPClient(port: fresh.port)
        defer { other.close() }
        XCTAssertEqual(try other.send("GET", "/v1/products", headers: [("X-API-Key", key)]).status, 401)
    }

    // MARK: Products

    func testProductLifecycleOverHTTP() throws {
        let put = try client.send("PUT", "/v1/products/MUG-1", headers: auth(adminKey) + [("Content-Type", "application/json")],
                                  text: #"{"name":"Blue mug","description":"Stoneware","attributes":{"color":"blue"}}"#)
        XCTAssertEqual(put.status, 201, put.bodyText)
        let created = try put.jsonObject()
        XCTAssertEqual(created["sku"] as? String, "MUG-1")
        XCTAssertEqual(created["status"] as? String, "active")
        XCTAssertEqual((created["attributes"] as? [String: String])?["color"], "blue")
        let updatedAt = try XCTUnwrap(created["updatedAt"] as? String)
        XCTAssertNotNil(Timestamp(rfc3339: updatedAt))

        let same = try client.send("PUT", "/v1/products/MUG-1", headers: auth(adminKey),
                                   text: #"{"name":"Blue mug","description":"Stoneware","attributes":{"color":"blue"}}"#)
        XCTAssertEqual(same.status, 200)
        XCTAssertEqual(try same.jsonObject()["updatedAt"] as? String, updatedAt, "an unchanged product keeps its updatedAt")

        let changed = try client.send("PUT", "/v1/products/MUG-1", headers: auth(adminKey), text: #"{"name":"Blue mug XL","status":"inactive"}"#)
        XCTAssertEqual(changed.status, 200)
        XCTAssertEqual(try changed.jsonObject()["status"] as? String, "inactive")
        XCTAssertEqual((try changed.jsonObject()["attributes"] as? [String: String]) ?? ["x": "y"], [:], "PUT replaces")

        let get = try client.send("GET", "/v1/products/MUG-1", headers: auth(adminKey))
        XCTAssertEqual(get.status, 200)
        XCTAssertEqual(try get.jsonObject()["name"] as? String, "Blue mug XL")
        XCTAssertEqual((try get.jsonObject()["prices"] as? [Any])?.count, 0)

        XCTAssertEqual(try client.send("DELETE", "/v1/products/MUG-1", headers: auth(adminKey)).status, 204)
        let gone = try client.send("GET", "/v1/products/MUG-1", headers: auth(adminKey))
        XCTAssertEqual(gone.status, 404)
        XCTAssertEqual(try gone.jsonObject()["type"] as? String, "https://wharf.dev/problems/not-found")
        XCTAssertEqual(try client.send("DELETE", "/v1/products/MUG-1", headers: auth(adminKey)).status, 404)
    }

    func testProductContentCategoriesMediaAndTextsRoundTrip() throws {
        let body = #"{"name":"Mug","categories":["kitchen","mugs"],"media":["https://cdn.example/mug.jpg"],"texts":{"de":{"name":"Becher","description":"Steingut"}}}"#
        let put = try client.send("PUT", "/v1/products/MUG-9", headers: auth(adminKey), text: body)
        XCTAssertEqual(put.status, 201, put.bodyText)
        let product = try client.send("GET", "/v1/products/MUG-9", headers: auth(adminKey)).jsonObject()
        XCTAssertEqual(product["categories"] as? [String], ["kitchen", "mugs"])
        XCTAssertEqual(product["media"] as? [String], ["https://cdn.example/mug.jpg"])
        XCTAssertEqual((product["texts"] as? [String: [String: String]])?["de"]?["name"], "Becher")
        XCTAssertEqual(try client.send("PUT", "/v1/products/MUG-9", headers: auth(adminKey), text: body).status, 200)
        let bad = try client.send("PUT", "/v1/products/MUG-9", headers: auth(adminKey), text: #"{"name":"Mug","categories":[1],"texts":{"de":"Becher"}}"#)
        XCTAssertEqual(bad.status, 422)
        XCTAssertEqual(Set((try bad.jsonObject()["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []), ["categories", "texts.de"])
    }

    func testSKUsWithReservedCharactersRoundTripThroughThePath() throws {
        let put = try client.send("PUT", "/v1/products/A%20B%2BC", headers: auth(adminKey), text: #"{"name":"Spaced"}"#)
        XCTAssertEqual(put.status, 201, put.bodyText)
        XCTAssertEqual(try put.jsonObject()["sku"] as? String, "A B+C")
        XCTAssertEqual(try client.send("GET", "/v1/products/A%20B%2BC", headers: auth(adminKey)).status, 200)
    }

    func testInvalidProductBodiesAreRefusedWithEveryProblemNamed() throws {
        let invalid = try client.send("PUT", "/v1/products/MUG-2", headers: auth(adminKey),
                                      text: #"{"sku":"OTHER","status":"gone","attributes":{"size":3},"colour":"red"}"#)
        XCTAssertEqual(invalid.status, 422)
        XCTAssertEqual(invalid.header("Content-Type"), "application/problem+json")
        let errors = try XCTUnwrap(try invalid.jsonObject()["errors"] as? [[String: Any]])
        let fields = Set(errors.compactMap { $0["field"] as? String })
        XCTAssertEqual(fields, ["sku", "name", "status", "attributes.size", "colour"])

        let notJSON = try client.send("PUT", "/v1/products/MUG-2", headers: auth(adminKey), text: "name=mug")
        XCTAssertEqual(notJSON.status, 400)
        let wrongType = try client.send("PUT", "/v1/products/MUG-2", headers: auth(adminKey) + [("Content-Type", "text/plain")], text: #"{"name":"x"}"#)
        XCTAssertEqual(wrongType.status, 415)
        let tooLongName = try client.send("PUT", "/v1/products/MUG-2", headers: auth(adminKey),
                                          text: "{\"name\":\"\(String(repeating: "n", count: 600))\"}")
        XCTAssertEqual(tooLongName.status, 422)
        XCTAssertEqual(try client.send("GET", "/v1/products/MUG-2", headers: auth(adminKey)).status, 404, "nothing was stored")
    }

    func testProductListPagesThroughEverythingOnceWithFilters() throws {
        for i in 1...25 {
            let status = i % 5 == 0 ? "inactive" : "active"
            let sku = (i % 2 == 0 ? "EVEN-" : "ODD-") + String(format: "%02d", i)
            XCTAssertEqual(try client.send("PUT", "/v1/products/\(sku)", headers: auth(adminKey), text: "{\"name\":\"P\(i)\",\"status\":\"\(status)\"}").status, 201)
        }
        var seen: [String] = []
        var cursor: String?
        repeat {
            let query = "/v1/products?limit=7" + (cursor.map { "&cursor=\($0)" } ?? "")
            let page = try client.send("GET", query, headers: auth(adminKey)).jsonObject()
            seen += (page["items"] as? [[String: Any]] ?? []).compactMap { $0["sku"] as? String }
            cursor = page["nextCursor"] as? String
        } while cursor != nil
        XCTAssertEqual(seen.count, 25)
        XCTAssertEqual(seen, seen.sorted())
        XCTAssertEqual(Set(seen).count, 25)

        let odd = try client.send("GET", "/v1/products?skuPrefix=ODD-&limit=1000", headers: auth(adminKey)).jsonObject()
        XCTAssertEqual((odd["items"] as? [Any])?.count, 13)
        XCTAssertTrue(odd["nextCursor"] is NSNull)
        let inactive = try client.send("GET", "/v1/products?status=inactive", headers: auth(adminKey)).jsonObject()
        XCTAssertEqual((inactive["items"] as? [[String: Any]])?.compactMap { $0["sku"] as? String }, ["EVEN-10", "EVEN-20", "ODD-05", "ODD-15", "ODD-25"])
        let future = try client.send("GET", "/v1/products?updatedSince=2999-01-01T00:00:00Z", headers: auth(adminKey)).jsonObject()
        XCTAssertEqual((future["items"] as? [Any])?.count, 0)
        let past = try client.send("GET", "/v1/products?updatedSince=2000-01-01T00:00:00Z&limit=1000", headers: auth(adminKey)).jsonObject()
        XCTAssertEqual((past["items"] as? [Any])?.count, 25)
    }

    func testBadListParametersAreRefusedWithTheParameterNamed() throws {
        for (query, word) in [("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"), ("cursor=%%%", "cursor"),
                              ("status=deleted", "status"), ("updatedSince=yesterday", "updatedSince")] {
            let response = try client.send("GET", "/v1/products?\(query)", headers: auth(adminKey))
            XCTAssertEqual(response.status, 400, query)
            XCTAssertTrue((try response.jsonObject()["detail"] as? String ?? "").contains(word), query)
        }
        XCTAssertEqual(try client.send("GET", "/v1/runs?cursor=bm90LWEtbnVtYmVy", headers: auth(adminKey)).status, 400)
        XCTAssertEqual(try client.send("GET", "/v1/runs/abc", headers: auth(adminKey)).status, 404)
    }

    func testMetricsCountRequestsByRoutePatternNotByPath() throws {
        for sku in ["A", "B", "C"] {
            XCTAssertEqual(try client.send("GET", "/v1/products/\(sku)", headers: auth(adminKey)).status, 404)
        }
        XCTAssertEqual(try client.send("GET", "/no/such/thing", headers: auth(adminKey)).status, 404)
        let response = try client.send("GET", "/metrics", headers: auth(try env.key([.metricsRead])))
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(response.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = response.bodyText
        XCTAssertTrue(text.contains(#"wharf_http_requests_total{route="/v1/products/{sku}",method="GET",status="404"} 3"#), text)
        XCTAssertTrue(text.contains(#"wharf_http_requests_total{route="unmatched",method="GET",status="404"} 1"#), text)
        XCTAssertTrue(text.contains(#"wharf_http_request_duration_seconds_count{route="/v1/products/{sku}",method="GET"} 3"#), text)
        XCTAssertTrue(text.contains(#"wharf_http_request_duration_seconds_bucket{route="/v1/products/{sku}",method="GET",le="+Inf"} 3"#), text)
        XCTAssertFalse(text.contains("/v1/products/A"), "paths never become labels")
        let size = text.split(separator: "\n").first { $0.hasPrefix("wharf_database_size_bytes ") }
        XCTAssertGreaterThan(Int(size?.split(separator: " ").last ?? "") ?? 0, 0)
    }

    func testUnknownRoutesAndMethodsAreProblems() throws {
        let missing = try client.send("GET", "/v1/nothing", headers: auth(adminKey))
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.header("Content-Type"), "application/problem+json")
        let method = try client.send("POST", "/v1/products/X", headers: auth(adminKey), text: "{}")
        XCTAssertEqual(method.status, 405)
        let allow = Set((method.header("Allow") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        XCTAssertTrue(allow.isSuperset(of: ["GET", "PUT", "DELETE"]), "\(allow)")
    }
}

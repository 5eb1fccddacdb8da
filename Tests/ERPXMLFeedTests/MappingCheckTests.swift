import Foundation
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Every mistake in a mapping (or config) is refused when the connector is created — which `wharf manifest check`
/// does — with the manifest file, the connector and the mapping path first.
final class MappingCheckTests: XCTestCase {
    static let good = #"records: [{ path: "/feed/item", entity: "product", fields: { sku: "sku", name: "name" } }]"#

    func testMistakesAreReportedWithTheirManifestPath() throws {
        let cases: [(config: String, mapping: String, expected: String)] = [
            ("{ path: \"f.xml\" }", "{}", "mapping.records: required"),
            ("{ path: \"f.xml\" }", "{ \(Self.good), extra: 1 }", "mapping.extra: not a mapping key"),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "feed/item", entity: "product", fields: { sku: "a", name: "b" } }] }"#,
             "mapping.records[0].path: a record path must be a path from the document root"),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "/feed/item", entity: "produce", fields: {} }] }"#,
             "mapping.records[0].entity: expected one of product, price, stock, category, source, found \"produce\""),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "/feed/item", entity: "product", fields: { sku: "sku" } }] }"#,
             "mapping.records[0].fields: a product record needs sku, name; add name"),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "/feed/item", entity: "product", fields: { sku: "sku[", name: "n" } }] }"#,
             "mapping.records[0].fields.sku: \"sku[\" at character 5"),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "/feed/item", entity: "product", fields: { sku: "bme:SKU", name: "n" } }] }"#,
             "mapping.records[0].fields.sku: \"bme:SKU\" uses the prefix \"bme:\", which mapping.namespaces does not declare"),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "/feed/item", entity: "product", fields: { sku: "s", name: "n", colour: "c" } }] }"#,
             "mapping.records[0].fields.colour: product records have no field \"colour\"; they take sku, name, description, status, category, media, attr.<name>, name.<lang>, description.<lang>"),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "/feed/item", entity: "price", fields: { sku: "s", currency: "c", amount: { path: "a", transform: ["trim", { decimal: ";" }] } } }] }"#,
             "mapping.records[0].fields.amount.transform[1].decimal: the decimal separator must be"),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "/feed/item", entity: "product", fields: { sku: "s", name: { path: "n", all: true } } }] }"#,
             "mapping.records[0].fields.name.all: name takes one value: add join"),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "/feed/item", fields: { sku: "s" }, records: [{ each: "p", entity: "price", fields: { sku: { record: "code" }, currency: "c", amount: "a" } }] }] }"#,
             "mapping.records[0].records[0].fields.sku.record: the enclosing record has no field \"code\"; it has sku"),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "/feed/item", entity: "product", fields: { sku: "s", name: "n", "name.deutsch": "d" } }] }"#,
             "mapping.records[0].fields.\"name.deutsch\": \"name.deutsch\": name.<lang> needs a BCP 47 language tag"),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "/feed/item[sku='x']", entity: "product", fields: { sku: "s", name: "n" } }] }"#,
             "mapping.records[0].path: \"/feed/item[sku='x']\": a record path may only have attribute conditions"),
            ("{ path: \"f.xml\" }", #"{ namespaces: { "": "" }, \#(Self.good) }"#, "mapping.namespaces.\"\": the default namespace needs a URI"),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "/feed/item", entity: "product", fields: { sku: "s", name: "n" }, attributes: { each: "f", name: "n" } }] }"#,
             "mapping.records[0].attributes.value: required"),
            ("{ path: \"f.xml\" }", #"{ records: [{ path: "/feed/item", entity: "stock", fields: { sku: "s", source: "w", quantity: { path: "q", required: false } } }] }"#,
             "mapping.records[0].fields.quantity.required: quantity is required for stock records"),
            ("{ path: \"f.xml\", batchSize: 0 }", "{ \(Self.good) }", "config.batchSize: expected a whole number from 1 to 10000"),
            ("{ path: \"f.xml\", maxDepth: 1000 }", "{ \(Self.good) }", "config.maxDepth: expected a whole number from 8 to 256"),
            ("{ path: \"f.xml\", delimiter: \";\" }", "{ \(Self.good) }", "config.delimiter: not a setting of erp-xml"),
            ("{ }", "{ \(Self.good) }", "config.path: one of path"),
        ]
        let connectors = cases.enumerated().map { index, item in
            "{ name: \"c\(index)\", plugin: \"erp-xml\", config: \(item.config), mapping: \(item.mapping) }"
        }
        let env = try XMLDeployment(connectors: "[" + connectors.joined(separator: ",\n") + "]")
        let manifest = env.deployment.manifest.filePath
        for (index, item) in cases.enumerated() {
            let message = env.check("c\(index)") ?? "(accepted)"
            XCTAssertTrue(
                message.hasPrefix("\(manifest): connectors[\(index)].\(item.expected)"),
                "case \(index): \(message)\n   expected: \(manifest): connectors[\(index)].\(item.expected)")
        }
    }

    func testTheCheckedManifestsOfTheRealHostRunNothing() throws {
        let env = try XMLDeployment(connectors: "[{ name: \"ok\", plugin: \"erp-xml\", config: { path: \"missing.xml\" }, mapping: { \(Self.good) } }]")
        XCTAssertNil(env.check("ok"), "create does not need the file to exist yet")
        XCTAssertEqual(try env.store.runs(connector: nil, limit: 10, beforeID: nil).count, 0)
    }
}

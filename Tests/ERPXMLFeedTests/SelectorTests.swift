import Foundation
import WharfABI
import WharfTestSupport
import XCTest

/// The mapping language end to end through the real plugin library and a recording host: namespaces, selectors,
/// predicates, document-level values, repeated elements, nested records and transforms.
final class SelectorTests: XCTestCase {
    static let feed = """
        <?xml version="1.0" encoding="UTF-8"?>
        <c:catalog xmlns:c="urn:cat" xmlns="urn:default" xmlns:x="urn:other">
          <c:header><c:currency>EUR</c:currency><c:date>24.12.2023</c:date></c:header>
          <product id="P-1" mode="new">
            <sku> p-1 </sku>
            <name lang="de">Anker</name><name lang="en">Anchor</name>
            <x:name>Other namespace</x:name>
            <feature><n>Color</n><v>red</v></feature>
            <feature><n>Color</n><v>blue</v></feature>
            <feature><n>Size</n><v>L</v><v>XL</v></feature>
            <group><feature><n>Deep</n><v>yes</v></feature></group>
            <cat>a</cat><cat>b</cat>
            <price type="list"><amount>1.234,50</amount><tier>1</tier></price>
            <price type="list"><amount>1.000,00</amount><tier>10</tier></price>
            <price type="net"><amount>9</amount></price>
            <weight unit="GRM">2500</weight>
            <updated>2023-12-24 18:30</updated>
          </product>
          <product id="P-2" mode="delete"><sku>P-2</sku><name lang="en">Gone</name></product>
          <product xmlns="urn:elsewhere" id="P-3"><sku>P-3</sku><name lang="en">Elsewhere</name></product>
        </c:catalog>
        """

    static let fields = """
        sku: { path: "sku", transform: ["upper"] },
        name: "name[@lang='en']",
        "name.de": "name[@lang='de']",
        description: "x:name",
        "attr.second": "name[2]",
        "attr.any_ns": "*:name[3]",
        "attr.id": "@id",
        "attr.currency": "/c:catalog/c:header/c:currency",
        "attr.date": { path: "/c:catalog/c:header/c:date", transform: [{ date: "dd.MM.yyyy" }] },
        "attr.updated": { path: "updated", transform: [{ date: { format: "yyyy-MM-dd HH:mm", offset: "+01:00" } }] },
        "attr.weight_kg": { path: "weight", transform: [{ unit: { from: "weight/@unit", factors: { GRM: "0.001", KGM: 1 } } }] },
        "attr.label": { concat: ["@id", "'/'", "sku"] },
        "attr.kind": { value: "shirt" },
        "attr.mode": { path: "@mode", transform: [{ lookup: { new: "N" } }] },
        "attr.first_feature": ".//n",
        "attr.missing": { path: "nope", default: "none" },
        "attr.raw_sku": { path: "sku", trim: false },
        category: { path: "cat", all: true },
        """

    static func mapping(namespaces: String, path: String, duplicates: String = "join") -> String {
        """
        { namespaces: \(namespaces), records: [{ path: "\(path)", entity: "product", fields: { \(fields) },
            attributes: { each: ".//feature", name: "n", value: { path: "v", all: true, join: "/" }, duplicates: "\(duplicates)"\(duplicates == "join" ? ", join: \"+\"" : "") },
            records: [{ each: "price[@type='list']", entity: "price", fields: {
                sku: { record: "sku" }, currency: { path: "../@currency", default: "EUR" },
                amount: { path: "amount", transform: [{ decimal: { separator: ",", thousands: "." } }] }, min_quantity: "tier" } }] }] }
        """
    }

    private var folder: TemporaryDirectory!

    override func setUp() {
        folder = TemporaryDirectory(prefix: "erp-xml-selectors")
        folder.write("feed.xml", Self.feed)
    }

    private func ingest(_ mapping: String) throws -> RecordingRun {
        let run = RecordingRun(config: "{\"path\": \(jsonString(folder.file("feed.xml")))}", mapping: try json(mapping))
        XCTAssertEqual(try RecordingIngest.ingest(run), WHARF_OK, run.lastError ?? "")
        return run
    }

    /// JSON5 (unquoted keys, trailing commas) to JSON, as the host hands it over.
    private func json(_ json5: String) throws -> String {
        let path = folder.write("m.json5", "{ database: \"x.sqlite\", connectors: [{ name: \"m\", plugin: \"erp-xml\", mapping: \(json5) }] }")
        return try WharfManifest.Manifest.load(path: path).connectors[0].mapping.jsonText()
    }

    func testSelectorsPredicatesNamespacesAndTransforms() throws {
        let run = try ingest(Self.mapping(namespaces: #"{ "": "urn:default", c: "urn:cat", x: "urn:other" }"#, path: "/c:catalog/product[@mode!='delete']"))
        XCTAssertEqual(run.rejects, [])
        XCTAssertEqual(run.records.map(\.entity), ["product", "price", "price"], "P-2 is excluded by [@mode!='delete'], P-3 is in another namespace")
        let product = run.records[0]
        XCTAssertEqual(product.fields, [
            "sku=P-1", "name=Anchor", "name.de=Anker", "description=Other namespace", "attr.second=Anchor",
            "attr.any_ns=Other namespace", "attr.id=P-1", "attr.currency=EUR", "attr.date=2023-12-24",
            "attr.updated=2023-12-24T17:30:00Z", "attr.weight_kg=2.5", "attr.label=P-1/p-1", "attr.kind=shirt", "attr.mode=N",
            "attr.first_feature=Color", "attr.missing=none", "attr.raw_sku= p-1 ", "category=a", "category=b",
            "attr.Color=red+blue", "attr.Size=L/XL", "attr.Deep=yes",
        ])
        XCTAssertEqual(product.line, 4)
        XCTAssertEqual(product.column, 3)
        XCTAssertEqual(product.recordNumber, 1)
        XCTAssertTrue(product.raw?.hasPrefix("<product id=\"P-1\" mode=\"new\">\n    <sku> p-1 </sku>") == true, product.raw ?? "-")
        XCTAssertEqual(run.records[1].fields, ["sku=P-1", "currency=EUR", "amount=1234.50", "min_quantity=1"])
        XCTAssertEqual(run.records[2].fields, ["sku=P-1", "currency=EUR", "amount=1000.00", "min_quantity=10"])
        XCTAssertEqual(run.records[1].line, 13)
        XCTAssertEqual(run.records[1].column, 5)
        XCTAssertEqual(run.records[2].recordNumber, 1, "nested records share the record number of their element")
        XCTAssertNotNil(run.emits.last?.cursor, "the cursor moves with the file's last batch")
    }

    func testUnprefixedNamesMatchAnyNamespaceWithoutADefault() throws {
        let run = try ingest(Self.mapping(namespaces: #"{ c: "urn:cat", x: "urn:other" }"#, path: "/c:catalog/product[@mode!='delete']", duplicates: "last"))
        XCTAssertEqual(run.records.filter { $0.entity == "product" }.map { $0["sku"] }, ["P-1", "P-3"])
        XCTAssertEqual(run.records[0]["attr.Color"], "blue", "duplicates: last")
        XCTAssertEqual(run.records[0]["attr.any_ns"], "Other namespace")
    }

    func testDuplicateAttributesCanBeRefused() throws {
        let run = try ingest(Self.mapping(namespaces: #"{ "": "urn:default", c: "urn:cat", x: "urn:other" }"#, path: "//product", duplicates: "reject"))
        XCTAssertEqual(run.records.filter { $0.entity == "product" }.map { $0["sku"] }, [], "P-3 is in another namespace")
        // P-1 repeats Color; P-2's mode "delete" is not in the attr.mode lookup table, which rejects misses.
        XCTAssertEqual(run.rejects.map(\.field), ["attr.Color", "attr.mode"])
        XCTAssertEqual(run.rejects.map(\.line), [4, 19])
        XCTAssertTrue(run.rejects.last?.reason.contains("'delete' is not in the lookup table") == true, run.rejects.last?.reason ?? "")
        XCTAssertTrue(run.rejects.last?.reason.contains("mapping.records[0].fields.\"attr.mode\".transform[0]") == true, run.rejects.last?.reason ?? "")
        XCTAssertTrue(run.rejects.first?.reason.contains("appears more than once") == true, run.rejects.first?.reason ?? "")
    }

    func testAFileWithoutMatchingRecordsSaysSo() throws {
        let run = try ingest(#"{ records: [{ path: "/catalog/products/product", entity: "product", fields: { sku: "sku", name: "name" } }] }"#)
        XCTAssertEqual(run.records, [])
        XCTAssertTrue(run.logs.contains { $0.contains("no element matched the mapping's record paths") }, "\(run.logs)")
    }
}

import WharfManifest

import Foundation
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Hand-made hostile files: entity expansion, external entities and DTDs, absurd depth, giant text, giant records.
final class HostileXMLTests: XCTestCase {
    static let mapping = """
        { records: [{ path: "/feed/item", entity: "product",
                      fields: { sku: "sku", name: "name", description: "description", status: "@status" } }] }
        """

    func env(_ feed: String, extra: String = "") throws -> XMLDeployment {
        try XMLDeployment(
            connectors: "[{ name: \"feed\", plugin: \"erp-xml\", config: { path: \"feed.xml\"\(extra) }, mapping: \(Self.mapping) }]",
            files: ["feed.xml": feed])
    }

    /// Peak resident memory of this process so far, in bytes.
    static func peakRSS() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    func testBillionLaughsFailsFastWithAClearErrorAndLowMemory() throws {
        var entities = "<!ENTITY lol \"lol\">\n"
        for level in 1...9 {
            entities += "<!ENTITY lol\(level) \"" + String(repeating: "&lol\(level == 1 ? "" : String(level - 1));", count: 10) + "\">\n"
        }
        let feed = "<?xml version=\"1.0\"?>\n<!DOCTYPE feed [\n\(entities)]>\n<feed><item><sku>A</sku><name>&lol9;</name></item></feed>\n"
        let env = try env(feed)
        let before = Self.peakRSS()
        let start = Date()
        let run = try env.run("feed")
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, "fails fast")
        XCTAssertLessThan(Self.peakRSS() - before, 50 << 20, "memory stays low")
        XCTAssertEqual(run.state, .failed)
        let error = run.error ?? ""
        XCTAssertTrue(error.contains("entity expansion refused"), error)
        XCTAssertTrue(error.contains("billion laughs"), error)
        XCTAssertTrue(error.contains("\(env.folder.file("feed.xml")):14:"), "position of the reference: \(error)")
        XCTAssertNil(try env.store.product(sku: "A"))
    }

    func testEntitiesExpandingBeyondTheTextLimitAreRefused() throws {
        // A quadratic blow-up that stays under libxml2's loop detection but above maxTextBytes.
        let big = String(repeating: "x", count: 5_000)
        let feed = """
            <?xml version="1.0"?>
            <!DOCTYPE feed [ <!ENTITY big "\(big)"> ]>
            <feed><item><sku>A</sku><name>\(String(repeating: "&big;", count: 400))</name></item></feed>
            """
        let run = try env(feed, extra: ", maxTextBytes: 100000").run("feed")
        XCTAssertEqual(run.state, .failed)
        XCTAssertTrue(run.error?.contains("longer than 100000 bytes (config maxTextBytes)") == true, run.error ?? "")
    }

    func testInternalEntitiesStillWork() throws {
        let feed = """
            <?xml version="1.0"?>
            <!DOCTYPE feed [ <!ENTITY co "ACME &amp; Co"> ]>
            <feed><item><sku>A</sku><name>Anchor by &co;</name></item></feed>
            """
        let env = try env(feed)
        XCTAssertEqual(try env.run("feed").state, .succeeded)
        XCTAssertEqual(try env.store.product(sku: "A")?.name, "Anchor by ACME & Co")
    }

    /// External general entities, external parameter entities and an external DTD all point at real local files;
    /// none of their content may reach a record (nor an attribute default from the DTD).
    func testExternalEntitiesAndDTDsAreNeverRead() throws {
        let env = try XMLDeployment(connectors: """
            [{ name: "general", plugin: "erp-xml", config: { path: "general.xml" }, mapping: \(Self.mapping) },
             { name: "parameter", plugin: "erp-xml", config: { path: "parameter.xml" }, mapping: \(Self.mapping) },
             { name: "dtd", plugin: "erp-xml", config: { path: "dtd.xml" }, mapping: \(Self.mapping) }]
            """)
        let secret = env.folder.write("secret.txt", "TOP-SECRET-4711")
        let dtd = env.folder.write("evil.dtd", """
            <!ENTITY injected "INJECTED-FROM-DTD">
            <!ATTLIST item status CDATA "inactive">
            """)
        env.folder.write("general.xml", """
            <?xml version="1.0"?>
            <!DOCTYPE feed [ <!ENTITY xxe SYSTEM "file://\(secret)"> <!ENTITY rel SYSTEM "secret.txt"> ]>
            <feed><item><sku>G1</sku><name>Name [&xxe;] [&rel;]</name></item></feed>
            """)
        env.folder.write("parameter.xml", """
            <?xml version="1.0"?>
            <!DOCTYPE feed [ <!ENTITY % ext SYSTEM "file://\(dtd)"> %ext; ]>
            <feed><item><sku>P1</sku><name>Name</name><description>[&injected;]</description></item></feed>
            """)
        env.folder.write("dtd.xml", """
            <?xml version="1.0"?>
            <!DOCTYPE feed SYSTEM "file://\(dtd)">
            <feed><item><sku>D1</sku><name>Name</name><description>[&injected;]</description></item></feed>
            """)
        for connector in ["general", "dtd"] {
            let run = try env.run(connector)
            XCTAssertEqual(run.state, .succeeded, "\(connector): \(run.error ?? "")")
        }
        let general = try XCTUnwrap(try env.store.product(sku: "G1"))
        XCTAssertEqual(general.name, "Name [] []", "external entities expand to nothing")
        let fromDTD = try XCTUnwrap(try env.store.product(sku: "D1"))
        XCTAssertEqual(fromDTD.description, "[]", "the external DTD's entity was not loaded")
        XCTAssertEqual(fromDTD.status, .active, "the external DTD's attribute default was not applied")
        // With the parameter entity unread, libxml2 finds &injected; undeclared, which it treats as not well-formed.
        let parameter = try env.run("parameter")
        XCTAssertEqual(parameter.state, .failed)
        XCTAssertTrue(parameter.error?.contains("parameter.xml:3:") == true && parameter.error?.contains("Entity 'injected' not defined") == true, parameter.error ?? "")
        XCTAssertNil(try env.store.product(sku: "P1"))
        let everything = try env.store.readAllText() + env.logLines.all.joined()
        XCTAssertFalse(everything.contains("TOP-SECRET"))
        XCTAssertFalse(everything.contains("INJECTED"))
        XCTAssertFalse(env.logs(containing: "were not loaded").isEmpty)
    }

    func testAbsurdDepthIsRefused() throws {
        let deep = String(repeating: "<d>", count: 300) + String(repeating: "</d>", count: 300)
        let run = try env("<feed><item><sku>A</sku><name>A</name></item>\(deep)</feed>").run("feed")
        XCTAssertEqual(run.state, .failed)
        XCTAssertTrue(run.error?.contains("nested deeper than 256 levels") == true, run.error ?? "")

        let shallow = String(repeating: "<d>", count: 30) + String(repeating: "</d>", count: 30)
        let limited = try env("<feed>\(shallow)</feed>", extra: ", maxDepth: 20").run("feed")
        XCTAssertEqual(limited.state, .failed)
        XCTAssertTrue(limited.error?.contains(":1:") == true && limited.error?.contains("deeper than 20 levels (config maxDepth)") == true, limited.error ?? "")
    }

    func testGiantTextNodesAndAttributesAreRefused() throws {
        let text = String(repeating: "y", count: (1 << 20) + 10)
        let run = try env("<feed><item><sku>A</sku><name>\(text)</name></item></feed>").run("feed")
        XCTAssertEqual(run.state, .failed)
        XCTAssertTrue(run.error?.contains("a text node is longer than 1048576 bytes (config maxTextBytes)") == true, run.error ?? "")

        let outside = try env("<feed><junk>\(String(repeating: "z", count: 5000))</junk></feed>", extra: ", maxTextBytes: 4096").run("feed")
        XCTAssertEqual(outside.state, .failed, "also outside records")
        let attribute = try env("<feed><item status=\"\(String(repeating: "a", count: 5000))\"/></feed>", extra: ", maxTextBytes: 4096").run("feed")
        XCTAssertTrue(attribute.error?.contains("attribute value is longer than 4096 bytes") == true, attribute.error ?? "")
    }

    func testAWholeDocumentAsOneRecordIsRefusedBeforeItFillsMemory() throws {
        let items = (1...200).map { "<p><sku>S\($0)</sku><name>\(String(repeating: "n", count: 100))</name></p>" }.joined()
        let env = try XMLDeployment(connectors: """
            [{ name: "feed", plugin: "erp-xml", config: { path: "feed.xml", maxRecordBytes: 4096 },
               mapping: { records: [{ path: "/feed", entity: "product", fields: { sku: "p/sku", name: "p/name" } }] } }]
            """, files: ["feed.xml": "<feed>\(items)</feed>"])
        let run = try env.run("feed")
        XCTAssertEqual(run.state, .failed)
        XCTAssertTrue(run.error?.contains(":1:1: the record element here is larger than 4096 bytes") == true, run.error ?? "")
        XCTAssertTrue(run.error?.contains("names the repeated element") == true, run.error ?? "")
    }
}

extension WharfStore.Store {
    /// Every product's text and every reject's raw text, to search for leaked content.
    func readAllText() throws -> String {
        var text = ""
        try readRecords(entity: "product", changedSince: nil, batchSize: 1000) { records in
            text += "\(records)"
            return true
        }
        for run in try runs(connector: nil, limit: 100, beforeID: nil) {
            text += "\(try rejects(runID: run.id, limit: 1000, afterID: nil))"
        }
        return text
    }
}

import WharfStore

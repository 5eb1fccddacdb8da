import Foundation
import WharfABI
import WharfManifest
import WharfModel
import WharfTestSupport
import XCTest

/// Unchanged-element skipping: what the plugin hashes, what it asks the host, and what it emits for the answers.
/// The recording host's "wharf.element-digests.v1" records every question and answers "skip" for chosen digests.
final class ElementDigestIngestTests: XCTestCase {
    /// Two rules on each item (a product and a price), a document-level value (the supplier) and an attribute.
    static let mapping = """
        {"records": [
          {"path": "/feed/item", "entity": "product",
           "fields": {"sku": "sku", "name": "name", "attr.color": "@color", "attr.supplier": "/feed/header/supplier"}},
          {"path": "/feed/item", "entity": "price",
           "fields": {"sku": "sku", "currency": "price/@currency", "amount": "price"}}]}
        """

    struct Item {
        var sku: String
        var name: String
        var color = "red"
        var amount = "1.00"
        var note = "n"
    }

    static let items = [
        Item(sku: "A", name: "Anchor"), Item(sku: "B", name: "Buoy", color: "blue"), Item(sku: "C", name: "Cleat", amount: "3.50"),
    ]

    static func feed(_ items: [Item] = items, supplier: String = "ACME") -> String {
        var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed>\n<header><supplier>\(supplier)</supplier></header>\n"
        for item in items {
            text += "<item color=\"\(item.color)\"><sku>\(item.sku)</sku><name>\(item.name)</name>"
                + "<price currency=\"EUR\">\(item.amount)</price><note>\(item.note)</note></item>\n"
        }
        return text + "</feed>\n"
    }

    private var folder: TemporaryDirectory!

    override func setUp() {
        folder = TemporaryDirectory(prefix: "erp-xml-digests")
    }

    /// Ingests `files` (name -> XML bytes, read oldest first in the listed order) with the recording host.
    private func ingest(
        _ files: [(String, [UInt8])], mapping: String = ElementDigestIngestTests.mapping, config: String = "",
        host: UnsafePointer<wharf_host_api> = recordingHost, skippable: Set<[UInt64]> = []
    ) throws -> RecordingRun {
        let subfolder = "in-\(UUID().uuidString)"
        for (index, file) in files.enumerated() {
            let path = folder.file("\(subfolder)/\(file.0)")
            try FileManager.default.createDirectory(atPath: folder.file(subfolder), withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: path, contents: Data(file.1))
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: Double(1000 + index))], ofItemAtPath: path)
        }
        let run = RecordingRun(
            config: "{\"folder\": \(jsonString(folder.file(subfolder))), \"force\": true\(config)}", mapping: mapping)
        run.skippable = skippable
        XCTAssertEqual(try RecordingIngest.ingest(run, host: host), WHARF_OK, run.lastError ?? "")
        return run
    }

    private func ingest(_ xml: String, name: String = "feed.xml", mapping: String = ElementDigestIngestTests.mapping) throws -> RecordingRun {
        try ingest([(name, Array(xml.utf8))], mapping: mapping)
    }

    func testTheSameContentUnderAnotherNameGivesTheSameDigestsAndSequences() throws {
        let first = try ingest(Self.feed(), name: "feed-2026-11-22.xml")
        let second = try ingest(Self.feed(), name: "feed-2026-11-23.xml")
        XCTAssertEqual(first.askedElements.map(\.sequence), [1, 2, 3])
        XCTAssertEqual(first.askedElements, second.askedElements)
        XCTAssertEqual(Set(first.askedElements.map(\.digest)).count, 3, "three different items, three digests")
        // Each element's records follow each other and carry its digest and sequence.
        XCTAssertEqual(first.records.map(\.entity), ["product", "price", "product", "price", "product", "price"])
        XCTAssertEqual(first.records.map(\.element), first.askedElements.flatMap { [$0, $0] })
        XCTAssertTrue(first.rejects.isEmpty)
        XCTAssertEqual(first.logs.filter { $0.contains("0 record elements skipped as unchanged") }.count, 1, "\(first.logs)")
    }

    /// Sequences run on across the files of one ingest; the second file's elements have the first one's digests.
    func testSequencesRunOnAcrossFiles() throws {
        let run = try ingest([("a.xml", Array(Self.feed().utf8)), ("b.xml", Array(Self.feed().utf8))])
        XCTAssertEqual(run.askedElements.map(\.sequence), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(run.askedElements[0..<3].map(\.digest), run.askedElements[3..<6].map(\.digest))
        XCTAssertEqual(run.records.count, 12)
    }

    /// One element's text (also in an element the mapping does not read) or attribute changes its digest only.
    func testAChangedElementChangesOnlyItsOwnDigest() throws {
        let base = try ingest(Self.feed()).askedElements.map(\.digest)
        var items = Self.items
        items[1].name = "Buoy XL"
        let renamed = try ingest(Self.feed(items)).askedElements.map(\.digest)
        XCTAssertEqual(renamed[0], base[0])
        XCTAssertNotEqual(renamed[1], base[1])
        XCTAssertEqual(renamed[2], base[2])

        items = Self.items
        items[2].color = "green"
        let recolored = try ingest(Self.feed(items)).askedElements.map(\.digest)
        XCTAssertEqual(recolored[0..<2], base[0..<2])
        XCTAssertNotEqual(recolored[2], base[2])

        items = Self.items
        items[0].note = "m"
        let noted = try ingest(Self.feed(items)).askedElements.map(\.digest)
        XCTAssertNotEqual(noted[0], base[0], "a selector such as \".\" or \"*\" reads text the mapping does not name")
        XCTAssertEqual(noted[1...], base[1...])
    }

    func testAnotherMappingChangesEveryDigest() throws {
        let base = try ingest(Self.feed()).askedElements.map(\.digest)
        let mapping = Self.mapping.replacingOccurrences(of: "\"name\": \"name\"", with: "\"name\": \"name\", \"status\": \"'active'\"")
        XCTAssertNotEqual(mapping, Self.mapping)
        let other = try ingest(Self.feed(), mapping: mapping).askedElements.map(\.digest)
        XCTAssertEqual(other.count, 3)
        for index in 0..<3 { XCTAssertNotEqual(other[index], base[index]) }
    }

    func testADocumentLevelValueIsInEveryDigest() throws {
        let base = try ingest(Self.feed()).askedElements.map(\.digest)
        let other = try ingest(Self.feed(supplier: "Other Supplies")).askedElements.map(\.digest)
        XCTAssertEqual(other.count, 3)
        for index in 0..<3 { XCTAssertNotEqual(other[index], base[index]) }
    }

    /// An element with bytes that are not UTF-8 is never asked about, and its records carry no digest; the others
    /// keep the digests they have in a clean file.
    func testAnElementWithInvalidUTF8HasNoDigest() throws {
        let clean = try ingest(Self.feed()).askedElements
        var items = Self.items
        items[1].amount = "\u{1}"
        var bytes = Array(Self.feed(items).utf8)
        let marker = bytes.firstIndex(of: 0x01)!
        bytes.replaceSubrange(marker...marker, with: [0xC3, 0x28])
        let run = try ingest([("feed.xml", bytes)])
        XCTAssertEqual(run.askedElements, [clean[0], clean[2]])
        let itemB = run.records.filter { $0["sku"] == "B" }
        XCTAssertEqual(itemB.map(\.entity), ["product"], "its price was rejected: \(run.rejects.map(\.reason))")
        XCTAssertEqual(itemB.map(\.element), [nil])
        XCTAssertEqual(run.records.filter { $0["sku"] != "B" }.map(\.element), [clean[0], clean[0], clean[2], clean[2]])
    }

    /// Skipped elements are not mapped (item B would have been rejected) nor emitted; the rest carry their digests.
    func testSkippedElementsAreNeitherMappedNorEmitted() throws {
        var items = Self.items
        items[1].name = ""  // a product needs a name: mapping B rejects it
        let first = try ingest([("feed.xml", Array(Self.feed(items).utf8))])
        XCTAssertEqual(first.rejects.count, 1)
        let asked = first.askedElements
        let run = try ingest([("feed.xml", Array(Self.feed(items).utf8))], skippable: [asked[0].digest, asked[1].digest])
        XCTAssertEqual(run.askedElements, asked)
        XCTAssertTrue(run.rejects.isEmpty, "a skipped element is not mapped: \(run.rejects.map(\.reason))")
        XCTAssertEqual(run.records.map { $0["sku"] ?? "?" }, ["C", "C"])
        XCTAssertEqual(run.records.map(\.element), [asked[2], asked[2]])
        XCTAssertEqual(run.logs.filter { $0.contains(": 3 record elements, 2 record elements skipped as unchanged, 2 records emitted") }.count, 1, "\(run.logs)")
    }

    /// An element the plugin rejected part of emits its other records untagged: the host must not remember it.
    func testAnElementWithAPluginRejectEmitsUntaggedRecords() throws {
        var items = Self.items
        items[1].name = ""
        let run = try ingest(Self.feed(items))
        XCTAssertEqual(run.rejects.map(\.field), ["name"])
        XCTAssertEqual(run.askedElements.count, 3)
        XCTAssertEqual(run.records.map { $0["sku"] ?? "?" }, ["A", "A", "B", "C", "C"])
        XCTAssertEqual(run.records.map(\.element), [run.askedElements[0], run.askedElements[0], nil, run.askedElements[2], run.askedElements[2]])
    }

    func testSkipUnchangedFalseAsksNothingAndTagsNothing() throws {
        let asked = try ingest(Self.feed()).askedElements
        let run = try ingest(
            [("feed.xml", Array(Self.feed().utf8))], config: ", \"skipUnchanged\": false", skippable: Set(asked.map(\.digest)))
        XCTAssertTrue(run.askedElements.isEmpty)
        XCTAssertEqual(run.records.count, 6)
        XCTAssertEqual(run.records.compactMap(\.element), [])
    }

    func testAHostWithoutTheExtensionGetsEverythingUntagged() throws {
        let run = try ingest([("feed.xml", Array(Self.feed().utf8))], host: recordingHostWithoutExtensions)
        XCTAssertTrue(run.askedElements.isEmpty)
        XCTAssertEqual(run.records.count, 6)
        XCTAssertEqual(run.records.compactMap(\.element), [])
        XCTAssertEqual(run.logs.filter { $0.contains("0 record elements skipped as unchanged") }.count, 1, "\(run.logs)")
    }

    func testSkipUnchangedMustBeTrueOrFalse() throws {
        let error = try RecordingIngest.createError(config: #"{"path": "x.xml", "skipUnchanged": "yes"}"#, mapping: Self.mapping)
        XCTAssertEqual(error, "config.skipUnchanged: expected true or false, found yes")
    }

    /// With the real host and store: a forced re-import of an unchanged feed skips every element and changes
    /// nothing; after one item changes, only that one is mapped again.
    func testAForcedReimportSkipsUnchangedElementsInTheRealHost() throws {
        let mappingJSON5 = """
            { records: [{ path: "/feed/item", entity: "product", fields: { sku: "sku", name: "name", "attr.color": "@color" } }] }
            """
        let env = try XMLDeployment(
            connectors: """
                [{ name: "feed", plugin: "erp-xml", config: { path: "feed.xml", force: true }, mapping: \(mappingJSON5) }]
                """,
            files: ["feed.xml": Self.feed()])
        let first = try env.run("feed")
        XCTAssertEqual(first.state, .succeeded, first.error ?? "")
        XCTAssertEqual(first.counts.inserted, 3)

        let again = try env.run("feed")
        XCTAssertEqual(again.state, .succeeded, again.error ?? "")
        XCTAssertEqual(again.counts.inserted + again.counts.updated, 0)
        XCTAssertEqual(again.counts.unchanged, 3, "the skipped elements' records count as unchanged")
        XCTAssertEqual(again.counts.read, 3)
        XCTAssertEqual(env.logs(containing: "3 record elements skipped as unchanged").count, 1, "\(env.logs(containing: "imported"))")

        var items = Self.items
        items[1].name = "Buoy XL"
        env.folder.write("feed.xml", Self.feed(items))
        let changed = try env.run("feed")
        XCTAssertEqual(changed.state, .succeeded, changed.error ?? "")
        XCTAssertEqual(changed.counts.updated, 1)
        XCTAssertEqual(env.logs(containing: "2 record elements skipped as unchanged").count, 1, "\(env.logs(containing: "imported"))")
        XCTAssertEqual(try env.store.product(sku: "B")?.name, "Buoy XL")
        XCTAssertEqual(try env.store.product(sku: "C")?.name, "Cleat")
    }

    /// A full inventory snapshot through the real host, forced again and again: unchanged items are skipped, an item
    /// whose stock someone else changed is mapped again and set back to the feed's value, and a row the feed never
    /// named is still zeroed, although no record of the skipped items reached the store.
    func testAForcedSnapshotSkipsOnlyWhatNobodyChangedAndStillZeroesWhatTheFeedLacks() throws {
        let mappingJSON5 = """
            { records: [{ path: "/feed/item", entity: "stock",
                          fields: { sku: "sku", source: { value: "W1" }, quantity: "qty" } }] }
            """
        func feed(_ quantities: [String: Int]) -> String {
            "<feed>" + quantities.keys.sorted().map { "<item><sku>\($0)</sku><qty>\(quantities[$0]!)</qty></item>" }.joined()
                + "</feed>"
        }
        let env = try XMLDeployment(
            connectors: """
                [{ name: "stock", plugin: "erp-xml", inventory: { mode: "full", absent: "zero" },
                   config: { path: "feed.xml", force: true }, mapping: \(mappingJSON5) }]
                """,
            files: ["feed.xml": feed(["A": 5, "B": 6, "C": 7])])
        let first = try env.run("stock")
        XCTAssertEqual(first.state, .succeeded, first.error ?? "")
        XCTAssertEqual(first.counts.inserted, 3)

        // Someone else sets B's stock and adds Z at the same source.
        _ = try env.store.apply(
            [.stock(InventorySourceItem(sku: "B", sourceCode: "W1", quantity: 60)),
             .stock(InventorySourceItem(sku: "Z", sourceCode: "W1", quantity: 9))],
            cursor: nil)
        let second = try env.run("stock")
        XCTAssertEqual(second.state, .succeeded, second.error ?? "")
        XCTAssertEqual(env.logs(containing: "2 record elements skipped as unchanged").count, 1, "\(env.logs(containing: "imported"))")
        XCTAssertEqual(try env.store.inventory(sku: "B")?.totalQuantity, 6, "B's element was revoked and mapped again")
        XCTAssertEqual(try env.store.inventory(sku: "Z")?.totalQuantity, 0, "the snapshot never named Z")
        XCTAssertEqual(try env.store.inventory(sku: "A")?.totalQuantity, 5)
        XCTAssertEqual(try env.store.inventory(sku: "C")?.totalQuantity, 7)
        XCTAssertEqual(second.counts.updated, 2, "B set back, Z zeroed")
        XCTAssertEqual(second.counts.unchanged, 2, "A and C, skipped")

        let third = try env.run("stock")
        XCTAssertEqual(third.state, .succeeded, third.error ?? "")
        XCTAssertEqual(env.logs(containing: "3 record elements skipped as unchanged").count, 1, "\(env.logs(containing: "imported"))")
        XCTAssertEqual(third.counts.updated + third.counts.inserted, 0)
        XCTAssertEqual(try env.store.inventory(sku: "Z")?.totalQuantity, 0)
    }
}

import Foundation
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Where files come from: glob, drop folder (oldest first), checksum skip, force, archive, gzip.
final class FileSourceIngestTests: XCTestCase {
    static let mapping = #"{ records: [{ path: "/feed/item", entity: "product", fields: { sku: "sku", name: "name" } }] }"#

    static func feed(_ items: [(String, String)]) -> String {
        "<?xml version=\"1.0\"?>\n<feed>\n" + items.map { "<item><sku>\($0.0)</sku><name>\($0.1)</name></item>" }.joined(separator: "\n") + "\n</feed>\n"
    }

    static func setModified(_ path: String, _ seconds: Double) throws {
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: seconds)], ofItemAtPath: path)
    }

    static func gzip(_ path: String) throws {
        let result = try ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/gzip"), ["-f", path])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
    }

    func testDropFolderImportsNewFilesOldestFirstArchivesThemAndSkipsRepeats() throws {
        let env = try XMLDeployment(connectors: """
            [{ name: "drop", plugin: "erp-xml", config: { folder: "inbox", archive: "archive" }, mapping: \(Self.mapping) },
             { name: "again", plugin: "erp-xml", config: { folder: "inbox", force: true }, mapping: \(Self.mapping) }]
            """)
        // Two deliveries naming the same SKU: the newer one must win, whatever the names say.
        let older = env.folder.write("inbox/z-first.xml", Self.feed([("A", "Old name"), ("B", "Buoy")]))
        let newer = env.folder.write("inbox/a-second.xml", Self.feed([("A", "New name")]))
        try Self.setModified(older, 1_000)
        try Self.setModified(newer, 2_000)
        env.folder.write("inbox/readme.txt", "not a feed")

        let run = try env.run("drop")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(try env.store.product(sku: "A")?.name, "New name")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: env.folder.file("inbox")), ["readme.txt"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: env.folder.file("archive")).sorted(), ["a-second.xml", "z-first.xml"])
        let cursor = try XCTUnwrap(try env.store.cursor(connector: "drop"))
        XCTAssertTrue(cursor.hasPrefix("{\"imported\":[\"xxh64x2:"), cursor)

        // The same content delivered again under another name: skipped by checksum, archived.
        env.folder.write("inbox/third.xml", Self.feed([("A", "New name")]))
        let repeatRun = try env.run("drop")
        XCTAssertEqual(repeatRun.counts.read, 0)
        XCTAssertEqual(env.logs(containing: "was imported before").count, 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: env.folder.file("archive/third.xml")))

        // force: true imports it again; nothing changes, and the run says so.
        env.folder.write("inbox/fourth.xml", Self.feed([("A", "New name"), ("B", "Buoy")]))
        let forced = try env.run("again")
        XCTAssertEqual(forced.counts.unchanged, 2)
        XCTAssertEqual(forced.counts.inserted + forced.counts.updated, 0)
    }

    func testGlobReadsGzipFeedsDirectly() throws {
        let env = try XMLDeployment(connectors: """
            [{ name: "gz", plugin: "erp-xml", config: { glob: "feeds/*.xml.gz" }, mapping: \(Self.mapping) }]
            """)
        var items: [(String, String)] = []
        for index in 1...3000 { items.append(("G\(index)", "Gzipped item \(index) " + String(repeating: "ü", count: 20))) }
        let path = env.folder.write("feeds/big.xml", Self.feed(items))
        try Self.gzip(path)
        env.folder.write("feeds/plain.xml", Self.feed([("P", "Plain")]))  // does not match the glob
        let run = try env.run("gz")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(run.counts.inserted, 3000)
        XCTAssertEqual(try env.store.product(sku: "G2999")?.name, "Gzipped item 2999 " + String(repeating: "ü", count: 20))
        XCTAssertNil(try env.store.product(sku: "P"))
        // Its checksum is of the compressed file (computed apart, the parser only sees the inflated bytes): the
        // same file is recognised next time.
        let again = try env.run("gz")
        XCTAssertEqual(again.counts.read, 0)
        XCTAssertEqual(env.logs(containing: "was imported before").count, 1)
    }

    /// The first file a connector imports (nothing to compare with) is hashed while it is parsed, not in a pass of
    /// its own: that checksum must be the one a later run computes from the file to recognise it.
    func testAChecksumTakenWhileParsingRecognisesTheFileNextTime() throws {
        let env = try XMLDeployment(connectors: """
            [{ name: "p", plugin: "erp-xml", config: { path: "feed.xml" }, mapping: \(Self.mapping) }]
            """)
        var items: [(String, String)] = []
        for index in 1...3000 { items.append(("H\(index)", "Item \(index) with a name long enough to span chunks")) }
        env.folder.write("feed.xml", Self.feed(items))
        let first = try env.run("p")
        XCTAssertEqual(first.state, .succeeded, first.error ?? "")
        XCTAssertEqual(first.counts.inserted, 3000)
        let second = try env.run("p")
        XCTAssertEqual(second.counts.read, 0)
        XCTAssertEqual(env.logs(containing: "was imported before").count, 1, "\(env.logs(containing: "imported"))")
    }

    func testAGzipFileCutOffFailsTheRun() throws {
        let env = try XMLDeployment(connectors: """
            [{ name: "gz", plugin: "erp-xml", config: { path: "feed.xml.gz" }, mapping: \(Self.mapping) }]
            """)
        let items = (1...2000).map { ("C\($0)", "Item \($0)") }
        let path = env.folder.write("feed.xml", Self.feed(items))
        try Self.gzip(path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path + ".gz"))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path + ".gz"))
        let run = try env.run("gz")
        XCTAssertEqual(run.state, .failed)
        XCTAssertNil(try env.store.cursor(connector: "gz"))
    }

    func testAMissingPathFailsWithThePath() throws {
        let env = try XMLDeployment(connectors: """
            [{ name: "p", plugin: "erp-xml", config: { path: "nope/feed.xml" }, mapping: \(Self.mapping) }]
            """)
        let run = try env.run("p")
        XCTAssertEqual(run.state, .failed)
        XCTAssertTrue(run.error?.contains("\(env.folder.file("nope/feed.xml")) does not exist") == true, run.error ?? "")
    }

    func testFilesWithTheSameContentInOneRunAreImportedOnce() throws {
        let env = try XMLDeployment(connectors: """
            [{ name: "drop", plugin: "erp-xml", config: { folder: "inbox" }, mapping: \(Self.mapping) }]
            """)
        try Self.setModified(env.folder.write("inbox/1.xml", Self.feed([("A", "Anchor")])), 1_000)
        try Self.setModified(env.folder.write("inbox/2.xml", Self.feed([("A", "Anchor")])), 2_000)
        let run = try env.run("drop")
        XCTAssertEqual(run.counts.inserted, 1)
        XCTAssertEqual(run.counts.read, 1, "the second copy is recognised by its checksum")
    }
}

import Glibc
import WharfABI
import WharfPluginKit
import XCTest

/// A plugin that reports what ``FileSource`` found, one `source` record per file (code = file name).
final class FileSourceProbe: WharfPlugin {
    static let id = "kit-file-source"
    static let systemKind = "file"
    static let version = "1.0.0"
    static let capabilities: PluginCapabilities = [.ingest]
    let source: FileSource

    init(context: PluginContext) throws {
        source = try FileSource(config: try context.config(), context: context, defaultPatterns: ["*.xml"])
    }

    func ingest(_ context: IngestContext) throws {
        let records = try source.files().map { Record(entity: "source", ["code": String($0.path.split(separator: "/").last!)]) }
        try context.emit(records)
    }
}

/// What the probe reported.
enum Outcome: Equatable {
    case files([String])
    case failure(String)
}

/// File sources (path, glob, drop folder), moves, content checksums and the imported-files cursor.
final class FileSourceTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        var template = Array("/tmp/wharf-kit-files-XXXXXX".utf8CString)
        folder = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    override func tearDown() {
        _ = system("rm -rf '\(folder)'")
    }

    private func write(_ name: String, _ text: String, mtime: Int? = nil) {
        let path = "\(folder)/\(name)"
        _ = system("mkdir -p \"$(dirname '\(path)')\"")
        let file = fopen(path, "w")!
        fputs(text, file)
        fclose(file)
        if let mtime {
            var times = [timespec(tv_sec: mtime, tv_nsec: 0), timespec(tv_sec: mtime, tv_nsec: 0)]
            utimensat(AT_FDCWD, path, &times, 0)
        }
    }

    /// The file names the probe finds with `config`, or the error message of create/ingest.
    private func found(_ config: String) -> Outcome {
        let descriptor = PluginExport.descriptor(for: FileSourceProbe.self, hostMajor: UInt32(WHARF_ABI_MAJOR), hostMinor: 0, host: fakeHost)!
        let run = FakeRun()
        run.baseFolder = folder
        run.configJSON = config
        var instance: UnsafeMutableRawPointer?
        guard descriptor.pointee.create!(fakeHost, run.context, &instance) == WHARF_OK else { return .failure(run.lastError ?? "?") }
        defer { descriptor.pointee.destroy!(instance) }
        guard descriptor.pointee.ingest!(instance, run.context) == WHARF_OK else { return .failure(run.lastError ?? "?") }
        return .files(run.emits.flatMap(\.records).map { $0["code"] ?? "" })
    }

    func testFilesComeOldestFirstThenByName() {
        write("inbox/b.xml", "b", mtime: 1_000)
        write("inbox/a.xml", "a", mtime: 1_000)
        write("inbox/old.xml", "o", mtime: 500)
        write("inbox/notes.txt", "n", mtime: 100)
        write("inbox/.partial.xml", "p", mtime: 100)
        write("inbox/c.xml.gz", "c", mtime: 2_000)
        XCTAssertEqual(found(#"{"folder": "inbox"}"#), .files(["old.xml", "a.xml", "b.xml"]))
        XCTAssertEqual(found(#"{"folder": "inbox", "pattern": ["*.xml", "*.gz"]}"#), .files(["old.xml", "a.xml", "b.xml", "c.xml.gz"]))
        XCTAssertEqual(found(#"{"glob": "inbox/*.x*"}"#), .files(["old.xml", "a.xml", "b.xml", "c.xml.gz"]))
        XCTAssertEqual(found(#"{"glob": "nothing/*.xml"}"#), .files([]))
        XCTAssertEqual(found(#"{"path": "inbox/a.xml"}"#), .files(["a.xml"]))
        XCTAssertEqual(found(#"{"path": "\#(folder)/inbox/a.xml"}"#), .files(["a.xml"]), "absolute paths stay")
    }

    func testConfigMistakesNameTheirKey() {
        write("inbox/a.xml", "a")
        let cases: [(String, String)] = [
            (#"{}"#, "config.path: one of path"),
            (#"{"path": "a", "glob": "b"}"#, "config.glob: give only one of path, glob and folder"),
            (#"{"glob": "*.xml", "pattern": "*.xml"}"#, "config.pattern: only a drop folder"),
            (#"{"folder": "inbox", "archive": "inbox/"}"#, "config.archive: must be another folder"),
            (#"{"path": "a", "force": "yes"}"#, "config.force: expected true or false"),
            (#"{"path": 3}"#, "config.path: expected a non-empty path text"),
            (#"{"path": "missing.xml"}"#, "config.path: \(folder)/missing.xml does not exist"),
            (#"{"folder": "nope"}"#, "config.folder: cannot open the drop folder"),
            (#"{"path": "a", "rememberFiles": 0}"#, "config.rememberFiles:"),
        ]
        for (config, expected) in cases {
            guard case .failure(let message) = found(config) else { return XCTFail("\(config) was accepted") }
            XCTAssertTrue(message.hasPrefix(expected), "\(config): \(message)")
        }
    }

    func testMoveKeepsNamesAndNeverOverwrites() throws {
        write("in/feed.xml.gz", "1")
        write("done/feed.xml.gz", "0")
        let moved = try FileSource.move("\(folder)/in/feed.xml.gz", toFolder: "\(folder)/done")
        XCTAssertEqual(moved, "\(folder)/done/feed-1.xml.gz")
        XCTAssertNotEqual(access("\(folder)/done/feed.xml.gz", F_OK), -1)
        XCTAssertEqual(access("\(folder)/in/feed.xml.gz", F_OK), -1)
        write("in/x.xml", "2")
        XCTAssertEqual(try FileSource.move("\(folder)/in/x.xml", toFolder: "\(folder)/new/deeper"), "\(folder)/new/deeper/x.xml")
    }

    func testImportedFilesCursorIsBoundedAndRoundTrips() {
        var files = ImportedFiles(cursor: nil, limit: 3)
        for name in ["a", "b", "c", "d"] { files = files.adding(name) }
        XCTAssertEqual(files.checksums, ["b", "c", "d"])
        XCTAssertFalse(files.contains("a"))
        files = files.adding("b")
        XCTAssertEqual(files.checksums, ["c", "d", "b"], "a repeat becomes the newest")
        let restored = ImportedFiles(cursor: files.cursorText, limit: 3)
        XCTAssertEqual(restored, files)
        XCTAssertEqual(ImportedFiles(cursor: "file:v1 size=3", limit: 3).checksums, [], "a foreign cursor reads as empty")
    }

    func testContentHashIsXXH64TwiceAndStreams() throws {
        var empty = ContentHash()
        XCTAssertEqual(empty.xxh64, 0xEF46_DB37_51D8_E999)
        empty.update(UnsafeRawBufferPointer(start: nil, count: 0))
        XCTAssertEqual(ContentHash.of(Array("abc".utf8)).prefix(24), "xxh64x2:44bc2cf5ad770999")
        let data = (0..<1000).map { UInt8(($0 * 7 + 3) % 251) }
        XCTAssertEqual(ContentHash.of(data), "xxh64x2:021f7a7424085ea4b1e2cbbfa504da2c")
        // Fed in odd pieces, the result is the same.
        var pieces = ContentHash()
        data.withUnsafeBytes { bytes in
            var start = 0
            for size in [1, 30, 33, 7, 64, 865] {
                pieces.update(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + size)]))
                start += size
            }
        }
        XCTAssertEqual(pieces.finalize(), ContentHash.of(data))
        write("h.bin", String(decoding: data.map { $0 % 95 + 32 }, as: UTF8.self))
        XCTAssertEqual(try ContentHash.ofFile("\(folder)/h.bin"), ContentHash.of(data.map { $0 % 95 + 32 }))
        XCTAssertNotEqual(ContentHash.of(Array("abd".utf8)), ContentHash.of(Array("abc".utf8)))
    }
}

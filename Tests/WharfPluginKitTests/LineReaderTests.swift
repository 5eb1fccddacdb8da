import Glibc
import WharfPluginKit
import XCTest

final class LineReaderTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        var template = Array("/tmp/wharf-kit-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    override func tearDown() {
        if let dir = opendir(directory) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
                if name != "." && name != ".." { unlink("\(directory)/\(name)") }
            }
            closedir(dir)
        }
        rmdir(directory)
    }

    private func write(_ name: String, _ bytes: [UInt8]) -> String {
        let path = "\(directory)/\(name)"
        let file = fopen(path, "wb")!
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
        return path
    }

    private func lines(_ path: String, chunkSize: Int = 4096) throws -> [(Int, String)] {
        let reader = try LineReader(path: path, chunkSize: chunkSize)
        var out: [(Int, String)] = []
        try reader.forEachLine { number, line in out.append((number, String(decoding: line, as: UTF8.self))) }
        return out
    }

    func testSplitsLinesDropsCRAndBOMAndKeepsALastLineWithoutNewline() throws {
        let path = write("a.txt", [0xEF, 0xBB, 0xBF] + Array("one\r\ntwo\n\nthree".utf8))
        let result = try lines(path)
        XCTAssertEqual(result.map(\.0), [1, 2, 3, 4])
        XCTAssertEqual(result.map(\.1), ["one", "two", "", "three"])
    }

    func testLinesLongerThanTheBufferAndAcrossChunks() throws {
        let long = String(repeating: "x", count: 10_000)
        var text = ""
        for index in 0..<500 { text += "line \(index)\n" }
        text += long + "\n" + "end\n"
        let result = try lines(write("b.txt", Array(text.utf8)))
        XCTAssertEqual(result.count, 502)
        XCTAssertEqual(result[499].1, "line 499")
        XCTAssertEqual(result[500].1, long)
        XCTAssertEqual(result[501].0, 502)
        XCTAssertEqual(result[501].1, "end")
    }

    func testFactsAndFingerprint() throws {
        let path = write("c.txt", Array("12345".utf8))
        let reader = try LineReader(path: path)
        XCTAssertEqual(reader.facts.size, 5)
        XCTAssertTrue(reader.facts.fingerprint(path: path).hasPrefix("file:v1 size=5 mtime_ns="))
        XCTAssertTrue(reader.facts.fingerprint(path: path).hasSuffix(" path=\(path)"))
    }

    func testMissingFileAndDirectoryAreIOErrorsNamingThePath() {
        XCTAssertThrowsError(try LineReader(path: "\(directory)/absent")) { error in
            XCTAssertEqual((error as? PluginError)?.status, .io)
            XCTAssertEqual((error as? PluginError)?.message, "cannot open \(directory)/absent: No such file or directory")
        }
        XCTAssertThrowsError(try LineReader(path: directory)) { error in
            XCTAssertEqual((error as? PluginError)?.message, "\(directory) is a directory, not a file to read")
        }
    }
}

import Foundation
import XCTest

@testable import WharfAuth

final class SHA256Tests: XCTestCase {
    /// FIPS 180-4 / NIST CAVP example vectors.
    func testNISTVectors() {
        XCTAssertEqual(SHA256.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "the 448-bit message")
        XCTAssertEqual(
            SHA256.hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1", "the 896-bit message")
        XCTAssertEqual(
            SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "one million 'a'")
        XCTAssertEqual(SHA256.hash("abc"), SHA256.hash(Array("abc".utf8)))
        XCTAssertEqual(SHA256.hash("abc").count, 32)
    }

    func testIncrementalEqualsOneShotAcrossBlockBoundaries() {
        let message = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 300] {
            let part = Array(message.prefix(length))
            for chunk in [1, 3, 64, 100] {
                var hasher = SHA256.Hasher()
                var start = 0
                while start < part.count {
                    hasher.update(Array(part[start..<min(start + chunk, part.count)]))
                    start += chunk
                }
                XCTAssertEqual(hasher.finalize(), SHA256.hash(part), "length \(length), chunk \(chunk)")
            }
        }
    }

    /// Cross-checks padding for every length around the 55/56/64-byte edges against coreutils' `sha256sum`.
    func testAgreesWithSha256sum() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum") else { throw XCTSkip("no sha256sum") }
        let lengths = Array(0...130) + [1000, 4097]
        var input = Data()
        var expected: [String] = []
        for length in lengths {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 31 + length) }
            expected.append(SHA256.hex(bytes))
            input.append(contentsOf: bytes)
        }
        // One sha256sum process per length would be slow; hash each slice through a pipe in one shell loop instead.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-sha-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var offset = 0
        for (i, length) in lengths.enumerated() {
            try input.subdata(in: offset..<(offset + length)).write(to: folder.appendingPathComponent(String(format: "%04d", i)))
            offset += length
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "cd '\(folder.path)' && sha256sum *"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let digests = output.split(separator: "\n").map { String($0.prefix(64)) }
        XCTAssertEqual(digests, expected)
    }

    func testHexString() {
        XCTAssertEqual(SHA256.hexString([0x00, 0xab, 0x0f, 0xff]), "00ab0fff")
        XCTAssertEqual(SHA256.hexString([]), "")
    }
}

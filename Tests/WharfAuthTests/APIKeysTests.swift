import WharfModel
import XCTest

@testable import WharfAuth

final class APIKeysTests: XCTestCase {
    private let now = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)

    func testKeyFormatAndRecord() {
        let (key, record) = APIKeys.generate(name: "storefront-eu", scopes: ["catalog:read"], now: now)
        XCTAssertEqual(key.count, 60)
        XCTAssertTrue(key.hasPrefix("wharf_"))
        let parts = key.split(separator: "_", omittingEmptySubsequences: false)
        XCTAssertEqual(parts.count, 3)
        XCTAssertEqual(parts[1].count, 10)
        XCTAssertTrue(parts[1].allSatisfy { "abcdefghijklmnopqrstuvwxyz234567".contains($0) })
        XCTAssertEqual(parts[2].count, 43)
        XCTAssertTrue(parts[2].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }, "the secret is base62")

        XCTAssertEqual(record.id, String(parts[1]))
        XCTAssertEqual(record.name, "storefront-eu")
        XCTAssertEqual(record.scopes, ["catalog:read"])
        XCTAssertEqual(record.createdAt, now)
        XCTAssertNil(record.revokedAt)
        XCTAssertEqual(record.secretHash, SHA256.hash(key), "the record stores the hash of the whole key text")
        XCTAssertFalse(String(describing: record).contains(String(parts[2])), "the record never holds the secret")
    }

    func testKeysAreUnique() {
        var keys = Set<String>()
        var ids = Set<String>()
        var secretCharacters = Set<Character>()
        for _ in 0..<2000 {
            let (key, record) = APIKeys.generate(name: "k", scopes: [], now: now)
            keys.insert(key)
            ids.insert(record.id)
            secretCharacters.formUnion(key.suffix(43))
        }
        XCTAssertEqual(keys.count, 2000)
        XCTAssertEqual(ids.count, 2000)
        XCTAssertEqual(secretCharacters.count, 62, "every base62 digit shows up across 2000 secrets")
    }

    func testKeyIDFromPresented() {
        let (key, record) = APIKeys.generate(name: "k", scopes: [], now: now)
        XCTAssertEqual(APIKeys.keyID(fromPresented: key), record.id)
        let secret = String(key.suffix(43))
        let id = record.id
        var malformed: [String] = ["", "wharf_", "Bearer " + key, key + "x", String(key.dropLast())]
        malformed.append("wharf-" + id + "_" + secret)
        malformed.append("WHARF_" + id + "_" + secret)
        malformed.append("wharf_" + id.uppercased() + "_" + secret)
        malformed.append("wharf_abcdefghi1_" + secret)
        malformed.append("wharf_" + id + "-" + secret)
        malformed.append("wharf_" + id + "_+" + String(secret.dropFirst()))
        malformed.append("wharf_" + id + "_\u{e9}" + String(secret.dropFirst(2)))
        for text in malformed {
            XCTAssertNil(APIKeys.keyID(fromPresented: text), text)
        }
    }

    func testVerify() {
        let (key, record) = APIKeys.generate(name: "k", scopes: ["catalog:read"], now: now)
        XCTAssertTrue(APIKeys.verify(presented: key, against: record))

        let (otherKey, otherRecord) = APIKeys.generate(name: "other", scopes: [], now: now)
        XCTAssertFalse(APIKeys.verify(presented: otherKey, against: record))
        XCTAssertFalse(APIKeys.verify(presented: key, against: otherRecord))

        // Any one changed character of the key is refused, in the id or the secret.
        let bytes = Array(key.utf8)
        for position in 6..<bytes.count where position != 16 {
            var tampered = bytes
            tampered[position] = tampered[position] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
            XCTAssertFalse(APIKeys.verify(presented: String(decoding: tampered, as: UTF8.self), against: record), "position \(position)")
        }

        // The right secret presented with another record's id (same hash stored) is refused too.
        var swappedID = record
        swappedID.id = otherRecord.id
        XCTAssertFalse(APIKeys.verify(presented: key, against: swappedID))

        var revoked = record
        revoked.revokedAt = now
        XCTAssertFalse(APIKeys.verify(presented: key, against: revoked), "revoked keys are refused")

        var truncated = record
        truncated.secretHash = Array(record.secretHash.prefix(16))
        XCTAssertFalse(APIKeys.verify(presented: key, against: truncated))
        XCTAssertFalse(APIKeys.verify(presented: "", against: record))
    }

    func testBase62() {
        XCTAssertEqual(APIKeys.base62([0, 0], width: 3), "000")
        XCTAssertEqual(APIKeys.base62([0, 61], width: 2), "0z")
        XCTAssertEqual(APIKeys.base62([0, 62], width: 2), "10")
        XCTAssertEqual(APIKeys.base62([1, 0], width: 1), "48", "256 = 4 * 62 + 8")
        let largest = APIKeys.base62([UInt8](repeating: 0xFF, count: 32), width: 43)
        XCTAssertEqual(largest.count, 43, "every 32-byte value fits in 43 base62 digits")
    }
}

import WharfModel
import XCTest

@testable import WharfAuth

/// `wharf keys create --expires` values, and what checking a key says about revoked and expired keys.
final class APIKeyExpiryTests: XCTestCase {
    private let now = Timestamp(rfc3339: "2026-11-23T12:00:00Z")!

    func testLifetimesDatesAndTimes() throws {
        XCTAssertEqual(try APIKeyExpiry.parse("12h", now: now), Timestamp(rfc3339: "2026-11-24T00:00:00Z"))
        XCTAssertEqual(try APIKeyExpiry.parse("30d", now: now), Timestamp(rfc3339: "2026-12-23T12:00:00Z"))
        XCTAssertEqual(try APIKeyExpiry.parse("2w", now: now), Timestamp(rfc3339: "2026-12-07T12:00:00Z"))
        XCTAssertEqual(try APIKeyExpiry.parse(" 1d ", now: now), Timestamp(rfc3339: "2026-11-24T12:00:00Z"), "spaces are ignored")
        XCTAssertEqual(try APIKeyExpiry.parse("2027-01-31", now: now), Timestamp(rfc3339: "2027-01-31T00:00:00Z"), "a date: when it begins, UTC")
        XCTAssertEqual(try APIKeyExpiry.parse("2027-01-31T18:00:00+01:00", now: now), Timestamp(rfc3339: "2027-01-31T17:00:00Z"))
    }

    func testMistakesSayWhatIsWrongAndWhatToWrite() {
        for (text, reason) in [
            ("", "empty"), ("30", "neither a lifetime nor a date"), ("30x", "neither a lifetime nor a date"),
            ("d", "not a whole number of days"), ("-5d", "not a whole number of days"), ("1.5h", "not a whole number of hours"),
            ("0h", "at least 1 hour"), ("9999999d", "not a whole number of days"), ("2026-11-23", "not in the future"),
            ("2020-01-01T00:00:00Z", "not in the future"), ("2027-13-01", "neither a lifetime nor a date"),
        ] {
            XCTAssertThrowsError(try APIKeyExpiry.parse(text, now: now), text) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(reason), "\(text): \(message)")
                XCTAssertTrue(message.contains("12h, 30d or 8w") && message.contains("2027-01-31"), "lists the forms: \(message)")
            }
        }
    }

    func testCheckTellsExpiredAndRevokedKeysApartOnlyForTheRightKey() {
        let expiresAt = Timestamp(rfc3339: "2026-12-01T00:00:00Z")!
        let (key, record) = APIKeys.generate(name: "temp", scopes: ["catalog:read"], now: now, expiresAt: expiresAt)
        XCTAssertEqual(record.expiresAt, expiresAt)
        XCTAssertEqual(APIKeys.check(presented: key, against: record, now: now), .valid)
        XCTAssertTrue(APIKeys.verify(presented: key, against: record, now: now))
        let justBefore = Timestamp(millisecondsSinceEpoch: expiresAt.millisecondsSinceEpoch - 1)
        XCTAssertEqual(APIKeys.check(presented: key, against: record, now: justBefore), .valid)
        XCTAssertEqual(APIKeys.check(presented: key, against: record, now: expiresAt), .expired(at: expiresAt), "expired at the instant")
        XCTAssertFalse(APIKeys.verify(presented: key, against: record, now: expiresAt))
        XCTAssertTrue(record.isExpired(at: expiresAt))
        XCTAssertFalse(record.isExpired(at: justBefore))

        let (other, _) = APIKeys.generate(name: "other", scopes: [], now: now)
        var guessed = Array(key.utf8)
        guessed[guessed.count - 1] = guessed[guessed.count - 1] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        for wrong in [other, String(decoding: guessed, as: UTF8.self), "", "wharf_"] {
            XCTAssertEqual(APIKeys.check(presented: wrong, against: record, now: expiresAt), .mismatch, "a wrong key learns nothing about expiry")
        }

        var revoked = record
        revoked.revokedAt = now
        XCTAssertEqual(APIKeys.check(presented: key, against: revoked, now: now), .revoked(at: now))
        XCTAssertEqual(APIKeys.check(presented: other, against: revoked, now: now), .mismatch)

        let (forever, foreverRecord) = APIKeys.generate(name: "forever", scopes: [], now: now)
        XCTAssertNil(foreverRecord.expiresAt)
        XCTAssertEqual(APIKeys.check(presented: forever, against: foreverRecord, now: Timestamp(rfc3339: "2999-01-01")!), .valid)
    }
}

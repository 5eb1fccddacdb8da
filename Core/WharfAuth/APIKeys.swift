import WharfModel

/// Creating and checking API keys.
///
/// A key's text is `wharf_<id>_<secret>`: `id` is 10 lowercase base32 characters (`a-z`, `2-7`), public and used
/// to look the key up; `secret` is 32 random bytes from the system's CSPRNG (`getrandom`) written as 43 base62
/// characters. Only the SHA-256 of the whole text is stored, so the database never holds a working key. The text
/// is shown once, at creation.
public enum APIKeys {
    /// The text every key starts with, so leaked keys are easy to spot in logs and by secret scanners.
    public static let prefix = "wharf_"
    /// Length of the public id.
    public static let idLength = 10
    /// Length of the secret part: 32 bytes in base62 (⌈256 / log2 62⌉).
    public static let secretLength = 43
    /// Length of a whole key's text.
    public static let keyLength = 6 + idLength + 1 + secretLength

    /// A new key, valid until `expiresAt` when given (else until revoked). Show `key` to the person once; store
    /// `record`.
    public static func generate(
        name: String, scopes: [String], now: Timestamp, expiresAt: Timestamp? = nil
    ) -> (key: String, record: APIKeyRecord) {
        var random = SystemRandomNumberGenerator()
        var idBytes = [UInt8](repeating: 0, count: idLength)
        for i in 0..<idLength {
            let byte: UInt8 = random.next()
            idBytes[i] = base32Alphabet[Int(byte & 31)]  // 256 is a multiple of 32: no bias
        }
        var secretBytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 { secretBytes[i] = random.next() }
        let id = String(decoding: idBytes, as: UTF8.self)
        let key = prefix + id + "_" + base62(secretBytes, width: secretLength)
        let record = APIKeyRecord(
            id: id, name: name, scopes: scopes, secretHash: SHA256.hash(key), createdAt: now, expiresAt: expiresAt)
        return (key, record)
    }

    /// The id inside a presented key, or nil when the text is not shaped like a Wharf key (so the caller can answer
    /// 401 without a database look-up).
    public static func keyID(fromPresented presented: String) -> String? {
        var presented = presented
        return presented.withUTF8 { bytes -> String? in
            guard isWellFormed(bytes) else { return nil }
            return String(decoding: bytes[6..<(6 + idLength)], as: UTF8.self)
        }
    }

    /// True when `presented` is the key `record` was made for, and the key is neither revoked nor expired at `now`.
    ///
    /// The hash comparison takes the same time wherever the first differing byte is, so response timing does not
    /// reveal how much of a guess was right.
    public static func verify(presented: String, against record: APIKeyRecord, now: Timestamp = .now()) -> Bool {
        check(presented: presented, against: record, now: now) == .valid
    }

    /// Whether `presented` is the key `record` was made for and, if it is, whether it still works at `now`.
    ///
    /// Only a caller that presents the right key learns that it was revoked or has expired; any other text is
    /// `.mismatch`, so the answer tells a guesser nothing about the key behind an id.
    public static func check(presented: String, against record: APIKeyRecord, now: Timestamp) -> APIKeyCheck {
        guard record.secretHash.count == 32 else { return .mismatch }
        var presented = presented
        let matches = presented.withUTF8 { bytes -> Bool in
            guard isWellFormed(bytes) else { return false }
            let digest = SHA256.oneShot(bytes)
            var difference: UInt8 = 0
            for i in 0..<32 { difference |= digest[i] ^ record.secretHash[i] }
            // The id is public, so comparing it normally leaks nothing; the hash already covers it.
            return difference == 0 && bytes[6..<(6 + idLength)].elementsEqual(record.id.utf8)
        }
        guard matches else { return .mismatch }
        if let revokedAt = record.revokedAt { return .revoked(at: revokedAt) }
        if let expiresAt = record.expiresAt, expiresAt <= now { return .expired(at: expiresAt) }
        return .valid
    }

    // MARK: Not public

    static let base32Alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    static let base62Alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// `wharf_` + 10 base32 + `_` + 43 base62.
    static func isWellFormed(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == keyLength, bytes.starts(with: prefix.utf8) else { return false }
        for i in 6..<(6 + idLength) {
            let c = bytes[i]
            guard (c >= 97 && c <= 122) || (c >= 50 && c <= 55) else { return false }
        }
        guard bytes[6 + idLength] == 95 else { return false }
        for i in (7 + idLength)..<keyLength {
            let c = bytes[i]
            guard (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) else { return false }
        }
        return true
    }

    /// `bytes` as a big-endian number in base62, left-padded with `0` to `width` digits.
    static func base62(_ bytes: [UInt8], width: Int) -> String {
        var number = bytes
        var digits: [UInt8] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            for i in number.indices {
                let value = remainder << 8 | Int(number[i])
                number[i] = UInt8(value / 62)
                remainder = value % 62
            }
            digits.append(base62Alphabet[remainder])
        }
        while digits.count < width { digits.append(base62Alphabet[0]) }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }
}

/// The outcome of checking a presented key against its stored record (`APIKeys.check`).
public enum APIKeyCheck: Sendable, Hashable {
    /// The key is right and works.
    case valid
    /// The text is not the key the record was made for (malformed, mistyped or guessed).
    case mismatch
    /// The key is right but was revoked at that time.
    case revoked(at: Timestamp)
    /// The key is right but stopped working at that time.
    case expired(at: Timestamp)
}

extension APIKeyRecord {
    /// True when the key has an expiry time and it is not after `now`.
    public func isExpired(at now: Timestamp) -> Bool {
        guard let expiresAt else { return false }
        return expiresAt <= now
    }
}

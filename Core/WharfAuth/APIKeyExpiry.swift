import WharfModel

/// When a new API key stops working, as typed after `wharf keys create --expires`.
///
/// Three forms: a lifetime from now — `12h` (hours), `30d` (days), `8w` (weeks); a date — `2027-01-31`, meaning
/// the key stops working when that day begins, at 00:00 UTC; or an exact RFC 3339 time —
/// `2027-01-31T18:00:00+01:00`. The time must be in the future.
public enum APIKeyExpiry {
    /// The expiry time `text` stands for, counted from `now` for lifetimes.
    /// - Throws: `APIKeyExpiryError` saying what is wrong with `text` and which forms are accepted.
    public static func parse(_ text: String, now: Timestamp) throws(APIKeyExpiryError) -> Timestamp {
        let trimmed = String(text.unicodeScalars.filter { !$0.properties.isWhitespace })
        guard !trimmed.isEmpty else { throw APIKeyExpiryError(text: text, reason: "it is empty") }
        if let unit = trimmed.last, let milliseconds = unitMilliseconds[unit] {
            let digits = trimmed.dropLast()
            guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigitCharacter), digits.count <= 6, let count = Int64(digits) else {
                throw APIKeyExpiryError(text: text, reason: "'\(digits)' is not a whole number of \(unitNames[unit]!)")
            }
            guard count >= 1 else { throw APIKeyExpiryError(text: text, reason: "a key must live at least 1 \(unitNames[unit]!.dropLast())") }
            return Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch + count * milliseconds)
        }
        guard let time = Timestamp(rfc3339: trimmed) else {
            throw APIKeyExpiryError(text: text, reason: "it is neither a lifetime nor a date")
        }
        guard time > now else {
            throw APIKeyExpiryError(text: text, reason: "\(time.rfc3339) is not in the future (now is \(now.rfc3339))")
        }
        return time
    }

    // MARK: Not public

    static let unitMilliseconds: [Character: Int64] = ["h": 3_600_000, "d": 86_400_000, "w": 604_800_000]
    static let unitNames: [Character: String] = ["h": "hours", "d": "days", "w": "weeks"]
}

/// An `--expires` value that is not a lifetime, a date or a time in the future. The description says why and
/// lists the accepted forms.
public struct APIKeyExpiryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text as given.
    public var text: String
    /// What is wrong with it.
    public var reason: String

    /// An error for `text`.
    public init(text: String, reason: String) {
        self.text = text
        self.reason = reason
    }

    /// `expiry "30x" is not valid: …; write a lifetime such as 12h, 30d or 8w, a date such as 2027-01-31 (the key
    /// stops working at 00:00 UTC that day), or an RFC 3339 time`.
    public var description: String {
        "expiry \"\(text)\" is not valid: \(reason); write a lifetime such as 12h, 30d or 8w, a date such as 2027-01-31 "
            + "(the key stops working at 00:00 UTC that day), or an RFC 3339 time such as 2027-01-31T18:00:00Z"
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}

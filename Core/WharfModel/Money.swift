/// An amount of money: an integer count of the currency's minor units (cents for EUR) and the currency.
///
/// Money is never a floating-point number anywhere in Wharf: decimals are parsed digit by digit into minor units
/// and written back the same way, so 12.50 EUR is exactly 1250 cents at every step.
public struct Money: Sendable, Hashable, CustomStringConvertible {
    /// The amount in minor units of `currency` (1250 for 12.50 EUR, 1250 for 1250 JPY).
    public var minorUnits: Int64
    /// The currency.
    public var currency: Currency

    /// An amount of `minorUnits` of `currency`.
    public init(minorUnits: Int64, currency: Currency) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    /// Parses a decimal in major units with "." as the decimal separator ("12.50", "12.5", "-3", "0.125" for BHD).
    ///
    /// The conversion is exact. A value with more significant decimals than the currency has minor units is an
    /// error, never rounded ("12.345" EUR); trailing zeros past the minor units are accepted because the value is
    /// still exact ("12.5000" EUR, as ERPs with fixed four-decimal exports write it). No exponent, no thousands
    /// separators, no spaces. Errors name the field "amount".
    public static func parse(_ decimal: String, currency: Currency) throws(FieldError) -> Money {
        var minor: Int64 = 0
        switch DecimalText.parse(decimal, scale: currency.minorUnits) {
        case .value(let v): minor = v
        case .empty:
            throw FieldError(field: "amount", reason: "amount is empty; expected a decimal like 12.50")
        case .malformed:
            throw FieldError(
                field: "amount",
                reason: "amount '\(Rules.printable(decimal))' is not a decimal number; write digits with '.' as the decimal separator, like 12.50")
        case .tooManyDecimals(let n):
            throw FieldError(
                field: "amount", reason: "amount \(decimal) has \(n) decimal\(n == 1 ? "" : "s") but \(currency.code) has \(currency.minorUnits)")
        case .overflow:
            throw FieldError(field: "amount", reason: "amount \(decimal) is too large")
        }
        return Money(minorUnits: minor, currency: currency)
    }

    /// The amount in major units with exactly the currency's number of decimals: "12.50", "1250" (JPY), "-0.05".
    public var decimalString: String {
        DecimalText.format(minorUnits, scale: currency.minorUnits)
    }

    /// "12.50 EUR".
    public var description: String { "\(decimalString) \(currency.code)" }
}

// MARK: Not public

/// Exact decimal text <-> scaled integer conversion shared by money and quantities.
enum DecimalText {
    enum ParseResult: Equatable {
        case value(Int64)
        case empty
        case malformed
        /// The number of significant decimals found.
        case tooManyDecimals(Int)
        case overflow
    }

    /// Parses `-?[0-9]+(\.[0-9]+)?` into an integer scaled by 10^scale.
    static func parse(_ text: String, scale: Int) -> ParseResult {
        var text = text
        return text.withUTF8 { b -> ParseResult in
            if b.isEmpty { return .empty }
            var i = 0
            var negative = false
            if b[0] == UInt8(ascii: "-") {
                negative = true
                i = 1
            }
            var integer: Int64 = 0
            var overflow = false
            let intStart = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                let (m, o1) = integer.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(b[i] - 48))
                overflow = overflow || o1 || o2
                integer = a
                i += 1
            }
            if i == intStart { return .malformed }
            var fraction: [UInt8] = []
            if i < b.count {
                guard b[i] == UInt8(ascii: ".") else { return .malformed }
                i += 1
                let fracStart = i
                while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 }
                if i == fracStart || i != b.count { return .malformed }
                var end = i
                while end > fracStart, b[end - 1] == 48 { end -= 1 }  // trailing zeros do not change the value
                fraction = Array(b[fracStart..<end])
            }
            if fraction.count > scale { return .tooManyDecimals(fraction.count) }
            if overflow { return .overflow }
            var value = integer
            for d in 0..<scale {
                let digit = d < fraction.count ? Int64(fraction[d] - 48) : 0
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(digit)
                if o1 || o2 { return .overflow }
                value = a
            }
            return .value(negative ? -value : value)
        }
    }

    /// Formats `value` / 10^scale with exactly `scale` decimals.
    static func format(_ value: Int64, scale: Int) -> String {
        let magnitude = value.magnitude
        var s = String(magnitude)
        if scale > 0 {
            if s.count <= scale { s = String(repeating: "0", count: scale - s.count + 1) + s }
            s.insert(".", at: s.index(s.endIndex, offsetBy: -scale))
        }
        return value < 0 ? "-" + s : s
    }
}

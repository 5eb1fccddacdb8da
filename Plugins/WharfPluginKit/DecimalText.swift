/// An exact decimal number kept as decimal digits and a scale — never a binary floating-point value — so prices and
/// quantities read from feeds keep every digit they were written with.
///
/// ```swift
/// let amount = try DecimalText.parse("1.234,50", separator: ",", thousands: ".")   // 1234.50
/// amount.multiplied(by: try DecimalText.parse("0.8")).description                 // "987.600"
/// amount.rounded(toScale: 0).description                                           // "1235"
/// ```
public struct DecimalText: Sendable, Hashable, CustomStringConvertible {
    /// True for a number below zero (zero is never negative).
    public private(set) var isNegative: Bool
    /// The digits 0...9 of the unscaled value, most significant first, without leading zeros ("0" is `[0]`).
    public private(set) var digits: [UInt8]
    /// How many of `digits` are fraction digits (`12.50` has scale 2).
    public private(set) var scale: Int

    /// The value `digits × 10^-scale`, negated when `negative`.
    public init(negative: Bool = false, digits: [UInt8], scale: Int) {
        var digits = digits.isEmpty ? [0] : digits
        let scale = max(scale, 0)
        // Keep at least one integer digit so that `description` can place the separator by position.
        while digits.count <= scale { digits.insert(0, at: 0) }
        while digits.count > scale + 1, digits[0] == 0 { digits.removeFirst() }
        self.digits = digits
        self.scale = scale
        isNegative = negative && digits.contains { $0 != 0 }
    }

    /// Parses a decimal written with `separator` as the decimal mark (`"."` or `","`) and, optionally, `thousands`
    /// as the digit-group mark (`"1.234,50"`). Groups after the first must have three digits, so a misconfigured
    /// separator (`"1.5"` with thousands `"."`) is an error rather than a silent factor of 1000. A leading or
    /// trailing mark is fine (`",8"` is 0.8, `"5."` is 5); signs `+`/`-` are accepted; exponents are not. Spaces
    /// around the number are ignored.
    public static func parse(
        _ text: String, separator: Character = ".", thousands: Character? = nil
    ) throws(DecimalError) -> DecimalText {
        let separatorByte = separator.asciiValue ?? UInt8(ascii: ".")
        let thousandsByte = thousands?.asciiValue
        var bytes = Array(text.utf8)
        while let last = bytes.last, last == 0x20 || last == 0x09 || last == 0x0A || last == 0x0D { bytes.removeLast() }
        var index = 0
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D {
            index += 1
        }
        func fail(_ why: String) -> DecimalError {
            var how = "'\(separator)' as decimal separator"
            if let thousands { how += " and '\(thousands)' between thousands" }
            return DecimalError(text: text, reason: "'\(text)' is not a decimal number written with \(how): \(why)")
        }
        guard index < bytes.count else { throw fail("it is empty") }
        var negative = false
        if bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var digits: [UInt8] = []
        digits.reserveCapacity(bytes.count)
        var integerDigits = 0
        var groupLength = 0
        var sawGroupMark = false
        var fractionDigits = 0
        var inFraction = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte >= 0x30 && byte <= 0x39 {
                digits.append(byte - 0x30)
                if inFraction { fractionDigits += 1 } else { integerDigits += 1; groupLength += 1 }
            } else if byte == separatorByte && !inFraction {
                if sawGroupMark && groupLength != 3 { throw fail("digit groups between '\(thousands!)' must have 3 digits") }
                inFraction = true
            } else if let thousandsByte, byte == thousandsByte, !inFraction {
                if integerDigits == 0 { throw fail("it starts with the thousands separator") }
                if sawGroupMark && groupLength != 3 { throw fail("digit groups between '\(thousands!)' must have 3 digits") }
                if index + 1 >= bytes.count || !(bytes[index + 1] >= 0x30 && bytes[index + 1] <= 0x39) {
                    throw fail("a thousands separator must be followed by digits")
                }
                sawGroupMark = true
                groupLength = 0
            } else {
                let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "a byte 0x\(String(byte, radix: 16))"
                throw fail("unexpected \(shown)")
            }
            index += 1
        }
        if sawGroupMark && !inFraction && groupLength != 3 { throw fail("digit groups between '\(thousands!)' must have 3 digits") }
        guard !digits.isEmpty else { throw fail("it has no digits") }
        return DecimalText(negative: negative, digits: digits, scale: fractionDigits)
    }

    /// True when the value has no non-zero fraction digit.
    public var isInteger: Bool { digits.suffix(scale).allSatisfy { $0 == 0 } }

    /// The value with its fraction digits cut when they are all zero (`"10.000"` becomes `"10"`); others unchanged.
    public var withoutZeroFraction: DecimalText {
        isInteger ? DecimalText(negative: isNegative, digits: Array(digits.dropLast(scale)), scale: 0) : self
    }

    /// The exact product. Trailing fraction zeros beyond this value's own scale are dropped, so multiplying
    /// `"20.00"` by `"1.0"` gives `"20.00"`, and `"17.23"` by `"0.8"` gives `"13.784"`.
    public func multiplied(by factor: DecimalText) -> DecimalText {
        var product = [Int](repeating: 0, count: digits.count + factor.digits.count)
        for (i, a) in digits.reversed().enumerated() where a != 0 {
            for (j, b) in factor.digits.reversed().enumerated() {
                product[i + j] += Int(a) * Int(b)
            }
        }
        var carry = 0
        for k in product.indices {
            let total = product[k] + carry
            product[k] = total % 10
            carry = total / 10
        }
        while carry > 0 {
            product.append(carry % 10)
            carry /= 10
        }
        var resultDigits = product.reversed().map { UInt8($0) }
        var resultScale = scale + factor.scale
        while resultScale > scale, resultDigits.last == 0 {
            resultDigits.removeLast()
            resultScale -= 1
        }
        return DecimalText(negative: isNegative != factor.isNegative, digits: resultDigits, scale: resultScale)
    }

    /// The value rounded to `newScale` fraction digits, halves away from zero (commercial rounding:
    /// 2.345 → 2.35, -2.345 → -2.35). A value with fewer fraction digits is padded with zeros.
    public func rounded(toScale newScale: Int) -> DecimalText {
        let newScale = max(newScale, 0)
        if newScale >= scale {
            return DecimalText(
                negative: isNegative, digits: digits + [UInt8](repeating: 0, count: newScale - scale), scale: newScale)
        }
        let cut = scale - newScale
        var kept = Array(digits.dropLast(cut))
        if digits[digits.count - cut] >= 5 {
            var index = kept.count - 1
            while index >= 0 {
                if kept[index] == 9 {
                    kept[index] = 0
                    index -= 1
                } else {
                    kept[index] += 1
                    break
                }
            }
            if index < 0 { kept.insert(1, at: 0) }
        }
        return DecimalText(negative: isNegative, digits: kept, scale: newScale)
    }

    /// The canonical text: optional `-`, integer digits, and `.` plus the fraction digits when the scale is above 0
    /// (`"-1234.50"`).
    public var description: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count + 2)
        if isNegative { bytes.append(UInt8(ascii: "-")) }
        let integerCount = digits.count - scale
        for (index, digit) in digits.enumerated() {
            if index == integerCount { bytes.append(UInt8(ascii: ".")) }
            bytes.append(digit + 0x30)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Why a text is not a decimal number (or a decimal operation failed), in a sentence naming the text.
public struct DecimalError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text that was parsed.
    public var text: String
    /// What is wrong.
    public var reason: String

    /// Creates an error.
    public init(text: String, reason: String) {
        self.text = text
        self.reason = reason
    }

    /// The reason.
    public var description: String { reason }
}

/// A date/time layout (`"dd.MM.yyyy HH:mm"`) that parses feed values into RFC 3339 text, without Foundation's
/// formatters (cheap enough to run on every record).
///
/// Pattern letters (the common subset of Unicode/Java patterns):
/// `yyyy` year (4 digits), `MM`/`M` month, `dd`/`d` day, `HH`/`H` hour 0-23, `mm` minute, `ss` second,
/// `S`…`SSSSSSSSS` fraction digits (exactly that many), `XXX` (`+01:00` or `Z`), `XX` (`+0100` or `Z`), `X` (`+01`
/// or `Z`). Text in single quotes is literal (`'T'`, `''` is a quote); every other non-letter character is literal
/// too. Any other letter is refused when the pattern is parsed.
///
/// A value with a time is converted to UTC and written `2024-03-01T12:30:00Z` (with `.SSS…` when it had a
/// fraction); a date alone is written `2024-03-01`. Values without an offset use the offset given to
/// ``init(_:defaultOffsetSeconds:)`` (UTC by default); named zones (`Europe/Berlin`) are not supported.
public struct DateTimeFormat: Sendable, Hashable, CustomStringConvertible {
    /// One piece of a pattern.
    enum Token: Sendable, Hashable {
        case literal([UInt8])
        case year
        case month(width: Int)  // 1 = 1..2 digits, 2 = exactly 2
        case day(width: Int)
        case hour(width: Int)
        case minute
        case second
        case fraction(digits: Int)
        case offset(style: Int)  // 1 = +hh, 2 = +hhmm, 3 = +hh:mm
    }

    /// The pattern as written.
    public let pattern: String
    /// The offset from UTC, in seconds, of values that carry none.
    public let defaultOffsetSeconds: Int
    let tokens: [Token]
    let hasTime: Bool

    /// Parses `pattern`; throws a sentence naming the problem when a letter is unknown or a field is missing.
    public init(_ pattern: String, defaultOffsetSeconds: Int = 0) throws(DecimalError) {
        self.pattern = pattern
        self.defaultOffsetSeconds = defaultOffsetSeconds
        var tokens: [Token] = []
        let bytes = Array(pattern.utf8)
        var index = 0
        func appendLiteral(_ byte: UInt8) {
            if case .literal(let existing)? = tokens.last {
                tokens[tokens.count - 1] = .literal(existing + [byte])
            } else {
                tokens.append(.literal([byte]))
            }
        }
        func fail(_ why: String) -> DecimalError {
            DecimalError(text: pattern, reason: "date format '\(pattern)' \(why)")
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "'") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "'") {
                    appendLiteral(byte)
                    index += 1
                    continue
                }
                while index < bytes.count, bytes[index] != UInt8(ascii: "'") {
                    appendLiteral(bytes[index])
                    index += 1
                }
                guard index < bytes.count else { throw fail("has an unterminated quote") }
                index += 1
                continue
            }
            let isLetter = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            guard isLetter else {
                appendLiteral(byte)
                index += 1
                continue
            }
            var run = 1
            while index + run < bytes.count, bytes[index + run] == byte { run += 1 }
            let letter = Character(Unicode.Scalar(byte))
            switch (letter, run) {
            case ("y", 4): tokens.append(.year)
            case ("M", 1), ("M", 2): tokens.append(.month(width: run))
            case ("d", 1), ("d", 2): tokens.append(.day(width: run))
            case ("H", 1), ("H", 2): tokens.append(.hour(width: run))
            case ("m", 2): tokens.append(.minute)
            case ("s", 2): tokens.append(.second)
            case ("S", 1...9): tokens.append(.fraction(digits: run))
            case ("X", 1...3): tokens.append(.offset(style: run))
            default:
                throw fail("has '\(String(repeating: letter, count: run))', which is not known; use yyyy, MM, M, dd, d, HH, H, mm, ss, S…, X, XX, XXX, and quote literal letters ('T')")
            }
            index += run
        }
        func has(_ test: (Token) -> Bool) -> Bool { tokens.contains(where: test) }
        let hasYear = has { if case .year = $0 { return true } else { return false } }
        let hasMonth = has { if case .month = $0 { return true } else { return false } }
        let hasDay = has { if case .day = $0 { return true } else { return false } }
        guard hasYear, hasMonth, hasDay else { throw fail("needs a year (yyyy), a month (MM) and a day (dd)") }
        hasTime = has { if case .hour = $0 { return true } else { return false } }
        self.tokens = tokens
    }

    /// The pattern.
    public var description: String { pattern }

    /// The value as RFC 3339 text (UTC for values with a time, `yyyy-MM-dd` for dates), or why it does not match.
    public func rfc3339(_ text: String) throws(DecimalError) -> String {
        let bytes = Array(text.utf8)
        var index = 0
        var year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0
        var fraction: [UInt8] = []
        var offset: Int?
        func fail(_ why: String) -> DecimalError {
            DecimalError(text: text, reason: "'\(text)' does not match the date format '\(pattern)': \(why)")
        }
        func number(min: Int, max: Int, what: String) throws(DecimalError) -> Int {
            var value = 0
            var count = 0
            while count < max, index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                value = value * 10 + Int(bytes[index] - 0x30)
                index += 1
                count += 1
            }
            guard count >= min else { throw fail("expected \(min == max ? "\(min)" : "\(min) to \(max)") digits for the \(what)") }
            return value
        }
        for token in tokens {
            switch token {
            case .literal(let literal):
                guard index + literal.count <= bytes.count, Array(bytes[index..<(index + literal.count)]) == literal else {
                    throw fail("expected '\(String(decoding: literal, as: UTF8.self))' at character \(index + 1)")
                }
                index += literal.count
            case .year: year = try number(min: 4, max: 4, what: "year")
            case .month(let width): month = try number(min: width, max: 2, what: "month")
            case .day(let width): day = try number(min: width, max: 2, what: "day")
            case .hour(let width): hour = try number(min: width, max: 2, what: "hour")
            case .minute: minute = try number(min: 2, max: 2, what: "minute")
            case .second: second = try number(min: 2, max: 2, what: "second")
            case .fraction(let digits):
                for _ in 0..<digits {
                    guard index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 else {
                        throw fail("expected \(digits) fraction digits")
                    }
                    fraction.append(bytes[index])
                    index += 1
                }
            case .offset(let style):
                guard index < bytes.count else { throw fail("expected a UTC offset such as Z or +01:00") }
                if bytes[index] == UInt8(ascii: "Z") {
                    index += 1
                    offset = 0
                    continue
                }
                guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") else {
                    throw fail("expected a UTC offset such as Z or +01:00")
                }
                let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
                index += 1
                let hours = try number(min: 2, max: 2, what: "offset hours")
                var minutes = 0
                if style == 3 {
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':' in the UTC offset") }
                    index += 1
                }
                if style >= 2 { minutes = try number(min: 2, max: 2, what: "offset minutes") }
                guard hours <= 18, minutes < 60 else { throw fail("the UTC offset is out of range") }
                offset = sign * (hours * 3600 + minutes * 60)
            }
        }
        guard index == bytes.count else { throw fail("unexpected text after character \(index)") }
        guard (1...12).contains(month) else { throw fail("month \(month) is not 1 to 12") }
        guard day >= 1, day <= Self.daysIn(month: month, year: year) else { throw fail("day \(day) does not exist in \(year)-\(Self.two(month))") }
        guard hour < 24, minute < 60, second < 60 else { throw fail("the time \(Self.two(hour)):\(Self.two(minute)):\(Self.two(second)) is out of range") }
        guard hasTime else {
            return "\(Self.four(year))-\(Self.two(month))-\(Self.two(day))"
        }
        var seconds = Self.daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        seconds -= offset ?? defaultOffsetSeconds
        let days = Self.floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (y, m, d) = Self.civil(fromDays: days)
        var out = "\(Self.four(y))-\(Self.two(m))-\(Self.two(d))T\(Self.two(secondOfDay / 3600)):\(Self.two(secondOfDay / 60 % 60)):\(Self.two(secondOfDay % 60))"
        if fraction.contains(where: { $0 != 0x30 }) { out += "." + String(decoding: fraction, as: UTF8.self) }
        return out + "Z"
    }

    // MARK: Not public

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
    static func four(_ value: Int) -> String {
        let text = String(value)
        return text.count >= 4 ? text : String(repeating: "0", count: 4 - text.count) + text
    }
}

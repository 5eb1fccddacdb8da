/// A standard 5-field cron expression: `minute hour day-of-month month day-of-week`.
///
/// Syntax (as in Vixie cron / cronie, crontab(5)):
/// - each field is `*`, a value, a range `a-b`, or a comma list of these; `*` and ranges take a step:
///   `*/15`, `1-30/5`. A bare `a/n` is refused (write `a-max/n`).
/// - minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or `JAN`-`DEC`, day-of-week 0-7 or `SUN`-`SAT`
///   (0 and 7 are both Sunday; names are case-insensitive). A day-of-week range may end at `SUN`
///   (`FRI-SUN` = 5-7); other ranges must not run backwards, they do not wrap around.
/// - day-of-month and day-of-week: when both fields are restricted (neither starts with `*`), a day matches
///   when *either* matches (`0 0 13 * FRI` runs on every 13th and every Friday); otherwise both must match.
/// - macros: `@yearly`/`@annually` (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`), `@weekly` (`0 0 * * 0`),
///   `@daily`/`@midnight` (`0 0 * * *`), `@hourly` (`0 * * * *`).
///
/// Expressions that can never run (`0 0 31 2 *`) are refused when parsed. A cron expression has no time
/// zone; ``Schedule`` pairs it with one.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written (surrounding whitespace removed).
    public let text: String

    // MARK: Not public

    let minutes: FieldSet
    let hours: FieldSet
    let daysOfMonth: FieldSet
    let months: FieldSet
    /// Bits 0-6, Sunday = 0 (a written 7 is stored as 0).
    let daysOfWeek: FieldSet
    /// Vixie's rule: the field counts as restricted when its text does not start with `*`.
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    /// Parses `text`.
    ///
    /// - Throws: ``ScheduleError`` with code `.invalidCron` naming the field, what was found and what is allowed
    ///   (`field 2 (hour): 24 is out of range 0-23 in "0 24 * * *"`), or `.impossibleCron` for an expression
    ///   that parses but never matches a real date.
    public init(_ text: String) throws(ScheduleError) {
        let trimmed = text.trimmingWhitespace()
        self.text = trimmed
        let expanded: String
        if trimmed.hasPrefix("@") {
            expanded = try Self.expandMacro(trimmed)
        } else {
            expanded = trimmed
        }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            if fields.isEmpty {
                throw ScheduleError(
                    code: .invalidCron,
                    message: "empty cron expression; write 5 fields (minute hour day-of-month month day-of-week) "
                        + "such as \"0 3 * * *\", or a macro such as @daily")
            }
            let hint = fields.count == 6 || fields.count == 7 ? "; Wharf's cron has no seconds or year field" : ""
            throw ScheduleError(
                code: .invalidCron,
                message: "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, "
                    + "found \(fields.count) in \"\(trimmed)\"\(hint)")
        }
        minutes = try FieldSpec.minute.parse(fields[0], expression: trimmed)
        hours = try FieldSpec.hour.parse(fields[1], expression: trimmed)
        daysOfMonth = try FieldSpec.dayOfMonth.parse(fields[2], expression: trimmed)
        months = try FieldSpec.month.parse(fields[3], expression: trimmed)
        daysOfWeek = try FieldSpec.dayOfWeek.parse(fields[4], expression: trimmed)
        dayOfMonthRestricted = !fields[2].hasPrefix("*")
        dayOfWeekRestricted = !fields[4].hasPrefix("*")
        try checkPossible()
    }

    /// The expression as written.
    public var description: String { text }

    /// True when the hour field allows every hour (`*`, `*/1`, `0-23`): such a job is an interval job, and
    /// ``Schedule`` lets it follow elapsed time across daylight-saving changes (see ``Schedule``).
    var runsEveryHour: Bool { hours.bits == FieldSpec.hour.allBits }

    /// Whether the day matches, with Vixie's day-of-month / day-of-week rule.
    func dayMatches(year: Int, month: Int, day: Int) -> Bool {
        let domMatch = daysOfMonth.contains(day)
        let dowMatch = daysOfWeek.contains(Civil.weekday(year: year, month: month, day: day))
        if dayOfMonthRestricted && dayOfWeekRestricted {
            return domMatch || dowMatch
        }
        return domMatch && dowMatch
    }

    /// The first matching wall-clock minute at or after `lowerBound` and before `upperBound` (both local
    /// seconds), or nil. Jumps field by field (month → day → hour → minute), so a yearly or leap-day
    /// expression costs a few dozen steps per year searched, not one per minute.
    func firstMatch(atOrAfter lowerBound: Int64, before upperBound: Int64) -> Int64? {
        guard lowerBound < upperBound else { return nil }
        var t = CivilMinute(atOrAfter: lowerBound)
        let end = CivilMinute(atOrAfter: upperBound)  // upper bounds are whole minutes or far away
        while t < end {
            if !months.contains(t.month) {
                if let next = months.next(atOrAfter: t.month + 1) {
                    t = CivilMinute(year: t.year, month: next, day: 1, hour: 0, minute: 0)
                } else {
                    t = CivilMinute(year: t.year + 1, month: months.first, day: 1, hour: 0, minute: 0)
                }
                continue
            }
            if t.day > Civil.daysInMonth(year: t.year, month: t.month) {
                t = t.month == 12
                    ? CivilMinute(year: t.year + 1, month: 1, day: 1, hour: 0, minute: 0)
                    : CivilMinute(year: t.year, month: t.month + 1, day: 1, hour: 0, minute: 0)
                continue
            }
            if !dayMatches(year: t.year, month: t.month, day: t.day) {
                t = CivilMinute(year: t.year, month: t.month, day: t.day + 1, hour: 0, minute: 0)
                continue
            }
            if !hours.contains(t.hour) {
                if let next = hours.next(atOrAfter: t.hour + 1) {
                    t.hour = next
                    t.minute = 0
                } else {
                    t = CivilMinute(year: t.year, month: t.month, day: t.day + 1, hour: 0, minute: 0)
                }
                continue
            }
            if !minutes.contains(t.minute) {
                if let next = minutes.next(atOrAfter: t.minute + 1) {
                    t.minute = next
                } else {
                    // Hour 24 is in no hour set, so the hour step above moves on to the next day.
                    t.hour += 1
                    t.minute = 0
                }
                continue
            }
            return t.localSeconds
        }
        return nil
    }

    private static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    private static func expandMacro(_ text: String) throws(ScheduleError) -> String {
        if let fields = macros[text.lowercased()] { return fields }
        let known = "use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly, or 5 cron fields"
        if text.lowercased() == "@reboot" {
            throw ScheduleError(
                code: .invalidCron,
                message: "@reboot is not supported: Wharf schedules runs by time (for a run at start-up, "
                    + "use catchUp); \(known)")
        }
        throw ScheduleError(code: .invalidCron, message: "unknown macro \"\(text)\"; \(known)")
    }

    /// Refuses expressions whose day fields can never meet a real date. That happens only when the day is
    /// decided by day-of-month (day-of-week unrestricted, or both must match): then some listed month must
    /// have some listed day (February counts 29 days, which leap years supply).
    private func checkPossible() throws(ScheduleError) {
        let dayOfMonthDecides = !(dayOfMonthRestricted && dayOfWeekRestricted)
        guard dayOfMonthDecides, let smallestDay = daysOfMonth.next(atOrAfter: 1) else { return }
        let maxDays = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        let listed = (1...12).filter { months.contains($0) }
        if listed.contains(where: { smallestDay <= maxDays[$0 - 1] }) { return }
        let names = listed.map { FieldSpec.monthNames[$0 - 1] }
        let monthText = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " or " + names.last!
        let fits = listed.map { maxDays[$0 - 1] }.min() ?? 28
        throw ScheduleError(
            code: .impossibleCron, field: 3,
            message: "field 3 (day-of-month): day \(smallestDay) never occurs in \(monthText), so \"\(text)\" "
                + "would never run; pick a day from 1-\(fits) or other months")
    }
}

// MARK: Fields

/// A set of small integers (0-63) as a bit mask.
struct FieldSet: Hashable, Sendable {
    var bits: UInt64

    func contains(_ value: Int) -> Bool {
        value >= 0 && value < 64 && bits & (1 << UInt64(value)) != 0
    }

    /// The smallest member ≥ `value`, or nil.
    func next(atOrAfter value: Int) -> Int? {
        guard value < 64 else { return nil }
        let masked = bits & (~UInt64(0) << UInt64(max(value, 0)))
        return masked == 0 ? nil : masked.trailingZeroBitCount
    }

    /// The smallest member (sets are never empty after parsing).
    var first: Int { bits.trailingZeroBitCount }
}

/// One of the five fields: its position, name, range and names.
struct FieldSpec: Sendable {
    let index: Int
    let name: String
    let min: Int
    let max: Int
    /// Names for values `nameBase`, `nameBase + 1`, … (months JAN=1, days SUN=0).
    let names: [String]
    let nameBase: Int
    /// What a step "restarts" at, for the step-too-wide hint.
    let period: String

    static let monthNames = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December",
    ]

    static let minute = FieldSpec(index: 1, name: "minute", min: 0, max: 59, names: [], nameBase: 0, period: "hour")
    static let hour = FieldSpec(index: 2, name: "hour", min: 0, max: 23, names: [], nameBase: 0, period: "day")
    static let dayOfMonth = FieldSpec(
        index: 3, name: "day-of-month", min: 1, max: 31, names: [], nameBase: 0, period: "month")
    static let month = FieldSpec(
        index: 4, name: "month", min: 1, max: 12,
        names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], nameBase: 1,
        period: "year")
    static let dayOfWeek = FieldSpec(
        index: 5, name: "day-of-week", min: 0, max: 7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
        nameBase: 0, period: "week")

    var isDayOfWeek: Bool { index == 5 }
    /// The largest distinct value (day-of-week 7 is Sunday again, so the span ends at 6).
    var effectiveMax: Int { isDayOfWeek ? 6 : max }
    var allBits: UInt64 {
        var bits: UInt64 = 0
        for v in min...effectiveMax { bits |= 1 << UInt64(v) }
        return bits
    }

    var allowed: String {
        switch index {
        case 4: return "1-12 or JAN-DEC"
        case 5: return "0-7 (0 and 7 are Sunday) or SUN-SAT"
        default: return "\(min)-\(max)"
        }
    }

    private func error(_ what: String, _ expression: String) -> ScheduleError {
        ScheduleError(code: .invalidCron, field: index, message: "field \(index) (\(name)): \(what) in \"\(expression)\"")
    }

    func parse(_ text: String, expression: String) throws(ScheduleError) -> FieldSet {
        var set = FieldSet(bits: 0)
        let elements = text.split(separator: ",", omittingEmptySubsequences: false)
        for element in elements {
            guard !element.isEmpty else {
                throw error("empty list element in \"\(text)\"; remove the extra comma", expression)
            }
            set.bits |= try parseElement(String(element), expression: expression)
        }
        return set
    }

    private func parseElement(_ element: String, expression: String) throws(ScheduleError) -> UInt64 {
        let parts = element.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else {
            throw error("\"\(element)\" has more than one step; write one step such as */15 or 1-30/5", expression)
        }
        let base = String(parts[0])
        var step = 1
        if parts.count == 2 {
            let stepText = String(parts[1])
            guard !stepText.isEmpty, stepText.count <= 4, stepText.allSatisfy(\.isASCIIDigit), let value = Int(stepText)
            else {
                throw error("step \"\(stepText)\" in \"\(element)\" is not a number; write a step such as */15", expression)
            }
            guard value >= 1 else {
                throw error("step 0 in \"\(element)\" must be at least 1", expression)
            }
            guard value <= effectiveMax - min else {
                throw error(
                    "step \(value) in \"\(element)\" is wider than the range \(min)-\(effectiveMax); cron steps "
                        + "restart every \(period) (for a fixed interval, use an every schedule such as \"90m\")",
                    expression)
            }
            step = value
        }
        let low: Int
        let high: Int
        if base == "*" {
            low = min
            high = effectiveMax
        } else if let dash = base.firstIndex(of: "-") {
            let lowText = String(base[..<dash])
            let highText = String(base[base.index(after: dash)...])
            low = try value(lowText, in: element, expression: expression)
            var upper = try value(highText, in: element, expression: expression)
            // FRI-SUN: a day-of-week range ending at Sunday means 7, the Sunday after Saturday.
            if isDayOfWeek && upper == 0 && low > 0 { upper = 7 }
            guard low <= upper else {
                throw error(
                    "range \(base) runs backwards; ranges do not wrap around, so write the lower bound first "
                        + "or split it into a list such as \(low)-\(max),\(min)-\(upper)",
                    expression)
            }
            high = upper
        } else {
            if parts.count == 2 {
                throw error(
                    "\"\(element)\" has a step but no range; write \(base)-\(max)/\(step) or */\(step)", expression)
            }
            low = try value(base, in: element, expression: expression)
            high = low
        }
        var bits: UInt64 = 0
        for v in stride(from: low, through: high, by: step) {
            bits |= 1 << UInt64(isDayOfWeek && v == 7 ? 0 : v)
        }
        return bits
    }

    private func value(_ text: String, in element: String, expression: String) throws(ScheduleError) -> Int {
        if !text.isEmpty && text.allSatisfy(\.isASCIIDigit) {
            guard text.count <= 4, let number = Int(text), number >= min, number <= max else {
                throw error("\(text) is out of range \(allowed)", expression)
            }
            return number
        }
        if !names.isEmpty, let position = names.firstIndex(of: text.uppercased()) {
            return position + nameBase
        }
        if text.isEmpty {
            throw error("\"\(element)\" is missing a number; allowed \(allowed)", expression)
        }
        let kind = names.isEmpty ? "a number" : "a number or name"
        throw error("\"\(text)\" is not \(kind); allowed \(allowed)", expression)
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}

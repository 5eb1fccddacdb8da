import Foundation

/// When a job runs: a cron expression read on a time zone's wall clock, or a fixed interval.
///
/// ## Daylight-saving time (cron schedules)
///
/// A cron expression names wall-clock times; twice a year a zone's wall clock skips or repeats an interval.
/// Wharf follows cronie's split between fixed-time jobs and interval-like jobs, so that no run is lost and none
/// is doubled:
///
/// - **Fixed-time jobs** (the hour field restricts the hour, e.g. `30 2 * * *`, `*/30 2 * * *`):
///   - *Skipped wall time* (spring forward, Europe/Berlin 2026-03-29 02:00 → 03:00): a slot that falls in the
///     gap runs once at the first instant after the gap (03:00 CEST). Several slots in the gap, and a slot at
///     the first instant after it, still make one run. The alternative (skip it) would lose that day's run.
///   - *Repeated wall time* (fall back, 2026-10-25 03:00 → 02:00): a slot that occurs twice runs at its
///     first occurrence only (02:30 CEST, not again at 02:30 CET).
/// - **Interval-like jobs** (the hour field allows every hour, e.g. `0 * * * *`, `*/30 * * * *`, `@hourly`)
///   follow elapsed time: the skipped hour has no slots (there was no such hour), and the repeated hour's
///   slots run in both occurrences (the hour really passed twice). `0 * * * *` therefore runs every 60 real
///   minutes straight through both changes (Berlin spring forward: 01:00 CET, 03:00 CEST; fall back: 02:00 CEST,
///   02:00 CET, 03:00 CET).
///
/// ## Intervals
///
/// `every` schedules ignore time zones: their slots are the multiples of the interval since the Unix epoch
/// (`15m` runs at :00, :15, :30, :45 UTC; `1d` at 00:00 UTC), a fixed number of seconds apart whatever the
/// wall clock does.
public struct Schedule: Sendable, Hashable, CustomStringConvertible {
    /// What a schedule is made of.
    public enum Rule: Sendable, Hashable {
        /// A cron expression on the wall clock of a time zone.
        case cron(CronExpression, timeZone: TimeZone)
        /// A fixed interval in whole seconds (at least 1), aligned to the Unix epoch.
        case every(seconds: Int64)
    }

    /// What this schedule is made of.
    public let rule: Rule

    /// The longest search for a cron slot. Every expression that parses matches within 28 years (the weekday
    /// cycle of dates), so running off the end means "never" rather than "not found yet".
    static let searchHorizon: Int64 = 30 * 366 * 86_400

    /// A cron schedule on the wall clock of `timeZone`.
    public static func cron(_ expression: CronExpression, timeZone: TimeZone) -> Schedule {
        Schedule(rule: .cron(expression, timeZone: timeZone))
    }

    /// A schedule every `seconds` seconds.
    ///
    /// - Throws: ``ScheduleError`` `.invalidInterval` when `seconds` is less than 1.
    public static func every(seconds: Int64) throws(ScheduleError) -> Schedule {
        guard seconds >= 1 else {
            throw ScheduleError(
                code: .invalidInterval, message: "interval of \(seconds)s is too short; the minimum is 1s")
        }
        return Schedule(rule: .every(seconds: seconds))
    }

    /// Parses a cron schedule as a manifest writes it: the expression and an IANA time zone name.
    ///
    /// `Schedule.parse(cron: "0 3 * * *", timeZone: "Europe/Berlin")`
    ///
    /// - Throws: ``ScheduleError``: `.invalidCron` / `.impossibleCron` for the expression (see
    ///   ``CronExpression/init(_:)``), `.unknownTimeZone` naming a zone this system does not know.
    public static func parse(cron: String, timeZone: String) throws(ScheduleError) -> Schedule {
        let expression = try CronExpression(cron)
        return Schedule.cron(expression, timeZone: try parseTimeZone(timeZone))
    }

    /// Parses an interval as a manifest writes it: whole numbers with units `s`, `m`, `h`, `d`, largest first
    /// or not, e.g. `15m`, `90s`, `1h30m`, `1d`. The total must be at least 1 second.
    ///
    /// - Throws: ``ScheduleError`` `.invalidInterval` saying what was found and what is expected.
    public static func parse(every text: String) throws(ScheduleError) -> Schedule {
        let trimmed = text.trimmingWhitespace()
        let usage = "expected a whole number followed by a unit s, m, h or d, such as \"15m\", \"90s\" or \"1h30m\""
        guard !trimmed.isEmpty else {
            throw ScheduleError(code: .invalidInterval, message: "empty interval; \(usage)")
        }
        var total: Int64 = 0
        var number = ""
        for character in trimmed {
            if character.isASCIIDigit {
                number.append(character)
                continue
            }
            let unit: Int64
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86_400
            default:
                let what = character.isLetter ? " unit" : ""
                throw ScheduleError(
                    code: .invalidInterval,
                    message: "invalid interval \"\(trimmed)\": unexpected\(what) \"\(character)\"; \(usage)")
            }
            guard !number.isEmpty else {
                throw ScheduleError(
                    code: .invalidInterval,
                    message: "invalid interval \"\(trimmed)\": unit \"\(character)\" has no number before it; \(usage)")
            }
            guard number.count <= 9, let value = Int64(number) else {
                throw ScheduleError(
                    code: .invalidInterval,
                    message: "invalid interval \"\(trimmed)\": \(number) is too large; the longest interval is "
                        + "999999999 of a unit")
            }
            total += value * unit
            number = ""
        }
        guard number.isEmpty else {
            throw ScheduleError(
                code: .invalidInterval,
                message: "invalid interval \"\(trimmed)\": \(number) has no unit; \(usage)")
        }
        guard total >= 1 else {
            throw ScheduleError(
                code: .invalidInterval, message: "interval \"\(trimmed)\" is too short; the minimum is 1s")
        }
        return Schedule(rule: .every(seconds: total))
    }

    /// The first run strictly after `date`, or nil when the schedule never runs again (only possible for cron
    /// expressions whose next match lies more than 30 years ahead; parsing already refuses those that never
    /// match).
    public func nextRun(after date: Date) -> Date? {
        // Slots are whole seconds; "strictly after" a fractional date is "after its floor".
        let after = Int64(floor(date.timeIntervalSince1970))
        switch rule {
        case .every(let seconds):
            return Date(timeIntervalSince1970: TimeInterval((Civil.floorDiv(after, seconds) + 1) * seconds))
        case .cron(let expression, let timeZone):
            return Self.nextCronRun(expression, in: timeZone, after: after)
                .map { Date(timeIntervalSince1970: TimeInterval($0)) }
        }
    }

    /// The next `count` runs after `date`, in order (fewer when the schedule ends).
    public func nextRuns(after date: Date, count: Int) -> [Date] {
        var runs: [Date] = []
        var cursor = date
        while runs.count < count, let next = nextRun(after: cursor) {
            runs.append(next)
            cursor = next
        }
        return runs
    }

    /// `cron "0 3 * * *" in Europe/Berlin` or `every 15m`.
    public var description: String {
        switch rule {
        case .cron(let expression, let timeZone):
            return "cron \"\(expression.text)\" in \(timeZone.identifier)"
        case .every(let seconds):
            return "every \(Self.formatInterval(seconds))"
        }
    }

    // MARK: Not public

    static func parseTimeZone(_ name: String) throws(ScheduleError) -> TimeZone {
        let trimmed = name.trimmingWhitespace()
        if let zone = TimeZone(identifier: trimmed), !trimmed.isEmpty { return zone }
        throw ScheduleError(
            code: .unknownTimeZone,
            message: "unknown time zone \"\(name)\"; use an IANA name such as \"Europe/Berlin\", "
                + "\"America/New_York\" or \"UTC\"")
    }

    static func formatInterval(_ seconds: Int64) -> String {
        var rest = seconds
        var text = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text.isEmpty ? "0s" : text
    }

    /// The next cron run strictly after the instant `after` (Unix seconds).
    ///
    /// Walks the zone's offset periods (stretches between two transitions, where wall clock = instant +
    /// constant offset). Inside a period the wall clock is continuous, so the cron search runs on plain wall
    /// time; the daylight-saving rules apply only at period starts:
    /// - a forward jump leaves a gap of wall times; a fixed-time slot inside it runs at the period start;
    /// - a backward jump repeats wall times; a fixed-time job skips the repeated ones (they ran in the
    ///   previous period), an interval-like job runs them again.
    /// The walk starts two days before `after` so that a repeated interval that began before `after` is seen.
    static func nextCronRun(_ cron: CronExpression, in zone: TimeZone, after: Int64) -> Int64? {
        let fixedTime = !cron.runsEveryHour
        let limit = after + searchHorizon
        var periodStart = after - 2 * 86_400
        var previousOffset: Int64? = nil
        while periodStart <= limit {
            let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(periodStart))))
            var periodEnd = limit + 1
            if let transition = zone.nextDaylightSavingTimeTransition(
                after: Date(timeIntervalSince1970: TimeInterval(periodStart)))
            {
                // Transitions are whole seconds; the max guards against a zone database that repeats one.
                let transitionSecond = Int64(transition.timeIntervalSince1970.rounded(.up))
                periodEnd = Swift.min(Swift.max(transitionSecond, periodStart + 1), periodEnd)
            }
            var lowerBound = Swift.max(after + 1, periodStart) + offset
            if let previousOffset {
                if fixedTime && offset > previousOffset && periodStart > after
                    && cron.firstMatch(atOrAfter: periodStart + previousOffset, before: periodStart + offset) != nil
                {
                    return periodStart
                }
                if fixedTime && offset < previousOffset {
                    lowerBound = Swift.max(lowerBound, periodStart + previousOffset)
                }
            }
            if let local = cron.firstMatch(atOrAfter: lowerBound, before: periodEnd + offset) {
                return local - offset
            }
            previousOffset = offset
            periodStart = periodEnd
        }
        return nil
    }
}

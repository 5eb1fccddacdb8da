// MARK: Not public
//
// Proleptic Gregorian calendar arithmetic on wall-clock ("local") times, counted as seconds since
// 1970-01-01 00:00 of the same wall clock. Plain integer math: no Calendar, no DateComponents, no allocation,
// so the cron search can jump months and years cheaply. Time zones enter only in Schedule, which converts
// local seconds to instants per offset period.

/// A wall-clock minute: year, month 1-12, day 1-31, hour 0-23, minute 0-59.
struct CivilMinute: Hashable, Comparable, Sendable {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int

    /// The wall-clock minute at or after `localSeconds` (rounded up to a whole minute).
    init(atOrAfter localSeconds: Int64) {
        let minutes = Civil.floorDiv(localSeconds + 59, 60)
        let days = Civil.floorDiv(minutes, 1440)
        let minuteOfDay = Int(minutes - days * 1440)
        (year, month, day) = Civil.civil(fromDays: days)
        hour = minuteOfDay / 60
        minute = minuteOfDay % 60
    }

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
    }

    /// Seconds since 1970-01-01 00:00 on the same wall clock.
    var localSeconds: Int64 {
        let days = Civil.days(year: year, month: month, day: day)
        return days * 86_400 + Int64(hour * 3600 + minute * 60)
    }

    static func < (a: CivilMinute, b: CivilMinute) -> Bool {
        (a.year, a.month, a.day, a.hour, a.minute) < (b.year, b.month, b.day, b.hour, b.minute)
    }
}

enum Civil {
    /// Floor division (rounds toward negative infinity), for times before 1970.
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01 (Howard Hinnant's civil_from_days).
    static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yoe + era * 400) + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// Day of the week, 0 = Sunday … 6 = Saturday.
    static func weekday(year: Int, month: Int, day: Int) -> Int {
        let d = days(year: year, month: month, day: day)
        return Int(((d % 7) + 7 + 4) % 7)  // 1970-01-01 was a Thursday
    }
}

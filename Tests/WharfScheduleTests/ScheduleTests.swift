import Foundation
import XCTest

@testable import WharfSchedule

/// `every` intervals, time zones and schedule text.
final class ScheduleTests: XCTestCase {
    func testParseEvery() throws {
        let cases: [(String, Int64)] = [
            ("15m", 900), ("90s", 90), ("1s", 1), ("2h", 7200), ("1d", 86_400), ("1h30m", 5400), (" 15m ", 900),
        ]
        for (text, seconds) in cases {
            XCTAssertEqual(try Schedule.parse(every: text).rule, .every(seconds: seconds), text)
        }
    }

    func testEveryErrors() {
        let cases: [(String, String)] = [
            ("15", "invalid interval \"15\": 15 has no unit; expected a whole number followed by a unit s, m, h or d, "
                + "such as \"15m\", \"90s\" or \"1h30m\""),
            ("15x", "invalid interval \"15x\": unexpected unit \"x\"; expected a whole number followed by a unit s, "
                + "m, h or d, such as \"15m\", \"90s\" or \"1h30m\""),
            ("m", "invalid interval \"m\": unit \"m\" has no number before it; expected a whole number followed by a "
                + "unit s, m, h or d, such as \"15m\", \"90s\" or \"1h30m\""),
            ("-5m", "invalid interval \"-5m\": unexpected \"-\"; expected a whole number followed by a unit s, m, h "
                + "or d, such as \"15m\", \"90s\" or \"1h30m\""),
            ("0s", "interval \"0s\" is too short; the minimum is 1s"),
            ("0m0s", "interval \"0m0s\" is too short; the minimum is 1s"),
            ("", "empty interval; expected a whole number followed by a unit s, m, h or d, such as \"15m\", \"90s\" "
                + "or \"1h30m\""),
            ("9999999999d", "invalid interval \"9999999999d\": 9999999999 is too large; the longest interval is "
                + "999999999 of a unit"),
        ]
        for (text, message) in cases {
            let error = scheduleError { () throws(ScheduleError) in try Schedule.parse(every: text) }
            XCTAssertEqual(error?.code, .invalidInterval, text)
            XCTAssertEqual(error?.message, message, text)
        }
        XCTAssertEqual(
            scheduleError { () throws(ScheduleError) in try Schedule.every(seconds: 0) }?.message,
            "interval of 0s is too short; the minimum is 1s")
    }

    func testEveryRunsAtFixedIntervalsAlignedToTheEpoch() throws {
        let schedule = try Schedule.parse(every: "15m")
        XCTAssertEqual(
            utcTexts(schedule.nextRuns(after: instant("2026-03-29T00:07:00Z"), count: 4)),
            ["2026-03-29T00:15:00Z", "2026-03-29T00:30:00Z", "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z"])
        XCTAssertEqual(
            utcTexts([schedule.nextRun(after: instant("2026-03-29T00:15:00Z"))!]), ["2026-03-29T00:30:00Z"])
        let daily = try Schedule.parse(every: "1d")
        XCTAssertEqual(utcTexts([daily.nextRun(after: instant("2026-03-29T12:00:00Z"))!]), ["2026-03-30T00:00:00Z"])
        let seconds = try Schedule.parse(every: "7s")
        XCTAssertEqual(seconds.nextRun(after: Date(timeIntervalSince1970: 15.5)), Date(timeIntervalSince1970: 21))
        XCTAssertEqual(seconds.nextRun(after: Date(timeIntervalSince1970: 14)), Date(timeIntervalSince1970: 21))
    }

    func testEveryIgnoresDaylightSavingChanges() throws {
        let schedule = try Schedule.parse(every: "15m")
        // A day around each Berlin and New York change: 96 runs, exactly 15 minutes apart.
        for start in ["2026-03-28T12:00:00Z", "2026-10-24T12:00:00Z", "2026-03-07T12:00:00Z", "2026-10-31T12:00:00Z"] {
            let dates = schedule.nextRuns(after: instant(start), count: 96)
            XCTAssertEqual(dates.count, 96)
            XCTAssertEqual(Set(zip(dates, dates.dropFirst()).map { $1.timeIntervalSince($0) }), [900], start)
            XCTAssertEqual(dates.last!.timeIntervalSince(instant(start)), 24 * 3600)
        }
    }

    func testUnknownTimeZoneIsNamed() {
        let error = scheduleError { () throws(ScheduleError) in
            try Schedule.parse(cron: "0 3 * * *", timeZone: "Europe/Berln")
        }
        XCTAssertEqual(error?.code, .unknownTimeZone)
        XCTAssertEqual(
            error?.message,
            "unknown time zone \"Europe/Berln\"; use an IANA name such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\"")
        XCTAssertEqual(
            scheduleError { () throws(ScheduleError) in try Schedule.parse(cron: "0 3 * * *", timeZone: "") }?.code,
            .unknownTimeZone)
    }

    func testCronErrorsComeBeforeTheZone() {
        let error = scheduleError { () throws(ScheduleError) in
            try Schedule.parse(cron: "0 24 * * *", timeZone: "Nowhere/Else")
        }
        XCTAssertEqual(error?.code, .invalidCron)
        XCTAssertEqual(error?.field, 2)
    }

    func testDescription() throws {
        XCTAssertEqual(
            try Schedule.parse(cron: "0 3 * * *", timeZone: "Europe/Berlin").description,
            "cron \"0 3 * * *\" in Europe/Berlin")
        XCTAssertEqual(try Schedule.parse(every: "90m").description, "every 1h30m")
        XCTAssertEqual(try Schedule.parse(every: "15m").description, "every 15m")
        XCTAssertEqual(try Schedule.every(seconds: 86_401).description, "every 1d1s")
    }
}

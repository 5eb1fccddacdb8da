import Foundation
import XCTest

@testable import WharfSchedule

/// Next-run tables on a zone without daylight-saving time, where wall clock = UTC.
final class CronNextRunTests: XCTestCase {
    private func runs(_ cron: String, after: String, count: Int, zone: String = "UTC") throws -> [String] {
        let schedule = try Schedule.parse(cron: cron, timeZone: zone)
        return utcTexts(schedule.nextRuns(after: instant(after), count: count))
    }

    func testEveryQuarterHour() throws {
        XCTAssertEqual(
            try runs("*/15 * * * *", after: "2026-05-04T10:07:30Z", count: 4),
            ["2026-05-04T10:15:00Z", "2026-05-04T10:30:00Z", "2026-05-04T10:45:00Z", "2026-05-04T11:00:00Z"])
        // Strictly after: a slot equal to the date is not returned.
        XCTAssertEqual(try runs("*/15 * * * *", after: "2026-05-04T10:15:00Z", count: 1), ["2026-05-04T10:30:00Z"])
        // Across midnight at the end of a year.
        XCTAssertEqual(
            try runs("*/15 * * * *", after: "2026-12-31T23:50:00Z", count: 2),
            ["2027-01-01T00:00:00Z", "2027-01-01T00:15:00Z"])
    }

    func testFractionalDates() throws {
        let schedule = try Schedule.parse(cron: "*/15 * * * *", timeZone: "UTC")
        let slot = instant("2026-05-04T10:15:00Z")
        XCTAssertEqual(schedule.nextRun(after: slot.addingTimeInterval(-0.25)), slot)
        XCTAssertEqual(schedule.nextRun(after: slot.addingTimeInterval(0.25)), slot.addingTimeInterval(900))
    }

    func testDailyAtThree() throws {
        XCTAssertEqual(
            try runs("0 3 * * *", after: "2026-05-04T10:00:00Z", count: 3),
            ["2026-05-05T03:00:00Z", "2026-05-06T03:00:00Z", "2026-05-07T03:00:00Z"])
        XCTAssertEqual(try runs("0 3 * * *", after: "2026-05-04T02:59:59Z", count: 1), ["2026-05-04T03:00:00Z"])
    }

    func testWeekdaysAtTwoThirty() throws {
        // 2026-05-01 is a Friday.
        XCTAssertEqual(
            try runs("30 2 * * 1-5", after: "2026-05-01T03:00:00Z", count: 6),
            [
                "2026-05-04T02:30:00Z", "2026-05-05T02:30:00Z", "2026-05-06T02:30:00Z", "2026-05-07T02:30:00Z",
                "2026-05-08T02:30:00Z", "2026-05-11T02:30:00Z",
            ])
    }

    func testFirstOfMonth() throws {
        XCTAssertEqual(
            try runs("0 0 1 * *", after: "2026-01-15T00:00:00Z", count: 3),
            ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"])
        XCTAssertEqual(try runs("@monthly", after: "2026-12-15T00:00:00Z", count: 1), ["2027-01-01T00:00:00Z"])
        XCTAssertEqual(try runs("@yearly", after: "2026-01-01T00:00:00Z", count: 1), ["2027-01-01T00:00:00Z"])
        // 2026-05-04 is a Monday; @weekly is Sunday midnight.
        XCTAssertEqual(try runs("@weekly", after: "2026-05-04T00:00:00Z", count: 1), ["2026-05-10T00:00:00Z"])
    }

    func testLeapDayRunsInTheNextLeapYear() throws {
        XCTAssertEqual(
            try runs("0 0 29 2 *", after: "2026-01-01T00:00:00Z", count: 2),
            ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"])
        // 2100 is not a leap year.
        XCTAssertEqual(try runs("0 0 29 2 *", after: "2097-03-01T00:00:00Z", count: 1), ["2104-02-29T00:00:00Z"])
    }

    func testLeapDaySearchIsFast() throws {
        // A minute-by-minute search would take about 1.2 million steps per call; the field search takes a few
        // dozen. 500 calls finish in milliseconds; the bound is loose so a slow machine does not fail it.
        let schedule = try Schedule.parse(cron: "0 0 29 2 *", timeZone: "Europe/Berlin")
        let start = Date()
        var last: Date? = nil
        for day in 0..<500 {
            last = schedule.nextRun(after: instant("2026-01-01T00:00:00Z").addingTimeInterval(Double(day) * 86_400))
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.0)
        XCTAssertEqual(utcTexts([last!]), ["2028-02-28T23:00:00Z"])  // 00:00 CET
    }

    func testHourly() throws {
        XCTAssertEqual(
            try runs("@hourly", after: "2026-05-04T10:00:00Z", count: 2), ["2026-05-04T11:00:00Z", "2026-05-04T12:00:00Z"])
        XCTAssertEqual(try runs("@hourly", after: "2026-12-31T23:30:00Z", count: 1), ["2027-01-01T00:00:00Z"])
    }

    func testVixieEitherDayFieldMatchesWhenBothAreRestricted() throws {
        // April 2026: Fridays are the 3rd, 10th, 17th, 24th; the 13th is a Monday; 1 May is a Friday, 13 May a
        // Wednesday.
        XCTAssertEqual(
            try runs("0 0 13 * 5", after: "2026-04-01T00:00:00Z", count: 8),
            [
                "2026-04-03T00:00:00Z", "2026-04-10T00:00:00Z", "2026-04-13T00:00:00Z", "2026-04-17T00:00:00Z",
                "2026-04-24T00:00:00Z", "2026-05-01T00:00:00Z", "2026-05-08T00:00:00Z", "2026-05-13T00:00:00Z",
            ])
        XCTAssertEqual(
            try runs("0 0 13 * *", after: "2026-04-01T00:00:00Z", count: 2),
            ["2026-04-13T00:00:00Z", "2026-05-13T00:00:00Z"])
        XCTAssertEqual(
            try runs("0 0 * * FRI", after: "2026-04-01T00:00:00Z", count: 2),
            ["2026-04-03T00:00:00Z", "2026-04-10T00:00:00Z"])
    }

    func testVixieBothDayFieldsMatchWhenOneStartsWithStar() throws {
        // Odd days that are Mondays (April 2026 Mondays: 6, 13, 20, 27; May: 4, 11, 18, 25; June: 1, 8, 15).
        XCTAssertEqual(
            try runs("0 0 */2 * 1", after: "2026-04-01T00:00:00Z", count: 5),
            [
                "2026-04-13T00:00:00Z", "2026-04-27T00:00:00Z", "2026-05-11T00:00:00Z", "2026-05-25T00:00:00Z",
                "2026-06-01T00:00:00Z",
            ])
    }

    func testMonthAndDayNames() throws {
        // 2026-08-01 is a Saturday.
        XCTAssertEqual(
            try runs("0 12 * FEB,AUG SUN", after: "2026-07-01T00:00:00Z", count: 5),
            [
                "2026-08-02T12:00:00Z", "2026-08-09T12:00:00Z", "2026-08-16T12:00:00Z", "2026-08-23T12:00:00Z",
                "2026-08-30T12:00:00Z",
            ])
    }

    func testFixedZoneOffsetsShiftTheWallClock() throws {
        XCTAssertEqual(try runs("0 3 * * *", after: "2026-05-04T00:00:00Z", count: 1, zone: "Asia/Tokyo"), ["2026-05-04T18:00:00Z"])
    }

    /// The field-jumping search agrees with a minute-by-minute scan (using Foundation's calendar for dates) on
    /// a spread of expressions over 40 days of UTC.
    func testSearchAgreesWithBruteForce() throws {
        let expressions = [
            "* * * * *", "*/7 */5 * * *", "0 0 1,15 * *", "59 23 31 * *", "0 12 * * 0", "0 12 * * 6,0",
            "15 10 13 * 5", "0 0 */3 * 2-4", "30 4 1-7 * MON", "0 0 * 3 *", "5-10/2 1,22 * * *", "0 0 29,30 * *",
        ]
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let start = instant("2026-01-25T00:00:00Z")
        for text in expressions {
            let cron = try CronExpression(text)
            let schedule = Schedule.cron(cron, timeZone: TimeZone(identifier: "UTC")!)
            var expected: [Date] = []
            for day in 0..<40 {
                let midnight = start.addingTimeInterval(Double(day) * 86_400)
                let c = calendar.dateComponents([.month, .day, .weekday], from: midnight)
                let dom = cron.daysOfMonth.contains(c.day!)
                let dow = cron.daysOfWeek.contains(c.weekday! - 1)
                let dayMatches = cron.dayOfMonthRestricted && cron.dayOfWeekRestricted ? dom || dow : dom && dow
                guard cron.months.contains(c.month!), dayMatches else { continue }
                for minute in 0..<1440 where cron.hours.contains(minute / 60) && cron.minutes.contains(minute % 60) {
                    expected.append(midnight.addingTimeInterval(Double(minute) * 60))
                }
            }
            let end = start.addingTimeInterval(40 * 86_400)
            var actual: [Date] = []
            var cursor = start.addingTimeInterval(-1)
            while let next = schedule.nextRun(after: cursor), next < end {
                actual.append(next)
                cursor = next
            }
            XCTAssertEqual(actual.count, expected.count, text)
            XCTAssertEqual(actual, expected, text)
        }
    }
}

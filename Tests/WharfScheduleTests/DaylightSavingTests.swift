import Foundation
import XCTest

@testable import WharfSchedule

/// Cron schedules across daylight-saving changes. The rules (see `Schedule`): a fixed-time slot in a skipped
/// wall-clock interval runs once at the first instant after it; a fixed-time slot in a repeated interval runs
/// at its first occurrence only; jobs whose hour field allows every hour follow elapsed time instead.
///
/// Transitions used: Europe/Berlin 2026-03-29 02:00 CET → 03:00 CEST (01:00Z) and 2026-10-25 03:00 CEST →
/// 02:00 CET (01:00Z); America/New_York 2026-03-08 02:00 EST → 03:00 EDT (07:00Z) and 2026-11-01 02:00 EDT →
/// 01:00 EST (06:00Z).
final class DaylightSavingTests: XCTestCase {
    private func runs(_ cron: String, _ zone: String, after: String, count: Int) throws -> [Date] {
        try Schedule.parse(cron: cron, timeZone: zone).nextRuns(after: instant(after), count: count)
    }

    // MARK: Daily 02:30

    func testBerlinDailyTwoThirtyRunsOnceOnTheSpringForwardDay() throws {
        let dates = try runs("30 2 * * *", "Europe/Berlin", after: "2026-03-27T12:00:00Z", count: 4)
        XCTAssertEqual(
            localTexts(dates, in: "Europe/Berlin"),
            [
                "2026-03-28T02:30:00+01:00",
                "2026-03-29T03:00:00+02:00",  // 02:30 does not exist: first instant after the gap
                "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00",
            ])
        XCTAssertEqual(
            utcTexts(dates),
            ["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"])
    }

    func testBerlinDailyTwoThirtyRunsOnceOnTheFallBackDay() throws {
        let dates = try runs("30 2 * * *", "Europe/Berlin", after: "2026-10-23T12:00:00Z", count: 4)
        XCTAssertEqual(
            localTexts(dates, in: "Europe/Berlin"),
            [
                "2026-10-24T02:30:00+02:00",
                "2026-10-25T02:30:00+02:00",  // the first 02:30; not again at 02:30+01:00
                "2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00",
            ])
        XCTAssertEqual(
            utcTexts(dates),
            ["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"])
        // Asked from within the repeated hour (02:10 CET, the second pass), the next run is the next day.
        let schedule = try Schedule.parse(cron: "30 2 * * *", timeZone: "Europe/Berlin")
        XCTAssertEqual(utcTexts([schedule.nextRun(after: instant("2026-10-25T01:10:00Z"))!]), ["2026-10-26T01:30:00Z"])
        XCTAssertEqual(utcTexts([schedule.nextRun(after: instant("2026-10-25T00:30:00Z"))!]), ["2026-10-26T01:30:00Z"])
    }

    func testNewYorkDailyTwoThirtyAroundBothTransitions() throws {
        let spring = try runs("30 2 * * *", "America/New_York", after: "2026-03-06T12:00:00Z", count: 3)
        XCTAssertEqual(
            localTexts(spring, in: "America/New_York"),
            ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"])
        XCTAssertEqual(utcTexts(spring), ["2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"])
        // New York repeats 01:00-02:00, so 02:30 happens once on 2026-11-01.
        let fall = try runs("30 2 * * *", "America/New_York", after: "2026-10-30T12:00:00Z", count: 3)
        XCTAssertEqual(
            localTexts(fall, in: "America/New_York"),
            ["2026-10-31T02:30:00-04:00", "2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"])
    }

    func testNewYorkDailyOneThirtyRunsAtTheFirstOccurrenceOnly() throws {
        let fall = try runs("30 1 * * *", "America/New_York", after: "2026-10-30T12:00:00Z", count: 3)
        XCTAssertEqual(
            localTexts(fall, in: "America/New_York"),
            ["2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"])
        XCTAssertEqual(utcTexts(fall), ["2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"])
    }

    func testSeveralSlotsInTheGapMakeOneRun() throws {
        // 02:00 is skipped, 03:00 is the first instant after the gap: both are one run at 03:00 CEST.
        let dates = try runs("0 2,3 * * *", "Europe/Berlin", after: "2026-03-28T12:00:00Z", count: 3)
        XCTAssertEqual(
            localTexts(dates, in: "Europe/Berlin"),
            ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00", "2026-03-30T03:00:00+02:00"])
        let halfHours = try runs("*/30 2 * * *", "Europe/Berlin", after: "2026-03-28T12:00:00Z", count: 3)
        XCTAssertEqual(
            localTexts(halfHours, in: "Europe/Berlin"),
            ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00", "2026-03-30T02:30:00+02:00"])
    }

    func testFixedHalfHoursInTheRepeatedHourRunOnce() throws {
        let dates = try runs("*/30 2 * * *", "Europe/Berlin", after: "2026-10-24T12:00:00Z", count: 4)
        XCTAssertEqual(
            localTexts(dates, in: "Europe/Berlin"),
            [
                "2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:00:00+01:00",
                "2026-10-26T02:30:00+01:00",
            ])
    }

    // MARK: Hourly

    func testBerlinHourlyRunsEveryRealHourAcrossSpringForward() throws {
        let dates = try runs("0 * * * *", "Europe/Berlin", after: "2026-03-28T22:30:00Z", count: 4)
        XCTAssertEqual(
            localTexts(dates, in: "Europe/Berlin"),
            [
                "2026-03-29T00:00:00+01:00", "2026-03-29T01:00:00+01:00",
                // 02:00 does not exist; an hour after 01:00 CET is 03:00 CEST.
                "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00",
            ])
        XCTAssertEqual(
            utcTexts(dates),
            ["2026-03-28T23:00:00Z", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"])
    }

    func testBerlinHourlyRunsEveryRealHourAcrossFallBack() throws {
        let dates = try runs("@hourly", "Europe/Berlin", after: "2026-10-24T21:30:00Z", count: 6)
        XCTAssertEqual(
            localTexts(dates, in: "Europe/Berlin"),
            [
                "2026-10-25T00:00:00+02:00", "2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00",
                "2026-10-25T02:00:00+01:00",  // the repeated hour really passes again
                "2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00",
            ])
        XCTAssertEqual(
            utcTexts(dates),
            [
                "2026-10-24T22:00:00Z", "2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z",
                "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z",
            ])
    }

    func testNewYorkHourlyAcrossBothTransitions() throws {
        let spring = try runs("0 * * * *", "America/New_York", after: "2026-03-08T04:30:00Z", count: 4)
        XCTAssertEqual(
            localTexts(spring, in: "America/New_York"),
            ["2026-03-08T00:00:00-05:00", "2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"])
        XCTAssertEqual(
            utcTexts(spring), ["2026-03-08T05:00:00Z", "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"])
        let fall = try runs("0 * * * *", "America/New_York", after: "2026-11-01T03:30:00Z", count: 4)
        XCTAssertEqual(
            localTexts(fall, in: "America/New_York"),
            ["2026-11-01T00:00:00-04:00", "2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"])
        XCTAssertEqual(
            utcTexts(fall), ["2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"])
    }

    // MARK: Every 30 minutes

    func testHalfHourlyKeepsThirtyMinuteSpacingAcrossBothTransitions() throws {
        let spring = try runs("*/30 * * * *", "Europe/Berlin", after: "2026-03-29T00:00:00Z", count: 3)
        XCTAssertEqual(
            localTexts(spring, in: "Europe/Berlin"),
            ["2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"])
        let fall = try runs("*/30 * * * *", "Europe/Berlin", after: "2026-10-24T23:45:00Z", count: 5)
        XCTAssertEqual(
            localTexts(fall, in: "Europe/Berlin"),
            [
                "2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00",
                "2026-10-25T02:30:00+01:00", "2026-10-25T03:00:00+01:00",
            ])
        // Over a whole day around each change: exactly 30 minutes between runs, no double, no gap.
        for start in ["2026-03-28T12:00:00Z", "2026-10-24T12:00:00Z", "2026-03-07T12:00:00Z", "2026-10-31T12:00:00Z"] {
            for zone in ["Europe/Berlin", "America/New_York"] {
                let dates = try runs("*/30 * * * *", zone, after: start, count: 48)
                let gaps = Set(zip(dates, dates.dropFirst()).map { $1.timeIntervalSince($0) })
                XCTAssertEqual(gaps, [1800], "\(zone) from \(start)")
            }
        }
    }

    // MARK: Other zones

    func testHalfHourShiftOnLordHowe() throws {
        // 2026-10-04 02:00 +10:30 → 02:30 +11:00 (15:30Z): the 02:00 slot runs at 02:30.
        let dates = try runs("0 2 * * *", "Australia/Lord_Howe", after: "2026-10-02T00:00:00Z", count: 3)
        XCTAssertEqual(utcTexts(dates), ["2026-10-02T15:30:00Z", "2026-10-03T15:30:00Z", "2026-10-04T15:00:00Z"])
        XCTAssertEqual(
            localTexts(dates, in: "Australia/Lord_Howe"),
            ["2026-10-03T02:00:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-05T02:00:00+11:00"])
    }

    func testStandardOffsetChangeIsHandledLikeAFallBack() throws {
        // Volgograd moved from +04 to +03 on 2020-12-27 at 02:00 local (22:00Z), repeating 01:00-02:00.
        let dates = try runs("30 1 * * *", "Europe/Volgograd", after: "2020-12-25T12:00:00Z", count: 3)
        XCTAssertEqual(utcTexts(dates), ["2020-12-25T21:30:00Z", "2020-12-26T21:30:00Z", "2020-12-27T22:30:00Z"])
    }
}

import XCTest

@testable import WharfSchedule

final class CronParsingTests: XCTestCase {
    func testStarCoversTheWholeRange() throws {
        let cron = try CronExpression("* * * * *")
        XCTAssertEqual(values(cron.minutes), Array(0...59))
        XCTAssertEqual(values(cron.hours), Array(0...23))
        XCTAssertEqual(values(cron.daysOfMonth), Array(1...31))
        XCTAssertEqual(values(cron.months), Array(1...12))
        XCTAssertEqual(values(cron.daysOfWeek), Array(0...6))
        XCTAssertFalse(cron.dayOfMonthRestricted)
        XCTAssertFalse(cron.dayOfWeekRestricted)
        XCTAssertTrue(cron.runsEveryHour)
    }

    func testValuesListsRangesAndSteps() throws {
        let cron = try CronExpression("5,10,15 1-3 1-30/5 */4 1-5")
        XCTAssertEqual(values(cron.minutes), [5, 10, 15])
        XCTAssertEqual(values(cron.hours), [1, 2, 3])
        XCTAssertEqual(values(cron.daysOfMonth), [1, 6, 11, 16, 21, 26])
        XCTAssertEqual(values(cron.months), [1, 5, 9])
        XCTAssertEqual(values(cron.daysOfWeek), [1, 2, 3, 4, 5])
        XCTAssertFalse(cron.runsEveryHour)
        XCTAssertEqual(values(try CronExpression("*/15 * * * *").minutes), [0, 15, 30, 45])
        XCTAssertEqual(values(try CronExpression("0,30-32,50-59/5 * * * *").minutes), [0, 30, 31, 32, 50, 55])
        XCTAssertEqual(values(try CronExpression("07 * * * *").minutes), [7])
    }

    func testMonthAndDayNamesAreCaseInsensitive() throws {
        let cron = try CronExpression("0 0 * jan,Mar,DEC mon-fri")
        XCTAssertEqual(values(cron.months), [1, 3, 12])
        XCTAssertEqual(values(cron.daysOfWeek), [1, 2, 3, 4, 5])
        XCTAssertEqual(values(try CronExpression("0 0 * JUN-AUG/2 SAT,sun").months), [6, 8])
        XCTAssertEqual(values(try CronExpression("0 0 * * SAT,sun").daysOfWeek), [0, 6])
    }

    func testSundayIsZeroAndSeven() throws {
        XCTAssertEqual(values(try CronExpression("0 0 * * 7").daysOfWeek), [0])
        XCTAssertEqual(values(try CronExpression("0 0 * * 0").daysOfWeek), [0])
        XCTAssertEqual(values(try CronExpression("0 0 * * 5-7").daysOfWeek), [0, 5, 6])
        XCTAssertEqual(values(try CronExpression("0 0 * * 0-7").daysOfWeek), Array(0...6))
        // A range ending at SUN means the Sunday after Saturday.
        XCTAssertEqual(values(try CronExpression("0 0 * * FRI-SUN").daysOfWeek), [0, 5, 6])
    }

    func testVixieRestrictionFlags() throws {
        let both = try CronExpression("0 0 13 * 5")
        XCTAssertTrue(both.dayOfMonthRestricted && both.dayOfWeekRestricted)
        // A field starting with * counts as unrestricted, even with a step (crontab(5)).
        let stepped = try CronExpression("0 0 */2 * 1")
        XCTAssertFalse(stepped.dayOfMonthRestricted)
        XCTAssertTrue(stepped.dayOfWeekRestricted)
    }

    func testMacros() throws {
        let expected = [
            "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
            "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
        ]
        for (macro, fields) in expected {
            let a = try CronExpression(macro)
            let b = try CronExpression(fields)
            XCTAssertEqual(a.text, macro)
            XCTAssertEqual(
                [a.minutes, a.hours, a.daysOfMonth, a.months, a.daysOfWeek],
                [b.minutes, b.hours, b.daysOfMonth, b.months, b.daysOfWeek], macro)
            XCTAssertEqual(a.dayOfMonthRestricted, b.dayOfMonthRestricted, macro)
            XCTAssertEqual(a.dayOfWeekRestricted, b.dayOfWeekRestricted, macro)
        }
        XCTAssertNoThrow(try CronExpression("@DAILY"))
    }

    func testWhitespaceBetweenFieldsIsFlexible() throws {
        let cron = try CronExpression("  0\t3   *  * *  ")
        XCTAssertEqual(cron.text, "0\t3   *  * *")
        XCTAssertEqual(values(cron.hours), [3])
    }

    // MARK: Errors

    private func assertCronError(
        _ text: String, field: Int?, _ message: String, code: ScheduleError.Code = .invalidCron,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let error = scheduleError({ () throws(ScheduleError) in try CronExpression(text) }, file: file, line: line)
        else { return }
        XCTAssertEqual(error.code, code, file: file, line: line)
        XCTAssertEqual(error.field, field, file: file, line: line)
        XCTAssertEqual(error.message, message, file: file, line: line)
    }

    func testOutOfRangeNamesTheFieldTheValueAndTheRange() {
        assertCronError("0 24 * * *", field: 2, "field 2 (hour): 24 is out of range 0-23 in \"0 24 * * *\"")
        assertCronError("60 * * * *", field: 1, "field 1 (minute): 60 is out of range 0-59 in \"60 * * * *\"")
        assertCronError("0 0 0 * *", field: 3, "field 3 (day-of-month): 0 is out of range 1-31 in \"0 0 0 * *\"")
        assertCronError("0 0 32 * *", field: 3, "field 3 (day-of-month): 32 is out of range 1-31 in \"0 0 32 * *\"")
        assertCronError("0 0 * 13 *", field: 4, "field 4 (month): 13 is out of range 1-12 or JAN-DEC in \"0 0 * 13 *\"")
        assertCronError(
            "0 0 * * 8", field: 5,
            "field 5 (day-of-week): 8 is out of range 0-7 (0 and 7 are Sunday) or SUN-SAT in \"0 0 * * 8\"")
        assertCronError("0 1-99999 * * *", field: 2, "field 2 (hour): 99999 is out of range 0-23 in \"0 1-99999 * * *\"")
    }

    func testUnknownNamesAndJunk() {
        assertCronError(
            "0 0 * FOO *", field: 4,
            "field 4 (month): \"FOO\" is not a number or name; allowed 1-12 or JAN-DEC in \"0 0 * FOO *\"")
        assertCronError(
            "0 0 * * MONDAY", field: 5,
            "field 5 (day-of-week): \"MONDAY\" is not a number or name; allowed 0-7 (0 and 7 are Sunday) or SUN-SAT "
                + "in \"0 0 * * MONDAY\"")
        // Names belong to their own field only.
        assertCronError(
            "0 0 * MON *", field: 4,
            "field 4 (month): \"MON\" is not a number or name; allowed 1-12 or JAN-DEC in \"0 0 * MON *\"")
        assertCronError("x * * * *", field: 1, "field 1 (minute): \"x\" is not a number; allowed 0-59 in \"x * * * *\"")
        assertCronError("-5 * * * *", field: 1, "field 1 (minute): \"-5\" is missing a number; allowed 0-59 in \"-5 * * * *\"")
        assertCronError(
            "1,,2 * * * *", field: 1, "field 1 (minute): empty list element in \"1,,2\"; remove the extra comma in \"1,,2 * * * *\"")
    }

    func testBadRangesAndSteps() {
        assertCronError(
            "30-10 * * * *", field: 1,
            "field 1 (minute): range 30-10 runs backwards; ranges do not wrap around, so write the lower bound first "
                + "or split it into a list such as 30-59,0-10 in \"30-10 * * * *\"")
        assertCronError("*/0 * * * *", field: 1, "field 1 (minute): step 0 in \"*/0\" must be at least 1 in \"*/0 * * * *\"")
        assertCronError(
            "*/90 * * * *", field: 1,
            "field 1 (minute): step 90 in \"*/90\" is wider than the range 0-59; cron steps restart every hour "
                + "(for a fixed interval, use an every schedule such as \"90m\") in \"*/90 * * * *\"")
        assertCronError(
            "5/15 * * * *", field: 1,
            "field 1 (minute): \"5/15\" has a step but no range; write 5-59/15 or */15 in \"5/15 * * * *\"")
        assertCronError(
            "*/x * * * *", field: 1,
            "field 1 (minute): step \"x\" in \"*/x\" is not a number; write a step such as */15 in \"*/x * * * *\"")
        assertCronError(
            "1-5/2/3 * * * *", field: 1,
            "field 1 (minute): \"1-5/2/3\" has more than one step; write one step such as */15 or 1-30/5 "
                + "in \"1-5/2/3 * * * *\"")
    }

    func testWrongFieldCounts() {
        assertCronError(
            "0 3 * *", field: nil,
            "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, found 4 in \"0 3 * *\"")
        assertCronError(
            "0 0 3 * * *", field: nil,
            "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, found 6 in "
                + "\"0 0 3 * * *\"; Wharf's cron has no seconds or year field")
        assertCronError(
            "  ", field: nil,
            "empty cron expression; write 5 fields (minute hour day-of-month month day-of-week) such as \"0 3 * * *\", "
                + "or a macro such as @daily")
    }

    func testUnknownMacros() {
        assertCronError(
            "@fortnightly", field: nil,
            "unknown macro \"@fortnightly\"; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly, "
                + "or 5 cron fields")
        assertCronError(
            "@reboot", field: nil,
            "@reboot is not supported: Wharf schedules runs by time (for a run at start-up, use catchUp); use @yearly, "
                + "@annually, @monthly, @weekly, @daily, @midnight or @hourly, or 5 cron fields")
        assertCronError(
            "@daily 5", field: nil,
            "unknown macro \"@daily 5\"; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly, "
                + "or 5 cron fields")
    }

    func testImpossibleExpressionsAreRefused() {
        assertCronError(
            "0 0 31 2 *", field: 3,
            "field 3 (day-of-month): day 31 never occurs in February, so \"0 0 31 2 *\" would never run; pick a day "
                + "from 1-29 or other months",
            code: .impossibleCron)
        assertCronError(
            "0 0 31 APR,JUN,SEP,NOV *", field: 3,
            "field 3 (day-of-month): day 31 never occurs in April, June, September or November, so "
                + "\"0 0 31 APR,JUN,SEP,NOV *\" would never run; pick a day from 1-30 or other months",
            code: .impossibleCron)
        // With both day fields restricted either may match, so Fridays in February still run.
        XCTAssertNoThrow(try CronExpression("0 0 31 2 FRI"))
        // Possible in some listed month, or on leap days.
        XCTAssertNoThrow(try CronExpression("0 0 31 2,3 *"))
        XCTAssertNoThrow(try CronExpression("0 0 29 2 *"))
        // Both must match when day-of-week starts with *: still impossible.
        assertCronError(
            "0 0 30 2 */2", field: 3,
            "field 3 (day-of-month): day 30 never occurs in February, so \"0 0 30 2 */2\" would never run; pick a "
                + "day from 1-29 or other months",
            code: .impossibleCron)
    }
}

import Foundation
import XCTest

@testable import WharfSchedule

/// The scheduler driven by a manual clock: due runs, skips, catch-up and wake-up times.
final class SchedulerTests: XCTestCase {
    private let quarterHour = try! Schedule.parse(every: "15m")
    private let berlinDaily = try! Schedule.parse(cron: "0 3 * * *", timeZone: "Europe/Berlin")

    private func scheduler(
        _ jobs: [ScheduledJob], lastStarts: [String: Date] = [:], at clock: ManualClock
    ) throws -> Scheduler {
        try Scheduler(jobs: jobs, lastStarts: lastStarts, clock: clock)
    }

    func testRunsAtItsSlotAndSaysWhenToWakeUp() throws {
        let clock = ManualClock(instant("2026-05-04T10:07:00Z"))
        let scheduler = try scheduler([ScheduledJob(id: "a", schedule: quarterHour)], at: clock)
        var tick = scheduler.poll()
        XCTAssertEqual(tick.due, [])
        XCTAssertEqual(tick.nextWake, instant("2026-05-04T10:15:00Z"))

        clock.set(instant("2026-05-04T10:15:00Z"))
        tick = scheduler.poll()
        XCTAssertEqual(tick.due, [DueRun(jobID: "a", slot: instant("2026-05-04T10:15:00Z"), reason: .scheduled)])
        XCTAssertEqual(tick.skipped, [])
        XCTAssertEqual(tick.nextWake, instant("2026-05-04T10:30:00Z"))
        XCTAssertTrue(scheduler.isRunning("a"))

        scheduler.markFinished("a")
        XCTAssertFalse(scheduler.isRunning("a"))
        tick = scheduler.poll()
        XCTAssertEqual(tick.due, [], "a slot runs once")
        XCTAssertEqual(tick.nextWake, instant("2026-05-04T10:30:00Z"))
    }

    func testJobNeverOverlapsItselfAndWaitsForTheNextSlot() throws {
        let clock = ManualClock(instant("2026-05-04T10:15:00Z"))
        let scheduler = try scheduler([ScheduledJob(id: "a", schedule: quarterHour)], at: clock)
        XCTAssertEqual(scheduler.poll().due.map(\.jobID), ["a"])

        clock.set(instant("2026-05-04T10:30:00Z"))
        var tick = scheduler.poll()
        XCTAssertEqual(tick.due, [])
        XCTAssertEqual(
            tick.skipped,
            [SkippedSlot(jobID: "a", slot: instant("2026-05-04T10:30:00Z"), reason: .stillRunning, willCatchUp: false)])
        XCTAssertFalse(scheduler.markStarted("a"), "a manual run must not overlap the running one")

        clock.set(instant("2026-05-04T10:35:00Z"))
        scheduler.markFinished("a")
        tick = scheduler.poll()
        XCTAssertEqual(tick.due, [], "not immediately after finishing")
        XCTAssertEqual(tick.skipped, [])
        XCTAssertEqual(tick.nextWake, instant("2026-05-04T10:45:00Z"))

        clock.set(instant("2026-05-04T10:45:00Z"))
        XCTAssertEqual(
            scheduler.poll().due, [DueRun(jobID: "a", slot: instant("2026-05-04T10:45:00Z"), reason: .scheduled)])
    }

    func testSlotSkippedWhileRunningCatchesUpOnceAfterFinishing() throws {
        let clock = ManualClock(instant("2026-05-04T10:15:00Z"))
        let scheduler = try scheduler([ScheduledJob(id: "a", schedule: quarterHour, catchUp: true)], at: clock)
        XCTAssertEqual(scheduler.poll().due.count, 1)

        for (time, skippedSlot) in [("10:30", "10:30"), ("10:40", nil), ("10:45", "10:45")] {
            clock.set(instant("2026-05-04T\(time):00Z"))
            let tick = scheduler.poll()
            XCTAssertEqual(tick.due, [], time)
            XCTAssertEqual(
                tick.skipped,
                skippedSlot.map {
                    [SkippedSlot(jobID: "a", slot: instant("2026-05-04T\($0):00Z"), reason: .stillRunning, willCatchUp: true)]
                } ?? [], time)
        }

        clock.set(instant("2026-05-04T10:50:00Z"))
        scheduler.markFinished("a")
        var tick = scheduler.poll()
        XCTAssertEqual(tick.due, [DueRun(jobID: "a", slot: instant("2026-05-04T10:30:00Z"), reason: .catchUp)])
        scheduler.markFinished("a")
        tick = scheduler.poll()
        XCTAssertEqual(tick.due, [], "two skipped slots make one catch-up run")
        XCTAssertEqual(tick.nextWake, instant("2026-05-04T11:00:00Z"))
    }

    func testStartUpCatchUpRunsOnceAfterDowntime() throws {
        // Last run 2026-01-10 03:00 CET; down until 2026-01-13 12:00 CET: the 11th, 12th and 13th were missed.
        let clock = ManualClock(instant("2026-01-13T11:00:00Z"))
        let scheduler = try scheduler(
            [ScheduledJob(id: "inventory", schedule: berlinDaily, catchUp: true)],
            lastStarts: ["inventory": instant("2026-01-10T02:00:05Z")], at: clock)

        let upcoming = scheduler.nextRuns()
        XCTAssertEqual(upcoming.map(\.next), [instant("2026-01-13T11:00:00Z")])
        XCTAssertEqual(upcoming.map(\.isCatchUp), [true])

        var tick = scheduler.poll()
        XCTAssertEqual(
            tick.due, [DueRun(jobID: "inventory", slot: instant("2026-01-11T02:00:00Z"), reason: .catchUp)])
        XCTAssertEqual(tick.skipped, [])

        clock.advance(by: 600)
        scheduler.markFinished("inventory")
        tick = scheduler.poll()
        XCTAssertEqual(tick.due, [], "exactly one catch-up run, not one per missed slot")
        XCTAssertEqual(tick.nextWake, instant("2026-01-14T02:00:00Z"))
        XCTAssertEqual(scheduler.nextRuns().map(\.isCatchUp), [false])

        clock.set(instant("2026-01-14T02:00:00Z"))
        XCTAssertEqual(
            scheduler.poll().due, [DueRun(jobID: "inventory", slot: instant("2026-01-14T02:00:00Z"), reason: .scheduled)])
    }

    func testStartUpWithoutCatchUpSkipsMissedSlots() throws {
        let clock = ManualClock(instant("2026-01-13T11:00:00Z"))
        let scheduler = try scheduler(
            [ScheduledJob(id: "inventory", schedule: berlinDaily, catchUp: false)],
            lastStarts: ["inventory": instant("2026-01-10T02:00:05Z")], at: clock)
        XCTAssertEqual(scheduler.nextRuns().map(\.next), [instant("2026-01-14T02:00:00Z")])

        var tick = scheduler.poll()
        XCTAssertEqual(tick.due, [])
        XCTAssertEqual(
            tick.skipped,
            [SkippedSlot(jobID: "inventory", slot: instant("2026-01-11T02:00:00Z"), reason: .missedWhileStopped, willCatchUp: false)])
        XCTAssertEqual(tick.nextWake, instant("2026-01-14T02:00:00Z"))

        tick = scheduler.poll()
        XCTAssertEqual(tick.due, [])
        XCTAssertEqual(tick.skipped, [], "the miss is reported once")
    }

    func testNoCatchUpWhenNothingWasMissed() throws {
        let clock = ManualClock(instant("2026-01-13T11:00:00Z"))
        let scheduler = try scheduler(
            [
                ScheduledJob(id: "ran", schedule: berlinDaily, catchUp: true),
                ScheduledJob(id: "never-ran", schedule: berlinDaily, catchUp: true),
            ],
            lastStarts: ["ran": instant("2026-01-13T02:00:03Z")], at: clock)
        let tick = scheduler.poll()
        XCTAssertEqual(tick.due, [])
        XCTAssertEqual(tick.skipped, [])
        XCTAssertEqual(tick.nextWake, instant("2026-01-14T02:00:00Z"))
    }

    func testSlotAtTheStartUpInstantRunsUnlessItAlreadyRan() throws {
        let clock = ManualClock(instant("2026-01-13T02:00:00Z").addingTimeInterval(0.4))
        let fresh = try scheduler([ScheduledJob(id: "a", schedule: berlinDaily)], at: clock)
        XCTAssertEqual(fresh.poll().due, [DueRun(jobID: "a", slot: instant("2026-01-13T02:00:00Z"), reason: .scheduled)])

        // The previous process started this slot's run a moment before it stopped.
        let restarted = try scheduler(
            [ScheduledJob(id: "a", schedule: berlinDaily, catchUp: true)],
            lastStarts: ["a": instant("2026-01-13T02:00:00Z").addingTimeInterval(0.1)], at: clock)
        let tick = restarted.poll()
        XCTAssertEqual(tick.due, [])
        XCTAssertEqual(
            tick.skipped, [SkippedSlot(jobID: "a", slot: instant("2026-01-13T02:00:00Z"), reason: .alreadyRan, willCatchUp: false)])
    }

    func testManualRunsBlockAndCoverScheduledRuns() throws {
        let clock = ManualClock(instant("2026-05-04T10:14:00Z"))
        let scheduler = try scheduler([ScheduledJob(id: "a", schedule: quarterHour)], at: clock)
        XCTAssertTrue(scheduler.markStarted("a"))
        XCTAssertFalse(scheduler.markStarted("a"))
        XCTAssertTrue(scheduler.markStarted("not-scheduled"))

        clock.set(instant("2026-05-04T10:15:00Z"))
        XCTAssertEqual(scheduler.poll().skipped.map(\.reason), [.stillRunning])
        scheduler.markFinished("a")

        // A manual run that starts after a slot and ends before a late poll covers that slot.
        clock.set(instant("2026-05-04T10:30:05Z"))
        XCTAssertTrue(scheduler.markStarted("a"))
        clock.set(instant("2026-05-04T10:30:20Z"))
        scheduler.markFinished("a")
        clock.set(instant("2026-05-04T10:30:30Z"))
        let tick = scheduler.poll()
        XCTAssertEqual(tick.due, [])
        XCTAssertEqual(tick.skipped.map(\.reason), [.alreadyRan])
    }

    func testLatePollStartsOneRunForAllPassedSlots() throws {
        let clock = ManualClock(instant("2026-05-04T10:07:00Z"))
        let scheduler = try scheduler([ScheduledJob(id: "a", schedule: quarterHour)], at: clock)
        _ = scheduler.poll()
        clock.set(instant("2026-05-04T11:20:00Z"))  // five slots passed while the process was suspended
        let tick = scheduler.poll()
        XCTAssertEqual(tick.due, [DueRun(jobID: "a", slot: instant("2026-05-04T10:15:00Z"), reason: .scheduled)])
        XCTAssertEqual(tick.nextWake, instant("2026-05-04T11:30:00Z"))
    }

    func testNextWakeIsTheEarliestJobAndNextRunsListsEveryJob() throws {
        let clock = ManualClock(instant("2026-05-04T10:07:00Z"))
        let hourly = try Schedule.parse(cron: "@hourly", timeZone: "UTC")
        let scheduler = try scheduler(
            [ScheduledJob(id: "hourly", schedule: hourly), ScheduledJob(id: "quarter", schedule: quarterHour)], at: clock)
        XCTAssertEqual(scheduler.jobs.map(\.id), ["hourly", "quarter"])
        XCTAssertEqual(scheduler.poll().nextWake, instant("2026-05-04T10:15:00Z"))
        XCTAssertEqual(
            scheduler.nextRuns(),
            [
                UpcomingRun(jobID: "hourly", schedule: hourly, next: instant("2026-05-04T11:00:00Z"), isCatchUp: false, isRunning: false),
                UpcomingRun(jobID: "quarter", schedule: quarterHour, next: instant("2026-05-04T10:15:00Z"), isCatchUp: false, isRunning: false),
            ])
        clock.set(instant("2026-05-04T10:15:00Z"))
        XCTAssertEqual(scheduler.poll().due.map(\.jobID), ["quarter"])
        XCTAssertEqual(scheduler.nextRuns().map(\.isRunning), [false, true])

        let empty = try Scheduler(jobs: [], clock: clock)
        XCTAssertNil(empty.poll().nextWake)
    }

    func testDuplicateJobIDsAreRefused() {
        let error = scheduleError { () throws(ScheduleError) in
            try Scheduler(
                jobs: [ScheduledJob(id: "a", schedule: quarterHour), ScheduledJob(id: "a", schedule: berlinDaily)],
                clock: ManualClock(Date()))
        }
        XCTAssertEqual(error?.code, .duplicateJob)
        XCTAssertEqual(error?.message, "two scheduled jobs are named \"a\"; job ids must be unique")
    }

    /// Drives the scheduler like `wharf serve` does (sleep until the next wake-up, start what is due, finish
    /// it a minute later) through a week around each daylight-saving change and counts runs per local day.
    func testDrivenDailyJobRunsExactlyOncePerDayAcrossTransitions() throws {
        for (zone, start, end) in [
            ("Europe/Berlin", "2026-03-26T12:00:00Z", "2026-04-01T12:00:00Z"),
            ("Europe/Berlin", "2026-10-22T12:00:00Z", "2026-10-28T12:00:00Z"),
            ("America/New_York", "2026-03-05T12:00:00Z", "2026-03-11T12:00:00Z"),
            ("America/New_York", "2026-10-29T12:00:00Z", "2026-11-04T12:00:00Z"),
        ] {
            for cron in ["30 2 * * *", "30 1 * * *"] {
                let clock = ManualClock(instant(start))
                let scheduler = try Scheduler(
                    jobs: [ScheduledJob(id: "j", schedule: try Schedule.parse(cron: cron, timeZone: zone))], clock: clock)
                var started: [Date] = []
                while let wake = scheduler.poll().nextWake, wake < instant(end) {
                    clock.set(wake)
                    let tick = scheduler.poll()
                    XCTAssertEqual(tick.skipped, [])
                    for run in tick.due {
                        started.append(clock.now())
                        clock.advance(by: 60)
                        scheduler.markFinished(run.jobID)
                    }
                }
                let days = localTexts(started, in: zone).map { String($0.prefix(10)) }
                XCTAssertEqual(days.count, 6, "\(cron) in \(zone) from \(start): \(localTexts(started, in: zone))")
                XCTAssertEqual(Set(days).count, days.count, "\(cron) in \(zone): one run per day")
            }
        }
    }

    func testClocks() {
        let clock = ManualClock(instant("2026-05-04T10:00:00Z"))
        clock.advance(by: 90)
        XCTAssertEqual(clock.now(), instant("2026-05-04T10:01:30Z"))
        clock.set(instant("2026-05-04T09:00:00Z"))
        XCTAssertEqual(clock.now(), instant("2026-05-04T09:00:00Z"))
        XCTAssertLessThan(abs(SystemClock().now().timeIntervalSinceNow), 5)
    }
}

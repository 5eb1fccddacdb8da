import Foundation
import Synchronization

/// A job the ``Scheduler`` starts on a schedule (for Wharf: one connector's scheduled run).
public struct ScheduledJob: Sendable, Hashable {
    /// The job's id, unique within a scheduler (the connector name).
    public let id: String
    /// When the job runs.
    public let schedule: Schedule
    /// Whether a slot missed while Wharf was stopped, or skipped because the previous run was still going,
    /// is made up for by one run as soon as possible (never one run per missed slot).
    public let catchUp: Bool

    /// A job.
    public init(id: String, schedule: Schedule, catchUp: Bool = false) {
        self.id = id
        self.schedule = schedule
        self.catchUp = catchUp
    }
}

/// A run the caller must start now.
public struct DueRun: Sendable, Hashable {
    /// Why the run is due.
    public enum Reason: Sendable, Hashable {
        /// Its slot has come.
        case scheduled
        /// It makes up for a slot missed while Wharf was stopped or skipped while the job was still running.
        case catchUp
    }

    /// The job to run.
    public let jobID: String
    /// The slot the run is for: the scheduled time, or for a catch-up the first slot it makes up for.
    public let slot: Date
    /// Why the run is due.
    public let reason: Reason
}

/// A slot that did not start a run, reported once so the caller can log it.
public struct SkippedSlot: Sendable, Hashable {
    /// Why the slot did not start a run.
    public enum Reason: Sendable, Hashable {
        /// The job's previous run had not finished; a job never overlaps itself.
        case stillRunning
        /// Wharf was stopped at that time and the job does not catch up.
        case missedWhileStopped
        /// A run that started at or after the slot (a manual run, or a run before a restart) already covers it.
        case alreadyRan
    }

    /// The job.
    public let jobID: String
    /// The slot (for `missedWhileStopped`, the first slot missed).
    public let slot: Date
    /// Why the slot did not start a run.
    public let reason: Reason
    /// Whether a catch-up run will make up for it (after the running run finishes).
    public let willCatchUp: Bool
}

/// What ``Scheduler/poll()`` decided.
public struct SchedulerTick: Sendable, Hashable {
    /// The clock's time when the decision was made.
    public let now: Date
    /// Runs to start now, in job order. The scheduler already counts them as running: call
    /// ``Scheduler/markFinished(_:)`` when each ends (also when it could not be started).
    public let due: [DueRun]
    /// Slots that start no run, to log.
    public let skipped: [SkippedSlot]
    /// When to call ``Scheduler/poll()`` next, or nil when no job will ever run again. Also poll after
    /// ``Scheduler/markFinished(_:)``: a catch-up may be due at once.
    public let nextWake: Date?
}

/// The next run of one job, for `wharf schedule` and status pages.
public struct UpcomingRun: Sendable, Hashable {
    /// The job.
    public let jobID: String
    /// The job's schedule.
    public let schedule: Schedule
    /// When the job runs next: its next slot, or the poll time when a catch-up is pending (it runs as soon as
    /// the current run finishes if one is going); nil when it never runs again.
    public let next: Date?
    /// Whether the next run is a catch-up.
    public let isCatchUp: Bool
    /// Whether the job is running now.
    public let isRunning: Bool
}

/// The scheduling state machine: which jobs are due now, which slots are skipped, and when to look again.
///
/// It holds no threads and never sleeps: a driver asks ``poll()`` for the due runs and the next wake-up time,
/// starts those runs, reports their ends with ``markFinished(_:)``, and waits until the wake-up time (or until
/// a run ends). Time comes from the injected ``Clock``. All methods are thread-safe, so runs may finish on
/// other threads.
///
/// Rules:
/// - A job never overlaps itself. A slot that comes while the job runs is skipped (reported as
///   ``SkippedSlot/Reason/stillRunning``); the job runs again at its next slot after it finished — or, with
///   `catchUp`, once right after it finished.
/// - Slots that pass while the driver is late (a suspended process) start one run, not one per slot.
/// - Start-up: the scheduler is created with each job's last start (from the run history). A job whose first
///   slot after its last start has already passed missed at least one slot while Wharf was stopped: with
///   `catchUp` it runs once at the first poll (reason ``DueRun/Reason/catchUp``), without it the miss is
///   reported once and the job waits for its next slot. A job with no recorded start has nothing to catch up.
/// - A slot at the start-up instant (within its second) counts as upcoming, not missed.
/// - A run that started at or after a slot covers it: no second run for that slot.
/// - Runs started outside the scheduler (manual, API) are reported with ``markStarted(_:)`` so scheduled runs
///   never overlap them.
public final class Scheduler: Sendable {
    private let clock: any Clock
    private let state: Mutex<State>

    /// A scheduler for `jobs`, started now by `clock`.
    ///
    /// - Parameters:
    ///   - lastStarts: when each job (by id) last started, from the run history; jobs missing here never ran.
    /// - Throws: ``ScheduleError`` `.duplicateJob` when two jobs share an id.
    public init(jobs: [ScheduledJob], lastStarts: [String: Date] = [:], clock: any Clock) throws(ScheduleError) {
        self.clock = clock
        let now = clock.now()
        // A slot within the start-up second is upcoming (nextRun is strictly after its argument).
        let cutoff = now.addingTimeInterval(-1)
        var seen = Set<String>()
        var entries: [JobState] = []
        for job in jobs {
            guard seen.insert(job.id).inserted else {
                throw ScheduleError(
                    code: .duplicateJob, message: "two scheduled jobs are named \"\(job.id)\"; job ids must be unique")
            }
            var entry = JobState(job: job, nextSlot: job.schedule.nextRun(after: cutoff), lastStart: lastStarts[job.id])
            if let lastStart = entry.lastStart, let missed = job.schedule.nextRun(after: lastStart), missed <= cutoff {
                if job.catchUp {
                    entry.pendingCatchUp = missed
                } else {
                    entry.missedAtStartUp = missed
                }
            }
            entries.append(entry)
        }
        state = Mutex(State(jobs: entries))
    }

    /// The jobs, in the order given.
    public var jobs: [ScheduledJob] {
        state.withLock { $0.jobs.map(\.job) }
    }

    /// Decides what to do at the clock's current time: the runs to start now (counted as running from here
    /// on), the slots skipped, and when to poll next.
    public func poll() -> SchedulerTick {
        let now = clock.now()
        return state.withLock { state in
            var due: [DueRun] = []
            var skipped: [SkippedSlot] = []
            for index in state.jobs.indices {
                state.jobs[index].poll(now: now, due: &due, skipped: &skipped)
            }
            return SchedulerTick(now: now, due: due, skipped: skipped, nextWake: state.nextWake(now: now))
        }
    }

    /// Reports a run of `jobID` started outside the scheduler (manual or API). Returns false, and records
    /// nothing, when the job is already running: the caller should refuse the run (a job never overlaps
    /// itself). Unknown ids (jobs without a schedule) return true.
    @discardableResult
    public func markStarted(_ jobID: String) -> Bool {
        let now = clock.now()
        return state.withLock { state in
            guard let index = state.index(of: jobID) else { return true }
            if state.jobs[index].running { return false }
            state.jobs[index].running = true
            state.jobs[index].lastStart = now
            // The run makes up for whatever a catch-up would have.
            state.jobs[index].pendingCatchUp = nil
            return true
        }
    }

    /// Reports that the current run of `jobID` ended (whatever its outcome). Poll afterwards: a catch-up may
    /// be due at once.
    public func markFinished(_ jobID: String) {
        state.withLock { state in
            guard let index = state.index(of: jobID) else { return }
            state.jobs[index].running = false
        }
    }

    /// Whether `jobID` is running.
    public func isRunning(_ jobID: String) -> Bool {
        state.withLock { state in state.index(of: jobID).map { state.jobs[$0].running } ?? false }
    }

    /// The next run of every job, in job order (for `wharf schedule` and status pages).
    public func nextRuns() -> [UpcomingRun] {
        let now = clock.now()
        return state.withLock { state in
            state.jobs.map { entry in
                let catchUp = entry.pendingCatchUp != nil
                return UpcomingRun(
                    jobID: entry.job.id, schedule: entry.job.schedule, next: catchUp ? now : entry.nextSlot,
                    isCatchUp: catchUp, isRunning: entry.running)
            }
        }
    }

    // MARK: Not public

    private struct State: Sendable {
        var jobs: [JobState]

        func index(of id: String) -> Int? {
            jobs.firstIndex { $0.job.id == id }
        }

        func nextWake(now: Date) -> Date? {
            var wake: Date? = nil
            for entry in jobs {
                var candidate = entry.nextSlot
                if entry.pendingCatchUp != nil && !entry.running { candidate = now }
                if let candidate, wake.map({ candidate < $0 }) ?? true { wake = candidate }
            }
            return wake
        }
    }

    private struct JobState: Sendable {
        let job: ScheduledJob
        /// The first slot not yet handled (nil: never again).
        var nextSlot: Date?
        var lastStart: Date?
        var running = false
        /// The first slot a pending catch-up makes up for.
        var pendingCatchUp: Date?
        /// The first slot missed while stopped, when the job does not catch up; reported once.
        var missedAtStartUp: Date?

        init(job: ScheduledJob, nextSlot: Date?, lastStart: Date?) {
            self.job = job
            self.nextSlot = nextSlot
            self.lastStart = lastStart
        }

        mutating func poll(now: Date, due: inout [DueRun], skipped: inout [SkippedSlot]) {
            if let missed = missedAtStartUp {
                skipped.append(SkippedSlot(jobID: job.id, slot: missed, reason: .missedWhileStopped, willCatchUp: false))
                missedAtStartUp = nil
            }
            // Slots up to now, coalesced: the first one is reported, the rest are covered by the same decision.
            var passedSlot: Date? = nil
            if let slot = nextSlot, slot <= now {
                passedSlot = slot
                nextSlot = job.schedule.nextRun(after: now)
            }
            if running {
                if let slot = passedSlot {
                    skipped.append(SkippedSlot(jobID: job.id, slot: slot, reason: .stillRunning, willCatchUp: job.catchUp))
                    if job.catchUp && pendingCatchUp == nil { pendingCatchUp = slot }
                }
                return
            }
            if let slot = pendingCatchUp {
                // One catch-up run also covers a slot that is due right now.
                start(DueRun(jobID: job.id, slot: slot, reason: .catchUp), now: now, due: &due)
                pendingCatchUp = nil
                return
            }
            guard let slot = passedSlot else { return }
            if let lastStart, lastStart >= slot {
                skipped.append(SkippedSlot(jobID: job.id, slot: slot, reason: .alreadyRan, willCatchUp: false))
                return
            }
            start(DueRun(jobID: job.id, slot: slot, reason: .scheduled), now: now, due: &due)
        }

        private mutating func start(_ run: DueRun, now: Date, due: inout [DueRun]) {
            due.append(run)
            running = true
            lastStart = now
        }
    }
}

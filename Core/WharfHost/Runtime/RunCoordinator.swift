import Dispatch
import Foundation
import Synchronization
import WharfManifest
import WharfModel
import WharfSchedule

/// Why a run could not be started or cancelled, for the REST API and the CLI.
public struct RunRequestError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable { case unknownConnector, disabled, alreadyRunning, notRunning, shuttingDown }
    /// The kind of refusal.
    public var kind: Kind
    /// A sentence for people.
    public var message: String
    /// The message.
    public var description: String { message }
}

/// Starts runs — on schedule, on request, never two of one connector at once — and cancels them.
///
/// `wharf serve` owns one. A timer thread polls the `Scheduler` and sleeps until its next wake-up (or until a run
/// ends or the manifest's jobs change); each run executes on its own thread, because plugin calls (or, with
/// `isolation: process`, the supervision of the run's worker process) block and must not occupy the HTTP handler
/// pool.
public final class RunCoordinator: Sendable {
    /// The deployment whose connectors run.
    public let deployment: Deployment
    /// The scheduler (jobs are the manifest's enabled, scheduled connectors).
    public let scheduler: Scheduler
    private let active = Mutex<[String: (runID: Int64?, flag: CancellationFlag)]>([:])
    private let wake = DispatchSemaphore(value: 0)
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchGroup()
    private let clock: any WharfSchedule.Clock
    /// How runs of connectors with `isolation: process` start their workers.
    public let workers: WorkerSettings

    /// A coordinator for `deployment`. Each job's last start comes from the run history, so catch-up knows what
    /// was missed while Wharf was down. Runs of connectors with `isolation: process` (the default) execute in
    /// `wharf worker` processes started as `workers` says.
    public init(deployment: Deployment, clock: any WharfSchedule.Clock = SystemClock(), workers: WorkerSettings = WorkerSettings()) throws {
        self.deployment = deployment
        self.clock = clock
        self.workers = workers
        var jobs: [ScheduledJob] = []
        var lastStarts: [String: Date] = [:]
        for connector in deployment.manifest.connectors where connector.enabled {
            guard let timing = connector.timing else { continue }
            jobs.append(ScheduledJob(id: connector.name, schedule: timing, catchUp: connector.catchUp))
            if let last = try deployment.store.runs(connector: connector.name, limit: 1, beforeID: nil).first {
                lastStarts[connector.name] = last.startedAt.date
            }
        }
        scheduler = try Scheduler(jobs: jobs, lastStarts: lastStarts, clock: clock)
    }

    /// Starts the scheduling thread.
    public func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "wharf-scheduler"
        thread.start()
    }

    /// Starts a run of `connector` now (trigger `api` or `manual`) and returns it once it is recorded.
    public func trigger(connector name: String, trigger: RunTrigger) throws(RunRequestError) -> Run {
        guard !stopping.load(ordering: .relaxed) else {
            throw RunRequestError(kind: .shuttingDown, message: "the server is shutting down; no new runs start")
        }
        guard let connector = deployment.manifest.connector(named: name) else {
            throw RunRequestError(kind: .unknownConnector, message: "no connector named '\(name)'")
        }
        guard connector.enabled else {
            throw RunRequestError(kind: .disabled, message: "connector '\(name)' is disabled in the manifest")
        }
        guard scheduler.markStarted(name) else {
            throw RunRequestError(kind: .alreadyRunning, message: "connector '\(name)' is already running; a connector never runs twice at once")
        }
        let started = DispatchSemaphore(value: 0)
        let box = Mutex<Result<Run, RunRequestError>?>(nil)
        launch(name, trigger: trigger) { result in
            box.withLock { $0 = result }
            started.signal()
        }
        started.wait()
        switch box.withLock({ $0 })! {
        case .success(let run): return run
        case .failure(let error): throw error
        }
    }

    /// Asks the run with `runID` to stop at its next batch boundary; what it committed is kept. A run in a worker
    /// that does not stop within `WorkerSettings.cancelGrace` is ended by killing its worker.
    public func cancel(runID: Int64) throws(RunRequestError) {
        let flag = active.withLock { runs in runs.values.first { $0.runID == runID }?.flag }
        guard let flag else {
            throw RunRequestError(kind: .notRunning, message: "run \(runID) is not running in this server")
        }
        flag.cancel()
    }

    /// Connector names with a run in progress.
    public var running: Set<String> { active.withLock { Set($0.keys) } }

    /// Stops scheduling, cancels runs in progress and waits up to `timeout` for them to end.
    public func stop(timeout: Duration = .seconds(30)) {
        stopping.store(true, ordering: .relaxed)
        wake.signal()
        active.withLock { runs in for run in runs.values { run.flag.cancel() } }
        _ = finished.wait(timeout: .now() + .milliseconds(Int(timeout.components.seconds * 1000)))
    }

    // MARK: Not public

    private func loop() {
        while !stopping.load(ordering: .relaxed) {
            if let next = tick() {
                let seconds = max(0, next.timeIntervalSince(clock.now()))
                _ = wake.wait(timeout: .now() + .milliseconds(Int(min(seconds, 3600) * 1000) + 1))
            } else {
                wake.wait()
            }
        }
    }

    /// One scheduling step: logs skipped slots, starts due runs, and returns when to look again (nil: nothing is
    /// scheduled). The scheduling thread calls it in a loop; tests call it directly with a manual clock.
    @discardableResult
    func tick() -> Date? {
        let tick = scheduler.poll()
        for skip in tick.skipped {
            deployment.logger.log(.warning, "scheduled run skipped", fields: [
                ("connector", skip.jobID), ("slot", Timestamp(skip.slot).rfc3339), ("reason", "\(skip.reason)"),
                ("catchUp", String(skip.willCatchUp)),
            ])
        }
        for due in tick.due {
            launch(due.jobID, trigger: .scheduled) { _ in }
        }
        return tick.nextWake
    }

    /// Waits until no run is in progress (tests).
    func waitUntilIdle() {
        finished.wait()
    }

    /// Runs `name` on a thread of its own; `started` gets the recorded run (or why none was recorded).
    private func launch(_ name: String, trigger: RunTrigger, started: @escaping @Sendable (Result<Run, RunRequestError>) -> Void) {
        let flag = CancellationFlag()
        active.withLock { $0[name] = (nil, flag) }
        finished.enter()
        let thread = Thread { [self] in
            var announced = false
            do {
                _ = try ConnectorRunner(deployment: deployment, workers: workers).ingest(connector: name, trigger: trigger, cancellation: flag) { run in
                    self.active.withLock { $0[name] = (run.id, flag) }
                    announced = true
                    started(.success(run))
                }
            } catch {
                deployment.logger.log(.error, "run could not start", fields: [("connector", name), ("error", "\(error)")])
                if !announced { started(.failure(RunRequestError(kind: .unknownConnector, message: "\(error)"))) }
            }
            active.withLock { $0[name] = nil }
            scheduler.markFinished(name)
            finished.leave()
            wake.signal()
        }
        thread.name = "wharf-run-\(name)"
        thread.start()
    }
}

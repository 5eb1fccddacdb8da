import Foundation
import WharfManifest
import WharfModel

/// The server side of one run with `isolation: process`: starts a fresh `wharf worker`, hands it the run, relays
/// its progress and log lines, and turns however the worker ends into the run's outcome.
///
/// The worker is killed (SIGKILL) when it makes no progress for the connector's `deadlineSeconds`, when a cancel
/// is not honoured within `WorkerSettings.cancelGrace`, or when it breaks the protocol. A worker that dies is
/// explained by its signal or exit status, and — when it was near its memory limit — as having exceeded it.
/// Runs on the caller's thread, polling every 100 ms, so cancels and deadlines need no other thread.
struct WorkerSupervisor {
    let deployment: Deployment
    let settings: WorkerSettings
    let connector: ConnectorConfig
    let runID: Int64
    let cancellation: CancellationFlag
    let progress: RunProgress?
    let runLog: RunLog

    /// Why the server killed its worker.
    private enum KillReason {
        case deadline, cancelGrace, protocolError(String), channelClosed, noExitAfterResult
    }

    /// What the server learned while the worker ran.
    private struct Observed {
        var counts = RunCounts()
        var result: RunOutcome?
        var addressSpaceLimit: UInt64 = 0
        var lastAddressSpace: UInt64 = 0
        var killed: KillReason?
        var cancelSentAt: ContinuousClock.Instant?
        var output = OutputTail()
    }

    /// Runs the connector in a worker and returns how the run ended. Never throws: every failure is an outcome.
    func run() -> RunOutcome {
        if cancellation.isCancelled {
            return RunOutcome(state: .cancelled, counts: RunCounts(), error: "cancelled before its worker started; nothing was done")
        }
        let worker: WorkerProcess
        do {
            worker = try WorkerProcess.spawn(executable: settings.executable, environment: settings.workerEnvironment())
        } catch {
            return RunOutcome(state: .failed, counts: RunCounts(), error: error.message)
        }
        let request = WorkerRequest(
            runID: runID, manifestPath: deployment.manifest.filePath, database: deployment.manifest.database,
            pluginFolder: deployment.manifest.pluginFolder, connector: connector, logLevel: deployment.logger.level,
            cancelled: false)
        worker.channel.send(request.frame())  // a worker that is already gone is explained below

        var observed = Observed()
        var frames = FrameBuffer()
        var lastProgress = ContinuousClock.now
        var channelOpen = true
        var channelClosedAt: ContinuousClock.Instant?
        var resultAt: ContinuousClock.Instant?
        var termination: WorkerProcess.Termination?

        var outputOpen = true
        while termination == nil {
            waitForInput(worker, channel: channelOpen, output: outputOpen, milliseconds: 100)
            if channelOpen && !readFrames(worker, &frames, &observed, &lastProgress) {
                channelOpen = false
                channelClosedAt = .now
            }
            if observed.result != nil && resultAt == nil { resultAt = .now }
            if outputOpen { outputOpen = drainOutput(worker, &observed) }
            if let ended = worker.reap(wait: false) {
                termination = ended
                break
            }
            if let size = worker.addressSpaceBytes() { observed.lastAddressSpace = size }
            let now = ContinuousClock.now
            if observed.killed == nil {
                if let resultAt {
                    // The result is in; the worker only has to exit.
                    if now - resultAt > .seconds(5) { kill(worker, .noExitAfterResult, &observed) }
                } else if let closedAt = channelClosedAt {
                    if now - closedAt > .seconds(2) { kill(worker, .channelClosed, &observed) }
                } else {
                    if cancellation.isCancelled && observed.cancelSentAt == nil {
                        observed.cancelSentAt = now
                        worker.channel.send(FrameEncoder(.cancel))
                    }
                    if let sentAt = observed.cancelSentAt, now - sentAt > settings.cancelGrace {
                        kill(worker, .cancelGrace, &observed)
                    } else if now - lastProgress > connector.deadline {
                        kill(worker, .deadline, &observed)
                    }
                }
            }
            if observed.killed != nil { termination = worker.reap(wait: true) }
        }
        // Frames sent just before the end (the batch before a crash) are still in the socket.
        if channelOpen { _ = readFrames(worker, &frames, &observed, &lastProgress) }
        if outputOpen { _ = drainOutput(worker, &observed) }
        observed.output.flush { line in logOutput(line) }
        let ended = termination!
        deployment.logger.log(.debug, "worker ended", fields: logFields + [
            ("pid", String(worker.pid)),
            ended.signal.map { ("signal", signalName($0)) } ?? ("status", String(ended.exitStatus ?? -1)),
            ("peakMB", String(ended.peakResidentBytes >> 20)),
        ])
        return outcome(ended, observed)
    }

    // MARK: Not public

    private var logFields: [(String, String)] {
        [("connector", connector.name), ("plugin", connector.plugin), ("run", String(runID))]
    }

    private func kill(_ worker: WorkerProcess, _ reason: KillReason, _ observed: inout Observed) {
        observed.killed = reason
        worker.signal(SIGKILL)
    }

    /// Waits until the channel or the output has something to read, or `milliseconds` pass. Closed ones are left
    /// out (they would be readable forever).
    private func waitForInput(_ worker: WorkerProcess, channel: Bool, output: Bool, milliseconds: Int32) {
        var fds: [pollfd] = []
        if output { fds.append(pollfd(fd: worker.output, events: Int16(POLLIN), revents: 0)) }
        if channel { fds.append(pollfd(fd: worker.channel.fd, events: Int16(POLLIN), revents: 0)) }
        _ = poll(&fds, nfds_t(fds.count), milliseconds)
    }

    /// Reads and handles every frame available now. False when the worker closed its end.
    private func readFrames(
        _ worker: WorkerProcess, _ frames: inout FrameBuffer, _ observed: inout Observed,
        _ lastProgress: inout ContinuousClock.Instant
    ) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var open = true
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in recv(worker.channel.fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT)) }
            if count == 0 {
                open = false
                break
            }
            if count < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { open = false }
                break
            }
            chunk.withUnsafeBytes { frames.append(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            do {
                while let frame = try frames.next() {
                    try handle(frame, &observed, &lastProgress)
                }
            } catch {
                if observed.killed == nil { kill(worker, .protocolError(error.message), &observed) }
                return false
            }
        }
        return open
    }

    private func handle(
        _ frame: (type: UInt8, payload: [UInt8]), _ observed: inout Observed, _ lastProgress: inout ContinuousClock.Instant
    ) throws(WorkerProtocolError) {
        var reader = PayloadReader(frame.payload)
        switch FrameType(rawValue: frame.type) {
        case .hello:
            let version = try reader.u32()
            guard version == workerProtocolVersion else {
                throw WorkerProtocolError(message: "the worker speaks protocol \(version), the server \(workerProtocolVersion)")
            }
            _ = try reader.i32()
            observed.addressSpaceLimit = try reader.u64()
            lastProgress = .now
        case .progress:
            observed.counts = try reader.counts()
            let done = try reader.u64()
            let total = try reader.u64()
            progress?.replace(counts: observed.counts, done: done, total: total)
            lastProgress = .now
        case .log:
            let origin = try reader.u8()
            let level = LogLevel(rawValue: Int(try reader.u8())) ?? .info
            let text = try reader.string()
            if origin == 0 {
                runLog.append(level, text)
                deployment.logger.log(level, text, fields: logFields)
            } else {
                WorkerDeath.relayHostLine(text, to: deployment.logger, fields: logFields)
            }
        case .result:
            guard let state = RunState(frameCode: try reader.u8()) else {
                throw WorkerProtocolError(message: "a result with an unknown state")
            }
            let counts = try reader.counts()
            let hasError = try reader.u8() != 0
            let error = try reader.string()
            observed.counts = counts
            observed.result = RunOutcome(state: state, counts: counts, error: hasError ? error : nil)
        case .start, .cancel, .call, .response, .ready, nil:
            throw WorkerProtocolError(message: "the worker sent a frame of type \(frame.type), which only a server sends or nobody does")
        }
    }

    /// Reads what the worker wrote to standard output or error, logging whole lines. False at its end.
    private func drainOutput(_ worker: WorkerProcess, _ observed: inout Observed) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in recv(worker.output, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT)) }
            if count < 0 && errno == EINTR { continue }
            if count == 0 { return false }
            guard count > 0 else { return errno == EAGAIN || errno == EWOULDBLOCK }
            observed.output.append(chunk[0..<count]) { line in logOutput(line) }
        }
    }

    private func logOutput(_ line: String) {
        deployment.logger.log(.warning, "worker output", fields: logFields + [("line", line)])
    }

    /// The run's outcome from the result frame, or from how the worker ended.
    private func outcome(_ termination: WorkerProcess.Termination, _ observed: Observed) -> RunOutcome {
        if let result = observed.result {
            if let signal = termination.signal {
                deployment.logger.log(.warning, "worker ended by a signal after reporting its result", fields: logFields + [("signal", signalName(signal))])
            }
            return result
        }
        var counts = observed.counts
        let failOnError = connector.onError == .fail
        if failOnError {
            // The run's one transaction died with the worker.
            counts.inserted = 0
            counts.updated = 0
            counts.unchanged = 0
        }
        let kept = failOnError ? "onError: fail, so nothing of the run was kept" : "batches committed before that are kept"
        let seconds = Self.seconds(connector.deadline)
        switch observed.killed {
        case .cancelGrace?:
            return RunOutcome(
                state: .cancelled, counts: counts,
                error: "cancelled; the plugin did not stop within \(Self.seconds(settings.cancelGrace)) s of the cancel, so its worker was killed; \(kept)")
        case .deadline?:
            return RunOutcome(
                state: .failed, counts: counts,
                error: "the plugin made no progress for \(seconds) s; killed (deadlineSeconds of connector '\(connector.name)': raise it if the source is that slow); \(kept)")
        case .protocolError(let message)?:
            return RunOutcome(state: .failed, counts: counts, error: "the worker broke the worker protocol (\(message)), so it was killed; \(kept)")
        case .channelClosed?:
            return RunOutcome(state: .failed, counts: counts, error: "the plugin closed the worker's channel to the server, so the worker was killed; \(kept)")
        case .noExitAfterResult?, nil:
            break
        }
        let death = WorkerDeath(
            termination: termination, output: observed.output, addressSpaceLimit: observed.addressSpaceLimit,
            lastAddressSpace: observed.lastAddressSpace)
        return RunOutcome(state: .failed, counts: counts, error: "\(death.explanation(connector, doing: "before the run ended")); \(kept)")
    }

    /// `2`, `0.5`: a duration as a number of seconds for messages.
    static func seconds(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? String(milliseconds / 1000) : String(Double(milliseconds) / 1000)
    }
}

/// How a worker died, in words for the run's (or the call's) error.
struct WorkerDeath {
    let termination: WorkerProcess.Termination
    let output: OutputTail
    /// The RLIMIT_AS cap the worker reported (0: unknown or none).
    let addressSpaceLimit: UInt64
    /// The worker's size at the server's last look.
    let lastAddressSpace: UInt64

    /// "the plugin crashed with SIGSEGV (signal 11)", "the plugin aborted (SIGABRT, signal 6); its last output: …",
    /// "the plugin exceeded its memory limit of 512 MB (an allocation failed) and its worker crashed with …".
    /// `doing` completes "exited with status 3 …" ("before the run ended").
    func explanation(_ connector: ConnectorConfig, doing: String) -> String {
        var died: String
        if let signal = termination.signal {
            switch signal {
            case SIGABRT: died = "aborted (SIGABRT, signal \(signal))"
            case SIGKILL: died = "was killed with SIGKILL (signal 9) from outside Wharf (the kernel's out-of-memory killer or an operator)"
            case SIGTERM, SIGINT, SIGHUP, SIGQUIT: died = "was stopped with \(signalName(signal)) (signal \(signal)) from outside Wharf"
            default: died = "crashed with \(signalName(signal)) (signal \(signal))"
            }
        } else {
            died = "exited with status \(termination.exitStatus ?? -1) \(doing) (the plugin may have called exit())"
        }
        if let last = output.lastLine { died += "; its last output: \(last)" }
        guard isOutOfMemory(connector) else { return "the plugin \(died)" }
        let evidence = output.death?.errno == ENOMEM ? " (an allocation failed)" : ""
        return "the plugin exceeded its memory limit of \(connector.memoryLimitMB) MB\(evidence) and its worker \(died); "
            + "raise memoryLimitMB of connector '\(connector.name)' if it needs more"
    }

    /// Whether the worker died of its memory limit: RLIMIT_AS makes an allocation fail, and the plugin (or the
    /// Swift runtime) then crashes or aborts. The worker's dying report tells: the crashing thread's errno is ENOMEM
    /// (an allocation just failed), or its size was within a tenth of the limit of the cap. Without a report (it
    /// exited, or died where no handler could run) the last size the server sampled decides the same way.
    func isOutOfMemory(_ connector: ConnectorConfig) -> Bool {
        guard addressSpaceLimit > 0, termination.signal != SIGKILL else { return false }
        let margin = (UInt64(connector.memoryLimitMB) << 20) / 10
        if let death = output.death {
            return death.errno == ENOMEM || death.size + margin >= addressSpaceLimit
        }
        return lastAddressSpace + margin >= addressSpaceLimit
    }

    /// A line the worker's own logger rendered as JSON, logged again through the server's logger and format.
    static func relayHostLine(_ text: String, to logger: Logger, fields extra: [(String, String)]) {
        guard let object = (try? JSONValue.parse(json5: text))?.objectValue else {
            logger.log(.info, text, fields: extra)
            return
        }
        let level = object["level"]?.stringValue.flatMap { LogLevel(name: $0) } ?? .info
        let message = object["msg"]?.stringValue ?? text
        let fields = object.members.filter { !["ts", "level", "msg"].contains($0.key) }.map { ($0.key, $0.value.scalarText ?? "") }
        logger.log(level, message, fields: fields)
    }
}

/// The last bytes a worker wrote to standard output and error, cut into lines; a dying report (see `DeathReport`)
/// is taken out rather than logged.
struct OutputTail {
    private var partial: [UInt8] = []
    private(set) var lastLine: String?
    private(set) var death: (signal: Int32, errno: Int32, size: UInt64)?
    private var lines = 0

    /// At most this many lines of a worker are logged; the rest are only counted (a chatty plugin must not flood).
    static let loggedLines = 200

    mutating func append(_ bytes: ArraySlice<UInt8>, log: (String) -> Void) {
        for byte in bytes {
            if byte == 10 {
                emit(log)
            } else if partial.count < 1024 {
                partial.append(byte)
            }
        }
    }

    mutating func flush(log: (String) -> Void) {
        if !partial.isEmpty { emit(log) }
    }

    private mutating func emit(_ log: (String) -> Void) {
        let raw = String(decoding: partial, as: UTF8.self)
        partial.removeAll(keepingCapacity: true)
        if raw.hasPrefix(DeathReport.marker) {
            death = DeathReport.parse(raw.dropFirst(DeathReport.marker.count))
            return
        }
        let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !line.isEmpty else { return }
        lastLine = line.count > 300 ? String(line.prefix(300)) + "…" : line
        lines += 1
        if lines <= Self.loggedLines { log(line) }
    }
}

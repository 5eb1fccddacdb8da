import Dispatch
import Foundation
import Synchronization
import WharfManifest
import WharfModel
import WharfPlugins

/// The worker side of a run with `isolation: process`: what `wharf worker` does.
///
/// It reads one `start` frame, opens the deployment's database, caps its own address space (RLIMIT_AS) at its
/// current size plus the connector's `memoryLimitMB`, loads the plugin and runs the ingest exactly as an in-process
/// run does, streaming progress and log lines to the server, then sends the result and exits. In call mode (for
/// the `CallPool`) it creates one instance instead and answers calls until the server lets it go. The protocol is
/// described in WorkerProtocol.swift.
public enum Worker {
    /// Serves one run (or calls) over the frame socket `channel` and ends the process: exit status 0 once the
    /// result is sent (or the server closed a call worker's channel), 2 when the server sent no valid request, 75
    /// when the server went away mid-run (nothing more can be reported, and no run must go on unsupervised).
    public static func run(channel fd: Int32) -> Never {
        signal(SIGPIPE, SIG_IGN)
        let channel = FrameChannel(fd: fd)
        var buffer = FrameBuffer()
        let request: WorkerRequest
        do {
            guard let frame = try channel.receive(into: &buffer) else {
                fail("the server closed the channel before sending a run request")
            }
            guard frame.type == FrameType.start.rawValue else {
                fail("expected a start frame, got frame type \(frame.type)")
            }
            request = try WorkerRequest(payload: frame.payload)
        } catch {
            fail("\(error)")
        }

        // Host log lines travel as rendered JSON; the server re-logs them in its own format.
        let logger = Logger(level: request.logLevel, format: .json) { line in
            var frame = FrameEncoder(.log, capacity: line.utf8.count + 16)
            frame.u8(1)
            frame.u8(0)
            frame.string(line)
            if !channel.send(frame) { serverGone("the server stopped reading") }
        }
        let manifest = Manifest(
            filePath: request.manifestPath, database: request.database, pluginFolder: request.pluginFolder,
            connectors: [request.connector])
        let deployment: Deployment
        do {
            deployment = try Deployment(manifest: manifest, logger: logger)
        } catch {
            finish(channel, RunOutcome(state: .failed, counts: RunCounts(), error: "the worker could not open the database: \(error)"))
        }

        // Set up before the cap: the handler's memory must not be the allocation that fails.
        DeathReport.install()
        // The cap counts from the worker's own size, so memoryLimitMB is what the plugin may add to it.
        let baseline = WorkerProcess.addressSpaceBytes(of: "/proc/self/statm") ?? 0
        var limitBytes = baseline + UInt64(request.connector.memoryLimitMB) << 20 + Self.arenaReservation()
        var limit = rlimit(rlim_cur: rlim_t(limitBytes), rlim_max: rlim_t(limitBytes))
        if setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) != 0 {
            logger.log(.warning, "could not set the worker's memory limit", fields: [("error", String(cString: strerror(errno)))])
            limitBytes = 0
        }
        var hello = FrameEncoder(.hello)
        hello.u32(workerProtocolVersion)
        hello.i32(getpid())
        hello.u64(limitBytes)
        hello.u64(baseline)
        if !channel.send(hello) { serverGone("the server stopped reading") }
        if request.mode == .call { serveCalls(request, deployment, channel, &buffer) }

        let cancellation = CancellationFlag()
        if request.cancelled { cancellation.cancel() }
        let leftover = buffer
        let listener = Thread {
            var buffer = leftover
            while true {
                let frame: (type: UInt8, payload: [UInt8])?
                do {
                    frame = try channel.receive(into: &buffer)
                } catch {
                    serverGone("the server sent a broken frame: \(error)")
                }
                guard let frame else { serverGone("the server closed the channel") }
                guard frame.type == FrameType.cancel.rawValue else {
                    serverGone("the server sent an unexpected frame of type \(frame.type)")
                }
                cancellation.cancel()
            }
        }
        listener.name = "wharf-worker-listener"
        listener.start()

        let runLog = RunLog { level, text in
            var frame = FrameEncoder(.log, capacity: text.utf8.count + 16)
            frame.u8(0)
            frame.u8(UInt8(level.rawValue))
            frame.string(text)
            if !channel.send(frame) { serverGone("the server stopped reading") }
        }
        let throttle = Throttle(intervalMilliseconds: 200)
        let progress = RunProgress { progress, batch in
            // A stored batch is reported at once (its counts must survive a crash right after); the rest is sampled.
            guard batch || throttle.due() else { return }
            var frame = FrameEncoder(.progress)
            frame.counts(progress.counts)
            let position = progress.position
            frame.u64(position.done)
            frame.u64(position.total)
            if !channel.send(frame) { serverGone("the server stopped reading") }
        }

        if let path = deployment.plugins.path(forID: request.connector.plugin),
            let plugin = try? ConnectorRunner.loadPlugin(request.connector, from: deployment.plugins)
        {
            runLog.append(
                .info,
                "worker process \(getpid()) loaded plugin \(plugin.info.id) \(plugin.info.version) from \(path) (memory limit \(request.connector.memoryLimitMB) MB)")
        }
        let outcome = ConnectorRunner(deployment: deployment).runInProcess(
            request.connector, runID: request.runID, cancellation: cancellation, progress: progress, runLog: runLog)
        finish(channel, outcome)
    }

    // MARK: Not public

    /// Call mode: creates one instance, says `ready`, then answers `call` frames one at a time until the server
    /// closes the channel (or kills this process for a missed deadline).
    private static func serveCalls(
        _ request: WorkerRequest, _ deployment: Deployment, _ channel: FrameChannel, _ buffer: inout FrameBuffer
    ) -> Never {
        let connector = request.connector
        let plugin: LoadedPlugin
        let instance: UnsafeMutableRawPointer?
        do throws(ConnectorRunner.RunFailure) {
            (plugin, instance) = try PluginCall.makeInstance(connector, deployment: deployment)
        } catch {
            finish(channel, RunOutcome(state: .failed, counts: RunCounts(), error: error.message))
        }
        var ready = FrameEncoder(.ready)
        ready.string(plugin.info.id)
        ready.string(plugin.info.version)
        if !channel.send(ready) { serverGone("the server stopped reading") }
        while true {
            let frame: (type: UInt8, payload: [UInt8])?
            do {
                frame = try channel.receive(into: &buffer)
            } catch {
                serverGone("the server sent a broken frame: \(error)")
            }
            guard let frame else { _exit(0) }  // the server let this worker go
            guard frame.type == FrameType.call.rawValue else {
                serverGone("the server sent an unexpected frame of type \(frame.type)")
            }
            var reader = PayloadReader(frame.payload)
            let id: UInt64, operation: String, body: [UInt8]
            do {
                id = try reader.u64()
                operation = try reader.string()
                body = try reader.data()
            } catch {
                serverGone("the server sent a broken call: \(error)")
            }
            let answer = PluginCall.perform(
                plugin, instance: instance, connector: connector, deployment: deployment, operation: operation, request: body)
            var response = FrameEncoder(.response, capacity: 64 + answer.response.count)
            response.u64(id)
            response.u32(UInt32(bitPattern: answer.status))
            response.data(answer.response)
            response.u8(answer.error == nil ? 0 : 1)
            response.string(answer.error ?? "")
            if !channel.send(response) { serverGone("the server stopped reading") }
        }
    }

    /// Sends the result and ends the process without running the plugin's exit handlers or destructors (its
    /// threads may still be running; nothing after the result can be reported anyway).
    /// The address space glibc reserves for malloc arenas beyond the main one (64 MiB each, up to
    /// MALLOC_ARENA_MAX), which the memory cap allows on top of memoryLimitMB: a reservation is not memory used.
    static func arenaReservation() -> UInt64 {
        let arenas = ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"].flatMap { Int($0) } ?? 1
        return UInt64(min(max(arenas, 1), 64) - 1) << 26
    }

    private static func finish(_ channel: FrameChannel, _ outcome: RunOutcome) -> Never {
        var frame = FrameEncoder(.result, capacity: 64 + (outcome.error?.utf8.count ?? 0))
        frame.u8(outcome.state.frameCode)
        frame.counts(outcome.counts)
        frame.u8(outcome.error == nil ? 0 : 1)
        frame.string(outcome.error ?? "")
        channel.send(frame)
        _exit(0)
    }

    /// No valid request: say why on standard error (the server logs the worker's output) and stop.
    private static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("wharf worker: \(message)\n".utf8))
        _exit(2)
    }

    /// The server is gone or broke the protocol: nobody supervises the run any more, so stop at once. SQLite rolls
    /// back a batch that was being written.
    private static func serverGone(_ message: String) -> Never {
        FileHandle.standardError.write(Data("wharf worker: \(message); stopping\n".utf8))
        _exit(75)
    }
}

/// Lets an event through at most once per interval, from any thread.
private final class Throttle: Sendable {
    private let last = Atomic<UInt64>(0)
    private let interval: UInt64

    init(intervalMilliseconds: UInt64) {
        interval = intervalMilliseconds * 1_000_000
    }

    func due() -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        let previous = last.load(ordering: .relaxed)
        guard now &- previous >= interval else { return false }
        return last.compareExchange(expected: previous, desired: now, ordering: .relaxed).exchanged
    }
}

/// A last line from a worker that is crashing: on SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE or SIGABRT a signal
/// handler writes `\u{1E}wharf-worker-died signal=11 errno=12 size=123456` to standard error (the server's output
/// socket), then lets the signal kill the process as usual. `errno` is the crashing thread's: ENOMEM there means an
/// allocation just failed, which under RLIMIT_AS is the memory limit; `size` is the address space at that moment.
///
/// The handler only makes system calls (open, read, close, write, raise) on memory allocated in `install`, so it
/// is safe to run in a process in any state. It runs on an alternate stack on the main thread (which runs the
/// plugin), so even a stack overflow there is reported.
enum DeathReport {
    /// The line's first bytes; the server recognises (and does not log) such a line.
    static let marker = "\u{1E}wharf-worker-died "

    nonisolated(unsafe) static var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    nonisolated(unsafe) static var statm = UnsafeMutablePointer<UInt8>.allocate(capacity: 128)
    nonisolated(unsafe) static var pageSize: UInt64 = 4096
    static let statmPath: StaticString = "/proc/self/statm"

    /// Installs the handler (once, before the plugin loads).
    static func install() {
        // Touch every global now: lazy initialisation must never happen inside the handler.
        _ = buffer
        _ = statm
        _ = statmPath
        pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let stackSize = 64 << 10
        var stack = stack_t(ss_sp: UnsafeMutableRawPointer.allocate(byteCount: stackSize, alignment: 16), ss_flags: 0, ss_size: stackSize)
        sigaltstack(&stack, nil)
        for signal in [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = reportDeath
            action.sa_flags = Int32(SA_ONSTACK) | Int32(bitPattern: UInt32(truncatingIfNeeded: SA_RESETHAND))
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
    }

    /// Parses a marker line (without the marker): signal, errno and size.
    static func parse(_ text: Substring) -> (signal: Int32, errno: Int32, size: UInt64)? {
        var values: [String: UInt64] = [:]
        for pair in text.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = UInt64(parts[1]) { values[String(parts[0])] = value }
        }
        guard let signal = values["signal"], let error = values["errno"], let size = values["size"] else { return nil }
        return (Int32(truncatingIfNeeded: signal), Int32(truncatingIfNeeded: error), size)
    }

    /// Appends `text` (ASCII) at `offset`; returns the new offset.
    fileprivate static func append(_ text: StaticString, at offset: Int) -> Int {
        var offset = offset
        let start = text.utf8Start
        for index in 0..<text.utf8CodeUnitCount {
            buffer[offset] = start[index]
            offset += 1
        }
        return offset
    }

    /// Appends `value` in decimal at `offset`; returns the new offset.
    fileprivate static func append(number value: UInt64, at offset: Int) -> Int {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
            UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[count] = UInt8(48 + rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            for index in 0..<count { buffer[offset + index] = raw[count - 1 - index] }
        }
        return offset + count
    }

    /// The address-space size from /proc/self/statm, 0 when unreadable.
    fileprivate static func addressSpace() -> UInt64 {
        let fd = open(UnsafeRawPointer(statmPath.utf8Start).assumingMemoryBound(to: CChar.self), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        let count = read(fd, statm, 127)
        close(fd)
        var pages: UInt64 = 0
        var index = 0
        while index < count, statm[index] >= 48, statm[index] <= 57 {
            pages = pages * 10 + UInt64(statm[index] - 48)
            index += 1
        }
        return pages * pageSize
    }
}

/// The handler: write the report, then die of the same signal (SA_RESETHAND restored the default action).
private func reportDeath(_ signal: Int32) {
    let error = errno
    var offset = DeathReport.append("\u{1E}wharf-worker-died signal=", at: 0)
    offset = DeathReport.append(number: UInt64(max(signal, 0)), at: offset)
    offset = DeathReport.append(" errno=", at: offset)
    offset = DeathReport.append(number: UInt64(max(error, 0)), at: offset)
    offset = DeathReport.append(" size=", at: offset)
    offset = DeathReport.append(number: DeathReport.addressSpace(), at: offset)
    offset = DeathReport.append("\n", at: offset)
    _ = write(2, DeathReport.buffer, offset)
    raise(signal)
}

import Foundation
import WharfABI
import WharfManifest
import WharfModel

/// One warm `wharf worker` in call mode, as the `CallPool` sees it. Used by one call at a time.
final class CallWorker {
    let process: WorkerProcess
    let connector: ConnectorConfig
    let logger: Logger
    /// The plugin library as it was when the worker loaded it (device, inode, modification time).
    private let library: LibraryIdentity?
    private let libraryPath: String
    private var frames = FrameBuffer()
    private var output = OutputTail()
    private var addressSpaceLimit: UInt64 = 0
    private var lastAddressSpace: UInt64 = 0
    private var nextID: UInt64 = 1

    private init(process: WorkerProcess, connector: ConnectorConfig, logger: Logger, libraryPath: String) {
        self.process = process
        self.connector = connector
        self.logger = logger
        self.libraryPath = libraryPath
        library = LibraryIdentity(path: libraryPath)
    }

    /// Starts a worker and waits (until `until`) for it to be ready: plugin loaded, instance created.
    static func start(
        _ connector: ConnectorConfig, deployment: Deployment, settings: WorkerSettings, until: ContinuousClock.Instant,
        deadline: Duration
    ) throws(CallError) -> CallWorker {
        guard let libraryPath = deployment.plugins.path(forID: connector.plugin) else {
            throw CallError(
                kind: .unavailable,
                message: "plugin '\(connector.plugin)' is not installed in \(deployment.plugins.path); install it with `wharf plugins install PATH.so`")
        }
        let process: WorkerProcess
        do {
            process = try WorkerProcess.spawn(executable: settings.executable, environment: settings.workerEnvironment())
        } catch {
            throw CallError(kind: .unavailable, message: error.message)
        }
        let worker = CallWorker(process: process, connector: connector, logger: deployment.logger, libraryPath: libraryPath)
        let request = WorkerRequest(
            runID: 0, manifestPath: deployment.manifest.filePath, database: deployment.manifest.database,
            pluginFolder: deployment.manifest.pluginFolder, connector: connector, logLevel: deployment.logger.level,
            cancelled: false, mode: .call)
        process.channel.send(request.frame())
        let frame = try worker.next(until: until, waitingFor: "start", deadline: deadline)
        var reader = PayloadReader(frame.payload)
        switch FrameType(rawValue: frame.type) {
        case .ready:
            let id = (try? reader.string()) ?? connector.plugin
            let version = (try? reader.string()) ?? "?"
            deployment.logger.log(.debug, "call worker ready", fields: worker.fields + [("pid", String(process.pid)), ("version", "\(id) \(version)")])
            return worker
        case .result:
            _ = try? reader.u8()
            _ = try? reader.counts()
            _ = try? reader.u8()
            let message = (try? reader.string()) ?? "the worker could not start"
            throw CallError(kind: .unavailable, message: message)
        default:
            worker.kill()
            throw CallError(kind: .crashed, message: "the worker sent frame type \(frame.type) instead of ready")
        }
    }

    /// Whether the worker can take a call: it is alive and its plugin file was not replaced since it loaded it.
    var isUsable: Bool {
        process.reap(wait: false) == nil && LibraryIdentity(path: libraryPath) == library
    }

    /// One call; on a missed deadline the worker is killed and the error says so.
    func call(operation: String, request: [UInt8], until: ContinuousClock.Instant, deadline: Duration) throws(CallError) -> [UInt8] {
        let id = nextID
        nextID += 1
        var frame = FrameEncoder(.call, capacity: 32 + operation.utf8.count + request.count)
        frame.u64(id)
        frame.string(operation)
        frame.data(request)
        process.channel.send(frame)
        let answer = try next(until: until, waitingFor: "answer '\(operation)'", deadline: deadline)
        guard FrameType(rawValue: answer.type) == .response else {
            kill()
            throw CallError(kind: .crashed, message: "the worker sent frame type \(answer.type) instead of a response; it was killed")
        }
        let status: wharf_status, response: [UInt8], error: String?
        do throws(WorkerProtocolError) {
            var reader = PayloadReader(answer.payload)
            guard try reader.u64() == id else { throw WorkerProtocolError(message: "a response to another call") }
            status = wharf_status(bitPattern: try reader.u32())
            response = try reader.data()
            let hasError = try reader.u8() != 0
            let text = try reader.string()
            error = hasError ? text : nil
        } catch {
            kill()
            throw CallError(kind: .crashed, message: "the worker broke the protocol (\(error.message)); it was killed")
        }
        guard status == WHARF_OK else {
            throw CallError(kind: .failed, message: "\(operation): " + ConnectorRunner.explain(status, error))
        }
        return response
    }

    // MARK: Not public

    private var fields: [(String, String)] { [("connector", connector.name), ("plugin", connector.plugin)] }

    private func kill() {
        process.signal(SIGKILL)
        _ = process.reap(wait: true)
    }

    /// The next frame that is not a log line or hello, waiting until `until` (the end of `deadline`) for the
    /// worker to do `what` ("answer 'x'"). A missed deadline kills the worker; a dead worker is explained.
    private func next(
        until: ContinuousClock.Instant, waitingFor what: String, deadline: Duration
    ) throws(CallError) -> (type: UInt8, payload: [UInt8]) {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var channelOpen = true
        var outputOpen = true
        var closedAt: ContinuousClock.Instant?
        while true {
            do {
                while let frame = try frames.next() {
                    switch FrameType(rawValue: frame.type) {
                    case .log:
                        relay(frame.payload)
                    case .hello:
                        var reader = PayloadReader(frame.payload)
                        _ = try reader.u32()
                        _ = try reader.i32()
                        addressSpaceLimit = try reader.u64()
                    default:
                        return frame
                    }
                }
            } catch {
                kill()
                throw CallError(kind: .crashed, message: "the worker broke the protocol (\(error.message)); it was killed")
            }
            let now = ContinuousClock.now
            if now >= until {
                kill()
                throw CallError(
                    kind: .timeout,
                    message: "the plugin of connector '\(connector.name)' did not \(what) within \(WorkerSupervisor.seconds(deadline)) s; its worker was killed")
            }
            if let termination = process.reap(wait: false) ?? (closedAt.map { now - $0 > .seconds(2) } == true ? killAndReap() : nil) {
                if outputOpen { _ = drainOutput() }
                output.flush { line in logger.log(.warning, "worker output", fields: fields + [("line", line)]) }
                let death = WorkerDeath(
                    termination: termination, output: output, addressSpaceLimit: addressSpaceLimit, lastAddressSpace: lastAddressSpace)
                throw CallError(kind: .crashed, message: death.explanation(connector, doing: "before it could \(what)"))
            }
            if let size = process.addressSpaceBytes() { lastAddressSpace = size }
            // Closed descriptors stay out of poll: they would be readable forever.
            var fds: [pollfd] = []
            if outputOpen { fds.append(pollfd(fd: process.output, events: Int16(POLLIN), revents: 0)) }
            if channelOpen { fds.append(pollfd(fd: process.channel.fd, events: Int16(POLLIN), revents: 0)) }
            let remaining = until - now
            let milliseconds = min(100, max(1, Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)))
            _ = poll(&fds, nfds_t(fds.count), milliseconds)
            if outputOpen { outputOpen = drainOutput() }
            guard channelOpen else { continue }
            let count = chunk.withUnsafeMutableBytes { raw in recv(process.channel.fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT)) }
            if count > 0 {
                chunk.withUnsafeBytes { frames.append(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                channelOpen = false
                closedAt = now
            }
        }
    }

    private func killAndReap() -> WorkerProcess.Termination? {
        process.signal(SIGKILL)
        return process.reap(wait: true)
    }

    private func relay(_ payload: [UInt8]) {
        var reader = PayloadReader(payload)
        guard let origin = try? reader.u8(), let levelByte = try? reader.u8(), let text = try? reader.string() else { return }
        if origin == 0 {
            logger.log(LogLevel(rawValue: Int(levelByte)) ?? .info, text, fields: fields)
        } else {
            WorkerDeath.relayHostLine(text, to: logger, fields: fields)
        }
    }

    /// Reads what the worker wrote to standard output and error, logging whole lines. False at its end.
    private func drainOutput() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in recv(process.output, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT)) }
            if count < 0 && errno == EINTR { continue }
            if count == 0 { return false }
            guard count > 0 else { return errno == EAGAIN || errno == EWOULDBLOCK }
            output.append(chunk[0..<count]) { line in
                logger.log(.warning, "worker output", fields: fields + [("line", line)])
            }
        }
    }
}

/// Which file a path names right now: a replaced plugin (new file renamed over the old) has a new inode.
struct LibraryIdentity: Equatable {
    let device: UInt64
    let inode: UInt64
    let modified: Int64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }
}

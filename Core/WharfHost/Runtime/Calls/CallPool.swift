import Foundation
import WharfABI
import WharfManifest
import WharfModel
import WharfPlugins

/// Why a real-time call got no answer.
public struct CallError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Hashable {
        /// No connector has that name.
        case unknownConnector
        /// The connector is disabled in the manifest.
        case disabled
        /// The plugin cannot answer calls, is not installed, or refused the connector's configuration.
        case unavailable
        /// The plugin answered with a failure status (its message is in `message`).
        case failed
        /// No answer within the call's deadline; the worker was killed.
        case timeout
        /// The worker died during the call (crash, abort, memory limit).
        case crashed
        /// Every worker of the connector was busy until the deadline, or the pool is shut down.
        case busy
    }

    /// The kind of failure.
    public var kind: Kind
    /// One sentence for people: what went wrong and, where there is one, what to do.
    public var message: String
    /// The message.
    public var description: String { message }

    /// An error.
    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
}

/// Real-time calls (`call` in the plugin ABI: "verify or create this company", "price of this SKU for this
/// customer") to connectors' plugins, each with a deadline.
///
/// For `isolation: process` connectors calls go to warm `wharf worker` processes in call mode: each has loaded the
/// plugin and created one instance, and answers one call at a time. A call takes an idle worker (or starts one,
/// up to `maxWorkers` per connector; past that it waits for one to come free), and gives it back when it answers;
/// up to `warmWorkers` stay warm per connector. A call that misses its deadline gets its worker killed (SIGKILL)
/// and fails with `.timeout`; a worker that dies fails its call with the reason (`.crashed`); either way the next
/// call gets a fresh worker. A warm worker whose plugin file was replaced (`wharf plugins install --replace`) is
/// retired before its next call, so an upgrade reaches the next call.
///
/// For `isolation: inprocess` connectors the call runs on the calling thread, with a fresh instance, and the
/// deadline cannot be enforced (a thread cannot be killed).
public final class CallPool: @unchecked Sendable {
    /// The deployment whose connectors are called.
    public let deployment: Deployment
    /// How workers are started.
    public let workers: WorkerSettings
    /// Idle workers kept per connector.
    public let warmWorkers: Int
    /// Workers per connector at most (calls past it wait for one).
    public let maxWorkers: Int

    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var idle: [String: [CallWorker]] = [:]
    private var inUse: [String: Int] = [:]
    private var closed = false

    /// A pool for `deployment`'s connectors.
    public init(deployment: Deployment, workers: WorkerSettings = WorkerSettings(), warmWorkers: Int = 1, maxWorkers: Int = 4) {
        self.deployment = deployment
        self.workers = workers
        self.warmWorkers = max(0, warmWorkers)
        self.maxWorkers = max(1, maxWorkers)
    }

    /// Calls `operation` of connector `name`'s plugin with `request` (usually JSON) and returns its response.
    /// `deadline` covers everything: waiting for a free worker, starting one, and the call itself.
    public func call(
        connector name: String, operation: String, request: [UInt8], deadline: Duration = .seconds(10)
    ) throws(CallError) -> [UInt8] {
        let connector = try connector(named: name)
        if connector.isolation == .inprocess {
            return try callInProcess(connector, operation: operation, request: request)
        }
        let until = ContinuousClock.now + deadline
        let worker = try checkOut(connector, until: until, deadline: deadline)
        do {
            let response = try worker.call(operation: operation, request: request, until: until, deadline: deadline)
            checkIn(connector.name, worker)
            return response
        } catch {
            // A plugin that answered with a failure is fine; a killed or dead worker is never reused.
            checkIn(connector.name, error.kind == .failed ? worker : nil)
            throw error
        }
    }

    /// Starts workers for connector `name` until `warmWorkers` are idle, so the first calls need not wait for one.
    public func warm(connector name: String, deadline: Duration = .seconds(10)) throws(CallError) {
        let connector = try connector(named: name)
        guard connector.isolation == .process else { return }
        let until = ContinuousClock.now + deadline
        while true {
            condition.lock()
            let idleNow = idle[name]?.count ?? 0
            guard !closed, idleNow < warmWorkers, idleNow + inUse[name, default: 0] < maxWorkers else {
                condition.unlock()
                return
            }
            inUse[name, default: 0] += 1
            condition.unlock()
            let worker: CallWorker
            do {
                worker = try CallWorker.start(connector, deployment: deployment, settings: workers, until: until, deadline: deadline)
            } catch {
                checkIn(name, nil)
                throw error
            }
            checkIn(name, worker)
        }
    }

    /// Stops every idle worker and refuses further calls; calls in progress finish.
    public func shutdown() {
        condition.lock()
        closed = true
        let retired = idle
        idle = [:]
        condition.broadcast()
        condition.unlock()
        _ = retired  // released here, outside the lock: each worker is killed and reaped
    }

    // MARK: Not public

    /// Idle workers of a connector (tests).
    func idleCount(_ name: String) -> Int {
        condition.lock()
        defer { condition.unlock() }
        return idle[name]?.count ?? 0
    }

    /// Workers of a connector busy with a call or starting (tests).
    func inUseCount(_ name: String) -> Int {
        condition.lock()
        defer { condition.unlock() }
        return inUse[name] ?? 0
    }

    private func connector(named name: String) throws(CallError) -> ConnectorConfig {
        guard let connector = deployment.manifest.connector(named: name) else {
            throw CallError(kind: .unknownConnector, message: "no connector named '\(name)'")
        }
        guard connector.enabled else {
            throw CallError(kind: .disabled, message: "connector '\(name)' is disabled in the manifest")
        }
        return connector
    }

    /// An idle, still usable worker, or a new one (counted as in use), waiting until `until` when all are busy.
    private func checkOut(_ connector: ConnectorConfig, until: ContinuousClock.Instant, deadline: Duration) throws(CallError) -> CallWorker {
        let name = connector.name
        var retired: [CallWorker] = []
        defer { retired.removeAll() }  // killed outside the lock
        condition.lock()
        while true {
            if closed {
                condition.unlock()
                throw CallError(kind: .busy, message: "the server is shutting down; no more calls")
            }
            if let worker = idle[name]?.popLast() {
                if worker.isUsable {
                    inUse[name, default: 0] += 1
                    condition.unlock()
                    return worker
                }
                retired.append(worker)
                continue
            }
            if inUse[name, default: 0] < maxWorkers {
                inUse[name, default: 0] += 1
                condition.unlock()
                do {
                    return try CallWorker.start(connector, deployment: deployment, settings: workers, until: until, deadline: deadline)
                } catch {
                    checkIn(name, nil)
                    throw error
                }
            }
            let now = ContinuousClock.now
            guard now < until else {
                condition.unlock()
                throw CallError(kind: .busy, message: "all \(maxWorkers) workers of connector '\(name)' stayed busy until the call's deadline")
            }
            let seconds = Double((until - now).components.seconds) + Double((until - now).components.attoseconds) / 1e18
            _ = condition.wait(until: Date().addingTimeInterval(seconds))
        }
    }

    /// Gives a worker back (nil: it was killed or died), keeping it warm when there is room.
    private func checkIn(_ name: String, _ worker: CallWorker?) {
        var surplus: CallWorker?
        condition.lock()
        inUse[name, default: 1] -= 1
        if let worker {
            if !closed && (idle[name]?.count ?? 0) < warmWorkers {
                idle[name, default: []].append(worker)
            } else {
                surplus = worker
            }
        }
        condition.broadcast()
        condition.unlock()
        _ = surplus  // released here, outside the lock
    }

    private func callInProcess(_ connector: ConnectorConfig, operation: String, request: [UInt8]) throws(CallError) -> [UInt8] {
        let plugin: LoadedPlugin
        let instance: UnsafeMutableRawPointer?
        do throws(ConnectorRunner.RunFailure) {
            (plugin, instance) = try PluginCall.makeInstance(connector, deployment: deployment)
        } catch {
            throw CallError(kind: .unavailable, message: error.message)
        }
        defer { plugin.descriptor.pointee.destroy?(instance) }
        let answer = PluginCall.perform(
            plugin, instance: instance, connector: connector, deployment: deployment, operation: operation, request: request)
        guard answer.status == WHARF_OK else {
            throw CallError(kind: .failed, message: "\(operation): " + ConnectorRunner.explain(answer.status, answer.error))
        }
        return answer.response
    }
}

/// One `call` on a plugin instance, in this process: what a call worker does for each call frame.
enum PluginCall {
    /// Loads the connector's plugin and creates the instance that answers its calls; refuses a plugin that
    /// answers no calls. Used by call workers and by in-process calls alike.
    static func makeInstance(
        _ connector: ConnectorConfig, deployment: Deployment
    ) throws(ConnectorRunner.RunFailure) -> (LoadedPlugin, UnsafeMutableRawPointer?) {
        let plugin = try ConnectorRunner.loadPlugin(connector, from: deployment.plugins)
        guard plugin.info.capabilities.contains(.call), plugin.descriptor.pointee.call != nil else {
            throw ConnectorRunner.RunFailure(
                message: "plugin '\(plugin.info.id)' answers no calls (capabilities: \(plugin.info.capabilities.names.joined(separator: ", ")))",
                counts: RunCounts())
        }
        let instance = try ConnectorRunner.createInstance(
            plugin, connector: connector, store: deployment.store, logger: deployment.logger,
            baseDirectory: deployment.manifest.directory, cancellation: CancellationFlag())
        return (plugin, instance)
    }

    /// The plugin's status, its response (empty when it set none) and its error message.
    static func perform(
        _ plugin: LoadedPlugin, instance: UnsafeMutableRawPointer?, connector: ConnectorConfig, deployment: Deployment,
        operation: String, request: [UInt8]
    ) -> (status: wharf_status, response: [UInt8], error: String?) {
        guard let call = plugin.descriptor.pointee.call else { return (WHARF_ERR_UNSUPPORTED, [], "the plugin answers no calls") }
        let context = ConnectorContext(
            connector: connector, phase: .call, store: deployment.store, runID: nil, logger: deployment.logger,
            cancellation: CancellationFlag(), baseDirectory: deployment.manifest.directory)
        // NUL-terminated as a courtesy to C plugins; the length excludes it.
        let bytes = request + [0]
        let status = withExtendedLifetime(context) {
            operation.withCString { name in
                bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { text in
                        call(instance, context.opaque, name, text.baseAddress, request.count)
                    }
                }
            }
        }
        return (status, context.response ?? [], status == WHARF_OK ? nil : context.errorMessage)
    }
}

import Foundation
import WharfABI
import WharfManifest
import WharfModel
import WharfPlugins
import WharfStore

/// Why a run could not even be started. (A run that starts and fails is recorded as a failed run instead.)
public struct RunnerError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for a person.
    public var message: String
    /// The message.
    public var description: String { message }
}

/// Runs one connector's plugin operation and records it as a run: start, counts, end, state and error.
///
/// Every run is recorded, including one whose plugin cannot be loaded or refuses its configuration, so an operator
/// always finds the reason in `GET /v1/runs`. Where the plugin runs follows the connector's `isolation`: in a fresh
/// `wharf worker` process (`process`, the default; see `WorkerSupervisor`), or in this process (`inprocess`).
/// Either way this process records the run: it begins it before the plugin works and finishes it afterwards.
public struct ConnectorRunner: Sendable {
    /// The deployment whose connectors are run.
    public let deployment: Deployment
    /// How workers are started, for connectors with `isolation: process`.
    public let workers: WorkerSettings

    /// A runner for `deployment`.
    public init(deployment: Deployment, workers: WorkerSettings = WorkerSettings()) {
        self.deployment = deployment
        self.workers = workers
    }

    /// Runs `ingest` for the connector called `name` on the calling thread, and returns the finished run.
    /// `onStart` is called with the run as soon as it is recorded, before the plugin works (so a caller on another
    /// thread can answer with the run's id while it goes on).
    public func ingest(
        connector name: String, trigger: RunTrigger, cancellation: CancellationFlag = CancellationFlag(),
        progress: RunProgress? = nil, onStart: ((Run) -> Void)? = nil
    ) throws -> Run {
        guard let connector = deployment.manifest.connector(named: name) else {
            let known = deployment.manifest.connectors.map(\.name)
            throw RunnerError(message: "no connector named '\(name)' in \(deployment.manifest.filePath)"
                + (known.isEmpty ? " (it has none)" : "; it has: \(known.joined(separator: ", "))"))
        }
        guard connector.enabled else {
            throw RunnerError(message: "connector '\(name)' is disabled in \(deployment.manifest.filePath) (connectors[\(connector.index)].enabled); set it to true to run it")
        }
        let store = deployment.store
        let logger = deployment.logger
        let run = try store.beginRun(connector: name, pluginID: connector.plugin, trigger: trigger)
        let fields = [("connector", name), ("plugin", connector.plugin), ("run", String(run.id))]
        logger.log(.info, "run started", fields: fields + [("trigger", trigger.rawValue), ("isolation", connector.isolation.rawValue)])
        onStart?(run)

        let runLog = RunLog()
        let outcome: RunOutcome =
            switch connector.isolation {
            case .process:
                WorkerSupervisor(
                    deployment: deployment, settings: workers, connector: connector, runID: run.id,
                    cancellation: cancellation, progress: progress, runLog: runLog
                ).run()
            case .inprocess:
                runInProcess(connector, runID: run.id, cancellation: cancellation, progress: progress, runLog: runLog)
            }
        do {
            try store.addRunLogs(runID: run.id, runLog.drain())
        } catch {
            logger.log(.error, "could not store the run's log lines", fields: fields + [("error", "\(error)")])
        }
        let counts = outcome.counts
        try store.finishRun(id: run.id, state: outcome.state, counts: counts, error: outcome.error)
        var endFields = fields + [
            ("state", outcome.state.rawValue), ("read", String(counts.read)), ("inserted", String(counts.inserted)),
            ("updated", String(counts.updated)), ("unchanged", String(counts.unchanged)),
            ("rejected", String(counts.rejected)),
        ]
        if let error = outcome.error { endFields.append(("error", error)) }
        logger.log(outcome.state == .succeeded ? .info : .error, "run finished", fields: endFields)
        return try store.run(id: run.id) ?? run
    }

    /// Asks the connector's plugin whether it accepts the connector's `config` and `mapping` (by creating and
    /// destroying an instance, nothing else), so a mapping mistake shows at `wharf manifest check` time. Returns nil
    /// when it does, else one line: `FILE: connectors[i].mapping.x: what is wrong`.
    /// Needs no database: nothing is opened or written.
    public static func checkConfiguration(
        of connector: ConnectorConfig, manifest: Manifest, plugins: PluginFolder, logger: Logger
    ) -> String? {
        let prefix = "\(manifest.filePath): connectors[\(connector.index)]"
        do {
            let plugin = try loadPlugin(connector, from: plugins)
            let instance = try createInstance(
                plugin, connector: connector, store: nil, logger: logger, baseDirectory: manifest.directory,
                cancellation: CancellationFlag())
            plugin.descriptor.pointee.destroy?(instance)
            return nil
        } catch {
            // Plugins name the place in their own terms ("mapping.records[0].sku: …"); anchor it in the manifest.
            if let detail = error.detail, detail.hasPrefix("mapping.") || detail.hasPrefix("config.") {
                return "\(prefix).\(detail)"
            }
            return "\(prefix): \(error.message)"
        }
    }

    // MARK: Not public

    /// Runs the connector's ingest on the calling thread, in this process: the in-process isolation, and what a
    /// worker does for its server.
    func runInProcess(
        _ connector: ConnectorConfig, runID: Int64, cancellation: CancellationFlag, progress: RunProgress?, runLog: RunLog
    ) -> RunOutcome {
        do {
            let counts = try perform(connector: connector, runID: runID, cancellation: cancellation, progress: progress, runLog: runLog)
            return RunOutcome(state: .succeeded, counts: counts, error: nil)
        } catch {
            return RunOutcome(state: error.cancelled ? .cancelled : .failed, counts: error.counts, error: error.message)
        }
    }

    /// A run that started and failed, with what it had done.
    struct RunFailure: Error {
        var message: String
        var counts: RunCounts
        var cancelled = false
        /// The plugin's own message, when the failure is the plugin's.
        var detail: String?
    }

    private func perform(
        connector: ConnectorConfig, runID: Int64, cancellation: CancellationFlag, progress: RunProgress?, runLog: RunLog
    ) throws(RunFailure) -> RunCounts {
        let plugin = try Self.loadPlugin(connector, from: deployment.plugins)
        if !plugin.info.capabilities.contains(.ingest), plugin.info.capabilities.contains(.export),
            let export = plugin.descriptor.pointee.export_data
        {
            return try performExport(
                plugin, export: export, connector: connector, runID: runID, cancellation: cancellation, progress: progress,
                runLog: runLog)
        }
        guard plugin.info.capabilities.contains(.ingest), let ingest = plugin.descriptor.pointee.ingest else {
            throw RunFailure(message: "plugin '\(plugin.info.id)' cannot ingest (capabilities: \(plugin.info.capabilities.names.joined(separator: ", ")))", counts: RunCounts())
        }
        let instance = try Self.createInstance(
            plugin, connector: connector, store: deployment.store, logger: deployment.logger,
            baseDirectory: deployment.manifest.directory, cancellation: cancellation, runLog: runLog)
        defer { plugin.descriptor.pointee.destroy?(instance) }

        let context = runContext(
            connector, phase: .ingest, runID: runID, cancellation: cancellation, progress: progress, runLog: runLog)
        let policy = connector.inventory
        let relative = policy.mode == .delta && policy.delta == .relative
        context.applyOptions = Store.ApplyOptions(stock: relative ? .relative : .absolute, runID: runID)
        context.decodeOptions = RecordDecodingOptions(stockQuantityIsAdjustment: relative)
        let absent: Store.AbsentStock? = policy.mode == .full ? (policy.absent == .zero ? .zero : .keep) : nil
        // A relative delta must apply again every time: no element of it is ever skipped.
        let ledger =
            relative
            ? nil
            : Store.ElementLedger(
                store: deployment.store, connector: connector.name,
                settings: Self.elementSettings(connector, plugin: plugin.info))
        context.elementLedger = ledger
        context.applyOptions.elements = ledger

        if connector.onError == .fail {
            return try performInOneTransaction(context, instance: instance, ingest: ingest, absent: absent, runID: runID)
        }
        let store = deployment.store
        do {
            if absent != nil { try store.beginSnapshot(runID: runID) }
        } catch {
            throw RunFailure(message: "could not start the inventory snapshot: \(error)", counts: context.counts)
        }
        let status = withExtendedLifetime(context) { ingest(instance, context.opaque) }
        context.addSkippedElements()
        if let ledger { warnIfTooManyDigests(ledger, context) }
        do {
            try context.flushRejects()
        } catch {
            if absent != nil { try? store.abandonSnapshot(runID: runID) }
            throw RunFailure(message: "could not store the plugin's rejects: \(error)", counts: context.counts)
        }
        if status == WHARF_OK {
            if let ledger {
                do {
                    try store.recordElements(ledger)
                } catch {
                    // Only the last element's digest is lost: it is mapped again next time.
                    deployment.logger.log(.warning, "could not record the last element digest", fields: context.logFields + [("error", "\(error)")])
                }
            }
            if let absent {
                do {
                    let zeroed = try store.finishSnapshot(runID: runID, absent: absent, elements: ledger)
                    context.counts.updated += zeroed
                    if ledger?.zeroingWithheld == true { warnZeroingWithheld(context) }
                    if zeroed > 0 {
                        deployment.logger.log(.info, "snapshot set items it did not name to zero", fields: context.logFields + [("items", String(zeroed))])
                    }
                } catch {
                    throw RunFailure(message: "could not finish the inventory snapshot: \(error)", counts: context.counts)
                }
            }
            return context.counts
        }
        // A run that did not finish is no snapshot: nothing it did not name is zeroed.
        if absent != nil { try? store.abandonSnapshot(runID: runID) }
        if status == WHARF_ERR_CANCELLED || cancellation.isCancelled {
            throw RunFailure(message: "cancelled; batches committed before the cancel are kept", counts: context.counts, cancelled: true)
        }
        throw RunFailure(message: Self.explain(status, context.errorMessage), counts: context.counts)
    }

    /// Says, in the run's log, that no element was skipped because the connector has too many to hold in memory.
    private func warnIfTooManyDigests(_ ledger: Store.ElementLedger, _ context: ConnectorContext) {
        guard let count = ledger.tooManyDigests else { return }
        let message = "no unchanged element was skipped: the connector has \(count) element digests, more than a run "
            + "holds in memory (\(ledger.maxLoadedDigests)); every element was mapped and compared"
        context.log(.warning, message)
    }

    /// Says, in the run's log, why a full snapshot zeroed nothing.
    private func warnZeroingWithheld(_ context: ConnectorContext) {
        let message = "the inventory snapshot zeroed nothing this time: while it ran, another writer (the REST API or "
            + "another connector) changed stock of items the feed repeated unchanged, so the run could not tell every "
            + "item the feed named; the next snapshot zeroes what the feed does not name"
        context.log(.warning, message)
    }

    /// The host-side settings a connector's element digests depend on (see `Store.ElementLedger`): a change to any
    /// drops them. The plugin folds its own (the mapping, its version) into each digest; the mapping and plugin are
    /// repeated here so that a plugin that forgets cannot make the host skip on stale digests.
    static func elementSettings(_ connector: ConnectorConfig, plugin: PluginInfo) -> String {
        let policy = connector.inventory
        return [
            "element-digests 1", "plugin \(plugin.id) \(plugin.version) abi \(plugin.abiMajor).\(plugin.abiMinor)",
            "inventory \(policy.mode.rawValue) \(policy.delta.rawValue) \(policy.absent.rawValue)",
            "mapping \(connector.mapping.jsonText())",
        ].joined(separator: "\n")
    }

    /// `onError: fail`: the whole run is one transaction; the first reject (or any failure) rolls everything back,
    /// cursor included, and only the rejects are kept, so the run says why.
    private func performInOneTransaction(
        _ context: ConnectorContext, instance: UnsafeMutableRawPointer?,
        ingest: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> wharf_status,
        absent: Store.AbsentStock?, runID: Int64
    ) throws(RunFailure) -> RunCounts {
        struct RolledBack: Error { var status: wharf_status }
        let store = deployment.store
        var failure: Error?
        do {
            try store.withRunTransaction { writer in
                context.runWriter = writer
                defer { context.runWriter = nil }
                if absent != nil { try writer.beginSnapshot(runID: runID) }
                let status = withExtendedLifetime(context) { ingest(instance, context.opaque) }
                context.addSkippedElements()
                if let ledger = context.elementLedger { warnIfTooManyDigests(ledger, context) }
                try context.flushRejects()
                guard status == WHARF_OK, context.failingReject == nil else {
                    if absent != nil { try? writer.abandonSnapshot(runID: runID) }
                    throw RolledBack(status: status)
                }
                if let ledger = context.elementLedger { try writer.recordElements(ledger) }
                if let absent {
                    context.counts.updated += try writer.finishSnapshot(runID: runID, absent: absent, elements: context.elementLedger)
                    if context.elementLedger?.zeroingWithheld == true { warnZeroingWithheld(context) }
                }
            }
            return context.counts
        } catch {
            failure = error
        }
        var kept = context.counts
        kept.inserted = 0
        kept.updated = 0
        kept.unchanged = 0
        try? store.addRejects(context.rejectsToKeep)
        if let failing = context.failingReject {
            throw RunFailure(message: "onError: fail: a record was rejected, so the whole run was rolled back: \(failing)", counts: kept)
        }
        if let rolledBack = failure as? RolledBack {
            if rolledBack.status == WHARF_ERR_CANCELLED || context.cancellation.isCancelled {
                throw RunFailure(message: "cancelled; onError: fail, so nothing of the run was kept", counts: kept, cancelled: true)
            }
            throw RunFailure(message: Self.explain(rolledBack.status, context.errorMessage) + "; onError: fail, so nothing of the run was kept", counts: kept)
        }
        throw RunFailure(message: "the run's transaction failed and was rolled back: \(failure.map { "\($0)" } ?? "unknown error")", counts: kept)
    }

    static func loadPlugin(_ connector: ConnectorConfig, from plugins: PluginFolder) throws(RunFailure) -> LoadedPlugin {
        guard let path = plugins.path(forID: connector.plugin) else {
            throw RunFailure(
                message: "plugin '\(connector.plugin)' is not installed in \(plugins.path); install it with `wharf plugins install PATH.so`",
                counts: RunCounts())
        }
        do {
            return try PluginLoader.load(path: path, host: HostServices.table)
        } catch {
            throw RunFailure(message: error.description, counts: RunCounts())
        }
    }

    /// The context a run's main plugin call (ingest or export) gets: the deployment's store, logger and directory,
    /// with the run's progress and log attached.
    func runContext(
        _ connector: ConnectorConfig, phase: ContextPhase, runID: Int64, cancellation: CancellationFlag,
        progress: RunProgress?, runLog: RunLog
    ) -> ConnectorContext {
        let context = ConnectorContext(
            connector: connector, phase: phase, store: deployment.store, runID: runID, logger: deployment.logger,
            cancellation: cancellation, baseDirectory: deployment.manifest.directory)
        context.progress = progress
        context.runLog = runLog
        return context
    }

    static func createInstance(
        _ plugin: LoadedPlugin, connector: ConnectorConfig, store: Store?, logger: Logger, baseDirectory: String,
        cancellation: CancellationFlag, runLog: RunLog? = nil
    ) throws(RunFailure) -> UnsafeMutableRawPointer? {
        guard let create = plugin.descriptor.pointee.create else {
            throw RunFailure(message: "plugin '\(plugin.info.id)' has no create function", counts: RunCounts())
        }
        let context = ConnectorContext(
            connector: connector, phase: .create, store: store, runID: nil, logger: logger,
            cancellation: cancellation, baseDirectory: baseDirectory)
        context.runLog = runLog
        var instance: UnsafeMutableRawPointer?
        let status = withExtendedLifetime(context) { create(HostServices.table, context.opaque, &instance) }
        guard status == WHARF_OK else {
            throw RunFailure(
                message: "connector '\(connector.name)' configuration refused by plugin '\(plugin.info.id)': "
                    + Self.explain(status, context.errorMessage),
                counts: RunCounts(), detail: context.errorMessage)
        }
        return instance
    }

    /// A status code and the plugin's message as one sentence.
    static func explain(_ status: wharf_status, _ message: String?) -> String {
        let name: String =
            switch status {
            case WHARF_ERR_INVALID: "invalid"
            case WHARF_ERR_IO: "I/O error"
            case WHARF_ERR_CANCELLED: "cancelled"
            case WHARF_ERR_UNSUPPORTED: "unsupported"
            case WHARF_ERR_REMOTE: "remote system error"
            case WHARF_ERR_TIMEOUT: "timeout"
            case WHARF_ERR_STATE: "call in the wrong state"
            default: "internal error (status \(status))"
            }
        guard let message, !message.isEmpty else { return "\(name) (the plugin gave no message)" }
        return "\(name): \(message)"
    }
}

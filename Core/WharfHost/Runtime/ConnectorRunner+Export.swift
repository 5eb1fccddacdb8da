import Foundation
import WharfABI
import WharfManifest
import WharfModel
import WharfPlugins
import WharfStore

extension ConnectorRunner {
    /// Runs an export plugin's `export_data` (a connector whose plugin exports and does not ingest). The run's
    /// parameters are the pending export request of the connector (taken here, so one request drives one run).
    /// The plugin moves its own watermark with `cursor_set` once its files are in place; the host only records.
    func performExport(
        _ plugin: LoadedPlugin, export: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> wharf_status,
        connector: ConnectorConfig, runID: Int64, cancellation: CancellationFlag, progress: RunProgress?, runLog: RunLog
    ) throws(RunFailure) -> RunCounts {
        var parameters: [String: String] = [:]
        do {
            // The exports API stores the parameters as a flat JSON object of strings.
            if let text = try deployment.store.takeExportRequest(connector: connector.name) {
                parameters = try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
            }
        } catch {
            throw RunFailure(message: "could not read the export request: \(error)", counts: RunCounts())
        }
        let instance = try Self.createInstance(
            plugin, connector: connector, store: deployment.store, logger: deployment.logger,
            baseDirectory: deployment.manifest.directory, cancellation: cancellation, runLog: runLog)
        defer { plugin.descriptor.pointee.destroy?(instance) }
        let context = runContext(
            connector, phase: .export, runID: runID, cancellation: cancellation, progress: progress, runLog: runLog)
        context.parameters = parameters
        let status = withExtendedLifetime(context) { export(instance, context.opaque) }
        if status == WHARF_OK { return context.counts }
        if status == WHARF_ERR_CANCELLED || cancellation.isCancelled {
            throw RunFailure(message: "cancelled; the watermark stays where the last complete export left it", counts: context.counts, cancelled: true)
        }
        throw RunFailure(message: Self.explain(status, context.errorMessage), counts: context.counts)
    }
}

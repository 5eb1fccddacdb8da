import Foundation
import WharfHTTP
import WharfManifest

/// The deployment's REST API on its HTTP server, configured from the manifest's `listen` and `server` settings.
public final class WharfServer: Sendable {
    /// The REST API the server answers with.
    public let api: RESTAPI
    /// Starts scheduled and requested runs.
    public let coordinator: RunCoordinator
    /// Real-time calls to connectors' plugins, on warm workers with per-call deadlines.
    public let calls: CallPool
    /// Hands placed orders to the OMS connector (nil when no connector has `config.orders`).
    public let dispatcher: OrderDispatcher?
    /// Company registrations with their real-time CRM step.
    public let registration: CompanyRegistration
    /// Retries the CRM step of companies registered while the CRM was unavailable.
    public let crmRetrier: CRMRetrier
    private let http: HTTPServer
    private let deployment: Deployment

    /// A server for `deployment`; `port` overrides the manifest's port (0 picks a free one, for tests). Runs of
    /// connectors with `isolation: process` execute in `wharf worker` processes started as `workers` says, so a
    /// plugin that crashes or hangs fails its run while the REST API keeps answering.
    public init(deployment: Deployment, port: Int? = nil, workers: WorkerSettings = WorkerSettings()) throws {
        self.deployment = deployment
        coordinator = try RunCoordinator(deployment: deployment, workers: workers)
        let calls = CallPool(deployment: deployment, workers: workers)
        self.calls = calls
        let outbox = OutboxSignal()
        dispatcher = OrderDispatchSettings.find(in: deployment.manifest).map { settings in
            OrderDispatcher(
                store: deployment.store, settings: settings, transport: PluginOutboxTransport(calls: calls, settings: settings),
                signal: outbox, logger: deployment.logger)
        }
        registration = CompanyRegistration(deployment: deployment, calls: calls)
        crmRetrier = CRMRetrier(registration: registration)
        let api = RESTAPI(deployment: deployment, coordinator: coordinator, outbox: outbox, registration: registration)
        self.api = api
        let manifest = deployment.manifest
        var configuration = HTTPServerConfiguration(host: manifest.listen.host, port: port ?? manifest.listen.port)
        let settings = manifest.server
        configuration.maxConnections = settings.maxConnections
        configuration.maxBodyBytes = settings.maxBodyBytes
        configuration.headerTimeout = settings.headerTimeout
        configuration.idleTimeout = settings.idleTimeout
        http = HTTPServer(configuration: configuration) { request in api.respond(to: request) }
        let logger = deployment.logger
        if logger.level <= .debug {
            http.onRequestCompleted = { request, response, duration in
                logger.log(.debug, "request", fields: [
                    ("method", request.method.rawValue), ("path", request.path), ("status", String(response.status)),
                    ("ms", String(format: "%.3f", Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000)),
                ])
            }
        }
    }

    /// Starts listening; throws when the address cannot be used.
    public func start() throws {
        // A run a stopped server left 'running' is failed now, never left running forever.
        for id in try deployment.store.failAbandonedRuns() {
            deployment.logger.log(.warning, "run was left running by a process that stopped; marked failed", fields: [("run", String(id))])
        }
        try http.start()
        coordinator.start()
        dispatcher?.start()
        crmRetrier.start()
        deployment.logger.log(.info, "serving", fields: [
            ("address", "\(deployment.manifest.listen.host):\(http.localPort)"), ("manifest", deployment.manifest.filePath),
        ])
    }

    /// The port the server listens on.
    public var port: Int { http.localPort }

    /// Stops accepting, lets requests in flight finish, cancels runs in progress (they stop at their next batch
    /// boundary and keep what they committed; workers that do not stop are killed after their grace period), stops
    /// the order dispatcher after its call in flight, stops the warm call workers, and closes.
    public func shutdown() {
        http.shutdown()
        dispatcher?.stop()
        coordinator.stop()
        crmRetrier.stop()
        calls.shutdown()
    }
}

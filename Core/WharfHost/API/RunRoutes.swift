import Foundation
import WharfAuth
import WharfHTTP
import WharfModel
import WharfSchedule
import WharfStore

/// Routes that start and cancel runs, and the operator's one-look status page.
enum RunRoutes {
    /// Starts a run of `connector` now and answers 202 with the run and its `Location`; 404 for an unknown
    /// connector, 409 when it is running or disabled, 503 while shutting down. `onRefused` runs before a refusal
    /// is thrown (to take back what the caller prepared for the run).
    static func startRun(
        _ connector: String, coordinator: RunCoordinator, onRefused: () -> Void = {}
    ) throws -> HTTPResponse {
        let run: Run
        do throws(RunRequestError) {
            run = try coordinator.trigger(connector: connector, trigger: .api)
        } catch {
            onRefused()
            switch error.kind {
            case .unknownConnector: throw Problems.notFound(error.message)
            case .shuttingDown:
                throw ProblemDetails(type: Problems.base + "unavailable", title: "Service Unavailable", status: 503, detail: error.message, instance: nil)
            default:
                throw Problems.conflict(error.message)
            }
        }
        var writer = JSONWriter()
        Encoding.run(run, into: &writer)
        var response = HTTPResponse.json(202, writer.bytes)
        response.headers.replaceOrAdd(name: "Location", value: "/v1/runs/\(run.id)")
        return response
    }

    static func routes(deployment: Deployment, coordinator: RunCoordinator) -> [APIRoute] {
        let store = deployment.store
        return [
            APIRoute(
                method: .POST, path: "/v1/connectors/{name}/runs", scope: .runsWrite, operationID: "startRun",
                summary: "Starts a run of the connector now; answers as soon as it is recorded.", tag: "Operations",
                parameters: [.path("name", "The connector's name.")], requestSchema: nil,
                responses: [
                    APIResponse(status: 202, description: "Started; follow it at Location", schema: "Run"),
                    .problem(404, "No such connector"), .problem(409, "It is already running or disabled"),
                    .problem(503, "The server is shutting down"),
                ] + APIResponse.authProblems
            ) { _, parameters in
                try startRun(parameters["name"] ?? "", coordinator: coordinator)
            },
            APIRoute(
                method: .POST, path: "/v1/runs/{id}/cancel", scope: .runsWrite, operationID: "cancelRun",
                summary: "Stops a running run at its next batch boundary; what it committed is kept.", tag: "Operations",
                parameters: [.path("id", "The run's id.", type: "integer")], requestSchema: nil,
                responses: [
                    APIResponse(status: 202, description: "Cancellation requested", schema: "Run"),
                    .problem(404, "No such run"), .problem(409, "The run is not running"),
                ] + APIResponse.authProblems
            ) { _, parameters in
                guard let id = Int64(parameters["id"] ?? ""), let run = try store.run(id: id) else {
                    throw Problems.notFound("no run with id '\(parameters["id"] ?? "")'")
                }
                do {
                    try coordinator.cancel(runID: id)
                } catch {
                    throw Problems.conflict("run \(id) is \(run.state.rawValue), not running in this server")
                }
                var writer = JSONWriter()
                Encoding.run(run, into: &writer)
                return HTTPResponse.json(202, writer.bytes)
            },
            APIRoute(
                method: .GET, path: "/v1/status", scope: .connectorsRead, operationID: "getStatus",
                summary: "Per connector: last run, last success, next run, consecutive failures and whether it is overdue.",
                tag: "Operations", parameters: [], requestSchema: nil, responses: [.ok("Status")] + APIResponse.authProblems
            ) { _, _ in
                try status(deployment: deployment, coordinator: coordinator, now: Date())
            },
        ]
    }

    /// A scheduled connector is overdue when its last success is older than 1.5 of its schedule's interval plus
    /// five minutes (for a daily inventory snapshot: 36 h 5 min), or when it has runs but none ever succeeded and
    /// the first is that old.
    static func status(deployment: Deployment, coordinator: RunCoordinator, now: Date) throws -> HTTPResponse {
        let upcoming = Dictionary(coordinator.scheduler.nextRuns().map { ($0.jobID, $0) }, uniquingKeysWith: { a, _ in a })
        let running = coordinator.running
        var writer = JSONWriter(capacity: 1024)
        writer.beginObject()
        writer.field("now", Timestamp(now).rfc3339)
        writer.key("connectors")
        writer.beginArray()
        for connector in deployment.manifest.connectors {
            let runs = try deployment.store.runs(connector: connector.name, limit: 100, beforeID: nil)
            let lastSuccess = runs.first { $0.state == .succeeded }
            let failures = runs.prefix { $0.state == .failed || $0.state == .cancelled }.count
            var overdue = false
            var interval: TimeInterval?
            if let timing = connector.timing, connector.enabled {
                let slots = timing.nextRuns(after: now, count: 2)
                if slots.count == 2 { interval = slots[1].timeIntervalSince(slots[0]) }
                if let interval {
                    let limit = interval * 1.5 + 300
                    if let lastSuccess {
                        overdue = now.timeIntervalSince(lastSuccess.startedAt.date) > limit
                    } else if let first = runs.last {
                        overdue = now.timeIntervalSince(first.startedAt.date) > limit
                    }
                }
            }
            writer.beginObject()
            writer.field("name", connector.name)
            writer.field("enabled", connector.enabled)
            writer.field("schedule", connector.schedule)
            writer.field("running", running.contains(connector.name))
            writer.key("lastRun")
            if let run = runs.first { Encoding.run(run, into: &writer) } else { writer.null() }
            writer.field("lastSuccessAt", lastSuccess?.startedAt.rfc3339)
            writer.field("nextRunAt", upcoming[connector.name]?.next.map { Timestamp($0).rfc3339 })
            writer.field("consecutiveFailures", Int64(failures))
            writer.field("expectedIntervalSeconds", interval.map { Int64($0) })
            writer.field("overdue", overdue)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return HTTPResponse.json(200, writer.bytes)
    }
}

import Foundation
import WharfModel
import WharfSchedule
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Scheduled, requested and cancelled runs, driven by a manual clock (no sleeping).
final class RunCoordinatorTests: XCTestCase {
    static let stock = "Item;Warehouse;Qty\nA-1;BER;10\nB-2;BER;4\n"

    func makeEnv(schedule: String, catchUp: Bool = false) throws -> TestDeployment {
        try TestDeployment(connectors: """
            [ { name: "stock", plugin: "stock-csv", schedule: { \(schedule), catchUp: \(catchUp) },
                config: { path: "stock.csv", delimiter: ";", force: true }, mapping: { sku: "Item", source: "Warehouse", quantity: "Qty" } },
              { name: "broken", plugin: "stock-csv", schedule: "0 3 * * *", config: { path: "missing.csv" } } ]
            """, files: ["stock.csv": Self.stock])
    }

    func date(_ text: String) -> Date { Timestamp(rfc3339: text)!.date }

    func testAScheduledRunStartsAtItsSlotAndNotBefore() throws {
        let env = try makeEnv(schedule: #"every: "1h""#)
        let clock = ManualClock(date("2026-11-23T10:59:59Z"))
        let coordinator = try RunCoordinator(deployment: env.deployment, clock: clock)
        let next = coordinator.tick()
        XCTAssertEqual(next, date("2026-11-23T11:00:00Z"))
        coordinator.waitUntilIdle()
        XCTAssertEqual(try env.deployment.store.runs(connector: "stock", limit: 10, beforeID: nil).count, 0)

        clock.set(date("2026-11-23T11:00:00Z"))
        coordinator.tick()
        coordinator.waitUntilIdle()
        let runs = try env.deployment.store.runs(connector: "stock", limit: 10, beforeID: nil)
        XCTAssertEqual(runs.map(\.trigger), [.scheduled])
        XCTAssertEqual(runs.first?.state, .succeeded)
        XCTAssertEqual(try env.deployment.store.inventory(sku: "A-1")?.totalQuantity, 10)

        coordinator.tick()
        coordinator.waitUntilIdle()
        XCTAssertEqual(try env.deployment.store.runs(connector: "stock", limit: 10, beforeID: nil).count, 1, "one run per slot")
    }

    func testMissedRunsCatchUpOnceAtStartUpOnlyWhenAskedTo() throws {
        for catchUp in [true, false] {
            let env = try makeEnv(schedule: #"cron: "0 3 * * *", timeZone: "Europe/Berlin""#, catchUp: catchUp)
            _ = try env.run("stock")  // the last run: now; then Wharf is "down" for three days
            let clock = ManualClock(Date().addingTimeInterval(3 * 86_400))
            let coordinator = try RunCoordinator(deployment: env.deployment, clock: clock)
            coordinator.tick()
            coordinator.waitUntilIdle()
            coordinator.tick()
            coordinator.waitUntilIdle()
            let scheduled = try env.deployment.store.runs(connector: "stock", limit: 10, beforeID: nil).filter { $0.trigger == .scheduled }
            XCTAssertEqual(scheduled.count, catchUp ? 1 : 0, "catchUp \(catchUp): one run for all missed slots, or none")
        }
    }

    func testAConnectorNeverRunsTwiceAtOnce() throws {
        let env = try makeEnv(schedule: #"every: "1h""#)
        let coordinator = try RunCoordinator(deployment: env.deployment, clock: ManualClock(Date()))
        XCTAssertTrue(coordinator.scheduler.markStarted("stock"))
        XCTAssertThrowsError(try coordinator.trigger(connector: "stock", trigger: .api)) { error in
            XCTAssertEqual((error as? RunRequestError)?.kind, .alreadyRunning)
        }
        coordinator.scheduler.markFinished("stock")
        let run = try coordinator.trigger(connector: "stock", trigger: .api)
        XCTAssertEqual(run.trigger, .api)
        coordinator.waitUntilIdle()
        XCTAssertEqual(try env.deployment.store.run(id: run.id)?.state, .succeeded)
        XCTAssertThrowsError(try coordinator.trigger(connector: "nobody", trigger: .api))
    }

    func testRunsStartCancelAndStatusOverHTTP() throws {
        let env = try makeEnv(schedule: #"every: "1h""#)
        _ = try env.run("broken")
        _ = try env.run("broken")
        let server = try WharfServer(deployment: env.deployment, port: 0)
        try server.start()
        defer { server.shutdown() }
        let client = try TestHTTPClient(port: server.port)
        defer { client.close() }
        let headers = [("Authorization", "Bearer \(try env.key([.runsWrite, .runsRead, .connectorsRead]))")]

        let started = try client.send("POST", "/v1/connectors/stock/runs", headers: headers)
        XCTAssertEqual(started.status, 202, started.bodyText)
        let location = try XCTUnwrap(started.header("Location"))
        XCTAssertTrue(location.hasPrefix("/v1/runs/"))
        server.coordinator.waitUntilIdle()
        let run = try client.send("GET", location, headers: headers).jsonObject()
        XCTAssertEqual(run["state"] as? String, "succeeded")
        XCTAssertEqual(run["trigger"] as? String, "api")

        let cancel = try client.send("POST", location + "/cancel", headers: headers)
        XCTAssertEqual(cancel.status, 409, "a finished run cannot be cancelled")
        XCTAssertEqual(try client.send("POST", "/v1/runs/999/cancel", headers: headers).status, 404)
        XCTAssertEqual(try client.send("POST", "/v1/connectors/nobody/runs", headers: headers).status, 404)

        let status = try client.send("GET", "/v1/status", headers: headers).jsonObject()
        let connectors = try XCTUnwrap(status["connectors"] as? [[String: Any]])
        let stock = try XCTUnwrap(connectors.first { $0["name"] as? String == "stock" })
        XCTAssertNotNil(stock["lastSuccessAt"] as? String)
        XCTAssertEqual(stock["consecutiveFailures"] as? Int, 0)
        XCTAssertEqual(stock["expectedIntervalSeconds"] as? Int, 3600)
        XCTAssertEqual(stock["overdue"] as? Bool, false)
        XCTAssertNotNil(stock["nextRunAt"] as? String)
        let broken = try XCTUnwrap(connectors.first { $0["name"] as? String == "broken" })
        XCTAssertEqual(broken["consecutiveFailures"] as? Int, 2)
        XCTAssertTrue(broken["lastSuccessAt"] is NSNull)
    }

    func testStatusSaysOverdueWhenTheLastSuccessIsTooOld() throws {
        let env = try makeEnv(schedule: #"cron: "0 3 * * *""#)
        _ = try env.run("stock")
        let coordinator = try RunCoordinator(deployment: env.deployment, clock: ManualClock(Date()))
        let fresh = try RunRoutes.status(deployment: env.deployment, coordinator: coordinator, now: Date())
        let later = try RunRoutes.status(deployment: env.deployment, coordinator: coordinator, now: Date().addingTimeInterval(37 * 3600))
        func overdue(_ response: HTTPResponseLike) throws -> Bool? {
            let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            return ((object?["connectors"] as? [[String: Any]])?.first { $0["name"] as? String == "stock" })?["overdue"] as? Bool
        }
        XCTAssertEqual(try overdue(fresh), false)
        XCTAssertEqual(try overdue(later), true, "a daily job without success for 37 h is overdue")
    }
}

import WharfHTTP
typealias HTTPResponseLike = HTTPResponse

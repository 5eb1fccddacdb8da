import Foundation
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfHost

/// The manifest's inventory policy and onError, through the real stock-csv plugin and the real store.
final class IngestPolicyTests: XCTestCase {
    func makeEnv(_ connectors: String) throws -> TestDeployment {
        try TestDeployment(connectors: connectors)
    }

    func write(_ env: TestDeployment, _ name: String, _ rows: [String]) {
        env.folder.write(name, (["Item;Warehouse;Qty"] + rows).joined(separator: "\n") + "\n")
    }

    func quantity(_ env: TestDeployment, _ sku: String, _ source: String) throws -> Int64? {
        try env.deployment.store.inventory(sku: sku)?.items.first { $0.sourceCode == source }?.quantity
    }

    static func connector(_ name: String, _ file: String, _ extra: String) -> String {
        """
        { name: "\(name)", plugin: "stock-csv", \(extra),
          config: { path: "\(file)", delimiter: ";", force: true }, mapping: { sku: "Item", source: "Warehouse", quantity: "Qty" } }
        """
    }

    func testAFullSnapshotZeroesWhatItsSourcesNoLongerNameAndLeavesOtherSourcesAlone() throws {
        let env = try makeEnv("[" + [
            Self.connector("daily", "daily.csv", #"inventory: { mode: "full", absent: "zero" }"#),
            Self.connector("daily-keep", "daily.csv", #"inventory: { mode: "full", absent: "keep" }"#),
            Self.connector("other", "other.csv", "enabled: true"),
        ].joined(separator: ",") + "]")
        write(env, "other.csv", ["A;OSL;9"])
        XCTAssertEqual(try env.run("other").state, .succeeded)
        write(env, "daily.csv", ["A;BER;5", "B;BER;6", "C;HAM;7"])
        XCTAssertEqual(try env.run("daily").state, .succeeded)

        write(env, "daily.csv", ["A;BER;4", "C;HAM;7"])  // B at BER is gone from the snapshot
        let run = try env.run("daily")
        XCTAssertEqual(run.state, .succeeded)
        XCTAssertEqual(try quantity(env, "B", "BER"), 0, "absent from its source's snapshot: zero")
        XCTAssertEqual(try env.deployment.store.inventory(sku: "B")?.items.first?.status, .outOfStock)
        XCTAssertEqual(try quantity(env, "A", "BER"), 4)
        XCTAssertEqual(try quantity(env, "A", "OSL"), 9, "a source the snapshot does not name is untouched")
        XCTAssertEqual(run.counts.updated, 2, "A changed, B zeroed")
        XCTAssertEqual(run.counts.unchanged, 1)

        write(env, "daily.csv", ["C;HAM;7"])
        XCTAssertEqual(try env.run("daily-keep").state, .succeeded)
        XCTAssertEqual(try quantity(env, "A", "BER"), 4, "absent: keep leaves it")
    }

    func testAFailedSnapshotZeroesNothing() throws {
        let env = try makeEnv("[" + Self.connector("daily", "daily.csv", #"inventory: { mode: "full" }"#) + "]")
        write(env, "daily.csv", ["A;BER;5", "B;BER;6"])
        XCTAssertEqual(try env.run("daily").state, .succeeded)
        write(env, "daily.csv", ["A;BER;5"])
        let cancelled = CancellationFlag()
        cancelled.cancel()  // the run stops before its first batch: had it finished the snapshot, A and B would be 0
        let run = try ConnectorRunner(deployment: env.deployment).ingest(connector: "daily", trigger: .manual, cancellation: cancelled)
        XCTAssertEqual(run.state, .cancelled)
        XCTAssertEqual(try quantity(env, "B", "BER"), 6)
        XCTAssertEqual(try quantity(env, "A", "BER"), 5)
    }

    func testRelativeDeltasAdjustAndNeverGoBelowZero() throws {
        let env = try makeEnv("[" + [
            Self.connector("snapshot", "snapshot.csv", "enabled: true"),
            Self.connector("moves", "moves.csv", #"inventory: { mode: "delta", delta: "relative" }"#),
        ].joined(separator: ",") + "]")
        write(env, "snapshot.csv", ["A;BER;10", "B;BER;2"])
        XCTAssertEqual(try env.run("snapshot").state, .succeeded)
        write(env, "moves.csv", ["A;BER;-3", "B;BER;-5", "C;BER;+4"])
        let run = try env.run("moves")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(try quantity(env, "A", "BER"), 7)
        XCTAssertEqual(try quantity(env, "B", "BER"), 2, "an adjustment below zero is rejected")
        XCTAssertEqual(try quantity(env, "C", "BER"), 4)
        XCTAssertEqual(run.counts.rejected, 1)
        let reject = try XCTUnwrap(try env.deployment.store.rejects(runID: run.id, limit: 5, afterID: nil).first)
        XCTAssertEqual(reject.field, "quantity")
        XCTAssertEqual(reject.location.line, 3, "the store's reject keeps the record's location")
    }

    func testOnErrorFailRollsTheWholeRunBackAndKeepsTheReason() throws {
        let env = try makeEnv("[" + Self.connector("strict", "strict.csv", #"onError: "fail", batch: 0"#.replacingOccurrences(of: ", batch: 0", with: "")) + "]")
        write(env, "strict.csv", ["A;BER;1", "B;BER;2", "C;BER;minus", "D;BER;4"])
        let run = try env.run("strict")
        XCTAssertEqual(run.state, .failed)
        XCTAssertTrue(run.error?.contains("rolled back") == true, run.error ?? "")
        XCTAssertTrue(run.error?.contains("line 4") == true, run.error ?? "")
        XCTAssertNil(try env.deployment.store.inventory(sku: "A"), "nothing of the run is kept")
        XCTAssertNil(try env.deployment.store.cursor(connector: "strict"), "the cursor did not move")
        XCTAssertEqual(try env.deployment.store.rejects(runID: run.id, limit: 5, afterID: nil).map(\.location.line), [4])

        write(env, "strict.csv", ["A;BER;1", "B;BER;2"])
        let clean = try env.run("strict")
        XCTAssertEqual(clean.state, .succeeded)
        XCTAssertEqual(try quantity(env, "B", "BER"), 2)
    }
}

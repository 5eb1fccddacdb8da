import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

final class RunsAndKeysTests: StoreTestCase {
    func testRunLifecycle() throws {
        let run = try store.beginRun(connector: "erp", pluginID: "stock-csv", trigger: .scheduled)
        XCTAssertGreaterThan(run.id, 0)
        XCTAssertEqual(run.state, .running)
        XCTAssertNil(run.finishedAt)
        XCTAssertEqual(try store.run(id: run.id), run)

        let counts = RunCounts(read: 10, inserted: 5, updated: 2, unchanged: 1, rejected: 2)
        try store.finishRun(id: run.id, state: .failed, counts: counts, error: "the feed ended early")
        let finished = try XCTUnwrap(try store.run(id: run.id))
        XCTAssertEqual(finished.state, .failed)
        XCTAssertEqual(finished.counts, counts)
        XCTAssertEqual(finished.error, "the feed ended early")
        XCTAssertEqual(finished.trigger, .scheduled)
        XCTAssertEqual(finished.pluginID, "stock-csv")
        XCTAssertGreaterThanOrEqual(finished.finishedAt!, finished.startedAt)

        XCTAssertNil(try store.run(id: 424242))
        let error = storeError { try store.finishRun(id: 424242, state: .succeeded, counts: RunCounts(), error: nil) }
        XCTAssertEqual(error?.code, .notFound)
        XCTAssertEqual(error?.message, "cannot finish run 424242: database \(store.path) has no such run")
    }

    func testRunListingNewestFirstWithFilterAndPaging() throws {
        var ids: [String: [Int64]] = [:]
        for i in 0..<7 {
            let connector = i % 2 == 0 ? "erp" : "pim"
            ids[connector, default: []].append(try store.beginRun(connector: connector, pluginID: "p", trigger: .manual).id)
        }
        let all = try store.runs(connector: nil, limit: 100, beforeID: nil).map(\.id)
        XCTAssertEqual(all, (ids["erp"]! + ids["pim"]!).sorted(by: >))
        XCTAssertEqual(try store.runs(connector: "erp", limit: 100, beforeID: nil).map(\.id), ids["erp"]!.reversed())
        XCTAssertEqual(try store.runs(connector: "none", limit: 100, beforeID: nil), [])
        // Paging with beforeID.
        var paged: [Int64] = []
        var before: Int64?
        while true {
            let page = try store.runs(connector: "erp", limit: 3, beforeID: before)
            paged += page.map(\.id)
            guard page.count == 3 else { break }
            before = page.last?.id
        }
        XCTAssertEqual(paged, ids["erp"]!.reversed())
        XCTAssertEqual(storeError { try store.runs(connector: nil, limit: 0, beforeID: nil) }?.code, .invalidArgument)
    }

    func testRejectsPagingAndLocation() throws {
        let run = try store.beginRun(connector: "erp", pluginID: "p", trigger: .api)
        let other = try store.beginRun(connector: "erp", pluginID: "p", trigger: .api)
        var rejects: [NewReject] = []
        for i in 1...25 {
            rejects.append(
                NewReject(
                    runID: run.id, connector: "erp",
                    location: RecordLocation(source: "feed.csv", line: Int64(i), column: 3, recordNumber: Int64(i - 1)),
                    entity: "stock", field: "quantity", reason: "reason \(i)", raw: "line \(i)"))
        }
        try store.addRejects(rejects)
        try store.addRejects([NewReject(runID: other.id, connector: "erp", reason: "other run")])
        try store.addRejects([])

        var reasons: [String] = []
        var after: Int64?
        while true {
            let page = try store.rejects(runID: run.id, limit: 10, afterID: after)
            reasons += page.map(\.reason)
            guard page.count == 10 else { break }
            after = page.last?.id
        }
        XCTAssertEqual(reasons, (1...25).map { "reason \($0)" })

        let first = try XCTUnwrap(try store.rejects(runID: run.id, limit: 1, afterID: nil).first)
        XCTAssertEqual(first.runID, run.id)
        XCTAssertEqual(first.connector, "erp")
        XCTAssertEqual(first.location, RecordLocation(source: "feed.csv", line: 1, column: 3, recordNumber: 0))
        XCTAssertEqual(first.entity, "stock")
        XCTAssertEqual(first.field, "quantity")
        XCTAssertEqual(first.raw, "line 1")
        let bare = try XCTUnwrap(try store.rejects(runID: other.id, limit: 5, afterID: nil).first)
        XCTAssertEqual(bare.location, RecordLocation())
        XCTAssertNil(bare.entity)
        XCTAssertNil(bare.field)
        XCTAssertNil(bare.raw)
        XCTAssertEqual(storeError { try store.rejects(runID: run.id, limit: 1001, afterID: nil) }?.code, .invalidArgument)
        // A reject for a run that does not exist is refused, and none of its batch is kept.
        let error = storeError {
            try store.addRejects([
                NewReject(runID: run.id, connector: "erp", reason: "kept?"),
                NewReject(runID: 999, connector: "erp", reason: "x"),
            ])
        }
        XCTAssertTrue(error?.message.contains("FOREIGN KEY constraint failed") ?? false)
        XCTAssertEqual(try store.rejects(runID: run.id, limit: 100, afterID: nil).count, 25)
    }

    func testRawIsCutTo1KiBWithoutSplittingCharacters() throws {
        let run = try store.beginRun(connector: "erp", pluginID: "p", trigger: .manual)
        let ascii = String(repeating: "a", count: 5000)
        let multibyte = String(repeating: "a", count: 1023) + "é" + "tail"  // "é" is bytes 1024-1025
        let exact = String(repeating: "b", count: 1024)
        let emoji = String(repeating: "😀", count: 300)  // 4 bytes each: 256 fit
        try store.addRejects([ascii, multibyte, exact, emoji].map { NewReject(runID: run.id, connector: "c", reason: "r", raw: $0) })
        let raws = try store.rejects(runID: run.id, limit: 10, afterID: nil).map { $0.raw ?? "" }
        XCTAssertEqual(raws[0], String(repeating: "a", count: 1024))
        XCTAssertEqual(raws[1], String(repeating: "a", count: 1023))
        XCTAssertEqual(raws[2], exact)
        XCTAssertEqual(raws[3], String(repeating: "😀", count: 256))
        XCTAssertTrue(raws.allSatisfy { $0.utf8.count <= 1024 })
    }

    func testAPIKeys() throws {
        let created = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)
        let key = APIKeyRecord(
            id: "k3f9a1c2b", name: "storefront-eu", scopes: ["catalog:read", "inventory:read"],
            secretHash: (0..<32).map { UInt8($0 * 7 % 256) }, createdAt: created)
        try store.insertAPIKey(key)
        XCTAssertEqual(try store.apiKey(id: "k3f9a1c2b"), key)
        XCTAssertNil(try store.apiKey(id: "nope"))

        let duplicate = storeError { try store.insertAPIKey(key) }
        XCTAssertEqual(duplicate?.code, .conflict)
        XCTAssertTrue(duplicate?.message.contains("k3f9a1c2b") ?? false)

        let second = APIKeyRecord(
            id: "k2", name: "no scopes", scopes: [], secretHash: [], createdAt: Timestamp(millisecondsSinceEpoch: 1))
        try store.insertAPIKey(second)
        XCTAssertEqual(try store.apiKeys(), [second, key])

        XCTAssertTrue(try store.revokeAPIKey(id: "k3f9a1c2b"))
        let revokedAt = try XCTUnwrap(try store.apiKey(id: "k3f9a1c2b")?.revokedAt)
        XCTAssertGreaterThan(revokedAt, created)
        try sql("UPDATE api_keys SET revoked_at = 42 WHERE id = 'k3f9a1c2b'")
        XCTAssertTrue(try store.revokeAPIKey(id: "k3f9a1c2b"))  // again: keeps the first time
        XCTAssertEqual(try store.apiKey(id: "k3f9a1c2b")?.revokedAt, Timestamp(millisecondsSinceEpoch: 42))
        XCTAssertFalse(try store.revokeAPIKey(id: "unknown"))
        XCTAssertNil(try store.apiKey(id: "k2")?.revokedAt)
    }
}

/// Runs left 'running' by a process that died are found and marked failed.
final class AbandonedRunTests: StoreTestCase {
    func testRunsOfDeadProcessesAreFailedAndLiveOnesLeftAlone() throws {
        let dead = try store.beginRun(connector: "erp", pluginID: "p", trigger: .scheduled)
        let live = try store.beginRun(connector: "crm", pluginID: "p", trigger: .scheduled)
        let done = try store.beginRun(connector: "pim", pluginID: "p", trigger: .manual)
        try store.finishRun(id: done.id, state: .succeeded, counts: RunCounts(), error: nil)
        try sql("UPDATE runs SET runner_pid = 999999 WHERE id = \(dead.id)")
        try sql("UPDATE runs SET runner_pid = 4242 WHERE id = \(live.id)")
        let failed = try store.failAbandonedRuns { pid in pid == 4242 }
        XCTAssertEqual(failed, [dead.id])
        XCTAssertEqual(try store.run(id: dead.id)?.state, .failed)
        XCTAssertTrue(try store.run(id: dead.id)?.error?.contains("999999") == true)
        XCTAssertEqual(try store.run(id: live.id)?.state, .running)
        XCTAssertEqual(try store.run(id: done.id)?.state, .succeeded)
        XCTAssertEqual(try store.failAbandonedRuns { _ in false }, [live.id])
    }

    func testRunsOfAnotherMachineAreLeftAlone() throws {
        let remote = try store.beginRun(connector: "erp", pluginID: "p", trigger: .scheduled)
        try sql("UPDATE runs SET runner_host = 'elsewhere', runner_pid = 1 WHERE id = \(remote.id)")
        XCTAssertEqual(try store.failAbandonedRuns { _ in false }, [])
        XCTAssertFalse(Store.processIsAlive(getpid()), "our own pid with no run in memory means a restart")
    }
}

import Foundation
import CSQLite
import WharfModel

extension Store {
    /// Records the start of a run (state `running`, started now) and returns it with its new id.
    public func beginRun(connector: String, pluginID: String, trigger: RunTrigger) throws(StoreError) -> Run {
        let now = Timestamp.now()
        return try write("start a run of connector '\(connector)'") { db in
            let st = try db.statement(
                """
                INSERT INTO runs (connector, plugin_id, trigger_kind, state, started_at, runner_pid, runner_host)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """)
            st.bind(1, connector)
            st.bind(2, pluginID)
            st.bind(3, trigger.rawValue)
            st.bind(4, RunState.running.rawValue)
            st.bind(5, now.millisecondsSinceEpoch)
            st.bind(6, Int64(getpid()))
            st.bind(7, Store.hostName)
            try st.run()
            return Run(
                id: db.lastInsertRowID, connector: connector, pluginID: pluginID, trigger: trigger, state: .running,
                startedAt: now)
        }
    }

    /// Marks failed every run still 'running' whose process is gone: started on this machine by a process that no
    /// longer exists (`isAlive` answers for a pid; the default asks the kernel), or by this very process before it
    /// restarted. Returns their ids. Runs of live processes, and of other machines, are left alone.
    public func failAbandonedRuns(isAlive: (Int32) -> Bool = Store.processIsAlive) throws(StoreError) -> [Int64] {
        let candidates: [(id: Int64, pid: Int64?, host: String?)] = try read("find runs left running") { db in
            let st = try db.statement("SELECT id, runner_pid, runner_host FROM runs WHERE state = 'running'")
            var rows: [(id: Int64, pid: Int64?, host: String?)] = []
            while try st.step() { rows.append((st.int64(0), st.optionalInt64(1), st.optionalText(2))) }
            return rows
        }
        let abandoned = candidates.filter { run in
            guard run.host == nil || run.host == Store.hostName else { return false }
            guard let pid = run.pid else { return true }  // from before runs recorded their process
            return !isAlive(Int32(truncatingIfNeeded: pid))
        }
        for run in abandoned {
            let reason = "the process running it (pid \(run.pid.map(String.init) ?? "unknown")) stopped before the run ended; batches committed before that are kept"
            try finishRun(id: run.id, state: .failed, counts: try self.run(id: run.id)?.counts ?? RunCounts(), error: reason)
        }
        return abandoned.map(\.id)
    }

    /// Whether a process with `pid` exists on this machine (signal 0 probes without signalling).
    public static func processIsAlive(_ pid: Int32) -> Bool {
        if pid == getpid() { return false }  // a run of ours that is not in memory is from before a restart
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// This machine's name, recorded with each run.
    static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// Records the end of run `id`: its final state, counts and error (for failed runs). Finishing a run that does
    /// not exist fails with `.notFound`.
    public func finishRun(id: Int64, state: RunState, counts: RunCounts, error: String?) throws(StoreError) {
        let now = Timestamp.now().millisecondsSinceEpoch
        let found = try write("finish run \(id)") { db in
            let st = try db.statement(
                """
                UPDATE runs SET state = ?2, finished_at = ?3, read_count = ?4, inserted_count = ?5, updated_count = ?6,
                    unchanged_count = ?7, rejected_count = ?8, error = ?9
                WHERE id = ?1
                """)
            st.bind(1, id)
            st.bind(2, state.rawValue)
            st.bind(3, now)
            st.bind(4, counts.read)
            st.bind(5, counts.inserted)
            st.bind(6, counts.updated)
            st.bind(7, counts.unchanged)
            st.bind(8, counts.rejected)
            st.bind(9, error)
            try st.run()
            return db.changes > 0
        }
        if !found {
            throw StoreError(code: .notFound, message: "cannot finish run \(id): database \(path) has no such run")
        }
    }

    /// The run with `id`, or nil.
    public func run(id: Int64) throws(StoreError) -> Run? {
        try read("read run \(id)") { db in
            let st = try db.statement("SELECT \(Store.runColumns) FROM runs WHERE id = ?1")
            defer { st.reset() }
            st.bind(1, id)
            return try st.step() ? Store.run(from: st) : nil
        }
    }

    /// Runs, newest first: of one connector or of all (`connector` nil), with ids below `beforeID` when given
    /// (pass the last id of the previous page), at most `limit` (1...1000).
    public func runs(connector: String?, limit: Int, beforeID: Int64?) throws(StoreError) -> [Run] {
        guard (1...1000).contains(limit) else {
            throw StoreError(code: .invalidArgument, message: "limit must be 1 to 1000, got \(limit)")
        }
        let sql = "SELECT \(Store.runColumns) FROM runs WHERE "
            + (connector == nil ? "" : "connector = ?3 AND ") + "id < ?1 ORDER BY id DESC LIMIT ?2"
        return try read("list runs") { db in
            let st = try db.statement(sql)
            defer { st.reset() }
            st.bind(1, beforeID ?? Int64.max)
            st.bind(2, Int64(limit))
            if let connector { st.bind(3, connector) }
            var runs: [Run] = []
            while try st.step() { runs.append(Store.run(from: st)) }
            return runs
        }
    }

    /// Stores rejects in one transaction (raw excerpts cut to 1024 bytes). Each must name an existing run.
    public func addRejects(_ rejects: [NewReject]) throws(StoreError) {
        guard !rejects.isEmpty else { return }
        let now = Timestamp.now().millisecondsSinceEpoch
        try write("store \(rejects.count) rejects") { db in
            try db.transaction {
                for reject in rejects { try Store.insertReject(db, reject, now: now) }
            }
        }
    }

    /// Stores log lines of run `runID`, in order, in one transaction.
    public func addRunLogs(runID: Int64, _ lines: [RunLogLine]) throws(StoreError) {
        guard !lines.isEmpty else { return }
        try write("store \(lines.count) log lines of run \(runID)") { db in
            try db.transaction {
                let st = try db.statement("INSERT INTO run_logs (run_id, logged_at, level, message) VALUES (?1, ?2, ?3, ?4)")
                for line in lines {
                    st.bind(1, runID)
                    st.bind(2, line.loggedAt.millisecondsSinceEpoch)
                    st.bind(3, line.level)
                    st.bind(4, line.message)
                    try st.run()
                }
            }
        }
    }

    /// The log lines of run `runID` in order, with ids above `afterID` when given, at most `limit` (1...1000).
    public func runLogs(runID: Int64, limit: Int, afterID: Int64?) throws(StoreError) -> [RunLogLine] {
        guard (1...1000).contains(limit) else {
            throw StoreError(code: .invalidArgument, message: "limit must be 1 to 1000, got \(limit)")
        }
        return try read("list the log lines of run \(runID)") { db in
            let st = try db.statement(
                "SELECT id, logged_at, level, message FROM run_logs WHERE run_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3")
            defer { st.reset() }
            st.bind(1, runID)
            st.bind(2, afterID ?? 0)
            st.bind(3, Int64(limit))
            var lines: [RunLogLine] = []
            while try st.step() {
                lines.append(RunLogLine(
                    id: st.int64(0), loggedAt: Timestamp(millisecondsSinceEpoch: st.int64(1)), level: st.text(2),
                    message: st.text(3)))
            }
            return lines
        }
    }

    /// The rejects of run `runID` in the order they were stored, with ids above `afterID` when given (pass the last
    /// id of the previous page), at most `limit` (1...1000).
    public func rejects(runID: Int64, limit: Int, afterID: Int64?) throws(StoreError) -> [Reject] {
        guard (1...1000).contains(limit) else {
            throw StoreError(code: .invalidArgument, message: "limit must be 1 to 1000, got \(limit)")
        }
        return try read("list the rejects of run \(runID)") { db in
            let st = try db.statement(
                """
                SELECT id, run_id, connector, source, line, column_number, record_number, entity, field, reason, raw,
                    created_at
                FROM rejects WHERE run_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3
                """)
            defer { st.reset() }
            st.bind(1, runID)
            st.bind(2, afterID ?? 0)
            st.bind(3, Int64(limit))
            var rejects: [Reject] = []
            while try st.step() {
                rejects.append(
                    Reject(
                        id: st.int64(0), runID: st.int64(1), connector: st.text(2),
                        location: RecordLocation(
                            source: st.optionalText(3), line: st.optionalInt64(4), column: st.optionalInt64(5),
                            recordNumber: st.optionalInt64(6)),
                        entity: st.optionalText(7), field: st.optionalText(8), reason: st.text(9), raw: st.optionalText(10),
                        createdAt: Timestamp(millisecondsSinceEpoch: st.int64(11))))
            }
            return rejects
        }
    }

    // MARK: Not public

    static let runColumns = """
        id, connector, plugin_id, trigger_kind, state, started_at, finished_at, read_count, inserted_count,
        updated_count, unchanged_count, rejected_count, error
        """

    static func run(from st: Statement) -> Run {
        Run(
            id: st.int64(0), connector: st.text(1), pluginID: st.text(2),
            trigger: RunTrigger(rawValue: st.text(3)) ?? .manual, state: RunState(rawValue: st.text(4)) ?? .failed,
            startedAt: Timestamp(millisecondsSinceEpoch: st.int64(5)),
            finishedAt: st.optionalInt64(6).map { Timestamp(millisecondsSinceEpoch: $0) },
            counts: RunCounts(
                read: st.int64(7), inserted: st.int64(8), updated: st.int64(9), unchanged: st.int64(10),
                rejected: st.int64(11)),
            error: st.optionalText(12))
    }
}

/// Totals of all runs of one connector in one state, for metrics.
public struct RunStatistics: Sendable, Hashable {
    /// The connector.
    public var connector: String
    /// The runs' state.
    public var state: RunState
    /// How many runs.
    public var runs: Int64
    /// Their counts added up.
    public var counts: RunCounts
    /// Finished runs whose duration is at most each bound of `durationBounds` (cumulative, as Prometheus wants).
    public var durationBuckets: [Int64]
    /// Total duration of the finished runs, in milliseconds.
    public var durationSumMilliseconds: Int64
    /// How many runs have finished (the histogram's count).
    public var finished: Int64
}

extension Store {
    /// Run totals per connector and state, with a cumulative histogram of run durations over `durationBounds`
    /// (milliseconds). One aggregate query: cheap enough for every metrics scrape.
    public func runStatistics(durationBounds: [Int64]) throws(StoreError) -> [RunStatistics] {
        let buckets = durationBounds.map { "SUM(CASE WHEN finished_at IS NOT NULL AND finished_at - started_at <= \($0) THEN 1 ELSE 0 END)" }
        let sql = """
            SELECT connector, state, COUNT(*), SUM(read_count), SUM(inserted_count), SUM(updated_count),
                   SUM(unchanged_count), SUM(rejected_count),
                   COALESCE(SUM(finished_at - started_at), 0), COUNT(finished_at)\(buckets.isEmpty ? "" : ", " + buckets.joined(separator: ", "))
            FROM runs GROUP BY connector, state ORDER BY connector, state
            """
        return try read("sum up runs") { db in
            let st = try db.statement(sql)
            var rows: [RunStatistics] = []
            while try st.step() {
                var counts = RunCounts()
                counts.read = st.int64(3)
                counts.inserted = st.int64(4)
                counts.updated = st.int64(5)
                counts.unchanged = st.int64(6)
                counts.rejected = st.int64(7)
                rows.append(RunStatistics(
                    connector: st.text(0), state: RunState(rawValue: st.text(1)) ?? .failed, runs: st.int64(2),
                    counts: counts, durationBuckets: durationBounds.indices.map { st.int64(Int32(10 + $0)) },
                    durationSumMilliseconds: st.int64(8), finished: st.int64(9)))
            }
            return rows
        }
    }
}

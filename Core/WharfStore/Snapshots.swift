import CSQLite
import WharfModel

extension Store {
    /// What `finishSnapshot` does with the stock of a source in the snapshot that the snapshot did not mention.
    public enum AbsentStock: String, Sendable, Hashable, CaseIterable {
        /// Sets it to quantity 0, out of stock: the snapshot is the whole truth for the sources it covers.
        case zero
        /// Leaves it as it is (the snapshot only updated what it listed).
        case keep
    }

    /// Marks run `runID` (running, from `beginRun`) as a full inventory snapshot: from now on every stock record
    /// applied with `ApplyOptions(runID: runID)` — inserted, updated or unchanged — is remembered until
    /// `finishSnapshot` or `abandonSnapshot`.
    ///
    /// The memory lives with this store's writer connection — in process memory up to a bound, beyond it in a
    /// temporary table (on disk, with a bounded cache) — so it stays flat for millions of records and disappears
    /// with the process: a snapshot interrupted by a crash is never finished and zeroes nothing. Fails with `.notFound` for an unknown run and `.misuse` when the run is
    /// not running or already has an open snapshot.
    public func beginSnapshot(runID: Int64) throws(StoreError) {
        try write("begin an inventory snapshot for run \(runID)") { db in
            try db.transaction { try Snapshots.begin(db, runID: runID) }
        }
    }

    /// Ends the full inventory snapshot of run `runID` and returns how many stock items it set to zero.
    ///
    /// With `.zero`, every stock item of a source that appeared in the snapshot but whose (SKU, source) the
    /// snapshot did not mention is set to quantity 0, out of stock (its `updatedAt` moves only when that changes
    /// something); sources that did not appear in the snapshot are untouched. Only source quantities change: a
    /// snapshot never touches reservations (see DESIGN.md, "Storage"). With `.keep`, nothing changes. Either way
    /// the snapshot is forgotten, in one transaction with the zeroing.
    ///
    /// Fails with `.misuse` when no snapshot is open for the run (never begun, already finished or abandoned, or
    /// begun by a process that has since stopped), and — without zeroing anything — when the run is recorded as
    /// failed or cancelled: an incomplete snapshot must not erase stock. Call `abandonSnapshot` for such runs.
    ///
    /// `elements`: the run's element digests. The stock rows of the elements the plugin skipped as unchanged count
    /// as delivered, and so do their sources; a row that is zeroed no longer belongs to its element.
    public func finishSnapshot(runID: Int64, absent: AbsentStock, elements: ElementLedger? = nil) throws(StoreError) -> Int64 {
        let now = Timestamp.now().millisecondsSinceEpoch
        let outcome = try write("finish the inventory snapshot of run \(runID)") { db in
            try Snapshots.finishInTransaction(db, runID: runID, absent: absent, now: now, elements: elements)
        }
        return try outcome.zeroed(path: path, runID: runID)
    }

    /// Forgets the open snapshot of run `runID` without changing any stock (for a run that failed or was
    /// cancelled). Does nothing when no snapshot is open for the run.
    public func abandonSnapshot(runID: Int64) throws(StoreError) {
        try write("abandon the inventory snapshot of run \(runID)") { db in
            try db.transaction { try Snapshots.forget(db, runID: runID) }
        }
    }

    // MARK: Not public

    /// Full inventory snapshots: which (SKU, source) pairs a run delivered, to zero the rest at the end.
    ///
    /// Why writer-side state rather than a marker column on `inventory_source_items`: a marker would turn every
    /// unchanged stock record into a row write (the whole table rewritten, and the WAL grown, by every daily
    /// snapshot), while an unchanged import should write nothing to the database. The (source, SKU) keys a run
    /// delivered are kept in `SnapshotMemory` (exact keys in a compact in-memory table, a hash probe per record)
    /// up to a bound; beyond it they spill into TEMP table `snapshot_seen` (one insert into a private B-tree per
    /// record, spilling to a temporary file beyond its cache: `temp_store = FILE`, bounded `temp.cache_size`), so
    /// memory stays flat at any size. Both are invisible to readers and other processes and vanish with the
    /// connection, so a crashed run can never finish its snapshot. Both follow the batch's transaction: the TEMP
    /// rows by SQLite, the memory through `snapshot_runs.seen_bytes`, which each batch updates in its transaction
    /// and which the memory is cut back to (see `SnapshotMemory`). The finishing UPDATE asks the memory through
    /// the SQL function `wharf_snapshot_seen` and the TEMP table (keyed (run, source, SKU)) for the rest.
    enum Snapshots {
        static let createTables = """
            PRAGMA temp_store = FILE;
            PRAGMA temp.cache_size = -32768;
            PRAGMA temp.journal_mode = MEMORY;
            CREATE TEMP TABLE IF NOT EXISTS snapshot_runs (run_id INTEGER PRIMARY KEY, seen_bytes INTEGER NOT NULL DEFAULT 0);
            CREATE TEMP TABLE IF NOT EXISTS snapshot_sources (
                run_id INTEGER NOT NULL, source_code TEXT NOT NULL, PRIMARY KEY (run_id, source_code)
            ) WITHOUT ROWID;
            CREATE TEMP TABLE IF NOT EXISTS snapshot_seen (
                run_id INTEGER NOT NULL, source_code TEXT NOT NULL, sku TEXT NOT NULL, PRIMARY KEY (run_id, source_code, sku)
            ) WITHOUT ROWID;
            """

        static func isOpen(_ db: Connection, runID: Int64) throws(SQLiteError) -> Bool {
            let st = try db.statement("SELECT 1 FROM temp.snapshot_runs WHERE run_id = ?1")
            defer { st.reset() }
            st.bind(1, runID)
            return try st.step()
        }

        /// The length of run `runID`'s memory arena as committed (see `SnapshotMemory`), or nil when no snapshot
        /// is open for the run.
        static func recordedBytes(_ db: Connection, runID: Int64) throws(SQLiteError) -> Int64? {
            let st = try db.statement("SELECT seen_bytes FROM temp.snapshot_runs WHERE run_id = ?1")
            defer { st.reset() }
            st.bind(1, runID)
            return try st.step() ? st.int64(0) : nil
        }

        /// Records the length of run `runID`'s memory arena, in the transaction of the batch that grew it.
        static func recordBytes(_ db: Connection, runID: Int64, bytes: Int) throws(SQLiteError) {
            let st = try db.statement("UPDATE temp.snapshot_runs SET seen_bytes = ?2 WHERE run_id = ?1")
            st.bind(1, runID)
            st.bind(2, Int64(bytes))
            try st.run()
        }

        /// The memory of run `runID`, in line with what SQLite committed; nil when no snapshot is open for it.
        static func memory(_ db: Connection, runID: Int64) throws -> SeenKeys? {
            guard let recorded = try recordedBytes(db, runID: runID) else { return nil }
            guard let memory = db.snapshotMemory else {
                throw StoreError(code: .misuse, message: "inventory snapshots need the store's writer connection")
            }
            switch memory.sync(runID: runID, recordedBytes: recorded) {
            case .ready(let keys): return keys
            case .lost:
                throw StoreError(
                    code: .misuse,
                    message: "cannot use the inventory snapshot of run \(runID) in database \(db.path): the keys it "
                        + "delivered were forgotten by a transaction that was then rolled back; abandon the snapshot "
                        + "and run a new one")
            }
        }

        /// The state of run `runID`, or nil when there is no such run.
        static func runState(_ db: Connection, runID: Int64) throws(SQLiteError) -> RunState? {
            let st = try db.statement("SELECT state FROM runs WHERE id = ?1")
            defer { st.reset() }
            st.bind(1, runID)
            return try st.step() ? RunState(rawValue: st.text(0)) ?? .failed : nil
        }

        static func begin(_ db: Connection, runID: Int64) throws {
            guard let state = try runState(db, runID: runID) else {
                throw StoreError(
                    code: .notFound,
                    message: "cannot begin an inventory snapshot for run \(runID) in database \(db.path): there is no such "
                        + "run; begin the run first")
            }
            guard state == .running else {
                throw StoreError(
                    code: .misuse,
                    message: "cannot begin an inventory snapshot for run \(runID) in database \(db.path): the run is "
                        + "\(state.rawValue), not running")
            }
            guard try !isOpen(db, runID: runID) else {
                throw StoreError(
                    code: .misuse,
                    message: "cannot begin an inventory snapshot for run \(runID) in database \(db.path): one is already open")
            }
            let st = try db.statement("INSERT INTO temp.snapshot_runs (run_id) VALUES (?1)")
            st.bind(1, runID)
            try st.run()
            // A stale memory of this run (from a begin that was rolled back) must not count.
            db.snapshotMemory?.forget(runID: runID)
        }

        /// What finishing did: zeroed so many items, or refused to zero for a failed run (and forgot the snapshot).
        enum Finish: Sendable {
            case zeroed(Int64)
            case refused(RunState)

            /// The items zeroed, or the error for a refusal.
            func zeroed(path: String, runID: Int64) throws(StoreError) -> Int64 {
                switch self {
                case .zeroed(let n): return n
                case .refused(let state):
                    throw StoreError(
                        code: .misuse,
                        message: "did not zero the stock missing from the inventory snapshot of run \(runID) in database "
                            + "\(path): the run is \(state.rawValue), so the snapshot may be incomplete; the snapshot was "
                            + "abandoned and no stock changed (call abandonSnapshot for runs that fail)")
                }
            }
        }

        /// `finish` in its own transaction, or inside the run transaction that is open on `db`.
        static func finishInTransaction(
            _ db: Connection, runID: Int64, absent: AbsentStock, now: Int64, elements: ElementLedger? = nil
        ) throws -> Finish {
            if db.inTransaction {
                try db.statement("SAVEPOINT wharf_snapshot").run()
                do {
                    let zeroed = try finish(db, runID: runID, absent: absent, now: now, elements: elements)
                    try db.statement("RELEASE wharf_snapshot").run()
                    return zeroed
                } catch {
                    if db.inTransaction {
                        try? db.statement("ROLLBACK TO wharf_snapshot").run()
                        try? db.statement("RELEASE wharf_snapshot").run()
                    }
                    throw error
                }
            }
            return try db.transaction { try finish(db, runID: runID, absent: absent, now: now, elements: elements) }
        }

        static func finish(
            _ db: Connection, runID: Int64, absent: AbsentStock, now: Int64, elements: ElementLedger? = nil
        ) throws -> Finish {
            guard try isOpen(db, runID: runID) else {
                throw StoreError(
                    code: .misuse,
                    message: "cannot finish the inventory snapshot of run \(runID) in database \(db.path): no snapshot is "
                        + "open for it (never begun, already finished, or begun by a process that has stopped since)")
            }
            var zeroed: Int64 = 0
            if absent == .zero {
                let state = try runState(db, runID: runID)
                if let state, state == .failed || state == .cancelled {
                    try forget(db, runID: runID)
                    return .refused(state)
                }
                // Cut the memory back to what SQLite committed before the function reads it.
                _ = try memory(db, runID: runID)
                if let elements, try elements.skippedRowsWereTaken(db) {
                    // Another writer took a row of an element this run skipped: the run cannot tell every row it
                    // delivered any more, and zeroing one it named would be wrong. The next snapshot zeroes.
                    elements.zeroingWithheld = true
                    try forget(db, runID: runID)
                    return .zeroed(0)
                }
                if let elements {
                    // The sources of skipped elements were delivered, though none of their records was emitted.
                    let source = try db.statement(
                        "INSERT INTO temp.snapshot_sources (run_id, source_code) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
                    for code in elements.skippedSources() {
                        source.bind(1, runID)
                        source.bind(2, code)
                        try source.run()
                    }
                }
                db.elementLedger = elements
                defer { db.elementLedger = nil }
                // The owner check comes first: a row this run's elements wrote is answered from the run's blocks
                // of owner ids, without looking its key up (a first import wrote every row). A zeroed row no
                // longer holds what its element wrote: RETURNING names the owners to revoke. (The
                // row keeps naming its element, whose digest is gone: RETURNING shows the row as updated.)
                let st = try db.statement(
                    """
                    UPDATE inventory_source_items SET quantity = 0, status = 'out_of_stock', updated_at = ?2
                    WHERE source_code IN (SELECT source_code FROM temp.snapshot_sources WHERE run_id = ?1)
                        AND (quantity <> 0 OR status <> 'out_of_stock')
                        AND NOT wharf_element_delivered(element_owner)
                        AND NOT wharf_snapshot_seen(?1, source_code, sku)
                        AND NOT EXISTS (
                            SELECT 1 FROM temp.snapshot_seen AS seen
                            WHERE seen.run_id = ?1 AND seen.source_code = inventory_source_items.source_code
                                AND seen.sku = inventory_source_items.sku)
                    RETURNING element_owner
                    """)
                st.bind(1, runID)
                st.bind(2, now)
                var owners: Set<Int64> = []
                while try st.step() {
                    zeroed += 1
                    if !st.isNull(0) { owners.insert(st.int64(0)) }
                }
                st.reset()
                for owner in owners { try Store.revokeElement(db, owner: owner) }
            }
            try forget(db, runID: runID)
            return .zeroed(zeroed)
        }

        static func forget(_ db: Connection, runID: Int64) throws(SQLiteError) {
            // With no other snapshot open, unconditional DELETEs let SQLite drop the pages wholesale.
            let others = try db.scalarInt("SELECT count(*) FROM temp.snapshot_runs") > (try isOpen(db, runID: runID) ? 1 : 0)
            for table in ["snapshot_seen", "snapshot_sources", "snapshot_runs"] {
                let st = try db.statement(
                    others ? "DELETE FROM temp.\(table) WHERE run_id = ?1" : "DELETE FROM temp.\(table)")
                if others { st.bind(1, runID) }
                try st.run()
            }
            if others { db.snapshotMemory?.forget(runID: runID) } else { db.snapshotMemory?.forgetAll() }
        }
    }
}

import CSQLite
import WharfModel

extension Store {
    /// Runs a whole ingest in ONE database transaction: everything `body` writes through the `RunWriter` —
    /// records, rejects, cursors, snapshot zeroing — is committed together when `body` returns, or rolled back
    /// together when it throws (the error comes out unchanged). This is what a connector with `onError: fail`
    /// needs: a run that fails leaves no trace but its run row.
    ///
    /// Threading: `body` runs on the calling thread, holding the store's single writer for its whole duration.
    /// Writes from other threads (other connectors, REST writes) wait until it returns; reads never wait and keep
    /// seeing the data as it was before the run until the commit. Inside `body`, write only through the
    /// `RunWriter`: a `Store` write method called from the same thread fails with `.misuse` (it would otherwise
    /// wait for itself), and `Store` read methods see the committed data, not the run's own writes (use
    /// `RunWriter.cursor(connector:)` for that). Do not keep the `RunWriter` beyond `body`; it refuses work after.
    ///
    /// A run of millions of records grows the write-ahead log by about the size of the data written, since no
    /// checkpoint can pass an open transaction; SQLite checkpoints after the commit.
    public func withRunTransaction<T>(_ body: (RunWriter) throws -> T) throws -> T {
        let thread = Store.currentThread()
        if runTransactionThread.load(ordering: .acquiring) == thread {
            throw StoreError(
                code: .misuse,
                message: "cannot start a run transaction in database \(path) inside another one on the same thread")
        }
        return try writer.withLock { (connection: inout Connection?) throws -> T in
            guard let db = connection else { throw closedError() }
            do {
                try db.statement("BEGIN IMMEDIATE").run()
            } catch {
                throw describe(error, "start a run transaction")
            }
            runTransactionThread.store(thread, ordering: .releasing)
            let runWriter = RunWriter(store: self, db: db)
            defer {
                runWriter.isOpen = false
                runTransactionThread.store(0, ordering: .releasing)
            }
            let result: T
            do {
                result = try body(runWriter)
            } catch {
                if db.inTransaction { try? db.statement("ROLLBACK").run() }
                throw error
            }
            guard db.inTransaction else {
                throw StoreError(
                    code: .database,
                    message: "cannot commit the run transaction in database \(path): SQLite rolled it back after an "
                        + "earlier failure (disk full or I/O error); nothing of the run was stored")
            }
            do {
                try db.statement("COMMIT").run()
            } catch {
                if db.inTransaction { try? db.statement("ROLLBACK").run() }
                throw describe(error, "commit the run transaction", detail: "nothing of the run was stored: ")
            }
            return result
        }
    }

    /// The writer of one `withRunTransaction` call: the write operations of an ingest, joined to the run's
    /// transaction. Valid only during the call's body, on its thread.
    public final class RunWriter {
        /// Stores a batch as part of the run's transaction, with the same arguments, validation, counting and
        /// errors as `Store.apply`. The batch is all-or-nothing within the run (a savepoint): when it fails,
        /// nothing of it stays and the run's earlier batches are kept until the run commits or rolls back. The
        /// cursor moves with the run: it is committed only with the whole run.
        public func apply(
            _ records: [ModelRecord], cursor: (connector: String, value: String)?, rejects: [NewReject] = [],
            options: ApplyOptions = ApplyOptions(), locations: [RecordLocation] = []
        ) throws(StoreError) -> UpsertCounts {
            try checkOpen("apply a batch")
            try Store.validate(records, options: options, locations: locations)
            let now = Timestamp.now().millisecondsSinceEpoch
            do {
                let counts = try inSavepoint {
                    try Store.applyBatch(
                        db, records, cursor: cursor, rejects: rejects, options: options, locations: locations, now: now)
                }
                options.elements?.batchCommitted()
                return counts
            } catch {
                options.elements?.batchRolledBack()
                var error = store.describe(error, "apply a batch of \(records.count) records")
                error.message += "; nothing of the batch was stored"
                throw error
            }
        }

        /// Stores a batch given in chunks as part of the run's transaction, in a savepoint of its own; like
        /// `Store.apply(chunks:cursor:rejects:options:)`.
        public func apply(
            chunks nextChunk: () -> RecordChunk?, cursor: (connector: String, value: String)?,
            rejects: () -> [NewReject], options: ApplyOptions = ApplyOptions()
        ) throws(StoreError) -> UpsertCounts {
            try checkOpen("apply a batch")
            let now = Timestamp.now().millisecondsSinceEpoch
            do {
                let counts = try inSavepoint {
                    try Store.applyChunks(db, next: nextChunk, cursor: cursor, rejects: rejects, options: options, now: now)
                }
                options.elements?.batchCommitted()
                return counts
            } catch {
                options.elements?.batchRolledBack()
                var error = store.describe(error, "apply a batch of records in chunks")
                error.message += "; nothing of the batch was stored"
                throw error
            }
        }

        /// Stores rejects as part of the run's transaction (raw excerpts cut to 1024 bytes); like `Store.addRejects`.
        public func addRejects(_ rejects: [NewReject]) throws(StoreError) {
            try checkOpen("store rejects")
            guard !rejects.isEmpty else { return }
            let now = Timestamp.now().millisecondsSinceEpoch
            do {
                try inSavepoint {
                    for reject in rejects { try Store.insertReject(db, reject, now: now) }
                }
            } catch {
                throw store.describe(error, "store \(rejects.count) rejects")
            }
        }

        /// The cursor of `connector` as the run sees it: including what the run wrote and has not committed yet.
        public func cursor(connector: String) throws(StoreError) -> String? {
            try checkOpen("read a cursor")
            do {
                return try Store.cursor(db, connector: connector)
            } catch {
                throw store.describe(error, "read the cursor of connector '\(connector)'")
            }
        }

        /// `Store.beginSnapshot` inside the run's transaction (rolled back with it).
        public func beginSnapshot(runID: Int64) throws(StoreError) {
            try checkOpen("begin an inventory snapshot")
            do {
                try inSavepoint { try Snapshots.begin(db, runID: runID) }
            } catch {
                throw store.describe(error, "begin an inventory snapshot for run \(runID)")
            }
        }

        /// `Store.finishSnapshot` inside the run's transaction: the zeroing commits or rolls back with the run.
        public func finishSnapshot(runID: Int64, absent: AbsentStock, elements: ElementLedger? = nil) throws(StoreError) -> Int64 {
            try checkOpen("finish an inventory snapshot")
            let outcome: Snapshots.Finish
            do {
                outcome = try Snapshots.finishInTransaction(
                    db, runID: runID, absent: absent, now: Timestamp.now().millisecondsSinceEpoch, elements: elements)
            } catch {
                throw store.describe(error, "finish the inventory snapshot of run \(runID)")
            }
            return try outcome.zeroed(path: store.path, runID: runID)
        }

        /// `Store.recordElements` inside the run's transaction.
        public func recordElements(_ elements: ElementLedger) throws(StoreError) {
            try checkOpen("record element digests")
            do {
                try inSavepoint { try elements.recordCompleted(db, all: true) }
            } catch {
                throw store.describe(error, "record the element digests of connector '\(elements.connector)'")
            }
        }

        /// `Store.abandonSnapshot` inside the run's transaction.
        public func abandonSnapshot(runID: Int64) throws(StoreError) {
            try checkOpen("abandon an inventory snapshot")
            do {
                try inSavepoint { try Snapshots.forget(db, runID: runID) }
            } catch {
                throw store.describe(error, "abandon the inventory snapshot of run \(runID)")
            }
        }

        // MARK: Not public

        let store: Store
        let db: Connection
        /// False once the run's body returned: the connection then belongs to other writers again.
        var isOpen = true

        init(store: Store, db: Connection) {
            self.store = store
            self.db = db
        }

        private func checkOpen(_ what: String) throws(StoreError) {
            guard isOpen else {
                throw StoreError(
                    code: .misuse,
                    message: "cannot \(what) in database \(store.path): the run transaction this RunWriter belonged to has ended")
            }
            guard Store.currentThread() == store.runTransactionThread.load(ordering: .acquiring) else {
                throw StoreError(
                    code: .misuse,
                    message: "cannot \(what) in database \(store.path): a RunWriter works only on the thread that runs "
                        + "withRunTransaction's body")
            }
            guard db.inTransaction else {
                throw StoreError(
                    code: .database,
                    message: "cannot \(what) in database \(store.path): SQLite rolled back the run transaction after an "
                        + "earlier failure (disk full or I/O error); nothing of the run was stored")
            }
        }

        /// Runs `body` in a savepoint: undone on its own when it throws, kept (until the run ends) when it returns.
        private func inSavepoint<T>(_ body: () throws -> T) throws -> T {
            try db.statement("SAVEPOINT wharf_batch").run()
            do {
                let result = try body()
                try db.statement("RELEASE wharf_batch").run()
                return result
            } catch {
                if db.inTransaction {
                    try? db.statement("ROLLBACK TO wharf_batch").run()
                    try? db.statement("RELEASE wharf_batch").run()
                }
                throw error
            }
        }
    }
}

/// A `RunWriter` belongs to the thread running `withRunTransaction`'s body and must not cross threads.
@available(*, unavailable)
extension Store.RunWriter: Sendable {}

import CSQLite
import Dispatch
import Synchronization
import WharfModel

#if canImport(Glibc)
import Glibc
#endif

/// Wharf's commerce model in one SQLite database file: catalog, prices, inventory, runs, rejects, cursors and API
/// keys.
///
/// The database runs in WAL mode with one writer connection, serialized by a mutex, and a pool of read-only
/// connections, so reads (the REST API) never wait for an import and see only committed data. Every write is one
/// transaction. All methods are thread-safe. SQL never leaves this type: callers speak the model (see DESIGN.md,
/// "Storage").
///
/// Ingest comes in three shapes: `apply` stores one batch in its own transaction; `withRunTransaction` runs a
/// whole ingest in one transaction (for connectors that must fail as a whole); `beginSnapshot` /
/// `finishSnapshot` turn a run into a full inventory snapshot that zeroes what it did not mention. Relative stock
/// deltas are an `ApplyOptions` switch.
///
/// ```swift
/// let store = try Store(path: "/var/lib/wharf/wharf.sqlite")
/// let counts = try store.apply(records, cursor: (connector: "erp-stock", value: "2026-11-23T12:00:00Z"))
/// let product = try store.product(sku: "SKU-1")
/// ```
public final class Store: Sendable {
    /// The database file, as given to `init`.
    public let path: String

    /// Opens (creating it and its parent folders when needed) the database at `path`, switches it to WAL mode, and
    /// brings its schema to this build's version with numbered migrations. A database written by a newer Wharf, or
    /// an SQLite file of another application, is refused. `readerCount` read-only connections (1...64) serve reads
    /// concurrently; a read waits only when all of them are busy.
    ///
    /// `readerMapBytes` above 0 lets each reader map up to that many bytes of the file (SQLite's memory-mapped I/O):
    /// a page read is then a memory access instead of a system call and a copy (+10 to 25 % requests/s for random
    /// product look-ups on a 224 MB database). Leave it 0 in a process with an address-space cap (RLIMIT_AS, as a
    /// `wharf worker` has): each reader's mapping counts against it.
    public init(path: String, readerCount: Int = 4, readerMapBytes: Int = 0) throws(StoreError) {
        self.path = path
        guard (1...64).contains(readerCount) else {
            throw StoreError(
                code: .invalidArgument, message: "readerCount must be 1 to 64 for database \(path), got \(readerCount)")
        }
        guard !path.isEmpty, path != ":memory:", !path.hasPrefix("file:") else {
            throw StoreError(
                code: .invalidArgument,
                message: "database path '\(path)' is not a file path; Wharf needs a file (readers share it with the writer)")
        }
        try Store.createParentFolders(of: path)

        let writer: Connection
        do throws(SQLiteError) {
            writer = try Connection(path: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            sqlite3_busy_timeout(writer.handle, Store.busyTimeoutMilliseconds)
            // The first statement that reads the file: a non-database file fails here ("file is not a database").
            let mode = try writer.scalarText("PRAGMA journal_mode = WAL")
            guard mode?.lowercased() == "wal" else {
                throw SQLiteError(
                    code: SQLITE_CANTOPEN,
                    message: "cannot switch to WAL mode (journal mode stays '\(mode ?? "?")'); "
                        + "put the database on a local file system")
            }
            // 64 MiB of page cache for the writer (SQLite's default is 2 MiB): an import of a million products touches
            // the upper levels of every index for every record, and those should stay in memory, not be re-read
            // from the OS with a system call each.
            try writer.execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536")
        } catch {
            throw StoreError(code: .cannotOpen, message: "cannot open database \(path): \(error.message)", sqliteCode: error.code)
        }
        try Migrations.migrate(writer)
        do throws(SQLiteError) {
            try writer.execute(Snapshots.createTables)
            let memory = SnapshotMemory()
            try memory.register(on: writer)
            writer.snapshotMemory = memory
            try Store.registerElementFunctions(on: writer)
        } catch {
            throw StoreError(
                code: .cannotOpen, message: "cannot open database \(path): cannot create temporary tables: \(error.message)",
                sqliteCode: error.code)
        }

        var readers: [Connection] = []
        for _ in 0..<readerCount {
            do throws(SQLiteError) {
                let reader = try Connection(path: path, flags: SQLITE_OPEN_READONLY)
                sqlite3_busy_timeout(reader.handle, Store.busyTimeoutMilliseconds)
                try reader.execute("PRAGMA cache_size = -16384")  // 16 MiB of page cache per reader
                if readerMapBytes > 0 { try reader.execute("PRAGMA mmap_size = \(readerMapBytes)") }
                readers.append(reader)
            } catch {
                throw StoreError(
                    code: .cannotOpen, message: "cannot open database \(path) for reading: \(error.message)",
                    sqliteCode: error.code)
            }
        }
        self.writer = Mutex(writer)
        self.pool = Mutex(ReaderPool(idle: readers))
        self.readerSlots = DispatchSemaphore(value: readerCount)
    }

    /// Closes every connection. Later calls fail with `StoreError.Code.closed`; reads still running finish first,
    /// and a run transaction in progress is waited for (so never call this from inside `withRunTransaction`'s body).
    /// Safe to call more than once; also done when the store is released.
    public func close() {
        writer.withLock { connection in
            // Keeps the query planner's statistics fresh at a moment when nobody waits for the writer.
            try? connection?.execute("PRAGMA optimize")
            connection?.close()
            connection = nil
        }
        let idle = pool.withLock { pool in
            pool.closed = true
            defer { pool.idle = [] }
            return pool.idle
        }
        for reader in idle { reader.close() }
    }

    deinit { close() }

    // MARK: Not public

    static let busyTimeoutMilliseconds: Int32 = 5000

    struct ReaderPool {
        var idle: [Connection]
        var closed = false
    }

    /// The one connection that writes, nil once closed.
    let writer: Mutex<Connection?>
    /// The thread running `withRunTransaction`'s body (which holds `writer`), 0 when none: a write from that thread
    /// would wait for itself forever, so it fails with `.misuse` instead.
    let runTransactionThread = Atomic<UInt>(0)
    /// Idle read-only connections.
    let pool: Mutex<ReaderPool>
    /// Counts idle readers so a read waits (without spinning) when all are busy.
    let readerSlots: DispatchSemaphore

    /// Runs `body` on the writer connection, holding the write mutex. `what` describes the operation for errors
    /// ("apply a batch of 500 records").
    func write<T: Sendable>(_ what: @autoclosure () -> String, _ body: (Connection) throws -> T) throws(StoreError) -> T {
        if runTransactionThread.load(ordering: .acquiring) == Store.currentThread() {
            throw StoreError(
                code: .misuse,
                message: "cannot \(what()) in database \(path) inside withRunTransaction: the run holds the writer; use "
                    + "the RunWriter it was given")
        }
        return try writer.withLock { (connection: inout Connection?) throws(StoreError) -> T in
            guard let connection else { throw closedError() }
            do {
                return try body(connection)
            } catch {
                throw describe(error, what())
            }
        }
    }

    /// Runs `body` on a read-only connection checked out of the pool.
    func read<T>(_ what: @autoclosure () -> String, _ body: (Connection) throws -> T) throws(StoreError) -> T {
        let connection = try checkout()
        defer { checkin(connection) }
        do {
            return try body(connection)
        } catch {
            throw describe(error, what())
        }
    }

    private func checkout() throws(StoreError) -> Connection {
        readerSlots.wait()
        let connection = pool.withLock { pool -> Connection? in pool.closed ? nil : pool.idle.popLast() }
        guard let connection else {
            readerSlots.signal()  // pass the wake-up on to the next waiter, which will see `closed` too
            throw closedError()
        }
        return connection
    }

    private func checkin(_ connection: Connection) {
        let closed = pool.withLock { pool -> Bool in
            if pool.closed { return true }
            pool.idle.append(connection)
            return false
        }
        if closed { connection.close() }
        readerSlots.signal()
    }

    /// An id of the calling thread, never 0.
    static func currentThread() -> UInt { UInt(pthread_self()) }

    func closedError() -> StoreError {
        StoreError(code: .closed, message: "database \(path) is closed")
    }

    /// Turns any failure inside an operation into a `StoreError` that says what failed, where and why.
    func describe(_ error: any Error, _ what: String, detail: String = "") -> StoreError {
        switch error {
        case let error as StoreError:
            return error
        case let failure as BatchFailure:
            return describe(failure.error, what, detail: "\(failure.item): ")
        case let error as SQLiteError:
            let code: StoreError.Code
            var hint = ""
            switch error.primary {
            case SQLITE_BUSY, SQLITE_LOCKED:
                code = .busy
                hint = "; another process kept the database locked for more than \(Store.busyTimeoutMilliseconds / 1000) s"
            case SQLITE_CONSTRAINT:
                code = error.code == sqliteConstraintPrimaryKey || error.code == sqliteConstraintUnique
                    ? .conflict : .invalidRecord
            default:
                code = .database
            }
            return StoreError(
                code: code, message: "cannot \(what) in database \(path): \(detail)\(error.message)\(hint)", sqliteCode: error.code)
        case let error as FieldError:
            return StoreError(code: .invalidRecord, message: "cannot \(what): \(error.reason)")
        default:
            return StoreError(code: .database, message: "cannot \(what) in database \(path): \(error)")
        }
    }

    /// `mkdir -p` for the folder that will hold the database, with the system's reason when it fails.
    static func createParentFolders(of path: String) throws(StoreError) {
        var components = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        guard !components.isEmpty else { return }
        var current = path.hasPrefix("/") ? "" : "."
        if path.hasPrefix("/") { components = components.dropFirst() }
        for component in components where !component.isEmpty {
            current += "/" + component
            guard mkdir(current, 0o755) != 0 else { continue }
            var reason = String(cString: strerror(errno))
            if errno == EEXIST {
                var info = stat()
                if stat(current, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR { continue }
                reason = "a file of that name is in the way"
            }
            throw StoreError(
                code: .cannotOpen, message: "cannot open database \(path): cannot create folder \(current): \(reason)")
        }
    }
}

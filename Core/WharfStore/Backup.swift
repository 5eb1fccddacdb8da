import CSQLite
import WharfModel

#if canImport(Glibc)
import Glibc
#endif

/// What `Store.inspectDatabase(at:)` found in a database file.
public struct DatabaseFileInfo: Sendable, Hashable {
    /// The file.
    public var path: String
    /// The Wharf schema version the file is at (1 … `Store.latestSchemaVersion`).
    public var schemaVersion: Int64
    /// The database's size: pages times page size.
    public var bytes: Int64
    /// Whether SQLite's `PRAGMA integrity_check` ran.
    public var integrityChecked: Bool
    /// What the integrity check reported (at most 20 lines); empty when the file is sound or was not checked.
    public var integrityProblems: [String]
}

/// What `Store.backup(database:to:options:progress:)` wrote.
public struct BackupReport: Sendable, Hashable {
    /// The backup file.
    public var path: String
    /// The schema version of the copied database.
    public var schemaVersion: Int64
    /// The backup's size in bytes.
    public var bytes: Int64
    /// How many `sqlite3_backup_step` calls the copy took.
    public var steps: Int
    /// Whether the copy passed SQLite's integrity check before it was renamed into place.
    public var verified: Bool
}

/// What `Store.restore(from:to:)` did.
public struct RestoreReport: Sendable, Hashable {
    /// The database that now holds the backup's content.
    public var database: String
    /// The backup file that was restored.
    public var restoredFrom: String
    /// The schema version of the restored content (the next start migrates it when it is older than this build's).
    public var schemaVersion: Int64
    /// Where the database's content from before the restore was kept; nil when there was none (no file, or an
    /// empty one).
    public var previousCopy: String?
}

extension Store {
    /// How `backup` copies.
    public struct BackupOptions: Sendable, Hashable {
        /// Pages copied per `sqlite3_backup_step` call (at SQLite's default page size of 4 KiB, 1024 pages are
        /// 4 MiB). Between steps the copy can report progress and pause.
        public var pagesPerStep: Int
        /// A pause after each step, to leave disk bandwidth to the server on a busy machine. Zero by default.
        public var pauseBetweenSteps: Duration
        /// Run `PRAGMA integrity_check` on the copy before it is renamed into place (on by default).
        public var verify: Bool
        /// Replace an existing file at the destination (off by default: an old backup is never overwritten by
        /// accident).
        public var replace: Bool

        /// Options; the defaults suit a backup of a live server.
        public init(pagesPerStep: Int = 1024, pauseBetweenSteps: Duration = .zero, verify: Bool = true, replace: Bool = false) {
            self.pagesPerStep = pagesPerStep
            self.pauseBetweenSteps = pauseBetweenSteps
            self.verify = verify
            self.replace = replace
        }
    }

    /// The schema version this build creates and migrates to.
    public static var latestSchemaVersion: Int64 { Migrations.latestVersion }

    /// Copies the Wharf database at `database` to the file `destination` while other processes (a running
    /// `wharf serve`, a `wharf run`) keep reading and writing it.
    ///
    /// The copy is one consistent snapshot: the state after some committed transaction, never half of one. It is
    /// made with SQLite's online backup API from a read transaction held for the whole copy, so in WAL mode no
    /// writer waits for it (while it runs the write-ahead log cannot be checkpointed past the snapshot and may grow;
    /// it shrinks at the next checkpoint after). The copy is written to a temporary file beside `destination`,
    /// switched to a self-contained rollback-journal file, checked with `PRAGMA integrity_check` (unless
    /// `options.verify` is off), flushed to disk and then renamed into place, so `destination` is either absent or
    /// a whole, checked backup. `progress` is called after each step with the pages copied and the total.
    ///
    /// - Throws: `StoreError` `.invalidArgument` when `destination` exists (and `options.replace` is off) or is the
    ///   database itself; `.cannotOpen`, `.notWharfDatabase` or `.newerSchema` for a source that cannot be backed
    ///   up; `.corrupt` when the copy fails its integrity check; `.database` for I/O failures.
    public static func backup(
        database: String, to destination: String, options: BackupOptions = BackupOptions(),
        progress: ((_ copiedPages: Int, _ totalPages: Int) -> Void)? = nil
    ) throws(StoreError) -> BackupReport {
        guard options.pagesPerStep >= 1 else {
            throw StoreError(code: .invalidArgument, message: "pagesPerStep must be at least 1, got \(options.pagesPerStep)")
        }
        guard FileFacts.exists(database) else {
            throw StoreError(code: .cannotOpen, message: "cannot back up database \(database): there is no such file; check `database` in the manifest")
        }
        if FileFacts.sameFile(database, destination) {
            throw StoreError(code: .invalidArgument, message: "cannot back up database \(database) onto itself; give the backup another file name")
        }
        if !options.replace, FileFacts.exists(destination) {
            throw StoreError(
                code: .invalidArgument,
                message: "backup file \(destination) already exists; choose a new file name, or allow replacing it")
        }
        let source = try openExisting(database, purpose: "back up")
        defer { source.close() }
        do throws(SQLiteError) {
            // A read transaction for the whole copy: the backup sees one snapshot, and in WAL mode writers go on.
            try source.execute("BEGIN")
            _ = try source.scalarInt("SELECT count(*) FROM sqlite_schema")
        } catch {
            throw StoreError(code: .cannotOpen, message: "cannot back up database \(database): \(error.message)", sqliteCode: error.code)
        }
        let version = try checkWharfSchema(source, database, purpose: "back up database")

        let temporary = destination + ".partial-\(getpid())"
        unlink(temporary)
        var keepTemporary = false
        defer { if !keepTemporary { unlink(temporary) } }
        let copy: Connection
        do throws(SQLiteError) {
            copy = try Connection(path: temporary, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        } catch {
            throw StoreError(
                code: .cannotOpen, message: "cannot write backup file \(destination): \(error.message); check that its folder exists and is writable",
                sqliteCode: error.code)
        }
        defer { copy.close() }
        let steps = try copyPages(
            from: source, to: copy, pagesPerStep: Int32(clamping: options.pagesPerStep), pause: options.pauseBetweenSteps,
            progress: progress, what: "back up database \(database) to \(destination)")
        try? source.execute("COMMIT")

        let bytes: Int64
        do throws(SQLiteError) {
            // The copied header says WAL; a backup file should be one self-contained file.
            _ = try copy.scalarText("PRAGMA journal_mode = DELETE")
            bytes = try copy.scalarInt("PRAGMA page_count") * copy.scalarInt("PRAGMA page_size")
        } catch {
            throw StoreError(code: .database, message: "cannot finish backup file \(destination): \(error.message)", sqliteCode: error.code)
        }
        if options.verify {
            let problems = try integrityProblems(copy, what: "check backup file \(destination)")
            if !problems.isEmpty {
                throw StoreError(
                    code: .corrupt,
                    message: "the copy of database \(database) failed SQLite's integrity check (\(problems[0])); no backup was written. "
                        + "Check the database with `PRAGMA integrity_check` and the disk for errors")
            }
        }
        copy.close()
        try FileFacts.flush(temporary, what: "write backup file \(destination)")
        // link() refuses an existing name, so an old backup is never replaced by a race; rename() replaces.
        if options.replace {
            guard rename(temporary, destination) == 0 else {
                throw StoreError(code: .database, message: "cannot write backup file \(destination): \(FileFacts.reason())")
            }
        } else if link(temporary, destination) == 0 {
            unlink(temporary)
        } else if errno == EEXIST {
            throw StoreError(
                code: .invalidArgument,
                message: "cannot write backup file \(destination): the file appeared while the backup ran; choose a new file name")
        } else if (errno == EPERM || errno == EOPNOTSUPP) && !FileFacts.exists(destination) {
            // A file system without hard links: checked, then renamed (a race with another writer is unlikely).
            guard rename(temporary, destination) == 0 else {
                throw StoreError(code: .database, message: "cannot write backup file \(destination): \(FileFacts.reason())")
            }
        } else {
            throw StoreError(code: .database, message: "cannot write backup file \(destination): \(FileFacts.reason())")
        }
        keepTemporary = true  // it is the destination now (or gone)
        FileFacts.flushFolder(of: destination)
        return BackupReport(path: destination, schemaVersion: version, bytes: bytes, steps: steps, verified: options.verify)
    }

    /// Copies this store's database to `destination`: `Store.backup(database: path, to: destination, ...)`.
    public func backup(
        to destination: String, options: BackupOptions = BackupOptions(),
        progress: ((_ copiedPages: Int, _ totalPages: Int) -> Void)? = nil
    ) throws(StoreError) -> BackupReport {
        try Store.backup(database: path, to: destination, options: options, progress: progress)
    }

    /// Checks that the file at `path` is a Wharf database this build can open — its application id is Wharf's and
    /// its schema version is one this build knows — and, when `checkIntegrity` is set, runs `PRAGMA integrity_check`
    /// on it. Opens the file read-only and changes nothing.
    ///
    /// - Throws: `StoreError` `.cannotOpen` (missing, unreadable or not an SQLite file), `.notWharfDatabase`
    ///   (another application's database, or an empty one), `.newerSchema` (written by a newer Wharf).
    public static func inspectDatabase(at path: String, checkIntegrity: Bool = true) throws(StoreError) -> DatabaseFileInfo {
        try inspect(path, checkIntegrity: checkIntegrity, purpose: "read database")
    }

    /// Replaces the content of the database at `database` with the backup file `backup`.
    ///
    /// Before anything changes, `backup` must be a Wharf database of a schema version this build knows that passes
    /// `PRAGMA integrity_check`. The database must not be in use: restore takes SQLite's exclusive lock on it — the
    /// same test SQLite uses to decide that a connection is the last one — and fails with `.databaseInUse` while any
    /// process (a `wharf serve`, a `wharf run`) has it open; the lock is held until the restore is done, so no
    /// process can open the database half-restored. When the database has content, it is first copied to
    /// `<database>.before-restore-<UTC time>` (reported as `previousCopy`): a restore never loses data. The copy
    /// into the database is one transaction: a crash during the restore leaves the old content. A backup of an
    /// older schema is migrated the next time Wharf opens the database.
    ///
    /// - Throws: `StoreError` `.invalidArgument` (no backup file, or it is the database itself), `.cannotOpen`,
    ///   `.notWharfDatabase`, `.newerSchema`, `.corrupt` (for the backup file, or for a database that is another
    ///   application's), `.databaseInUse`, `.database` (I/O).
    public static func restore(from backup: String, to database: String) throws(StoreError) -> RestoreReport {
        guard FileFacts.exists(backup) else {
            throw StoreError(code: .invalidArgument, message: "cannot restore from \(backup): there is no such file")
        }
        if FileFacts.sameFile(backup, database) {
            throw StoreError(code: .invalidArgument, message: "cannot restore database \(database) from itself; give the path of a backup file")
        }
        let info = try inspect(backup, checkIntegrity: true, purpose: "restore from")
        guard info.integrityProblems.isEmpty else {
            throw StoreError(
                code: .corrupt,
                message: "cannot restore from \(backup): it fails SQLite's integrity check (\(info.integrityProblems[0])); "
                    + "the database was not touched; restore another backup")
        }
        try createParentFolders(of: database)

        guard let target = try openExclusively(database, create: true) else {
            throw StoreError(
                code: .databaseInUse,
                message: "cannot restore database \(database): another process has it open (a running `wharf serve` or "
                    + "`wharf run`); stop it, then restore again. Nothing was changed")
        }
        defer { target.close() }

        var previousCopy: String?
        let hasContent: Bool
        do throws(SQLiteError) {
            hasContent = try target.scalarInt("SELECT count(*) FROM sqlite_schema") > 0
            if hasContent {
                let appID = try target.scalarInt("PRAGMA application_id")
                guard appID == Migrations.applicationID else {
                    throw SQLiteError(
                        code: SQLITE_NOTADB,
                        message: "it belongs to another application, so Wharf will not replace it; check `database` in the manifest")
                }
            }
        } catch {
            throw StoreError(
                code: error.code == SQLITE_NOTADB ? .notWharfDatabase : .cannotOpen,
                message: "cannot restore database \(database): \(error.message). Nothing was changed", sqliteCode: error.code)
        }
        if hasContent {
            let copyPath = database + ".before-restore-" + compactTime(.now())
            do throws(StoreError) {
                try writeCopy(of: target, to: copyPath, what: "keep the current content of database \(database)")
            } catch {
                throw StoreError(code: error.code, message: error.message + ". Nothing was changed", sqliteCode: error.sqliteCode)
            }
            previousCopy = copyPath
        }

        let source: Connection
        do throws(SQLiteError) {
            source = try Connection(path: backup, flags: SQLITE_OPEN_READONLY)
        } catch {
            throw StoreError(code: .cannotOpen, message: "cannot read backup file \(backup): \(error.message)", sqliteCode: error.code)
        }
        defer { source.close() }
        _ = try copyPages(
            from: source, to: target, pagesPerStep: -1, pause: .zero, progress: nil,
            what: "restore database \(database) from \(backup)" + (previousCopy.map { " (its previous content is kept in \($0))" } ?? ""))
        do throws(SQLiteError) {
            // The backup file is in rollback-journal mode; the database is used in WAL mode.
            _ = try target.scalarText("PRAGMA journal_mode = WAL")
            let restored = try target.scalarInt("PRAGMA user_version")
            guard restored == info.schemaVersion else {
                throw SQLiteError(code: SQLITE_CORRUPT, message: "the restored database has schema version \(restored), the backup \(info.schemaVersion)")
            }
        } catch {
            throw StoreError(code: .database, message: "cannot finish restoring database \(database): \(error.message)", sqliteCode: error.code)
        }
        return RestoreReport(database: database, restoredFrom: backup, schemaVersion: info.schemaVersion, previousCopy: previousCopy)
    }

    /// Runs SQLite's `PRAGMA integrity_check` on the database (on a reader, so the server goes on) and returns what
    /// it found: empty when the database is sound, else up to 20 lines describing the damage.
    public func checkIntegrity() throws(StoreError) -> [String] {
        try read("check the integrity of the database") { db in try Store.integrityLines(db) }
    }

    // MARK: Not public

    /// `inspectDatabase`, with messages that start "cannot <purpose> <path>: ".
    private static func inspect(_ path: String, checkIntegrity: Bool, purpose: String) throws(StoreError) -> DatabaseFileInfo {
        guard FileFacts.exists(path) else {
            throw StoreError(code: .cannotOpen, message: "cannot \(purpose) \(path): there is no such file")
        }
        let db: Connection
        do throws(SQLiteError) {
            db = try Connection(path: path, flags: SQLITE_OPEN_READONLY)
        } catch {
            throw StoreError(code: .cannotOpen, message: "cannot \(purpose) \(path): \(error.message)", sqliteCode: error.code)
        }
        defer { db.close() }
        let version = try checkWharfSchema(db, path, purpose: purpose)
        let bytes: Int64
        do throws(SQLiteError) {
            bytes = try db.scalarInt("PRAGMA page_count") * db.scalarInt("PRAGMA page_size")
        } catch {
            throw StoreError(
                code: error.primary == SQLITE_CORRUPT ? .corrupt : .cannotOpen,
                message: "cannot \(purpose) \(path): \(error.message)", sqliteCode: error.code)
        }
        let problems = checkIntegrity ? try integrityProblems(db, what: "check \(path)") : []
        return DatabaseFileInfo(
            path: path, schemaVersion: version, bytes: bytes, integrityChecked: checkIntegrity, integrityProblems: problems)
    }

    /// Whether any connection — of this process or another — has the database at `path` open. False when there is
    /// no such file.
    static func databaseIsInUse(_ path: String) throws(StoreError) -> Bool {
        guard FileFacts.exists(path) else { return false }
        guard let connection = try openExclusively(path, create: false) else { return true }
        connection.close()
        return false
    }

    /// A connection holding SQLite's exclusive lock on the database at `path` until it is closed, or nil when
    /// another connection has the database open. In WAL mode every open connection holds a shared lock on the
    /// database file for as long as it is open, so the exclusive lock is granted only to a connection that is
    /// alone — the test SQLite itself uses to decide that a closing connection is the last one. EXCLUSIVE locking
    /// mode keeps the lock after the transaction, so nobody opens the database until the connection closes.
    private static func openExclusively(_ path: String, create: Bool) throws(StoreError) -> Connection? {
        let connection: Connection
        do throws(SQLiteError) {
            connection = try Connection(path: path, flags: SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0))
            sqlite3_busy_timeout(connection.handle, 0)
            try connection.execute("PRAGMA locking_mode = EXCLUSIVE")
        } catch {
            throw StoreError(code: .cannotOpen, message: "cannot open database \(path): \(error.message)", sqliteCode: error.code)
        }
        do throws(SQLiteError) {
            try connection.execute("BEGIN EXCLUSIVE")
            try connection.execute("COMMIT")
            return connection
        } catch {
            connection.close()
            if error.primary == SQLITE_BUSY || error.primary == SQLITE_LOCKED { return nil }
            throw StoreError(code: .cannotOpen, message: "cannot open database \(path): \(error.message)", sqliteCode: error.code)
        }
    }

    /// Opens an existing database for a backup: read-write without create (so a missing file is an error and a
    /// WAL database needs no -shm file to exist), and query-only, so this connection never writes.
    private static func openExisting(_ path: String, purpose: String) throws(StoreError) -> Connection {
        do throws(SQLiteError) {
            let db = try Connection(path: path, flags: SQLITE_OPEN_READWRITE)
            sqlite3_busy_timeout(db.handle, busyTimeoutMilliseconds)
            try db.execute("PRAGMA query_only = 1")
            return db
        } catch {
            throw StoreError(code: .cannotOpen, message: "cannot \(purpose) database \(path): \(error.message)", sqliteCode: error.code)
        }
    }

    /// The schema version of the Wharf database on `db`; throws when it is not one this build can use.
    private static func checkWharfSchema(_ db: Connection, _ path: String, purpose: String) throws(StoreError) -> Int64 {
        let appID: Int64, version: Int64, tables: Int64
        do throws(SQLiteError) {
            appID = try db.scalarInt("PRAGMA application_id")
            version = try db.scalarInt("PRAGMA user_version")
            tables = try db.scalarInt("SELECT count(*) FROM sqlite_schema")
        } catch {
            if error.primary == SQLITE_CORRUPT {
                throw StoreError(
                    code: .corrupt, message: "cannot \(purpose) \(path): it fails SQLite's integrity check (\(error.message))",
                    sqliteCode: error.code)
            }
            let reason = error.primary == SQLITE_NOTADB ? "it is not an SQLite database" : error.message
            throw StoreError(code: .cannotOpen, message: "cannot \(purpose) \(path): \(reason)", sqliteCode: error.code)
        }
        guard appID == Migrations.applicationID, version >= 1 else {
            throw StoreError(
                code: .notWharfDatabase,
                message: tables == 0
                    ? "cannot \(purpose) \(path): it is an empty database (no Wharf schema)"
                    : "cannot \(purpose) \(path): it is not a Wharf database (another application's SQLite file)")
        }
        guard version <= latestSchemaVersion else {
            throw StoreError(
                code: .newerSchema,
                message: "cannot \(purpose) \(path): it has schema version \(version), but this Wharf knows only up to "
                    + "version \(latestSchemaVersion); use the newer Wharf that wrote it")
        }
        return version
    }

    /// Copies every page of `source`'s main database into `destination`'s with the online backup API, in steps of
    /// `pagesPerStep` (-1: all at once). Returns the number of steps.
    private static func copyPages(
        from source: Connection, to destination: Connection, pagesPerStep: Int32, pause: Duration,
        progress: ((Int, Int) -> Void)?, what: String
    ) throws(StoreError) -> Int {
        guard let backup = sqlite3_backup_init(destination.handle, "main", source.handle, "main") else {
            let error = destination.error(sqlite3_errcode(destination.handle))
            throw StoreError(code: .database, message: "cannot \(what): \(error.message)", sqliteCode: error.code)
        }
        var steps = 0
        var rc: Int32 = SQLITE_OK
        var busySince: ContinuousClock.Instant?
        while true {
            rc = sqlite3_backup_step(backup, pagesPerStep)
            steps += 1
            if rc == SQLITE_DONE { break }
            if rc == SQLITE_OK {
                busySince = nil
                progress?(Int(sqlite3_backup_pagecount(backup) - sqlite3_backup_remaining(backup)), Int(sqlite3_backup_pagecount(backup)))
                if pause > .zero { sleep(for: pause) }
                continue
            }
            if rc & 0xFF == SQLITE_BUSY || rc & 0xFF == SQLITE_LOCKED {
                // Another connection holds a lock the copy needs; wait as long as the store's busy timeout.
                let now = ContinuousClock.now
                let start = busySince ?? now
                busySince = start
                if now - start < .milliseconds(Int64(busyTimeoutMilliseconds)) {
                    sleep(for: .milliseconds(10))
                    continue
                }
            }
            break
        }
        let totalPages = Int(sqlite3_backup_pagecount(backup))
        sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE else {
            let message = String(cString: sqlite3_errstr(rc))
            let hint = rc & 0xFF == SQLITE_BUSY || rc & 0xFF == SQLITE_LOCKED
                ? "; another process kept the database locked for more than \(busyTimeoutMilliseconds / 1000) s" : ""
            throw StoreError(code: rc & 0xFF == SQLITE_BUSY ? .busy : .database, message: "cannot \(what): \(message)\(hint)", sqliteCode: rc)
        }
        progress?(totalPages, totalPages)
        return steps
    }

    /// Writes a rollback-journal copy of `source`'s database to `path` (temporary file, flush, rename).
    private static func writeCopy(of source: Connection, to path: String, what: String) throws(StoreError) {
        let temporary = path + ".partial-\(getpid())"
        unlink(temporary)
        defer { unlink(temporary) }
        let copy: Connection
        do throws(SQLiteError) {
            copy = try Connection(path: temporary, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        } catch {
            throw StoreError(code: .cannotOpen, message: "cannot \(what) in \(path): \(error.message)", sqliteCode: error.code)
        }
        defer { copy.close() }
        _ = try copyPages(from: source, to: copy, pagesPerStep: -1, pause: .zero, progress: nil, what: "\(what) in \(path)")
        do throws(SQLiteError) {
            _ = try copy.scalarText("PRAGMA journal_mode = DELETE")
        } catch {
            throw StoreError(code: .database, message: "cannot \(what) in \(path): \(error.message)", sqliteCode: error.code)
        }
        copy.close()
        try FileFacts.flush(temporary, what: "\(what) in \(path)")
        guard rename(temporary, path) == 0 else {
            throw StoreError(code: .database, message: "cannot \(what) in \(path): \(FileFacts.reason())")
        }
        FileFacts.flushFolder(of: path)
    }

    /// `PRAGMA integrity_check` as a list of problems (empty when it says "ok").
    static func integrityLines(_ db: Connection) throws(SQLiteError) -> [String] {
        let st = try db.statement("PRAGMA integrity_check(20)")
        defer { st.reset() }
        var lines: [String] = []
        while try st.step() { lines.append(st.text(0)) }
        return lines == ["ok"] ? [] : lines
    }

    private static func integrityProblems(_ db: Connection, what: String) throws(StoreError) -> [String] {
        do throws(SQLiteError) {
            return try integrityLines(db)
        } catch {
            // A file damaged badly enough fails the check itself ("database disk image is malformed").
            if error.primary == SQLITE_CORRUPT || error.primary == SQLITE_NOTADB { return [error.message] }
            throw StoreError(code: .database, message: "cannot \(what): \(error.message)", sqliteCode: error.code)
        }
    }

    /// `20260123T120501Z`: a time for file names.
    private static func compactTime(_ time: Timestamp) -> String {
        let text = time.rfc3339  // 2026-01-23T12:05:01.123Z
        return String(text.prefix(19).filter { $0 != "-" && $0 != ":" }) + "Z"
    }

    private static func sleep(for duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let microseconds = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        if microseconds > 0 { usleep(UInt32(clamping: microseconds)) }
    }
}

/// File-system facts and flushes the backup code needs, with the system's reason on failure.
enum FileFacts {
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// True when both paths name the same existing file (same device and inode).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var x = stat(), y = stat()
        guard stat(a, &x) == 0, stat(b, &y) == 0 else { return false }
        return x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }

    static func reason() -> String { String(cString: strerror(errno)) }

    /// fsync of a file, so its content is on disk before it is renamed into place.
    static func flush(_ path: String, what: String) throws(StoreError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw StoreError(code: .database, message: "cannot \(what): \(reason())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StoreError(code: .database, message: "cannot \(what): \(reason())") }
    }

    /// fsync of the folder holding `path`, so a rename survives a power cut. Best effort: some file systems refuse.
    static func flushFolder(of path: String) {
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let fd = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

import CSQLite

// MARK: Not public
//
// A thin layer over the SQLite C API: one `Connection` per sqlite3 handle, with a cache of persistent prepared
// statements. Nothing here is public: SQL never leaves WharfStore (see DESIGN.md, "Storage").

/// A failure reported by SQLite, before the store adds what it was doing and in which file.
struct SQLiteError: Error {
    /// SQLite's extended result code.
    var code: Int32
    /// sqlite3_errmsg() at the time of the failure.
    var message: String

    /// The primary result code (SQLITE_BUSY for SQLITE_BUSY_SNAPSHOT …).
    var primary: Int32 { code & 0xFF }
}

/// Extended result codes that Swift does not import (they are macro expressions in sqlite3.h).
let sqliteConstraintPrimaryKey: Int32 = SQLITE_CONSTRAINT | (6 << 8)
let sqliteConstraintUnique: Int32 = SQLITE_CONSTRAINT | (8 << 8)

/// Tells SQLite to copy bound text and blobs (they live in Swift buffers that may move).
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection. Not thread-safe by itself: the store hands each connection to one thread at a time (the
/// writer under a mutex, readers through the pool), which is why it may be `@unchecked Sendable` and why it is
/// opened with SQLITE_OPEN_NOMUTEX.
final class Connection: @unchecked Sendable {
    /// The sqlite3 handle; nil once closed.
    private(set) var handle: OpaquePointer?
    /// The database file.
    let path: String
    /// Prepared statements by SQL text, kept for the connection's life (SQLITE_PREPARE_PERSISTENT).
    private var statements: [String: Statement] = [:]
    /// The writer's in-memory record of open inventory snapshots (see `Store.SnapshotMemory`); nil on readers.
    var snapshotMemory: Store.SnapshotMemory?
    /// The element digests the snapshot being finished asks `wharf_element_delivered` about (see `Snapshots`).
    var elementLedger: Store.ElementLedger?

    /// Opens `path` with `flags` (SQLITE_OPEN_*). NOMUTEX and EXRESCODE are always added.
    init(path: String, flags: Int32) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { close() }

    /// Finalizes every cached statement and closes the handle. Safe to call twice.
    func close() {
        for statement in statements.values { statement.finalize() }
        statements = [:]
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// The current error of the connection as a `SQLiteError`.
    func error(_ rc: Int32) -> SQLiteError {
        guard let handle else { return SQLiteError(code: SQLITE_MISUSE, message: "the connection is closed") }
        return SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)))
    }

    /// Runs one or more SQL statements that return no rows (DDL, PRAGMA assignments).
    func execute(_ sql: String) throws(SQLiteError) {
        guard let handle else { throw error(SQLITE_MISUSE) }
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(code: rc, message: text)
        }
    }

    /// The cached prepared statement for `sql`, preparing it on first use. The statement is reset and ready.
    func statement(_ sql: String) throws(SQLiteError) -> Statement {
        if let cached = statements[sql] { return cached }
        guard let handle else { throw error(SQLITE_MISUSE) }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc) }
        let statement = Statement(handle: stmt, connection: self)
        statements[sql] = statement
        return statement
    }

    /// The first column of the first row of `sql`, as an integer (for PRAGMA reads and counts).
    func scalarInt(_ sql: String) throws(SQLiteError) -> Int64 {
        let st = try statement(sql)
        defer { st.reset() }
        return try st.step() ? st.int64(0) : 0
    }

    /// The first column of the first row of `sql`, as text.
    func scalarText(_ sql: String) throws(SQLiteError) -> String? {
        let st = try statement(sql)
        defer { st.reset() }
        return try st.step() ? st.optionalText(0) : nil
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }

    /// The rowid of the last inserted row.
    var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    /// Whether a transaction is open.
    var inTransaction: Bool { handle.map { sqlite3_get_autocommit($0) == 0 } ?? false }

    /// Runs `body` in a transaction: BEGIN IMMEDIATE for writes (takes the write lock up front, so a busy database
    /// fails at BEGIN with the busy timeout rather than midway), plain BEGIN for a consistent read snapshot. Commits
    /// when `body` returns, rolls back when it throws.
    func transaction<T>(immediate: Bool = true, _ body: () throws -> T) throws -> T {
        try statement(immediate ? "BEGIN IMMEDIATE" : "BEGIN").run()
        do {
            let result = try body()
            try statement("COMMIT").run()
            return result
        } catch {
            // ROLLBACK can only fail when SQLite already rolled back by itself (e.g. after SQLITE_FULL).
            if inTransaction { try? statement("ROLLBACK").run() }
            throw error
        }
    }
}

/// A prepared statement. Bind with 1-based indexes, step, read columns with 0-based indexes, reset when done.
final class Statement {
    private(set) var handle: OpaquePointer?
    unowned let connection: Connection

    init(handle: OpaquePointer, connection: Connection) {
        self.handle = handle
        self.connection = connection
    }

    func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    /// Resets the statement so it can run again and releases its read snapshot. Bindings are kept (every caller
    /// binds all parameters before each run).
    func reset() { sqlite3_reset(handle) }

    /// Steps once: true when a row is ready, false when done.
    @inline(__always)
    func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let err = connection.error(rc)
        sqlite3_reset(handle)
        throw err
    }

    /// Runs a statement that returns no rows, then resets it.
    func run() throws(SQLiteError) {
        defer { sqlite3_reset(handle) }
        _ = try step()
    }

    // MARK: Binding

    func bind(_ index: Int32, _ value: String) {
        var value = value
        value.withUTF8 { bytes in bindText(index, bytes) }
    }

    func bind(_ index: Int32, _ value: String?) {
        if let value { bind(index, value) } else { sqlite3_bind_null(handle, index) }
    }

    func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }

    func bind(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    func bind(_ index: Int32, _ value: Bool) { sqlite3_bind_int64(handle, index, value ? 1 : 0) }

    /// Binds raw bytes as TEXT (used for range bounds that are not valid UTF-8 on purpose).
    func bindText(_ index: Int32, bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { bindText(index, $0) }
    }

    func bindBlob(_ index: Int32, _ bytes: [UInt8]?) {
        if let bytes { bindBlob(index, bytes) } else { sqlite3_bind_null(handle, index) }
    }

    func bindBlob(_ index: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            // A zero-length blob still needs a non-NULL pointer, or SQLite binds NULL.
            _ = sqlite3_bind_blob(handle, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count), sqliteTransient)
        }
    }

    private func bindText(_ index: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
        if let base = bytes.baseAddress, bytes.count > 0 {
            base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                _ = sqlite3_bind_text(handle, index, $0, Int32(bytes.count), sqliteTransient)
            }
        } else {
            // A NULL pointer would bind SQL NULL; an empty string needs a real (empty) one.
            _ = sqlite3_bind_text(handle, index, "", 0, sqliteTransient)
        }
    }

    // MARK: Columns

    @inline(__always)
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func optionalInt64(_ column: Int32) -> Int64? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, column)
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(handle, column) else { return "" }
        let n = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    func optionalText(_ column: Int32) -> String? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : text(column)
    }

    /// Calls `body` with the column's UTF-8 bytes, valid only during the call (no String is made).
    func withTextBytes<T>(_ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        guard let p = sqlite3_column_text(handle, column) else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(handle, column))))
    }

    func blob(_ column: Int32) -> [UInt8] {
        guard let p = sqlite3_column_blob(handle, column) else { return [] }
        let n = Int(sqlite3_column_bytes(handle, column))
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}

/// A failure of the store, with a message a person can act on. Messages name the database file.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; switch with a default.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's name ("cannot-open").
        public let rawValue: String
        /// A code named `rawValue`.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's name.
        public var description: String { rawValue }

        /// The database file could not be created or opened (permissions, missing folder, not a database).
        public static let cannotOpen = Code(rawValue: "cannot-open")
        /// The database was written by a newer Wharf: its schema version is higher than this build knows.
        public static let newerSchema = Code(rawValue: "newer-schema")
        /// The file is an SQLite database of some other application.
        public static let notWharfDatabase = Code(rawValue: "not-wharf-database")
        /// A schema migration failed; the database stays at the last version that succeeded.
        public static let migrationFailed = Code(rawValue: "migration-failed")
        /// A caller's argument is out of range (a limit, a batch size, an entity name).
        public static let invalidArgument = Code(rawValue: "invalid-argument")
        /// A value breaks the commerce model's rules (see the message for the field).
        public static let invalidRecord = Code(rawValue: "invalid-record")
        /// A row with the same key already exists.
        public static let conflict = Code(rawValue: "conflict")
        /// The row the operation is about does not exist.
        public static let notFound = Code(rawValue: "not-found")
        /// The database stayed locked by another process for longer than the busy timeout.
        public static let busy = Code(rawValue: "busy")
        /// The database file is full, read-only or corrupt, or another SQLite failure happened.
        public static let database = Code(rawValue: "database")
        /// An operation was called where it is not allowed (no store open for a call, an operation out of order).
        public static let misuse = Code(rawValue: "misuse")
        /// The store was closed.
        public static let closed = Code(rawValue: "closed")
        /// Another process has the database open, and the operation (a restore) needs it to itself.
        public static let databaseInUse = Code(rawValue: "database-in-use")
        /// A database file failed SQLite's integrity check.
        public static let corrupt = Code(rawValue: "corrupt")
    }

    /// What kind of failure this is.
    public var code: Code
    /// One line: what failed, in which database, and why.
    public var message: String
    /// SQLite's extended result code when SQLite reported the failure.
    public var sqliteCode: Int32?

    /// An error.
    public init(code: Code, message: String, sqliteCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.sqliteCode = sqliteCode
    }

    /// The message.
    public var description: String { message }
}

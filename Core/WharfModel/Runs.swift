/// Where a run stands.
public enum RunState: String, Sendable, CaseIterable {
    /// Started and not finished.
    case running
    /// Finished; every record was either stored or rejected.
    case succeeded
    /// Stopped by an error (see the run's `error`).
    case failed
    /// Stopped on request.
    case cancelled
}

/// What started a run.
public enum RunTrigger: String, Sendable, CaseIterable {
    /// A person, from the command line.
    case manual
    /// The scheduler.
    case scheduled
    /// A REST API call.
    case api
    /// A real-time request (a `call` operation).
    case realtime
}

/// What a run did with the records it saw.
public struct RunCounts: Sendable, Hashable {
    /// Records read from the source (stored + rejected).
    public var read: Int64
    /// Records that created a row.
    public var inserted: Int64
    /// Records that changed a row.
    public var updated: Int64
    /// Records identical to what was stored.
    public var unchanged: Int64
    /// Records refused (each stored as a reject).
    public var rejected: Int64

    /// Counts; all zero by default.
    public init(read: Int64 = 0, inserted: Int64 = 0, updated: Int64 = 0, unchanged: Int64 = 0, rejected: Int64 = 0) {
        self.read = read
        self.inserted = inserted
        self.updated = updated
        self.unchanged = unchanged
        self.rejected = rejected
    }

    /// Adds `other` member by member.
    public mutating func add(_ other: RunCounts) {
        read += other.read
        inserted += other.inserted
        updated += other.updated
        unchanged += other.unchanged
        rejected += other.rejected
    }
}

/// One execution of a connector operation (an import, an export, a call).
public struct Run: Sendable, Hashable {
    /// The run's number, increasing, never reused.
    public var id: Int64
    /// The connector's name in the manifest.
    public var connector: String
    /// The id of the plugin that ran.
    public var pluginID: String
    /// What started it.
    public var trigger: RunTrigger
    /// Where it stands.
    public var state: RunState
    /// When it started.
    public var startedAt: Timestamp
    /// When it finished, or nil while running.
    public var finishedAt: Timestamp?
    /// What it did with records.
    public var counts: RunCounts
    /// Why it failed, for failed runs.
    public var error: String?

    /// A run.
    public init(
        id: Int64, connector: String, pluginID: String, trigger: RunTrigger, state: RunState, startedAt: Timestamp,
        finishedAt: Timestamp? = nil, counts: RunCounts = RunCounts(), error: String? = nil
    ) {
        self.id = id
        self.connector = connector
        self.pluginID = pluginID
        self.trigger = trigger
        self.state = state
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.counts = counts
        self.error = error
    }
}

/// Where a record came from: a file and a position in it. Every member is optional.
public struct RecordLocation: Sendable, Hashable {
    /// File name, URL or other source name.
    public var source: String?
    /// 1-based line.
    public var line: Int64?
    /// 1-based column.
    public var column: Int64?
    /// 1-based number of the record in the source.
    public var recordNumber: Int64?

    /// A location; unknown parts are nil.
    public init(source: String? = nil, line: Int64? = nil, column: Int64? = nil, recordNumber: Int64? = nil) {
        self.source = source
        self.line = line
        self.column = column
        self.recordNumber = recordNumber
    }
}

/// A record refused during a run, to be stored.
public struct NewReject: Sendable, Hashable {
    /// The run that saw it.
    public var runID: Int64
    /// The connector's name.
    public var connector: String
    /// Where the record is.
    public var location: RecordLocation
    /// The record's entity, when known.
    public var entity: String?
    /// The field at fault, or nil when the whole record is.
    public var field: String?
    /// Why, as a sentence a person can act on.
    public var reason: String
    /// An excerpt of the raw input. The store keeps at most its first 1024 bytes.
    public var raw: String?

    /// A reject to store.
    public init(
        runID: Int64, connector: String, location: RecordLocation = RecordLocation(), entity: String? = nil,
        field: String? = nil, reason: String, raw: String? = nil
    ) {
        self.runID = runID
        self.connector = connector
        self.location = location
        self.entity = entity
        self.field = field
        self.reason = reason
        self.raw = raw
    }
}

/// A stored reject.
public struct Reject: Sendable, Hashable {
    /// The reject's number, increasing.
    public var id: Int64
    /// The run that saw it.
    public var runID: Int64
    /// The connector's name.
    public var connector: String
    /// Where the record is.
    public var location: RecordLocation
    /// The record's entity, when known.
    public var entity: String?
    /// The field at fault, or nil when the whole record is.
    public var field: String?
    /// Why it was refused.
    public var reason: String
    /// The first 1024 bytes (at most) of the raw input.
    public var raw: String?
    /// When it was stored.
    public var createdAt: Timestamp

    /// A stored reject.
    public init(
        id: Int64, runID: Int64, connector: String, location: RecordLocation, entity: String?, field: String?,
        reason: String, raw: String?, createdAt: Timestamp
    ) {
        self.id = id
        self.runID = runID
        self.connector = connector
        self.location = location
        self.entity = entity
        self.field = field
        self.reason = reason
        self.raw = raw
        self.createdAt = createdAt
    }
}

/// One line a run's plugin logged.
public struct RunLogLine: Sendable, Hashable {
    /// Its id (for paging), 0 before it is stored.
    public var id: Int64
    /// When it was logged.
    public var loggedAt: Timestamp
    /// Its level name ("info").
    public var level: String
    /// The text.
    public var message: String

    /// A log line.
    public init(id: Int64 = 0, loggedAt: Timestamp, level: String, message: String) {
        self.id = id
        self.loggedAt = loggedAt
        self.level = level
        self.message = message
    }
}

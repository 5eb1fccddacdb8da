/// A schedule that cannot be used, with a message a person can act on: what is wrong, where, and what is allowed.
///
/// Messages quote the text as written, so a manifest error can say `connectors[2].schedule: ` and append this
/// message unchanged.
public struct ScheduleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; switch with a default.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's name ("invalid-cron").
        public let rawValue: String
        /// A code named `rawValue`.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's name.
        public var description: String { rawValue }

        /// The cron expression does not parse: wrong field count, an unknown name, a value out of range, a bad step.
        public static let invalidCron = Code(rawValue: "invalid-cron")
        /// The cron expression parses but can never run (`0 0 31 2 *`: February has no 31st).
        public static let impossibleCron = Code(rawValue: "impossible-cron")
        /// The time zone is not an IANA name this system knows.
        public static let unknownTimeZone = Code(rawValue: "unknown-time-zone")
        /// The `every` interval does not parse or is shorter than one second.
        public static let invalidInterval = Code(rawValue: "invalid-interval")
        /// Two jobs handed to the same scheduler share an id.
        public static let duplicateJob = Code(rawValue: "duplicate-job")
    }

    /// What kind of failure this is.
    public var code: Code
    /// For cron errors, the 1-based field the error is in (1 minute … 5 day-of-week); nil otherwise.
    public var field: Int?
    /// One line: what is wrong, where, and what is allowed.
    public var message: String

    /// An error.
    public init(code: Code, field: Int? = nil, message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

import WharfABI

/// A failure a plugin returns to the host: a status code plus a message a person can act on.
///
/// Every operation of a ``WharfPlugin`` may throw; ``PluginExport`` catches the error at the C boundary and hands
/// the host `status` and `message` (through `set_error`). Errors of other types become ``Status/internal`` with
/// their description as the message, so prefer throwing `PluginError` with a message that names what is wrong,
/// where (config key, file, line) and what to do.
public struct PluginError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A `wharf_status` code.
    public struct Status: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The `WHARF_ERR_*` value.
        public let rawValue: Int32
        /// Wraps a raw `wharf_status`.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// `WHARF_ERR_INVALID`: an argument, configuration value or record is invalid.
        public static let invalid = Status(rawValue: WHARF_ERR_INVALID)
        /// `WHARF_ERR_IO`: reading or writing a file, socket or database failed.
        public static let io = Status(rawValue: WHARF_ERR_IO)
        /// `WHARF_ERR_CANCELLED`: the run was cancelled and the plugin stopped early.
        public static let cancelled = Status(rawValue: WHARF_ERR_CANCELLED)
        /// `WHARF_ERR_UNSUPPORTED`: the operation or entity is not supported.
        public static let unsupported = Status(rawValue: WHARF_ERR_UNSUPPORTED)
        /// `WHARF_ERR_REMOTE`: the external system answered with an error.
        public static let remote = Status(rawValue: WHARF_ERR_REMOTE)
        /// `WHARF_ERR_TIMEOUT`: the external system did not answer in time.
        public static let timeout = Status(rawValue: WHARF_ERR_TIMEOUT)
        /// `WHARF_ERR_STATE`: called in a state where it is not allowed.
        public static let state = Status(rawValue: WHARF_ERR_STATE)
        /// `WHARF_ERR_INTERNAL`: a bug or an unexpected condition.
        public static let `internal` = Status(rawValue: WHARF_ERR_INTERNAL)

        /// The status's name, e.g. `"invalid"`.
        public var description: String {
            switch rawValue {
            case WHARF_OK: return "ok"
            case WHARF_ERR_INVALID: return "invalid"
            case WHARF_ERR_IO: return "io"
            case WHARF_ERR_CANCELLED: return "cancelled"
            case WHARF_ERR_UNSUPPORTED: return "unsupported"
            case WHARF_ERR_REMOTE: return "remote"
            case WHARF_ERR_TIMEOUT: return "timeout"
            case WHARF_ERR_STATE: return "state"
            case WHARF_ERR_INTERNAL: return "internal"
            default: return "status \(rawValue)"
            }
        }
    }

    /// The status returned to the host.
    public var status: Status
    /// One line for people: what is wrong, where, and what to do.
    public var message: String

    /// Creates an error with a status and a message.
    public init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }

    /// A configuration, mapping or input problem (`WHARF_ERR_INVALID`).
    public static func invalid(_ message: String) -> PluginError { PluginError(.invalid, message) }
    /// A file, network or storage problem (`WHARF_ERR_IO`).
    public static func io(_ message: String) -> PluginError { PluginError(.io, message) }
    /// The run was cancelled (`WHARF_ERR_CANCELLED`).
    public static func cancelled(_ message: String = "the run was cancelled") -> PluginError {
        PluginError(.cancelled, message)
    }
    /// The operation is not supported (`WHARF_ERR_UNSUPPORTED`).
    public static func unsupported(_ message: String) -> PluginError { PluginError(.unsupported, message) }

    /// The message.
    public var description: String { message }
}

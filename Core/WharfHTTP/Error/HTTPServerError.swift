/// Why an `HTTPServer` could not start. `description` is one line that says what failed and what to do.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    /// A kind of failure; new codes may be added.
    public struct Code: RawRepresentable, Hashable, Sendable {
        /// The code's name.
        public let rawValue: String
        /// Wraps a code name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// Another process (or server) already listens on the address.
        public static let addressInUse = Code(rawValue: "address-in-use")
        /// The process may not bind that port (ports below 1024 need privileges).
        public static let permissionDenied = Code(rawValue: "permission-denied")
        /// The host is not an address of this machine, or does not resolve.
        public static let addressUnavailable = Code(rawValue: "address-unavailable")
        /// The configuration is invalid (port out of range, zero loops, ...).
        public static let invalidConfiguration = Code(rawValue: "invalid-configuration")
        /// `start()` was called on a server that was already started.
        public static let alreadyStarted = Code(rawValue: "already-started")
        /// Another system call failed.
        public static let system = Code(rawValue: "system")
    }

    /// The kind of failure.
    public var code: Code
    /// The whole message, e.g. "cannot listen on 127.0.0.1:8080: address already in use; choose another port
    /// with `listen` in the manifest".
    public var message: String
    /// The errno behind it, when a system call failed.
    public var errno: Int32?

    /// An error with this code and message.
    public init(code: Code, message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// The message.
    public var description: String { message }
}

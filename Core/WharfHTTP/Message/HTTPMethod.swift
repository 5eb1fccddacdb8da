/// An HTTP request method (`GET`, `POST`, ...). Methods are case-sensitive tokens; unknown ones are kept as sent.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The method token exactly as it appears on the request line.
    public let rawValue: String

    /// Wraps a method token. Any token is accepted; the router answers 405 for methods it has no route for.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// `GET`: read a resource.
    public static let GET = HTTPMethod(rawValue: "GET")
    /// `HEAD`: like GET without a body; the router serves it with the GET handler.
    public static let HEAD = HTTPMethod(rawValue: "HEAD")
    /// `POST`: create, or run an action.
    public static let POST = HTTPMethod(rawValue: "POST")
    /// `PUT`: replace a resource.
    public static let PUT = HTTPMethod(rawValue: "PUT")
    /// `PATCH`: change part of a resource.
    public static let PATCH = HTTPMethod(rawValue: "PATCH")
    /// `DELETE`: remove a resource.
    public static let DELETE = HTTPMethod(rawValue: "DELETE")
    /// `OPTIONS`: ask what a resource supports.
    public static let OPTIONS = HTTPMethod(rawValue: "OPTIONS")

    /// The method token.
    public var description: String { rawValue }
}

/// An HTTP protocol version as sent on the request line (`HTTP/1.1` is `major 1, minor 1`).
public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    /// The major version digit.
    public var major: Int
    /// The minor version digit.
    public var minor: Int
    /// Creates a version.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }
    /// `HTTP/1.0`.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// `HTTP/1.1`.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)
    /// `HTTP/<major>.<minor>`.
    public var description: String { "HTTP/\(major).\(minor)" }
}

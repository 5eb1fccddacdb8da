/// One parsed HTTP request, body included (the server reads the whole body, within `maxBodyBytes`, before the
/// responder runs).
public struct HTTPRequest: Sendable {
    /// The request method.
    public var method: HTTPMethod
    /// The request target exactly as sent (path and query, still percent-encoded), e.g. `/v1/products?limit=5`.
    public var target: String
    /// The path part of the target, percent-decoded (`/v1/products/A%20B` becomes `/v1/products/A B`).
    public var path: String
    /// The query parameters, percent-decoded, `+` read as a space. A repeated name keeps its last value.
    public var query: [String: String]
    /// The protocol version from the request line.
    public var version: HTTPVersion
    /// The header fields in arrival order.
    public var headers: HTTPHeaders
    /// The body bytes (de-chunked); empty when the request had none.
    public var body: [UInt8]
    /// The peer as `ip:port` (`[ip]:port` for IPv6).
    public var remoteAddress: String

    /// The path part of the target before percent-decoding; the router matches segments on this form so an
    /// encoded `/` (`%2F`) inside a parameter never splits it.
    public var rawPath: Substring {
        if let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) { return target[..<q] }
        return target[...]
    }

    /// Builds a request from a target such as `/v1/products?limit=5` (path and query are derived from it).
    public init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:],
        body: [UInt8] = [], remoteAddress: String = "127.0.0.1:0"
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        (path, query) = HTTPRequest.splitTarget(target)
    }

    /// A query parameter's decoded value, or nil when absent.
    public func query(_ name: String) -> String? { query[name] }

    /// The body as UTF-8 text (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// Splits an origin-form target into its decoded path and query; cheap when there is nothing to decode.
    static func splitTarget(_ target: String) -> (path: String, query: [String: String]) {
        let utf8 = target.utf8
        guard let q = utf8.firstIndex(of: UInt8(ascii: "?")) else {
            if utf8.contains(UInt8(ascii: "%")) { return (PercentDecoding.decode(target[...], plusAsSpace: false), [:]) }
            return (target, [:])
        }
        let rawPath = target[..<q]
        let path = rawPath.utf8.contains(UInt8(ascii: "%"))
            ? PercentDecoding.decode(rawPath, plusAsSpace: false) : String(rawPath)
        return (path, PercentDecoding.parseQuery(target[utf8.index(after: q)...]))
    }
}

/// Percent-decoding for paths and `application/x-www-form-urlencoded` queries.
enum PercentDecoding {
    /// Decodes `%XX` escapes (malformed escapes are kept literally); `+` becomes a space when `plusAsSpace`.
    static func decode(_ text: Substring, plusAsSpace: Bool) -> String {
        let utf8 = Array(text.utf8)
        var out = [UInt8]()
        out.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            let c = utf8[i]
            if c == UInt8(ascii: "%"), i + 2 < utf8.count, let h = hexValue(utf8[i + 1]), let l = hexValue(utf8[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(plusAsSpace && c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `a=1&b=two%20words`; a name without `=` gets the empty value.
    static func parseQuery(_ query: Substring) -> [String: String] {
        var result: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            if let eq = pair.firstIndex(of: "=") {
                result[decode(pair[..<eq], plusAsSpace: true)] = decode(pair[pair.index(after: eq)...], plusAsSpace: true)
            } else {
                result[decode(pair, plusAsSpace: true)] = ""
            }
        }
        return result
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

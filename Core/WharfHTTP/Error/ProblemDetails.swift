/// An RFC 9457 problem: the body of every error answer (`Content-Type: application/problem+json`).
///
/// Throw one from a route handler to answer with it. `type` is a stable URI a client can branch on; the
/// server's own problems use `https://wharf.dev/problems/<slug>` (see the static constructors).
public struct ProblemDetails: Error, Sendable, CustomStringConvertible {
    /// A stable URI naming the kind of problem.
    public var type: String
    /// A short summary that does not change between occurrences ("Product not found").
    public var title: String
    /// The HTTP status code of the answer.
    public var status: Int
    /// This occurrence in words, for a person ("No product has SKU 'A-1'.").
    public var detail: String?
    /// A URI for this occurrence (usually the request path).
    public var instance: String?
    /// Extra members, in order, after the standard ones (e.g. `("errors", .rawJSON("[...]"))`).
    public var extensions: [(name: String, value: ExtensionValue)]
    /// Extra headers for the answer (e.g. `Allow` on 405, `Retry-After` on 503).
    public var headers: HTTPHeaders

    /// The value of an extension member.
    public enum ExtensionValue: Sendable {
        /// A JSON string.
        case string(String)
        /// A JSON integer.
        case int(Int64)
        /// A JSON boolean.
        case bool(Bool)
        /// JSON text inserted as is; the caller guarantees it is valid JSON.
        case rawJSON(String)
    }

    /// The prefix of every Wharf problem type URI.
    public static let typeBase = "https://wharf.dev/problems/"

    /// A problem with an explicit type URI.
    public init(
        type: String, title: String, status: Int, detail: String? = nil, instance: String? = nil,
        extensions: [(name: String, value: ExtensionValue)] = [], headers: HTTPHeaders = [:]
    ) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.instance = instance
        self.extensions = extensions
        self.headers = headers
    }

    /// A problem whose type is `https://wharf.dev/problems/<slug>`.
    public init(slug: String, title: String, status: Int, detail: String? = nil, instance: String? = nil) {
        self.init(type: ProblemDetails.typeBase + slug, title: title, status: status, detail: detail, instance: instance)
    }

    /// 400 `bad-request`: the request is malformed.
    public static func badRequest(_ detail: String? = nil) -> ProblemDetails {
        ProblemDetails(slug: "bad-request", title: "Bad request", status: 400, detail: detail)
    }
    /// 400 `invalid-field`: a field of the request has an unacceptable value.
    public static func invalidField(_ detail: String) -> ProblemDetails {
        ProblemDetails(slug: "invalid-field", title: "Invalid field", status: 400, detail: detail)
    }
    /// 401 `unauthorized`: credentials are missing or wrong.
    public static func unauthorized(_ detail: String? = nil) -> ProblemDetails {
        ProblemDetails(slug: "unauthorized", title: "Unauthorized", status: 401, detail: detail)
    }
    /// 403 `forbidden`: the credentials do not allow this.
    public static func forbidden(_ detail: String? = nil) -> ProblemDetails {
        ProblemDetails(slug: "forbidden", title: "Forbidden", status: 403, detail: detail)
    }
    /// 404 `not-found`: nothing at this path (or no such resource).
    public static func notFound(_ detail: String? = nil) -> ProblemDetails {
        ProblemDetails(slug: "not-found", title: "Not found", status: 404, detail: detail)
    }
    /// 405 `method-not-allowed` with an `Allow` header listing `allowed`.
    public static func methodNotAllowed(_ method: HTTPMethod, allowed: [HTTPMethod]) -> ProblemDetails {
        var problem = ProblemDetails(
            slug: "method-not-allowed", title: "Method not allowed", status: 405,
            detail: "\(method.rawValue) is not supported here; use one of: \(allowed.map(\.rawValue).joined(separator: ", ")).")
        problem.headers.add(name: "Allow", value: allowed.map(\.rawValue).joined(separator: ", "))
        return problem
    }
    /// 409 `conflict`: the request conflicts with the current state.
    public static func conflict(_ detail: String? = nil) -> ProblemDetails {
        ProblemDetails(slug: "conflict", title: "Conflict", status: 409, detail: detail)
    }
    /// 500 `internal-error`: something failed inside the server; says nothing about what.
    public static func internalError() -> ProblemDetails {
        ProblemDetails(
            slug: "internal-error", title: "Internal server error", status: 500,
            detail: "The server could not complete the request. The failure has been recorded; try again later.")
    }
    /// 503 `unavailable`: the server cannot take the request now.
    public static func unavailable(_ detail: String? = nil) -> ProblemDetails {
        ProblemDetails(slug: "unavailable", title: "Service unavailable", status: 503, detail: detail)
    }

    /// The problem as JSON text: `type`, `title`, `status`, then `detail` and `instance` when set, then extensions.
    public var jsonText: String {
        var out = "{\"type\":"
        JSONEscaping.appendQuoted(type, to: &out)
        out += ",\"title\":"
        JSONEscaping.appendQuoted(title, to: &out)
        out += ",\"status\":\(status)"
        if let detail {
            out += ",\"detail\":"
            JSONEscaping.appendQuoted(detail, to: &out)
        }
        if let instance {
            out += ",\"instance\":"
            JSONEscaping.appendQuoted(instance, to: &out)
        }
        for (name, value) in extensions {
            out += ","
            JSONEscaping.appendQuoted(name, to: &out)
            out += ":"
            switch value {
            case .string(let s): JSONEscaping.appendQuoted(s, to: &out)
            case .int(let i): out += String(i)
            case .bool(let b): out += b ? "true" : "false"
            case .rawJSON(let raw): out += raw
            }
        }
        out += "}"
        return out
    }

    /// The answer: this status, `Content-Type: application/problem+json`, the extra headers, the JSON body.
    public func response() -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/problem+json")
        for field in self.headers { headers.add(name: field.name, value: field.value) }
        return HTTPResponse(status: status, headers: headers, body: Array(jsonText.utf8))
    }

    /// `status title: detail`.
    public var description: String { "\(status) \(title)" + (detail.map { ": \($0)" } ?? "") }
}

/// Minimal JSON string escaping (RFC 8259) for server-generated bodies.
enum JSONEscaping {
    static func appendQuoted(_ s: String, to out: inout String) {
        out += "\""
        var plain = true
        for b in s.utf8 where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
            plain = false
            break
        }
        if plain {
            out += s
        } else {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case let c where c.value < 0x20:
                    let hex = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

/// Maps `(method, path pattern)` to handlers and turns every outcome into a response.
///
/// Patterns are `/`-separated segments; a segment `{name}` captures one non-empty path segment (matched on the
/// still-encoded path, then percent-decoded, so `%2F` stays inside the value). Where several patterns match, the one
/// with a literal segment earliest wins (`/v1/products/search` beats `/v1/products/{sku}`).
///
/// Outcomes: no pattern matches -> 404 `not-found`; a pattern matches but not the method -> 405
/// `method-not-allowed` with `Allow`; HEAD without its own route -> the GET handler, body dropped, its length kept in
/// `Content-Length`; a thrown `ProblemDetails` -> its response; any other error -> 500 `internal-error` that says
/// nothing about the error (pass `errorObserver` to log it).
public struct Router: Sendable {
    /// A route handler. It runs on an event-loop thread or a handler-pool thread (see
    /// `HTTPServerConfiguration.handlerExecution`), so it may block only in pool mode.
    public typealias Handler = @Sendable (HTTPRequest, RouteParameters) throws -> HTTPResponse

    private enum Segment: Sendable {
        case literal(String)
        case parameter(String)
    }

    private struct Entry: Sendable {
        var pattern: String
        var segments: [Segment]
        var methods: [HTTPMethod]
        var handlers: [Handler]
    }

    /// Entries grouped by segment count, each group in registration order.
    private var entriesBySegmentCount: [Int: [Entry]] = [:]
    private var registered: [(method: HTTPMethod, pattern: String)] = []

    /// Called with the request and the error whenever a handler throws something other than `ProblemDetails`
    /// (the client only sees a generic 500). Use it to log the real cause.
    public var errorObserver: (@Sendable (HTTPRequest, any Error) -> Void)?

    /// An empty router: every request gets 404.
    public init() {}

    /// Every registered route, in registration order.
    public var routes: [(method: HTTPMethod, pattern: String)] { registered }

    /// Registers `handler` for `method` on `pattern` (e.g. `"/v1/products/{sku}"`). Registering the same method and
    /// pattern again replaces the handler. A pattern must start with `/`; that is a programming error otherwise.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping Handler) {
        precondition(pattern.hasPrefix("/"), "route pattern '\(pattern)' must start with '/'")
        let segments: [Segment] = Router.split(pattern[...]).map { part in
            if part.hasPrefix("{") && part.hasSuffix("}") && part.count > 2 {
                return .parameter(String(part.dropFirst().dropLast()))
            }
            return .literal(String(part))
        }
        var group = entriesBySegmentCount[segments.count] ?? []
        if let i = group.firstIndex(where: { $0.pattern == pattern }) {
            if let m = group[i].methods.firstIndex(of: method) {
                group[i].handlers[m] = handler
            } else {
                group[i].methods.append(method)
                group[i].handlers.append(handler)
                registered.append((method, pattern))
            }
        } else {
            group.append(Entry(pattern: pattern, segments: segments, methods: [method], handlers: [handler]))
            registered.append((method, pattern))
        }
        entriesBySegmentCount[segments.count] = group
    }

    /// Answers `request`; never throws (see the type's documentation for each outcome).
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        let parts = Router.split(request.rawPath)
        guard let group = entriesBySegmentCount[parts.count] else {
            return notFound(request).response()
        }
        var best: (entry: Int, score: Int)?
        for (index, entry) in group.enumerated() {
            guard let score = Router.match(entry.segments, parts) else { continue }
            if best == nil || score > best!.score { best = (index, score) }
        }
        guard let best else { return notFound(request).response() }
        let entry = group[best.entry]

        var handlerIndex = entry.methods.firstIndex(of: request.method)
        var isHeadViaGet = false
        if handlerIndex == nil && request.method == .HEAD, let get = entry.methods.firstIndex(of: .GET) {
            handlerIndex = get
            isHeadViaGet = true
        }
        guard let handlerIndex else {
            var allowed = entry.methods
            if allowed.contains(.GET) && !allowed.contains(.HEAD) { allowed.insert(.HEAD, at: allowed.firstIndex(of: .GET)! + 1) }
            var problem = ProblemDetails.methodNotAllowed(request.method, allowed: allowed)
            problem.instance = request.path
            return problem.response()
        }

        var parameters = RouteParameters()
        for (i, segment) in entry.segments.enumerated() {
            if case .parameter(let name) = segment {
                let raw = parts[i]
                let value = raw.utf8.contains(UInt8(ascii: "%"))
                    ? PercentDecoding.decode(raw, plusAsSpace: false) : String(raw)
                parameters.storage.append((name: name, value: value))
            }
        }
        var response: HTTPResponse
        do {
            response = try entry.handlers[handlerIndex](request, parameters)
        } catch let problem as ProblemDetails {
            response = problem.response()
        } catch {
            errorObserver?(request, error)
            var problem = ProblemDetails.internalError()
            problem.instance = request.path
            response = problem.response()
        }
        if isHeadViaGet {
            response.headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
            response.body = []
        }
        return response
    }

    // MARK: Not public

    private func notFound(_ request: HTTPRequest) -> ProblemDetails {
        var problem = ProblemDetails.notFound("Nothing is served at \(request.path).")
        problem.instance = request.path
        return problem
    }

    /// `"/a/b"` -> `["a", "b"]`; `"/"` -> `[""]`; `"/a/"` -> `["a", ""]`.
    private static func split(_ path: Substring) -> [Substring] {
        var path = path
        if path.first == "/" { path = path.dropFirst() }
        return path.split(separator: "/", omittingEmptySubsequences: false)
    }

    /// nil when `segments` does not match `parts`; otherwise a score where literals earlier in the path weigh more.
    private static func match(_ segments: [Segment], _ parts: [Substring]) -> Int? {
        var score = 0
        for (i, segment) in segments.enumerated() {
            let part = parts[i]
            score <<= 1
            switch segment {
            case .literal(let literal):
                if part == literal[...] {
                    score |= 1
                } else if part.utf8.contains(UInt8(ascii: "%")), PercentDecoding.decode(part, plusAsSpace: false) == literal {
                    score |= 1
                } else {
                    return nil
                }
            case .parameter:
                if part.isEmpty { return nil }
            }
        }
        return score
    }
}

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

// An HTTP(S) JSON client for connectors: single requests for real-time calls (`HTTPJSONClient`) and paged,
// incremental reads of an export API (`HTTPJSONSource`). Both retry 429/5xx/connection failures with exponential
// backoff and jitter, honour Retry-After, stop after a bounded number of attempts, and never put the secret of the
// auth header into an error or a log line.

// MARK: Configuration

/// How a client retries a request that failed in a way that may pass: HTTP 429, 5xx, or a connection failure.
public struct HTTPRetryPolicy: Sendable, Hashable {
    /// Attempts in all (the first one included); 1 means no retry.
    public var maxAttempts: Int
    /// The wait before the first retry, in seconds; it doubles (× `multiplier`) with every retry.
    public var initialDelay: Double
    /// The longest computed wait between attempts, in seconds.
    public var maxDelay: Double
    /// The factor by which the wait grows.
    public var multiplier: Double
    /// A random share of the wait (0…1) added or taken away, so many clients do not retry in step.
    public var jitter: Double
    /// The longest Retry-After the client waits for, in seconds; a longer one makes it give up at once.
    public var maxRetryAfter: Double
    /// The HTTP statuses that are retried.
    public var retryStatuses: Set<Int>

    /// A policy; the defaults suit an export API (5 attempts, 0.5 s doubling up to 30 s, ±20 % jitter).
    public init(
        maxAttempts: Int = 5, initialDelay: Double = 0.5, maxDelay: Double = 30, multiplier: Double = 2,
        jitter: Double = 0.2, maxRetryAfter: Double = 120, retryStatuses: Set<Int> = [408, 429, 500, 502, 503, 504]
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = max(0, initialDelay)
        self.maxDelay = max(0, maxDelay)
        self.multiplier = max(1, multiplier)
        self.jitter = min(1, max(0, jitter))
        self.maxRetryAfter = max(0, maxRetryAfter)
        self.retryStatuses = retryStatuses
    }

    /// The backoff before retry number `retry` (1 = the first retry), jitter included, in seconds.
    public func backoff(retry: Int, random: Double = Double.random(in: -1...1)) -> Double {
        let base = min(maxDelay, initialDelay * pow(multiplier, Double(max(0, retry - 1))))
        return max(0, base * (1 + jitter * random))
    }
}

/// The header that carries a credential. The value is a secret: it is sent, never printed.
public struct HTTPAuth: Sendable, CustomStringConvertible {
    /// The header name (`Authorization`, `X-Api-Key`).
    public var header: String
    /// The full header value (`Bearer abc…`). Never log it.
    public var value: String
    /// The secret part of `value`, removed from every message the client writes.
    var secret: String

    /// An auth header: `header: prefix + secret` (e.g. `Authorization: Bearer <token>`).
    public init(header: String = "Authorization", prefix: String = "Bearer ", secret: String) {
        self.header = header
        self.value = prefix + secret
        self.secret = secret
    }

    /// Names the header only.
    public var description: String { "\(header): (secret)" }

    /// Reads `{ header: "Authorization", scheme: "Bearer", secret: "env:CPQ_TOKEN" }` at `path` in a config and
    /// resolves the secret through the host (`context.secret`). `scheme` may be `""` (the header is the secret
    /// alone); `"Basic"` expects the secret to be `user:password` and encodes it.
    public static func parse(_ json: JSON, path: String, context: PluginContext) throws(PluginError) -> HTTPAuth {
        try parse(json, path: path) { reference throws(PluginError) in try context.secret(reference) }
    }

    /// As ``parse(_:path:context:)`` with a resolver for the secret reference (for tests and `check`).
    public static func parse(
        _ json: JSON, path: String, resolve: (String) throws(PluginError) -> String
    ) throws(PluginError) -> HTTPAuth {
        guard case .object(let object) = json else {
            throw PluginError.invalid("\(path) must be an object like { header: \"Authorization\", scheme: \"Bearer\", secret: \"env:NAME\" }, found \(json.kindName)")
        }
        for key in object.keys where !["header", "scheme", "secret"].contains(key) {
            throw PluginError.invalid("\(path).\(key) is not a known key; use header, scheme, secret")
        }
        guard let reference = object["secret"]?.stringValue, !reference.isEmpty else {
            throw PluginError.invalid("\(path).secret is required: a secret reference like \"env:CPQ_TOKEN\" (the value itself never goes in a manifest)")
        }
        guard reference.contains(":") else {
            throw PluginError.invalid("\(path).secret must be a secret reference like \"env:NAME\", not a literal value")
        }
        let header = object["header"]?.stringValue ?? "Authorization"
        guard !header.isEmpty, header.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
            throw PluginError.invalid("\(path).header must be a header name like \"Authorization\", found \"\(header)\"")
        }
        let scheme = object["scheme"]?.stringValue ?? "Bearer"
        let secret = try resolve(reference)
        if scheme.lowercased() == "basic" {
            let encoded = Data(secret.utf8).base64EncodedString()
            var auth = HTTPAuth(header: header, prefix: "Basic ", secret: encoded)
            auth.secret = secret
            auth.value = "Basic " + encoded
            return auth
        }
        return HTTPAuth(header: header, prefix: scheme.isEmpty ? "" : scheme + " ", secret: secret)
    }
}

// MARK: Requests and responses

/// One HTTP response as the client received it.
public struct HTTPJSONResponse: Sendable {
    /// The status code.
    public var status: Int
    /// The header fields (names as the server sent them).
    public var headers: [(name: String, value: String)]
    /// The body.
    public var body: [UInt8]
    /// The URL that answered (after redirects).
    public var url: String

    /// Creates a response.
    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8], url: String) {
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as JSON; an empty body is `null`.
    public func json() throws(HTTPSourceError) -> JSON {
        if body.allSatisfy({ $0 == 32 || $0 == 10 || $0 == 13 || $0 == 9 }) { return .null }
        let result = body.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONError) -> JSON in try JSON.parse(buffer) }
        }
        switch result {
        case .success(let value): return value
        case .failure(let error):
            throw HTTPSourceError(
                .invalidResponse, method: nil, url: url, status: status,
                message: "the response is not valid JSON (\(error))", bodyExcerpt: HTTPSourceError.excerpt(body))
        }
    }
}

/// Why a request failed for good: what was asked (method, URL), what came back (status, start of the body) and
/// how many attempts were made. The auth secret never appears in it.
public struct HTTPSourceError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's name.
        public let rawValue: String
        /// Wraps a name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The server answered with a status that is not 2xx (and not retried, or retried too often).
        public static let status = Code(rawValue: "status")
        /// No connection, or it broke (after retries).
        public static let connection = Code(rawValue: "connection")
        /// No answer within the timeout (after retries).
        public static let timeout = Code(rawValue: "timeout")
        /// The answer could not be used (not JSON, items not where the mapping says).
        public static let invalidResponse = Code(rawValue: "invalid-response")
        /// The configuration or a URL is wrong.
        public static let invalidRequest = Code(rawValue: "invalid-request")
        /// The name.
        public var description: String { rawValue }
    }

    /// What kind of failure.
    public var code: Code
    /// The method (`GET`), when a request was made.
    public var method: String?
    /// The URL asked for.
    public var url: String
    /// The last HTTP status, or nil when none came.
    public var status: Int?
    /// What went wrong, in words.
    public var message: String
    /// The start of the last response body (up to 300 characters), for people to see what the server said.
    public var bodyExcerpt: String?
    /// Attempts made.
    public var attempts: Int
    /// The Retry-After the server asked for last, in seconds, if any.
    public var retryAfter: Double?

    /// Creates an error.
    public init(
        _ code: Code, method: String?, url: String, status: Int? = nil, message: String, bodyExcerpt: String? = nil,
        attempts: Int = 1, retryAfter: Double? = nil
    ) {
        self.code = code
        self.method = method
        self.url = url
        self.status = status
        self.message = message
        self.bodyExcerpt = bodyExcerpt
        self.attempts = attempts
        self.retryAfter = retryAfter
    }

    /// One line: `GET https://cpq.example/prices?page=3 failed after 5 attempts: HTTP 503 …; body: "…"`.
    public var description: String {
        var text = method.map { "\($0) \(url)" } ?? url
        text += attempts > 1 ? " failed after \(attempts) attempts: " : " failed: "
        if let status { text += "HTTP \(status), " }
        text += message
        if let bodyExcerpt, !bodyExcerpt.isEmpty { text += "; body: \"\(bodyExcerpt)\"" }
        return text
    }

    /// The matching plugin error (timeouts → `timeout`, connection → `io`, the rest → `remote`/`invalid`).
    public var pluginError: PluginError {
        switch code {
        case .timeout: return PluginError(.timeout, description)
        case .connection: return PluginError(.io, description)
        case .invalidRequest: return PluginError(.invalid, description)
        default: return PluginError(.remote, description)
        }
    }

    static func excerpt(_ body: [UInt8], limit: Int = 300) -> String {
        let text = String(decoding: body.prefix(limit * 4), as: UTF8.self)
        let cleaned = String(text.unicodeScalars.map { $0.value < 32 ? " " : Character($0) })
        return cleaned.count > limit ? String(cleaned.prefix(limit)) + "…" : cleaned
    }
}

/// A request to send with ``HTTPJSONClient/send(_:)``.
public struct HTTPJSONRequest: Sendable {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    public var method: String
    /// A path relative to the client's base URL (`"/v2/accounts"`), or an absolute URL on the same origin.
    public var path: String
    /// Query parameters, in order (percent-encoded by the client).
    public var query: [(name: String, value: String)]
    /// Extra header fields.
    public var headers: [(name: String, value: String)]
    /// The body (sent with `Content-Type: application/json` unless `headers` set one).
    public var body: [UInt8]?
    /// Whether a failure may be retried. POSTs that create something should only be retried when the server
    /// deduplicates them (an idempotency key); the default is true for GET/PUT/DELETE and false for POST/PATCH.
    public var retryable: Bool

    /// A request.
    public init(
        method: String = "GET", path: String, query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)] = [], body: [UInt8]? = nil, retryable: Bool? = nil
    ) {
        self.method = method.uppercased()
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.retryable = retryable ?? !["POST", "PATCH"].contains(method.uppercased())
    }
}

// MARK: Client

/// An HTTP(S) client for one external system (one base URL): sends requests with the auth header, a timeout per
/// attempt and retries with backoff; throws ``HTTPSourceError`` when it gives up. Thread-safe; reuse one per
/// connector. Built on URLSession (FoundationNetworking), so `https` works.
public final class HTTPJSONClient: Sendable {
    /// The base URL (`https://cpq.example.com/api`), without a trailing slash.
    public let baseURL: String
    /// The timeout of one attempt, in seconds.
    public let timeout: Double
    /// The retry policy.
    public let retry: HTTPRetryPolicy
    /// Header fields sent with every request (besides auth).
    public let defaultHeaders: [(name: String, value: String)]

    private let auth: HTTPAuth?
    private let origin: String
    private let session: URLSession
    private let log: (@Sendable (LogLevel, String) -> Void)?
    private let sleep: @Sendable (Double) -> Void

    /// A client for `baseURL` (`http` or `https`). `log` receives one line per retry (secrets removed); `sleep` is
    /// the wait between attempts (replace it in tests that check the waits).
    public init(
        baseURL: String, auth: HTTPAuth? = nil, defaultHeaders: [(name: String, value: String)] = [],
        timeout: Double = 30, retry: HTTPRetryPolicy = HTTPRetryPolicy(),
        log: (@Sendable (LogLevel, String) -> Void)? = nil,
        sleep: @escaping @Sendable (Double) -> Void = { seconds in
            if seconds > 0 { Thread.sleep(forTimeInterval: seconds) }
        }
    ) throws(HTTPSourceError) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let components = URLComponents(string: base), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw HTTPSourceError(.invalidRequest, method: nil, url: baseURL, message: "the base URL must be an absolute http:// or https:// URL")
        }
        guard timeout > 0 else {
            throw HTTPSourceError(.invalidRequest, method: nil, url: base, message: "the timeout must be more than 0 seconds, not \(timeout)")
        }
        self.baseURL = base
        self.auth = auth
        self.defaultHeaders = defaultHeaders
        self.timeout = timeout
        self.retry = retry
        self.log = log
        self.sleep = sleep
        self.origin = Self.origin(of: components)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpMaximumConnectionsPerHost = 4
        self.session = URLSession(configuration: configuration)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    /// GETs `path` and parses the JSON answer (retrying as the policy says).
    public func getJSON(_ path: String, query: [(name: String, value: String)] = []) throws(HTTPSourceError) -> JSON {
        try send(HTTPJSONRequest(method: "GET", path: path, query: query)).json()
    }

    /// POSTs a JSON body to `path` and parses the JSON answer. Not retried unless `retryable` (see
    /// ``HTTPJSONRequest/retryable``).
    public func postJSON(
        _ path: String, body: JSON, headers: [(name: String, value: String)] = [], retryable: Bool = false
    ) throws(HTTPSourceError) -> JSON {
        try send(HTTPJSONRequest(method: "POST", path: path, headers: headers, body: Array(body.jsonText.utf8), retryable: retryable)).json()
    }

    /// Sends a request and returns the 2xx response; retries 429/5xx/connection failures as the policy says and
    /// throws ``HTTPSourceError`` for any other status or when the attempts run out.
    public func send(_ request: HTTPJSONRequest) throws(HTTPSourceError) -> HTTPJSONResponse {
        let url = try makeURL(request.path, query: request.query, method: request.method)
        let shown = redact(url.absoluteString)
        var attempt = 0
        while true {
            attempt += 1
            let outcome = perform(request, url: url)
            var maxAttempts = request.retryable ? retry.maxAttempts : 1
            var wait: Double
            var retryAfter: Double?
            var failure: HTTPSourceError
            switch outcome {
            case .response(let response) where (200..<300).contains(response.status):
                return response
            case .response(let response):
                retryAfter = response.header("Retry-After").flatMap { Self.parseRetryAfter($0, now: Date()) }
                failure = HTTPSourceError(
                    .status, method: request.method, url: shown, status: response.status,
                    message: Self.reason(response.status), bodyExcerpt: redact(HTTPSourceError.excerpt(response.body)),
                    attempts: attempt, retryAfter: retryAfter)
                guard retry.retryStatuses.contains(response.status) else { throw failure }
                wait = retryAfter ?? retry.backoff(retry: attempt)
            case .failure(let code, let message):
                failure = HTTPSourceError(code, method: request.method, url: shown, message: redact(message), attempts: attempt)
                guard code == .connection || code == .timeout else { throw failure }
                wait = retry.backoff(retry: attempt)
                if !request.retryable, attempt == 1, Self.wasNeverSent(message) {
                    // libcurl could not even write the request (a kept-alive connection the server had already
                    // closed): nobody received it, so sending it once more on a fresh connection cannot make a
                    // duplicate, even for a POST.
                    maxAttempts = 2
                    wait = 0
                }
            }
            guard attempt < maxAttempts else {
                if maxAttempts > 1 { failure.message += "; gave up after \(attempt) attempts" }
                throw failure
            }
            if let retryAfter, retryAfter > retry.maxRetryAfter {
                failure.message += "; the server asked to wait \(Int(retryAfter)) s (Retry-After), more than the \(Int(retry.maxRetryAfter)) s allowed"
                throw failure
            }
            wait = min(wait, max(retry.maxDelay, retryAfter ?? 0))
            let why = failure.status.map { "HTTP \($0)" } ?? failure.message
            log?(.warning, "\(request.method) \(shown): \(why); retrying in \(String(format: "%.2f", wait)) s (attempt \(attempt + 1) of \(maxAttempts))")
            sleep(wait)
        }
    }

    /// Whether a connection failure happened while the request was being written (libcurl's "Send failure"): the
    /// server cannot have received a complete request.
    static func wasNeverSent(_ message: String) -> Bool {
        message.contains("Send failure")
    }

    /// Parses a Retry-After value: delay seconds (`"120"`) or an HTTP date (`"Wed, 21 Oct 2015 07:28:00 GMT"`);
    /// nil when it is neither. A date in the past is 0.
    public static func parseRetryAfter(_ value: String, now: Date) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed) { return seconds >= 0 ? Double(seconds) : nil }
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: trimmed) { return max(0, date.timeIntervalSince(now)) }
        }
        return nil
    }

    /// Resolves `path` (relative, or absolute on the same origin) against the base URL and adds `query`.
    public func url(for path: String, query: [(name: String, value: String)] = []) throws(HTTPSourceError) -> String {
        try makeURL(path, query: query, method: nil).absoluteString
    }

    /// Removes the auth secret from `text` (for messages built from server answers).
    public func redact(_ text: String) -> String {
        guard let auth else { return text }
        var result = text
        for secret in [auth.value, auth.secret] where secret.count >= 4 {
            result = result.replacingOccurrences(of: secret, with: "(secret)")
        }
        return result
    }

    // MARK: Not public

    private enum Outcome {
        case response(HTTPJSONResponse)
        case failure(HTTPSourceError.Code, String)
    }

    private final class Box: Sendable {
        let value = Mutex<Outcome?>(nil)
    }

    private func perform(_ request: HTTPJSONRequest, url: URL) -> Outcome {
        var urlRequest = URLRequest(url: url)
        urlRequest.httpMethod = request.method
        urlRequest.timeoutInterval = timeout
        urlRequest.setValue("application/json", forHTTPHeaderField: "Accept")
        urlRequest.setValue("wharf", forHTTPHeaderField: "User-Agent")
        if request.body != nil { urlRequest.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        for header in defaultHeaders + request.headers { urlRequest.setValue(header.value, forHTTPHeaderField: header.name) }
        // Credentials go only to the origin the manifest names, never to another host a next link points at.
        if let auth, Self.origin(of: URLComponents(url: url, resolvingAgainstBaseURL: false)) == origin {
            urlRequest.setValue(auth.value, forHTTPHeaderField: auth.header)
        }
        if let body = request.body { urlRequest.httpBody = Data(body) }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: urlRequest) { data, response, error in
            let outcome: Outcome
            if let http = response as? HTTPURLResponse, error == nil {
                var headers: [(name: String, value: String)] = []
                for (name, value) in http.allHeaderFields {
                    headers.append((name: "\(name)", value: "\(value)"))
                }
                outcome = .response(HTTPJSONResponse(
                    status: http.statusCode, headers: headers, body: data.map { Array($0) } ?? [],
                    url: http.url?.absoluteString ?? url.absoluteString))
            } else if let error = error as? URLError {
                outcome = Self.classify(error)
            } else if let error {
                outcome = .failure(.connection, "\(error.localizedDescription)")
            } else {
                outcome = .failure(.invalidResponse, "no HTTP response")
            }
            box.value.withLock { $0 = outcome }
            done.signal()
        }
        task.resume()
        // URLSession's timeout on Linux is an idle timeout; this bounds the whole attempt.
        if done.wait(timeout: .now() + timeout + 1) == .timedOut {
            task.cancel()
            _ = done.wait(timeout: .now() + 5)
            return .failure(.timeout, "no complete answer within \(Self.seconds(timeout))")
        }
        return box.value.withLock { $0 } ?? .failure(.connection, "the request ended without an answer")
    }

    private static func classify(_ error: URLError) -> Outcome {
        switch error.code {
        case .timedOut: return .failure(.timeout, "no answer within the timeout")
        case .cannotConnectToHost, .networkConnectionLost, .notConnectedToInternet, .cannotFindHost,
            .dnsLookupFailed, .badServerResponse, .resourceUnavailable:
            return .failure(.connection, "connection failed (\(error.localizedDescription), code \(error.code.rawValue))")
        case .cancelled: return .failure(.timeout, "no answer within the timeout (request cancelled)")
        default:
            return .failure(.connection, "request failed (\(error.localizedDescription), code \(error.code.rawValue))")
        }
    }

    private func makeURL(_ path: String, query: [(name: String, value: String)], method: String?) throws(HTTPSourceError) -> URL {
        let text: String
        if path.hasPrefix("http://") || path.hasPrefix("https://") {
            text = path
        } else if path.isEmpty {
            text = baseURL
        } else if path.hasPrefix("/") {
            text = baseURL + path
        } else {
            text = baseURL + "/" + path
        }
        guard var components = URLComponents(string: text), components.host != nil else {
            throw HTTPSourceError(.invalidRequest, method: method, url: redact(text), message: "not a valid URL")
        }
        if !query.isEmpty {
            var items = components.queryItems ?? []
            for item in query {
                items.removeAll { $0.name == item.name }
                items.append(URLQueryItem(name: item.name, value: item.value))
            }
            components.queryItems = items
            // URLComponents leaves '+' alone, which servers read as a space (a timestamp's offset would break).
            components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        }
        guard let url = components.url else {
            throw HTTPSourceError(.invalidRequest, method: method, url: redact(text), message: "not a valid URL")
        }
        return url
    }

    private static func origin(of components: URLComponents?) -> String {
        guard let components, let scheme = components.scheme?.lowercased(), let host = components.host?.lowercased() else {
            return ""
        }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        let defaultPort = scheme == "https" ? 443 : 80
        return port == defaultPort ? "\(scheme)://\(host)" : "\(scheme)://\(host):\(port)"
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 400: return "the server refused the request as malformed (400)"
        case 401: return "the server refused the credentials (401); check the secret the auth header uses"
        case 403: return "the credentials may not do this (403)"
        case 404: return "not found (404)"
        case 408: return "the server timed out waiting for the request (408)"
        case 409: return "conflict (409)"
        case 422: return "the server refused the content (422)"
        case 429: return "too many requests (429)"
        case 500..<600: return "the server failed (\(status))"
        default: return "unexpected status \(status)"
        }
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }
}

// MARK: Paged source

/// How an export API splits its answer into pages.
public enum HTTPPaging: Sendable, Hashable {
    /// `?offset=0&limit=100`, then `offset=100`, …; ends at a short or empty page.
    case offset(offsetParameter: String = "offset", limitParameter: String = "limit", pageSize: Int = 100)
    /// `?page=1&per_page=100`, then `page=2`, …; ends at a short or empty page.
    case page(pageParameter: String = "page", sizeParameter: String = "per_page", pageSize: Int = 100, firstPage: Int = 1)
    /// `?cursor=…` with the cursor for the next page read from `nextPath` in each answer; ends when it is absent,
    /// null or empty.
    case cursor(parameter: String = "cursor", nextPath: String = "next_cursor")
    /// The next page's URL read from `nextPath` in each answer (relative or absolute, same origin); ends when it is
    /// absent, null or empty.
    case nextLink(nextPath: String = "next")
    /// One request, no paging.
    case none

    /// Reads paging from a connector config object at `path`:
    /// `{ mode: "offset" | "page" | "cursor" | "next-link" | "none", pageSize, offsetParameter, limitParameter,
    /// pageParameter, sizeParameter, firstPage, cursorParameter, next }`.
    public static func parse(_ json: JSON?, path: String) throws(PluginError) -> HTTPPaging {
        guard let json else { return .none }
        guard case .object(let object) = json else {
            throw PluginError.invalid("\(path) must be an object like { mode: \"offset\", pageSize: 100 }, found \(json.kindName)")
        }
        let known = ["mode", "pageSize", "offsetParameter", "limitParameter", "pageParameter", "sizeParameter", "firstPage", "cursorParameter", "next"]
        for key in object.keys where !known.contains(key) {
            throw PluginError.invalid("\(path).\(key) is not a known paging key; use \(known.joined(separator: ", "))")
        }
        func text(_ key: String, _ fallback: String) throws(PluginError) -> String {
            guard let value = object[key] else { return fallback }
            guard let string = value.stringValue, !string.isEmpty else {
                throw PluginError.invalid("\(path).\(key) must be a non-empty string, found \(value.kindName)")
            }
            return string
        }
        func number(_ key: String, _ fallback: Int, _ range: ClosedRange<Int>) throws(PluginError) -> Int {
            guard let value = object[key] else { return fallback }
            guard let int = value.intValue, range.contains(int) else {
                throw PluginError.invalid("\(path).\(key) must be a whole number in \(range.lowerBound)...\(range.upperBound), found \(value.scalarText ?? value.kindName)")
            }
            return int
        }
        let mode = object["mode"]?.stringValue ?? "none"
        switch mode {
        case "offset":
            return .offset(
                offsetParameter: try text("offsetParameter", "offset"), limitParameter: try text("limitParameter", "limit"),
                pageSize: try number("pageSize", 100, 1...10_000))
        case "page":
            return .page(
                pageParameter: try text("pageParameter", "page"), sizeParameter: try text("sizeParameter", "per_page"),
                pageSize: try number("pageSize", 100, 1...10_000), firstPage: try number("firstPage", 1, 0...1))
        case "cursor":
            return .cursor(parameter: try text("cursorParameter", "cursor"), nextPath: try text("next", "next_cursor"))
        case "next-link":
            return .nextLink(nextPath: try text("next", "next"))
        case "none":
            return .none
        default:
            throw PluginError.invalid("\(path).mode must be \"offset\", \"page\", \"cursor\", \"next-link\" or \"none\", found \"\(object["mode"]?.scalarText ?? object["mode"]?.kindName ?? "")\"")
        }
    }
}

/// One page an ``HTTPJSONSource`` read.
public struct HTTPJSONPage: Sendable {
    /// The page's number, from 1.
    public var number: Int
    /// The URL it came from (secrets removed).
    public var url: String
    /// The items found at the source's `itemsPath`.
    public var items: [JSON]
    /// The whole parsed answer (for totals or other metadata).
    public var document: JSON
    /// The index of the first item of this page across all pages (0 for the first page).
    public var firstItemIndex: Int
}

/// Reads a paged JSON export: `GET path?…` page after page, items taken from `itemsPath`, optionally only what
/// changed since a watermark (`modifiedSince`). Retries and timeouts are the client's.
///
/// ```swift
/// let source = HTTPJSONSource(client: client, path: "/price-lists", paging: .cursor(), itemsPath: "data",
///                             modifiedSince: ("updated_since", context.cursor))
/// try source.forEachPage { page in for item in page.items { … }; return true }
/// ```
public struct HTTPJSONSource: Sendable {
    /// The client that sends the requests.
    public let client: HTTPJSONClient
    /// The path of the first page (relative to the client's base URL).
    public let path: String
    /// Fixed query parameters sent with every page.
    public let query: [(name: String, value: String)]
    /// How the answer is split into pages.
    public let paging: HTTPPaging
    /// Where the items array is in each answer (dotted object keys, `""` = the answer is the array).
    public let itemsPath: String
    /// The modified-since parameter name and value (nil value: a full read).
    public let modifiedSince: (parameter: String, value: String?)?
    /// A bound on pages read, so a server that never stops paging cannot loop the connector forever.
    public let maxPages: Int

    /// A source.
    public init(
        client: HTTPJSONClient, path: String, query: [(name: String, value: String)] = [], paging: HTTPPaging,
        itemsPath: String = "", modifiedSince: (parameter: String, value: String?)? = nil, maxPages: Int = 100_000
    ) {
        self.client = client
        self.path = path
        self.query = query
        self.paging = paging
        self.itemsPath = itemsPath
        self.modifiedSince = modifiedSince
        self.maxPages = max(1, maxPages)
    }

    /// Reads pages in order and hands each to `body`, which returns false to stop. Returns the number of pages
    /// read. Throws the client's ``HTTPSourceError`` (or what `body` throws).
    @discardableResult
    public func forEachPage(_ body: (HTTPJSONPage) throws -> Bool) throws -> Int {
        var baseQuery = query
        if let modifiedSince, let value = modifiedSince.value, !value.isEmpty {
            baseQuery.append((name: modifiedSince.parameter, value: value))
        }
        var nextPath: String? = path
        var nextQuery = baseQuery
        var pageNumber = 0
        var itemIndex = 0
        var seenLinks: Set<String> = []
        while let current = nextPath {
            pageNumber += 1
            guard pageNumber <= maxPages else {
                throw HTTPSourceError(.invalidResponse, method: "GET", url: client.redact(try client.url(for: current, query: nextQuery)),
                                      message: "more than \(maxPages) pages; the server's paging never ended")
            }
            switch paging {
            case .offset(let offsetParameter, let limitParameter, let size):
                nextQuery = baseQuery + [(offsetParameter, String(itemIndex)), (limitParameter, String(size))]
            case .page(let pageParameter, let sizeParameter, let size, let first):
                nextQuery = baseQuery + [(pageParameter, String(first + pageNumber - 1)), (sizeParameter, String(size))]
            default: break
            }
            let response = try client.send(HTTPJSONRequest(method: "GET", path: current, query: nextQuery))
            let shown = client.redact(response.url)
            let document = try response.json()
            let items = try Self.items(in: document, at: itemsPath, url: shown)
            let page = HTTPJSONPage(number: pageNumber, url: shown, items: items, document: document, firstItemIndex: itemIndex)
            itemIndex += items.count
            guard try body(page) else { return pageNumber }
            switch paging {
            case .offset(_, _, let size), .page(_, _, let size, _):
                nextPath = items.count < size || items.isEmpty ? nil : path
            case .cursor(let parameter, let next):
                if let cursor = document.value(atPath: next)?.scalarText, !cursor.isEmpty {
                    guard seenLinks.insert(cursor).inserted else {
                        throw HTTPSourceError(.invalidResponse, method: "GET", url: shown, message: "the next cursor \"\(cursor)\" repeats an earlier one; the paging would never end")
                    }
                    nextQuery = baseQuery + [(parameter, cursor)]
                } else {
                    nextPath = nil
                }
            case .nextLink(let next):
                if let link = document.value(atPath: next)?.stringValue, !link.isEmpty {
                    guard seenLinks.insert(link).inserted else {
                        throw HTTPSourceError(.invalidResponse, method: "GET", url: shown, message: "the next link \"\(client.redact(link))\" repeats an earlier one; the paging would never end")
                    }
                    // A link is a URL reference: resolve it against the page it came from.
                    nextPath = URL(string: link, relativeTo: URL(string: response.url))?.absoluteString ?? link
                    nextQuery = []
                } else {
                    nextPath = nil
                }
            case .none:
                nextPath = nil
            }
        }
        return pageNumber
    }

    /// The items array at `path` in `document` (`""` = the document itself).
    static func items(in document: JSON, at path: String, url: String) throws(HTTPSourceError) -> [JSON] {
        let found = path.isEmpty ? document : document.value(atPath: path)
        guard let value = found else {
            throw HTTPSourceError(.invalidResponse, method: "GET", url: url, message: "the answer has no \"\(path)\" (where the items array should be); check itemsPath")
        }
        switch value {
        case .array(let items): return items
        case .null: return []
        default:
            throw HTTPSourceError(.invalidResponse, method: "GET", url: url, message: "\(path.isEmpty ? "the answer" : "\"\(path)\"") is \(value.kindName), not the items array; check itemsPath")
        }
    }
}

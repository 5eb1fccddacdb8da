import Foundation
import Synchronization
import WharfAuth
import WharfHTTP
import WharfModel
import WharfStore

/// Checks the API key on a request against the scope its route needs, and throttles clients that keep failing.
///
/// Keys are read from `Authorization: Bearer <key>` or `X-API-Key: <key>`. The stored record for a key id is cached
/// for a few seconds so a busy storefront does not hit the database for every request; a revoked key stops working
/// within that time, an expired one at its expiry time exactly.
///
/// A client address whose presented keys fail too often (by default 20 times within a minute) is answered 429 with
/// `Retry-After` for a while (by default a minute) on every route that needs a key, before its key is even looked
/// at; other addresses are not affected. Requests without any key do not count: they guess nothing. Requests from
/// this machine count against the address a local proxy forwards in `X-Forwarded-For`, and are not throttled
/// without one (see `AuthenticationThrottle`).
final class Authenticator: Sendable {
    private let store: Store
    private let cacheSeconds: Int64
    private let cache = Mutex<[String: (record: APIKeyRecord?, expires: Int64)]>([:])
    /// Failed authentications per client address.
    let throttle: AuthenticationThrottle

    init(store: Store, cacheSeconds: Int64 = 5, throttle: AuthenticationThrottle = AuthenticationThrottle()) {
        self.store = store
        self.cacheSeconds = cacheSeconds
        self.throttle = throttle
    }

    /// Returns normally when the request carries a valid key that grants `scope`; throws 401, 403 or 429
    /// otherwise.
    func authorize(_ request: HTTPRequest, scope: Scope) throws(ProblemDetails) {
        guard let presented = Self.presentedKey(request) else {
            throw Problems.unauthorized("this route needs an API key with scope \(scope); send it as `Authorization: Bearer <key>`")
        }
        // Who the client is matters only while someone is blocked, or after a failure: not on the hot path.
        func client() -> String? {
            AuthenticationThrottle.client(remoteAddress: request.remoteAddress, forwardedFor: request.headers["X-Forwarded-For"])
        }
        if throttle.isBlockingAnyone(), let client = client(), let wait = throttle.retryAfter(client: client) {
            throw tooManyFailures(wait)
        }
        let now = Timestamp.now()
        var outcome = APIKeyCheck.mismatch
        var found: APIKeyRecord?
        if let id = APIKeys.keyID(fromPresented: presented), let record = try lookup(id, now: now.millisecondsSinceEpoch) {
            outcome = APIKeys.check(presented: presented, against: record, now: now)
            found = record
        }
        guard outcome == .valid, let record = found else {
            if let client = client() { throttle.recordFailure(client: client) }
            switch outcome {
            case .expired(let at):
                throw Problems.unauthorized("API key '\(found?.id ?? "")' expired at \(at.rfc3339); create a new one with `wharf keys create --expires …`")
            case .revoked(let at):
                throw Problems.unauthorized("API key '\(found?.id ?? "")' was revoked at \(at.rfc3339); create a new one with `wharf keys create`")
            default:
                throw Problems.unauthorized("the API key is not valid (unknown, revoked or mistyped); create one with `wharf keys create`")
            }
        }
        guard Scope.grants(record.scopes, scope) else {
            throw Problems.forbidden("API key '\(record.name)' lacks scope \(scope) (it has: \(record.scopes.joined(separator: ", ")))")
        }
    }

    /// 429 for a client that failed too often, with the seconds to wait in `Retry-After`.
    private func tooManyFailures(_ seconds: Int) -> ProblemDetails {
        let limits = throttle.limits
        var headers = HTTPHeaders()
        headers.add(name: "Retry-After", value: String(seconds))
        return ProblemDetails(
            type: Problems.base + "too-many-authentication-failures", title: "Too Many Requests", status: 429,
            detail: "too many failed API key checks from this address (\(limits.maxFailures) within \(limits.window.components.seconds) s); "
                + "try again in \(seconds) s with a valid key",
            instance: nil, headers: headers)
    }

    static func presentedKey(_ request: HTTPRequest) -> String? {
        if let header = request.headers["Authorization"] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                return String(parts[1]).trimmingCharacters(in: .whitespaces)
            }
            return nil
        }
        return request.headers["X-API-Key"]
    }

    private func lookup(_ id: String, now: Int64) throws(ProblemDetails) -> APIKeyRecord? {
        if let hit = cache.withLock({ $0[id] }), hit.expires > now { return hit.record }
        let record: APIKeyRecord?
        do {
            record = try store.apiKey(id: id)
        } catch {
            throw Problems.internalError("the key store could not be read")
        }
        cache.withLock { entries in
            if entries.count > 10_000 { entries.removeAll() }  // unknown ids must not grow the cache without bound
            entries[id] = (record, now + cacheSeconds * 1000)
        }
        return record
    }
}

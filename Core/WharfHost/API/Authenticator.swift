import Foundation
import Synchronization
import WharfAuth
import WharfHTTP
import WharfModel
import WharfStore

/// Checks the API key on a request against the scope its route needs.
///
/// Keys are read from `Authorization: Bearer <key>` or `X-API-Key: <key>`. The stored record for a key id is cached
/// for a few seconds so a busy storefront does not hit the database for every request; a revoked key stops working
/// within that time.
final class Authenticator: Sendable {
    private let store: Store
    private let cacheSeconds: Int64
    private let cache = Mutex<[String: (record: APIKeyRecord?, expires: Int64)]>([:])

    init(store: Store, cacheSeconds: Int64 = 5) {
        self.store = store
        self.cacheSeconds = cacheSeconds
    }

    /// Returns normally when the request carries a valid key that grants `scope`; throws 401 or 403 otherwise.
    func authorize(_ request: HTTPRequest, scope: Scope) throws(ProblemDetails) {
        guard let presented = Self.presentedKey(request) else {
            throw Problems.unauthorized("this route needs an API key with scope \(scope); send it as `Authorization: Bearer <key>`")
        }
        guard let id = APIKeys.keyID(fromPresented: presented), let record = try lookup(id),
            APIKeys.verify(presented: presented, against: record)
        else {
            throw Problems.unauthorized("the API key is not valid (unknown, revoked or mistyped); create one with `wharf keys create`")
        }
        guard Scope.grants(record.scopes, scope) else {
            throw Problems.forbidden("API key '\(record.name)' lacks scope \(scope) (it has: \(record.scopes.joined(separator: ", ")))")
        }
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

    private func lookup(_ id: String) throws(ProblemDetails) -> APIKeyRecord? {
        let now = Timestamp.now().millisecondsSinceEpoch
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

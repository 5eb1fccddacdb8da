import CSQLite
import WharfModel

extension Store {
    /// Stores a new API key record (its secret only as a hash; its expiry time when it has one). A key with the same
    /// id fails with `.conflict`.
    public func insertAPIKey(_ key: APIKeyRecord) throws(StoreError) {
        try write("store API key '\(key.id)'") { db in
            let st = try db.statement(
                """
                INSERT INTO api_keys (id, name, scopes, secret_hash, created_at, revoked_at, expires_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """)
            st.bind(1, key.id)
            st.bind(2, key.name)
            st.bind(3, key.scopes.joined(separator: " "))
            st.bindBlob(4, key.secretHash)
            st.bind(5, key.createdAt.millisecondsSinceEpoch)
            st.bind(6, key.revokedAt?.millisecondsSinceEpoch)
            st.bind(7, key.expiresAt?.millisecondsSinceEpoch)
            try st.run()
        }
    }

    /// The API key with `id` (revoked or not), or nil. Runs on a reader with a cached statement: it is looked up on
    /// every authenticated request.
    public func apiKey(id: String) throws(StoreError) -> APIKeyRecord? {
        try read("read API key '\(id)'") { db in
            let st = try db.statement("SELECT \(Store.apiKeyColumns) FROM api_keys WHERE id = ?1")
            defer { st.reset() }
            st.bind(1, id)
            return try st.step() ? Store.apiKey(from: st) : nil
        }
    }

    /// Every API key, revoked ones included, oldest first.
    public func apiKeys() throws(StoreError) -> [APIKeyRecord] {
        try read("list API keys") { db in
            let st = try db.statement("SELECT \(Store.apiKeyColumns) FROM api_keys ORDER BY created_at, id")
            defer { st.reset() }
            var keys: [APIKeyRecord] = []
            while try st.step() { keys.append(Store.apiKey(from: st)) }
            return keys
        }
    }

    /// Revokes the key with `id` now. Returns false when there is no such key; revoking a revoked key keeps its
    /// first revocation time and returns true.
    public func revokeAPIKey(id: String) throws(StoreError) -> Bool {
        let now = Timestamp.now().millisecondsSinceEpoch
        return try write("revoke API key '\(id)'") { db in
            let st = try db.statement("UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1")
            st.bind(1, id)
            st.bind(2, now)
            try st.run()
            return db.changes > 0
        }
    }

    // MARK: Not public

    static let apiKeyColumns = "id, name, scopes, secret_hash, created_at, revoked_at, expires_at"

    static func apiKey(from st: Statement) -> APIKeyRecord {
        let scopes = st.text(2).split(separator: " ").map(String.init)
        return APIKeyRecord(
            id: st.text(0), name: st.text(1), scopes: scopes, secretHash: st.blob(3),
            createdAt: Timestamp(millisecondsSinceEpoch: st.int64(4)),
            revokedAt: st.optionalInt64(5).map { Timestamp(millisecondsSinceEpoch: $0) },
            expiresAt: st.optionalInt64(6).map { Timestamp(millisecondsSinceEpoch: $0) })
    }
}

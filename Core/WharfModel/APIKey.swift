/// A stored API key. The secret itself is never stored: only its SHA-256 hash, so a leaked database does not leak
/// working keys. The `id` is the public part of the key (it appears in the key text) and is safe to show and log.
public struct APIKeyRecord: Sendable, Hashable {
    /// Public identifier, also the lookup key (e.g. `k3f9a1c2b`).
    public var id: String
    /// A person's name for the key ("storefront-eu").
    public var name: String
    /// Scopes the key grants ("catalog:read").
    public var scopes: [String]
    /// SHA-256 of the whole key text, 32 bytes.
    public var secretHash: [UInt8]
    /// When the key was created.
    public var createdAt: Timestamp
    /// When the key was revoked, or nil while it is valid.
    public var revokedAt: Timestamp?
    /// When the key stops working by itself, or nil when it never expires.
    public var expiresAt: Timestamp?

    /// A key record.
    public init(
        id: String, name: String, scopes: [String], secretHash: [UInt8], createdAt: Timestamp, revokedAt: Timestamp? = nil,
        expiresAt: Timestamp? = nil
    ) {
        self.id = id
        self.name = name
        self.scopes = scopes
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.expiresAt = expiresAt
    }
}

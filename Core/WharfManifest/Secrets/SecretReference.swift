#if canImport(Foundation)
import Foundation
#endif

/// A reference to a secret kept outside the manifest: the string `"env:NAME"` names the environment variable
/// `NAME`.
///
/// Manifests are committed and shared; passwords and tokens must not be. A connector's `config` writes
/// `password: "env:ERP_PASSWORD"` and the host resolves it when the connector runs.
public struct SecretReference: Sendable, Hashable, CustomStringConvertible {
    /// The environment variable's name (`ERP_PASSWORD`).
    public let name: String

    /// The prefix that marks a reference.
    public static let prefix = "env:"

    /// A reference to the variable `name`, or nil when `name` is not a valid variable name (letters, digits and
    /// `_`, not starting with a digit).
    public init?(name: String) {
        guard SecretReference.isValidName(name) else { return nil }
        self.name = name
    }

    /// The reference written as `"env:NAME"`, or nil when `text` is not exactly that form.
    public static func parse(_ text: String) -> SecretReference? {
        guard text.hasPrefix(prefix) else { return nil }
        return SecretReference(name: String(text.dropFirst(prefix.count)))
    }

    /// The variable's value.
    /// - Throws: `SecretError` naming the variable (never a value) when it is not set or is empty.
    public func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws(SecretError) -> String {
        guard let value = environment[name] else { throw SecretError(name: name, reason: .notSet) }
        guard !value.isEmpty else { throw SecretError(name: name, reason: .empty) }
        return value
    }

    /// `env:NAME` (the reference, not the value).
    public var description: String { SecretReference.prefix + name }

    // MARK: Not public

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(48...57).contains(first) else { return false }
        return name.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }
}

/// A secret reference that could not be resolved. Names the variable and where it is used; never holds a value.
public struct SecretError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why resolution failed.
    public enum Reason: String, Sendable, Hashable {
        /// The variable is not in the environment.
        case notSet = "not-set"
        /// The variable is set to the empty string, which is never a usable secret.
        case empty
    }

    /// The environment variable's name.
    public var name: String
    /// Why it could not be resolved.
    public var reason: Reason
    /// Where the reference is written (`connectors[0].config.password`), when known.
    public var path: String?

    /// An error for the variable `name`.
    public init(name: String, reason: Reason, path: String? = nil) {
        self.name = name
        self.reason = reason
        self.path = path
    }

    /// `connectors[0].config.password: the environment variable ERP_PASSWORD is not set; set it before starting Wharf`.
    public var description: String {
        let what: String
        switch reason {
        case .notSet: what = "the environment variable \(name) is not set; set it before starting Wharf"
        case .empty: what = "the environment variable \(name) is empty; set it to the secret's value"
        }
        return path.map { "\($0): \(what)" } ?? what
    }
}

/// Whether a config key's name says its value is a secret (`password`, `apiKey`, `client_secret`, ...).
///
/// Names that end in a word describing *where* a secret is rather than the secret itself (`tokenUrl`,
/// `passwordFile`, `apiKeyHeader`) are not secret.
func looksLikeSecretKey(_ key: String) -> Bool {
    let normalized = String(key.lowercased().unicodeScalars.filter { $0 != "_" && $0 != "-" && $0 != "." && $0 != " " })
    let secretWords = [
        "password", "passwd", "passphrase", "secret", "token", "apikey", "authorization", "credential",
        "privatekey", "accesskey", "signingkey", "sessionkey", "cookie",
    ]
    let pointerSuffixes = [
        "url", "uri", "endpoint", "path", "file", "env", "name", "header", "type", "field", "length", "ttl",
        "expiry", "expires", "expiresat", "lifetime",
    ]
    guard secretWords.contains(where: normalized.contains) else { return false }
    return !pointerSuffixes.contains(where: normalized.hasSuffix)
}

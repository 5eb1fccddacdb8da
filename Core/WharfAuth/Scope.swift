import WharfModel

/// A permission an API key grants, such as `catalog:read`.
///
/// Scopes do not imply each other (`catalog:write` does not grant `catalog:read`), with one exception: `admin`
/// grants every scope, including ones added in later versions.
public struct Scope: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The scope's name (`catalog:read`).
    public var rawValue: String

    /// A scope from its name. Does not check that the name is known; use `Scope.parse(list:)` for input.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The name.
    public var description: String { rawValue }

    /// Orders by name.
    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Read products, prices and their attributes.
    public static let catalogRead = Scope(rawValue: "catalog:read")
    /// Create, change and delete products.
    public static let catalogWrite = Scope(rawValue: "catalog:write")
    /// Read stock per source and totals.
    public static let inventoryRead = Scope(rawValue: "inventory:read")
    /// Push stock levels (`POST /v1/inventory/source-items`).
    public static let inventoryWrite = Scope(rawValue: "inventory:write")
    /// Start and cancel runs (`POST /v1/connectors/{name}/runs`, `POST /v1/runs/{id}/cancel`).
    public static let runsWrite = Scope(rawValue: "runs:write")
    /// Scrape `GET /metrics` (Prometheus).
    public static let metricsRead = Scope(rawValue: "metrics:read")
    /// Read the configured connectors.
    public static let connectorsRead = Scope(rawValue: "connectors:read")
    /// Read runs and their rejected records.
    public static let runsRead = Scope(rawValue: "runs:read")
    /// Read the installed plugins.
    public static let pluginsRead = Scope(rawValue: "plugins:read")
    /// Read service metadata (version, health details).
    public static let metaRead = Scope(rawValue: "meta:read")
    /// Read orders, shipments, returns and the order outbox.
    public static let ordersRead = Scope(rawValue: "orders:read")
    /// Place and cancel orders, and re-send outbox messages.
    public static let ordersWrite = Scope(rawValue: "orders:write")
    /// Read B2B companies, their users and customer groups.
    public static let companiesRead = Scope(rawValue: "companies:read")
    /// Register and change B2B companies and their users (`POST /v1/companies` asks the CRM in real time).
    public static let companiesWrite = Scope(rawValue: "companies:write")
    /// Read customers and their marketing consent.
    public static let customersRead = Scope(rawValue: "customers:read")
    /// Record customers and marketing consent (`PUT /v1/customers/{id}`, `PUT /v1/consents/{email}`).
    public static let customersWrite = Scope(rawValue: "customers:write")
    /// List export runs and download their files.
    public static let exportsRead = Scope(rawValue: "exports:read")
    /// Start exports (`POST /v1/exports/{connector}`).
    public static let exportsWrite = Scope(rawValue: "exports:write")
    /// Everything: grants every other scope.
    public static let admin = Scope(rawValue: "admin")

    /// Every scope Wharf knows, `admin` last.
    public static let known: [Scope] = [
        .catalogRead, .catalogWrite, .inventoryRead, .inventoryWrite, .connectorsRead, .runsRead, .runsWrite, .pluginsRead, .metaRead, .metricsRead,
        .ordersRead, .ordersWrite,
        .companiesRead, .companiesWrite,
        .customersRead, .customersWrite, .exportsRead, .exportsWrite,
        .admin,
    ]

    /// True when this is one of `known`.
    public var isKnown: Bool { Scope.known.contains(self) }

    /// Checks a comma-separated list such as `"catalog:read, inventory:read"` (as typed after
    /// `wharf keys create --scopes`). Spaces around names are ignored; repeats are dropped; order is kept.
    /// - Throws: `ScopeError` naming every unknown scope and listing the known ones, or when the list is empty.
    public static func parse(list: String) throws(ScopeError) -> [Scope] {
        try validate(list.split(separator: ",", omittingEmptySubsequences: false).map { String($0) })
    }

    /// Checks scope names one by one, as `parse(list:)` does.
    /// - Throws: `ScopeError` naming every unknown scope and listing the known ones, or when there are none.
    public static func validate(_ names: [String]) throws(ScopeError) -> [Scope] {
        var scopes: [Scope] = []
        var unknown: [String] = []
        for raw in names {
            let name = raw.trimmingSpaces()
            if name.isEmpty { continue }
            let scope = Scope(rawValue: name)
            if !scope.isKnown {
                if !unknown.contains(name) { unknown.append(name) }
            } else if !scopes.contains(scope) {
                scopes.append(scope)
            }
        }
        if !unknown.isEmpty { throw ScopeError(unknown: unknown) }
        if scopes.isEmpty { throw ScopeError(unknown: []) }
        return scopes
    }

    /// True when a key holding `granted` may do what needs `required`: it holds `required` itself or `admin`.
    public static func grants(_ granted: [String], _ required: Scope) -> Bool {
        granted.contains(required.rawValue) || granted.contains(Scope.admin.rawValue)
    }
}

/// Scope names that are not known, or an empty list. The description names them and lists the known scopes.
public struct ScopeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The unknown names as given; empty when the problem is that no scope was given at all.
    public var unknown: [String]

    /// An error for `unknown`.
    public init(unknown: [String]) { self.unknown = unknown }

    /// `unknown scope "foo:bar"; the known scopes are catalog:read, ..., admin`, with a "did you mean" for a
    /// near miss.
    public var description: String {
        let known = Scope.known.map(\.rawValue).joined(separator: ", ")
        if unknown.isEmpty { return "no scopes given; give one or more of \(known)" }
        let names = unknown.map { "\"\($0)\"" }.joined(separator: ", ")
        let hints = unknown.compactMap { name in
            nearestScope(to: name).map { "did you mean \"\($0)\" for \"\(name)\"?" }
        }
        let hint = hints.isEmpty ? "" : " (" + hints.joined(separator: " ") + ")"
        return "unknown scope\(unknown.count == 1 ? "" : "s") \(names)\(hint); the known scopes are \(known)"
    }
}

extension APIKeyRecord {
    /// True when the key may do what needs `scope` (it holds the scope or `admin`). Does not check revocation.
    public func grants(_ scope: Scope) -> Bool { Scope.grants(scopes, scope) }
}

// MARK: Not public

extension String {
    fileprivate func trimmingSpaces() -> String {
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}

/// The known scope within two edits of `name` (case-insensitive), if any.
private func nearestScope(to name: String) -> String? {
    let a = Array(name.lowercased().unicodeScalars)
    var best: (String, Int)?
    for scope in Scope.known {
        let b = Array(scope.rawValue.unicodeScalars)
        // Levenshtein distance, two rows.
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...max(a.count, 1) where !a.isEmpty {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        let distance = a.isEmpty ? b.count : previous[b.count]
        if distance <= 2, distance < (best?.1 ?? .max) { best = (scope.rawValue, distance) }
    }
    return best?.0
}

import Foundation
import Synchronization
import WharfManifest

/// The secret values resolved for one plugin instance, and the masking of them in everything the plugin says
/// back: log lines, `set_error` messages and rejects. A plugin should never log a password, but it is third-party
/// code; the host makes sure a careless one cannot put the value in logs, run errors or the REST API.
///
/// Values shorter than `minimumLength` are not masked: replacing every "ab" in a log would make it unreadable
/// and a secret that short protects nothing anyway.
final class SecretMask: Sendable {
    /// What a masked value is replaced with.
    static let replacement = "[secret]"
    /// Shorter values are not masked.
    static let minimumLength = 4
    // `log` may be called from any thread of the plugin's, so the list is shared under a lock.
    private let values = Mutex<[String]>([])

    /// A mask that already knows the value of every secret reference (`env:NAME`) in `config`, resolved in
    /// `environment`: a plugin instance is created in one context and runs in others, and a value it was handed at
    /// creation must be masked in all of them. References that do not resolve are skipped (there is no value).
    init(config: JSONValue = .object([:]), environment: [String: String] = [:]) {
        func walk(_ value: JSONValue) {
            switch value {
            case .string(let text):
                if let reference = SecretReference.parse(text), let resolved = try? reference.resolve(environment: environment) {
                    add(resolved)
                }
            case .array(let items): items.forEach(walk)
            case .object(let object): for member in object { walk(member.value) }
            default: break
            }
        }
        walk(config)
    }

    /// Remembers `value` as a secret to mask from now on.
    func add(_ value: String) {
        guard value.utf8.count >= Self.minimumLength else { return }
        values.withLock { list in
            guard !list.contains(value) else { return }
            list.append(value)
            // Longest first, so a secret that contains another is masked whole.
            list.sort { $0.utf8.count > $1.utf8.count }
        }
    }

    /// `text` with every remembered value replaced by `replacement`.
    func redact(_ text: String) -> String {
        let list = values.withLock { $0 }
        guard !list.isEmpty else { return text }
        var result = text
        for value in list where result.contains(value) {
            result = result.replacingOccurrences(of: value, with: Self.replacement)
        }
        return result
    }
}

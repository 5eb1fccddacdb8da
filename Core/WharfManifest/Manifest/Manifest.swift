import Foundation
import WharfSchedule

/// A deployment manifest: one JSON5 file that says where Wharf keeps its data, how it serves it and which
/// connectors run. The format is documented in `manifests/README.md`.
public struct Manifest: Sendable, Hashable {
    /// The manifest file's absolute path.
    public var filePath: String
    /// The SQLite database file, absolute (relative paths in the file resolve against `directory`).
    public var database: String
    /// Where the REST API listens.
    public var listen: ListenAddress
    /// The folder holding installed plugins, absolute.
    public var pluginFolder: String
    /// Log output settings.
    public var log: LogSettings
    /// HTTP server limits and timeouts.
    public var server: ServerSettings
    /// The connectors, in file order.
    public var connectors: [ConnectorConfig]

    /// A manifest built in code. Relative `database` and `pluginFolder` paths resolve against `filePath`'s folder.
    public init(
        filePath: String, database: String, listen: ListenAddress = .default, pluginFolder: String = "plugins",
        log: LogSettings = LogSettings(), server: ServerSettings = ServerSettings(), connectors: [ConnectorConfig] = []
    ) {
        let absolute = absolutePath(filePath, base: FileManager.default.currentDirectoryPath)
        self.filePath = absolute
        let directory = parentDirectory(absolute)
        self.database = absolutePath(database, base: directory)
        self.listen = listen
        self.pluginFolder = absolutePath(pluginFolder, base: directory)
        self.log = log
        self.server = server
        self.connectors = connectors
    }

    /// The folder the manifest is in. Plugins resolve relative paths from their `config` against it.
    public var directory: String { parentDirectory(filePath) }

    /// `path` as written in the manifest, made absolute against `directory` (absolute paths are kept; `.` and
    /// `..` are folded; `~` is not expanded).
    public func resolvePath(_ path: String) -> String { absolutePath(path, base: directory) }

    /// The connector called `name`, or nil.
    public func connector(named name: String) -> ConnectorConfig? {
        connectors.first { $0.name == name }
    }

    /// Reads and checks the manifest at `path`.
    /// - Throws: `ManifestError` listing every problem: a missing or unreadable file, a syntax error with its line
    ///   and column, or every invalid value at once.
    public static func load(path: String) throws(ManifestError) -> Manifest {
        let absolute = absolutePath(path, base: FileManager.default.currentDirectoryPath)
        func fail(_ message: String) -> ManifestError {
            ManifestError(file: path, issues: [ManifestIssue(kind: .unreadable, path: "", message: message)])
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
            throw fail("no manifest at \(absolute); check the path")
        }
        if isDirectory.boolValue {
            throw fail("\(absolute) is a folder; give the manifest file inside it (such as \(absolute)/wharf.json5)")
        }
        guard FileManager.default.isReadableFile(atPath: absolute) else {
            throw fail("cannot read the manifest at \(absolute): permission denied")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: absolute))
        } catch {
            throw fail("cannot read the manifest at \(absolute): \(error.localizedDescription)")
        }
        guard data.count <= maximumFileSize else {
            throw fail("the manifest is \(data.count) bytes; manifests are limited to \(maximumFileSize) bytes")
        }
        return try decode(bytes: [UInt8](data), file: path, absolutePath: absolute)
    }

    /// Checks manifest text as if it were the file at `filePath` (which need not exist; relative paths resolve
    /// against its folder).
    /// - Throws: `ManifestError` listing every problem.
    public static func parse(_ text: String, filePath: String) throws(ManifestError) -> Manifest {
        let absolute = absolutePath(filePath, base: FileManager.default.currentDirectoryPath)
        return try decode(bytes: Array(text.utf8), file: filePath, absolutePath: absolute)
    }

    /// Checks that every `env:NAME` reference in the connectors' `config` names a set, non-empty variable.
    /// - Throws: `ManifestError` with one `.unresolvedSecret` issue per missing variable (names only, no values).
    public func checkSecrets(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ManifestError) {
        var issues: [ManifestIssue] = []
        for connector in connectors {
            for (path, reference) in connector.secretReferences() {
                do {
                    _ = try reference.resolve(environment: environment)
                } catch {
                    let full = JSONPath.render(connectorPath(connector.index) + [.key("config")] + path)
                    issues.append(ManifestIssue(kind: .unresolvedSecret, path: full, message: SecretError(name: error.name, reason: error.reason).description))
                }
            }
        }
        if !issues.isEmpty { throw ManifestError(file: filePath, issues: issues) }
    }

    /// Manifests are hand-written configuration; anything larger is a mistake (or not a manifest).
    public static let maximumFileSize = 4 << 20
}

/// A host and port to listen on: `127.0.0.1:8080`, `0.0.0.0:8080`, `[::1]:8080`, `localhost:8080`.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 address, an IPv6 address (without brackets) or a host name.
    public var host: String
    /// The TCP port; 0 asks the system for any free port (useful in tests).
    public var port: Int

    /// An address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `127.0.0.1:8080`, the default: only this machine can connect until you say otherwise.
    public static let `default` = ListenAddress(host: "127.0.0.1", port: 8080)

    /// True when `host` is an IPv6 address.
    public var isIPv6: Bool { host.contains(":") }

    /// What is wrong with `text` as a listen address (`expected a port from 0 to 65535 after the ':', found
    /// "localhost:http"`), or nil when it is a valid one.
    public static func problem(in text: String) -> String? {
        switch check(text) {
        case .success: return nil
        case .failure(let problem): return "\(problem.expected), found \(quoted(text))"
        }
    }

    /// Parses `host:port` or `[ipv6]:port`; nil when the text is not one (see `problem(in:)`).
    public init?(parsing text: String) {
        switch ListenAddress.check(text) {
        case .success(let address): self = address
        case .failure: return nil
        }
    }

    /// `host:port`, with brackets around IPv6 hosts.
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    // MARK: Not public

    /// The address, or what is wrong with the text.
    static func check(_ text: String) -> Result<ListenAddress, ListenAddressProblem> {
        let host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure(.shape) }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return .failure(.shape) }
            portText = rest.dropFirst()
            guard isIPv6Address(host) else { return .failure(.badHost(host)) }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return .failure(.shape) }
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return .failure(.unbracketedIPv6) }
            if host.isEmpty { return .failure(.emptyHost) }
            guard isHostNameOrIPv4(host) else { return .failure(.badHost(host)) }
        }
        guard !portText.isEmpty, portText.count <= 5, portText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            let port = Int(portText), port <= 65535
        else { return .failure(.badPort(String(portText))) }
        return .success(ListenAddress(host: host, port: port))
    }
}

/// What is wrong with a listen address, phrased for the manifest check.
enum ListenAddressProblem: Error {
    case shape, unbracketedIPv6, emptyHost, badHost(String), badPort(String)

    /// What was expected, to be followed by ", found ...".
    var expected: String {
        switch self {
        case .shape: return "expected \"host:port\" such as \"127.0.0.1:8080\" or \"[::1]:8080\""
        case .unbracketedIPv6: return "expected an IPv6 host in brackets, such as \"[::1]:8080\""
        case .emptyHost: return "expected a host before the ':' (\"0.0.0.0:8080\" listens on every IPv4 interface)"
        case .badHost: return "expected an IPv4 address, an [IPv6] address or a host name before the port"
        case .badPort: return "expected a port from 0 to 65535 after the ':'"
        }
    }
}

/// How Wharf writes its log.
public struct LogSettings: Sendable, Hashable {
    /// Line format.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        /// `time=... level=info msg="..." key=value`, easy to read and to grep.
        case logfmt
        /// One JSON object per line, for log collectors.
        case json
    }

    /// Severity, from most to least verbose.
    public enum Level: String, Sendable, Hashable, CaseIterable, Comparable {
        /// Everything, including per-record detail.
        case trace
        /// Diagnostics useful when something is wrong.
        case debug
        /// Normal operation: starts, runs, stops.
        case info
        /// Something unexpected that Wharf recovered from.
        case warning
        /// Something failed.
        case error

        /// `trace < debug < info < warning < error`.
        public static func < (lhs: Level, rhs: Level) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// The line format; `logfmt` by default.
    public var format: Format
    /// The least severe level written; `info` by default.
    public var level: Level

    /// Settings; the defaults are `logfmt` and `info`.
    public init(format: Format = .logfmt, level: Level = .info) {
        self.format = format
        self.level = level
    }
}

/// Limits and timeouts for the REST API's HTTP server. Every field is optional in the manifest.
public struct ServerSettings: Sendable, Hashable {
    /// Open connections at most; further clients wait in the kernel's accept queue. Default 4096.
    public var maxConnections: Int
    /// Largest request body accepted (413 beyond it). Default 16 MiB (a 10,000-item batch fits).
    public var maxBodyBytes: Int
    /// Time a client has to send the complete request head. Default 10 s.
    public var headerTimeout: Duration
    /// Time an idle keep-alive connection stays open. Default 60 s.
    public var idleTimeout: Duration
    /// Failed API-key checks from one client address within `authFailureWindow` that get it refused with 429
    /// (`server.authThrottle.maxFailures`). Default 20.
    public var authMaxFailures: Int
    /// The period failures are counted in (`server.authThrottle.windowSeconds`). Default 60 s.
    public var authFailureWindow: Duration
    /// How long a throttled client is refused (`server.authThrottle.blockSeconds`). Default 60 s.
    public var authBlockDuration: Duration

    /// Settings with the defaults above.
    public init(
        maxConnections: Int = 4096, maxBodyBytes: Int = 16 << 20, headerTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60), authMaxFailures: Int = 20, authFailureWindow: Duration = .seconds(60),
        authBlockDuration: Duration = .seconds(60)
    ) {
        self.maxConnections = maxConnections
        self.maxBodyBytes = maxBodyBytes
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.authMaxFailures = authMaxFailures
        self.authFailureWindow = authFailureWindow
        self.authBlockDuration = authBlockDuration
    }

    /// Allowed `authThrottle.maxFailures`.
    public static let authMaxFailuresRange: ClosedRange<Int64> = 1...1_000_000
    /// Allowed `authThrottle.windowSeconds` and `authThrottle.blockSeconds` (above 0, at most a day).
    public static let authPeriodLimit: Double = 86_400

    /// Allowed `maxConnections`.
    public static let maxConnectionsRange: ClosedRange<Int64> = 1...1_000_000
    /// Allowed `maxBodyBytes` (1 KiB to 1 GiB).
    public static let maxBodyBytesRange: ClosedRange<Int64> = 1024...(1 << 30)
    /// Allowed `headerTimeoutSeconds` (above 0, at most this).
    public static let headerTimeoutLimit: Double = 600
    /// Allowed `idleTimeoutSeconds` (above 0, at most this).
    public static let idleTimeoutLimit: Double = 86_400
}

/// How a connector's stock records change inventory (`inventory` in the manifest).
///
/// A `full` run is a snapshot: it sets the quantity of every SKU it names at each source it names, and SKUs of those
/// sources that it does not name are set to zero (`absent: "zero"`, the default) or left as they are
/// (`absent: "keep"`). A `delta` run touches only what it names: quantities are new values (`delta: "absolute"`,
/// the default) or signed adjustments (`delta: "relative"`). Neither ever touches reservations.
public struct InventoryPolicy: Sendable, Hashable {
    /// Snapshot or delta.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Every run is a full snapshot of the sources it names.
        case full
        /// Every run changes only what it names.
        case delta
    }

    /// What a full snapshot does to items of its sources that it does not name.
    public enum Absent: String, Sendable, Hashable, CaseIterable {
        /// Set them to quantity 0 (out of stock).
        case zero
        /// Leave them as they are.
        case keep
    }

    /// What a quantity in a delta means.
    public enum Delta: String, Sendable, Hashable, CaseIterable {
        /// The new quantity.
        case absolute
        /// A signed adjustment to the current quantity.
        case relative
    }

    /// Snapshot or delta. Default `delta`.
    public var mode: Mode
    /// For full snapshots. Default `zero`.
    public var absent: Absent
    /// For deltas. Default `absolute`.
    public var delta: Delta

    /// A policy; the defaults apply stock records as absolute values and leave everything else alone.
    public init(mode: Mode = .delta, absent: Absent = .zero, delta: Delta = .absolute) {
        self.mode = mode
        self.absent = absent
        self.delta = delta
    }
}

/// One connector: a plugin, what it connects to (`config`) and how its fields map onto Wharf's model (`mapping`).
public struct ConnectorConfig: Sendable, Hashable {
    /// Unique name, `[a-z][a-z0-9-]{0,63}` (`erp-stock`).
    public var name: String
    /// The plugin id it runs (`stock-csv`).
    public var plugin: String
    /// False to keep it in the manifest without running it. Default true.
    public var enabled: Bool
    /// Plugin settings as written, always an object. Secrets appear as `"env:NAME"` (see `resolvedConfig`); paths
    /// are as written (resolve them against `Manifest.directory`).
    public var config: JSONValue
    /// Field mapping, always an object; checked by the mapping stage, not here.
    public var mapping: JSONValue
    /// The schedule as written, for people (`0 3 * * * (Europe/Berlin)`, `every 15m`); nil when not scheduled.
    public var schedule: String?
    /// The parsed schedule the scheduler runs; nil when not scheduled.
    public var timing: Schedule?
    /// Whether a run missed while Wharf was down runs once at start-up.
    public var catchUp: Bool
    /// What a rejected record does to its run. Default `reject`.
    public var onError: ErrorPolicy
    /// How stock records of this connector's runs are applied. Default: a delta of absolute quantities.
    public var inventory: InventoryPolicy
    /// Where the plugin runs. Default `process`: a worker process per run, so a crash fails only the run.
    public var isolation: Isolation
    /// The most memory (address space, in MiB) a run's worker may add to its own start-up size (`memoryLimitMB`).
    /// Only for `isolation: process`. Default 512.
    public var memoryLimitMB: Int
    /// How long a run's worker may go without progress (a batch, a reject or a reported position) before it is
    /// killed and the run failed (`deadlineSeconds`). Only for `isolation: process`. Default 300 s.
    public var deadline: Duration
    /// Position in the manifest's `connectors` array, for messages (`connectors[2]`).
    public var index: Int

    /// Where a connector's plugin code runs (`isolation` in the manifest).
    public enum Isolation: String, Sendable, Hashable, CaseIterable {
        /// In a `wharf worker` process started for each run: a plugin that crashes, aborts, runs out of memory or
        /// stops making progress fails its run, and the server keeps serving.
        case process
        /// In the process that starts the run, as a library call: for trusted plugins (and benchmarks). A crash
        /// takes that process down with it.
        case inprocess
    }

    /// Default `memoryLimitMB`.
    public static let defaultMemoryLimitMB = 512
    /// Allowed `memoryLimitMB`: 16 MiB to 1 TiB.
    public static let memoryLimitMBRange: ClosedRange<Int64> = 16...(1 << 20)
    /// Default `deadlineSeconds`.
    public static let defaultDeadline: Duration = .seconds(300)
    /// Allowed `deadlineSeconds`: above 0, at most a day.
    public static let deadlineLimitSeconds: Double = 86_400

    /// What one bad record does to a run.
    public enum ErrorPolicy: String, Sendable, Hashable, CaseIterable {
        /// The record is stored as a reject with its reason; the rest of the run lands.
        case reject
        /// Any reject rolls the whole run back: nothing of it is kept (rejects are still stored, to explain why).
        case fail
    }

    /// A connector. `config` and `mapping` should be objects.
    public init(
        name: String, plugin: String, enabled: Bool = true, config: JSONValue = .object([:]),
        mapping: JSONValue = .object([:]), schedule: String? = nil, timing: Schedule? = nil, catchUp: Bool = false,
        onError: ErrorPolicy = .reject,
        inventory: InventoryPolicy = InventoryPolicy(), index: Int = 0, isolation: Isolation = .process,
        memoryLimitMB: Int = ConnectorConfig.defaultMemoryLimitMB, deadline: Duration = ConnectorConfig.defaultDeadline
    ) {
        self.name = name
        self.plugin = plugin
        self.enabled = enabled
        self.config = config
        self.mapping = mapping
        self.schedule = schedule
        self.timing = timing
        self.catchUp = catchUp
        self.onError = onError
        self.inventory = inventory
        self.index = index
        self.isolation = isolation
        self.memoryLimitMB = memoryLimitMB
        self.deadline = deadline
    }

    /// `config` with every `"env:NAME"` string replaced by the variable's value — to hand to the plugin, never to
    /// log.
    /// - Throws: `SecretError` for the first variable that is not set or empty, with its path in the manifest.
    public func resolvedConfig(environment: [String: String] = ProcessInfo.processInfo.environment) throws(SecretError) -> JSONValue {
        func resolve(_ value: JSONValue, _ path: [JSONPath.Step]) throws(SecretError) -> JSONValue {
            switch value {
            case .string(let text):
                guard let reference = SecretReference.parse(text) else { return value }
                do {
                    return .string(try reference.resolve(environment: environment))
                } catch {
                    throw SecretError(
                        name: error.name, reason: error.reason,
                        path: JSONPath.render(connectorPath(index) + [.key("config")] + path))
                }
            case .array(let items):
                var out: [JSONValue] = []
                for (i, item) in items.enumerated() { out.append(try resolve(item, path + [.index(i)])) }
                return .array(out)
            case .object(let object):
                var out = JSONObject()
                for (key, member) in object { out[key] = try resolve(member, path + [.key(key)]) }
                return .object(out)
            default:
                return value
            }
        }
        return try resolve(config, [])
    }

    /// Every `"env:NAME"` reference in `config`, with its path inside `config`.
    func secretReferences() -> [(path: [JSONPath.Step], reference: SecretReference)] {
        var found: [(path: [JSONPath.Step], reference: SecretReference)] = []
        func walk(_ value: JSONValue, _ path: [JSONPath.Step]) {
            switch value {
            case .string(let text): if let reference = SecretReference.parse(text) { found.append((path, reference)) }
            case .array(let items): for (i, item) in items.enumerated() { walk(item, path + [.index(i)]) }
            case .object(let object): for (key, member) in object { walk(member, path + [.key(key)]) }
            default: break
            }
        }
        walk(config, [])
        return found
    }
}

// MARK: Not public

func connectorPath(_ index: Int) -> [JSONPath.Step] { [.key("connectors"), .index(index)] }

/// `path` made absolute against `base`, with `.`, `..` and repeated slashes folded (no symlinks resolved).
func absolutePath(_ path: String, base: String) -> String {
    let joined = path.hasPrefix("/") ? path : base + "/" + path
    var parts: [Substring] = []
    for part in joined.split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == ".." {
            if !parts.isEmpty { parts.removeLast() }
            continue
        }
        parts.append(part)
    }
    return "/" + parts.joined(separator: "/")
}

func parentDirectory(_ absolute: String) -> String {
    guard let slash = absolute.lastIndex(of: "/"), slash != absolute.startIndex else { return "/" }
    return String(absolute[..<slash])
}

private func isIPv6Address(_ text: String) -> Bool {
    var address = in6_addr()
    return inet_pton(AF_INET6, text, &address) == 1
}

/// A dotted-quad IPv4 address, or a DNS host name (labels of letters, digits and `-`, not starting or ending with
/// `-`). Text of only digits and dots must be a valid IPv4 address, so `300.1.1.1` is refused.
private func isHostNameOrIPv4(_ text: String) -> Bool {
    if text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 46 }) {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }
    guard text.utf8.count <= 253 else { return false }
    let labels = text.split(separator: ".", omittingEmptySubsequences: false)
    return labels.allSatisfy { label in
        let bytes = Array(label.utf8)
        guard !bytes.isEmpty, bytes.count <= 63, bytes.first != 45, bytes.last != 45 else { return false }
        return bytes.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 }
    }
}

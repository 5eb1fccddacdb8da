import WharfSchedule
// MARK: Not public

extension Manifest {
    /// UTF-8 bytes to a checked manifest, or every problem found.
    static func decode(bytes: [UInt8], file: String, absolutePath: String) throws(ManifestError) -> Manifest {
        let scalars: [Unicode.Scalar]
        switch decodeUTF8(bytes) {
        case .success(let decoded): scalars = decoded
        case .failure(let problem):
            throw ManifestError(file: file, issues: [
                ManifestIssue(
                    kind: .syntax, path: "",
                    message: "the file is not valid UTF-8 (byte 0x\(String(problem.byte, radix: 16, uppercase: true))); save it as UTF-8",
                    line: problem.line, column: problem.column)
            ])
        }
        var parser = JSON5Parser(scalars: scalars, recordPositions: true)
        let root: JSONValue
        do {
            root = try parser.parseDocument()
        } catch {
            throw ManifestError(file: file, issues: [
                ManifestIssue(kind: .syntax, path: "", message: error.message, line: error.line, column: error.column)
            ])
        }
        var checker = ManifestChecker(positions: parser.positions, directory: parentDirectory(absolutePath))
        for duplicate in parser.duplicateKeys {
            checker.issues.append(
                ManifestIssue(
                    kind: .duplicate, path: JSONPath.render(duplicate.path),
                    message: "this key is written twice in the same object (first on line \(duplicate.firstLine)); only the last value would count, so remove one",
                    line: duplicate.line, column: duplicate.column))
        }
        let manifest = checker.check(root, filePath: absolutePath)
        guard let manifest, checker.issues.isEmpty else {
            // Stable sort into file order so the list reads top to bottom.
            let ordered = checker.issues.enumerated().sorted { a, b in
                let pa = (a.element.line ?? .max, a.element.column ?? .max, a.offset)
                let pb = (b.element.line ?? .max, b.element.column ?? .max, b.offset)
                return pa < pb
            }.map(\.element)
            throw ManifestError(file: file, issues: ordered)
        }
        return manifest
    }
}

/// Walks a parsed manifest, collecting every problem rather than stopping at the first.
struct ManifestChecker {
    typealias Path = [JSONPath.Step]

    var issues: [ManifestIssue] = []
    let positions: [String: SourcePosition]
    let directory: String

    static let topLevelKeys = ["database", "listen", "pluginFolder", "log", "server", "connectors"]
    static let logKeys = ["format", "level"]
    static let serverKeys = ["maxConnections", "maxBodyBytes", "headerTimeoutSeconds", "idleTimeoutSeconds", "authThrottle"]
    static let authThrottleKeys = ["maxFailures", "windowSeconds", "blockSeconds"]
    static let connectorKeys = [
        "name", "plugin", "enabled", "schedule", "onError", "inventory", "isolation", "memoryLimitMB", "deadlineSeconds",
        "config", "mapping",
    ]
    static let inventoryKeys = ["mode", "absent", "delta"]
    static let scheduleKeys = ["cron", "every", "timeZone", "catchUp"]

    init(positions: [String: SourcePosition], directory: String) {
        self.positions = positions
        self.directory = directory
    }

    /// The manifest, or nil when the top level is not even an object.
    mutating func check(_ root: JSONValue, filePath: String) -> Manifest? {
        guard case .object(let top) = root else {
            report(.wrongType, [], "expected an object such as { database: \"data/wharf.sqlite\", connectors: [] } at the top level, found \(describe(root))")
            return nil
        }
        checkKeys(top, Self.topLevelKeys, [])

        let database = string(top, "database", [], expected: "a path to the SQLite database file, such as \"data/wharf.sqlite\"", required: true) ?? ""
        var listen = ListenAddress.default
        if let text = string(top, "listen", [], expected: "\"host:port\" such as \"127.0.0.1:8080\"") {
            switch ListenAddress.check(text) {
            case .success(let address): listen = address
            case .failure(let problem): report(.invalidValue, [.key("listen")], "\(problem.expected), found \(describe(.string(text)))")
            }
        }
        let pluginFolder = string(top, "pluginFolder", [], expected: "a folder path such as \"plugins\"") ?? "plugins"
        let log = checkLog(top)
        let server = checkServer(top)
        let connectors = checkConnectors(top)

        var manifest = Manifest(filePath: filePath, database: "", listen: listen, log: log, server: server, connectors: connectors)
        manifest.database = absolutePath(database, base: directory)
        manifest.pluginFolder = absolutePath(pluginFolder, base: directory)
        return manifest
    }

    // MARK: Sections

    private mutating func checkLog(_ top: JSONObject) -> LogSettings {
        var settings = LogSettings()
        let path: Path = [.key("log")]
        guard let log = object(top, "log", [], expected: "an object such as { format: \"logfmt\", level: \"info\" }") else { return settings }
        checkKeys(log, Self.logKeys, path)
        if let format = choice(log, "format", path, LogSettings.Format.allCases.map(\.rawValue)) {
            settings.format = LogSettings.Format(rawValue: format)!
        }
        if let level = choice(log, "level", path, LogSettings.Level.allCases.map(\.rawValue)) {
            settings.level = LogSettings.Level(rawValue: level)!
        }
        return settings
    }

    private mutating func checkServer(_ top: JSONObject) -> ServerSettings {
        var settings = ServerSettings()
        let path: Path = [.key("server")]
        guard let server = object(top, "server", [], expected: "an object such as { maxConnections: 4096 }") else { return settings }
        checkKeys(server, Self.serverKeys, path)
        if let value = wholeNumber(server, "maxConnections", path, ServerSettings.maxConnectionsRange, unit: "") {
            settings.maxConnections = Int(value)
        }
        if let value = wholeNumber(server, "maxBodyBytes", path, ServerSettings.maxBodyBytesRange, unit: " of bytes") {
            settings.maxBodyBytes = Int(value)
        }
        if let value = seconds(server, "headerTimeoutSeconds", path, limit: ServerSettings.headerTimeoutLimit) {
            settings.headerTimeout = value
        }
        if let value = seconds(server, "idleTimeoutSeconds", path, limit: ServerSettings.idleTimeoutLimit) {
            settings.idleTimeout = value
        }
        if let throttle = object(server, "authThrottle", path, expected: "an object such as { maxFailures: 20, windowSeconds: 60, blockSeconds: 60 }") {
            let throttlePath = path + [.key("authThrottle")]
            checkKeys(throttle, Self.authThrottleKeys, throttlePath)
            if let value = wholeNumber(throttle, "maxFailures", throttlePath, ServerSettings.authMaxFailuresRange, unit: "") {
                settings.authMaxFailures = Int(value)
            }
            if let value = seconds(throttle, "windowSeconds", throttlePath, limit: ServerSettings.authPeriodLimit) {
                settings.authFailureWindow = value
            }
            if let value = seconds(throttle, "blockSeconds", throttlePath, limit: ServerSettings.authPeriodLimit) {
                settings.authBlockDuration = value
            }
        }
        return settings
    }

    private mutating func checkConnectors(_ top: JSONObject) -> [ConnectorConfig] {
        guard let value = top["connectors"], value != .null else { return [] }
        guard case .array(let items) = value else {
            report(.wrongType, [.key("connectors")], "expected an array of connectors such as [{ name: \"erp-stock\", plugin: \"stock-csv\" }], found \(describe(value))")
            return []
        }
        var connectors: [ConnectorConfig] = []
        var firstIndexByName: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            let path = connectorPath(index)
            guard case .object(let entry) = item else {
                report(.wrongType, path, "expected a connector object such as { name: \"erp-stock\", plugin: \"stock-csv\" }, found \(describe(item))")
                continue
            }
            checkKeys(entry, Self.connectorKeys, path)
            let name = identifier(entry, "name", path, what: "a connector name", example: "erp-stock")
            if let name {
                if let first = firstIndexByName[name] {
                    report(.duplicate, path + [.key("name")], "the name \(quoted(name)) is already used by connectors[\(first)]; connector names must be unique")
                } else {
                    firstIndexByName[name] = index
                }
            }
            let plugin = identifier(entry, "plugin", path, what: "a plugin id", example: "stock-csv")
            var enabled = true
            if let value = entry["enabled"], value != .null {
                if case .bool(let flag) = value { enabled = flag } else {
                    report(.wrongType, path + [.key("enabled")], "expected true or false, found \(describe(value))")
                }
            }
            let (schedule, timing, catchUp) = checkSchedule(entry, path)
            var onError = ConnectorConfig.ErrorPolicy.reject
            if let policy = choice(entry, "onError", path, ConnectorConfig.ErrorPolicy.allCases.map(\.rawValue)) {
                onError = ConnectorConfig.ErrorPolicy(rawValue: policy)!
            }
            let inventory = checkInventory(entry, path)
            let (isolation, memoryLimitMB, deadline) = checkIsolation(entry, path)
            let config = object(entry, "config", path, expected: "an object of plugin settings such as { path: \"samples/stock.csv\" }")
            let mapping = object(entry, "mapping", path, expected: "an object mapping Wharf fields to source fields such as { sku: \"Item\" }")
            if let config { checkSecrets(in: .object(config), path + [.key("config")], connectorName: name) }
            connectors.append(
                ConnectorConfig(
                    name: name ?? "", plugin: plugin ?? "", enabled: enabled, config: .object(config ?? [:]),
                    mapping: .object(mapping ?? [:]), schedule: schedule, timing: timing, catchUp: catchUp,
                    onError: onError, inventory: inventory, index: index, isolation: isolation,
                    memoryLimitMB: memoryLimitMB, deadline: deadline))
        }
        return connectors
    }

    /// `schedule: "0 3 * * *"` (cron, UTC), `schedule: { cron: "0 3 * * *", timeZone: "Europe/Berlin", catchUp: true }`
    /// or `schedule: { every: "15m" }`. Returns the text as written, the parsed schedule and the catch-up flag.
    private mutating func checkSchedule(_ entry: JSONObject, _ connector: Path) -> (String?, Schedule?, Bool) {
        let path = connector + [.key("schedule")]
        guard let value = entry["schedule"], value != .null else { return (nil, nil, false) }
        func parsed(_ make: () throws(ScheduleError) -> Schedule, at place: Path) -> Schedule? {
            do {
                return try make()
            } catch {
                report(.invalidValue, place, error.message)
                return nil
            }
        }
        switch value {
        case .string(let text):
            return (text, parsed({ () throws(ScheduleError) in try Schedule.parse(cron: text, timeZone: "UTC") }, at: path), false)
        case .object(let object):
            checkKeys(object, Self.scheduleKeys, path)
            let cron = string(object, "cron", path, expected: "a cron expression such as \"0 3 * * *\"")
            let every = string(object, "every", path, expected: "an interval such as \"15m\"")
            let zone = string(object, "timeZone", path, expected: "an IANA time zone such as \"Europe/Berlin\"")
            var catchUp = false
            if let flag = object["catchUp"], flag != .null {
                if case .bool(let value) = flag { catchUp = value } else {
                    report(.wrongType, path + [.key("catchUp")], "expected true or false, found \(describe(flag))")
                }
            }
            switch (cron, every) {
            case (let cron?, nil):
                let schedule = parsed({ () throws(ScheduleError) in try Schedule.parse(cron: cron, timeZone: zone ?? "UTC") }, at: path + [.key(zone != nil && (try? CronExpression(cron)) != nil ? "timeZone" : "cron")])
                return (cron + (zone.map { " (\($0))" } ?? ""), schedule, catchUp)
            case (nil, let every?):
                if zone != nil {
                    report(.invalidValue, path + [.key("timeZone")], "an every-interval runs at fixed intervals in real time and has no time zone; remove timeZone")
                }
                return ("every " + every, parsed({ () throws(ScheduleError) in try Schedule.parse(every: every) }, at: path + [.key("every")]), catchUp)
            case (.some, .some):
                report(.invalidValue, path, "give either cron or every, not both")
            case (nil, nil):
                report(.missing, path + [.key("cron")], "required key is missing; expected cron (\"0 3 * * *\") or every (\"15m\")", at: path)
            }
            return (nil, nil, catchUp)
        default:
            report(.wrongType, path, "expected a cron expression such as \"0 3 * * *\" or an object such as { cron: \"0 3 * * *\", timeZone: \"Europe/Berlin\" } or { every: \"15m\" }, found \(describe(value))")
            return (nil, nil, false)
        }
    }

    private mutating func checkInventory(_ entry: JSONObject, _ connector: Path) -> InventoryPolicy {
        var policy = InventoryPolicy()
        let path = connector + [.key("inventory")]
        guard let inventory = object(entry, "inventory", connector, expected: "an object such as { mode: \"full\", absent: \"zero\" }") else {
            return policy
        }
        checkKeys(inventory, Self.inventoryKeys, path)
        if let mode = choice(inventory, "mode", path, InventoryPolicy.Mode.allCases.map(\.rawValue)) {
            policy.mode = InventoryPolicy.Mode(rawValue: mode)!
        }
        if let absent = choice(inventory, "absent", path, InventoryPolicy.Absent.allCases.map(\.rawValue)) {
            policy.absent = InventoryPolicy.Absent(rawValue: absent)!
            if policy.mode != .full {
                report(.invalidValue, path + [.key("absent")], "only a full snapshot (mode: \"full\") has absent items; remove absent or set mode to \"full\"")
            }
        }
        if let delta = choice(inventory, "delta", path, InventoryPolicy.Delta.allCases.map(\.rawValue)) {
            policy.delta = InventoryPolicy.Delta(rawValue: delta)!
            if policy.mode != .delta {
                report(.invalidValue, path + [.key("delta")], "only a delta (mode: \"delta\") is absolute or relative; remove delta or set mode to \"delta\"")
            }
        }
        return policy
    }

    /// `isolation: "process" | "inprocess"` and the worker limits, which only a worker process can enforce.
    private mutating func checkIsolation(_ entry: JSONObject, _ connector: Path) -> (ConnectorConfig.Isolation, Int, Duration) {
        var isolation = ConnectorConfig.Isolation.process
        if let text = choice(entry, "isolation", connector, ConnectorConfig.Isolation.allCases.map(\.rawValue)) {
            isolation = ConnectorConfig.Isolation(rawValue: text)!
        }
        var memory = ConnectorConfig.defaultMemoryLimitMB
        if let value = wholeNumber(entry, "memoryLimitMB", connector, ConnectorConfig.memoryLimitMBRange, unit: " of MiB") {
            memory = Int(value)
        }
        var deadline = ConnectorConfig.defaultDeadline
        if let value = seconds(entry, "deadlineSeconds", connector, limit: ConnectorConfig.deadlineLimitSeconds) {
            deadline = value
        }
        if isolation == .inprocess {
            for key in ["memoryLimitMB", "deadlineSeconds"] where entry[key] != nil && entry[key] != .null {
                report(
                    .invalidValue, connector + [.key(key)],
                    "only a worker process can enforce \(key); remove it or set isolation to \"process\"")
            }
        }
        return (isolation, memory, deadline)
    }

    /// Flags secrets written as literals and malformed `env:` references, anywhere inside `config`.
    private mutating func checkSecrets(in value: JSONValue, _ path: Path, connectorName: String?) {
        switch value {
        case .object(let object):
            for (key, member) in object {
                let memberPath = path + [.key(key)]
                if case .string(let text) = member, looksLikeSecretKey(key), !text.isEmpty, !text.hasPrefix(SecretReference.prefix) {
                    let example = suggestedVariableName(connector: connectorName, key: key)
                    // Never echo `text`: it is the secret.
                    report(
                        .literalSecret, memberPath,
                        "looks like a secret written into the manifest; put it in an environment variable and write \"env:NAME\" (for example \"env:\(example)\")")
                } else {
                    checkSecrets(in: member, memberPath, connectorName: connectorName)
                }
            }
        case .array(let items):
            for (i, item) in items.enumerated() { checkSecrets(in: item, path + [.index(i)], connectorName: connectorName) }
        case .string(let text):
            if text.hasPrefix(SecretReference.prefix), SecretReference.parse(text) == nil {
                report(.invalidValue, path, "expected \"env:\" followed by an environment variable name (letters, digits and _, not starting with a digit)")
            }
        default:
            break
        }
    }

    // MARK: Field readers

    /// Reports keys not in `known`, suggesting the closest known key.
    private mutating func checkKeys(_ object: JSONObject, _ known: [String], _ path: Path) {
        for key in object.keys where !known.contains(key) {
            if let suggestion = closestMatch(to: key, in: known) {
                report(.unknownKey, path + [.key(key)], "unknown key; did you mean \(quoted(suggestion))?")
            } else {
                report(.unknownKey, path + [.key(key)], "unknown key; the keys here are \(known.joined(separator: ", "))")
            }
        }
    }

    /// A string member; nil when absent, null or wrong (reported). Empty strings are refused.
    private mutating func string(_ object: JSONObject, _ key: String, _ path: Path, expected: String, required: Bool = false) -> String? {
        let memberPath = path + [.key(key)]
        guard let value = object[key] else {
            if required { report(.missing, memberPath, "required key is missing; expected \(expected)", at: path) }
            return nil
        }
        switch value {
        case .string(let text) where !text.isEmpty:
            return text
        case .null where !required:
            return nil
        default:
            report(value == .null || value == .string("") ? .invalidValue : .wrongType, memberPath, "expected \(expected), found \(describe(value))")
            return nil
        }
    }

    /// A required `[a-z][a-z0-9-]{0,63}` string.
    private mutating func identifier(_ object: JSONObject, _ key: String, _ path: Path, what: String, example: String) -> String? {
        let memberPath = path + [.key(key)]
        guard let value = object[key] else {
            report(.missing, memberPath, "required key is missing; expected \(what) such as \(quoted(example))", at: path)
            return nil
        }
        guard case .string(let text) = value else {
            report(.wrongType, memberPath, "expected \(what) string such as \(quoted(example)), found \(describe(value))")
            return nil
        }
        guard isIdentifier(text) else {
            report(
                .invalidValue, memberPath,
                "expected \(what) of lowercase letters, digits and '-', starting with a letter, at most 64 characters (such as \(quoted(example))), found \(describe(value))")
            return nil
        }
        return text
    }

    /// An optional object member; nil when absent, null or wrong (reported).
    private mutating func object(_ object: JSONObject, _ key: String, _ path: Path, expected: String) -> JSONObject? {
        guard let value = object[key], value != .null else { return nil }
        guard case .object(let member) = value else {
            report(.wrongType, path + [.key(key)], "expected \(expected), found \(describe(value))")
            return nil
        }
        return member
    }

    /// An optional string that must be one of `choices`.
    private mutating func choice(_ object: JSONObject, _ key: String, _ path: Path, _ choices: [String]) -> String? {
        let list = choices.joined(separator: ", ")
        guard let text = string(object, key, path, expected: "one of \(list)") else { return nil }
        guard choices.contains(text) else {
            let hint = closestMatch(to: text, in: choices).map { "; did you mean \(quoted($0))?" } ?? ""
            report(.invalidValue, path + [.key(key)], "expected one of \(list), found \(describe(.string(text)))\(hint)")
            return nil
        }
        return text
    }

    /// An optional whole number within `range` (a float with no fraction, like `1e6`, counts).
    private mutating func wholeNumber(_ object: JSONObject, _ key: String, _ path: Path, _ range: ClosedRange<Int64>, unit: String) -> Int64? {
        guard let value = object[key], value != .null else { return nil }
        let expected = "expected a whole number\(unit) from \(range.lowerBound) to \(range.upperBound)"
        guard let number = value.int64Value else {
            report(value.doubleValue == nil ? .wrongType : .invalidValue, path + [.key(key)], "\(expected), found \(describe(value))")
            return nil
        }
        guard range.contains(number) else {
            report(.invalidValue, path + [.key(key)], "\(expected), found \(describe(value))")
            return nil
        }
        return number
    }

    /// An optional number of seconds above 0 and at most `limit`, as a `Duration` (millisecond precision).
    private mutating func seconds(_ object: JSONObject, _ key: String, _ path: Path, limit: Double) -> Duration? {
        guard let value = object[key], value != .null else { return nil }
        let expected = "expected a number of seconds above 0 and at most \(JSONValue.double(limit).int64Value.map(String.init) ?? "\(limit)")"
        guard let number = value.doubleValue else {
            report(.wrongType, path + [.key(key)], "\(expected), found \(describe(value))")
            return nil
        }
        let milliseconds = (number * 1000).rounded()
        guard number.isFinite, number <= limit, milliseconds >= 1 else {
            report(.invalidValue, path + [.key(key)], "\(expected), found \(describe(value))")
            return nil
        }
        return .milliseconds(Int64(milliseconds))
    }

    // MARK: Reporting

    /// Records an issue at `path`, located at `at` (default `path`) or its nearest ancestor with a known position.
    private mutating func report(_ kind: ManifestIssue.Kind, _ path: Path, _ message: String, at location: Path? = nil) {
        var where_ = location ?? path
        var position = positions[JSONPath.render(where_)]
        while position == nil, !where_.isEmpty {
            where_.removeLast()
            position = positions[JSONPath.render(where_)]
        }
        issues.append(ManifestIssue(kind: kind, path: JSONPath.render(path), message: message, line: position?.line, column: position?.column))
    }
}

/// How a value reads in "found ..." (strings are shown, shortened; never call this on a possible secret).
func describe(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .bool(let flag): return flag ? "true" : "false"
    case .int(let number): return "the number \(number)"
    case .double(let number):
        if number.isNaN { return "the number NaN" }
        if number.isInfinite { return number < 0 ? "the number -Infinity" : "the number Infinity" }
        if number.rounded() == number, abs(number) < 1e15 { return "the number \(Int64(number))" }
        return "the number \(number.description)"
    case .string(let text):
        if text.isEmpty { return "an empty string" }
        let shown = text.unicodeScalars.count > 60 ? String(String.UnicodeScalarView(text.unicodeScalars.prefix(57))) + "..." : text
        return "the string \(quoted(shown))"
    case .array(let items): return items.isEmpty ? "an empty array" : "an array"
    case .object: return "an object"
    }
}

/// `[a-z][a-z0-9-]{0,63}`: connector names and plugin ids.
func isIdentifier(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard let first = bytes.first, first >= 97, first <= 122, bytes.count <= 64 else { return false }
    return bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
}

/// `ERP_STOCK_CLIENT_SECRET` for connector `erp-stock`, key `clientSecret`.
func suggestedVariableName(connector: String?, key: String) -> String {
    var out = ""
    var previousWasLower = false
    for scalar in key.unicodeScalars {
        let isUpper = scalar.properties.isUppercase
        if isUpper && previousWasLower { out += "_" }
        if scalar == "-" || scalar == "." || scalar == " " { out += "_" } else { out += String(scalar).uppercased() }
        previousWasLower = scalar.properties.isLowercase || scalar.asciiDigit != nil
    }
    let prefix = (connector ?? "").uppercased().replacingDashes()
    let name = prefix.isEmpty ? out : prefix + "_" + out
    return SecretReference.isValidName(name) ? name : "SECRET_NAME"
}

extension String {
    fileprivate func replacingDashes() -> String {
        String(unicodeScalars.map { $0 == "-" ? "_" : Character($0) })
    }
}

/// The first invalid UTF-8 byte and where it is.
struct UTF8Problem: Error {
    var byte: UInt8
    var line: Int
    var column: Int
}

/// Decodes UTF-8, or reports the line and column of the first invalid byte.
func decodeUTF8(_ bytes: [UInt8]) -> Result<[Unicode.Scalar], UTF8Problem> {
    var scalars: [Unicode.Scalar] = []
    scalars.reserveCapacity(bytes.count)
    var iterator = bytes.makeIterator()
    var parser = Unicode.UTF8.ForwardParser()
    var offset = 0
    var line = 1
    var lineStart = 0
    while true {
        switch parser.parseScalar(from: &iterator) {
        case .valid(let encoded):
            let scalar = Unicode.UTF8.decode(encoded)
            scalars.append(scalar)
            offset += encoded.count
            if scalar == "\n" {
                line += 1
                lineStart = scalars.count
            }
        case .emptyInput:
            return .success(scalars)
        case .error:
            return .failure(UTF8Problem(byte: bytes[offset], line: line, column: scalars.count - lineStart + 1))
        }
    }
}

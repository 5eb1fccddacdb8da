/// One step that turns a value read from a feed into the text a record field needs: trimming, case, defaults,
/// lookup tables, decimal parsing, scaling, rounding, unit conversion, date parsing.
///
/// Transforms are written in a connector's mapping as a list (see ``TransformPipeline/parse(_:path:)``):
///
/// ```json5
/// transform: ["trim", { decimal: { separator: ",", thousands: "." } }, { scale: "0.01" }, { round: 2 }]
/// ```
///
/// A value is absent (`nil`) when the feed had nothing for it. Every transform except `default` passes an absent
/// value through unchanged; `default` fills it (and an empty text). A transform that cannot handle a value throws
/// ``TransformError`` with a sentence a person can act on; the caller turns it into a reject.
public enum ValueTransform: Sendable, Hashable {
    /// What a lookup does with a value that is not in its table.
    public enum LookupMiss: Sendable, Hashable {
        /// Keep the value as it is.
        case keep
        /// Refuse the value (the record is rejected).
        case reject
        /// Use this value instead (`nil`: the value becomes absent).
        case value(String?)
    }

    /// Removes leading and trailing white space (spaces, tabs, line breaks, no-break spaces).
    case trim
    /// Upper case.
    case upper
    /// Lower case.
    case lower
    /// Trims and turns every run of white space inside into one space.
    case collapseWhitespace
    /// Uses this text when the value is absent or empty.
    case defaultValue(String)
    /// Puts this text before the value.
    case prefix(String)
    /// Puts this text after the value.
    case suffix(String)
    /// Replaces every occurrence of the first text with the second.
    case replace(String, with: String)
    /// Maps values through a table (`nil` entries make the value absent).
    case lookup([String: String?], miss: LookupMiss)
    /// Parses a decimal written with this decimal separator (and optional thousands separator) and writes it in
    /// canonical form with `.` (`"1.234,50"` → `"1234.50"`), keeping every digit.
    case decimal(separator: Character, thousands: Character?)
    /// Parses a whole number; a zero fraction is allowed (`"10.000"` → `"10"`), a non-zero one is refused.
    case integer
    /// Multiplies a canonical decimal by an exact factor (`"17.23"` × `0.8` → `"13.784"`).
    case scale(DecimalText)
    /// Rounds a canonical decimal to this many fraction digits, halves away from zero.
    case round(Int)
    /// Converts a quantity between units: multiplies it by the factor of the unit named by `reference` (a value the
    /// caller resolves, e.g. an XML selector for the unit element). A unit not in `factors` is refused or kept.
    case unit(reference: String, factors: [String: DecimalText], rejectUnknown: Bool)
    /// Parses a date/time with a layout and writes it as RFC 3339 (UTC).
    case date(DateTimeFormat)

    /// The transform's name as written in a mapping (`"decimal"`).
    public var name: String {
        switch self {
        case .trim: "trim"
        case .upper: "upper"
        case .lower: "lower"
        case .collapseWhitespace: "collapse"
        case .defaultValue: "default"
        case .prefix: "prefix"
        case .suffix: "suffix"
        case .replace: "replace"
        case .lookup: "lookup"
        case .decimal: "decimal"
        case .integer: "integer"
        case .scale: "scale"
        case .round: "round"
        case .unit: "unit"
        case .date: "date"
        }
    }

    /// Applies the transform. `resolve` answers the references of `unit` transforms (nil when there is no value).
    public func apply(_ value: String?, resolve: (String) -> String?) throws(TransformError) -> String? {
        if case .defaultValue(let fallback) = self {
            guard let value, !value.isEmpty else { return fallback }
            return value
        }
        guard let value else { return nil }
        switch self {
        case .trim: return Self.trimmed(value)
        case .upper: return value.uppercased()
        case .lower: return value.lowercased()
        case .collapseWhitespace: return Self.collapsed(value)
        case .defaultValue: return value
        case .prefix(let text): return text + value
        case .suffix(let text): return value + text
        case .replace(let target, let replacement):
            return target.isEmpty ? value : Self.replacing(target, with: replacement, in: value)
        case .lookup(let table, let miss):
            if let entry = table[value] { return entry }
            switch miss {
            case .keep: return value
            case .value(let fallback): return fallback
            case .reject:
                let known = table.keys.sorted().prefix(10).map { "'\($0)'" }.joined(separator: ", ")
                throw TransformError("'\(value)' is not in the lookup table (it has \(known)\(table.count > 10 ? ", …" : "")); add it to the table or give the lookup a default")
            }
        case .decimal(let separator, let thousands):
            do {
                return try DecimalText.parse(value, separator: separator, thousands: thousands).description
            } catch {
                throw TransformError(error.reason)
            }
        case .integer:
            let number: DecimalText
            do {
                number = try DecimalText.parse(value)
            } catch {
                throw TransformError("'\(value)' is not a whole number")
            }
            guard number.isInteger else { throw TransformError("'\(value)' is not a whole number (it has a fraction)") }
            return number.withoutZeroFraction.description
        case .scale(let factor):
            return try Self.canonical(value, for: "scale").multiplied(by: factor).description
        case .round(let digits):
            return try Self.canonical(value, for: "round").rounded(toScale: digits).description
        case .unit(let reference, let factors, let rejectUnknown):
            let unit = resolve(reference).map(Self.trimmed) ?? ""
            guard let factor = factors[unit] else {
                if !rejectUnknown { return value }
                let known = factors.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
                throw TransformError(unit.isEmpty
                    ? "no unit was found at \(reference) to convert '\(value)'; the unit table knows \(known)"
                    : "unit '\(unit)' (from \(reference)) is not in the unit table (it has \(known)); add its factor")
            }
            return try Self.canonical(value, for: "unit").multiplied(by: factor).description
        case .date(let format):
            do {
                return try format.rfc3339(value)
            } catch {
                throw TransformError(error.reason)
            }
        }
    }

    // MARK: Not public

    static func canonical(_ value: String, for transform: String) throws(TransformError) -> DecimalText {
        do {
            return try DecimalText.parse(value)
        } catch {
            throw TransformError("'\(value)' is not a decimal number with '.' as separator, which \(transform) needs; put a decimal transform (e.g. { decimal: \",\" }) before it")
        }
    }

    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar.value == 0xA0
            || scalar.properties.isWhitespace
    }

    static func trimmed(_ text: String) -> String {
        // Fast path: nothing to trim (the common case for feed values).
        let utf8 = text.utf8
        if let first = utf8.first, let last = utf8.last, first > 0x20, first < 0x80, last > 0x20, last < 0x80 { return text }
        if utf8.isEmpty { return text }
        let scalars = text.unicodeScalars
        guard let start = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = scalars.lastIndex(where: { !isSpace($0) })!
        return String(scalars[start...end])
    }

    static func collapsed(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            if isSpace(scalar) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.append(scalar)
            }
        }
        return String(out)
    }

    static func replacing(_ target: String, with replacement: String, in text: String) -> String {
        let source = Array(text.utf8)
        let pattern = Array(target.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(source.count)
        var index = 0
        while index < source.count {
            if index + pattern.count <= source.count, source[index] == pattern[0],
                source[index..<(index + pattern.count)].elementsEqual(pattern)
            {
                out.append(contentsOf: replacement.utf8)
                index += pattern.count
            } else {
                out.append(source[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Why a transform could not handle a value: a sentence naming the value and what to do.
public struct TransformError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public var reason: String
    /// Which step of a ``TransformPipeline`` failed (0-based), when known.
    public var step: Int?

    /// Creates an error.
    public init(_ reason: String, step: Int? = nil) {
        self.reason = reason
        self.step = step
    }

    /// The reason.
    public var description: String { reason }
}

/// An ordered list of ``ValueTransform``s, as a mapping writes it.
///
/// Syntax (each list entry is a name or an object with one transform key plus that transform's options):
///
/// | entry | effect |
/// |---|---|
/// | `"trim"`, `"upper"`, `"lower"`, `"collapse"` | white space and case |
/// | `"integer"` | whole number (`"10.000"` → `"10"`) |
/// | `"decimal"`, `{ decimal: "," }`, `{ decimal: { separator: ",", thousands: "." } }` | decimal → `"1234.50"` |
/// | `{ scale: "0.8" }` | exact multiplication |
/// | `{ round: 2 }` | round half away from zero |
/// | `{ unit: { from: "REF", factors: { EA: 1, DZN: 12 }, unknown: "reject" \| "keep" } }` | unit conversion |
/// | `{ date: "dd.MM.yyyy" }`, `{ date: { format: "…", offset: "+01:00" } }` | date → RFC 3339 |
/// | `{ default: "EUR" }` | value when absent or empty |
/// | `{ prefix: "X-" }`, `{ suffix: "-1" }`, `{ replace: { from: "/", to: "-" } }` | text edits |
/// | `{ lookup: { A: "x", B: null }, default: "y" }` or `miss: "keep" \| "reject"` | table (reject by default) |
public struct TransformPipeline: Sendable, Hashable {
    /// The steps, applied in order.
    public var steps: [ValueTransform]

    /// A pipeline of `steps`.
    public init(_ steps: [ValueTransform] = []) {
        self.steps = steps
    }

    /// The references of `unit` steps, for the caller to check and compile when the mapping is read.
    public var references: [String] {
        steps.compactMap { if case .unit(let reference, _, _) = $0 { return reference } else { return nil } }
    }

    /// Runs every step in order. A failing step's error carries its index.
    public func apply(_ value: String?, resolve: (String) -> String? = { _ in nil }) throws(TransformError) -> String? {
        var current = value
        for (index, step) in steps.enumerated() {
            do {
                current = try step.apply(current, resolve: resolve)
            } catch {
                throw TransformError(error.reason, step: index)
            }
        }
        return current
    }

    /// The names of all transforms, for messages.
    public static let knownNames = [
        "trim", "upper", "lower", "collapse", "integer", "decimal", "scale", "round", "unit", "date", "default",
        "prefix", "suffix", "replace", "lookup",
    ]

    /// Reads a pipeline from a mapping value: a list of entries, or one entry alone. `path` is where the value sits
    /// in the manifest (`"mapping.records[0].fields.amount.transform"`); every error message starts with it.
    public static func parse(_ json: JSON, path: String) throws(PluginError) -> TransformPipeline {
        let entries: [JSON]
        if case .array(let list) = json { entries = list } else { entries = [json] }
        var steps: [ValueTransform] = []
        for (index, entry) in entries.enumerated() {
            let entryPath = json.arrayValue == nil ? path : "\(path)[\(index)]"
            steps.append(try parseStep(entry, path: entryPath))
        }
        return TransformPipeline(steps)
    }

    // MARK: Not public

    static func invalid(_ path: String, _ message: String) -> PluginError {
        PluginError.invalid("\(path): \(message)")
    }

    static func parseStep(_ entry: JSON, path: String) throws(PluginError) -> ValueTransform {
        if let name = entry.stringValue {
            switch name {
            case "trim": return .trim
            case "upper": return .upper
            case "lower": return .lower
            case "collapse": return .collapseWhitespace
            case "integer": return .integer
            case "decimal": return .decimal(separator: ".", thousands: nil)
            default:
                if knownNames.contains(name) {
                    throw invalid(path, "transform \"\(name)\" needs options: write it as an object like { \(name): … }")
                }
                throw invalid(path, "unknown transform \"\(name)\"\(suggestion(for: name)); known transforms: \(knownNames.joined(separator: ", "))")
            }
        }
        guard let object = entry.objectValue else {
            throw invalid(path, "a transform is a name (\"trim\") or an object ({ decimal: \",\" }), found \(entry.kindName)")
        }
        let kinds = object.keys.filter { knownNames.contains($0) && !($0 == "default" && object.keys.contains("lookup")) }
        guard kinds.count == 1, let kind = kinds.first, let argument = object[kind] else {
            if kinds.isEmpty {
                let unknown = object.keys.first ?? ""
                throw invalid(path, object.keys.isEmpty
                    ? "empty transform object; write one transform such as { decimal: \",\" }"
                    : "unknown transform \"\(unknown)\"\(suggestion(for: unknown)); known transforms: \(knownNames.joined(separator: ", "))")
            }
            throw invalid(path, "one transform per list entry, found \(kinds.joined(separator: " and ")); put them in separate entries, in the order they should run")
        }
        let argumentPath = "\(path).\(kind)"
        func allowOnly(_ options: [String]) throws(PluginError) {
            for key in object.keys where key != kind && !options.contains(key) {
                throw invalid("\(path).\(key)", "not an option of \(kind)\(options.isEmpty ? "" : "; its options are \(options.joined(separator: ", "))")")
            }
        }
        func text(_ value: JSON, _ at: String) throws(PluginError) -> String {
            guard let text = value.scalarText else {
                throw invalid(at, "expected a text, found \(value.kindName)")
            }
            return text
        }
        switch kind {
        case "trim", "upper", "lower", "collapse", "integer":
            throw invalid(path, "transform \"\(kind)\" has no options: write it as the string \"\(kind)\"")
        case "default":
            try allowOnly([])
            return .defaultValue(try text(argument, argumentPath))
        case "prefix":
            try allowOnly([])
            return .prefix(try text(argument, argumentPath))
        case "suffix":
            try allowOnly([])
            return .suffix(try text(argument, argumentPath))
        case "replace":
            try allowOnly([])
            guard let options = argument.objectValue, let from = options["from"], let to = options["to"] else {
                throw invalid(argumentPath, "expected { from: \"text\", to: \"replacement\" }")
            }
            for key in options.keys where key != "from" && key != "to" {
                throw invalid("\(argumentPath).\(key)", "not an option of replace; use from and to")
            }
            let target = try text(from, "\(argumentPath).from")
            guard !target.isEmpty else { throw invalid("\(argumentPath).from", "must not be empty") }
            return .replace(target, with: try text(to, "\(argumentPath).to"))
        case "lookup":
            try allowOnly(["default", "miss"])
            guard let table = argument.objectValue else {
                throw invalid(argumentPath, "expected a table object like { \"net_list\": \"list\" }, found \(argument.kindName)")
            }
            var entries: [String: String?] = [:]
            for (key, value) in table.members {
                if value == .null {
                    entries[key] = .some(nil)
                } else {
                    entries[key] = .some(try text(value, "\(argumentPath).\(key)"))
                }
            }
            var miss = ValueTransform.LookupMiss.reject
            if let fallback = object["default"] {
                if object["miss"] != nil { throw invalid("\(path).miss", "give either default or miss, not both") }
                miss = fallback == .null ? .value(nil) : .value(try text(fallback, "\(path).default"))
            } else if let missValue = object["miss"] {
                switch missValue.stringValue {
                case "keep": miss = .keep
                case "reject": miss = .reject
                default: throw invalid("\(path).miss", "expected \"keep\" or \"reject\" (or use default: \"value\")")
                }
            }
            return .lookup(entries, miss: miss)
        case "decimal":
            try allowOnly([])
            if let separator = argument.stringValue {
                return .decimal(separator: try separatorCharacter(separator, "\(argumentPath)"), thousands: nil)
            }
            guard let options = argument.objectValue else {
                throw invalid(argumentPath, "expected \".\" or \",\", or { separator: \",\", thousands: \".\" }")
            }
            var separator: Character = "."
            var thousands: Character?
            for (key, value) in options.members {
                switch key {
                case "separator": separator = try separatorCharacter(try text(value, "\(argumentPath).separator"), "\(argumentPath).separator")
                case "thousands":
                    let mark = try text(value, "\(argumentPath).thousands")
                    guard mark.count == 1, let character = mark.first, [".", ",", " ", "'", "\u{A0}"].contains(character) else {
                        throw invalid("\(argumentPath).thousands", "expected one of \".\", \",\", \" \", \"'\"")
                    }
                    thousands = character
                default: throw invalid("\(argumentPath).\(key)", "not an option of decimal; use separator and thousands")
                }
            }
            if thousands == separator {
                throw invalid(argumentPath, "separator and thousands must differ")
            }
            return .decimal(separator: separator, thousands: thousands)
        case "scale":
            try allowOnly([])
            return .scale(try factor(argument, argumentPath))
        case "round":
            try allowOnly([])
            guard let digits = argument.intValue, (0...18).contains(digits) else {
                throw invalid(argumentPath, "expected a number of fraction digits from 0 to 18, found \(argument.scalarText ?? argument.kindName)")
            }
            return .round(digits)
        case "unit":
            try allowOnly([])
            guard let options = argument.objectValue else {
                throw invalid(argumentPath, "expected { from: \"<where the unit is>\", factors: { EA: 1, DZN: 12 } }")
            }
            var reference: String?
            var factors: [String: DecimalText] = [:]
            var rejectUnknown = true
            for (key, value) in options.members {
                switch key {
                case "from":
                    guard let text = value.stringValue, !text.isEmpty else {
                        throw invalid("\(argumentPath).from", "expected where the unit is read (a non-empty text)")
                    }
                    reference = text
                case "factors":
                    guard let table = value.objectValue, !table.members.isEmpty else {
                        throw invalid("\(argumentPath).factors", "expected a table of unit -> factor like { EA: 1, DZN: 12 }")
                    }
                    for (unit, number) in table.members {
                        factors[unit] = try factor(number, "\(argumentPath).factors.\(unit)")
                    }
                case "unknown":
                    switch value.stringValue {
                    case "reject": rejectUnknown = true
                    case "keep": rejectUnknown = false
                    default: throw invalid("\(argumentPath).unknown", "expected \"reject\" or \"keep\"")
                    }
                default: throw invalid("\(argumentPath).\(key)", "not an option of unit; use from, factors and unknown")
                }
            }
            guard let reference else { throw invalid(argumentPath, "needs from: where the unit of each value is read") }
            guard !factors.isEmpty else { throw invalid(argumentPath, "needs factors: { UNIT: factor, … }") }
            return .unit(reference: reference, factors: factors, rejectUnknown: rejectUnknown)
        case "date":
            try allowOnly([])
            var pattern: String?
            var offset = 0
            if let text = argument.stringValue {
                pattern = text
            } else if let options = argument.objectValue {
                for (key, value) in options.members {
                    switch key {
                    case "format": pattern = value.stringValue
                    case "offset":
                        guard let text = value.stringValue, let seconds = offsetSeconds(text) else {
                            throw invalid("\(argumentPath).offset", "expected a UTC offset like \"+01:00\" or \"Z\"")
                        }
                        offset = seconds
                    default: throw invalid("\(argumentPath).\(key)", "not an option of date; use format and offset")
                    }
                }
            }
            guard let pattern, !pattern.isEmpty else {
                throw invalid(argumentPath, "expected a format like \"dd.MM.yyyy\" or { format: \"…\", offset: \"+01:00\" }")
            }
            do {
                return .date(try DateTimeFormat(pattern, defaultOffsetSeconds: offset))
            } catch {
                throw invalid(argumentPath, error.reason)
            }
        default:
            throw invalid(path, "unknown transform \"\(kind)\"")
        }
    }

    static func separatorCharacter(_ text: String, _ path: String) throws(PluginError) -> Character {
        guard text == "." || text == "," else { throw invalid(path, "the decimal separator must be \".\" or \",\", found \"\(text)\"") }
        return text.first!
    }

    static func factor(_ value: JSON, _ path: String) throws(PluginError) -> DecimalText {
        guard let text = value.scalarText, value.boolValue == nil || value.stringValue != nil else {
            throw invalid(path, "expected a decimal factor such as \"0.001\", found \(value.kindName)")
        }
        guard !text.contains("e"), !text.contains("E"), let number = try? DecimalText.parse(text) else {
            throw invalid(path, "expected a decimal factor such as \"0.001\" (write it as a string to keep every digit), found \(text)")
        }
        return number
    }

    static func offsetSeconds(_ text: String) -> Int? {
        if text == "Z" { return 0 }
        let bytes = Array(text.utf8)
        guard bytes.count == 6, bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-"), bytes[3] == UInt8(ascii: ":"),
            let hours = Int(String(decoding: bytes[1...2], as: UTF8.self)), let minutes = Int(String(decoding: bytes[4...5], as: UTF8.self)),
            hours <= 18, minutes < 60
        else { return nil }
        return (bytes[0] == UInt8(ascii: "-") ? -1 : 1) * (hours * 3600 + minutes * 60)
    }

    static func suggestion(for name: String) -> String {
        let lower = name.lowercased()
        if let close = knownNames.first(where: { editDistance($0, lower) <= 2 }) { return " (did you mean \"\(close)\"?)" }
        return ""
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

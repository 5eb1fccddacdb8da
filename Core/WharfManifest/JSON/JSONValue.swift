/// A JSON (or JSON5) value, with objects that keep their key order.
///
/// Integers that fit in 64 bits are kept exactly as `.int`; every other number is a `.double`. Parse text with
/// `JSONValue.parse(json5:)`; write it with `jsonText()`.
public enum JSONValue: Sendable, Hashable, Decodable, CustomStringConvertible, ExpressibleByStringLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A whole number that fits in a signed 64-bit integer.
    case int(Int64)
    /// Any other number, including JSON5's `Infinity` and `NaN`.
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object, keys in written order.
    case object(JSONObject)

    // MARK: Reading

    /// Parses JSON5 text (a superset of JSON: comments, trailing commas, unquoted keys, single quotes, hex numbers).
    ///
    /// A key that appears twice in one object is refused: which value was meant is ambiguous.
    /// - Throws: `JSONSyntaxError` with the line and column of the first problem.
    public static func parse(json5 text: String) throws(JSONSyntaxError) -> JSONValue {
        var parser = JSON5Parser(scalars: Array(text.unicodeScalars), recordPositions: false)
        let value = try parser.parseDocument()
        if let duplicate = parser.duplicateKeys.first {
            throw JSONSyntaxError(
                line: duplicate.line, column: duplicate.column,
                message: "the key \(quoted(duplicate.key)) appears twice in one object (first on line \(duplicate.firstLine))")
        }
        return value
    }

    /// Decodes from any `Decoder` (so `JSONValue` can sit inside `Decodable` types).
    ///
    /// Key order is whatever the decoder reports; Foundation's `JSONDecoder` does not keep it, which is why Wharf
    /// parses manifests with `parse(json5:)` instead. Do not feed untrusted text to a `JSONDecoder` with
    /// `allowsJSON5` set: in Swift 6.3 it can crash on some numbers (see `JSON5Parser`).
    public init(from decoder: any Decoder) throws {
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let value = try? single.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? single.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? single.decode(Double.self) {
            self = .double(value)
        } else if let value = try? single.decode(String.self) {
            self = .string(value)
        } else if var list = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !list.isAtEnd { items.append(try list.decode(JSONValue.self)) }
            self = .array(items)
        } else {
            let keyed = try decoder.container(keyedBy: AnyCodingKey.self)
            var object = JSONObject()
            for key in keyed.allKeys { object[key.stringValue] = try keyed.decode(JSONValue.self, forKey: key) }
            self = .object(object)
        }
    }

    // MARK: Access

    /// The member `key` of an object, or nil (also for non-objects).
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// The value at a dotted path such as `"files.delimiter"` or `"items[2].sku"`, or nil when any step is
    /// missing. An empty path is the value itself. Keys that contain `.` or `[` cannot be reached this way; use the
    /// subscript.
    public func value(atPath path: String) -> JSONValue? {
        guard let steps = JSONPath.parse(path) else { return nil }
        var current = self
        for step in steps {
            switch (step, current) {
            case (.key(let key), .object(let object)):
                guard let next = object[key] else { return nil }
                current = next
            case (.index(let index), .array(let items)):
                guard items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    /// The value as plain text for a setting: a string as is, a number or boolean as its JSON text; nil for null,
    /// arrays and objects.
    public var scalarText: String? {
        switch self {
        case .string(let text): return text
        case .bool, .int, .double: return jsonText()
        case .null, .array, .object: return nil
        }
    }

    /// The string, or nil for anything else.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The boolean, or nil for anything else.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The whole number (also a `.double` with no fraction that fits), or nil.
    public var int64Value: Int64? {
        switch self {
        case .int(let value): return value
        case .double(let value): return value.rounded() == value ? Int64(exactly: value) : nil
        default: return nil
        }
    }

    /// The number as a `Double` (integers converted), or nil.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    /// The items of an array, or nil.
    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// The object, or nil.
    public var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    // MARK: Writing

    /// Compact JSON text: keys in order, strings escaped, no spaces. Always valid JSON: `Infinity` and `NaN`, which
    /// JSON cannot express, are written as `null`.
    public func jsonText() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    /// The compact JSON text.
    public var description: String { jsonText() }

    // MARK: Literals

    /// A string literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An integer literal.
    public init(integerLiteral value: Int64) { self = .int(value) }
    /// A floating-point literal.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// `true` or `false`.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An array literal.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// A dictionary literal, keys kept in order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
    /// `nil` is `null`.
    public init(nilLiteral: ()) { self = .null }

    // MARK: Not public

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .double(let value): out += value.isFinite ? value.description : "null"
        case .string(let text): writeJSONString(text, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (i, member) in object.enumerated() {
                if i > 0 { out += "," }
                writeJSONString(member.key, to: &out)
                out += ":"
                member.value.write(to: &out)
            }
            out += "}"
        }
    }
}

/// Appends `text` as a JSON string literal. Control characters are escaped, and so are U+2028/U+2029 so the text is
/// also safe inside JavaScript.
func writeJSONString(_ text: String, to out: inout String) {
    out += "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case "\u{2028}": out += "\\u2028"
        case "\u{2029}": out += "\\u2029"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    out += "\""
}

/// `text` as a JSON string literal, for messages.
func quoted(_ text: String) -> String {
    var out = ""
    writeJSONString(text, to: &out)
    return out
}

/// A coding key for objects whose keys are not known in advance.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

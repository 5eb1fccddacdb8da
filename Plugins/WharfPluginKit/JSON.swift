/// A JSON value, for reading config, mapping and JSON input (JSON Lines records).
///
/// Numbers keep their exact text (`12.50` stays `"12.50"`), so prices never pass through `Double`.
/// Objects keep their members in order; when a key repeats, the last one wins on lookup.
public enum JSON: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` / `false`.
    case bool(Bool)
    /// A number, as its literal text (`"-1.50e3"`).
    case number(String)
    /// A string.
    case string(String)
    /// An array.
    case array([JSON])
    /// An object, members in order.
    case object(JSONObject)

    /// Parses JSON text (one value, surrounded by optional whitespace).
    public static func parse(_ text: String) throws(JSONError) -> JSON {
        var text = text
        // withUTF8 rethrows untyped, so carry the typed error out in a Result.
        let result = text.withUTF8 { bytes in Result { () throws(JSONError) -> JSON in try parse(bytes) } }
        return try result.get()
    }

    /// Parses JSON from UTF-8 bytes (one value, surrounded by optional whitespace).
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONError) -> JSON {
        var parser = JSONParser(bytes: bytes)
        return try parser.parseDocument()
    }

    /// The member `key` of an object (nil for other values or a missing key).
    public subscript(key: String) -> JSON? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// The value at a dotted path of object keys (`"price.amount"`); a key that itself contains dots is found too.
    public func value(atPath path: String) -> JSON? {
        if let direct = self[path] { return direct }
        guard path.contains(".") else { return nil }
        var current = self
        for key in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard let next = current[String(key)] else { return nil }
            current = next
        }
        return current
    }

    /// The string, or nil for other values.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The object, or nil for other values.
    public var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    /// The array, or nil for other values.
    public var arrayValue: [JSON]? {
        if case .array(let array) = self { return array }
        return nil
    }

    /// A boolean, also from the strings `"true"`/`"false"`; nil otherwise.
    public var boolValue: Bool? {
        switch self {
        case .bool(let value): return value
        case .string("true"): return true
        case .string("false"): return false
        default: return nil
        }
    }

    /// The boolean setting `key` of this config object: `fallback` when absent, else `true`/`false` (see
    /// `boolValue`). Anything else is refused as `config.<key>: expected true or false, found …`.
    public func flag(_ key: String, default fallback: Bool) throws(PluginError) -> Bool {
        guard let value = self[key] else { return fallback }
        guard let flag = value.boolValue else {
            throw PluginError.invalid("config.\(key): expected true or false, found \(value.scalarText ?? value.kindName)")
        }
        return flag
    }

    /// An integer from a number without fraction or exponent (or such a string); nil otherwise.
    public var intValue: Int? {
        switch self {
        case .number(let text), .string(let text): return Int(text)
        default: return nil
        }
    }

    /// A scalar as text (strings as they are, numbers as written, booleans as `true`/`false`); nil for null,
    /// arrays and objects.
    public var scalarText: String? {
        switch self {
        case .string(let text), .number(let text): return text
        case .bool(let value): return value ? "true" : "false"
        default: return nil
        }
    }

    /// What kind of value this is, for messages: "a string", "an object", ...
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// A JSON object's members in order.
public struct JSONObject: Sendable, Hashable {
    /// The members in document order (keys may repeat).
    public var members: [(key: String, value: JSON)]

    /// Creates an object from members.
    public init(_ members: [(key: String, value: JSON)] = []) {
        self.members = members
    }

    /// The value of `key` (the last one when it repeats).
    public subscript(key: String) -> JSON? {
        var index = members.count
        while index > 0 {
            index -= 1
            if members[index].key == key { return members[index].value }
        }
        return nil
    }

    /// The keys in order.
    public var keys: [String] { members.map(\.key) }

    /// Compares members in order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// Hashes members in order.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(members.count)
        for member in members {
            hasher.combine(member.key)
            hasher.combine(member.value)
        }
    }
}

/// Why JSON text could not be parsed, with the byte offset of the problem.
public struct JSONError: Error, Sendable, Hashable, CustomStringConvertible {
    /// 0-based byte offset where the problem was found.
    public var offset: Int
    /// What was wrong ("expected ':' after an object key").
    public var reason: String

    /// Creates an error.
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    /// "reason at byte N".
    public var description: String { "\(reason) at byte \(offset + 1)" }
}

// MARK: Not public

/// A strict RFC 8259 recursive-descent parser over UTF-8 bytes, with a nesting limit.
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0
    static let maximumDepth = 256

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func parseDocument() throws(JSONError) -> JSON {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if index < bytes.count { throw fail("unexpected \(describe(bytes[index])) after the JSON value") }
        return value
    }

    private func fail(_ reason: String) -> JSONError {
        JSONError(offset: index, reason: reason)
    }

    private func describe(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16))"
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws(JSONError) -> JSON {
        guard index < bytes.count else { throw fail("unexpected end of JSON, expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw fail("unexpected \(describe(bytes[index])), expected a value")
        }
    }

    private mutating func expectWord(_ word: StaticString) throws(JSONError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count,
            memcmpEqual(bytes.baseAddress! + index, word.utf8Start, count)
        else { throw fail("invalid literal, expected \(word)") }
        index += count
    }

    private func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        for offset in 0..<count where a[offset] != b[offset] { return false }
        return true
    }

    private mutating func enter() throws(JSONError) {
        depth += 1
        if depth > Self.maximumDepth { throw fail("JSON nested deeper than \(Self.maximumDepth) levels") }
    }

    private mutating func parseObject() throws(JSONError) -> JSON {
        try enter()
        index += 1
        var members: [(key: String, value: JSON)] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(JSONObject(members))
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw fail(index < bytes.count ? "expected a string key in object" : "unexpected end of JSON inside an object")
            }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw fail("expected ':' after object key \"\(key)\"")
            }
            index += 1
            skipWhitespace()
            let value = try parseValue()
            members.append((key, value))
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of JSON inside an object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                depth -= 1
                return .object(JSONObject(members))
            }
            throw fail("expected ',' or '}' in object, found \(describe(bytes[index]))")
        }
    }

    private mutating func parseArray() throws(JSONError) -> JSON {
        try enter()
        index += 1
        var elements: [JSON] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of JSON inside an array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                depth -= 1
                return .array(elements)
            }
            throw fail("expected ',' or ']' in array, found \(describe(bytes[index]))")
        }
    }

    private mutating func parseNumber() throws(JSONError) -> String {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits(_ parser: inout JSONParser) -> Int {
            let begin = parser.index
            while parser.index < parser.bytes.count, (0x30...0x39).contains(parser.bytes[parser.index]) {
                parser.index += 1
            }
            return parser.index - begin
        }
        guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { throw fail("invalid number") }
        if bytes[index] == 0x30 {
            index += 1
            if index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                throw fail("invalid number: leading zero")
            }
        } else {
            _ = digits(&self)
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw fail("invalid number: expected digits after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard digits(&self) > 0 else { throw fail("invalid number: expected digits in exponent") }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    }

    private mutating func parseString() throws(JSONError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                guard let text = String(validating: slice, as: UTF8.self) else {
                    index = start
                    throw fail("invalid UTF-8 in string")
                }
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("control character in string (escape it)") }
            index += 1
        }
        guard index < bytes.count else { throw fail("unterminated string") }
        var buffer = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                guard let text = String(validating: buffer, as: UTF8.self) else {
                    index = start
                    throw fail("invalid UTF-8 in string")
                }
                return text
            }
            if byte < 0x20 { throw fail("control character in string (escape it)") }
            if byte != UInt8(ascii: "\\") {
                buffer.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { throw fail("unterminated string") }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): buffer.append(0x22)
            case UInt8(ascii: "\\"): buffer.append(0x5C)
            case UInt8(ascii: "/"): buffer.append(0x2F)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                    else { throw fail("unpaired surrogate in \\u escape") }
                    index += 2
                    let low = try parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("unpaired surrogate in \\u escape")
                }
                buffer.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
            default:
                index -= 1
                throw fail("invalid escape \\\(Character(Unicode.Scalar(escape)))")
            }
        }
        throw fail("unterminated string")
    }

    private mutating func parseHex4() throws(JSONError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("incomplete \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw fail("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}

extension JSON {
    /// The value as compact JSON text (numbers as their literal text, so prices keep every digit).
    public var jsonText: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let text): out += text
        case .string(let text): JSON.writeString(text, to: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (index, member) in object.members.enumerated() {
                if index > 0 { out += "," }
                JSON.writeString(member.key, to: &out)
                out += ":"
                member.value.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

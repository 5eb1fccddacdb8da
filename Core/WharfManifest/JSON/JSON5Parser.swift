/// A JSON5 syntax error: where it is and what is wrong.
public struct JSONSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// 1-based line.
    public var line: Int
    /// 1-based column, counted in Unicode scalars (a tab counts as one).
    public var column: Int
    /// What is wrong, for example `expected ',' or '}' after the value of "listen", found '"'`.
    public var message: String

    /// A syntax error at a position.
    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    /// `line 3, column 14: expected ...`.
    public var description: String { "line \(line), column \(column): \(message)" }
}

// MARK: Not public

/// A line and column in the source text.
struct SourcePosition: Hashable, Sendable {
    var line: Int
    var column: Int
}

/// A key written twice in one object.
struct DuplicateKey: Hashable, Sendable {
    var path: [JSONPath.Step]
    var key: String
    var line: Int
    var column: Int
    var firstLine: Int
}

/// A JSON5 parser (https://spec.json5.org) that keeps object key order and reports line and column.
///
/// Wharf does not use Foundation's `JSONDecoder(allowsJSON5:)` here because, in the toolchain Wharf is built with
/// (Swift 6.3, swift-foundation on Linux), it (1) forgets key order, (2) reports every syntax error as "The given
/// data was not valid JSON." with no position, and (3) mishandles a dangling exponent (`{a: 1e+}` decodes as the
/// integer 1, or traps when decoded as `Double`; integers just past `Int64`, like `12345678901234567890`, trap
/// too). `JSONSerialization` has no JSON5 option on Linux.
///
/// The accepted language is JSON5 restricted to what `JSONDecoder(allowsJSON5)` also accepts, so a manifest Wharf
/// takes is valid for both and means the same in both: no `\v`/`\0` escapes, no escapes of ordinary characters
/// (`\q`), no line continuations (Foundation keeps the newline, JSON5 drops it), no Unicode space separators as
/// whitespace, and numbers must be finite (`1e400` is refused instead of becoming `Infinity`).
struct JSON5Parser {
    private let s: [Unicode.Scalar]
    private var i = 0
    private var line = 1
    private var lineStart = 0
    private var depth = 0
    private var path: [JSONPath.Step] = []
    private let recordPositions: Bool
    /// Where each value starts, by rendered path (only when `recordPositions`).
    private(set) var positions: [String: SourcePosition] = [:]
    /// Keys written twice in one object; the later value wins.
    private(set) var duplicateKeys: [DuplicateKey] = []

    /// Deep enough for any real document, shallow enough that recursion cannot exhaust the stack.
    static let maximumDepth = 256

    init(scalars: [Unicode.Scalar], recordPositions: Bool) {
        self.s = scalars
        self.recordPositions = recordPositions
    }

    /// Parses one value followed only by whitespace and comments.
    mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
        if s.first == "\u{FEFF}" { i = 1; lineStart = 1 }
        try skipTrivia()
        if i == s.count { throw error("expected a value, found the end of the file (the file is empty)") }
        let value = try parseValue()
        try skipTrivia()
        if i < s.count { throw error("expected the end of the file after the value, found \(describeHere())") }
        return value
    }

    // MARK: Values

    private mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
        try skipTrivia()
        if recordPositions { positions[JSONPath.render(path)] = position }
        guard i < s.count else { throw error("expected a value, found the end of the file") }
        let c = s[i]
        switch c {
        case "{": return try parseObject()
        case "[": return try parseArray()
        case "\"", "'": return .string(try parseString())
        case "-", "+", ".", "0"..."9": return try parseNumber()
        default:
            if isIdentifierStart(c) {
                let start = position
                let word = readWord()
                switch word {
                case "true": return .bool(true)
                case "false": return .bool(false)
                case "null": return .null
                case "Infinity": return .double(.infinity)
                case "NaN": return .double(.nan)
                default:
                    throw JSONSyntaxError(
                        line: start.line, column: start.column,
                        message: "expected a value, found the word \(quoted(word)); strings need quotes")
                }
            }
            throw error("expected a value, found \(describeHere())")
        }
    }

    private mutating func parseObject() throws(JSONSyntaxError) -> JSONValue {
        let open = position
        try enter()
        advance()  // {
        var object = JSONObject()
        var firstLines: [String: Int] = [:]
        while true {
            try skipTrivia()
            guard i < s.count else {
                throw error("expected a key or '}', found the end of the file (the object opened on line \(open.line), column \(open.column) is not closed)")
            }
            if s[i] == "}" { advance(); break }
            let keyPosition = position
            let key: String
            if s[i] == "\"" || s[i] == "'" {
                key = try parseString()
            } else if isIdentifierStart(s[i]) || s[i] == "\\" {
                key = try parseIdentifierKey()
            } else {
                throw error("expected a key or '}', found \(describeHere())")
            }
            try skipTrivia()
            guard i < s.count, s[i] == ":" else {
                throw error("expected ':' after the key \(quoted(key)), found \(describeHere())")
            }
            advance()
            path.append(.key(key))
            let value = try parseValue()
            path.removeLast()
            if let firstLine = firstLines[key] {
                duplicateKeys.append(
                    DuplicateKey(path: path + [.key(key)], key: key, line: keyPosition.line, column: keyPosition.column, firstLine: firstLine))
            } else {
                firstLines[key] = keyPosition.line
            }
            object[key] = value
            try skipTrivia()
            guard i < s.count else {
                throw error("expected ',' or '}' after the value of \(quoted(key)), found the end of the file (the object opened on line \(open.line), column \(open.column) is not closed)")
            }
            if s[i] == "," { advance(); continue }
            if s[i] == "}" { advance(); break }
            throw error("expected ',' or '}' after the value of \(quoted(key)), found \(describeHere())")
        }
        depth -= 1
        return .object(object)
    }

    private mutating func parseArray() throws(JSONSyntaxError) -> JSONValue {
        let open = position
        try enter()
        advance()  // [
        var items: [JSONValue] = []
        while true {
            try skipTrivia()
            guard i < s.count else {
                throw error("expected a value or ']', found the end of the file (the array opened on line \(open.line), column \(open.column) is not closed)")
            }
            if s[i] == "]" { advance(); break }
            if s[i] == "," { throw error("expected a value or ']', found ','") }
            path.append(.index(items.count))
            items.append(try parseValue())
            path.removeLast()
            try skipTrivia()
            guard i < s.count else {
                throw error("expected ',' or ']' after an array item, found the end of the file (the array opened on line \(open.line), column \(open.column) is not closed)")
            }
            if s[i] == "," { advance(); continue }
            if s[i] == "]" { advance(); break }
            throw error("expected ',' or ']' after an array item, found \(describeHere())")
        }
        depth -= 1
        return .array(items)
    }

    private mutating func enter() throws(JSONSyntaxError) {
        depth += 1
        if depth > JSON5Parser.maximumDepth {
            throw error("objects and arrays are nested more than \(JSON5Parser.maximumDepth) deep")
        }
    }

    // MARK: Strings and keys

    private mutating func parseString() throws(JSONSyntaxError) -> String {
        let quote = s[i]
        let open = position
        advance()
        var out = String.UnicodeScalarView()
        while true {
            guard i < s.count else {
                throw JSONSyntaxError(
                    line: open.line, column: open.column,
                    message: "this string is not closed: no matching \(quote == "\"" ? "'\"'" : "\"'\"") before the end of the file")
            }
            let c = s[i]
            if c == quote { advance(); break }
            if c == "\n" || c == "\r" {
                throw error("line break inside a string (the string starts on line \(open.line), column \(open.column)); close the string or write \\n")
            }
            if c.value < 0x20 {
                throw error("control character \(unicodeName(c)) inside a string; write it as an escape such as \\t or \\u\(hex4(c.value))")
            }
            if c == "\\" {
                try parseEscape(into: &out)
                continue
            }
            out.append(c)
            advance()
        }
        return String(out)
    }

    private mutating func parseEscape(into out: inout String.UnicodeScalarView) throws(JSONSyntaxError) {
        let escapeStart = position
        advance()  // backslash
        guard i < s.count else { throw error("expected an escape after '\\', found the end of the file") }
        let c = s[i]
        switch c {
        case "\"", "'", "\\", "/": out.append(c); advance()
        case "b": out.append("\u{08}"); advance()
        case "f": out.append("\u{0C}"); advance()
        case "n": out.append("\n"); advance()
        case "r": out.append("\r"); advance()
        case "t": out.append("\t"); advance()
        case "\n", "\r", "\u{2028}", "\u{2029}":
            // JSON5 drops a backslash-newline; Foundation's JSONDecoder keeps the newline. Refusing it means a
            // manifest never reads differently in the two.
            throw JSONSyntaxError(
                line: escapeStart.line, column: escapeStart.column,
                message: "line continuations (a '\\' at the end of a line) are not supported; keep the string on one line, or write \\n for a line break")
        case "x":
            advance()
            guard let value = readHex(count: 2) else {
                throw JSONSyntaxError(line: escapeStart.line, column: escapeStart.column, message: "invalid escape: \\x needs two hex digits, as in \\x41")
            }
            out.append(Unicode.Scalar(UInt8(value)))
        case "u":
            advance()
            out.append(try readUnicodeEscape(start: escapeStart))
        default:
            throw JSONSyntaxError(
                line: escapeStart.line, column: escapeStart.column,
                message: "invalid escape \(describe(c, prefix: "\\")); the escapes are \\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t \\xXX and \\uXXXX")
        }
    }

    /// After `\u`: four hex digits, and for a high surrogate the `\uXXXX` low surrogate that must follow.
    private mutating func readUnicodeEscape(start: SourcePosition) throws(JSONSyntaxError) -> Unicode.Scalar {
        func bad(_ what: String) -> JSONSyntaxError {
            JSONSyntaxError(line: start.line, column: start.column, message: "invalid escape: \(what)")
        }
        guard let high = readHex(count: 4) else { throw bad("\\u needs four hex digits, as in \\u00e9") }
        if (0xDC00...0xDFFF).contains(high) { throw bad("\\u\(hex4(high)) is a lone low surrogate") }
        if (0xD800...0xDBFF).contains(high) {
            guard i + 1 < s.count, s[i] == "\\", s[i + 1] == "u" else {
                throw bad("\\u\(hex4(high)) is a high surrogate that must be followed by a low surrogate \\uDC00-\\uDFFF")
            }
            advance()
            advance()
            guard let low = readHex(count: 4), (0xDC00...0xDFFF).contains(low) else {
                throw bad("\\u\(hex4(high)) is a high surrogate that must be followed by a low surrogate \\uDC00-\\uDFFF")
            }
            return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
        }
        return Unicode.Scalar(high)!
    }

    private mutating func readHex(count: Int) -> UInt32? {
        guard i + count <= s.count else { return nil }
        var value: UInt32 = 0
        for k in 0..<count {
            guard let digit = hexDigit(s[i + k]) else { return nil }
            value = value << 4 | digit
        }
        for _ in 0..<count { advance() }
        return value
    }

    /// An unquoted key: an ECMAScript identifier name, which may contain `\uXXXX` escapes.
    private mutating func parseIdentifierKey() throws(JSONSyntaxError) -> String {
        var out = String.UnicodeScalarView()
        while i < s.count {
            let c = s[i]
            let isFirst = out.isEmpty
            if c == "\\" {
                let start = position
                advance()
                guard i < s.count, s[i] == "u" else {
                    throw JSONSyntaxError(line: start.line, column: start.column, message: "expected \\u in an unquoted key, found \(describeHere())")
                }
                advance()
                let scalar = try readUnicodeEscape(start: start)
                guard isFirst ? isIdentifierStart(scalar) : isIdentifierPart(scalar) else {
                    throw JSONSyntaxError(line: start.line, column: start.column, message: "the escape \(unicodeName(scalar)) cannot appear in an unquoted key; quote the key")
                }
                out.append(scalar)
            } else if isFirst ? isIdentifierStart(c) : isIdentifierPart(c) {
                out.append(c)
                advance()
            } else {
                break
            }
        }
        return String(out)
    }

    private mutating func readWord() -> String {
        var out = String.UnicodeScalarView()
        while i < s.count, isIdentifierPart(s[i]) {
            out.append(s[i])
            advance()
        }
        return String(out)
    }

    private func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        c == "$" || c == "_" || c.properties.isIDStart
    }

    private func isIdentifierPart(_ c: Unicode.Scalar) -> Bool {
        c == "$" || c == "_" || c == "\u{200C}" || c == "\u{200D}" || c.properties.isIDContinue
    }

    // MARK: Numbers

    private mutating func parseNumber() throws(JSONSyntaxError) -> JSONValue {
        let start = position
        let startIndex = i
        var negative = false
        if s[i] == "+" || s[i] == "-" {
            negative = s[i] == "-"
            advance()
        }
        func fail(_ message: String) -> JSONSyntaxError {
            JSONSyntaxError(line: start.line, column: start.column, message: message)
        }
        guard i < s.count else { throw fail("expected digits after the sign, found the end of the file") }
        if isIdentifierStart(s[i]) {
            let word = readWord()
            switch word {
            case "Infinity": return .double(negative ? -.infinity : .infinity)
            case "NaN": return .double(.nan)
            default: throw fail("expected a number, found \(quoted(text(from: startIndex)))")
            }
        }
        // Hexadecimal: 0x1F, -0x10. Must fit in a signed 64-bit integer.
        if s[i] == "0", i + 1 < s.count, s[i + 1] == "x" || s[i + 1] == "X" {
            advance()
            advance()
            let digitsStart = i
            var magnitude: UInt64 = 0
            var overflow = false
            while i < s.count, let digit = hexDigit(s[i]) {
                let (shifted, o1) = magnitude.multipliedReportingOverflow(by: 16)
                let (sum, o2) = shifted.addingReportingOverflow(UInt64(digit))
                overflow = overflow || o1 || o2
                magnitude = sum
                advance()
            }
            guard i > digitsStart else { throw fail("expected hex digits after \(quoted(text(from: startIndex)))") }
            try checkNumberEnd(startIndex, start)
            if !overflow {
                if negative, magnitude <= UInt64(Int64.max) + 1 {
                    return .int(magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude))
                }
                if !negative, magnitude <= UInt64(Int64.max) { return .int(Int64(magnitude)) }
            }
            throw fail("the number \(text(from: startIndex)) does not fit in a 64-bit integer")
        }
        let integerStart = i
        while i < s.count, s[i].asciiDigit != nil { advance() }
        let integerDigits = i - integerStart
        if integerDigits > 1, s[integerStart] == "0" {
            throw fail("leading zeros are not allowed in numbers (found \(text(from: startIndex))); write it without them, or as a string if the zeros matter")
        }
        var isInteger = true
        var fractionDigits = 0
        if i < s.count, s[i] == "." {
            isInteger = false
            advance()
            let fractionStart = i
            while i < s.count, s[i].asciiDigit != nil { advance() }
            fractionDigits = i - fractionStart
        }
        guard integerDigits + fractionDigits > 0 else {
            throw fail("expected a number, found \(quoted(text(from: startIndex)))")
        }
        if i < s.count, s[i] == "e" || s[i] == "E" {
            isInteger = false
            advance()
            if i < s.count, s[i] == "+" || s[i] == "-" { advance() }
            let exponentStart = i
            while i < s.count, s[i].asciiDigit != nil { advance() }
            guard i > exponentStart else {
                throw fail("expected digits after the exponent in \(text(from: startIndex))")
            }
        }
        try checkNumberEnd(startIndex, start)
        let literal = text(from: startIndex)
        if isInteger, let value = Int64(literal) { return .int(value) }
        guard let value = Double(literal), value.isFinite else {
            throw fail("the number \(literal) is too large")
        }
        return .double(value)
    }

    /// A number must not run straight into letters or digits (`12px`, `0x1G`).
    private mutating func checkNumberEnd(_ startIndex: Int, _ start: SourcePosition) throws(JSONSyntaxError) {
        if i < s.count, isIdentifierPart(s[i]) || s[i] == "." {
            let here = position
            while i < s.count, isIdentifierPart(s[i]) || s[i] == "." { advance() }
            throw JSONSyntaxError(
                line: here.line, column: here.column,
                message: "expected a number, found \(quoted(text(from: startIndex))); write text as a quoted string")
        }
    }

    // MARK: Whitespace and comments

    private mutating func skipTrivia() throws(JSONSyntaxError) {
        while i < s.count {
            switch s[i] {
            case " ", "\t", "\n", "\r", "\u{0B}", "\u{0C}", "\u{FEFF}":
                advance()
            case "/":
                let start = position
                guard i + 1 < s.count else { throw error("found a lone '/'; comments start with // or /*") }
                if s[i + 1] == "/" {
                    while i < s.count, s[i] != "\n", s[i] != "\r", s[i] != "\u{2028}", s[i] != "\u{2029}" { advance() }
                } else if s[i + 1] == "*" {
                    advance()
                    advance()
                    while true {
                        guard i < s.count else {
                            throw JSONSyntaxError(line: start.line, column: start.column, message: "this /* comment is not closed with */")
                        }
                        if s[i] == "*", i + 1 < s.count, s[i + 1] == "/" {
                            advance()
                            advance()
                            break
                        }
                        advance()
                    }
                } else {
                    throw error("found a lone '/'; comments start with // or /*")
                }
            default:
                return
            }
        }
    }

    // MARK: Positions

    private var position: SourcePosition { SourcePosition(line: line, column: i - lineStart + 1) }

    /// Moves past one scalar, counting lines (CR LF counts once).
    private mutating func advance() {
        let c = s[i]
        i += 1
        if c == "\n" || c == "\u{2028}" || c == "\u{2029}" || (c == "\r" && (i == s.count || s[i] != "\n")) {
            line += 1
            lineStart = i
        }
    }

    private func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(line: line, column: i - lineStart + 1, message: message)
    }

    private func text(from start: Int) -> String {
        var out = String.UnicodeScalarView()
        out.append(contentsOf: s[start..<i])
        return String(out)
    }

    private func describeHere() -> String {
        i < s.count ? describe(s[i]) : "the end of the file"
    }

    private func describe(_ c: Unicode.Scalar, prefix: String = "") -> String {
        switch c {
        case "\n", "\r", "\u{2028}", "\u{2029}": return "a line break"
        case "'": return "\"\(prefix)'\""
        default:
            if c.value < 0x20 || c.value == 0x7F || c.properties.isWhitespace { return unicodeName(c) }
            return "'\(prefix)\(c)'"
        }
    }
}

private func hexDigit(_ c: Unicode.Scalar) -> UInt32? {
    switch c.value {
    case 48...57: return c.value - 48
    case 65...70: return c.value - 55
    case 97...102: return c.value - 87
    default: return nil
    }
}

private func hex4(_ value: UInt32) -> String {
    let hex = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
}

/// `U+0009`.
func unicodeName(_ c: Unicode.Scalar) -> String { "U+" + hex4(c.value) }

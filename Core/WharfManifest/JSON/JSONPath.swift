// MARK: Not public

/// Paths into a JSON value as people read them in error messages: `connectors[1].config.path`.
enum JSONPath {
    /// One step of a path.
    enum Step: Hashable, Sendable {
        case key(String)
        case index(Int)
    }

    /// `connectors[1].plugin`. Keys that would be ambiguous (empty, or containing `.`, `[`, `]`, `"`, spaces or
    /// control characters) are written as `["a.b"]`.
    static func render(_ steps: [Step]) -> String {
        var out = ""
        for step in steps {
            switch step {
            case .index(let index):
                out += "[\(index)]"
            case .key(let key):
                if isPlain(key) {
                    if !out.isEmpty { out += "." }
                    out += key
                } else {
                    out += "[" + quoted(key) + "]"
                }
            }
        }
        return out
    }

    /// The steps of `a.b[2]["c.d"]`, or nil when the text is not a path.
    static func parse(_ path: String) -> [Step]? {
        let s = Array(path.unicodeScalars)
        var steps: [Step] = []
        var i = 0
        var key = ""
        var keyPending = false
        func flushKey() -> Bool {
            defer { key = ""; keyPending = false }
            if keyPending && key.isEmpty { return false }
            if !key.isEmpty { steps.append(.key(key)) }
            return true
        }
        if s.isEmpty { return [] }
        keyPending = s.first != "["
        while i < s.count {
            let c = s[i]
            if c == "." {
                guard flushKey() else { return nil }
                keyPending = true
                i += 1
            } else if c == "[" {
                guard flushKey() else { return nil }
                i += 1
                if i < s.count, s[i] == "\"" {
                    i += 1
                    var text = ""
                    while i < s.count, s[i] != "\"" {
                        if s[i] == "\\", i + 1 < s.count { i += 1 }
                        text.unicodeScalars.append(s[i])
                        i += 1
                    }
                    guard i + 1 < s.count, s[i + 1] == "]" else { return nil }
                    steps.append(.key(text))
                    i += 2
                } else {
                    var number = 0
                    let start = i
                    while i < s.count, let digit = s[i].asciiDigit {
                        number = number &* 10 &+ digit
                        i += 1
                    }
                    guard i > start, i - start < 10, i < s.count, s[i] == "]" else { return nil }
                    steps.append(.index(number))
                    i += 1
                }
                guard i == s.count || s[i] == "." || s[i] == "[" else { return nil }
            } else {
                key.unicodeScalars.append(c)
                keyPending = true
                i += 1
            }
        }
        guard flushKey() else { return nil }
        return steps
    }

    private static func isPlain(_ key: String) -> Bool {
        guard !key.isEmpty else { return false }
        for scalar in key.unicodeScalars {
            switch scalar {
            case ".", "[", "]", "\"", " ": return false
            default: if scalar.value < 0x20 || scalar.properties.isWhitespace { return false }
            }
        }
        return true
    }
}

extension Unicode.Scalar {
    /// 0–9 for an ASCII digit, else nil.
    var asciiDigit: Int? {
        value >= 48 && value <= 57 ? Int(value - 48) : nil
    }
}

/// Everything wrong with one manifest file, one issue per line.
///
/// The description reads `FILE: connectors[1].plugin: expected a plugin id string, found the number 3`, or for a
/// syntax error `FILE: line 4, column 9: expected ',' or '}' ...`. No issue ever contains a secret's value.
public struct ManifestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The manifest path as it was given to `load`/`parse` (relative paths stay relative, so messages match what the
    /// person typed); the absolute path for errors from `Manifest.checkSecrets`.
    public var file: String
    /// Every problem found, in file order.
    public var issues: [ManifestIssue]

    /// An error for `file`.
    public init(file: String, issues: [ManifestIssue]) {
        self.file = file
        self.issues = issues
    }

    /// One line per issue, each starting with the file.
    public var description: String {
        issues.map { "\(file): \($0)" }.joined(separator: "\n")
    }
}

/// One problem in a manifest.
public struct ManifestIssue: Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is. New kinds may be added.
    public struct Kind: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The kind's stable name.
        public var rawValue: String
        /// A kind from its name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The name.
        public var description: String { rawValue }

        /// The file is missing, a folder, unreadable or not UTF-8.
        public static let unreadable = Kind(rawValue: "unreadable")
        /// The text is not valid JSON5.
        public static let syntax = Kind(rawValue: "syntax")
        /// A value has the wrong type (a number where a string belongs).
        public static let wrongType = Kind(rawValue: "wrong-type")
        /// A required key is absent.
        public static let missing = Kind(rawValue: "missing")
        /// A key Wharf does not know (often a typo; the message suggests the closest known key).
        public static let unknownKey = Kind(rawValue: "unknown-key")
        /// A key written twice in one object, or a connector name used twice.
        public static let duplicate = Kind(rawValue: "duplicate")
        /// The type is right but the value is not allowed (out of range, bad syntax).
        public static let invalidValue = Kind(rawValue: "invalid-value")
        /// A secret written into the manifest instead of referenced with `env:NAME`.
        public static let literalSecret = Kind(rawValue: "literal-secret")
        /// An `env:NAME` reference whose variable is not set (only from `Manifest.checkSecrets`).
        public static let unresolvedSecret = Kind(rawValue: "unresolved-secret")
    }

    /// What kind of problem.
    public var kind: Kind
    /// Where in the manifest, like `connectors[1].plugin`; empty for the file as a whole.
    public var path: String
    /// What is wrong and, where it helps, what to do.
    public var message: String
    /// The line the problem is on, when known.
    public var line: Int?
    /// The column the problem is at, when known.
    public var column: Int?

    /// An issue.
    public init(kind: Kind, path: String, message: String, line: Int? = nil, column: Int? = nil) {
        self.kind = kind
        self.path = path
        self.message = message
        self.line = line
        self.column = column
    }

    /// `connectors[1].plugin: expected ...`; `line 3, column 7: ...` for syntax errors; just the message when the
    /// issue is about the whole file. Always one line: line breaks and other control characters that a message
    /// quotes from the manifest (a value written with `\n` or `\x0A`) are shown as escapes.
    public var description: String {
        let text: String
        if kind == .syntax, let line, let column {
            text = "line \(line), column \(column): \(message)"
        } else {
            text = path.isEmpty ? message : "\(path): \(message)"
        }
        return escapingLineBreaks(text)
    }
}

/// `text` with control characters and Unicode line separators written as escapes (`\n`, `\r`, `\t` stays a tab,
/// others as `\u{…}`), so a message that quotes a manifest value stays on one line. The fuzzer found schedule
/// messages that split one issue over several lines.
func escapingLineBreaks(_ text: String) -> String {
    func breaksLines(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar != "\t") || scalar.value == 0x7F || scalar.value == 0x85 || scalar == "\u{2028}"
            || scalar == "\u{2029}"
    }
    guard text.unicodeScalars.contains(where: breaksLines) else { return text }
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": out.append(contentsOf: "\\n".unicodeScalars)
        case "\r": out.append(contentsOf: "\\r".unicodeScalars)
        case _ where breaksLines(scalar):
            out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
        default: out.append(scalar)
        }
    }
    return String(out)
}

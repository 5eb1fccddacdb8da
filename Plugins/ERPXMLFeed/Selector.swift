import WharfPluginKit

// MARK: Not public

/// The namespaces a mapping declares: prefix -> namespace URIs (a prefix may stand for several URIs, for feeds that
/// spell their namespace in more than one way). The prefix `""` is the default namespace of unprefixed element names;
/// without it, unprefixed element names match in any namespace. `xml` is always declared.
struct Namespaces {
    static let xmlURI = "http://www.w3.org/XML/1998/namespace"

    var prefixes: [String: [String]] = ["xml": [Namespaces.xmlURI]]

    /// What an element name with `prefix` (nil: unprefixed) may be in.
    func elementNamespace(_ prefix: String?, selector: String) throws(SelectorError) -> NamespaceTest {
        guard let prefix else {
            if let uris = prefixes[""] { return .uris(uris) }
            return .any
        }
        guard let uris = prefixes[prefix] else { throw SelectorError(undeclaredPrefix: prefix, in: selector) }
        return .uris(uris)
    }

    /// What an attribute name with `prefix` may be in: unprefixed attributes are in no namespace (XML's rule).
    func attributeNamespace(_ prefix: String?, selector: String) throws(SelectorError) -> NamespaceTest {
        guard let prefix else { return .none }
        guard let uris = prefixes[prefix] else { throw SelectorError(undeclaredPrefix: prefix, in: selector) }
        return .uris(uris)
    }
}

/// Which namespace a name test accepts.
enum NamespaceTest: Hashable {
    /// Any namespace, or none.
    case any
    /// No namespace only.
    case none
    /// One of these URIs (`""` in the list means no namespace).
    case uris([String])
}

/// An element or attribute name test: a local name (nil: `*`) in a namespace.
struct NameTest: Hashable {
    var local: String?
    var namespace: NamespaceTest
}

/// A predicate in `[…]`.
indirect enum PredicateSyntax: Hashable {
    /// `[3]`: the third match (1-based) of the step for its context node.
    case position(Int)
    /// `[path]`, `[path='v']`, `[path!='v']`: the relative path matches something / some match equals v / no match
    /// equals v (values compared with surrounding white space trimmed).
    case test(SelectorSyntax, equals: String?, negated: Bool)
}

/// One location step.
enum StepSyntax: Hashable {
    /// `name[…]` on the child axis, or `//name[…]` on the descendant axis.
    case element(NameTest, descendant: Bool, predicates: [PredicateSyntax])
    /// `.`
    case current
    /// `..`
    case parent
}

/// A parsed selector, before its names are turned into numbers.
enum SelectorSyntax: Hashable {
    /// `'text'` or `"text"`: a constant.
    case literal(String)
    /// A path: from the document root (`/A/B`, `//B`) or from the context element (`B/C`, `.//C`, `../D`), ending at
    /// the elements it selects or at an attribute of them (`/@id`).
    case path(absolute: Bool, steps: [StepSyntax], attribute: NameTest?)
}

/// Why a selector text cannot be used, with the character position.
struct SelectorError: Error {
    var message: String

    init(_ message: String) {
        self.message = message
    }

    init(undeclaredPrefix prefix: String, in selector: String) {
        message = "\"\(selector)\" uses the prefix \"\(prefix):\", which mapping.namespaces does not declare; add \(prefix): \"<namespace URI>\" there"
    }
}

/// Parses the selector language: a small XPath subset (see docs/mapping.md).
///
/// ```
/// selector  := literal | path
/// path      := ('/' | '//')? step (('/' | '//') step)* ('/' '@' name)?  |  '@' name
/// step      := '.' | '..' | nametest predicate*
/// nametest  := '*' | name | prefix ':' name | prefix ':*' | '*:' name
/// predicate := '[' (digits | relpath (('=' | '!=') literal)?) ']'
/// ```
struct SelectorParser {
    let text: String
    let bytes: [UInt8]
    let namespaces: Namespaces
    var index = 0

    init(_ text: String, namespaces: Namespaces) {
        self.text = text
        bytes = Array(text.utf8)
        self.namespaces = namespaces
    }

    static func parse(_ text: String, namespaces: Namespaces) throws(SelectorError) -> SelectorSyntax {
        var parser = SelectorParser(text, namespaces: namespaces)
        parser.skipSpaces()
        guard parser.index < parser.bytes.count else { throw SelectorError("the selector is empty; write a path such as \"SUPPLIER_PID\"") }
        let result: SelectorSyntax
        if parser.peek == UInt8(ascii: "'") || parser.peek == UInt8(ascii: "\"") {
            result = .literal(try parser.literal())
        } else {
            result = try parser.path(inPredicate: false)
        }
        parser.skipSpaces()
        if parser.index < parser.bytes.count {
            throw parser.fail("unexpected \(parser.describeCurrent())")
        }
        return result
    }

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    func fail(_ why: String) -> SelectorError {
        SelectorError("\"\(text)\" at character \(index + 1): \(why)")
    }

    func describeCurrent() -> String {
        guard let byte = peek else { return "end of the selector" }
        return byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "a non-ASCII character"
    }

    mutating func skipSpaces() {
        while let byte = peek, byte == 0x20 || byte == 0x09 { index += 1 }
    }

    mutating func literal() throws(SelectorError) -> String {
        let quote = bytes[index]
        index += 1
        let start = index
        while index < bytes.count, bytes[index] != quote { index += 1 }
        guard index < bytes.count else { throw fail("unterminated quoted text") }
        let value = String(decoding: bytes[start..<index], as: UTF8.self)
        index += 1
        return value
    }

    static func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "_") || byte >= 0x80
    }

    static func isNameChar(_ byte: UInt8) -> Bool {
        isNameStart(byte) || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    /// An NCName (no colon), or nil when none starts here.
    mutating func ncName() -> String? {
        guard let first = peek, Self.isNameStart(first) else { return nil }
        let start = index
        while let byte = peek, Self.isNameChar(byte) { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// `*`, `name`, `p:name`, `p:*`, `*:name`, as (prefix, local) with nil local for `*` and `*` prefix as "*".
    mutating func qualifiedName() throws(SelectorError) -> (prefix: String?, local: String?) {
        var first: String?
        if peek == UInt8(ascii: "*") {
            index += 1
            first = "*"
        } else if let name = ncName() {
            first = name
        } else {
            throw fail("expected a name, found \(describeCurrent())")
        }
        if peek == UInt8(ascii: ":"), index + 1 < bytes.count, bytes[index + 1] != UInt8(ascii: ":") {
            index += 1
            if peek == UInt8(ascii: "*") {
                index += 1
                return (first, nil)
            }
            guard let local = ncName() else { throw fail("expected a name after the prefix \"\(first!):\"") }
            return (first, local)
        }
        return (nil, first == "*" ? nil : first)
    }

    mutating func elementTest() throws(SelectorError) -> NameTest {
        let name = try qualifiedName()
        if name.prefix == "*" { return NameTest(local: name.local, namespace: .any) }
        if name.local == nil && name.prefix == nil { return NameTest(local: nil, namespace: .any) }
        do {
            return NameTest(local: name.local, namespace: try namespaces.elementNamespace(name.prefix, selector: text))
        } catch {
            throw error
        }
    }

    mutating func attributeTest() throws(SelectorError) -> NameTest {
        let name = try qualifiedName()
        guard let local = name.local else { throw fail("attribute wildcards (@*) are not supported; name the attribute") }
        if name.prefix == "*" { return NameTest(local: local, namespace: .any) }
        return NameTest(local: local, namespace: try namespaces.attributeNamespace(name.prefix, selector: text))
    }

    mutating func path(inPredicate: Bool) throws(SelectorError) -> SelectorSyntax {
        var absolute = false
        var nextDescendant = false
        if peek == UInt8(ascii: "/") {
            guard !inPredicate else { throw fail("a path inside [ ] is relative to the element; remove the leading '/'") }
            absolute = true
            index += 1
            if peek == UInt8(ascii: "/") {
                index += 1
                nextDescendant = true
            }
        }
        var steps: [StepSyntax] = []
        while true {
            if peek == UInt8(ascii: "@") {
                index += 1
                let attribute = try attributeTest()
                if nextDescendant { throw fail("write .//X/@attr rather than //@attr") }
                return .path(absolute: absolute, steps: steps, attribute: attribute)
            }
            if peek == UInt8(ascii: ".") {
                index += 1
                if peek == UInt8(ascii: ".") {
                    index += 1
                    if nextDescendant { throw fail("'//..' is not supported") }
                    steps.append(.parent)
                } else {
                    if nextDescendant { throw fail("'//.' is not supported") }
                    steps.append(.current)
                }
            } else {
                let test = try elementTest()
                var predicates: [PredicateSyntax] = []
                skipSpaces()
                while peek == UInt8(ascii: "[") {
                    index += 1
                    predicates.append(try predicate())
                    skipSpaces()
                }
                steps.append(.element(test, descendant: nextDescendant, predicates: predicates))
            }
            nextDescendant = false
            guard peek == UInt8(ascii: "/") else { break }
            index += 1
            if peek == UInt8(ascii: "/") {
                index += 1
                nextDescendant = true
            }
        }
        return .path(absolute: absolute, steps: steps, attribute: nil)
    }

    mutating func predicate() throws(SelectorError) -> PredicateSyntax {
        skipSpaces()
        if let byte = peek, byte >= 0x30, byte <= 0x39 {
            var value = 0
            while let digit = peek, digit >= 0x30, digit <= 0x39 {
                value = value * 10 + Int(digit - 0x30)
                index += 1
                if value > 1_000_000 { throw fail("position too large") }
            }
            guard value >= 1 else { throw fail("positions start at 1") }
            skipSpaces()
            guard peek == UInt8(ascii: "]") else { throw fail("expected ']' after the position") }
            index += 1
            return .position(value)
        }
        let inner = try path(inPredicate: true)
        skipSpaces()
        var equals: String?
        var negated = false
        if peek == UInt8(ascii: "!") {
            index += 1
            guard peek == UInt8(ascii: "=") else { throw fail("expected '!='") }
            negated = true
        }
        if peek == UInt8(ascii: "=") {
            index += 1
            skipSpaces()
            guard peek == UInt8(ascii: "'") || peek == UInt8(ascii: "\"") else {
                throw fail("expected a quoted value after '=', such as 'net_list'")
            }
            equals = try literal()
            skipSpaces()
        } else if negated {
            throw fail("expected '=' after '!'")
        }
        guard peek == UInt8(ascii: "]") else { throw fail("expected ']', found \(describeCurrent())") }
        index += 1
        return .test(inner, equals: equals, negated: negated)
    }
}

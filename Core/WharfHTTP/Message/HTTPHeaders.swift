/// An ordered list of header fields. Names keep the case they were given in; look-ups ignore ASCII case.
///
/// Repeated fields stay separate entries in arrival order, so `values(for:)` sees all of them.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// One header field.
    public typealias Field = (name: String, value: String)

    @usableFromInline var fields: [Field]

    /// An empty header list.
    public init() { fields = [] }

    /// A header list with these fields, in this order.
    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    /// `[:]` or `["content-type": "text/plain"]`.
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }

    /// The number of fields (repeated names counted each time).
    public var count: Int { fields.count }

    /// Whether there are no fields.
    public var isEmpty: Bool { fields.isEmpty }

    /// The first value of the field called `name` (ASCII case-insensitive), or nil when absent.
    public subscript(name: String) -> String? {
        for field in fields where asciiCaseInsensitiveEquals(field.name, name) { return field.value }
        return nil
    }

    /// Every value of the field called `name` (ASCII case-insensitive), in arrival order.
    public func values(for name: String) -> [String] {
        fields.compactMap { asciiCaseInsensitiveEquals($0.name, name) ? $0.value : nil }
    }

    /// Whether a field called `name` is present.
    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Appends a field, keeping any existing fields of the same name.
    public mutating func add(name: String, value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every field called `name` with one field holding `value` (appended when absent).
    public mutating func replaceOrAdd(name: String, value: String) {
        if let index = fields.firstIndex(where: { asciiCaseInsensitiveEquals($0.name, name) }) {
            fields[index] = (name: name, value: value)
            var i = fields.count - 1
            while i > index {
                if asciiCaseInsensitiveEquals(fields[i].name, name) { fields.remove(at: i) }
                i -= 1
            }
        } else {
            fields.append((name: name, value: value))
        }
    }

    /// Removes every field called `name`.
    public mutating func remove(name: String) {
        fields.removeAll { asciiCaseInsensitiveEquals($0.name, name) }
    }

    /// Iterates the fields in order.
    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    /// `name: value` lines, for debugging.
    public var description: String { fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n") }

    mutating func reserveCapacity(_ n: Int) { fields.reserveCapacity(n) }
}

/// Compares two strings byte by byte, folding ASCII letters only (header names and tokens are ASCII).
@inlinable
func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    var a = a, b = b
    return a.withUTF8 { x in
        b.withUTF8 { y in
            guard x.count == y.count else { return false }
            for i in 0..<x.count where x[i] != y[i] {
                if x[i] | 0x20 != y[i] | 0x20 { return false }
                let lower = x[i] | 0x20
                if lower < 0x61 || lower > 0x7A { return false }
            }
            return true
        }
    }
}

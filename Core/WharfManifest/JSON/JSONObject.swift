/// A JSON object that remembers the order its keys were written in.
///
/// Order is kept so that `jsonText()`, error messages and anything shown to a person follow the file. Equality and
/// hashing ignore order: two objects are equal when they hold the same keys with equal values, because reordering
/// keys in a manifest does not change what it means.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// One member: a key and its value.
    public typealias Element = (key: String, value: JSONValue)

    /// The keys in the order they were first written.
    public private(set) var keys: [String]
    private var storage: [String: JSONValue]

    /// An empty object.
    public init() {
        keys = []
        storage = [:]
    }

    /// An object from members in order. A repeated key keeps its first position and its last value (as in
    /// JavaScript).
    public init(_ members: [(String, JSONValue)]) {
        self.init()
        for (key, value) in members { self[key] = value }
    }

    /// An object from a literal, keeping the literal's order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }

    /// The number of members.
    public var count: Int { keys.count }

    /// True when the object has no members.
    public var isEmpty: Bool { keys.isEmpty }

    /// The value for `key`, or nil when absent. Setting nil removes the member; setting a new key appends it.
    public subscript(key: String) -> JSONValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The members in order.
    public var members: [Element] { keys.map { ($0, storage[$0]!) } }

    /// Iterates the members in order.
    public func makeIterator() -> IndexingIterator<[Element]> { members.makeIterator() }

    /// Same keys with equal values, in any order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool { lhs.storage == rhs.storage }

    /// Hashes the members independently of their order (consistent with `==`).
    public func hash(into hasher: inout Hasher) { hasher.combine(storage) }
}

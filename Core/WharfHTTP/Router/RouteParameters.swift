/// The values captured by `{name}` segments of a route pattern, percent-decoded.
public struct RouteParameters: Sendable, Sequence {
    /// One captured parameter.
    public typealias Parameter = (name: String, value: String)

    var storage: [Parameter]

    /// Parameters with these names and values (for tests of handlers).
    public init(_ parameters: [(String, String)] = []) {
        storage = parameters.map { (name: $0.0, value: $0.1) }
    }

    /// The decoded value captured for `{name}`, or nil when the pattern has no such segment.
    public subscript(name: String) -> String? {
        for p in storage where p.name == name { return p.value }
        return nil
    }

    /// Iterates the parameters in pattern order.
    public func makeIterator() -> IndexingIterator<[Parameter]> { storage.makeIterator() }
}

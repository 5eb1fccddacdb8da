import WharfPluginKit

// MARK: Not public

/// Numbers for the element/attribute local names and namespace URIs a mapping mentions, so that the parser compares
/// integers instead of strings. Local name 0 and URI -1 mean "not mentioned by the mapping"; URI 0 is "no namespace".
final class NameTable {
    private(set) var locals: [String: Int32] = [:]
    private(set) var uris: [String: Int32] = ["": 0]

    func local(_ name: String) -> Int32 {
        if let id = locals[name] { return id }
        let id = Int32(locals.count + 1)
        locals[name] = id
        return id
    }

    func uri(_ uri: String) -> Int32 {
        if let id = uris[uri] { return id }
        let id = Int32(uris.count)
        uris[uri] = id
        return id
    }
}

/// A compiled name test.
struct CompiledNameTest {
    /// Local name id, or -1 for any name.
    var local: Int32
    /// True when any namespace (or none) is accepted.
    var anyNamespace: Bool
    /// Accepted namespace ids (0 = no namespace) when not `anyNamespace`.
    var namespaces: [Int32]

    @inline(__always)
    func matches(local nodeLocal: Int32, namespace nodeNamespace: Int32) -> Bool {
        if local >= 0 && local != nodeLocal { return false }
        if anyNamespace { return true }
        for id in namespaces where id == nodeNamespace { return true }
        return false
    }

    init(_ test: NameTest, names: NameTable) {
        local = test.local.map { names.local($0) } ?? -1
        switch test.namespace {
        case .any:
            anyNamespace = true
            namespaces = []
        case .none:
            anyNamespace = false
            namespaces = [0]
        case .uris(let list):
            anyNamespace = false
            namespaces = list.map { names.uri($0) }
        }
    }
}

/// A compiled predicate.
indirect enum CompiledPredicate {
    case position(Int)
    case test(CompiledPath, equals: [UInt8]?, negated: Bool)
}

/// A compiled location step.
enum CompiledStep {
    case child(CompiledNameTest, [CompiledPredicate])
    case descendant(CompiledNameTest, [CompiledPredicate])
    case current
    case parent
}

/// A compiled relative path: steps from a context element, then optionally an attribute.
struct CompiledPath {
    var steps: [CompiledStep]
    var attribute: CompiledNameTest?
    /// Only child steps without positions (and `.`): a depth-first walk yields document order, no lists needed.
    let isSimple: Bool

    init(steps: [CompiledStep], attribute: CompiledNameTest?) {
        self.steps = steps
        self.attribute = attribute
        isSimple = steps.allSatisfy { step in
            switch step {
            case .current: return true
            case .child(_, let predicates):
                return predicates.allSatisfy { if case .position = $0 { return false } else { return true } }
            case .descendant, .parent: return false
            }
        }
    }
}

/// What a field selector reads.
enum CompiledSelector {
    /// A constant.
    case literal(String)
    /// A path from the context element.
    case relative(CompiledPath)
    /// A document-level value captured outside the records (index into the capture list).
    case document(Int)
}

/// A path matched against the open elements while streaming (record paths and document-level values): element
/// tests from the root (or, when not anchored, ending at the current element), attribute conditions on the last
/// element, and optionally an attribute of it as the value.
struct StreamPath {
    var anchored: Bool
    var steps: [CompiledNameTest]
    var conditions: [(test: CompiledNameTest, equals: [UInt8]?, negated: Bool)]
    var attribute: CompiledNameTest?
}

/// One element of the record being read, in an arena (indexes are document order).
struct TreeNode {
    var local: Int32
    var namespace: Int32
    var parent: Int32
    var firstChild: Int32 = -1
    var lastChild: Int32 = -1
    var nextSibling: Int32 = -1
    /// One past the index of the last descendant.
    var end: Int32 = 0
    var attributeStart: Int32
    var attributeCount: Int32 = 0
    /// The element's string value is `text[textStart..<textEnd]` (every text inside it, in order).
    var textStart: Int32
    var textEnd: Int32 = 0
    var line: Int32
    var column: Int32
    /// Byte offsets of the start tag's '<' and of the end of the end tag, in the parsed stream.
    var startOffset: Int64
    var endOffset: Int64 = 0
}

struct TreeAttribute {
    var local: Int32
    var namespace: Int32
    var start: Int32
    var end: Int32
}

/// The elements, attributes and text of one record element, built while it streams by and dropped after it was
/// mapped: the only part of a feed held in memory.
final class RecordTree {
    var nodes: [TreeNode] = []
    var attributes: [TreeAttribute] = []
    var attributeBytes: [UInt8] = []
    var text: [UInt8] = []
    private var open: [Int32] = []
    /// Nodes whose own text holds bytes that were not valid UTF-8.
    var tainted: [Int32] = []

    init() {
        nodes.reserveCapacity(256)
        attributes.reserveCapacity(64)
        text.reserveCapacity(16_384)
    }

    var isOpen: Bool { !open.isEmpty }
    var byteCount: Int { text.count + attributeBytes.count }

    func reset() {
        nodes.removeAll(keepingCapacity: true)
        attributes.removeAll(keepingCapacity: true)
        attributeBytes.removeAll(keepingCapacity: true)
        text.removeAll(keepingCapacity: true)
        open.removeAll(keepingCapacity: true)
        tainted.removeAll(keepingCapacity: true)
    }

    func begin(local: Int32, namespace: Int32, line: Int32, column: Int32, offset: Int64) {
        let index = Int32(nodes.count)
        let parent = open.last ?? -1
        nodes.append(
            TreeNode(
                local: local, namespace: namespace, parent: parent, attributeStart: Int32(attributes.count),
                textStart: Int32(text.count), line: line, column: column, startOffset: offset))
        if parent >= 0 {
            let last = nodes[Int(parent)].lastChild
            if last >= 0 { nodes[Int(last)].nextSibling = index } else { nodes[Int(parent)].firstChild = index }
            nodes[Int(parent)].lastChild = index
        }
        open.append(index)
    }

    func addAttribute(local: Int32, namespace: Int32, value: UnsafeBufferPointer<UInt8>) {
        let start = Int32(attributeBytes.count)
        attributeBytes.append(contentsOf: value)
        attributes.append(TreeAttribute(local: local, namespace: namespace, start: start, end: Int32(attributeBytes.count)))
        nodes[nodes.count - 1].attributeCount += 1
    }

    func appendText(_ bytes: UnsafeBufferPointer<UInt8>) {
        text.append(contentsOf: bytes)
    }

    /// Closes the innermost open element; returns true when it was the record's root.
    func finish(endOffset: Int64) -> Bool {
        let index = Int(open.removeLast())
        nodes[index].end = Int32(nodes.count)
        nodes[index].textEnd = Int32(text.count)
        nodes[index].endOffset = endOffset
        return open.isEmpty
    }

    /// Marks the element whose own content holds the stream byte at `offset` as holding invalid UTF-8.
    func taint(offset: Int64) {
        // The last element started before the byte, walked up past elements that ended before it.
        var low = 0, high = nodes.count
        while low < high {
            let mid = (low + high) / 2
            if nodes[mid].startOffset <= offset { low = mid + 1 } else { high = mid }
        }
        var index = Int32(low - 1)
        while index > 0, nodes[Int(index)].endOffset != 0, nodes[Int(index)].endOffset <= offset {
            index = nodes[Int(index)].parent
        }
        if index >= 0, tainted.last != index { tainted.append(index) }
    }

    /// Whether an item's value contains invalid UTF-8: a node whose subtree holds a tainted node, or an attribute of
    /// a tainted node.
    func isTainted(_ item: Int32) -> Bool {
        guard !tainted.isEmpty else { return false }
        if item >= 0 {
            let node = nodes[Int(item)]
            return tainted.contains { $0 >= item && $0 < node.end }
        }
        let attributeIndex = -item - 1
        return tainted.contains { index in
            let node = nodes[Int(index)]
            return attributeIndex >= node.attributeStart && attributeIndex < node.attributeStart + node.attributeCount
        }
    }

    // MARK: Element digest

    /// Adds everything a mapping can read from this record element to `hasher`: every element (its name and
    /// namespace ids, which are 0/-1 for names the mapping does not mention, so wildcards are covered), its place in
    /// the tree, its attributes (the mapping's only: others are never stored) and all text, white space included
    /// (a field may keep it with trim: false). Not its line, column or offsets: a record's values do not depend on
    /// them. A fixed layout (counts, then fixed-size words, then length-framed bytes), so different trees never
    /// give the same stream of words.
    func combine(into hasher: inout ElementHasher) {
        @inline(__always) func pack(_ low: Int32, _ high: Int32) -> UInt64 {
            UInt64(UInt32(bitPattern: low)) | UInt64(UInt32(bitPattern: high)) << 32
        }
        hasher.combine(UInt64(nodes.count))
        nodes.withUnsafeBufferPointer { nodes in
            for node in nodes {
                hasher.combine(pack(node.local, node.namespace))
                hasher.combine(pack(node.parent, node.attributeCount))
                hasher.combine(pack(node.textStart, node.textEnd))
            }
        }
        hasher.combine(UInt64(attributes.count))
        attributes.withUnsafeBufferPointer { attributes in
            for attribute in attributes {
                hasher.combine(pack(attribute.local, attribute.namespace))
                hasher.combine(pack(attribute.start, attribute.end))
            }
        }
        attributeBytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        text.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    // MARK: Evaluation

    /// Calls `body` with the items `path` selects from `context`, in document order, until it returns false.
    func forEach(_ path: CompiledPath, from context: Int32, _ body: (Int32) -> Bool) {
        guard path.isSimple else {
            for item in select(path, from: context) where !body(item) { return }
            return
        }
        nodes.withUnsafeBufferPointer { nodes in
            _ = walk(path, step: 0, node: context, nodes: nodes, body)
        }
    }

    private func walk(
        _ path: CompiledPath, step: Int, node: Int32, nodes: UnsafeBufferPointer<TreeNode>, _ body: (Int32) -> Bool
    ) -> Bool {
        if step == path.steps.count {
            guard let attribute = path.attribute else { return body(node) }
            let element = nodes[Int(node)]
            var index = element.attributeStart
            while index < element.attributeStart + element.attributeCount {
                let candidate = attributes[Int(index)]
                if attribute.matches(local: candidate.local, namespace: candidate.namespace), !body(-index - 1) { return false }
                index += 1
            }
            return true
        }
        switch path.steps[step] {
        case .current:
            return walk(path, step: step + 1, node: node, nodes: nodes, body)
        case .child(let test, let predicates):
            var child = nodes[Int(node)].firstChild
            while child >= 0 {
                let candidate = nodes[Int(child)]
                if test.matches(local: candidate.local, namespace: candidate.namespace),
                    predicates.isEmpty || passes(child, predicates),
                    !walk(path, step: step + 1, node: child, nodes: nodes, body)
                {
                    return false
                }
                child = candidate.nextSibling
            }
            return true
        case .descendant, .parent:
            return true  // not simple; never reached
        }
    }

    /// Whether a node passes non-positional predicates.
    private func passes(_ node: Int32, _ predicates: [CompiledPredicate]) -> Bool {
        var list = [node]
        filter(&list, from: 0, predicates)
        return !list.isEmpty
    }

    /// Items selected by `path` from `context`: node indexes (>= 0) or attributes (-(index + 1)), in document order.
    func select(_ path: CompiledPath, from context: Int32) -> [Int32] {
        var current: [Int32] = [context]
        for step in path.steps {
            var next: [Int32] = []
            for node in current {
                switch step {
                case .current:
                    next.append(node)
                case .parent:
                    let parent = nodes[Int(node)].parent
                    if parent >= 0 { next.append(parent) }
                case .child(let test, let predicates):
                    let before = next.count
                    var child = nodes[Int(node)].firstChild
                    while child >= 0 {
                        let candidate = nodes[Int(child)]
                        if test.matches(local: candidate.local, namespace: candidate.namespace) { next.append(child) }
                        child = candidate.nextSibling
                    }
                    if !predicates.isEmpty { filter(&next, from: before, predicates) }
                case .descendant(let test, let predicates):
                    let before = next.count
                    let end = nodes[Int(node)].end
                    var index = node + 1
                    while index < end {
                        let candidate = nodes[Int(index)]
                        if test.matches(local: candidate.local, namespace: candidate.namespace) { next.append(index) }
                        index += 1
                    }
                    if !predicates.isEmpty { filter(&next, from: before, predicates) }
                }
            }
            // One context element yields document order already; several may overlap or interleave.
            if current.count > 1 && next.count > 1 {
                next.sort()
                var unique: [Int32] = []
                unique.reserveCapacity(next.count)
                for value in next where unique.last != value { unique.append(value) }
                next = unique
            }
            current = next
            if current.isEmpty { return [] }
        }
        guard let attribute = path.attribute else { return current }
        var result: [Int32] = []
        for node in current {
            let element = nodes[Int(node)]
            var index = element.attributeStart
            while index < element.attributeStart + element.attributeCount {
                let candidate = attributes[Int(index)]
                if attribute.matches(local: candidate.local, namespace: candidate.namespace) { result.append(-index - 1) }
                index += 1
            }
        }
        return result
    }

    private func filter(_ list: inout [Int32], from start: Int, _ predicates: [CompiledPredicate]) {
        for predicate in predicates {
            switch predicate {
            case .position(let position):
                let count = list.count - start
                if position <= count {
                    let kept = list[start + position - 1]
                    list.removeSubrange(start...)
                    list.append(kept)
                } else {
                    list.removeSubrange(start...)
                }
            case .test(let path, let equals, let negated):
                var write = start
                for read in start..<list.count {
                    let items = select(path, from: list[read])
                    var keep: Bool
                    if let equals {
                        let found = items.contains { valueEquals($0, equals) }
                        keep = negated ? !found : found
                    } else {
                        keep = !items.isEmpty
                    }
                    if keep {
                        list[write] = list[read]
                        write += 1
                    }
                }
                list.removeSubrange(write...)
            }
        }
    }

    /// The raw bytes of an item's value.
    func withValue<R>(_ item: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if item >= 0 {
            let node = nodes[Int(item)]
            return text.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[Int(node.textStart)..<Int(node.textEnd)])) }
        }
        let attribute = attributes[Int(-item - 1)]
        return attributeBytes.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[Int(attribute.start)..<Int(attribute.end)])) }
    }

    /// The item's value as text.
    func value(_ item: Int32) -> String {
        withValue(item) { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether the item's value, without surrounding white space, is exactly `literal`.
    func valueEquals(_ item: Int32, _ literal: [UInt8]) -> Bool {
        withValue(item) { bytes in
            var start = 0, end = bytes.count
            while start < end, Self.isSpace(bytes[start]) { start += 1 }
            while end > start, Self.isSpace(bytes[end - 1]) { end -= 1 }
            guard end - start == literal.count else { return false }
            var index = 0
            while index < literal.count {
                if bytes[start + index] != literal[index] { return false }
                index += 1
            }
            return true
        }
    }

    /// The line and column of an item (an attribute reports its element's).
    func position(_ item: Int32) -> (line: Int, column: Int) {
        var node = item
        if node < 0 {
            let attributeIndex = -node - 1
            node = Int32(nodes.firstIndex { attributeIndex >= $0.attributeStart && attributeIndex < $0.attributeStart + $0.attributeCount } ?? 0)
        }
        return (Int(nodes[Int(node)].line), Int(nodes[Int(node)].column))
    }

    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
}

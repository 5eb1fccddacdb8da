import WharfPluginKit

// MARK: Not public

/// What mapping one record element produced, in order: records for the host, and rejects of the plugin's own.
enum MappedItem {
    case record(Record)
    case reject(location: RecordLocation, field: String?, reason: String, raw: String?)
}

/// Why a field has no usable value.
struct FieldFailure: Error {
    var field: String
    var reason: String
}

/// Evaluates record rules on the tree of one record element.
final class RecordMapper {
    let mapping: Mapping
    /// Document-level values captured so far in the current file (by capture index).
    var captures: [String?]

    init(mapping: Mapping) {
        self.mapping = mapping
        captures = Array(repeating: nil, count: mapping.captures.count)
    }

    /// Maps the record element at the tree's root with the top-level rules `rules`.
    func map(
        rules: [Int], tree: RecordTree, source: String, recordNumber: Int, raw: String?, rawForRecords: String?,
        into output: inout [MappedItem]
    ) {
        for index in rules {
            evaluate(mapping.records[index], node: 0, enclosing: [], tree: tree, source: source, recordNumber: recordNumber, raw: raw, rawForRecords: rawForRecords, into: &output)
        }
    }

    /// The source element the records being mapped come from (see `XMLFeedReader`), set around each `map`.
    var element: ElementDigest?

    /// Values of one field, reused for every field to spare an allocation each.
    private var scratch: [String] = []

    private func evaluate(
        _ rule: RecordRule, node: Int32, enclosing: [[String]], tree: RecordTree, source: String, recordNumber: Int,
        raw: String?, rawForRecords: String?, into output: inout [MappedItem]
    ) {
        let position = tree.position(node)
        let location = RecordLocation(source: source, line: position.line, column: position.column, recordNumber: recordNumber)
        // Field values are only kept when nested rules may read them ({ record: "sku" }).
        let keep = !rule.children.isEmpty
        var values: [[String]] = []
        if keep { values.reserveCapacity(rule.fields.count) }
        var fields: [RecordField] = []
        fields.reserveCapacity(rule.fields.count + 4)
        do throws(FieldFailure) {
            for field in rule.fields {
                try evaluate(field, node: node, enclosing: enclosing, tree: tree, into: &scratch)
                for value in scratch { fields.append(RecordField(field.name, value)) }
                if keep { values.append(scratch) }
            }
            for group in rule.attributeGroups {
                try addAttributes(group, node: node, enclosing: enclosing, tree: tree, explicit: rule.fields, into: &fields)
            }
        } catch {
            output.append(.reject(location: location, field: error.field, reason: error.reason, raw: raw))
            return
        }
        if let entity = rule.entity {
            output.append(.record(Record(entity: entity, fields: fields, location: location, raw: rawForRecords, element: element)))
        }
        for child in rule.children {
            guard let each = child.each else { continue }
            tree.forEach(each, from: node) { match in
                if match >= 0 {
                    evaluate(child, node: match, enclosing: values, tree: tree, source: source, recordNumber: recordNumber, raw: raw, rawForRecords: rawForRecords, into: &output)
                }
                return true
            }
        }
    }

    /// The field's values after trimming, transforms and default into `out`: empty when absent; one value unless
    /// the field repeats (category, media with `all`).
    func evaluate(_ field: FieldRule, node: Int32, enclosing: [[String]], tree: RecordTree, into out: inout [String]) throws(FieldFailure) {
        out.removeAll(keepingCapacity: true)
        try values(field.source, field: field, node: node, enclosing: enclosing, tree: tree, into: &out)
        if !field.transform.steps.isEmpty {
            try transform(field, node: node, enclosing: enclosing, tree: tree, &out)
        }
        if field.all, let separator = field.join, out.count > 1 {
            let joined = out.joined(separator: separator)
            out.removeAll(keepingCapacity: true)
            out.append(joined)
        }
        if out.isEmpty, let fallback = field.defaultValue { out.append(fallback) }
        if out.isEmpty && field.required {
            throw FieldFailure(field: field.name, reason: "\(field.name) is missing: \(field.sourceText) gave no value for this record (\(field.path)); a record without it cannot be imported")
        }
    }

    private func transform(_ field: FieldRule, node: Int32, enclosing: [[String]], tree: RecordTree, _ out: inout [String]) throws(FieldFailure) {
        let resolve: (String) -> String? = { [self] reference in
            guard let selector = field.references[reference] else { return nil }
            var found: [String] = []
            try? values(.select([selector]), field: field, node: node, enclosing: enclosing, tree: tree, into: &found)
            return found.first
        }
        do throws(TransformError) {
            if out.isEmpty {
                if let value = try field.transform.apply(nil, resolve: resolve), !value.isEmpty { out.append(value) }
            } else {
                var write = 0
                for read in out.indices {
                    if let transformed = try field.transform.apply(out[read], resolve: resolve), !transformed.isEmpty {
                        out[write] = transformed
                        write += 1
                    }
                }
                out.removeSubrange(write...)
            }
        } catch {
            let step = error.step.map { "\(field.path).transform[\($0)]" } ?? "\(field.path).transform"
            throw FieldFailure(field: field.name, reason: "\(field.name): \(error.reason) (\(step))")
        }
    }

    /// Appends the values a source reads to `out`, in document order, trimmed (unless the field says not to), empty
    /// ones left out; only the first unless the field takes all.
    private func values(
        _ source: ValueSource, field: FieldRule, node: Int32, enclosing: [[String]], tree: RecordTree, into out: inout [String]
    ) throws(FieldFailure) {
        switch source {
        case .constant(let text):
            if !text.isEmpty { out.append(text) }
        case .enclosing(let index):
            if index < enclosing.count { out.append(contentsOf: field.all ? enclosing[index] : Array(enclosing[index].prefix(1))) }
        case .concat(let parts):
            var joined = ""
            var part: [String] = []
            for source in parts {
                part.removeAll(keepingCapacity: true)
                try values(source, field: field, node: node, enclosing: enclosing, tree: tree, into: &part)
                guard let first = part.first else { return }
                joined += first
            }
            if !joined.isEmpty { out.append(joined) }
        case .select(let alternatives):
            for selector in alternatives {
                switch selector {
                case .literal(let text):
                    if !text.isEmpty { out.append(text) }
                case .document(let index):
                    if let value = captures[index], !value.isEmpty { out.append(value) }
                case .relative(let path):
                    var failure: FieldFailure?
                    tree.forEach(path, from: node) { item in
                        if tree.isTainted(item) {
                            let position = tree.position(item)
                            failure = FieldFailure(
                                field: field.name,
                                reason: "\(field.name): the value at line \(position.line), column \(position.column) contains bytes that are not valid UTF-8 (shown as '?' in the excerpt); fix the feed's encoding or declare the encoding it really uses in its XML declaration (\(field.path))")
                            return false
                        }
                        let text = tree.withValue(item) { bytes -> String in
                            var start = 0, end = bytes.count
                            if field.trim {
                                while start < end, RecordTree.isSpace(bytes[start]) { start += 1 }
                                while end > start, RecordTree.isSpace(bytes[end - 1]) { end -= 1 }
                            }
                            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
                        }
                        if !text.isEmpty { out.append(text) }
                        return field.all || out.isEmpty
                    }
                    if let failure { throw failure }
                }
                if !out.isEmpty { return }
            }
        }
    }

    private func addAttributes(
        _ group: AttributeGroup, node: Int32, enclosing: [[String]], tree: RecordTree, explicit: [FieldRule],
        into fields: inout [RecordField]
    ) throws(FieldFailure) {
        var seen: [String: Int] = [:]  // attribute field name -> index in fields
        for (index, field) in fields.enumerated() where field.name.hasPrefix("attr.") { seen[field.name] = index }
        let explicitNames = Set(explicit.map(\.name))
        var pairValues: [String] = []
        for match in tree.select(group.each, from: node) where match >= 0 {
            try evaluate(group.name, node: match, enclosing: enclosing, tree: tree, into: &pairValues)
            guard let name = pairValues.first else { continue }
            try evaluate(group.value, node: match, enclosing: enclosing, tree: tree, into: &pairValues)
            guard let value = pairValues.first else { continue }
            let fieldName = "attr." + name
            if explicitNames.contains(fieldName) { continue }
            guard let existing = seen[fieldName] else {
                seen[fieldName] = fields.count
                fields.append(RecordField(fieldName, value))
                continue
            }
            switch group.duplicates {
            case .first: break
            case .last: fields[existing].value = value
            case .join: fields[existing].value = (fields[existing].value ?? "") + group.separator + value
            case .reject:
                throw FieldFailure(
                    field: fieldName,
                    reason: "attribute \"\(name)\" appears more than once in this record (\(group.path).duplicates is \"reject\"; use first, last or join to accept it)")
            }
        }
    }
}

import WharfPluginKit

// MARK: Not public

/// Where a field's value comes from.
indirect enum ValueSource {
    /// The first selector (of several alternatives) that yields a non-empty value.
    case select([CompiledSelector])
    /// A constant.
    case constant(String)
    /// A field of the enclosing record (after its transforms), by its index in the enclosing rule's fields.
    case enclosing(Int)
    /// Values joined end to end; absent when any part is absent.
    case concat([ValueSource])
}

/// One field of a record rule. A class: rules are read for every record, and a class is shared, not copied.
final class FieldRule {
    /// The record field name (`"sku"`, `"attr.color"`).
    let name: String
    /// Where it is in the manifest (`"mapping.records[0].fields.sku"`).
    let path: String
    var source: ValueSource = .constant("")
    /// What the source reads, for messages (`"SUPPLIER_PID"`).
    var sourceText = ""
    var all = false
    var join: String?
    var trim = true
    var transform = TransformPipeline()
    /// Compiled selectors of `unit` transforms, by their text.
    var references: [String: CompiledSelector] = [:]
    var defaultValue: String?
    var required: Bool
    /// The entity takes this field several times (category, media).
    let repeatable: Bool

    init(name: String, path: String, required: Bool, repeatable: Bool) {
        self.name = name
        self.path = path
        self.required = required
        self.repeatable = repeatable
    }
}

/// Repeated name/value pairs inside a record turned into `attr.<name>` fields.
struct AttributeGroup {
    enum Duplicates: String {
        case first, last, join, reject
    }

    var path: String
    var each: CompiledPath
    var name: FieldRule
    var value: FieldRule
    var duplicates: Duplicates
    var separator: String
}

/// One record definition: which elements are records, which entity they become, and how each field is read.
final class RecordRule {
    let path: String
    /// For top-level rules: the record element's path.
    let match: StreamPath?
    /// For nested rules: the sub-elements (relative to the enclosing record's element) that each give one record.
    let each: CompiledPath?
    /// The entity emitted, or nil for a rule that only gives context (fields) to its nested rules.
    let entity: String?
    let fields: [FieldRule]
    let attributeGroups: [AttributeGroup]
    let children: [RecordRule]

    init(
        path: String, match: StreamPath?, each: CompiledPath?, entity: String?, fields: [FieldRule],
        attributeGroups: [AttributeGroup], children: [RecordRule]
    ) {
        self.path = path
        self.match = match
        self.each = each
        self.entity = entity
        self.fields = fields
        self.attributeGroups = attributeGroups
        self.children = children
    }
}

/// A connector's mapping, compiled: what the streaming reader matches and what the record mapper evaluates.
struct Mapping {
    let names: NameTable
    let records: [RecordRule]
    /// Document-level values (absolute selectors in fields), captured outside the records.
    let captures: [StreamPath]

    /// The fields each entity takes (`attr.`, `name.`, `description.` are prefixes).
    static let entities: [String: (fixed: [String], required: [String], repeatable: [String], prefixes: [String])] = [
        "product": (["sku", "name", "description", "status", "category", "media"], ["sku", "name"], ["category", "media"], ["attr.", "name.", "description."]),
        "price": (["sku", "currency", "amount", "min_quantity"], ["sku", "currency", "amount"], [], []),
        "stock": (["sku", "source", "quantity", "status"], ["sku", "source", "quantity"], [], []),
        "category": (["code", "name", "parent", "position"], ["code", "name"], [], ["name."]),
        "source": (["code", "name", "enabled"], ["code"], [], []),
    ]
    static let entityNames = ["product", "price", "stock", "category", "source"]

    /// Compiles the connector's `mapping` object; every error message starts with the mapping path at fault.
    init(_ json: JSON) throws(PluginError) {
        var compiler = MappingCompiler()
        guard let object = json.objectValue else { throw MappingCompiler.invalid("mapping", "expected an object") }
        for key in object.keys where key != "namespaces" && key != "records" {
            throw MappingCompiler.invalid("mapping.\(key)", "not a mapping key; a mapping has namespaces and records")
        }
        if let namespaces = object["namespaces"] {
            try compiler.readNamespaces(namespaces)
        }
        guard let records = object["records"] else {
            throw MappingCompiler.invalid(
                "mapping.records",
                "required: list the record elements to read, e.g. records: [{ path: \"/BMECAT/T_NEW_CATALOG/PRODUCT\", entity: \"product\", fields: { sku: \"SUPPLIER_PID\", … } }]")
        }
        guard let list = records.arrayValue, !list.isEmpty else {
            throw MappingCompiler.invalid("mapping.records", "expected a non-empty list of record definitions, found \(records.kindName)")
        }
        var rules: [RecordRule] = []
        for (index, entry) in list.enumerated() {
            rules.append(try compiler.recordRule(entry, path: "mapping.records[\(index)]", nested: false, enclosingFields: []))
        }
        names = compiler.names
        self.records = rules
        captures = compiler.captures
    }
}

/// Reads mapping JSON into compiled rules.
struct MappingCompiler {
    let names = NameTable()
    var namespaces = Namespaces()
    var captures: [StreamPath] = []
    var captureTexts: [String: Int] = [:]

    static func invalid(_ path: String, _ message: String) -> PluginError {
        PluginError.invalid("\(path): \(message)")
    }

    mutating func readNamespaces(_ json: JSON) throws(PluginError) {
        guard let object = json.objectValue else {
            throw Self.invalid("mapping.namespaces", "expected an object of prefix -> namespace URI, e.g. { \"\": \"http://www.bmecat.org/bmecat/2005\" }")
        }
        for (prefix, value) in object.members {
            let path = "mapping.namespaces.\(prefix.isEmpty ? "\"\"" : prefix)"
            if prefix == "xml" { throw Self.invalid(path, "the xml prefix is predefined; remove it") }
            if !prefix.isEmpty {
                var parser = SelectorParser(prefix, namespaces: namespaces)
                guard parser.ncName() == prefix else { throw Self.invalid(path, "\"\(prefix)\" is not a valid prefix (letters, digits, '-', '_', '.')") }
            }
            var uris: [String] = []
            if let uri = value.stringValue {
                uris = [uri]
            } else if let list = value.arrayValue, !list.isEmpty, list.allSatisfy({ $0.stringValue != nil }) {
                uris = list.compactMap(\.stringValue)
            } else {
                throw Self.invalid(path, "expected a namespace URI text (or a list of them), found \(value.kindName)")
            }
            if prefix.isEmpty && uris.contains("") {
                throw Self.invalid(path, "the default namespace needs a URI; leave \"\" out to match unprefixed names in any namespace")
            }
            namespaces.prefixes[prefix] = uris
        }
    }

    // MARK: Selectors

    func parse(_ text: String, path: String) throws(PluginError) -> SelectorSyntax {
        do {
            return try SelectorParser.parse(text, namespaces: namespaces)
        } catch {
            throw Self.invalid(path, error.message)
        }
    }

    func compile(relative steps: [StepSyntax], attribute: NameTest?, path: String, text: String) throws(PluginError) -> CompiledPath {
        var compiled: [CompiledStep] = []
        for step in steps {
            switch step {
            case .current: compiled.append(.current)
            case .parent: compiled.append(.parent)
            case .element(let test, let descendant, let predicates):
                var list: [CompiledPredicate] = []
                for predicate in predicates {
                    switch predicate {
                    case .position(let position): list.append(.position(position))
                    case .test(let inner, let equals, let negated):
                        guard case .path(false, let innerSteps, let innerAttribute) = inner else {
                            throw Self.invalid(path, "\"\(text)\": a condition in [ ] must be a relative path such as @type or NAME")
                        }
                        let innerPath = try compile(relative: innerSteps, attribute: innerAttribute, path: path, text: text)
                        list.append(.test(innerPath, equals: equals.map { Array($0.utf8) }, negated: negated))
                    }
                }
                let nameTest = CompiledNameTest(test, names: names)
                compiled.append(descendant ? .descendant(nameTest, list) : .child(nameTest, list))
            }
        }
        return CompiledPath(steps: compiled, attribute: attribute.map { CompiledNameTest($0, names: names) })
    }

    /// A path matched while streaming: from the root, element names, attribute conditions on the last element only.
    func streamPath(_ syntax: SelectorSyntax, path: String, text: String, what: String, allowAttribute: Bool) throws(PluginError) -> StreamPath {
        guard case .path(true, let steps, let attribute) = syntax, !steps.isEmpty else {
            throw Self.invalid(path, "\(what) must be a path from the document root such as \"/BMECAT/T_NEW_CATALOG/PRODUCT\" (or \"//PRODUCT\"), found \"\(text)\"")
        }
        if attribute != nil && !allowAttribute {
            throw Self.invalid(path, "\(what) must select elements, not an attribute: remove \"/@…\" from \"\(text)\"")
        }
        var tests: [CompiledNameTest] = []
        var conditions: [(test: CompiledNameTest, equals: [UInt8]?, negated: Bool)] = []
        var anchored = true
        for (index, step) in steps.enumerated() {
            guard case .element(let test, let descendant, let predicates) = step else {
                throw Self.invalid(path, "\"\(text)\": \(what) cannot use '.' or '..'")
            }
            if descendant {
                guard index == 0 else {
                    throw Self.invalid(path, "\"\(text)\": \(what) may start with '//' but not use it further on; spell out the elements in between")
                }
                anchored = false
            }
            for predicate in predicates {
                guard index == steps.count - 1, case .test(.path(false, let innerSteps, let innerAttribute?), let equals, let negated) = predicate,
                    innerSteps.isEmpty
                else {
                    throw Self.invalid(path, "\"\(text)\": \(what) may only have attribute conditions ([@type='x']) on its last element, because it is matched while the file streams by")
                }
                conditions.append((CompiledNameTest(innerAttribute, names: names), equals.map { Array($0.utf8) }, negated))
            }
            tests.append(CompiledNameTest(test, names: names))
        }
        return StreamPath(anchored: anchored, steps: tests, conditions: conditions, attribute: attribute.map { CompiledNameTest($0, names: names) })
    }

    /// A field selector: a constant, a path from the record's element, or a document-level value.
    mutating func fieldSelector(_ text: String, path: String) throws(PluginError) -> CompiledSelector {
        let syntax = try parse(text, path: path)
        switch syntax {
        case .literal(let value): return .literal(value)
        case .path(true, _, _):
            if let index = captureTexts[text] { return .document(index) }
            let stream = try streamPath(syntax, path: path, text: text, what: "a document-level selector", allowAttribute: true)
            captures.append(stream)
            captureTexts[text] = captures.count - 1
            return .document(captures.count - 1)
        case .path(false, let steps, let attribute):
            return .relative(try compile(relative: steps, attribute: attribute, path: path, text: text))
        }
    }

    /// A selector of elements relative to the record (`each`).
    func elementSelector(_ json: JSON?, path: String, what: String) throws(PluginError) -> CompiledPath {
        guard let text = json?.stringValue, !text.isEmpty else {
            throw Self.invalid(path, "required: \(what), a path relative to the enclosing record's element such as \"PRODUCT_PRICE_DETAILS/PRODUCT_PRICE\"")
        }
        let syntax = try parse(text, path: path)
        guard case .path(false, let steps, nil) = syntax, !steps.isEmpty else {
            throw Self.invalid(path, "\"\(text)\" must be a path of elements relative to the enclosing record's element (no leading '/', no attribute)")
        }
        return try compile(relative: steps, attribute: nil, path: path, text: text)
    }

    // MARK: Records

    mutating func recordRule(_ json: JSON, path: String, nested: Bool, enclosingFields: [String]) throws(PluginError) -> RecordRule {
        guard let object = json.objectValue else {
            throw Self.invalid(path, "expected a record definition object { \(nested ? "each" : "path"): …, entity: …, fields: { … } }, found \(json.kindName)")
        }
        let known = ["entity", "fields", "attributes", "records", nested ? "each" : "path"]
        for key in object.keys where !known.contains(key) {
            if key == "each" && !nested {
                throw Self.invalid("\(path).each", "a top-level record has a path (from the document root); each is for nested records")
            }
            if key == "path" && nested {
                throw Self.invalid("\(path).path", "a nested record has each (relative to the enclosing record's element), not path")
            }
            throw Self.invalid("\(path).\(key)", "not a record definition key; use \(known.joined(separator: ", "))")
        }
        var match: StreamPath?
        var each: CompiledPath?
        if nested {
            each = try elementSelector(object["each"], path: "\(path).each", what: "each")
        } else {
            guard let text = object["path"]?.stringValue, !text.isEmpty else {
                throw Self.invalid("\(path).path", "required: the record element's path from the document root, e.g. \"/BMECAT/T_NEW_CATALOG/PRODUCT\"")
            }
            match = try streamPath(try parse(text, path: "\(path).path"), path: "\(path).path", text: text, what: "a record path", allowAttribute: false)
        }
        var entity: String?
        if let value = object["entity"] {
            guard let name = value.stringValue, Mapping.entities[name] != nil else {
                throw Self.invalid("\(path).entity", "expected one of \(Mapping.entityNames.joined(separator: ", ")), found \(value.scalarText.map { "\"\($0)\"" } ?? value.kindName)")
            }
            entity = name
        }
        let children = object["records"]
        if entity == nil && children == nil {
            throw Self.invalid(path, "needs an entity (\(Mapping.entityNames.joined(separator: ", "))), or nested records for which it gives context")
        }

        var fields: [FieldRule] = []
        if let fieldsValue = object["fields"] {
            guard let fieldObject = fieldsValue.objectValue else {
                throw Self.invalid("\(path).fields", "expected an object of record field -> selector, found \(fieldsValue.kindName)")
            }
            for (name, spec) in fieldObject.members {
                let fieldPath = "\(path).fields.\(Self.key(name))"
                let shape = try Self.fieldShape(name, entity: entity, path: fieldPath)
                fields.append(try fieldRule(spec, name: name, path: fieldPath, entity: entity, required: shape.required, repeatable: shape.repeatable, enclosingFields: enclosingFields))
            }
        }
        if let entity, let shape = Mapping.entities[entity] {
            for required in shape.required where !fields.contains(where: { $0.name == required }) {
                throw Self.invalid("\(path).fields", "a \(entity) record needs \(shape.required.joined(separator: ", ")); add \(required) (e.g. \(required): \"<selector>\"\(nested ? " or { record: \"\(required)\" } from the enclosing record" : ""))")
            }
        }

        var groups: [AttributeGroup] = []
        if let attributes = object["attributes"] {
            guard entity == "product" else {
                throw Self.invalid("\(path).attributes", "only product records have attributes")
            }
            let list: [JSON]
            if let array = attributes.arrayValue { list = array } else { list = [attributes] }
            for (index, group) in list.enumerated() {
                let groupPath = attributes.arrayValue == nil ? "\(path).attributes" : "\(path).attributes[\(index)]"
                groups.append(try attributeGroup(group, path: groupPath, enclosingFields: enclosingFields))
            }
        }

        var nestedRules: [RecordRule] = []
        if let children {
            guard let list = children.arrayValue, !list.isEmpty else {
                throw Self.invalid("\(path).records", "expected a non-empty list of nested record definitions")
            }
            let available = fields.map(\.name)
            for (index, child) in list.enumerated() {
                nestedRules.append(try recordRule(child, path: "\(path).records[\(index)]", nested: true, enclosingFields: available))
            }
        }
        return RecordRule(path: path, match: match, each: each, entity: entity, fields: fields, attributeGroups: groups, children: nestedRules)
    }

    static func key(_ name: String) -> String {
        name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } ? name : "\"\(name)\""
    }

    /// Checks a field name against the entity; returns whether it is required and repeatable.
    static func fieldShape(_ name: String, entity: String?, path: String) throws(PluginError) -> (required: Bool, repeatable: Bool) {
        guard let entity, let shape = Mapping.entities[entity] else {
            guard !name.isEmpty else { throw invalid(path, "a field needs a name") }
            return (false, false)
        }
        if shape.fixed.contains(name) { return (shape.required.contains(name), shape.repeatable.contains(name)) }
        for prefix in shape.prefixes where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            if prefix == "attr." {
                guard !rest.isEmpty, rest.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                    throw invalid(path, "\"\(name)\": an attribute field is attr.<name> with a non-empty name")
                }
            } else {
                let tag = rest.split(separator: "-", omittingEmptySubsequences: false)
                guard !tag.isEmpty, tag.allSatisfy({ (1...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }),
                    tag[0].allSatisfy(\.isLetter), (2...3).contains(tag[0].count)
                else {
                    throw invalid(path, "\"\(name)\": \(prefix)<lang> needs a BCP 47 language tag such as \(prefix)de or \(prefix)en-GB")
                }
            }
            return (false, false)
        }
        let dynamic = shape.prefixes.map { "\($0)<\($0 == "attr." ? "name" : "lang")>" }
        throw invalid(path, "\(entity) records have no field \"\(name)\"; they take \((shape.fixed + dynamic).joined(separator: ", "))")
    }

    mutating func fieldRule(
        _ json: JSON, name: String, path: String, entity: String?, required: Bool, repeatable: Bool, enclosingFields: [String]
    ) throws(PluginError) -> FieldRule {
        let rule = FieldRule(name: name, path: path, required: required, repeatable: repeatable)
        if let text = json.stringValue {
            rule.source = .select([try fieldSelector(text, path: path)])
            rule.sourceText = text
            return rule
        }
        guard let object = json.objectValue else {
            throw Self.invalid(path, "expected a selector text (\"SUPPLIER_PID\") or an object ({ path: …, transform: [ … ] }), found \(json.kindName)")
        }
        let known = ["path", "value", "record", "concat", "all", "join", "trim", "transform", "default", "required"]
        for key in object.keys where !known.contains(key) {
            throw Self.invalid("\(path).\(key)", "not a field option; use \(known.joined(separator: ", "))")
        }
        let sources = ["path", "value", "record", "concat"].filter { object[$0] != nil }
        guard sources.count == 1 else {
            throw Self.invalid(path, sources.isEmpty
                ? "say where the value comes from: path (a selector), value (a constant), record (a field of the enclosing record) or concat"
                : "give only one of \(sources.joined(separator: ", "))")
        }
        (rule.source, rule.sourceText) = try valueSource(object, kind: sources[0], path: path, enclosingFields: enclosingFields)
        if let all = object["all"] {
            guard let flag = all.boolValue else { throw Self.invalid("\(path).all", "expected true or false") }
            rule.all = flag
        }
        if let join = object["join"] {
            guard let text = join.stringValue else { throw Self.invalid("\(path).join", "expected the separator text, e.g. \", \"") }
            guard rule.all else { throw Self.invalid("\(path).join", "join only applies with all: true") }
            rule.join = text
        }
        if rule.all && !repeatable && rule.join == nil {
            throw Self.invalid("\(path).all", "\(name) takes one value: add join: \", \" to join all matches into one text (only category and media repeat)")
        }
        if let trim = object["trim"] {
            guard let flag = trim.boolValue else { throw Self.invalid("\(path).trim", "expected true or false") }
            rule.trim = flag
        }
        if let transform = object["transform"] {
            rule.transform = try TransformPipeline.parse(transform, path: "\(path).transform")
            for reference in rule.transform.references where rule.references[reference] == nil {
                rule.references[reference] = try fieldSelector(reference, path: "\(path).transform")
            }
        }
        if let fallback = object["default"] {
            guard let text = fallback.scalarText else { throw Self.invalid("\(path).default", "expected a text or number, found \(fallback.kindName)") }
            rule.defaultValue = text
        }
        if let requiredValue = object["required"] {
            guard let flag = requiredValue.boolValue else { throw Self.invalid("\(path).required", "expected true or false") }
            if !flag && required && entity != nil {
                throw Self.invalid("\(path).required", "\(name) is required for \(entity!) records and cannot be made optional")
            }
            rule.required = flag
        }
        return rule
    }

    mutating func valueSource(_ object: JSONObject, kind: String, path: String, enclosingFields: [String]) throws(PluginError) -> (ValueSource, String) {
        let value = object[kind]!
        switch kind {
        case "path":
            if let text = value.stringValue {
                return (.select([try fieldSelector(text, path: "\(path).path")]), text)
            }
            guard let list = value.arrayValue, !list.isEmpty else {
                throw Self.invalid("\(path).path", "expected a selector text or a list of alternatives, found \(value.kindName)")
            }
            var selectors: [CompiledSelector] = []
            var texts: [String] = []
            for (index, entry) in list.enumerated() {
                guard let text = entry.stringValue else { throw Self.invalid("\(path).path[\(index)]", "expected a selector text, found \(entry.kindName)") }
                selectors.append(try fieldSelector(text, path: "\(path).path[\(index)]"))
                texts.append(text)
            }
            return (.select(selectors), texts.joined(separator: " or "))
        case "value":
            guard let text = value.scalarText else { throw Self.invalid("\(path).value", "expected a constant text or number, found \(value.kindName)") }
            return (.constant(text), "'\(text)'")
        case "record":
            guard let field = value.stringValue, !field.isEmpty else {
                throw Self.invalid("\(path).record", "expected the name of a field of the enclosing record, e.g. \"sku\"")
            }
            guard enclosingFields.contains(field) else {
                throw Self.invalid("\(path).record", enclosingFields.isEmpty
                    ? "there is no enclosing record with fields; record: reads a field of the record this one is nested in"
                    : "the enclosing record has no field \"\(field)\"; it has \(enclosingFields.joined(separator: ", "))")
            }
            return (.enclosing(enclosingFields.firstIndex(of: field)!), "the enclosing record's \(field)")
        default:
            guard let list = value.arrayValue, list.count >= 2 else {
                throw Self.invalid("\(path).concat", "expected a list of at least two parts, e.g. [\"SUPPLIER_PID\", \"'-'\", \"@variant\"]")
            }
            var parts: [ValueSource] = []
            var texts: [String] = []
            for (index, entry) in list.enumerated() {
                let partPath = "\(path).concat[\(index)]"
                if let text = entry.stringValue {
                    parts.append(.select([try fieldSelector(text, path: partPath)]))
                    texts.append(text)
                } else if let part = entry.objectValue {
                    let kinds = ["path", "value", "record"].filter { part[$0] != nil }
                    guard kinds.count == 1, part.keys.count == 1 else {
                        throw Self.invalid(partPath, "a concat part is a selector text or one of { path: … }, { value: … }, { record: … }")
                    }
                    let (source, text) = try valueSource(part, kind: kinds[0], path: partPath, enclosingFields: enclosingFields)
                    parts.append(source)
                    texts.append(text)
                } else {
                    throw Self.invalid(partPath, "expected a selector text or { value: … }, found \(entry.kindName)")
                }
            }
            return (.concat(parts), "concat(\(texts.joined(separator: ", ")))")
        }
    }

    mutating func attributeGroup(_ json: JSON, path: String, enclosingFields: [String]) throws(PluginError) -> AttributeGroup {
        guard let object = json.objectValue else {
            throw Self.invalid(path, "expected { each: \"FEATURE\", name: \"FNAME\", value: \"FVALUE\" }, found \(json.kindName)")
        }
        let known = ["each", "name", "value", "duplicates", "join"]
        for key in object.keys where !known.contains(key) {
            throw Self.invalid("\(path).\(key)", "not an attributes option; use \(known.joined(separator: ", "))")
        }
        let each = try elementSelector(object["each"], path: "\(path).each", what: "each")
        guard let nameSpec = object["name"] else { throw Self.invalid("\(path).name", "required: where each attribute's name is, e.g. \"FNAME\"") }
        guard let valueSpec = object["value"] else { throw Self.invalid("\(path).value", "required: where each attribute's value is, e.g. \"FVALUE\"") }
        let name = try fieldRule(nameSpec, name: "attribute name", path: "\(path).name", entity: nil, required: false, repeatable: false, enclosingFields: enclosingFields)
        let value = try fieldRule(valueSpec, name: "attribute value", path: "\(path).value", entity: nil, required: false, repeatable: false, enclosingFields: enclosingFields)
        var duplicates = AttributeGroup.Duplicates.first
        if let value = object["duplicates"] {
            guard let text = value.stringValue, let policy = AttributeGroup.Duplicates(rawValue: text) else {
                throw Self.invalid("\(path).duplicates", "expected \"first\", \"last\", \"join\" or \"reject\"")
            }
            duplicates = policy
        }
        var separator = "; "
        if let join = object["join"] {
            guard let text = join.stringValue else { throw Self.invalid("\(path).join", "expected the separator text") }
            guard duplicates == .join else { throw Self.invalid("\(path).join", "join is the separator for duplicates: \"join\"") }
            separator = text
        }
        return AttributeGroup(path: path, each: each, name: name, value: value, duplicates: duplicates, separator: separator)
    }
}

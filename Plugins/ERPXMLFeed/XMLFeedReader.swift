import CLibXML2
import WharfPluginKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: Not public

/// Limits that keep a hostile or broken file from using unbounded memory or time.
struct ReaderLimits {
    /// Deepest element nesting accepted (libxml2 itself refuses more than 256 without its "huge" mode).
    var maxDepth = 256
    /// Largest text node (and attribute value), in bytes.
    var maxTextBytes = 1 << 20
    /// Largest record element (its text and attributes), in bytes.
    var maxRecordBytes = 16 << 20
    /// Most elements in one record element.
    var maxRecordElements = 200_000
    /// Most entity declarations in a document's DTD.
    var maxEntityDeclarations = 10_000
    /// Bytes of each record's raw XML sent with emitted records (0: none). Plugin rejects always get up to 1 KiB.
    var rawBytes = 1024
    /// Bytes read and parsed per step.
    var chunkSize = 1 << 16
}

/// A file that could not be read to its end: what went wrong, where (`file:line:column: …`).
struct FeedFailure: Error {
    var message: String
}

/// What reading one file did.
struct FeedStats {
    var recordElements = 0
    /// Record elements the host already held unchanged: neither mapped nor emitted.
    var skippedElements = 0
    var records = 0
    var rejects = 0
    var invalidBytes = 0
    var warnings: [String] = []
    var externalEntities: [String] = []
    /// The file's content checksum (`ContentHash`), when `read` was asked to compute it and the file is not
    /// compressed (a compressed file's checksum is of its compressed bytes, which the parser never sees).
    var checksum: String?
}

/// Streams one XML file through libxml2's push parser with SAX callbacks — never a document tree — and maps each
/// record element as soon as it ends.
///
/// Why SAX rather than `xmlTextReader`: the reader reports the parser's position, which runs up to a chunk ahead of
/// the node it returns, so it cannot give a record's own line and column; SAX callbacks see the parser exactly at
/// each start tag. Only the current record element is held (in a ``RecordTree`` arena); everything else streams by.
///
/// Hostile input: options never include `XML_PARSE_NOENT`, `DTDLOAD`, `DTDATTR` or `DTDVALID`, so external
/// entities and DTDs are never fetched or read; `resolveEntity` answers nothing and the external subset callback is
/// removed, so even a DTD-loading code path finds no input; `XML_PARSE_NONET` forbids the network anyway. Internal
/// entities are expanded under libxml2's expansion-loop check and this reader's text limit. Depth, text size,
/// record size and the number of entity declarations are bounded.
final class XMLFeedReader {
    let mapping: Mapping
    let mapper: RecordMapper
    let limits: ReaderLimits
    /// Where to ask whether a record element is unchanged (nil: never ask, never tag records).
    let digests: ElementDigestChannel?
    /// The seed of every element digest: a digest of what shapes records besides the element (see the plugin).
    let digestSeed: (UInt64, UInt64)
    /// Record elements read in this ingest, across files: the sequence of the last one.
    private var sequence: UInt64 = 0

    // Per file.
    private var parser: xmlParserCtxtPtr?
    private var source = ""
    private var depth = 0
    private var stackLocals = [Int32](repeating: 0, count: 300)
    private var stackNamespaces = [Int32](repeating: 0, count: 300)
    private var recordRules: [Int] = []
    private var recordDepth = 0
    private let tree = RecordTree()
    private var textRun = 0
    private var capture: (index: Int, depth: Int, bytes: [UInt8])?
    private var output: [MappedItem] = []
    private var failure: String?
    private var firstError: (message: String, line: Int, column: Int, code: Int32)?
    private var repair = UTF8Repair()
    private var repairing = true
    private var raw: [UInt8] = []
    private var rawStart: Int64 = 0
    private var rawNext: Int64 = 0
    private var stats = FeedStats()
    private var entityDeclarations = 0
    private var defaultEntityDecl: entityDeclSAXFunc?
    private var localCache = PointerMap()
    private var uriCache = PointerMap()

    /// A reader for one ingest (element sequences run on across its files). With `digests`, each record element
    /// is first offered to the host, which may answer that it is unchanged.
    init(mapping: Mapping, limits: ReaderLimits, digests: ElementDigestChannel? = nil, digestSeed: (UInt64, UInt64) = (0, 0)) {
        self.mapping = mapping
        self.limits = limits
        self.digests = digests
        self.digestSeed = digestSeed
        mapper = RecordMapper(mapping: mapping)
    }

    /// Reads `path`, calling `deliver` with what each chunk produced (outside libxml2's callbacks, so it may emit
    /// and throw). Throws ``FeedFailure`` when the file is not well-formed or breaks a limit — after delivering
    /// everything that came before the error — and rethrows what `deliver` or `checkCancelled` throw.
    ///
    /// With `checksum`, the file's bytes are also hashed as they are read (`FeedStats.checksum`): the same checksum
    /// `ContentHash.ofFile` gives, without a pass over the file of its own.
    func read(
        path: String, checksum: Bool = false, checkCancelled: () throws -> Void, deliver: ([MappedItem]) throws -> Void
    ) throws -> FeedStats {
        let input = try FeedInput(path: path)
        var hash: ContentHash? = checksum && !input.isCompressed ? ContentHash() : nil
        defer { input.close() }
        resetFile(source: path)
        guard let context = xmlCreatePushParserCtxt(nil, nil, nil, 0, path) else {
            throw PluginError(.internal, "libxml2 could not create a parser for \(path)")
        }
        parser = context
        defer {
            if let document = context.pointee.myDoc {
                xmlFreeDoc(document)
                context.pointee.myDoc = nil
            }
            xmlFreeParserCtxt(context)
            parser = nil
        }
        configure(context)
        let me = Unmanaged.passUnretained(self)
        context.pointee._private = me.toOpaque()

        let capacity = limits.chunkSize
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity + 8)
        defer { buffer.deallocate() }
        var carried = 0
        var offset: Int64 = 0
        var first = true
        var ended = false
        while !ended {
            try checkCancelled()
            let count = try input.read(into: buffer + carried, capacity: capacity - carried)
            // Before the UTF-8 repair below may change bytes: the checksum is of the file as it is.
            hash?.update(UnsafeRawBufferPointer(start: buffer + carried, count: count))
            ended = count == 0
            let total = carried + count
            if first && total > 0 {
                repairing = UTF8Repair.documentIsUTF8(UnsafeBufferPointer(start: buffer, count: total))
                first = false
            }
            var ready = total
            if repairing { ready = repair.process(buffer, count: total, offset: offset, final: ended) }
            let status = buffer.withMemoryRebound(to: CChar.self, capacity: ready) {
                xmlParseChunk(context, $0, Int32(ready), ended ? 1 : 0)
            }
            offset += Int64(ready)
            carried = total - ready
            if carried > 0 { (buffer).update(from: buffer + ready, count: carried) }
            if !output.isEmpty {
                let items = output
                output.removeAll(keepingCapacity: true)
                try deliver(items)
            }
            // xmlParseChunk also reports recoverable errors; only a fatal one (wellFormed cleared) ends the file.
            if failure != nil || context.pointee.wellFormed == 0 || (status != 0 && context.pointee.instate == XML_PARSER_EOF && !ended) {
                throw FeedFailure(message: failureMessage(context))
            }
        }
        if tree.isOpen || depth != 0 {
            throw FeedFailure(message: "\(path): the file ended inside an element; it is cut off")
        }
        stats.invalidBytes = repair.replacedCount
        stats.checksum = hash?.finalize()
        return stats
    }

    // MARK: Setting up libxml2

    private func resetFile(source: String) {
        self.source = source
        depth = 0
        recordRules = []
        recordDepth = 0
        tree.reset()
        textRun = 0
        capture = nil
        output.removeAll(keepingCapacity: true)
        failure = nil
        firstError = nil
        repair = UTF8Repair()
        repairing = true
        raw.removeAll(keepingCapacity: true)
        stats = FeedStats()
        entityDeclarations = 0
        localCache = PointerMap()
        uriCache = PointerMap()
        mapper.captures = Array(repeating: nil, count: mapping.captures.count)
    }

    private func configure(_ context: xmlParserCtxtPtr) {
        // Options first: xmlCtxtUseOptions rewrites some handler slots. Never NOENT, DTDLOAD, DTDATTR, DTDVALID.
        _ = xmlCtxtUseOptions(context, Int32(XML_PARSE_NONET.rawValue | XML_PARSE_BIG_LINES.rawValue))
        context.pointee.replaceEntities = 0
        context.pointee.loadsubset = 0
        context.pointee.validate = 0
        let sax = context.pointee.sax!
        // Keep libxml2's own DTD handlers (startDocument, internalSubset, entityDecl, getEntity …): they record the
        // internal subset's entities so that internal entities expand. Everything that would load more is removed.
        defaultEntityDecl = sax.pointee.entityDecl
        sax.pointee.externalSubset = nil
        sax.pointee.resolveEntity = { context, publicID, systemID in
            XMLFeedReader.from(context)?.refusedExternal(publicID: publicID, systemID: systemID)
            return nil
        }
        sax.pointee.entityDecl = { context, name, type, publicID, systemID, content in
            XMLFeedReader.from(context)?.entityDeclared(context, name, type, publicID, systemID, content)
        }
        sax.pointee.startElement = nil
        sax.pointee.endElement = nil
        sax.pointee.reference = nil
        sax.pointee.processingInstruction = nil
        sax.pointee.comment = nil
        sax.pointee.warning = nil
        sax.pointee.error = nil
        sax.pointee.fatalError = nil
        sax.pointee.initialized = XML_SAX2_MAGIC
        sax.pointee.startElementNs = { context, localName, _, uri, _, _, attributeCount, _, attributes in
            XMLFeedReader.from(context)?.startElement(context, localName, uri, Int(attributeCount), attributes)
        }
        sax.pointee.endElementNs = { context, _, _, _ in
            XMLFeedReader.from(context)?.endElement(context)
        }
        let characters: charactersSAXFunc = { context, bytes, length in
            XMLFeedReader.from(context)?.characters(bytes, Int(length))
        }
        sax.pointee.characters = characters
        sax.pointee.cdataBlock = characters
        sax.pointee.ignorableWhitespace = characters
        sax.pointee.serror = { userData, error in
            guard let error else { return }
            XMLFeedReader.from(userData)?.parserError(error)
        }
    }

    /// The reader behind a libxml2 context (entity sub-parsers copy `_private`).
    @inline(__always)
    static func from(_ context: UnsafeMutableRawPointer?) -> XMLFeedReader? {
        guard let context else { return nil }
        let parser = context.assumingMemoryBound(to: xmlParserCtxt.self)
        guard let reader = parser.pointee._private else { return nil }
        return Unmanaged<XMLFeedReader>.fromOpaque(reader).takeUnretainedValue()
    }

    // MARK: Callbacks

    private func fail(_ message: String) {
        guard failure == nil else { return }
        failure = message
        if let parser { xmlStopParser(parser) }
    }

    private func refusedExternal(publicID: UnsafePointer<xmlChar>?, systemID: UnsafePointer<xmlChar>?) {
        let name = systemID.map { String(cString: $0) } ?? publicID.map { String(cString: $0) } ?? "?"
        if stats.externalEntities.count < 10 { stats.externalEntities.append(name) }
    }

    private func entityDeclared(
        _ context: UnsafeMutableRawPointer?, _ name: UnsafePointer<xmlChar>?, _ type: Int32, _ publicID: UnsafePointer<xmlChar>?,
        _ systemID: UnsafePointer<xmlChar>?, _ content: UnsafeMutablePointer<xmlChar>?
    ) {
        entityDeclarations += 1
        if entityDeclarations > limits.maxEntityDeclarations {
            fail("\(position()): the DTD declares more than \(limits.maxEntityDeclarations) entities; refused as a likely denial-of-service file")
            return
        }
        if let content, strlen(UnsafeRawPointer(content).assumingMemoryBound(to: CChar.self)) > limits.maxTextBytes {
            fail("\(position()): entity \(name.map { String(cString: $0) } ?? "?") is longer than maxTextBytes (\(limits.maxTextBytes) bytes); refused")
            return
        }
        if systemID != nil || publicID != nil {
            // Declared, recorded, never loaded: external entities expand to nothing.
            let target = systemID.map { String(cString: $0) } ?? publicID.map { String(cString: $0) } ?? "?"
            if stats.externalEntities.count < 10 { stats.externalEntities.append(target) }
        }
        defaultEntityDecl?(context, name, type, publicID, systemID, content)
    }

    private func parserError(_ error: xmlErrorPtr) {
        let level = error.pointee.level
        let message = error.pointee.message.map { String(cString: $0) }?.trimmingTrailingNewlines ?? "unknown parser error"
        // Errors libxml2 recovers from (an undeclared entity in a document whose DTD has parameter entities, a
        // namespace mistake) leave the document well-formed: they are logged, not fatal.
        if level != XML_ERR_FATAL {
            if stats.warnings.count < 10 { stats.warnings.append("line \(error.pointee.line): \(message)") }
            return
        }
        let fromMainFile = error.pointee.file.map { String(cString: $0) == source } ?? false
        if firstError == nil || (fromMainFile && firstError!.line == 0) {
            var line = Int(error.pointee.line), column = Int(error.pointee.int2)
            if !fromMainFile, let input = parser?.pointee.input {
                // An error inside an entity's text: report where the entity was used.
                line = Int(input.pointee.line)
                column = Int(input.pointee.col)
            }
            firstError = (message, line, column, error.pointee.code)
        }
    }

    /// The main file's current parse position, `file:line:column`.
    private func position() -> String {
        guard let input = parser?.pointee.input else { return source }
        return "\(source):\(input.pointee.line):\(input.pointee.col)"
    }

    private func localID(_ name: UnsafePointer<xmlChar>?) -> Int32 {
        guard let name else { return 0 }
        let key = UInt(bitPattern: name)
        if let id = localCache.get(key) { return id }
        let id = mapping.names.locals[String(cString: name)] ?? 0
        localCache.set(key, id)
        return id
    }

    private func uriID(_ uri: UnsafePointer<xmlChar>?) -> Int32 {
        guard let uri else { return 0 }
        let key = UInt(bitPattern: uri)
        if let id = uriCache.get(key) { return id }
        let id = mapping.names.uris[String(cString: uri)] ?? -1
        uriCache.set(key, id)
        return id
    }

    /// Line, column and stream offset of the start tag being reported (the parser stands at its `>` or `/>`).
    private func startTagPosition(_ context: UnsafeMutableRawPointer?) -> (line: Int32, column: Int32, offset: Int64) {
        guard let parser, let input = parser.pointee.input else { return (0, 0, -1) }
        let line = input.pointee.line, column = input.pointee.col
        guard UnsafeMutableRawPointer(parser) == context, parser.pointee.inputNr == 1,
            let base = input.pointee.base, let current = input.pointee.cur
        else { return (line, column, -1) }
        var pointer = current
        var characters: Int32 = 0
        var newlines: Int32 = 0
        while pointer > base {
            pointer -= 1
            let byte = pointer.pointee
            if byte == UInt8(ascii: "<") { break }
            if byte == 0x0A { newlines += 1 }
            if byte & 0xC0 != 0x80 { characters += 1 }
        }
        guard pointer.pointee == UInt8(ascii: "<") else { return (line, column, -1) }
        let offset = Int64(input.pointee.consumed) + Int64(pointer - base)
        if newlines == 0 { return (line, max(1, column - characters - 1), offset) }
        // A start tag spread over lines: count the columns from the line's start.
        var scan = pointer
        var startColumn: Int32 = 1
        while scan > base, (scan - 1).pointee != 0x0A {
            scan -= 1
            if scan.pointee & 0xC0 != 0x80 { startColumn += 1 }
        }
        let known = scan > base || input.pointee.consumed == 0
        return (line - newlines, known ? startColumn : 0, offset)
    }

    /// The stream offset just past what the parser has consumed (after an end tag).
    private func currentOffset() -> Int64 {
        guard let parser, let input = parser.pointee.input, parser.pointee.inputNr == 1, let base = input.pointee.base,
            let current = input.pointee.cur
        else { return -1 }
        return Int64(input.pointee.consumed) + Int64(current - base)
    }

    /// Copies more of the record's raw bytes from libxml2's input buffer while they are still there.
    private func extendRaw() {
        let limit = 1024
        guard raw.count < limit, let parser, parser.pointee.inputNr == 1, let input = parser.pointee.input,
            let base = input.pointee.base, let end = input.pointee.end
        else { return }
        let bufferStart = Int64(input.pointee.consumed)
        let bufferEnd = bufferStart + Int64(end - base)
        guard rawNext >= bufferStart, rawNext < bufferEnd else { return }
        let count = Int(min(Int64(limit - raw.count), bufferEnd - rawNext))
        raw.append(contentsOf: UnsafeBufferPointer(start: base + Int(rawNext - bufferStart), count: count))
        rawNext += Int64(count)
    }

    private func startElement(
        _ context: UnsafeMutableRawPointer?, _ localName: UnsafePointer<xmlChar>?, _ uri: UnsafePointer<xmlChar>?,
        _ attributeCount: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?
    ) {
        guard failure == nil else { return }
        depth += 1
        textRun = 0
        if depth > limits.maxDepth {
            fail("\(position()): elements are nested deeper than \(limits.maxDepth) levels (config maxDepth); refused as a broken or hostile file")
            return
        }
        let local = localID(localName)
        let namespace = uriID(uri)
        if let attributes {
            for index in 0..<attributeCount {
                if let start = attributes[index * 5 + 3], let end = attributes[index * 5 + 4], end - start > limits.maxTextBytes {
                    fail("\(position()): an attribute value is longer than \(limits.maxTextBytes) bytes (config maxTextBytes); refused")
                    return
                }
            }
        }

        if tree.isOpen {
            let where_ = startTagPosition(context)
            tree.begin(local: local, namespace: namespace, line: where_.line, column: where_.column, offset: where_.offset)
            addAttributes(attributeCount, attributes)
            extendRaw()
            if tree.nodes.count > limits.maxRecordElements || tree.byteCount > limits.maxRecordBytes {
                recordTooLarge()
            }
            return
        }

        stackLocals[depth - 1] = local
        stackNamespaces[depth - 1] = namespace
        // Record elements.
        var matched: [Int] = []
        for (index, rule) in mapping.records.enumerated() {
            if let path = rule.match, matches(path, attributeCount, attributes) { matched.append(index) }
        }
        if !matched.isEmpty {
            let where_ = startTagPosition(context)
            recordRules = matched
            recordDepth = depth
            tree.reset()
            tree.begin(local: local, namespace: namespace, line: where_.line, column: where_.column, offset: where_.offset)
            addAttributes(attributeCount, attributes)
            stats.recordElements += 1
            raw.removeAll(keepingCapacity: true)
            rawStart = max(where_.offset, 0)
            rawNext = rawStart
            if where_.offset >= 0 { extendRaw() }
            // Invalid bytes before this record belong to no record.
            if let first = repair.invalidOffsets.first, first < rawStart {
                repair.invalidOffsets.removeAll { $0 < rawStart }
            }
            return
        }
        // Document-level values (first occurrence wins).
        if capture == nil {
            for (index, path) in mapping.captures.enumerated() where mapper.captures[index] == nil {
                guard matches(path, attributeCount, attributes) else { continue }
                if let attribute = path.attribute {
                    if let value = attributeValue(attribute, attributeCount, attributes) { mapper.captures[index] = value }
                } else {
                    capture = (index, depth, [])
                    break
                }
            }
        }
    }

    private func addAttributes(_ count: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?) {
        guard let attributes, count > 0 else { return }
        for index in 0..<count {
            let local = localID(attributes[index * 5])
            guard local != 0, let start = attributes[index * 5 + 3], let end = attributes[index * 5 + 4] else { continue }
            tree.addAttribute(local: local, namespace: uriID(attributes[index * 5 + 2]), value: UnsafeBufferPointer(start: start, count: end - start))
        }
    }

    private func attributeValue(_ test: CompiledNameTest, _ count: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?) -> String? {
        guard let attributes else { return nil }
        for index in 0..<count where test.matches(local: localID(attributes[index * 5]), namespace: uriID(attributes[index * 5 + 2])) {
            guard let start = attributes[index * 5 + 3], let end = attributes[index * 5 + 4] else { continue }
            return String(decoding: UnsafeBufferPointer(start: start, count: end - start), as: UTF8.self)
        }
        return nil
    }

    /// Whether the open elements (the current one last) match a streamed path, with its attribute conditions.
    private func matches(_ path: StreamPath, _ attributeCount: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?) -> Bool {
        let steps = path.steps.count
        if path.anchored ? steps != depth : steps > depth { return false }
        var step = steps - 1
        var level = depth - 1
        while step >= 0 {
            if !path.steps[step].matches(local: stackLocals[level], namespace: stackNamespaces[level]) { return false }
            step -= 1
            level -= 1
        }
        for condition in path.conditions {
            var found = false
            var equal = false
            if let attributes {
                for index in 0..<attributeCount
                where condition.test.matches(local: localID(attributes[index * 5]), namespace: uriID(attributes[index * 5 + 2])) {
                    found = true
                    if let literal = condition.equals, let start = attributes[index * 5 + 3], let end = attributes[index * 5 + 4] {
                        var low = start, high = end
                        while low < high, RecordTree.isSpace(low.pointee) { low += 1 }
                        while high > low, RecordTree.isSpace((high - 1).pointee) { high -= 1 }
                        equal = high - low == literal.count && literal.withUnsafeBufferPointer { memcmp($0.baseAddress!, low, literal.count) == 0 }
                    }
                }
            }
            if condition.equals == nil {
                if !found { return false }
            } else if condition.negated ? equal : !equal {
                return false
            }
        }
        return true
    }

    private func characters(_ bytes: UnsafePointer<xmlChar>?, _ length: Int) {
        guard failure == nil, let bytes, length > 0 else { return }
        textRun += length
        if textRun > limits.maxTextBytes {
            fail("\(position()): a text node is longer than \(limits.maxTextBytes) bytes (config maxTextBytes); refused (an entity may expand into it)")
            return
        }
        if tree.isOpen {
            tree.appendText(UnsafeBufferPointer(start: bytes, count: length))
            if tree.byteCount > limits.maxRecordBytes { recordTooLarge() }
        } else if capture != nil {
            capture!.bytes.append(contentsOf: UnsafeBufferPointer(start: bytes, count: length))
        }
    }

    private func endElement(_ context: UnsafeMutableRawPointer?) {
        guard failure == nil else { return }
        textRun = 0
        defer { depth -= 1 }
        if tree.isOpen {
            extendRaw()
            let endOffset = UnsafeMutableRawPointer(parser) == context ? currentOffset() : -1
            if tree.finish(endOffset: endOffset) { recordEnded(endOffset: endOffset) }
            return
        }
        if let current = capture, current.depth == depth {
            var bytes = current.bytes[...]
            while let first = bytes.first, RecordTree.isSpace(first) { bytes = bytes.dropFirst() }
            while let last = bytes.last, RecordTree.isSpace(last) { bytes = bytes.dropLast() }
            mapper.captures[current.index] = String(decoding: bytes, as: UTF8.self)
            capture = nil
        }
    }

    private func recordTooLarge() {
        let root = tree.nodes.first
        fail("\(source):\(root?.line ?? 0):\(root?.column ?? 0): the record element here is larger than \(limits.maxRecordBytes) bytes or \(limits.maxRecordElements) elements (config maxRecordBytes); check that the mapping's record path names the repeated element (e.g. …/PRODUCT), not a container of all of them")
    }

    private func recordEnded(endOffset: Int64) {
        // Claim the invalid bytes inside this record.
        if !repair.invalidOffsets.isEmpty {
            let end = endOffset >= 0 ? endOffset : Int64.max
            var kept: [Int64] = []
            for offset in repair.invalidOffsets {
                if offset >= rawStart && offset < end { tree.taint(offset: offset) } else if offset >= end { kept.append(offset) }
            }
            repair.invalidOffsets = kept
        }
        sequence += 1
        // Asked before anything else is done with the element: skipping must cost no more than parse and hash. A
        // tainted element gets no digest: its bytes were repaired, and it may be rejected.
        var element: ElementDigest?
        if let digests, tree.tainted.isEmpty {
            let digest = ElementDigest(elementDigest(), sequence: sequence)
            if digests.skipUnchanged(digest) {
                stats.skippedElements += 1
                tree.reset()
                return
            }
            element = digest
        }
        var rawText: String?
        if !raw.isEmpty {
            var count = raw.count
            if endOffset > rawStart { count = min(count, Int(endOffset - rawStart)) }
            // Do not end inside a UTF-8 sequence.
            if count < raw.count { while count > 0, raw[count] & 0xC0 == 0x80 { count -= 1 } }
            rawText = String(decoding: raw[0..<count], as: UTF8.self)
        }
        var forRecords: String?
        if let rawText, limits.rawBytes > 0 {
            forRecords = rawText
            if rawText.utf8.count > limits.rawBytes {
                var cut = limits.rawBytes
                let bytes = Array(rawText.utf8)
                while cut > 0, bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
                forRecords = String(decoding: bytes[0..<cut], as: UTF8.self)
            }
        }
        let before = output.count
        // Records are made with their element (tagging them afterwards copied every record once more).
        mapper.element = element
        mapper.map(
            rules: recordRules, tree: tree, source: source, recordNumber: stats.recordElements, raw: rawText,
            rawForRecords: forRecords, into: &output)
        mapper.element = nil
        var rejected = false
        for item in output[before...] {
            if case .record = item { stats.records += 1 } else { stats.rejects += 1; rejected = true }
        }
        // The host remembers an element only when all of its records were stored; a record the plugin rejected
        // never reaches it, so an element with a reject must not be tagged at all.
        if element != nil, rejected {
            for index in before..<output.count {
                guard case .record(var record) = output[index] else { continue }
                record.element = nil
                output[index] = .record(record)
            }
        }
        tree.reset()
    }

    /// The digest of the record element just read: everything its records depend on. The seed covers the plugin,
    /// its version and the mapping; here come which record rules matched, the document-level values captured so far
    /// (records may take them) and the element's tree. Not the file name or position: a daily file with a new name
    /// and the same content must still match.
    private func elementDigest() -> (high: UInt64, low: UInt64) {
        var hasher = ElementHasher(seed: digestSeed)
        hasher.combine(UInt64(recordRules.count))
        for rule in recordRules { hasher.combine(UInt64(rule)) }
        hasher.combine(UInt64(mapper.captures.count))
        for capture in mapper.captures {
            if let capture {
                hasher.combine(1)
                hasher.combine(capture)
            } else {
                hasher.combine(0)
            }
        }
        tree.combine(into: &hasher)
        return hasher.finalize()
    }

    private func failureMessage(_ context: xmlParserCtxtPtr) -> String {
        if let failure { return failure }
        guard let error = firstError else {
            return "\(position()): the file is not well-formed XML"
        }
        let place = "\(source):\(error.line):\(error.column)"
        if error.code == XML_ERR_ENTITY_LOOP.rawValue.int32 || error.message.contains("entity reference loop") {
            return "\(place): entity expansion refused: the document's entities refer to each other in a loop or expand explosively (the \"billion laughs\" pattern); libxml2 said: \(error.message)"
        }
        if error.message.contains("Excessive depth") {
            return "\(place): elements are nested deeper than \(limits.maxDepth) levels; refused as a broken or hostile file"
        }
        if error.message.contains("Premature end of data") || error.message.contains("Extra content at the end")
            || error.code == XML_ERR_DOCUMENT_END.rawValue.int32
        {
            return "\(place): the file is not well-formed XML: \(error.message) (is the file cut off?)"
        }
        return "\(place): the file is not well-formed XML: \(error.message)"
    }
}

extension UInt32 {
    var int32: Int32 { Int32(bitPattern: self) }
}

extension String {
    var trimmingTrailingNewlines: String {
        var text = self
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        return text
    }
}

/// A small open-addressing map from pointer bits to ids, for libxml2's interned names (compared by address).
struct PointerMap {
    private var keys = [UInt](repeating: 0, count: 256)
    private var values = [Int32](repeating: 0, count: 256)
    private var count = 0

    @inline(__always)
    func get(_ key: UInt) -> Int32? {
        let mask = keys.count - 1
        var slot = Int(truncatingIfNeeded: ((key >> 3) &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
        while true {
            let found = keys[slot]
            if found == key { return values[slot] }
            if found == 0 { return nil }
            slot = (slot + 1) & mask
        }
    }

    mutating func set(_ key: UInt, _ value: Int32) {
        if count * 2 >= keys.count {
            // Names come from libxml2's dictionary, so few distinct addresses exist; start over past a bound.
            if keys.count >= 1 << 16 {
                self = PointerMap()
            } else {
                let oldKeys = keys, oldValues = values
                keys = [UInt](repeating: 0, count: oldKeys.count * 2)
                values = [Int32](repeating: 0, count: oldKeys.count * 2)
                count = 0
                for (index, old) in oldKeys.enumerated() where old != 0 { set(old, oldValues[index]) }
            }
        }
        let mask = keys.count - 1
        var slot = Int(truncatingIfNeeded: ((key >> 3) &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
        while keys[slot] != 0 && keys[slot] != key { slot = (slot + 1) & mask }
        if keys[slot] == 0 { count += 1 }
        keys[slot] = key
        values[slot] = value
    }
}

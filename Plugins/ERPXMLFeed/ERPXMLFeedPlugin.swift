import WharfABI
import WharfPluginKit

/// The plugin's one exported symbol: hands the host the descriptor WharfPluginKit builds for ``ERPXMLFeedPlugin``.
@_cdecl("wharf_plugin_entry")
public func wharfPluginEntry(
    _ hostMajor: UInt32, _ hostMinor: UInt32, _ host: UnsafePointer<wharf_host_api>?
) -> UnsafePointer<wharf_plugin_descriptor>? {
    PluginExport.descriptor(for: ERPXMLFeedPlugin.self, hostMajor: hostMajor, hostMinor: hostMinor, host: host)
}

/// Products, base prices, inventory, categories and sources from ERP/PIM XML feed files in any dialect (BMEcat,
/// cXML, OAGIS, home-grown), mapped by the connector's manifest (see docs/mapping.md).
///
/// Config: the file source keys of ``FileSource`` (`path` | `glob` | `folder` + `pattern`, `force`, `archive`,
/// `failed`, `minAgeSeconds`, `rememberFiles`) plus `batchSize` (records per emit, default 2000), `maxDepth`
/// (default 256), `maxTextBytes` (default 1 MiB), `maxRecordBytes` (default 16 MiB), `rawBytes` (raw XML sent
/// with each record for the host's rejects, default 1024, 0 for none) and `skipUnchanged` (default true).
///
/// Each file is streamed (libxml2 SAX, flat memory), its checksum is checked against the cursor (files imported
/// before are skipped unless `force`), and its records are emitted in batches; the file's last batch carries the
/// cursor with its checksum added, and only then is it archived. Parsing and mapping run on a second thread while
/// the operation's thread emits (``ProducerPipeline``), so the parse overlaps the host's writes. A file that is not well-formed fails the run at
/// the error's position: batches emitted before stay committed, the rest of the file is not, and the file is not
/// marked imported, so the next run reads it again.
///
/// Unchanged elements: with `skipUnchanged` (and a host offering "wharf.element-digests.v1"), each record element
/// is hashed as soon as it ends, before it is mapped — its tree, the document-level values captured so far, which
/// record rules matched, and a seed of the plugin's id and version and the mapping's text — and the host is asked
/// whether it still holds exactly what that element's records wrote. If so the element is neither mapped nor
/// emitted (a forced re-import of an unchanged feed costs little more than the parse); otherwise its records are
/// emitted tagged with the digest, except when the element also produced a reject of the plugin's own. Elements
/// with bytes that are not valid UTF-8 are never skipped.
public struct ERPXMLFeedPlugin: WharfPlugin {
    /// `erp-xml`.
    public static let id = "erp-xml"
    /// An ERP feed.
    public static let systemKind = "erp"
    /// The plugin's version. Raise it whenever the same XML and mapping would map to different records: element
    /// digests include it, so a new version never skips an element on the strength of the old one's records.
    public static let version = "1.0.0"
    /// One line for people.
    public static let description: String? = "Products, prices, stock and categories from ERP/PIM XML feeds (BMEcat, cXML, OAGIS, …)"
    /// Ingest only.
    public static let capabilities: PluginCapabilities = [.ingest]

    let source: FileSource
    let batchSize: Int
    let limits: ReaderLimits
    let mapping: Mapping
    /// Whether to ask the host about unchanged record elements (config `skipUnchanged`).
    let skipUnchanged: Bool
    /// The seed of every element digest (see ``elementDigestSeed(mappingJSON:rawBytes:)``).
    let digestSeed: (UInt64, UInt64)

    static let ownConfigKeys = ["batchSize", "maxDepth", "maxTextBytes", "maxRecordBytes", "rawBytes", "skipUnchanged"]

    /// Changes whenever the layout of what an element digest covers changes (XMLFeedReader.elementDigest,
    /// RecordTree.combine): a new layout must not match digests stored under the old one.
    static let digestLayout = "erp-xml element digest layout 1"

    /// Reads and checks config and mapping; a mistake is refused with its path (`config.x: …`, `mapping.records[0]…: …`).
    public init(context: PluginContext) throws {
        let config = try context.config()
        let known = FileSource.configKeys + Self.ownConfigKeys
        for key in config.objectValue?.keys ?? [] where !known.contains(key) {
            throw PluginError.invalid("config.\(key): not a setting of erp-xml; known settings: \(known.joined(separator: ", "))")
        }
        source = try FileSource(config: config, context: context, defaultPatterns: ["*.xml", "*.xml.gz"])
        func number(_ key: String, _ range: ClosedRange<Int>, _ fallback: Int) throws(PluginError) -> Int {
            guard let value = config[key] else { return fallback }
            guard let number = value.intValue, range.contains(number) else {
                throw PluginError.invalid("config.\(key): expected a whole number from \(range.lowerBound) to \(range.upperBound), found \(value.scalarText ?? value.kindName)")
            }
            return number
        }
        batchSize = try number("batchSize", 1...10_000, 2000)
        var limits = ReaderLimits()
        // libxml2 refuses more than 256 levels unless its "huge" mode is on, which would also lift its other limits.
        limits.maxDepth = try number("maxDepth", 8...256, 256)
        // libxml2's own text limit without "huge" mode is 10,000,000 bytes.
        limits.maxTextBytes = try number("maxTextBytes", 1024...10_000_000, 1 << 20)
        limits.maxRecordBytes = try number("maxRecordBytes", 1024...(256 << 20), 16 << 20)
        limits.rawBytes = try number("rawBytes", 0...1024, 1024)
        self.limits = limits
        skipUnchanged = try config.flag("skipUnchanged", default: true)
        let mappingJSON = context.mappingJSON
        mapping = try Mapping(try context.mapping())
        digestSeed = Self.elementDigestSeed(mappingJSON: mappingJSON, rawBytes: limits.rawBytes)
    }

    /// The seed of the element digests: everything outside an element that shapes its records — the plugin and its
    /// version (the mapping code), the mapping's text as the host hands it over, and `rawBytes` (the raw excerpt the
    /// records carry) — plus the digest layout. A change of any of them changes every digest, so nothing is skipped
    /// on the strength of records mapped differently.
    static func elementDigestSeed(mappingJSON: String, rawBytes: Int) -> (UInt64, UInt64) {
        var hasher = ElementHasher(seed: (0x6572_702D_786D_6C00, 0x6469_6765_7374_7331))
        hasher.combine(digestLayout)
        hasher.combine(id)
        hasher.combine(version)
        hasher.combine(mappingJSON)
        hasher.combine(UInt64(rawBytes))
        let digest = hasher.finalize()
        return (digest.high, digest.low)
    }

    /// Imports every new file of the source, oldest first.
    public func ingest(_ context: IngestContext) throws {
        let files = try source.files()
        if files.isEmpty {
            context.log(.info, "no feed files to import (\(describe(source.kind)))")
            return
        }
        var imported = ImportedFiles(cursor: context.cursor, limit: source.rememberFiles)
        // One reader for the whole ingest: element sequences run on across files, as the host requires.
        let digests = skipUnchanged ? context.elementDigests : nil
        let reader = XMLFeedReader(mapping: mapping, limits: limits, digests: digests, digestSeed: digestSeed)
        for file in files {
            try context.checkCancelled()
            // A checksum is needed first only to compare it with the imported ones; otherwise (forced, or nothing
            // imported yet) it is computed while the file is parsed, saving a pass over the file.
            var checksum: String?
            if !source.force && !imported.checksums.isEmpty { checksum = try ContentHash.ofFile(file.path) }
            if let checksum, imported.contains(checksum) {
                context.log(.info, "\(file.path) was imported before (same content, \(checksum)); skipped — set config force: true to import it again")
                archive(file.path, context: context)
                continue
            }
            imported = try importFile(file, checksum: checksum, imported: imported, reader: reader, context: context)
            archive(file.path, context: context)
        }
    }

    // MARK: Not public

    private func importFile(
        _ file: FileSource.File, checksum known: String?, imported: ImportedFiles, reader: XMLFeedReader,
        context: IngestContext
    ) throws -> ImportedFiles {
        let batcher = RecordBatcher(context: context, batchSize: batchSize)
        let builder = RecordBatchBuilder(batchSize: batchSize)
        let stats: FeedStats
        do {
            // Parsing, mapping and the C form of each batch are made on a thread of their own, and the batches
            // emitted on this one: the two overlap on two cores.
            stats = try ProducerPipeline.run(capacity: 4, produce: { send in
                try reader.read(path: file.path, checksum: known == nil, checkCancelled: { try context.checkCancelled() }) { items in
                    for item in items {
                        switch item {
                        case .record(let record):
                            if let batch = builder.add(record) { try send(.batch(batch)) }
                        case .reject(let location, let field, let reason, let raw):
                            try send(.reject(location: location, field: field, reason: reason, raw: raw))
                        }
                    }
                }
            }, consume: { (item: PipelineItem) in
                switch item {
                case .batch(let batch):
                    try batcher.emit(batch)
                case .reject(let location, let field, let reason, let raw):
                    try context.reject(location: location, field: field, reason: reason, raw: raw)
                }
            })
        } catch let failure as FeedFailure {
            var message = failure.message
            // The producer thread has ended: its builder may be read here.
            message += ". The file was not imported: \(batcher.emittedRecords) records of it were already committed in \(batcher.emittedBatches) full batches of \(batchSize); the \(builder.pendingCount) records read after the last full batch were not; the file is not marked as imported, so the next run reads it again once it is fixed"
            if let failed = source.failedFolder {
                do {
                    let moved = try FileSource.move(file.path, toFolder: failed)
                    message += " (it was moved to \(moved))"
                } catch {
                    context.log(.warning, "could not move \(file.path) to the failed folder: \(error)")
                }
            }
            throw PluginError.invalid(message)
        }
        let checksum = try known ?? stats.checksum ?? ContentHash.ofFile(file.path)
        let next = imported.adding(checksum)
        let counts = try batcher.finish(builder.finish(), cursor: next.cursorText)
        for warning in stats.warnings { context.log(.warning, "\(file.path): \(warning)") }
        if !stats.externalEntities.isEmpty {
            context.log(.warning, "\(file.path) declares external entities or a DTD (\(stats.externalEntities.joined(separator: ", "))); they were not loaded (external entities and DTDs are never read)")
        }
        if stats.invalidBytes > 0 {
            context.log(.warning, "\(file.path) has \(stats.invalidBytes) bytes that are not valid UTF-8; records whose values contain them were rejected")
        }
        if stats.recordElements == 0 {
            context.log(.warning, "\(file.path): no element matched the mapping's record paths (\(recordPaths)); check the paths and the namespaces")
        }
        context.log(
            .info,
            "imported \(file.path) (\(checksum)): \(stats.recordElements) record elements, \(stats.skippedElements) record elements skipped as unchanged, \(stats.records) records emitted, \(stats.rejects) rejected by the plugin; host: \(counts.inserted) inserted, \(counts.updated) updated, \(counts.unchanged) unchanged, \(counts.rejected) rejected")
        return next
    }

    private var recordPaths: String {
        mapping.records.map(\.path).joined(separator: ", ")
    }

    private func archive(_ path: String, context: IngestContext) {
        guard let folder = source.archiveFolder else { return }
        do {
            let moved = try FileSource.move(path, toFolder: folder)
            context.log(.info, "archived \(path) to \(moved)")
        } catch {
            // Its data and checksum are committed; left in place it is skipped next time.
            context.log(.warning, "could not archive \(path): \(error)")
        }
    }

    private func describe(_ kind: FileSource.Kind) -> String {
        switch kind {
        case .path(let path): return "path \(path)"
        case .glob(let pattern): return "glob \(pattern)"
        case .folder(let folder, let patterns): return "folder \(folder), pattern \(patterns.joined(separator: " "))"
        }
    }
}

/// What the producer thread of `importFile` hands to the emitting thread, in order.
private enum PipelineItem {
    /// A full batch of records in C form.
    case batch(PreparedBatch)
    /// A record the mapping rejected, reported on the emitting thread.
    case reject(location: RecordLocation, field: String?, reason: String, raw: String?)
}

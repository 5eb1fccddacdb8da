import Foundation
import WharfABI
import WharfPluginKit

/// The plugin's one exported symbol: hands the host the descriptor WharfPluginKit builds for ``CPQPricingPlugin``.
@_cdecl("wharf_plugin_entry")
public func wharfPluginEntry(
    _ hostMajor: UInt32, _ hostMinor: UInt32, _ host: UnsafePointer<wharf_host_api>?
) -> UnsafePointer<wharf_plugin_descriptor>? {
    PluginExport.descriptor(for: CPQPricingPlugin.self, hostMajor: hostMajor, hostMinor: hostMinor, host: host)
}

/// Price lists from a CPQ system: its paged JSON export API (HTTP/HTTPS) or a CSV/JSON file export.
///
/// Each item of the export is one tier of one SKU in one price list; the list's header (name, currency, priority,
/// mode, validity) comes from the same item, and assignments from optional `company`/`group` fields. Field mapping
/// (JSON paths or CSV column names, plus the transforms the XML connector offers) is in `mapping.fields`.
///
/// A full sync (`sync: "full"`, or `"incremental"` without a stored cursor) stages every list it reads under a load
/// token and publishes them at the end in the run's last transaction: readers never see a half-updated list, and a
/// run that fails leaves the previous prices in force. An incremental sync asks for what changed since the stored
/// cursor (`modifiedSince`) and applies entries (and `deleted` ones) directly. See docs/pricing.md.
public struct CPQPricingPlugin: WharfPlugin {
    /// `cpq-pricing`.
    public static let id = "cpq-pricing"
    /// A CPQ system.
    public static let systemKind = "cpq"
    /// The plugin's version.
    public static let version = "1.0.0"
    /// One line for people.
    public static let description: String? = "Price lists, tiers and B2B prices from a CPQ export API or file"
    /// Ingest only.
    public static let capabilities: PluginCapabilities = [.ingest]

    enum Source {
        case http(baseURL: String, path: String, query: [(name: String, value: String)], paging: HTTPPaging, itemsPath: String,
                  modifiedSince: String?, auth: HTTPAuth?, timeout: Double, retry: HTTPRetryPolicy)
        case file(path: String, format: String, itemsPath: String)
    }

    let source: Source
    let incremental: Bool
    let batchSize: Int
    let mapping: PriceMapping

    /// Reads and checks config and mapping; mistakes name their path (`config.http.paging.mode: …`).
    public init(context: PluginContext) throws {
        let config = try context.config()
        let known = ["http", "file", "sync", "batchSize"]
        for key in config.objectValue?.keys ?? [] where !known.contains(key) {
            throw PluginError.invalid("config.\(key) is not a known key; use \(known.joined(separator: ", "))")
        }
        switch config["sync"]?.stringValue ?? "full" {
        case "full": incremental = false
        case "incremental": incremental = true
        default: throw PluginError.invalid("config.sync must be \"full\" or \"incremental\"")
        }
        batchSize = config["batchSize"]?.intValue ?? 1000
        guard (1...10_000).contains(batchSize) else { throw PluginError.invalid("config.batchSize must be 1 to 10000") }
        switch (config["http"], config["file"]) {
        case (let http?, nil):
            source = try Self.parseHTTP(http, context: context)
        case (nil, let file?):
            guard let path = file["path"]?.stringValue, !path.isEmpty else {
                throw PluginError.invalid("config.file.path is required: the CSV or JSON export file")
            }
            let format = file["format"]?.stringValue ?? (path.lowercased().hasSuffix(".csv") ? "csv" : "json")
            guard ["csv", "json"].contains(format) else { throw PluginError.invalid("config.file.format must be \"csv\" or \"json\"") }
            source = .file(path: context.resolvePath(path), format: format, itemsPath: file["itemsPath"]?.stringValue ?? "")
        default:
            throw PluginError.invalid("config needs exactly one of http (a CPQ export API) or file (an export file)")
        }
        mapping = try PriceMapping(try context.mapping())
    }

    static func parseHTTP(_ http: JSON, context: PluginContext) throws -> Source {
        let known = ["baseURL", "path", "query", "paging", "itemsPath", "modifiedSince", "auth", "timeoutSeconds", "maxAttempts"]
        for key in http.objectValue?.keys ?? [] where !known.contains(key) {
            throw PluginError.invalid("config.http.\(key) is not a known key; use \(known.joined(separator: ", "))")
        }
        guard let baseURL = http["baseURL"]?.stringValue, baseURL.hasPrefix("http://") || baseURL.hasPrefix("https://") else {
            throw PluginError.invalid("config.http.baseURL is required: an http:// or https:// URL like https://cpq.example.com/api")
        }
        var query: [(name: String, value: String)] = []
        for member in http["query"]?.objectValue?.members ?? [] {
            guard let value = member.value.scalarText else { throw PluginError.invalid("config.http.query.\(member.key) must be a string or number") }
            query.append((member.key, value))
        }
        let auth = try http["auth"].map { try HTTPAuth.parse($0, path: "config.http.auth", context: context) }
        let timeout = Double(http["timeoutSeconds"]?.intValue ?? 30)
        guard timeout >= 1 && timeout <= 600 else { throw PluginError.invalid("config.http.timeoutSeconds must be 1 to 600") }
        let attempts = http["maxAttempts"]?.intValue ?? 5
        guard (1...20).contains(attempts) else { throw PluginError.invalid("config.http.maxAttempts must be 1 to 20") }
        return .http(
            baseURL: baseURL, path: http["path"]?.stringValue ?? "", query: query,
            paging: try HTTPPaging.parse(http["paging"], path: "config.http.paging"), itemsPath: http["itemsPath"]?.stringValue ?? "",
            modifiedSince: http["modifiedSince"]?.stringValue, auth: auth, timeout: timeout,
            retry: HTTPRetryPolicy(maxAttempts: attempts))
    }

    /// Reads the export and emits price lists, entries and assignments (staged and published on a full sync).
    public func ingest(_ context: IngestContext) throws {
        let startedAt = Self.rfc3339(Date())
        let previous = context.cursor
        let full = !incremental || previous == nil
        let load: String? = full ? "load-\(startedAt)-\(UInt32.random(in: 0...UInt32.max))" : nil
        let state = IngestState(context: context, batcher: RecordBatcher(context: context, batchSize: batchSize), mapping: mapping, load: load)
        let handle = state.handle

        switch source {
        case .http(let baseURL, let path, let query, let paging, let itemsPath, let modifiedSince, let auth, let timeout, let retry):
            let client = try HTTPJSONClient(
                baseURL: baseURL, auth: auth, timeout: timeout, retry: retry, log: { [context] level, line in context.log(level, line) })
            let since: (parameter: String, value: String?)? = modifiedSince.map { ($0, full ? nil : previous) }
            let reader = HTTPJSONSource(client: client, path: path, query: query, paging: paging, itemsPath: itemsPath, modifiedSince: since)
            do {
                try reader.forEachPage { page in
                    try context.checkCancelled()
                    for (index, item) in page.items.enumerated() {
                        try handle(item, RecordLocation(source: page.url, recordNumber: page.firstItemIndex + index + 1))
                    }
                    return true
                }
            } catch let error as HTTPSourceError {
                throw error.pluginError
            }
        case .file(let path, let format, let itemsPath):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw PluginError.io("cannot read the price export \(path); check config.file.path")
            }
            if format == "csv" {
                for row in try CSVRows.parse(String(decoding: data, as: UTF8.self), source: path) {
                    try context.checkCancelled()
                    try handle(row.object, RecordLocation(source: path, line: row.line, recordNumber: row.number))
                }
            } else {
                let document: JSON
                do {
                    document = try data.withUnsafeBytes { buffer in try JSON.parse(buffer.bindMemory(to: UInt8.self)) }
                } catch {
                    throw PluginError.invalid("\(path) is not valid JSON: \(error)")
                }
                let found = itemsPath.isEmpty ? document : document.value(atPath: itemsPath)
                guard let array = found?.arrayValue else {
                    throw PluginError.invalid("\(path): \(itemsPath.isEmpty ? "the document" : "\"\(itemsPath)\"") is not an array of price items; check config.file.itemsPath")
                }
                for (index, item) in array.enumerated() {
                    try handle(item, RecordLocation(source: path, recordNumber: index + 1))
                }
            }
        }
        let lists = state.lists
        let items = state.items
        if let load {
            for list in lists {
                try state.batcher.add(Record(entity: "price_list_publish", fields: [RecordField("code", list), RecordField("load", load)]))
            }
        }
        let counts = try state.batcher.finish(cursor: startedAt)
        context.log(.info, "\(full ? "full" : "incremental") sync: \(items) items, \(lists.count) price list\(lists.count == 1 ? "" : "s")\(full ? " published" : ""); inserted \(counts.inserted), updated \(counts.updated), unchanged \(counts.unchanged), rejected \(counts.rejected)")
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}

/// What one ingest has seen so far: the lists (in order, for the publish), assignments, and the item count.
final class IngestState {
    let context: IngestContext
    let batcher: RecordBatcher
    let mapping: PriceMapping
    let load: String?
    var lists: [String] = []
    var seenLists: Set<String> = []
    var seenAssignments: Set<String> = []
    var items = 0

    init(context: IngestContext, batcher: RecordBatcher, mapping: PriceMapping, load: String?) {
        self.context = context
        self.batcher = batcher
        self.mapping = mapping
        self.load = load
    }

    /// Maps one export item and queues its list header (first time), assignments (first time) and entry; an item
    /// that cannot be mapped becomes a reject.
    func handle(_ item: JSON, location: RecordLocation) throws {
        items += 1
        let mapped: PriceMapping.Mapped
        switch Result(catching: { () throws(PriceMapping.Failure) -> PriceMapping.Mapped in try mapping.map(item) }) {
        case .success(let value): mapped = value
        case .failure(let error):
            try context.reject(location: location, field: error.field, reason: error.reason, raw: String(item.jsonText.prefix(1024)))
            return
        }
        if seenLists.insert(mapped.list).inserted {
            lists.append(mapped.list)
            try batcher.add(Record(entity: "price_list", fields: mapped.listFields + (load.map { [RecordField("load", $0)] } ?? []), location: location))
        }
        for assignment in mapped.assignments where seenAssignments.insert("\(mapped.list)|\(assignment.name)|\(assignment.value ?? "")").inserted {
            try batcher.add(Record(entity: "price_list_assignment", fields: [RecordField("list", mapped.list), assignment], location: location))
        }
        var fields = mapped.entryFields
        if let load { fields.append(RecordField("load", load)) }
        try batcher.add(Record(entity: "price_list_entry", fields: fields, location: location))
    }
}

/// CSV rows as JSON objects keyed by the header row (RFC 4180 quoting; a quoted field may not span lines).
enum CSVRows {
    struct Row {
        var object: JSON
        var line: Int
        var number: Int
    }

    static func parse(_ text: String, source: String) throws -> [Row] {
        var rows: [Row] = []
        var header: [String]?
        var number = 0
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.isEmpty { continue }
            let cells = try split(line, source: source, line: index + 1)
            guard let names = header else {
                header = cells
                continue
            }
            number += 1
            var members: [(key: String, value: JSON)] = []
            for (column, name) in names.enumerated() where column < cells.count {
                members.append((name, .string(cells[column])))
            }
            rows.append(Row(object: .object(JSONObject(members)), line: index + 1, number: number))
        }
        return rows
    }

    static func split(_ line: Substring, source: String, line number: Int) throws -> [String] {
        var cells: [String] = []
        var current = ""
        var quoted = false
        var iterator = line.makeIterator()
        var pending: Character? = nil
        while let character = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if character == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { current.append("\"") } else { quoted = false; pending = next }
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(character)
                }
            } else if character == "\"" && current.isEmpty {
                quoted = true
            } else if character == "," {
                cells.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        if quoted { throw PluginError.invalid("\(source) line \(number): a quoted field is not closed") }
        cells.append(current)
        return cells
    }
}

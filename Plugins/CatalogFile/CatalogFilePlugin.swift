import WharfABI
import WharfPluginKit

/// The plugin's one exported symbol: hands the host the descriptor WharfPluginKit builds for ``CatalogFilePlugin``.
@_cdecl("wharf_plugin_entry")
public func wharfPluginEntry(
    _ hostMajor: UInt32, _ hostMinor: UInt32, _ host: UnsafePointer<wharf_host_api>?
) -> UnsafePointer<wharf_plugin_descriptor>? {
    PluginExport.descriptor(for: CatalogFilePlugin.self, hostMajor: hostMajor, hostMinor: hostMinor, host: host)
}

/// Products and base prices from a JSON Lines file (one JSON object per line), as a PIM would export them.
///
/// Config: `path` (required, the file; relative paths are resolved by the host against the manifest's folder), `force` (re-read even when the file is unchanged), `currency` (used when a
/// line has a price but no currency), `batch_size` (records per emit, default 1000).
/// Mapping (every key optional; values are JSON keys of a line, dotted paths reach into nested objects):
/// `{"sku": "id", "name": "title", "description": "body", "status": "state",
///   "attributes": {"color": "colour"} | "attributes-object-key", "price": {"amount": "price", "currency": "currency"}}`.
/// Defaults: sku, name, description, status; attributes from an `attributes` object; price from `price` + `currency`.
///
/// Each line gives a `product` record and, when it has an amount, a `price` record, located by file, line and
/// record number, with the line as raw text. A line that is not a JSON object, or lacks the mapped sku or name, is
/// rejected with its line number; blank lines are skipped. The cursor is a fingerprint of the file (size,
/// modification time, inode, path): an unchanged file is skipped with a log line unless `force` is true.
public struct CatalogFilePlugin: WharfPlugin {
    /// `catalog-file`.
    public static let id = "catalog-file"
    /// A PIM feed.
    public static let systemKind = "pim"
    /// The plugin's version.
    public static let version = "1.0.0"
    /// One line for people.
    public static let description: String? = "Products and base prices from a JSON Lines file"
    /// Ingest only.
    public static let capabilities: PluginCapabilities = [.ingest]

    let path: String
    let force: Bool
    let defaultCurrency: String?
    let batchSize: Int
    let mapping: CatalogMapping

    /// Reads and checks config and mapping; a wrong one is refused naming the key.
    public init(context: PluginContext) throws {
        let config = try context.config()
        guard let pathValue = config["path"] else {
            throw PluginError.invalid("config key \"path\" is required: set it to the JSON Lines products file to read")
        }
        guard let path = pathValue.stringValue, !path.isEmpty else {
            throw PluginError.invalid("config key \"path\" must be a non-empty file path string, found \(pathValue.kindName)")
        }
        self.path = context.resolvePath(path)
        if let forceValue = config["force"] {
            guard let force = forceValue.boolValue else {
                throw PluginError.invalid("config key \"force\" must be true or false, found \(forceValue.kindName)")
            }
            self.force = force
        } else {
            force = false
        }
        if let currencyValue = config["currency"] {
            guard let currency = currencyValue.stringValue, currency.utf8.count == 3 else {
                throw PluginError.invalid("config key \"currency\" must be an ISO 4217 code like \"EUR\"")
            }
            defaultCurrency = currency
        } else {
            defaultCurrency = nil
        }
        if let batchValue = config["batch_size"] {
            guard let size = batchValue.intValue, (1...10_000).contains(size) else {
                throw PluginError.invalid("config key \"batch_size\" must be a whole number from 1 to 10000")
            }
            batchSize = size
        } else {
            batchSize = 1000
        }
        mapping = try CatalogMapping(try context.mapping())
    }

    /// Reads the file and emits its products and prices.
    public func ingest(_ context: IngestContext) throws {
        let reader: LineReader
        do {
            reader = try LineReader(path: path)
        } catch {
            throw PluginError.io("\(error.message) (config key \"path\"); check that the products file exists and is readable")
        }
        defer { reader.close() }
        let fingerprint = reader.facts.fingerprint(path: path)
        if !force, context.cursor == fingerprint {
            context.log(.info, "products file \(path) is unchanged since the last run; skipped (set config \"force\": true to read it again)")
            return
        }

        let batcher = RecordBatcher(context: context, batchSize: batchSize)
        var recordNumber = 0
        var products = 0
        var prices = 0
        var rejected = 0
        try reader.forEachLine { lineNumber, bytes in
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
            recordNumber += 1
            let location = RecordLocation(source: path, line: lineNumber, recordNumber: recordNumber)
            let raw = rawExcerpt(bytes)
            let line: JSON
            do {
                line = try JSON.parse(bytes)
            } catch {
                rejected += 1
                try context.reject(
                    location: location, reason: "line \(lineNumber) is not valid JSON (\(error)); fix the line", raw: raw)
                return
            }
            switch mapping.records(from: line, lineNumber: lineNumber, defaultCurrency: defaultCurrency) {
            case .failure(let problem):
                rejected += 1
                try context.reject(location: location, field: problem.field, reason: problem.reason, raw: raw)
            case .success(let result):
                for var record in result.records {
                    record.location = location
                    record.raw = raw
                    try batcher.add(record)
                }
                products += 1
                if result.records.count > 1 { prices += 1 }
                if let problem = result.priceProblem {
                    rejected += 1
                    try context.reject(location: location, field: problem.field, reason: problem.reason, raw: raw)
                }
            }
        }
        let counts = try batcher.finish(cursor: fingerprint)
        context.log(
            .info,
            "read \(recordNumber) records from \(path): \(products) products, \(prices) prices, \(rejected) rejected by the plugin; host: \(counts.inserted) inserted, \(counts.updated) updated, \(counts.unchanged) unchanged, \(counts.rejected) rejected"
        )
    }

    /// The line as text, cut to the 1 KiB the host keeps (at a UTF-8 boundary).
    private func rawExcerpt(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var end = min(bytes.count, 1024)
        // Back up over continuation bytes so the excerpt does not end inside a character.
        if end < bytes.count { while end > 0, bytes[end] & 0xC0 == 0x80 { end -= 1 } }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
    }
}

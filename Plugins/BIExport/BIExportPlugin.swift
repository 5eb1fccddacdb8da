import Foundation
import WharfABI
import WharfExportKit
import WharfPluginKit

/// The plugin's one exported symbol: hands the host the descriptor WharfPluginKit builds for ``BIExportPlugin``.
@_cdecl("wharf_plugin_entry")
public func wharfPluginEntry(
    _ hostMajor: UInt32, _ hostMinor: UInt32, _ host: UnsafePointer<wharf_host_api>?
) -> UnsafePointer<wharf_plugin_descriptor>? {
    PluginExport.descriptor(for: BIExportPlugin.self, hostMajor: hostMajor, hostMinor: hostMinor, host: host)
}

/// Sales facts for business intelligence: orders and order lines changed in the run's range, as CSV and/or NDJSON,
/// one file per entity, day and format (`order_line/day=2026-11-23/order_line.csv`), plus the run's
/// `manifest.json` (files, rows, bytes, SHA-256, watermark range). Column names and types: docs/exports.md.
///
/// Config: the shared export keys (``ExportSettings``) plus `entities` (default `["order", "order_line"]`) and
/// `formats` (default `["csv", "ndjson"]`).
public struct BIExportPlugin: WharfPlugin {
    /// `bi-export`.
    public static let id = "bi-export"
    /// BI.
    public static let systemKind = "bi"
    /// The plugin's version.
    public static let version = "1.0.0"
    /// One line for people.
    public static let description: String? = "Orders and order lines to BI as day-partitioned CSV/NDJSON with a run manifest"
    /// Export only.
    public static let capabilities: PluginCapabilities = [.export]

    /// One exported entity: the host's fields (the columns, in order), which are integers, and the day column.
    struct Entity {
        let name: String
        let columns: [String]
        let integers: Set<String>
        let dayColumn: Int
    }

    /// The entities this plugin exports.
    static let entities: [String: Entity] = [
        "order": Entity(
            name: "order",
            columns: [
                "number", "id", "channel", "customer_id", "company_id", "company_user_id", "status", "currency",
                "subtotal", "shipping_total", "tax_total", "grand_total", "created_at", "updated_at",
            ],
            integers: ["subtotal", "shipping_total", "tax_total", "grand_total"], dayColumn: 12),
        "order_line": Entity(
            name: "order_line",
            columns: [
                "order_number", "line_number", "sku", "quantity", "unit_price", "line_total", "currency",
                "shipped_quantity", "cancelled_quantity", "returned_quantity", "order_created_at", "updated_at",
            ],
            integers: [
                "line_number", "quantity", "unit_price", "line_total", "shipped_quantity", "cancelled_quantity",
                "returned_quantity",
            ], dayColumn: 10),
    ]

    /// The formats.
    static let formatNames = ["csv", "ndjson"]

    let settings: ExportSettings
    let entityNames: [String]
    let formats: [String]

    /// Reads and checks the config; a mistake names its path (`config.formats[1]: …`).
    public init(context: PluginContext) throws {
        let config = try context.config()
        settings = try ExportSettings(config: config, context: context, pluginKeys: ["entities", "formats"])
        func list(_ key: String, allowed: [String], default fallback: [String]) throws -> [String] {
            guard let value = config[key] else { return fallback }
            guard let items = value.arrayValue, !items.isEmpty else {
                throw PluginError.invalid("config.\(key): expected a non-empty array of \(allowed.joined(separator: ", "))")
            }
            return try items.enumerated().map { index, item in
                guard let text = item.stringValue, allowed.contains(text) else {
                    throw PluginError.invalid("config.\(key)[\(index)]: expected one of \(allowed.joined(separator: ", ")), found \(item.scalarText ?? item.kindName)")
                }
                return text
            }
        }
        entityNames = try list("entities", allowed: ["order", "order_line"], default: ["order", "order_line"])
        formats = try list("formats", allowed: Self.formatNames, default: Self.formatNames)
    }

    /// Writes every entity's partitions for the run's range, then the manifest, then moves the watermark.
    public func export(_ context: ExportContext) throws {
        let run = try ExportRun(context: context, settings: settings)
        let crashAfterRows = ExportRows.crashAfterRows(context)
        var written = 0
        for name in entityNames {
            let entity = Self.entities[name]!
            // One open writer per day and format; files are completed in name order (stable manifests).
            var open: [String: ExportFileWriter] = [:]
            var header: [UInt8] = []
            ExportEncoding.appendCSVLine(entity.columns, to: &header)
            let keys: [[UInt8]] = entity.columns.map { column in
                var key: [UInt8] = []
                ExportEncoding.appendJSONString(column, to: &key)
                key.append(0x3A)
                return key
            }
            let isInteger = entity.columns.map { entity.integers.contains($0) }
            var checked = false
            // Rows are copied from the host's C strings straight into the files: no Swift strings per field.
            var lastDay: [UInt8] = []
            var writers: [ExportFileWriter] = []
            try context.readRawRecords(entity: name, changedSince: run.changedSince, batchSize: 5000) { batch in
                if context.isCancelled { throw PluginError.cancelled() }
                for index in 0..<batch.count {
                    let fields = batch.fields(index)
                    if !checked {
                        let names = fields.map(RawRecordBatch.name)
                        guard names == entity.columns else {
                            throw PluginError.unsupported("the host's \(name) rows have fields \(names.joined(separator: ",")), not \(entity.columns.joined(separator: ",")); this plugin needs a matching Wharf version")
                        }
                        checked = true
                    }
                    guard fields.count == entity.columns.count, run.inRange(bytes: RawRecordBatch.value(fields[fields.count - 1])) else { continue }
                    let dayBytes = RawRecordBatch.value(fields[entity.dayColumn])
                    let day = dayBytes.count >= 10 ? UnsafeRawBufferPointer(rebasing: dayBytes[0..<10]) : dayBytes
                    if !day.elementsEqual(lastDay) {
                        lastDay = Array(day)
                        let dayText = String(decoding: lastDay, as: UTF8.self)
                        writers = try formats.map { format in
                            let fileName = "\(name)/day=\(dayText)/\(name).\(format)"
                            if let existing = open[fileName] { return existing }
                            let writer = try run.open(fileName)
                            if format == "csv" { try writer.writeHeader(header) }
                            open[fileName] = writer
                            return writer
                        }
                    }
                    for (formatIndex, format) in formats.enumerated() {
                        let writer = writers[formatIndex]
                        if format == "csv" {
                            try writer.writeRow { line in
                                for i in 0..<fields.count {
                                    if i > 0 { line.append(0x2C) }
                                    ExportEncoding.appendCSV(bytes: RawRecordBatch.value(fields[i]), to: &line)
                                }
                                line.append(0x0D)
                                line.append(0x0A)
                            }
                        } else {
                            try writer.writeRow { line in
                                line.append(0x7B)
                                for i in 0..<fields.count {
                                    if i > 0 { line.append(0x2C) }
                                    line.append(contentsOf: keys[i])
                                    let value = RawRecordBatch.value(fields[i])
                                    if value.isEmpty {
                                        line.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])  // null
                                    } else if isInteger[i] {
                                        line.append(contentsOf: value)
                                    } else {
                                        ExportEncoding.appendJSONString(bytes: value, to: &line)
                                    }
                                }
                                line.append(0x7D)
                                line.append(0x0A)
                            }
                        }
                    }
                    written += 1
                    if let crashAfterRows, written >= crashAfterRows { abort() }
                }
                return true
            }
            for fileName in open.keys.sorted() {
                let parts = fileName.split(separator: "/")
                try run.complete(open[fileName]!, meta: [
                    ("entity", name), ("day", String(parts[1].dropFirst(4))), ("format", fileName.hasSuffix("csv") ? "csv" : "ndjson"),
                ])
            }
        }
        try run.finish(plugin: Self.id)
    }
}

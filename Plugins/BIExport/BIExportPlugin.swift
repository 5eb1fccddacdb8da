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

/// Sales facts for business intelligence: orders, order lines, shipment lines, return lines and products changed in
/// the run's range, plus a daily inventory snapshot, as CSV and/or NDJSON,
/// one file per entity, day and format (`order_line/day=2026-11-23/order_line.csv`), plus the run's
/// `manifest.json` (files, rows, bytes, SHA-256, watermark range). Column names and types: docs/exports.md.
///
/// Config: the shared export keys (``ExportSettings``) plus `entities` (default all of ``entityOrder``) and
/// `formats` (default `["csv", "ndjson"]`).
public struct BIExportPlugin: WharfPlugin {
    /// `bi-export`.
    public static let id = "bi-export"
    /// BI.
    public static let systemKind = "bi"
    /// The plugin's version.
    public static let version = "1.0.0"
    /// One line for people.
    public static let description: String? = "Orders, lines, shipments, returns, products and inventory snapshots to BI as day-partitioned CSV/NDJSON with a run manifest"
    /// Export only.
    public static let capabilities: PluginCapabilities = [.export]

    /// One exported entity: the host's entity and fields (the columns, in order), which are JSON literals in
    /// NDJSON (integers, booleans), and the column that gives the day partition.
    struct Entity {
        let name: String
        let hostEntity: String
        let columns: [String]
        let literals: Set<String>
        /// The column whose date is the partition; nil for a snapshot (partitioned by the run's day).
        let dayColumn: Int?
    }

    /// The entities this plugin exports, in the order they are written.
    static let entityOrder = ["order", "order_line", "shipment_line", "return_line", "product", "inventory_snapshot"]

    /// The entities by name.
    static let entities: [String: Entity] = [
        "order": Entity(
            name: "order", hostEntity: "order",
            columns: [
                "number", "id", "channel", "customer_id", "company_id", "company_user_id", "status", "currency",
                "subtotal", "shipping_total", "tax_total", "grand_total", "created_at", "updated_at",
            ],
            literals: ["subtotal", "shipping_total", "tax_total", "grand_total"], dayColumn: 12),
        "order_line": Entity(
            name: "order_line", hostEntity: "order_line",
            columns: [
                "order_number", "line_number", "sku", "quantity", "unit_price", "line_total", "currency",
                "shipped_quantity", "cancelled_quantity", "returned_quantity", "order_created_at", "updated_at",
            ],
            literals: [
                "line_number", "quantity", "unit_price", "line_total", "shipped_quantity", "cancelled_quantity",
                "returned_quantity",
            ], dayColumn: 10),
        "shipment_line": Entity(
            name: "shipment_line", hostEntity: "shipment_line",
            columns: [
                "shipment_id", "order_number", "line_index", "sku", "quantity", "carrier", "tracking_numbers",
                "shipped_at", "updated_at",
            ],
            literals: ["line_index", "quantity"], dayColumn: 7),
        "return_line": Entity(
            name: "return_line", hostEntity: "return_line",
            columns: [
                "return_id", "order_number", "line_index", "sku", "quantity", "reason", "restock", "exchange_for",
                "received_at", "updated_at",
            ],
            literals: ["line_index", "quantity", "restock"], dayColumn: 8),
        "product": Entity(
            name: "product", hostEntity: "product_summary", columns: ["sku", "name", "status", "created_at", "updated_at"],
            literals: [], dayColumn: 4),
        "inventory_snapshot": Entity(
            name: "inventory_snapshot", hostEntity: "stock_snapshot",
            columns: ["sku", "in_stock_quantity", "reserved_quantity", "salable_quantity", "sources", "updated_at"],
            literals: ["in_stock_quantity", "reserved_quantity", "salable_quantity", "sources"], dayColumn: nil),
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
        let chosen = try list("entities", allowed: Self.entityOrder, default: Self.entityOrder)
        entityNames = Self.entityOrder.filter { chosen.contains($0) }
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
            let isInteger = entity.columns.map { entity.literals.contains($0) }
            // A snapshot is the state now, written by the first run of each UTC day (and by full or first runs).
            let runDay = Array(run.to.utf8.prefix(10))
            if entity.dayColumn == nil, let from = run.from, from.utf8.prefix(10).elementsEqual(runDay) { continue }
            var checked = false
            // Rows are copied from the host's C strings straight into the files: no Swift strings per field.
            var lastDay: [UInt8] = []
            var writers: [ExportFileWriter] = []
            let changedSince = entity.dayColumn == nil ? nil : run.changedSince
            try context.readRawRecords(entity: entity.hostEntity, changedSince: changedSince, batchSize: 5000) { batch in
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
                    guard fields.count == entity.columns.count else { continue }
                    let day: UnsafeRawBufferPointer
                    if let dayColumn = entity.dayColumn {
                        guard run.inRange(bytes: RawRecordBatch.value(fields[fields.count - 1])) else { continue }
                        let dayBytes = RawRecordBatch.value(fields[dayColumn])
                        day = dayBytes.count >= 10 ? UnsafeRawBufferPointer(rebasing: dayBytes[0..<10]) : dayBytes
                    } else {
                        day = runDay.withUnsafeBytes { $0 }  // runDay lives for the whole read
                    }
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

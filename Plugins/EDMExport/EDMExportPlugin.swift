import Foundation
import WharfABI
import WharfExportKit
import WharfPluginKit

/// The plugin's one exported symbol: hands the host the descriptor WharfPluginKit builds for ``EDMExportPlugin``.
@_cdecl("wharf_plugin_entry")
public func wharfPluginEntry(
    _ hostMajor: UInt32, _ hostMinor: UInt32, _ host: UnsafePointer<wharf_host_api>?
) -> UnsafePointer<wharf_plugin_descriptor>? {
    PluginExport.descriptor(for: EDMExportPlugin.self, hostMajor: hostMajor, hostMinor: hostMinor, host: host)
}

/// Consented people to an email-marketing tool: `contacts.csv` holds everyone whose marketing consent is
/// *granted* and changed in the run's range; `withdrawals.csv` everyone who withdrew in it, so unsubscribes reach
/// the eDM too. A person without a consent record, or whose consent is withdrawn, is never in `contacts.csv`.
///
/// Config: the shared export keys (``ExportSettings``) plus `preset` ("mailchimp", the default, or "wharf").
/// Mapping: `columns: [{ header: "Email Address", field: "email" }, …]` replaces the preset's columns; fields are
/// ``EDMExportPlugin/fields``.
public struct EDMExportPlugin: WharfPlugin {
    /// `edm-export`.
    public static let id = "edm-export"
    /// An eDM.
    public static let systemKind = "edm"
    /// The plugin's version.
    public static let version = "1.0.0"
    /// One line for people.
    public static let description: String? = "Consented customers and withdrawals to email marketing as CSV files"
    /// Export only.
    public static let capabilities: PluginCapabilities = [.export]

    /// The fields a column can take.
    public static let fields = [
        "email", "first_name", "last_name", "country", "consent_status", "consent_at", "consent_source",
        "person_kind", "person_id",
    ]

    /// Ready column sets: `mailchimp` follows the common email-marketing import headers.
    public static let presets: [String: [(header: String, field: String)]] = [
        "mailchimp": [
            ("Email Address", "email"), ("First Name", "first_name"), ("Last Name", "last_name"),
            ("Country", "country"), ("Marketing Consent", "consent_status"), ("Consent Time", "consent_at"),
            ("Consent Source", "consent_source"),
        ],
        "wharf": fields.map { ($0, $0) },
    ]

    /// The host's consent row fields, in order.
    static let consentColumns = [
        "email", "person_kind", "person_id", "status", "at", "source", "first_name", "last_name", "country", "updated_at",
    ]

    let settings: ExportSettings
    let columns: [(header: String, field: String)]

    /// Reads and checks config and mapping; a mistake names its path (`mapping.columns[1].field: …`).
    public init(context: PluginContext) throws {
        let config = try context.config()
        settings = try ExportSettings(config: config, context: context, pluginKeys: ["preset"])
        let presetName = config["preset"]?.stringValue ?? "mailchimp"
        guard let preset = Self.presets[presetName] else {
            throw PluginError.invalid("config.preset: '\(presetName)' is not a preset; presets: \(Self.presets.keys.sorted().joined(separator: ", "))")
        }
        let mapping = try context.mapping()
        if let list = mapping["columns"] {
            guard let items = list.arrayValue, !items.isEmpty else {
                throw PluginError.invalid("mapping.columns: expected a non-empty array of { header, field }")
            }
            var columns: [(String, String)] = []
            for (index, item) in items.enumerated() {
                guard let header = item["header"]?.stringValue, !header.isEmpty else {
                    throw PluginError.invalid("mapping.columns[\(index)].header: required, the CSV column header")
                }
                guard let field = item["field"]?.stringValue, Self.fields.contains(field) else {
                    throw PluginError.invalid(
                        "mapping.columns[\(index)].field: expected one of \(Self.fields.joined(separator: ", ")), found \(item["field"]?.scalarText ?? "nothing")")
                }
                columns.append((header, field))
            }
            guard columns.contains(where: { $0.1 == "email" }) else {
                throw PluginError.invalid("mapping.columns: one column must have field \"email\"; an eDM matches people by it")
            }
            self.columns = columns
        } else {
            columns = preset
        }
    }

    /// Writes `contacts.csv` and `withdrawals.csv` for the run's range, then the manifest, then moves the watermark.
    public func export(_ context: ExportContext) throws {
        let run = try ExportRun(context: context, settings: settings)
        let crashAfterRows = ExportRows.crashAfterRows(context)
        let contacts = try run.open("contacts.csv")
        let withdrawals = try run.open("withdrawals.csv")
        var line: [UInt8] = []
        ExportEncoding.appendCSVLine(columns.map(\.header), to: &line)
        try contacts.writeHeader(line)
        line.removeAll()
        ExportEncoding.appendCSVLine(["Email Address", "Person Kind", "Person ID", "Withdrawn At", "Source"], to: &line)
        try withdrawals.writeHeader(line)
        var written = 0
        try context.readRecords(entity: "consent", changedSince: run.changedSince, batchSize: 2000) { records in
            if context.isCancelled { throw PluginError.cancelled() }
            for record in records {
                try ExportRows.check(record, columns: Self.consentColumns)
                let v = record.fields.map { $0.value ?? "" }
                guard run.inRange(v[9]) else { continue }
                line.removeAll(keepingCapacity: true)
                if v[3] == "granted" {
                    ExportEncoding.appendCSVLine(columns.map { Self.value($0.field, v) }, to: &line)
                    try contacts.writeRow(line)
                } else {
                    ExportEncoding.appendCSVLine([v[0], v[1], v[2], v[4], v[5]], to: &line)
                    try withdrawals.writeRow(line)
                }
                written += 1
                if let crashAfterRows, written >= crashAfterRows { abort() }
            }
            return true
        }
        try run.complete(contacts, meta: [("kind", "contacts"), ("header", "1")])
        try run.complete(withdrawals, meta: [("kind", "withdrawals"), ("header", "1")])
        try run.finish(plugin: Self.id)
    }

    /// The value of mapping field `field` from a consent row `v` (in ``consentColumns`` order).
    static func value(_ field: String, _ v: [String]) -> String {
        switch field {
        case "email": v[0]
        case "person_kind": v[1]
        case "person_id": v[2]
        case "consent_status": v[3]
        case "consent_at": v[4]
        case "consent_source": v[5]
        case "first_name": v[6]
        case "last_name": v[7]
        default: v[8]  // country
        }
    }
}

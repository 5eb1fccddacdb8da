import Foundation
import WharfPluginKit

/// Helpers both export plugins use on the rows `read_records` hands them.
public enum ExportRows {
    /// Checks that `record`'s fields are `columns`, in order: the host's export entities have a fixed field list,
    /// so a plugin can read them by position (fast) once this holds.
    public static func check(_ record: Record, columns: [String]) throws {
        guard record.fields.count == columns.count, zip(record.fields, columns).allSatisfy({ $0.name == $1 }) else {
            throw PluginError.unsupported(
                "the host's \(record.entity) rows have fields \(record.fields.map(\.name).joined(separator: ",")), not the expected \(columns.joined(separator: ",")); this plugin needs a matching Wharf version")
        }
    }

    /// For tests of crash safety: run parameter `crashAfterRows` (only a store-level request can set it; the REST
    /// API refuses it) makes the plugin abort its process after that many rows, in the middle of writing.
    public static func crashAfterRows(_ context: ExportContext) -> Int? {
        context.parameter("crashAfterRows").flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
    }
}

import Foundation
import WharfABI
import WharfModel
import WharfStore

/// The host services appended for exports: the watermark, completed files and run parameters.
extension HostServices {
    static func cursorSet(_ ctx: OpaquePointer?, _ cursor: UnsafePointer<CChar>?) -> wharf_status {
        guard let context = ConnectorContext.from(ctx) else { return WHARF_ERR_STATE }
        guard context.phase == .export else {
            context.errorMessage = "cursor_set is only allowed during export_data (called during \(context.phase.rawValue))"
            return WHARF_ERR_STATE
        }
        guard let cursor else {
            context.errorMessage = "cursor_set was given a NULL cursor"
            return WHARF_ERR_INVALID
        }
        do {
            try context.storeCursor(String(cString: cursor))
            return WHARF_OK
        } catch {
            context.errorMessage = "cannot store the cursor: \(error)"
            return WHARF_ERR_IO
        }
    }

    static func exportFile(
        _ ctx: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ path: UnsafePointer<CChar>?, _ rows: UInt64,
        _ bytes: UInt64, _ sha256: UnsafePointer<CChar>?
    ) -> wharf_status {
        guard let context = ConnectorContext.from(ctx) else { return WHARF_ERR_STATE }
        guard context.phase == .export, let runID = context.runID, let store = context.store else {
            context.errorMessage = "export_file is only allowed during an export_data run"
            return WHARF_ERR_STATE
        }
        guard let name, let path, let sha256 else {
            context.errorMessage = "export_file needs a name, a path and a sha256"
            return WHARF_ERR_INVALID
        }
        let file = ExportFile(
            runID: runID, name: String(cString: name), path: String(cString: path), rows: Int64(clamping: rows),
            bytes: Int64(clamping: bytes), sha256: String(cString: sha256))
        guard !file.name.isEmpty, file.path.hasPrefix("/"), file.sha256.utf8.count == 64 else {
            context.errorMessage = "export_file: '\(file.name)' needs a non-empty name, an absolute path (not '\(file.path)') and a 64-digit sha256"
            return WHARF_ERR_INVALID
        }
        do {
            try store.addExportFile(file)
        } catch {
            context.errorMessage = "cannot record export file '\(file.name)': \(error)"
            return WHARF_ERR_IO
        }
        // An export's "read" count is the rows it wrote: what GET /v1/runs shows.
        context.counts.read += file.rows
        context.counts.inserted += 1
        context.progress?.addBatch(read: file.rows, inserted: 1, updated: 0, unchanged: 0, rejected: 0)
        return WHARF_OK
    }

    static func runParameter(_ ctx: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
        guard let context = ConnectorContext.from(ctx), let name else { return nil }
        let key = String(cString: name)
        return context.parameters[key].map { context.keep($0) }
    }
}

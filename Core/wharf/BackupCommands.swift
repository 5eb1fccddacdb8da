import Foundation
import WharfStore

// `wharf backup` and `wharf restore`. Both use only the manifest's `database` path and never open the deployment:
// restore must not hold the database open itself, and backup must not create or migrate anything.

// MARK: - backup

let backupCommand = Command(
    name: "backup", summary: "Copy the database to a file while Wharf keeps running.",
    usage: """
        wharf backup FILE [--replace] [--manifest FILE]

        Copies the deployment's database to FILE while `wharf serve` and `wharf run` keep reading and writing it:
        one consistent snapshot (the state after some committed transaction, never half of one), made with
        SQLite's online backup API, so no request or import waits for it. The copy is checked with SQLite's
        integrity check and written to a temporary file next to FILE that is renamed to FILE only when it is
        complete, so FILE is always a whole backup, or absent. FILE is a self-contained SQLite file.
        FILE must not exist yet; --replace overwrites it. Restore it with `wharf restore FILE`.
        """
) { words, context in
    let arguments = try Arguments(words, flagOptions: ["--replace"])
    let file = try arguments.single("FILE")
    let database = try context.loadManifest().database
    let started = ContinuousClock.now
    let report: BackupReport
    do throws(StoreError) {
        report = try Store.backup(
            database: database, to: file, options: Store.BackupOptions(replace: arguments.flags.contains("--replace")))
    } catch {
        if error.code == .invalidArgument, FileManager.default.fileExists(atPath: file), !arguments.flags.contains("--replace") {
            throw CommandFailure(message: "backup file \(file) already exists; choose a new name, or pass --replace to overwrite it")
        }
        throw CommandFailure(message: error.message)
    }
    printOut("backed up \(database) (schema version \(report.schemaVersion), \(byteCount(report.bytes)), integrity checked) to \(report.path) in \(seconds(since: started))")
    return .ok
}

// MARK: - restore

let restoreCommand = Command(
    name: "restore", summary: "Replace the database with a backup file (Wharf must be stopped).",
    usage: """
        wharf restore FILE [--manifest FILE]

        Replaces the content of the deployment's database with the backup FILE (made by `wharf backup`).

        Before anything changes it checks that FILE is a Wharf database of a schema version this Wharf knows and
        that it passes SQLite's integrity check. It refuses while any process has the database open — a running
        `wharf serve` or `wharf run`: stop them first. (It asks SQLite for an exclusive lock on the database, which
        it gets only when no other connection exists, and keeps it until it is done.)

        The current content is not lost: it is first copied to DATABASE.before-restore-<UTC time>, and the path is
        printed; delete that file once the restored deployment works. The copy into the database is one
        transaction: if the restore is interrupted, the database keeps its old content. A backup made by an older
        Wharf is upgraded the next time the database is opened.
        """
) { words, context in
    let file = try Arguments(words).single("FILE")
    let database = try context.loadManifest().database
    let started = ContinuousClock.now
    let report: RestoreReport
    do throws(StoreError) {
        report = try Store.restore(from: file, to: database)
    } catch {
        throw CommandFailure(message: error.message)
    }
    printOut("restored \(report.database) from \(report.restoredFrom) (schema version \(report.schemaVersion)) in \(seconds(since: started))")
    if let previous = report.previousCopy {
        printOut("its previous content is kept in \(previous); delete that file once the restored deployment works")
    }
    return .ok
}

// MARK: Not public

/// "12.3 MB", "512 KB", "900 bytes".
private func byteCount(_ bytes: Int64) -> String {
    if bytes >= 1_000_000 { return String(format: "%.1f MB", Double(bytes) / 1_000_000) }
    if bytes >= 1_000 { return "\(bytes / 1_000) KB" }
    return "\(bytes) bytes"
}

/// "1.2 s" since `start`.
private func seconds(since start: ContinuousClock.Instant) -> String {
    let elapsed = ContinuousClock.now - start
    let value = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return String(format: "%.1f s", value)
}

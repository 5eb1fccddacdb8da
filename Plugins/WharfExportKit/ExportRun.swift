import Foundation
import WharfModel
import WharfPluginKit

/// Where and how an export writes, from the connector's config (shared by `edm-export` and `bi-export`):
///
/// ```json5
/// { folder: "exports/bi",            // required; relative to the manifest's folder
///   gzip: false,                     // compress every data file (name gets ".gz")
///   settleSeconds: 5,                // the watermark stops this far behind now, so slow commits are not skipped
///   push: { url: "https://bi.example.com/upload", auth: { secret: "env:BI_TOKEN" }, timeoutSeconds: 30 } }
/// ```
public struct ExportSettings: Sendable {
    /// The export folder (absolute).
    public var folder: String
    /// Gzip data files.
    public var gzip: Bool
    /// How far behind now the upper watermark stays.
    public var settleSeconds: Int
    /// The optional HTTP(S) POST of every file.
    public var push: HTTPJSONClient?

    /// The config keys this type reads; a plugin adds its own.
    public static let keys = ["folder", "gzip", "settleSeconds", "push"]

    /// Reads and checks the shared keys; mistakes name their path (`config.folder: …`).
    public init(config: JSON, context: PluginContext, pluginKeys: [String]) throws {
        guard case .object(let object) = config else { throw PluginError.invalid("config must be an object with folder") }
        let known = Self.keys + pluginKeys
        for key in object.keys where !known.contains(key) {
            throw PluginError.invalid("config.\(key): not a key of this export plugin; known: \(known.joined(separator: ", "))")
        }
        guard let folder = config["folder"]?.stringValue, !folder.isEmpty else {
            throw PluginError.invalid("config.folder: required, the folder the export writes to (relative to the manifest)")
        }
        self.folder = context.resolvePath(folder)
        if let value = config["gzip"] {
            guard let flag = value.boolValue else { throw PluginError.invalid("config.gzip: expected true or false, found \(value.kindName)") }
            gzip = flag
        } else {
            gzip = false
        }
        if let value = config["settleSeconds"] {
            guard let seconds = value.intValue, (0...3600).contains(seconds) else {
                throw PluginError.invalid("config.settleSeconds: expected a whole number of seconds 0...3600")
            }
            settleSeconds = seconds
        } else {
            settleSeconds = 5
        }
        if let value = config["push"] {
            guard let url = value["url"]?.stringValue else {
                throw PluginError.invalid("config.push.url: required when push is given, an http(s) URL files are POSTed to")
            }
            let auth = try value["auth"].map { try HTTPAuth.parse($0, path: "config.push.auth", context: context) }
            let timeout = Double(value["timeoutSeconds"]?.intValue ?? 30)
            do {
                push = try HTTPJSONClient(baseURL: url, auth: auth, timeout: timeout)
            } catch {
                throw PluginError.invalid("config.push.url: \(error.message)")
            }
        } else {
            push = nil
        }
    }
}

/// One export run: its watermark range, the files it writes and its run manifest.
///
/// The range is `[from, to)` over the rows' change time: `from` is the stored watermark (nil for the first or a
/// full export), `to` is now minus `settleSeconds`. A run may be given a fixed range instead (parameters `from` and
/// `to`): re-running a range gives byte-identical files. A run writes into a hidden staging folder
/// `folder/.staging-<from>--<to>/` (each file to a `.partial`, renamed when complete, `manifest.json` last), and the
/// whole folder is renamed to `folder/<from>--<to>/` when everything is in it: a loader never sees part of a run,
/// and a re-run of a range replaces its folder whole. Only then is the watermark stored, never moved backwards.
public final class ExportRun {
    /// The lower bound (inclusive, RFC 3339 UTC), or nil for everything.
    public let from: String?
    /// The upper bound (exclusive, RFC 3339 UTC).
    public let to: String
    /// True for a full re-export (`from` is nil on purpose).
    public let full: Bool
    /// The run's final folder (absolute); it appears, complete, in ``finish(plugin:)``.
    public let folder: String
    /// Where the run writes until then.
    let staging: String
    /// The folder name under the export folder.
    public let key: String

    private let context: ExportContext
    private let settings: ExportSettings
    private let previousCursor: String?
    private var completed: [(name: String, path: String, rows: Int64, bytes: Int64, sha256: String, meta: [(String, String)])] = []

    /// Works out the range from the run's parameters, the stored watermark and the clock; clears stale partial
    /// files a crashed run left.
    public init(context: ExportContext, settings: ExportSettings, now: Date = Date()) throws {
        self.context = context
        self.settings = settings
        previousCursor = context.cursor
        full = context.parameter("full") == "true"
        func instant(_ name: String) throws -> String? {
            guard let text = context.parameter(name) else { return nil }
            guard let time = Timestamp(rfc3339: text) else {
                throw PluginError.invalid("run parameter \(name): '\(text)' is not an RFC 3339 time")
            }
            return time.rfc3339
        }
        let fixedFrom = try instant("from"), fixedTo = try instant("to")
        // A fixed range (either bound given) never reads the watermark: a missing `from` is the beginning.
        let fixed = fixedFrom != nil || fixedTo != nil
        from = full ? nil : fixed ? fixedFrom : previousCursor.flatMap { Timestamp(rfc3339: $0)?.rfc3339 }
        to = fixedTo ?? Timestamp(millisecondsSinceEpoch: Timestamp(now).millisecondsSinceEpoch - Int64(settings.settleSeconds) * 1000).rfc3339
        if let from, from > to {
            throw PluginError.invalid("the export range is empty: from \(from) is after to \(to)")
        }
        func compact(_ text: String) -> String { text.replacingOccurrences(of: ":", with: "") }
        key = "\(from.map(compact) ?? "start")--\(compact(to))"
        folder = settings.folder + "/" + key
        staging = settings.folder + "/.staging-" + key
        try Self.recover(settings.folder)
    }

    /// True when a row changed at `updatedAt` (RFC 3339 as Wharf writes it) belongs to this run's range.
    @inline(__always)
    public func inRange(_ updatedAt: String) -> Bool {
        updatedAt < to && (from.map { updatedAt >= $0 } ?? true)
    }

    /// ``inRange(_:)`` on the bytes of a change time, without making a string.
    @inline(__always)
    public func inRange(bytes: UnsafeRawBufferPointer) -> Bool {
        Self.less(bytes, toBytes) && (fromBytes.map { !Self.less(bytes, $0) } ?? true)
    }

    private lazy var toBytes: [UInt8] = Array(to.utf8)
    private lazy var fromBytes: [UInt8]? = from.map { Array($0.utf8) }

    @inline(__always)
    private static func less(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
        let n = min(a.count, b.count)
        for i in 0..<n where a[i] != b[i] { return a[i] < b[i] }
        return a.count < b.count
    }

    /// The `changed_since` to read with.
    public var changedSince: String? { from }

    /// Opens a data file `name` in the run's folder (".gz" appended when gzip is on).
    public func open(_ name: String) throws -> ExportFileWriter {
        try ExportFileWriter(folder: staging, name: settings.gzip ? name + ".gz" : name, gzip: settings.gzip)
    }

    /// Completes `writer` (sync and rename into place) and remembers it for the manifest; `meta` is listed with it.
    public func complete(_ writer: ExportFileWriter, meta: [(String, String)] = []) throws {
        let sha = try writer.finish()
        completed.append((writer.name, writer.path, writer.rows, writer.bytes, sha, meta))
    }

    /// Writes `manifest.json` (files, rows, bytes, checksums, range), tells the host about every file, pushes them
    /// when configured, and only then stores the watermark (never backwards). Returns the total data rows.
    @discardableResult
    public func finish(plugin: String) throws -> Int64 {
        completed.sort { $0.name < $1.name }
        var out: [UInt8] = []
        func s(_ text: String) { out.append(contentsOf: Array(text.utf8)) }
        s("{\n  \"format\": \"wharf-export-manifest/1\",\n  \"plugin\": ")
        ExportEncoding.appendJSONString(plugin, to: &out)
        s(",\n  \"watermark\": {\"from\": ")
        if let from { ExportEncoding.appendJSONString(from, to: &out) } else { s("null") }
        s(", \"to\": ")
        ExportEncoding.appendJSONString(to, to: &out)
        s("},\n  \"gzip\": \(settings.gzip),\n  \"files\": [")
        for (index, file) in completed.enumerated() {
            s(index == 0 ? "\n    {" : ",\n    {")
            s("\"name\": ")
            ExportEncoding.appendJSONString(file.name, to: &out)
            s(", \"rows\": \(file.rows), \"bytes\": \(file.bytes), \"sha256\": \"\(file.sha256)\"")
            for (key, value) in file.meta {
                s(", ")
                ExportEncoding.appendJSONString(key, to: &out)
                s(": ")
                ExportEncoding.appendJSONString(value, to: &out)
            }
            s("}")
        }
        s(completed.isEmpty ? "]\n}\n" : "\n  ]\n}\n")
        let manifest = try ExportFileWriter(folder: staging, name: "manifest.json", gzip: false)
        try manifest.writeRow(out)
        let manifestSHA = try manifest.finish()
        try publish()

        var total: Int64 = 0
        for file in completed {
            try context.addFile(name: file.name, path: folder + "/" + file.name, rows: file.rows, bytes: file.bytes, sha256: file.sha256)
            total += file.rows
        }
        let manifestPath = folder + "/manifest.json"
        try context.addFile(name: "manifest.json", path: manifestPath, rows: 0, bytes: manifest.bytes, sha256: manifestSHA)
        if let push = settings.push {
            for file in completed.map({ ($0.name, folder + "/" + $0.name, $0.sha256) }) + [("manifest.json", manifestPath, manifestSHA)] {
                try post(push, name: file.0, path: file.1, sha256: file.2)
            }
        }
        let newer = previousCursor.map { to > $0 } ?? true
        if newer { try context.setCursor(to) }
        context.log(.info, "exported \(total) rows in \(completed.count) files to \(folder) (watermark \(from ?? "start") .. \(to))")
        return total
    }

    // MARK: Not public

    private func post(_ client: HTTPJSONClient, name: String, path: String, sha256: String) throws {
        let body = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let type =
            name.hasSuffix(".gz") ? "application/gzip"
            : name.hasSuffix(".csv") ? "text/csv" : name.hasSuffix(".ndjson") ? "application/x-ndjson" : "application/json"
        do {
            _ = try client.send(HTTPJSONRequest(
                method: "POST", path: "", query: [("run", key), ("file", name)],
                headers: [("Content-Type", type), ("X-Wharf-Export-Run", key), ("X-Wharf-File", name), ("X-Wharf-SHA256", sha256)],
                body: body, retryable: true))
        } catch {
            throw PluginError.io("push of \(name) failed: \(error); the watermark stays, the next run sends the range again")
        }
    }

    /// Moves the complete staging folder into place. A folder of the same range (an earlier run of it) is moved
    /// aside first and deleted after, so the final name always holds one complete run.
    private func publish() throws {
        let files = FileManager.default
        let aside = (folder as NSString).deletingLastPathComponent + "/.replaced-" + key
        if files.fileExists(atPath: folder) {
            try? files.removeItem(atPath: aside)
            guard rename(folder, aside) == 0 else { throw PluginError.io("cannot move \(folder) aside: \(String(cString: strerror(errno)))") }
        }
        guard rename(staging, folder) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = rename(aside, folder)
            throw PluginError.io("cannot rename \(staging) to \(folder): \(reason)")
        }
        try? files.removeItem(atPath: aside)
    }

    /// Cleans up after a crashed run: staging folders are deleted (the next run writes its range again), and a run
    /// folder moved aside but not replaced is put back.
    static func recover(_ root: String) throws {
        let files = FileManager.default
        guard let names = try? files.contentsOfDirectory(atPath: root) else { return }
        for name in names {
            if name.hasPrefix(".staging-") {
                try files.removeItem(atPath: root + "/" + name)
            } else if name.hasPrefix(".replaced-") {
                let final = root + "/" + name.dropFirst(".replaced-".count)
                if files.fileExists(atPath: final) {
                    try files.removeItem(atPath: root + "/" + name)
                } else {
                    _ = rename(root + "/" + name, final)
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where a file-based connector finds its input files, read from the connector's `config`:
///
/// | key | meaning |
/// |---|---|
/// | `path: "feeds/catalog.xml"` | one file (it must exist) |
/// | `glob: "feeds/*.xml"` | every file matching a shell pattern (none is fine) |
/// | `folder: "inbox"` + `pattern: "*.xml"` or `["*.xml", "*.xml.gz"]` | a drop folder: every file in it matching |
/// | `force: true` | import files again even when their checksum says they were imported |
/// | `archive: "done"` | move each file there once its last batch is committed (and already-imported repeats) |
/// | `failed: "failed"` | move a file there when it cannot be imported (the run still fails) |
/// | `minAgeSeconds: 30` | leave files younger than this for the next run (still being written) |
/// | `rememberFiles: 1000` | how many imported checksums the cursor keeps |
///
/// Exactly one of `path`, `glob`, `folder` is required. Relative paths are resolved by the host against the
/// manifest's folder. Files are taken oldest first (modification time), then by name.
public struct FileSource: Sendable {
    /// How files are found.
    public enum Kind: Sendable, Hashable {
        /// One file.
        case path(String)
        /// Files matching a shell pattern (`*`, `?`, `[…]`).
        case glob(String)
        /// Files in a folder whose names match one of the patterns.
        case folder(String, patterns: [String])
    }

    /// How files are found.
    public let kind: Kind
    /// Re-import files whose checksum is in the cursor.
    public let force: Bool
    /// Where imported files are moved, if anywhere.
    public let archiveFolder: String?
    /// Where files that failed are moved, if anywhere.
    public let failedFolder: String?
    /// Files modified less than this many seconds ago are left for later.
    public let minimumAgeSeconds: Int
    /// How many imported checksums the cursor keeps.
    public let rememberFiles: Int

    /// The config keys this type reads (so a plugin can refuse unknown keys).
    public static let configKeys = ["path", "glob", "folder", "pattern", "force", "archive", "failed", "minAgeSeconds", "rememberFiles"]

    /// Reads the keys above from `config`; errors start with `config.<key>:`. Paths are resolved with
    /// ``PluginContext/resolvePath(_:)``. `defaultPatterns` are the drop-folder patterns when `pattern` is absent.
    public init(config: JSON, context: PluginContext, defaultPatterns: [String]) throws(PluginError) {
        func string(_ key: String) throws(PluginError) -> String? {
            guard let value = config[key], value != .null else { return nil }
            guard let text = value.stringValue, !text.isEmpty else {
                throw PluginError.invalid("config.\(key): expected a non-empty path text, found \(value.kindName)")
            }
            return text
        }
        let path = try string("path"), glob = try string("glob"), folder = try string("folder")
        let given = [("path", path), ("glob", glob), ("folder", folder)].filter { $0.1 != nil }.map(\.0)
        guard given.count == 1 else {
            throw PluginError.invalid(given.isEmpty
                ? "config.path: one of path (a file), glob (a pattern such as \"feeds/*.xml\") or folder (a drop folder) is required"
                : "config.\(given[1]): give only one of path, glob and folder (found \(given.joined(separator: " and ")))")
        }
        if config["pattern"] != nil, folder == nil {
            throw PluginError.invalid("config.pattern: only a drop folder (config.folder) has a pattern; for path or glob remove it")
        }
        if let path {
            kind = .path(context.resolvePath(path))
        } else if let glob {
            kind = .glob(context.resolvePath(glob))
        } else {
            var patterns = defaultPatterns
            if let value = config["pattern"] {
                if let single = value.stringValue, !single.isEmpty {
                    patterns = [single]
                } else if let list = value.arrayValue, !list.isEmpty, list.allSatisfy({ !($0.stringValue ?? "").isEmpty }) {
                    patterns = list.compactMap(\.stringValue)
                } else {
                    throw PluginError.invalid("config.pattern: expected a file name pattern such as \"*.xml\" or a list of them")
                }
            }
            kind = .folder(context.resolvePath(folder!), patterns: patterns)
        }
        force = try config.flag("force", default: false)
        archiveFolder = try string("archive").map { context.resolvePath($0) }
        failedFolder = try string("failed").map { context.resolvePath($0) }
        if case .folder(let drop, _) = kind {
            for (key, target) in [("archive", archiveFolder), ("failed", failedFolder)] where target.map(Self.normalized) == Self.normalized(drop) {
                throw PluginError.invalid("config.\(key): must be another folder than the drop folder, or files would be imported again")
            }
        }
        if let value = config["minAgeSeconds"] {
            guard let seconds = value.intValue, seconds >= 0, seconds <= 86_400 else {
                throw PluginError.invalid("config.minAgeSeconds: expected whole seconds from 0 to 86400")
            }
            minimumAgeSeconds = seconds
        } else {
            minimumAgeSeconds = 0
        }
        if let value = config["rememberFiles"] {
            guard let count = value.intValue, (1...100_000).contains(count) else {
                throw PluginError.invalid("config.rememberFiles: expected a whole number from 1 to 100000")
            }
            rememberFiles = count
        } else {
            rememberFiles = 1000
        }
    }

    /// One input file.
    public struct File: Sendable, Hashable {
        /// The path as found.
        public var path: String
        /// Size in bytes.
        public var size: Int64
        /// Last modification, nanoseconds since the epoch.
        public var modifiedNanoseconds: Int64
    }

    /// The files to read now, oldest first, then by name. A `path` that does not exist is an error naming it; a
    /// glob or folder that finds nothing gives an empty list (a missing drop folder is an error).
    public func files() throws(PluginError) -> [File] {
        var found: [File] = []
        switch kind {
        case .path(let path):
            guard let file = Self.regularFile(path) else {
                if access(path, F_OK) != 0 {
                    throw PluginError.io("config.path: \(path) does not exist; check the path (relative paths start at the manifest's folder)")
                }
                throw PluginError.io("config.path: \(path) is not a regular file")
            }
            return [file]
        case .glob(let pattern):
            var result = glob_t()
            defer { globfree(&result) }
            let status = Glibc.glob(pattern, 0, nil, &result)
            if status == GLOB_NOMATCH { return [] }
            guard status == 0 else { throw PluginError.io("config.glob: cannot list files for \(pattern) (glob error \(status))") }
            for index in 0..<Int(result.gl_pathc) {
                if let cPath = result.gl_pathv[index], let file = Self.regularFile(String(cString: cPath)) { found.append(file) }
            }
        case .folder(let folder, let patterns):
            guard let directory = opendir(folder) else {
                throw PluginError.io("config.folder: cannot open the drop folder \(folder): \(String(cString: strerror(errno)))")
            }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                }
                // Hidden files are uploads in progress or tool state, never feeds.
                if name.hasPrefix(".") { continue }
                guard patterns.contains(where: { fnmatch($0, name, 0) == 0 }) else { continue }
                if let file = Self.regularFile(folder + "/" + name) { found.append(file) }
            }
        }
        if minimumAgeSeconds > 0 {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let limit = (Int64(now.tv_sec) - Int64(minimumAgeSeconds)) * 1_000_000_000 + Int64(now.tv_nsec)
            found.removeAll { $0.modifiedNanoseconds > limit }
        }
        found.sort { ($0.modifiedNanoseconds, $0.path) < ($1.modifiedNanoseconds, $1.path) }
        return found
    }

    /// Moves `path` into `folder` (created when missing), keeping its name; when that name is taken, `-1`, `-2`, …
    /// is added before the extension. Returns the new path. Works across file systems (copy, then remove).
    @discardableResult
    public static func move(_ path: String, toFolder folder: String) throws(PluginError) -> String {
        try makeFolder(folder)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        var target = folder + "/" + name
        var counter = 1
        while access(target, F_OK) == 0 {
            let dot = name.firstIndex(of: ".") ?? name.endIndex
            target = folder + "/" + String(name[..<dot]) + "-\(counter)" + String(name[dot...])
            counter += 1
        }
        if rename(path, target) == 0 { return target }
        guard errno == EXDEV else {
            throw PluginError.io("cannot move \(path) to \(folder): \(String(cString: strerror(errno)))")
        }
        try copyFile(path, to: target)
        guard unlink(path) == 0 else {
            throw PluginError.io("copied \(path) to \(target) but cannot remove it: \(String(cString: strerror(errno)))")
        }
        return target
    }

    // MARK: Not public

    static func normalized(_ path: String) -> String {
        var text = path
        while text.count > 1, text.hasSuffix("/") { text.removeLast() }
        return text
    }

    static func regularFile(_ path: String) -> File? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return File(
            path: path, size: Int64(st.st_size),
            modifiedNanoseconds: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
    }

    static func makeFolder(_ folder: String) throws(PluginError) {
        var st = stat()
        if stat(folder, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else { throw PluginError.io("\(folder) exists but is not a folder") }
            return
        }
        let parent = folder.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !parent.isEmpty, parent != folder { try makeFolder(parent) }
        guard mkdir(folder, 0o755) == 0 || errno == EEXIST else {
            throw PluginError.io("cannot create folder \(folder): \(String(cString: strerror(errno)))")
        }
    }

    static func copyFile(_ source: String, to target: String) throws(PluginError) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw PluginError.io("cannot open \(source): \(String(cString: strerror(errno)))") }
        defer { _ = close(input) }
        let output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw PluginError.io("cannot create \(target): \(String(cString: strerror(errno)))") }
        var failed: String?
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        copying: while true {
            let count = read(input, buffer, 1 << 20)
            if count < 0 {
                if errno == EINTR { continue }
                failed = "cannot read \(source): \(String(cString: strerror(errno)))"
                break
            }
            if count == 0 { break }
            var written = 0
            while written < count {
                let n = write(output, buffer + written, count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failed = "cannot write \(target): \(String(cString: strerror(errno)))"
                    break copying
                }
                written += n
            }
        }
        if close(output) != 0, failed == nil { failed = "cannot write \(target): \(String(cString: strerror(errno)))" }
        if let failed {
            unlink(target)
            throw PluginError.io(failed)
        }
    }
}

/// The checksums of the files a connector imported, kept in its cursor, newest last and bounded.
///
/// Cursor text: `{"imported":["xxh64x2:…", …]}`. A cursor in another form (another plugin version) reads as empty,
/// so at worst files are imported once more — which changes nothing, imports being idempotent.
public struct ImportedFiles: Sendable, Hashable {
    /// The checksums, oldest first.
    public private(set) var checksums: [String]
    /// The most kept; older ones are dropped first.
    public let limit: Int
    private var set: Set<String>

    /// Reads a cursor (nil or unreadable: empty).
    public init(cursor: String?, limit: Int = 1000) {
        self.limit = max(1, limit)
        var list: [String] = []
        if let cursor, let json = try? JSON.parse(cursor), let items = json["imported"]?.arrayValue {
            list = items.compactMap(\.stringValue)
        }
        if list.count > self.limit { list.removeFirst(list.count - self.limit) }
        checksums = list
        set = Set(list)
    }

    /// Whether a file with this checksum was imported.
    public func contains(_ checksum: String) -> Bool { set.contains(checksum) }

    /// The set with `checksum` added as the newest (moved there if present), the oldest dropped past the limit.
    public func adding(_ checksum: String) -> ImportedFiles {
        var copy = self
        if copy.set.contains(checksum) { copy.checksums.removeAll { $0 == checksum } }
        copy.checksums.append(checksum)
        copy.set.insert(checksum)
        while copy.checksums.count > copy.limit { copy.set.remove(copy.checksums.removeFirst()) }
        return copy
    }

    /// The cursor text.
    public var cursorText: String {
        "{\"imported\":[" + checksums.map { "\"\($0)\"" }.joined(separator: ",") + "]}"
    }
}

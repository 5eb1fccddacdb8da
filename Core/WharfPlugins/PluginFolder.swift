#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import WharfABI

/// The deployment's plugin folder: one validated library per plugin, named `<id>.so`.
///
/// Installing copies a library in through a temporary file and a rename, so a library that a running process has
/// mapped is never overwritten in place (that process keeps the old inode; upgrading means restarting it).
public struct PluginFolder: Sendable {
    /// The folder's path.
    public let path: String

    /// A plugin folder at `path` (created on first install).
    public init(path: String) {
        self.path = path
    }

    /// Loads and validates the library at `source`, then copies it to `<folder>/<id>.so`.
    ///
    /// A plugin with the same id already installed is refused unless `replace` is true (an upgrade). Returns the
    /// installed plugin, with `path` set to its place in the folder.
    @discardableResult
    public func install(
        from source: String, replace: Bool, host: UnsafePointer<wharf_host_api>
    ) throws(PluginLoadError) -> PluginInfo {
        let info = try PluginLoader.load(path: source, host: host).info
        try createFolder()
        let destination = file(forID: info.id)
        if let sourceReal = resolved(source), let destinationReal = resolved(destination), sourceReal == destinationReal {
            return info.at(path: destination)  // Installing the installed file: nothing to copy.
        }
        if !replace && exists(destination) {
            throw PluginLoadError(
                code: .duplicateID, path: destination,
                message: "a plugin with id \"\(info.id)\" is already installed at \(destination); remove it first, or install with replace (--replace) to upgrade it and restart processes that loaded it"
            )
        }
        let temporary = "\(path)/.\(info.id).so.\(getpid()).\(Self.nextTemporaryNumber()).tmp"
        try copy(from: source, to: temporary)
        if replace {
            if rename(temporary, destination) != 0 {
                let err = errno
                unlink(temporary)
                throw folderError(destination, "cannot move the new library into place", err)
            }
        } else {
            // link(2) fails with EEXIST atomically, so two installs of one id cannot both win.
            if link(temporary, destination) != 0 {
                let err = errno
                unlink(temporary)
                if err == EEXIST {
                    throw PluginLoadError(
                        code: .duplicateID, path: destination,
                        message: "a plugin with id \"\(info.id)\" is already installed at \(destination); remove it first, or install with replace (--replace) to upgrade it"
                    )
                }
                throw folderError(destination, "cannot move the new library into place", err)
            }
            unlink(temporary)
        }
        syncFolder()
        return info.at(path: destination)
    }

    /// Loads every `*.so` in the folder. Libraries that fail to load, are misnamed or repeat an id are reported in
    /// `problems` rather than failing the whole listing. A folder that does not exist holds no plugins.
    public func list(host: UnsafePointer<wharf_host_api>) -> (plugins: [PluginInfo], problems: [PluginLoadError]) {
        guard let directory = opendir(path) else {
            let err = errno
            if err == ENOENT { return ([], []) }
            return ([], [folderError(path, "cannot read the plugin folder", err)])
        }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if !name.hasPrefix("."), name.hasSuffix(".so") { names.append(name) }
        }
        closedir(directory)
        names.sort()

        var plugins: [PluginInfo] = []
        var problems: [PluginLoadError] = []
        var seen: [String: String] = [:]
        for name in names {
            let file = "\(path)/\(name)"
            do throws(PluginLoadError) {
                let info = try PluginLoader.load(path: file, host: host).info
                if name != "\(info.id).so" {
                    problems.append(
                        PluginLoadError(
                            code: .misnamed, path: file,
                            message: "\(file) holds plugin \"\(info.id)\" but is not named \(info.id).so; rename it, or remove it and install the library again"
                        ))
                } else if let first = seen[info.id] {
                    problems.append(
                        PluginLoadError(
                            code: .duplicateID, path: file,
                            message: "\(file) repeats plugin id \"\(info.id)\" already loaded from \(first); remove one of them"))
                } else {
                    seen[info.id] = file
                    plugins.append(info)
                }
            } catch {
                problems.append(error)
            }
        }
        return (plugins, problems)
    }

    /// Removes the installed plugin `id` from the folder. Processes that loaded it keep using it until they restart.
    public func remove(id: String) throws(PluginLoadError) {
        guard PluginLoader.isValidID(id.utf8) else {
            throw PluginLoadError(
                code: .invalidID, path: path,
                message: "\"\(id)\" is not a plugin id: an id is \(PluginLoader.idRule); check the id")
        }
        let file = file(forID: id)
        if unlink(file) != 0 {
            let err = errno
            if err == ENOENT {
                throw PluginLoadError(
                    code: .notInstalled, path: file,
                    message: "no plugin \"\(id)\" is installed in \(path) (no file \(file)); list the folder to see the installed ids")
            }
            throw folderError(file, "cannot remove the plugin", err)
        }
        syncFolder()
    }

    /// The library of installed plugin `id`, or nil when it is not installed (or `id` is not a valid id).
    public func path(forID id: String) -> String? {
        guard PluginLoader.isValidID(id.utf8) else { return nil }
        let file = file(forID: id)
        return exists(file) ? file : nil
    }

    // MARK: Not public

    private func file(forID id: String) -> String { "\(path)/\(id).so" }

    private static let temporaryCounter = Atomic<Int>(0)

    private static func nextTemporaryNumber() -> Int {
        temporaryCounter.wrappingAdd(1, ordering: .relaxed).newValue
    }

    private func exists(_ file: String) -> Bool {
        var st = stat()
        return stat(file, &st) == 0
    }

    private func resolved(_ file: String) -> String? {
        guard let real = realpath(file, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }

    private func folderError(_ file: String, _ what: String, _ err: Int32) -> PluginLoadError {
        PluginLoadError(
            code: .folderFailed, path: file, message: "\(what) (\(file)): \(errnoText(err)); check the folder's permissions and free space")
    }

    /// `mkdir -p` for the folder.
    private func createFolder() throws(PluginLoadError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 {
                let err = errno
                var st = stat()
                if err == EEXIST, stat(prefix, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { continue }
                throw folderError(prefix, "cannot create the plugin folder", err)
            }
        }
    }

    private func copy(from source: String, to destination: String) throws(PluginLoadError) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw folderError(source, "cannot read the plugin library", errno) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
        guard output >= 0 else { throw folderError(destination, "cannot create a file in the plugin folder", errno) }
        var failure: PluginLoadError?
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        copying: while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                failure = folderError(source, "cannot read the plugin library", errno)
                break
            }
            if count == 0 { break }
            var written = 0
            while written < count {
                let n = buffer.withUnsafeBytes { write(output, $0.baseAddress! + written, count - written) }
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = folderError(destination, "cannot write the plugin library", errno)
                    break copying
                }
                written += n
            }
        }
        if failure == nil, fsync(output) != 0 {
            failure = folderError(destination, "cannot write the plugin library", errno)
        }
        close(output)
        if let failure {
            unlink(destination)
            throw failure
        }
    }

    /// Makes the folder's new entries durable (best effort).
    private func syncFolder() {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}

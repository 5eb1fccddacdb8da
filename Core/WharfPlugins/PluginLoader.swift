#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import WharfABI

/// Loads plugin libraries and checks them against the ABI rules before anything else in them runs.
///
/// Checks, in order, each failure a ``PluginLoadError`` with its own ``PluginLoadError/Code``:
/// the file (exists, regular, readable), its ELF header (ELF, host class, byte order and machine, a shared library
/// and not an executable), `dlopen` (`RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE`; a plugin is never unloaded),
/// the `wharf_plugin_entry` symbol, the entry's answer, the descriptor header (ABI major equal to the host's,
/// `struct_size` at least ABI 1.0's), then its fields (id, system kind, version, `create`/`destroy`, and an
/// operation for every capability bit).
///
/// Loads are cached per resolved path, so a plugin's entry runs once per process; a failure found after the entry
/// ran is cached too. Loads are serialized. The `host` table passed to the first load of a library is the one the
/// plugin receives; it must stay valid for the life of the process.
public enum PluginLoader {
    /// Loads and validates the plugin library at `path`, or returns the one already loaded from the same file.
    public static func load(path: String, host: UnsafePointer<wharf_host_api>) throws(PluginLoadError) -> LoadedPlugin {
        try ELFCheck.check(path: path)
        guard let resolved = realpath(path, nil) else {
            let err = errno
            throw PluginLoadError(
                code: .unreadable, path: path,
                message: "cannot resolve \(path): \(errnoText(err)); check the path and its folders' permissions")
        }
        let realPath = String(cString: resolved)
        free(resolved)
        var st = stat()
        guard stat(realPath, &st) == 0 else {
            let err = errno
            throw PluginLoadError(
                code: .unreadable, path: path, message: "cannot read \(path): \(errnoText(err)); check the path")
        }
        let identity = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))

        let outcome: Result<LoadedPlugin, PluginLoadError> = cache.withLock { entries in
            if let cached = entries[realPath] {
                if cached.identity != identity {
                    return .failure(
                        PluginLoadError(
                            code: .replacedSinceLoad, path: path,
                            message: "\(path) was replaced after this process loaded it, and a plugin is never unloaded; restart the process to use the new file"
                        ))
                }
                return cached.result
            }
            let result = loadUncached(path: path, realPath: realPath, host: host)
            // dlopen failures ran no plugin code, so a later attempt (after the user fixed a dependency) may retry.
            if case .failure(let error) = result, error.code == .dlopenFailed { return result }
            entries[realPath] = CacheEntry(identity: identity, result: result)
            return result
        }
        switch outcome {
        case .success(let plugin):
            return plugin.info.path == path ? plugin : LoadedPlugin(info: plugin.info.at(path: path), descriptor: plugin.descriptor)
        case .failure(let error):
            if error.path == path { throw error }
            throw PluginLoadError(code: error.code, path: path, message: error.message.replacingPath(error.path, with: path))
        }
    }

    /// The rule an id must follow, for messages.
    static let idRule = "1..64 characters of a-z, 0-9 and '-', starting with a letter"

    /// True when `id` follows the plugin id rule.
    static func isValidID(_ id: some Collection<UInt8>) -> Bool {
        guard let first = id.first, id.count <= 64, first >= 0x61, first <= 0x7A else { return false }
        return id.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }

    /// The system kinds wharf_plugin.h allows.
    static let systemKinds = ["erp", "pim", "cpq", "crm", "oms", "wms", "edm", "bi", "file", "other"]

    // MARK: Not public

    private struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    private struct CacheEntry: Sendable {
        var identity: FileIdentity
        var result: Result<LoadedPlugin, PluginLoadError>
    }

    private static let cache = Mutex<[String: CacheEntry]>([:])

    private static func loadUncached(
        path: String, realPath: String, host: UnsafePointer<wharf_host_api>
    ) -> Result<LoadedPlugin, PluginLoadError> {
        _ = dlerror()
        guard let handle = dlopen(realPath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            return .failure(
                PluginLoadError(
                    code: .dlopenFailed, path: path,
                    message: "cannot load \(path): \(reason); check that the libraries it needs are installed and on the library path"
                ))
        }
        // The handle is never closed: RTLD_NODELETE keeps the library mapped anyway, and unloading Swift code is unsafe.
        guard let symbol = dlsym(handle, WHARF_PLUGIN_ENTRY_SYMBOL) else {
            return .failure(
                PluginLoadError(
                    code: .missingEntry, path: path,
                    message: "\(path) does not export \(WHARF_PLUGIN_ENTRY_SYMBOL); export it with @_cdecl(\"\(WHARF_PLUGIN_ENTRY_SYMBOL)\") (Swift) or as a plain C function"
                ))
        }
        let entry = unsafeBitCast(symbol, to: wharf_plugin_entry_fn.self)
        let hostMajor = UInt32(WHARF_ABI_MAJOR)
        let hostMinor = UInt32(WHARF_ABI_MINOR)
        guard let descriptor = entry(hostMajor, hostMinor, host) else {
            return .failure(
                PluginLoadError(
                    code: .entryRefused, path: path,
                    message: "\(path): the plugin refused host ABI \(hostMajor).\(hostMinor) (its entry returned NULL); use a plugin version built for ABI \(hostMajor).x"
                ))
        }
        return Result { () throws(PluginLoadError) -> LoadedPlugin in
            let info = try validate(descriptor, path: path)
            return LoadedPlugin(info: info, descriptor: descriptor)
        }
    }

    /// Checks the descriptor header, then its fields, and copies them into a ``PluginInfo``.
    private static func validate(
        _ descriptor: UnsafePointer<wharf_plugin_descriptor>, path: String
    ) throws(PluginLoadError) -> PluginInfo {
        // The header (struct_size, abi_major, abi_minor) is the only part whose layout every ABI major shares.
        let header = UnsafeRawPointer(descriptor)
        let structSize = header.loadUnaligned(as: UInt32.self)
        let abiMajor = header.loadUnaligned(fromByteOffset: 4, as: UInt16.self)
        let abiMinor = header.loadUnaligned(fromByteOffset: 6, as: UInt16.self)
        let hostVersion = "\(WHARF_ABI_MAJOR).\(WHARF_ABI_MINOR)"
        if Int(abiMajor) != Int(WHARF_ABI_MAJOR) {
            throw PluginLoadError(
                code: .abiMajorMismatch, path: path,
                message: "\(path): abi_major is \(abiMajor) (plugin built for ABI \(abiMajor).\(abiMinor)) but this host speaks ABI \(hostVersion); rebuild the plugin against wharf_plugin.h ABI \(WHARF_ABI_MAJOR).x or use a matching host"
            )
        }
        let minimum = descriptorMinimumSize
        if Int(structSize) < minimum {
            throw PluginLoadError(
                code: .descriptorTooSmall, path: path,
                message: "\(path): descriptor is \(structSize) bytes, at least \(minimum) expected: rebuild against wharf_plugin.h ABI \(WHARF_ABI_MAJOR).x"
            )
        }
        let d = descriptor.pointee  // All of ABI 1.0's members fit in struct_size.

        let id = try boundedString(d.id, limit: 64, field: "id", path: path, code: .invalidID)
        guard isValidID(id.utf8) else {
            throw PluginLoadError(
                code: .invalidID, path: path,
                message: "\(path): descriptor id \(quoted(id)) is invalid: an id is \(idRule) (like \"stock-csv\"); fix the plugin's descriptor"
            )
        }
        let kind = try boundedString(
            d.system_kind, limit: 16, field: "system_kind", path: path, code: .invalidSystemKind)
        guard systemKinds.contains(kind) else {
            throw PluginLoadError(
                code: .invalidSystemKind, path: path,
                message: "\(path): descriptor system_kind \(quoted(kind)) is not a known kind; use one of \(systemKinds.joined(separator: ", "))"
            )
        }
        let version = try boundedString(d.version, limit: 256, field: "version", path: path, code: .invalidVersion)
        guard isSemanticVersion(version) else {
            throw PluginLoadError(
                code: .invalidVersion, path: path,
                message: "\(path): descriptor version \(quoted(version)) is not a semantic version; use MAJOR.MINOR.PATCH like \"1.2.0\" (optionally -prerelease / +build)"
            )
        }
        let description = d.description.map { String(decoding: UnsafeBufferPointer(start: $0, count: strnlen($0, 4096)).lazy.map { UInt8(bitPattern: $0) }, as: UTF8.self) }

        if d.create == nil || d.destroy == nil {
            let name = d.create == nil ? "create" : "destroy"
            throw PluginLoadError(
                code: .missingFunction, path: path,
                message: "\(path): descriptor's \(name) function is NULL; every plugin must set create and destroy")
        }
        let capabilities = PluginCapabilities(rawValue: d.capabilities)
        let operations: [(PluginCapabilities, String, String, Bool)] = [
            (.ingest, "WHARF_CAP_INGEST", "ingest", d.ingest != nil),
            (.export, "WHARF_CAP_EXPORT", "export_data", d.export_data != nil),
            (.call, "WHARF_CAP_CALL", "call", d.call != nil),
        ]
        for (capability, bit, function, present) in operations where capabilities.contains(capability) && !present {
            throw PluginLoadError(
                code: .missingOperation, path: path,
                message: "\(path): capability \(bit) is set but the descriptor's \(function) function is NULL; implement \(function) or clear the bit"
            )
        }
        return PluginInfo(
            id: id, systemKind: kind, version: version, description: description, abiMajor: Int(abiMajor),
            abiMinor: Int(abiMinor), capabilities: capabilities, path: path)
    }

    /// WHARF_PLUGIN_DESCRIPTOR_MIN_SIZE, which Swift cannot import (it uses offsetof): the end of `get_extension`.
    static var descriptorMinimumSize: Int {
        MemoryLayout<wharf_plugin_descriptor>.offset(of: \wharf_plugin_descriptor.get_extension)!
            + MemoryLayout<UnsafeRawPointer?>.size
    }

    /// Reads a descriptor string of at most `limit` bytes, refusing NULL and longer strings without reading past them.
    private static func boundedString(
        _ pointer: UnsafePointer<CChar>?, limit: Int, field: String, path: String, code: PluginLoadError.Code
    ) throws(PluginLoadError) -> String {
        guard let pointer else {
            throw PluginLoadError(
                code: code, path: path, message: "\(path): descriptor \(field) is NULL; set it in the plugin's descriptor")
        }
        let length = strnlen(pointer, limit + 1)
        if length > limit {
            throw PluginLoadError(
                code: code, path: path,
                message: "\(path): descriptor \(field) is longer than \(limit) bytes; shorten it in the plugin's descriptor")
        }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Semantic versioning 2.0: MAJOR.MINOR.PATCH, numbers without leading zeros, optional -pre and +build.
    static func isSemanticVersion(_ text: String) -> Bool {
        var core = Substring(text)
        var build: Substring?
        if let plus = core.firstIndex(of: "+") {
            build = core[core.index(after: plus)...]
            core = core[..<plus]
        }
        var prerelease: Substring?
        if let dash = core.firstIndex(of: "-") {
            prerelease = core[core.index(after: dash)...]
            core = core[..<dash]
        }
        let numbers = core.split(separator: ".", omittingEmptySubsequences: false)
        guard numbers.count == 3 else { return false }
        for number in numbers {
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            if number.count > 1 && number.first == "0" { return false }
        }
        func identifiersValid(_ part: Substring?) -> Bool {
            guard let part else { return true }
            let identifiers = part.split(separator: ".", omittingEmptySubsequences: false)
            return identifiers.allSatisfy { identifier in
                !identifier.isEmpty
                    && identifier.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            }
        }
        return identifiersValid(prerelease) && identifiersValid(build)
    }

    private static func quoted(_ text: String) -> String {
        "\"" + text + "\""
    }
}

extension String {
    /// Replaces occurrences of `old` (a path in a cached message) with `new` (the path the caller used).
    fileprivate func replacingPath(_ old: String, with new: String) -> String {
        guard !old.isEmpty else { return self }
        return replacing(old, with: new)
    }
}

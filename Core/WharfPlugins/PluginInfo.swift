import WharfABI

/// The operations a plugin declares in its descriptor (`WHARF_CAP_*` bits).
public struct PluginCapabilities: OptionSet, Sendable, Hashable {
    /// The raw `WHARF_CAP_*` bits, including bits this host does not know (from a newer ABI minor).
    public let rawValue: UInt64

    /// Creates a set from raw `WHARF_CAP_*` bits.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `WHARF_CAP_INGEST`: the plugin reads an external system and emits records into Wharf.
    public static let ingest = PluginCapabilities(rawValue: 1 << 0)
    /// `WHARF_CAP_EXPORT`: the plugin reads records from Wharf and writes them to an external system.
    public static let export = PluginCapabilities(rawValue: 1 << 1)
    /// `WHARF_CAP_CALL`: the plugin answers real-time request/response calls.
    public static let call = PluginCapabilities(rawValue: 1 << 2)

    /// The names of the known capabilities in the set, in bit order: `["ingest", "export", "call"]`.
    /// Bits unknown to this host are left out.
    public var names: [String] {
        var names: [String] = []
        if contains(.ingest) { names.append("ingest") }
        if contains(.export) { names.append("export") }
        if contains(.call) { names.append("call") }
        return names
    }
}

/// What a validated plugin is, copied out of its descriptor into Swift values.
public struct PluginInfo: Sendable, Hashable {
    /// The plugin's unique id (`stock-csv`).
    public let id: String
    /// The kind of system it serves (`erp`, `pim`, ...).
    public let systemKind: String
    /// The plugin's own semantic version (`1.0.0`).
    public let version: String
    /// One line for people, if the plugin gave one.
    public let description: String?
    /// The ABI major version the plugin was built against.
    public let abiMajor: Int
    /// The ABI minor version the plugin was built against.
    public let abiMinor: Int
    /// The operations the plugin implements.
    public let capabilities: PluginCapabilities
    /// The path the plugin was loaded from (as given, not resolved).
    public let path: String

    /// Creates a plugin description. The loader makes these; tests and tools may build their own.
    public init(
        id: String, systemKind: String, version: String, description: String?, abiMajor: Int, abiMinor: Int,
        capabilities: PluginCapabilities, path: String
    ) {
        self.id = id
        self.systemKind = systemKind
        self.version = version
        self.description = description
        self.abiMajor = abiMajor
        self.abiMinor = abiMinor
        self.capabilities = capabilities
        self.path = path
    }

    /// The same description for a library found at another path.
    func at(path: String) -> PluginInfo {
        PluginInfo(
            id: id, systemKind: systemKind, version: version, description: description, abiMajor: abiMajor,
            abiMinor: abiMinor, capabilities: capabilities, path: path)
    }
}

/// A plugin library that was loaded, checked and is ready to use. Never unloaded (`RTLD_NODELETE`).
///
/// `@unchecked Sendable`: the descriptor is immutable static data owned by the plugin for the life of the process
/// (wharf_plugin.h), so sharing the pointer between threads is safe.
public final class LoadedPlugin: @unchecked Sendable {
    /// What the plugin is.
    public let info: PluginInfo
    /// The plugin's descriptor: call `create`, `ingest`, ... through it. Valid for the life of the process.
    public let descriptor: UnsafePointer<wharf_plugin_descriptor>

    init(info: PluginInfo, descriptor: UnsafePointer<wharf_plugin_descriptor>) {
        self.info = info
        self.descriptor = descriptor
    }
}

/// The operations a plugin implements (`WHARF_CAP_*` bits).
public struct PluginCapabilities: OptionSet, Sendable, Hashable {
    /// The raw `WHARF_CAP_*` bits.
    public let rawValue: UInt64
    /// Creates a set from raw bits.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The plugin reads an external system and emits records into Wharf (``WharfPlugin/ingest(_:)``).
    public static let ingest = PluginCapabilities(rawValue: 1 << 0)
    /// The plugin reads records from Wharf and writes them elsewhere (``WharfPlugin/export(_:)``).
    public static let export = PluginCapabilities(rawValue: 1 << 1)
    /// The plugin answers real-time calls (``WharfPlugin/call(_:request:context:)``).
    public static let call = PluginCapabilities(rawValue: 1 << 2)
}

/// A connector written in Swift. Export it with ``PluginExport/descriptor(for:hostMajor:hostMinor:host:)``:
///
/// ```swift
/// @_cdecl("wharf_plugin_entry")
/// public func wharfPluginEntry(
///     _ major: UInt32, _ minor: UInt32, _ host: UnsafePointer<wharf_host_api>?
/// ) -> UnsafePointer<wharf_plugin_descriptor>? {
///     PluginExport.descriptor(for: MyPlugin.self, hostMajor: major, hostMinor: minor, host: host)
/// }
/// ```
///
/// One value is made per connector (`init(context:)`, the C `create`) and lives until the host destroys it. The host
/// runs one operation at a time per instance, but consecutive operations may come from different threads; keep state
/// in the instance, never in globals. Throw ``PluginError`` for failures people should read; nothing may unwind
/// across the boundary, and the kit catches every thrown error there. (Traps such as a failed `precondition` cannot
/// be caught: they end the host process.)
public protocol WharfPlugin {
    /// The unique plugin id: 1..64 characters of `a-z`, `0-9`, `-`, starting with a letter (`"stock-csv"`).
    static var id: String { get }
    /// The kind of system served: `erp`, `pim`, `cpq`, `crm`, `oms`, `wms`, `edm`, `bi`, `file` or `other`.
    static var systemKind: String { get }
    /// The plugin's semantic version (`"1.2.0"`).
    static var version: String { get }
    /// One line for people, or nil.
    static var description: String? { get }
    /// The operations implemented. Each one listed must be implemented (the defaults throw "unsupported").
    static var capabilities: PluginCapabilities { get }

    /// Makes an instance for one connector: read and validate config and mapping here, and throw
    /// ``PluginError/invalid(_:)`` naming the config key when they are wrong.
    init(context: PluginContext) throws

    /// External system -> Wharf: read the source and hand records to the host (see ``RecordBatcher``).
    func ingest(_ context: IngestContext) throws

    /// Wharf -> external system: read records with ``ExportContext/readRecords(entity:changedSince:batchSize:_:)``.
    func export(_ context: ExportContext) throws

    /// One real-time request/response; returns the response body (usually JSON).
    func call(_ operation: String, request: [UInt8], context: CallContext) throws -> [UInt8]
}

extension WharfPlugin {
    /// No description by default.
    public static var description: String? { nil }

    /// Not implemented: declare ``PluginCapabilities/ingest`` only when you implement it.
    public func ingest(_ context: IngestContext) throws {
        throw PluginError.unsupported("plugin \(Self.id) does not implement ingest")
    }

    /// Not implemented: declare ``PluginCapabilities/export`` only when you implement it.
    public func export(_ context: ExportContext) throws {
        throw PluginError.unsupported("plugin \(Self.id) does not implement export")
    }

    /// Not implemented: declare ``PluginCapabilities/call`` only when you implement it.
    public func call(_ operation: String, request: [UInt8], context: CallContext) throws -> [UInt8] {
        throw PluginError.unsupported("plugin \(Self.id) does not implement call")
    }
}

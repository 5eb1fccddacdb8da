import Synchronization
import WharfABI

/// Builds the C descriptor for a Swift ``WharfPlugin`` and bridges every C call to it, catching errors at the edge.
///
/// Use it from the plugin's one exported function:
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
/// How it works: C function pointers cannot capture a generic type, so the plugin type is kept in a registration
/// table (a `Mutex`, so Swift 6 can prove the global is safe; it is written once per plugin type, at entry, and read
/// in `create`). Each table slot has its own non-generic `create` function; `create` makes the plugin value and
/// boxes it with the host table, and the other operations reach the plugin through that box (the C instance
/// pointer), so they need no global state. A library may register up to ``maximumPluginTypes`` types (one is
/// usual; tests register several). The descriptor and its strings are allocated once and never freed: the ABI
/// requires them to live for the life of the process.
public enum PluginExport {
    /// How many distinct plugin types one library can register.
    public static let maximumPluginTypes = 8

    /// The descriptor for `type`, or nil when the host speaks another ABI major or its service table is too small
    /// for ABI 1.0 (the host then refuses the plugin with a message). Calling it again returns the same descriptor.
    public static func descriptor<P: WharfPlugin>(
        for type: P.Type, hostMajor: UInt32, hostMinor: UInt32, host: UnsafePointer<wharf_host_api>?
    ) -> UnsafePointer<wharf_plugin_descriptor>? {
        guard hostMajor == UInt32(WHARF_ABI_MAJOR), let host,
            host.pointee.abi_major == UInt16(WHARF_ABI_MAJOR),
            Int(host.pointee.struct_size) >= hostTableMinimumSize
        else { return nil }
        return registrations.withLock { slots -> Registration? in
            if let existing = slots.first(where: { $0.typeID == ObjectIdentifier(type) }) { return existing }
            guard slots.count < maximumPluginTypes else { return nil }
            let registration = Registration(
                type: type, typeID: ObjectIdentifier(type), descriptor: makeDescriptor(for: type, slot: slots.count))
            slots.append(registration)
            return registration
        }?.descriptor
    }

    // MARK: Not public

    /// A registered plugin type. `@unchecked Sendable`: a metatype and an immutable, never-freed descriptor.
    private struct Registration: @unchecked Sendable {
        let type: any WharfPlugin.Type
        let typeID: ObjectIdentifier
        let descriptor: UnsafePointer<wharf_plugin_descriptor>
    }

    private static let registrations = Mutex<[Registration]>([])

    /// The end of ABI 1.0's host table (its last member, `get_extension`).
    static var hostTableMinimumSize: Int {
        MemoryLayout<wharf_host_api>.offset(of: \wharf_host_api.get_extension)! + MemoryLayout<UnsafeRawPointer?>.size
    }

    private static func makeDescriptor<P: WharfPlugin>(for type: P.Type, slot: Int) -> UnsafePointer<wharf_plugin_descriptor> {
        let capabilities = P.capabilities
        var descriptor = wharf_plugin_descriptor()
        descriptor.struct_size = UInt32(MemoryLayout<wharf_plugin_descriptor>.size)
        descriptor.abi_major = UInt16(WHARF_ABI_MAJOR)
        descriptor.abi_minor = UInt16(WHARF_ABI_MINOR)
        descriptor.id = permanentCString(P.id)
        descriptor.system_kind = permanentCString(P.systemKind)
        descriptor.version = permanentCString(P.version)
        descriptor.description = P.description.map(permanentCString)
        descriptor.capabilities = capabilities.rawValue
        descriptor.create = createFunction(slot: slot)
        descriptor.destroy = destroyFunction
        if capabilities.contains(.ingest) { descriptor.ingest = ingestFunction }
        if capabilities.contains(.export) { descriptor.export_data = exportFunction }
        if capabilities.contains(.call) { descriptor.call = callFunction }
        let pointer = UnsafeMutablePointer<wharf_plugin_descriptor>.allocate(capacity: 1)
        pointer.initialize(to: descriptor)
        return UnsafePointer(pointer)
    }

    // The operations are the same C functions for every plugin type: they reach the plugin through the instance box.
    // (They are built outside the generic function because a C function pointer cannot capture generic context.)

    private static var destroyFunction: @convention(c) (UnsafeMutableRawPointer?) -> Void {
        { instance in
            guard let instance else { return }
            Unmanaged<InstanceBox>.fromOpaque(instance).release()
        }
    }

    private static var ingestFunction: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> wharf_status {
        { instance, ctx in
            PluginExport.operation(instance, ctx, IngestContext.init) { box, context in try box.plugin.ingest(context) }
        }
    }

    private static var exportFunction: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> wharf_status {
        { instance, ctx in
            PluginExport.operation(instance, ctx, ExportContext.init) { box, context in try box.plugin.export(context) }
        }
    }

    private static var callFunction:
        @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, Int)
        -> wharf_status
    {
        { instance, ctx, operationName, request, requestLength in
            PluginExport.operation(instance, ctx, CallContext.init) { box, context in
                let name = operationName.map { String(cString: $0) } ?? ""
                let body = request.map { Array(UnsafeRawBufferPointer(start: $0, count: requestLength)) } ?? []
                let response = try box.plugin.call(name, request: body, context: context)
                let status = context.setResponse(response)
                if status != WHARF_OK {
                    throw PluginError(PluginError.Status(rawValue: status), "the host refused the response of \(name)")
                }
            }
        }
    }

    private static func permanentCString(_ text: String) -> UnsafePointer<CChar> {
        let utf8 = Array(text.utf8) + [0]
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
        for (index, byte) in utf8.enumerated() { pointer[index] = CChar(bitPattern: byte) }
        return UnsafePointer(pointer)
    }

    typealias CreateFunction = @convention(c) (
        UnsafePointer<wharf_host_api>?, OpaquePointer?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    ) -> wharf_status

    /// One distinct C function per registration slot (a C function pointer cannot carry the slot number).
    private static func createFunction(slot: Int) -> CreateFunction {
        switch slot {
        case 0: return { PluginExport.create(slot: 0, $0, $1, $2) }
        case 1: return { PluginExport.create(slot: 1, $0, $1, $2) }
        case 2: return { PluginExport.create(slot: 2, $0, $1, $2) }
        case 3: return { PluginExport.create(slot: 3, $0, $1, $2) }
        case 4: return { PluginExport.create(slot: 4, $0, $1, $2) }
        case 5: return { PluginExport.create(slot: 5, $0, $1, $2) }
        case 6: return { PluginExport.create(slot: 6, $0, $1, $2) }
        default: return { PluginExport.create(slot: 7, $0, $1, $2) }
        }
    }

    private static func create(
        slot: Int, _ host: UnsafePointer<wharf_host_api>?, _ ctx: OpaquePointer?,
        _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    ) -> wharf_status {
        guard let host, let ctx, let out else { return WHARF_ERR_INVALID }
        out.pointee = nil
        let context = PluginContext(host: host, raw: ctx)
        defer { context.invalidate() }
        let registration = registrations.withLock { slots in slot < slots.count ? slots[slot] : nil }
        guard let registration else {
            context.setError("plugin create was called for an unregistered plugin type (slot \(slot)); this is a bug in WharfPluginKit")
            return WHARF_ERR_INTERNAL
        }
        return atEdge(context) {
            let plugin = try registration.type.init(context: context)
            out.pointee = Unmanaged.passRetained(InstanceBox(host: host, plugin: plugin)).toOpaque()
        }
    }

    /// Runs one operation on an instance with a fresh context that is invalidated when the operation returns.
    private static func operation<C: PluginContext>(
        _ instance: UnsafeMutableRawPointer?, _ ctx: OpaquePointer?,
        _ makeContext: (UnsafePointer<wharf_host_api>, OpaquePointer) -> C,
        _ body: (InstanceBox, C) throws -> Void
    ) -> wharf_status {
        guard let instance, let ctx else { return WHARF_ERR_STATE }
        let box = Unmanaged<InstanceBox>.fromOpaque(instance).takeUnretainedValue()
        let context = makeContext(box.host, ctx)
        defer { context.invalidate() }
        return atEdge(context) { try body(box, context) }
    }

    /// Runs `body`; turns any thrown error into a status plus `set_error`. Nothing unwinds into C.
    static func atEdge(_ context: PluginContext, _ body: () throws -> Void) -> wharf_status {
        do {
            try body()
            return WHARF_OK
        } catch let error as PluginError {
            context.setError(error.message)
            return error.status.rawValue == WHARF_OK ? WHARF_ERR_INTERNAL : error.status.rawValue
        } catch let error as JSONError {
            context.setError("invalid JSON: \(error)")
            return WHARF_ERR_INVALID
        } catch {
            context.setError("unexpected error: \(error)")
            return WHARF_ERR_INTERNAL
        }
    }
}

/// What the C instance pointer points at: the plugin value and the host table it was created with.
final class InstanceBox {
    let host: UnsafePointer<wharf_host_api>
    let plugin: any WharfPlugin

    init(host: UnsafePointer<wharf_host_api>, plugin: any WharfPlugin) {
        self.host = host
        self.plugin = plugin
    }
}

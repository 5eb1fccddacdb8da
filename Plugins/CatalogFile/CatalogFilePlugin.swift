import WharfABI

@_cdecl("wharf_plugin_entry")
public func wharfPluginEntry(_ major: UInt32, _ minor: UInt32, _ host: UnsafePointer<wharf_host_api>?) -> UnsafePointer<wharf_plugin_descriptor>? {
    return nil
}

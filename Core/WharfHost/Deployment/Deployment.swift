import Foundation
import WharfManifest
import WharfPlugins
import WharfStore

/// One running deployment: its manifest, its open store, its plugin folder and its logger.
public final class Deployment: Sendable {
    /// The manifest it was made from.
    public let manifest: Manifest
    /// The commerce store (the manifest's database).
    public let store: Store
    /// The plugin folder.
    public let plugins: PluginFolder
    /// Where log lines go.
    public let logger: Logger

    /// How much of the database file each reader of a serving process maps into memory (see `Store.init`): 1 GiB.
    public static let servingReaderMapBytes = 1 << 30

    /// Opens the deployment described by `manifest`: creates or upgrades its database. `readerMapBytes` is passed
    /// to the store: `servingReaderMapBytes` for a process that serves the REST API, 0 (read(2)) otherwise.
    public init(manifest: Manifest, logger: Logger? = nil, readerMapBytes: Int = 0) throws {
        self.manifest = manifest
        self.logger = logger ?? Logger(
            level: LogLevel(name: manifest.log.level.rawValue) ?? .info,
            format: LogFormat(rawValue: manifest.log.format.rawValue) ?? .logfmt)
        self.store = try Store(path: manifest.database, readerMapBytes: readerMapBytes)
        self.plugins = PluginFolder(path: manifest.pluginFolder)
    }
}

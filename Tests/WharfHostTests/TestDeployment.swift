import Foundation
import WharfAuth
import WharfManifest
import WharfModel
import WharfTestSupport

@testable import WharfHost

/// A deployment in a temporary folder with the real built plugins installed, for host tests.
final class TestDeployment {
    let folder = TemporaryDirectory(prefix: "wharf-host")
    let deployment: Deployment
    let logLines = LogLines()

    /// Writes `manifest` (JSON5; `database` and `pluginFolder` are filled in) and the given data files, installs
    /// both real plugins and opens the deployment.
    init(connectors: String = "[]", files: [String: String] = [:], server: String = "{}") throws {
        for (name, text) in files { folder.write(name, text) }
        let path = folder.write("wharf.json5", """
            { database: "db/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins", server: \(server),
              connectors: \(connectors) }
            """)
        let manifest = try Manifest.load(path: path)
        let lines = logLines
        deployment = try Deployment(manifest: manifest, logger: Logger(level: .debug, sink: { lines.append($0) }))
        for product in ["wharf-stock-csv", "wharf-catalog-file"] {
            try deployment.plugins.install(from: BuildProducts.plugin(product).path, replace: false, host: HostServices.table)
        }
    }

    /// Creates an API key with `scopes` and returns its text.
    func key(_ scopes: [Scope]) throws -> String {
        let (key, record) = APIKeys.generate(name: "test-\(scopes.map(\.rawValue).joined(separator: "+"))", scopes: scopes.map(\.rawValue), now: .now())
        try deployment.store.insertAPIKey(record)
        return key
    }

    /// Runs a connector's ingest.
    func run(_ connector: String) throws -> Run {
        try ConnectorRunner(deployment: deployment).ingest(connector: connector, trigger: .manual)
    }
}

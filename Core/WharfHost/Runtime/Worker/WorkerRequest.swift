import Foundation
import WharfManifest
import WharfModel

/// What the server asks a worker to do: one run of one connector, as the server's manifest describes it.
///
/// The connector travels in the request (not as a manifest path the worker re-reads), so the worker runs exactly
/// the configuration the server recorded the run for, even if the file changed since the server started.
struct WorkerRequest {
    var runID: Int64
    /// The manifest file (for messages and to resolve relative paths: plugins resolve against its folder).
    var manifestPath: String
    var database: String
    var pluginFolder: String
    var connector: ConnectorConfig
    var logLevel: LogLevel
    /// The run was cancelled before its worker started: the plugin sees `is_cancelled` from its first call.
    var cancelled: Bool
    /// What the worker is for: one run, or real-time calls until the server closes the channel.
    var mode: Mode = .run

    /// What a worker is started for.
    enum Mode: String {
        /// One ingest run (`runID`).
        case run
        /// Real-time calls, one at a time, for as long as the server keeps it.
        case call
    }

    /// The `start` frame.
    func frame() -> FrameEncoder {
        let inventory = connector.inventory
        let pairs: [(String, String)] = [
            ("runID", String(runID)), ("manifestPath", manifestPath), ("database", database),
            ("pluginFolder", pluginFolder), ("connector.name", connector.name), ("connector.plugin", connector.plugin),
            ("connector.index", String(connector.index)), ("connector.onError", connector.onError.rawValue),
            ("connector.inventory.mode", inventory.mode.rawValue), ("connector.inventory.absent", inventory.absent.rawValue),
            ("connector.inventory.delta", inventory.delta.rawValue), ("connector.config", connector.config.jsonText()),
            ("connector.mapping", connector.mapping.jsonText()), ("connector.memoryLimitMB", String(connector.memoryLimitMB)),
            ("logLevel", logLevel.name), ("cancelled", cancelled ? "1" : "0"), ("mode", mode.rawValue),
        ]
        var frame = FrameEncoder(.start, capacity: 1024)
        frame.u32(workerProtocolVersion)
        frame.u16(UInt16(pairs.count))
        for (key, value) in pairs {
            frame.string(key)
            frame.string(value)
        }
        return frame
    }

    /// The request in a `start` frame's payload.
    init(payload: [UInt8]) throws(WorkerProtocolError) {
        var reader = PayloadReader(payload)
        let version = try reader.u32()
        guard version == workerProtocolVersion else {
            throw WorkerProtocolError(message: "the server speaks worker protocol \(version), this worker \(workerProtocolVersion); run the same wharf binary for both")
        }
        var values: [String: String] = [:]
        for _ in 0..<Int(try reader.u16()) {
            let key = try reader.string()
            values[key] = try reader.string()
        }
        func value(_ key: String) throws(WorkerProtocolError) -> String {
            guard let text = values[key] else { throw WorkerProtocolError(message: "the start frame has no \(key)") }
            return text
        }
        func parsed<T>(_ key: String, _ make: (String) -> T?) throws(WorkerProtocolError) -> T {
            let text = try value(key)
            guard let result = make(text) else { throw WorkerProtocolError(message: "the start frame's \(key) is not valid: \(text)") }
            return result
        }
        func json(_ key: String) throws(WorkerProtocolError) -> JSONValue {
            let text = try value(key)
            do {
                return try JSONValue.parse(json5: text)
            } catch {
                throw WorkerProtocolError(message: "the start frame's \(key) is not JSON: \(error)")
            }
        }
        runID = try parsed("runID") { Int64($0) }
        manifestPath = try value("manifestPath")
        database = try value("database")
        pluginFolder = try value("pluginFolder")
        let inventory = InventoryPolicy(
            mode: try parsed("connector.inventory.mode") { InventoryPolicy.Mode(rawValue: $0) },
            absent: try parsed("connector.inventory.absent") { InventoryPolicy.Absent(rawValue: $0) },
            delta: try parsed("connector.inventory.delta") { InventoryPolicy.Delta(rawValue: $0) })
        connector = ConnectorConfig(
            name: try value("connector.name"), plugin: try value("connector.plugin"), config: try json("connector.config"),
            mapping: try json("connector.mapping"),
            onError: try parsed("connector.onError") { ConnectorConfig.ErrorPolicy(rawValue: $0) }, inventory: inventory,
            index: try parsed("connector.index") { Int($0) }, isolation: .process,
            memoryLimitMB: try parsed("connector.memoryLimitMB") { Int($0) })
        logLevel = try parsed("logLevel") { LogLevel(name: $0) }
        cancelled = try value("cancelled") == "1"
        mode = try parsed("mode") { Mode(rawValue: $0) }
    }

    init(
        runID: Int64, manifestPath: String, database: String, pluginFolder: String, connector: ConnectorConfig,
        logLevel: LogLevel, cancelled: Bool, mode: Mode = .run
    ) {
        self.runID = runID
        self.manifestPath = manifestPath
        self.database = database
        self.pluginFolder = pluginFolder
        self.connector = connector
        self.logLevel = logLevel
        self.cancelled = cancelled
        self.mode = mode
    }
}

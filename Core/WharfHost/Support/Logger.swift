import Foundation
import Synchronization
import WharfModel

/// Severity of a log line, lowest first.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case trace, debug, info, warning, error

    /// The lower-case name used in log lines and manifests.
    public var name: String {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .warning: "warning"
        case .error: "error"
        }
    }

    /// The level with a given name ("info"), or nil.
    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { $0.name == name }) else { return nil }
        self = level
    }

    /// Orders levels by severity.
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// How log lines are written.
public enum LogFormat: String, Sendable {
    /// `ts=… level=info msg="…" connector=erp-stock run=12`
    case logfmt
    /// One JSON object per line.
    case json
}

/// Writes one structured line per event to standard error (or a given sink), thread-safe.
///
/// Every line carries a timestamp, level and message, plus context fields such as `connector` and `run`, so one
/// `grep run=12` shows everything a run did.
public final class Logger: Sendable {
    /// The minimum level written.
    public let level: LogLevel
    /// The line format.
    public let format: LogFormat
    private let sink: @Sendable (String) -> Void
    private let lock = Mutex(())

    /// A logger writing lines of `format` at `level` and above to `sink` (standard error by default).
    public init(level: LogLevel = .info, format: LogFormat = .logfmt, sink: (@Sendable (String) -> Void)? = nil) {
        self.level = level
        self.format = format
        self.sink = sink ?? { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    /// Writes one line when `level` is enabled. `fields` are appended in order after the message.
    public func log(_ level: LogLevel, _ message: String, _ fields: KeyValuePairs<String, String> = [:]) {
        log(level, message, fields: Array(fields).map { ($0.key, $0.value) })
    }

    /// Writes one line when `level` is enabled, with fields as an array.
    public func log(_ level: LogLevel, _ message: String, fields: [(String, String)]) {
        guard level >= self.level else { return }
        let line = render(level, message, fields)
        lock.withLock { _ in sink(line) }
    }

    /// Renders one line without writing it.
    func render(_ level: LogLevel, _ message: String, _ fields: [(String, String)]) -> String {
        let all = [("ts", Timestamp.now().rfc3339), ("level", level.name), ("msg", message)] + fields
        switch format {
        case .logfmt:
            return all.map { "\($0.0)=\(Logger.logfmtValue($0.1))" }.joined(separator: " ")
        case .json:
            var writer = JSONWriter()
            writer.beginObject()
            for (key, value) in all { writer.field(key, value) }
            writer.endObject()
            return writer.text
        }
    }

    private static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=") }
        guard needsQuotes else { return value }
        var out = "\""
        for ch in value.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }
}

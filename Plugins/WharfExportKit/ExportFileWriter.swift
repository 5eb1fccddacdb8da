import Foundation
import WharfAuth
import WharfPluginKit

/// Writes one export file so that it never exists under its final name until it is complete: bytes go to a hidden
/// `.NAME.partial` next to it, which is flushed to disk (fsync) and then renamed into place. Counts data rows and
/// hashes the bytes as written (after gzip, when on), for the run manifest.
public final class ExportFileWriter {
    /// The name relative to the run's folder ("orders/day=2026-11-23/orders.csv.gz").
    public let name: String
    /// The final path.
    public let path: String
    /// Data rows written so far.
    public private(set) var rows: Int64 = 0
    /// Bytes on disk so far.
    public private(set) var bytes: Int64 = 0

    let partialPath: String
    private let fd: Int32
    private var hasher = SHA256.Hasher()
    private var gzip: GzipStream?
    private var buffer: [UInt8] = []
    private let bufferLimit = 256 * 1024
    private var closed = false

    /// Opens `folder/name` (its `.partial`) for writing, creating folders as needed; `gzip` compresses on the fly.
    public init(folder: String, name: String, gzip: Bool) throws {
        self.name = name
        self.path = folder + "/" + name
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        partialPath = directory + "/." + (path as NSString).lastPathComponent + ".partial"
        fd = open(partialPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw PluginError.io("cannot create \(partialPath): \(String(cString: strerror(errno)))")
        }
        self.gzip = gzip ? try GzipStream() : nil
        buffer.reserveCapacity(bufferLimit + 4096)
    }

    deinit {
        if !closed {
            close(fd)
            unlink(partialPath)
        }
    }

    /// Appends bytes that are not a data row (a header line).
    public func writeHeader(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= bufferLimit { try drain() }
    }

    /// Appends raw bytes that complete one data row.
    public func writeRow(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        rows += 1
        if buffer.count >= bufferLimit { try drain() }
    }

    /// Appends bytes through `fill` and counts one data row (avoids an intermediate array).
    public func writeRow(_ fill: (inout [UInt8]) -> Void) throws {
        fill(&buffer)
        rows += 1
        if buffer.count >= bufferLimit { try drain() }
    }

    /// Flushes, syncs and renames the file into place; returns its SHA-256 (hex).
    public func finish() throws -> String {
        try drain()
        if let gzip {
            try gzip.finish { chunk in try self.put(chunk) }
            self.gzip = nil
        }
        guard fsync(fd) == 0 else { throw PluginError.io("cannot sync \(partialPath): \(String(cString: strerror(errno)))") }
        close(fd)
        closed = true
        guard rename(partialPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(partialPath)
            throw PluginError.io("cannot rename \(partialPath) to \(path): \(reason)")
        }
        return SHA256.hexString(hasher.finalize())
    }

    // MARK: Not public

    private func drain() throws {
        guard !buffer.isEmpty else { return }
        if let gzip {
            try buffer.withUnsafeBytes { raw in try gzip.write(raw) { chunk in try self.put(chunk) } }
        } else {
            try buffer.withUnsafeBytes { try put($0) }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func put(_ chunk: UnsafeRawBufferPointer) throws {
        hasher.update(chunk.bindMemory(to: UInt8.self))
        var offset = 0
        while offset < chunk.count {
            let written = Foundation.write(fd, chunk.baseAddress! + offset, chunk.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw PluginError.io("cannot write \(partialPath): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        bytes += Int64(chunk.count)
    }
}

/// CSV and NDJSON encoding of field values (RFC 4180 quoting; JSON strings with escapes).
public enum ExportEncoding {
    /// Appends `value` as one CSV field: quoted only when it holds a comma, quote, CR or LF.
    public static func appendCSV(_ value: String, to out: inout [UInt8]) {
        var value = value
        value.withUTF8 { appendCSV(bytes: UnsafeRawBufferPointer($0), to: &out) }
    }

    /// Appends `bytes` (UTF-8) as one CSV field, quoted only when needed.
    @inline(__always)
    public static func appendCSV(bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        var needsQuotes = false
        for byte in bytes where byte == 0x2C || byte == 0x22 || byte == 0x0A || byte == 0x0D {
            needsQuotes = true
            break
        }
        guard needsQuotes else {
            out.append(contentsOf: bytes)
            return
        }
        out.append(0x22)
        for byte in bytes {
            if byte == 0x22 { out.append(0x22) }
            out.append(byte)
        }
        out.append(0x22)
    }

    /// Appends `bytes` (UTF-8) as a JSON string literal.
    public static func appendJSONString(bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        out.append(0x22)
        for byte in bytes {
            switch byte {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0..<0x20:
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30])
                out.append(hex.utf8Start[Int(byte >> 4)])
                out.append(hex.utf8Start[Int(byte & 15)])
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }

    /// Appends `values` as one CSV line ending in CRLF (RFC 4180).
    public static func appendCSVLine(_ values: [String], to out: inout [UInt8]) {
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(0x2C) }
            appendCSV(value, to: &out)
        }
        out.append(0x0D)
        out.append(0x0A)
    }

    /// Appends `value` as a JSON string literal.
    public static func appendJSONString(_ value: String, to out: inout [UInt8]) {
        var value = value
        value.withUTF8 { appendJSONString(bytes: UnsafeRawBufferPointer($0), to: &out) }
    }
}

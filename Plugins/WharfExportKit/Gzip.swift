import CZlib
import WharfPluginKit

/// A streaming gzip compressor (zlib's deflate with a gzip wrapper). The header zlib writes without
/// `deflateSetHeader` has no name and a zero modification time, so the same input always gives the same bytes:
/// re-exports stay byte-identical.
final class GzipStream {
    private var stream = z_stream()
    private var output = [UInt8](repeating: 0, count: 64 * 1024)
    private var open = false

    init(level: Int32 = 6) throws(PluginError) {
        // windowBits 15 + 16: a gzip wrapper instead of zlib's.
        let status = deflateInit2_(
            &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw PluginError.io("gzip: zlib refused to start (status \(status))") }
        open = true
    }

    deinit {
        if open { deflateEnd(&stream) }
    }

    /// Compresses `input`, handing every produced chunk to `sink`.
    func write(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try run(input, flush: Z_NO_FLUSH, sink)
    }

    /// Ends the stream (trailer with CRC and size).
    func finish(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH, sink)
        deflateEnd(&stream)
        open = false
    }

    private func run(_ input: UnsafeRawBufferPointer, flush: Int32, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        let capacity = output.count
        while true {
            let (status, produced): (Int32, Int) = output.withUnsafeMutableBufferPointer { buffer in
                stream.next_out = buffer.baseAddress
                stream.avail_out = uInt(capacity)
                let status = deflate(&stream, flush)
                return (status, capacity - Int(stream.avail_out))
            }
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw PluginError.io("gzip: deflate failed (status \(status))")
            }
            if produced > 0 { try output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            if flush == Z_FINISH ? status == Z_STREAM_END : (stream.avail_in == 0 && produced < capacity) { return }
        }
    }
}

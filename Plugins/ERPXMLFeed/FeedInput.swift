import CLibXML2
import WharfPluginKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: Not public

/// The bytes of one feed file: read directly, or decompressed by libxml2's own gzip/xz reader (`.xml.gz`), which
/// is detected by the file's magic bytes, not its name.
final class FeedInput {
    let path: String
    private var fd: Int32 = -1
    private var compressed: xmlParserInputBufferPtr?
    private(set) var isCompressed = false

    init(path: String) throws(PluginError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PluginError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        var magic = [UInt8](repeating: 0, count: 6)
        let count = magic.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 6, 0) }
        let gzip = count >= 2 && magic[0] == 0x1F && magic[1] == 0x8B
        let xz = count >= 6 && magic == [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]
        if gzip || xz {
            _ = Glibc.close(fd)
            // libxml2's file input decompresses gzip (zlib) and xz (liblzma) transparently; only the bytes are used
            // here, the XML itself goes through the push parser like any other file.
            guard let buffer = xmlParserInputBufferCreateFilename(path, XML_CHAR_ENCODING_NONE), buffer.pointee.readcallback != nil else {
                throw PluginError.io("cannot open the compressed feed \(path) (libxml2 could not read it)")
            }
            compressed = buffer
            isCompressed = true
        } else {
            self.fd = fd
        }
    }

    deinit { close() }

    /// Reads up to `capacity` bytes; 0 at the end.
    func read(into buffer: UnsafeMutableRawPointer, capacity: Int) throws(PluginError) -> Int {
        if let compressed {
            // libxml2 reports decompression errors through its generic error handler (stderr by default); this
            // reader reports them itself, so silence the handler for this thread while reading.
            let savedHandler = __xmlGenericError().pointee
            let savedContext = __xmlGenericErrorContext().pointee
            xmlSetGenericErrorFunc(nil, silentGenericError)
            defer { xmlSetGenericErrorFunc(savedContext, savedHandler) }
            let count = compressed.pointee.readcallback(compressed.pointee.context, buffer.assumingMemoryBound(to: CChar.self), Int32(min(capacity, Int(Int32.max))))
            guard count >= 0 else { throw PluginError.io("cannot decompress \(path): the compressed data is damaged or cut off") }
            return Int(count)
        }
        while true {
            let count = Glibc.read(fd, buffer, capacity)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw PluginError.io("cannot read \(path): \(String(cString: strerror(errno)))")
        }
    }

    func close() {
        if let compressed {
            xmlFreeParserInputBuffer(compressed)
            self.compressed = nil
        }
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }
}

/// A libxml2 generic error handler that drops the message. libxml2's handler type is variadic, which Swift cannot
/// write, so it is typed as a plain two-argument C function and converted (variadic arguments are never read).
var silentGenericError: xmlGenericErrorFunc {
    unsafeBitCast(
        { (_: UnsafeMutableRawPointer?, _: UnsafePointer<CChar>?) in } as @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void,
        to: xmlGenericErrorFunc.self)
}

/// Replaces bytes that are not valid UTF-8 with '?' (one byte for one, so byte offsets stay true) and remembers
/// their offsets, so that the record holding them can be rejected instead of libxml2 failing the whole file.
/// Only used for documents in UTF-8 (no declaration, or `encoding="UTF-8"`): other encodings pass untouched.
struct UTF8Repair {
    /// Offsets (in the stream) of replaced bytes not yet claimed by a record.
    var invalidOffsets: [Int64] = []
    /// All bytes replaced in the file.
    var replacedCount = 0

    /// Checks `count` bytes at `bytes` (stream offset `offset`), repairing in place. Returns how many bytes are
    /// ready to parse: a multi-byte sequence cut by the end of the buffer is held back unless `final`.
    mutating func process(_ bytes: UnsafeMutablePointer<UInt8>, count: Int, offset: Int64, final: Bool) -> Int {
        var index = 0
        while index < count {
            // Fast path: eight ASCII bytes at a time.
            if index + 8 <= count {
                let word = UnsafeRawPointer(bytes + index).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 == 0 {
                    index += 8
                    continue
                }
            }
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            var need = 0
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: need = 1
            case 0xE0: need = 2; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: need = 2
            case 0xED: need = 2; high = 0x9F
            case 0xF0: need = 3; low = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4: need = 3; high = 0x8F
            default: need = -1
            }
            var valid = need > 0
            var available = 0
            if valid {
                for k in 1...need {
                    guard index + k < count else { break }
                    let byte = bytes[index + k]
                    let ok = k == 1 ? (byte >= low && byte <= high) : (byte >= 0x80 && byte <= 0xBF)
                    if !ok { valid = false; break }
                    available = k
                }
                if valid && available < need {
                    if !final { return index }  // complete it with the next buffer
                    valid = false
                }
            }
            if valid {
                index += need + 1
            } else {
                bytes[index] = UInt8(ascii: "?")
                invalidOffsets.append(offset + Int64(index))
                replacedCount += 1
                index += 1
            }
        }
        return count
    }

    /// Whether a document starting with these bytes is UTF-8 (so repairing applies).
    static func documentIsUTF8(_ start: UnsafeBufferPointer<UInt8>) -> Bool {
        if start.count >= 2, (start[0] == 0xFE && start[1] == 0xFF) || (start[0] == 0xFF && start[1] == 0xFE) { return false }
        if start.count >= 2, start[0] == 0 || start[1] == 0 { return false }
        if start.count >= 3, start[0] == 0xEF, start[1] == 0xBB, start[2] == 0xBF { return true }
        guard start.count >= 5, start[0] == UInt8(ascii: "<"), start[1] == UInt8(ascii: "?"), start[2] == UInt8(ascii: "x"),
            start[3] == UInt8(ascii: "m"), start[4] == UInt8(ascii: "l")
        else { return true }
        var end = 5
        while end + 1 < start.count, end < 400, !(start[end] == UInt8(ascii: "?") && start[end + 1] == UInt8(ascii: ">")) { end += 1 }
        let declaration = Array(start[0..<end]).map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        let key = Array("encoding".utf8)
        guard let at = (0...max(0, declaration.count - key.count)).first(where: { declaration.count >= key.count && Array(declaration[$0..<($0 + key.count)]) == key }) else {
            return true
        }
        var index = at + key.count
        while index < declaration.count, [0x20, 0x09, 0x3D, 0x22, 0x27].contains(declaration[index]) { index += 1 }
        var name: [UInt8] = []
        while index < declaration.count, ![0x22, 0x27, 0x20, 0x3F].contains(declaration[index]) {
            name.append(declaration[index])
            index += 1
        }
        return name == Array("utf-8".utf8) || name == Array("utf8".utf8)
    }
}

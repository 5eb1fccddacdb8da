#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `close(2)`, under a name the reader's own `close()` does not shadow.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}

/// Facts about an opened file, taken from the open descriptor (so they describe exactly what is read).
public struct FileFacts: Sendable, Hashable {
    /// Size in bytes.
    public var size: Int64
    /// Last modification, nanoseconds since the epoch.
    public var modifiedNanoseconds: Int64
    /// Device number.
    public var device: UInt64
    /// Inode number (changes when the file is replaced by a rename).
    public var inode: UInt64

    /// A short text that changes whenever the file is replaced or modified: a cheap cursor for file ingests.
    public func fingerprint(path: String) -> String {
        "file:v1 size=\(size) mtime_ns=\(modifiedNanoseconds) inode=\(inode) path=\(path)"
    }
}

/// Reads a text file line by line in large chunks, without loading it whole.
///
/// Lines end at LF; a CR before the LF is dropped (CRLF files), and a UTF-8 byte order mark at the start of the
/// file is skipped. The last line needs no final newline.
public final class LineReader {
    /// The path that was opened.
    public let path: String
    /// Size, modification time and identity of the opened file.
    public let facts: FileFacts

    private let fd: Int32
    private var buffer: UnsafeMutableRawBufferPointer
    private var closed = false

    /// Opens `path` for reading. Throws ``PluginError/Status/io`` naming the path when it cannot be opened or is not
    /// a regular file.
    public init(path: String, chunkSize: Int = 1 << 18) throws(PluginError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw PluginError.io("cannot open \(path): \(reason)")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            closeDescriptor(fd)
            throw PluginError.io("cannot read \(path): \(reason)")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            closeDescriptor(fd)
            let kind = (st.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a regular file"
            throw PluginError.io("\(path) is \(kind), not a file to read")
        }
        self.fd = fd
        facts = FileFacts(
            size: Int64(st.st_size),
            modifiedNanoseconds: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
            device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(chunkSize, 4096), alignment: 1)
    }

    deinit {
        buffer.deallocate()
        if !closed { closeDescriptor(fd) }
    }

    /// Calls `body` with each line's 1-based number and bytes (without the line ending; valid only during the
    /// call). Throws what `body` throws, or ``PluginError/Status/io`` when reading fails.
    public func forEachLine(_ body: (_ number: Int, _ line: UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        var filled = 0  // bytes of buffer in use: an incomplete line carried over plus new data
        var lineNumber = 0
        var atStart = true
        var endOfFile = false
        while !endOfFile {
            if filled == buffer.count {
                // A line longer than the buffer: grow it.
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 1)
                bigger.copyMemory(from: UnsafeRawBufferPointer(buffer))
                buffer.deallocate()
                buffer = bigger
            }
            let count = read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            if count < 0 {
                if errno == EINTR { continue }
                throw PluginError.io("cannot read \(path) after line \(lineNumber): \(String(cString: strerror(errno)))")
            }
            if count == 0 { endOfFile = true }
            filled += count
            let bytes = UnsafeBufferPointer(start: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count: filled)
            var start = 0
            if atStart {
                if filled < 3 && !endOfFile { continue }
                if filled >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
                atStart = false
            }
            var index = start
            while index < filled {
                if bytes[index] == 0x0A {
                    lineNumber += 1
                    var end = index
                    if end > start, bytes[end - 1] == 0x0D { end -= 1 }
                    try body(lineNumber, UnsafeBufferPointer(rebasing: bytes[start..<end]))
                    start = index + 1
                }
                index += 1
            }
            if endOfFile {
                if start < filled {
                    lineNumber += 1
                    var end = filled
                    if bytes[end - 1] == 0x0D { end -= 1 }
                    try body(lineNumber, UnsafeBufferPointer(rebasing: bytes[start..<end]))
                }
                break
            }
            // Keep the incomplete line at the front of the buffer.
            let rest = filled - start
            if start > 0, rest > 0 {
                buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: rest)
            }
            filled = rest
        }
    }

    /// Closes the file (also done when the reader is released).
    public func close() {
        guard !closed else { return }
        closed = true
        closeDescriptor(fd)
    }
}

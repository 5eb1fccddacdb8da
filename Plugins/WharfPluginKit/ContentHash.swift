#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A fast 128-bit content checksum of files, to recognise a feed file that was already imported.
///
/// It is two XXH64 hashes (seeds 0 and 0x9E3779B97F4A7C15) computed in one pass: not cryptographic — it detects
/// the same delivery again, it does not defend against someone forging a collision. Several GB/s, so hashing a
/// large feed before parsing it costs a fraction of the parse. Text form: `"xxh64x2:<32 hex digits>"`.
public struct ContentHash: Sendable {
    private var first = XXH64State(seed: 0)
    private var second = XXH64State(seed: 0x9E37_79B9_7F4A_7C15)

    /// A hasher with nothing hashed yet.
    public init() {}

    /// Adds bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        first.update(bytes)
        second.update(bytes)
    }

    /// The 128-bit checksum of everything added, as text (`"xxh64x2:…"`).
    public func finalize() -> String {
        "xxh64x2:" + Self.hex(first.digest()) + Self.hex(second.digest())
    }

    /// The XXH64 (seed 0) of everything added: the first half of the checksum, a published algorithm.
    public var xxh64: UInt64 { first.digest() }

    /// The checksum of a whole file, read in large chunks. Throws ``PluginError/Status/io`` naming the path.
    public static func ofFile(_ path: String) throws(PluginError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PluginError.io("cannot open \(path) to compute its checksum: \(String(cString: strerror(errno)))") }
        defer { _ = close(fd) }
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        var hash = ContentHash()
        while true {
            let count = read(fd, buffer.baseAddress, size)
            if count < 0 {
                if errno == EINTR { continue }
                throw PluginError.io("cannot read \(path) to compute its checksum: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            hash.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return hash.finalize()
    }

    /// The checksum of bytes in memory.
    public static func of(_ bytes: [UInt8]) -> String {
        var hash = ContentHash()
        bytes.withUnsafeBytes { hash.update($0) }
        return hash.finalize()
    }

    static func hex(_ value: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 16)
        for index in 0..<16 { out[index] = digits[Int((value >> UInt64(60 - index * 4)) & 0xF)] }
        return String(decoding: out, as: UTF8.self)
    }
}

// MARK: Not public

/// Streaming XXH64 (https://github.com/Cyan4973/xxHash, the 64-bit variant).
struct XXH64State: Sendable {
    static let p1: UInt64 = 11_400_714_785_074_694_791
    static let p2: UInt64 = 14_029_467_366_897_019_727
    static let p3: UInt64 = 1_609_587_929_392_839_161
    static let p4: UInt64 = 9_650_029_242_287_828_579
    static let p5: UInt64 = 2_870_177_450_012_600_261

    let seed: UInt64
    var v1, v2, v3, v4: UInt64
    var total: UInt64 = 0
    /// Up to 31 bytes not yet forming a whole 32-byte stripe.
    var pending: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    var pendingCount = 0

    init(seed: UInt64) {
        self.seed = seed
        v1 = seed &+ Self.p1 &+ Self.p2
        v2 = seed &+ Self.p2
        v3 = seed
        v4 = seed &- Self.p1
    }

    @inline(__always) static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
    @inline(__always) static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* p2, 31) &* p1
    }
    @inline(__always) static func merge(_ acc: UInt64, _ value: UInt64) -> UInt64 {
        (acc ^ round(0, value)) &* p1 &+ p4
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var pointer = bytes.baseAddress, bytes.count > 0 else { return }
        var remaining = bytes.count
        total &+= UInt64(remaining)
        if pendingCount > 0 {
            let take = min(32 - pendingCount, remaining)
            withUnsafeMutableBytes(of: &pending) { $0.baseAddress!.advanced(by: pendingCount).copyMemory(from: pointer, byteCount: take) }
            pendingCount += take
            pointer += take
            remaining -= take
            guard pendingCount == 32 else { return }
            let stripe = pending
            v1 = Self.round(v1, UInt64(littleEndian: stripe.0))
            v2 = Self.round(v2, UInt64(littleEndian: stripe.1))
            v3 = Self.round(v3, UInt64(littleEndian: stripe.2))
            v4 = Self.round(v4, UInt64(littleEndian: stripe.3))
            pendingCount = 0
        }
        var a = v1, b = v2, c = v3, d = v4
        while remaining >= 32 {
            a = Self.round(a, UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self)))
            b = Self.round(b, UInt64(littleEndian: pointer.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            c = Self.round(c, UInt64(littleEndian: pointer.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
            d = Self.round(d, UInt64(littleEndian: pointer.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
            pointer += 32
            remaining -= 32
        }
        v1 = a; v2 = b; v3 = c; v4 = d
        if remaining > 0 {
            withUnsafeMutableBytes(of: &pending) { $0.baseAddress!.copyMemory(from: pointer, byteCount: remaining) }
            pendingCount = remaining
        }
    }

    func digest() -> UInt64 {
        var h: UInt64
        if total >= 32 {
            h = Self.rotl(v1, 1) &+ Self.rotl(v2, 7) &+ Self.rotl(v3, 12) &+ Self.rotl(v4, 18)
            h = Self.merge(h, v1)
            h = Self.merge(h, v2)
            h = Self.merge(h, v3)
            h = Self.merge(h, v4)
        } else {
            h = seed &+ Self.p5
        }
        h &+= total
        var tail = pending
        let count = pendingCount
        withUnsafeBytes(of: &tail) { raw in
            var offset = 0
            while offset + 8 <= count {
                h ^= Self.round(0, UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
                h = Self.rotl(h, 27) &* Self.p1 &+ Self.p4
                offset += 8
            }
            if offset + 4 <= count {
                h ^= UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) &* Self.p1
                h = Self.rotl(h, 23) &* Self.p2 &+ Self.p3
                offset += 4
            }
            while offset < count {
                h ^= UInt64(raw[offset]) &* Self.p5
                h = Self.rotl(h, 11) &* Self.p1
                offset += 1
            }
        }
        h ^= h >> 33
        h &*= Self.p2
        h ^= h >> 29
        h &*= Self.p3
        h ^= h >> 32
        return h
    }
}

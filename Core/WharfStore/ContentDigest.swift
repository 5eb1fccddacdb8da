import WharfModel

// MARK: Not public

/// The digest stored in `products.content_digest`: 16 bytes that stand for a product's categories, media and texts,
/// or nil when it has none of them.
///
/// Why a digest rather than comparing rows: those three live in their own tables (one row per category link, medium
/// and language), and an import must tell "unchanged" without reading them back. With the digest on the product
/// row, the product's UPDATE compares it like any other column (`content_digest IS NOT ?`), so an unchanged
/// product still costs two index look-ups and no writes, and the child rows are rewritten only for a product that
/// changed. Reads skip the three tables when the digest is NULL (most ERP products).
///
/// The digest is SipHash-2-4 with two fixed keys over a canonical, length-prefixed encoding (categories and media in
/// order, texts by language tag in byte order). It is not a defence against someone crafting collisions — the
/// catalog's own feeds are not adversaries — and the chance that a real change collides is about 2^-128. Stored
/// digests must stay comparable: changing the encoding or the keys needs a migration that clears the column.
enum ContentDigest {
    /// The digest of `product`'s categories (already without repeats), media and texts; nil when all are empty.
    static func of(categories: [String], media: [String], texts: [String: LocalizedText]) -> [UInt8]? {
        if categories.isEmpty && media.isEmpty && texts.isEmpty { return nil }
        var bytes: [UInt8] = [1]  // encoding version
        bytes.reserveCapacity(64)
        for code in categories { append(0x63, code, to: &bytes) }  // "c"
        for url in media { append(0x6D, url, to: &bytes) }  // "m"
        for lang in texts.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let text = texts[lang]!
            append(0x74, lang, to: &bytes)  // "t"
            append(text.name == nil ? 0x30 : 0x6E, text.name ?? "", to: &bytes)  // "n" or "0" (absent)
            append(text.description == nil ? 0x30 : 0x64, text.description ?? "", to: &bytes)  // "d" or "0"
        }
        return bytes.withUnsafeBytes { raw in
            let a = SipHash24.hash(raw, k0: 0x5768_6172_6620_6469, k1: 0x6765_7374_2076_3161)
            let b = SipHash24.hash(raw, k0: 0x0F1E_2D3C_4B5A_6978, k1: 0x8796_A5B4_C3D2_E1F0)
            var out = [UInt8](repeating: 0, count: 16)
            for i in 0..<8 {
                out[i] = UInt8(truncatingIfNeeded: a >> (8 * UInt64(i)))
                out[8 + i] = UInt8(truncatingIfNeeded: b >> (8 * UInt64(i)))
            }
            return out
        }
    }

    /// A tag byte, the UTF-8 length as a LEB128 varint, and the bytes: no two lists encode alike.
    private static func append(_ tag: UInt8, _ text: String, to bytes: inout [UInt8]) {
        bytes.append(tag)
        var n = UInt64(text.utf8.count)
        repeat {
            bytes.append(UInt8(n & 0x7F) | (n > 0x7F ? 0x80 : 0))
            n >>= 7
        } while n > 0
        bytes.append(contentsOf: text.utf8)
    }
}

/// SipHash-2-4 (Aumasson and Bernstein), 64-bit output.
enum SipHash24 {
    static func hash(_ data: UnsafeRawBufferPointer, k0: UInt64, k1: UInt64) -> UInt64 {
        var v0 = k0 ^ 0x736f_6d65_7073_6575
        var v1 = k1 ^ 0x646f_7261_6e64_6f6d
        var v2 = k0 ^ 0x6c79_6765_6e65_7261
        var v3 = k1 ^ 0x7465_6462_7974_6573
        @inline(__always) func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }
        @inline(__always) func round() {
            v0 &+= v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
            v2 &+= v3; v3 = rotl(v3, 16); v3 ^= v2
            v0 &+= v3; v3 = rotl(v3, 21); v3 ^= v0
            v2 &+= v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
        }
        let count = data.count
        var i = 0
        while i + 8 <= count {
            let m = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            v3 ^= m
            round()
            round()
            v0 ^= m
            i += 8
        }
        var last = UInt64(truncatingIfNeeded: count) << 56
        var shift: UInt64 = 0
        while i < count {
            last |= UInt64(data[i]) << shift
            shift += 8
            i += 1
        }
        v3 ^= last
        round()
        round()
        v0 ^= last
        v2 ^= 0xFF
        round()
        round()
        round()
        round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

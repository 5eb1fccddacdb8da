import CSQLite
import WharfModel

/// A fingerprint of the commerce content of a database — sources, products with their categories, texts and
/// media, categories, base prices and stock — that leaves out when things were written.
///
/// Two databases with equal checksums hold the same catalog, prices and stock, whatever order, runs or retries
/// produced them: timestamps (`created_at`, `updated_at`), runs, rejects, logs, cursors and API keys are not part
/// of it. Used to check that an interrupted import that is run again converges on the state of an uninterrupted
/// one, and that a restored backup holds what was backed up.
///
/// The digest is 128 bits of SipHash-2-4 chained over a canonical encoding of every row in key order: good for
/// telling states apart, not a defence against someone crafting collisions.
public struct ContentChecksum: Sendable, Hashable, CustomStringConvertible {
    /// One kind of content: its name ("products"), row count and digest.
    public struct Part: Sendable, Hashable {
        /// What the part holds: "sources", "products", "base prices", "stock", "categories", "product categories",
        /// "product texts" or "product media".
        public var name: String
        /// Its number of rows.
        public var rows: Int64
        /// 32 hex digits over its rows in key order.
        public var digest: String
    }

    /// Every part, in a fixed order.
    public var parts: [Part]
    /// 32 hex digits over all parts: the one value to compare.
    public var digest: String

    /// The row count of the part called `name`, or nil when there is no such part.
    public func rows(of name: String) -> Int64? { parts.first { $0.name == name }?.rows }

    /// `<digest> (sources 2, products 100, …)`.
    public var description: String {
        digest + " (" + parts.map { "\($0.name) \($0.rows)" }.joined(separator: ", ") + ")"
    }
}

extension Store {
    /// The checksum of the database's commerce content, read in one read transaction (a consistent snapshot, on a
    /// reader: writers go on). Reads every content row, so it costs about as much as a full export.
    public func contentChecksum() throws(StoreError) -> ContentChecksum {
        try read("compute the content checksum") { db in
            try db.transaction(immediate: false) {
                var parts: [ContentChecksum.Part] = []
                var whole = ChecksumHasher()
                for part in Store.contentParts {
                    var hasher = ChecksumHasher()
                    var rows: Int64 = 0
                    let st = try db.statement("SELECT \(part.columns) FROM \(part.table) ORDER BY \(part.key)")
                    defer { st.reset() }
                    let columns = sqlite3_column_count(st.handle)
                    while try st.step() {
                        rows += 1
                        for column in 0..<columns { hasher.add(column: column, of: st) }
                    }
                    let digest = hasher.finish()
                    whole.add(text: part.name)
                    whole.add(integer: rows)
                    whole.add(bytes: digest)
                    parts.append(ContentChecksum.Part(name: part.name, rows: rows, digest: hex(digest)))
                }
                return ContentChecksum(parts: parts, digest: hex(whole.finish()))
            }
        }
    }

    /// The number of rows of each part of the content (the names of `ContentChecksum.Part`), in one read
    /// transaction. Much cheaper than `contentChecksum()`.
    public func contentCounts() throws(StoreError) -> [String: Int64] {
        try read("count the content") { db in
            try db.transaction(immediate: false) {
                var counts: [String: Int64] = [:]
                for part in Store.contentParts {
                    counts[part.name] = try db.scalarInt("SELECT count(*) FROM \(part.table)")
                }
                return counts
            }
        }
    }

    // MARK: Not public

    /// What the checksum covers: every content table with its columns minus timestamps, in key order. A migration
    /// that adds content columns or tables adds them here.
    static let contentParts: [(name: String, table: String, columns: String, key: String)] = [
        ("sources", "sources", "code, name, enabled", "code"),
        ("products", "products", "sku, name, description, status, attributes, content_digest", "sku"),
        ("base prices", "base_prices", "sku, currency, min_quantity, amount", "sku, currency, min_quantity"),
        ("stock", "inventory_source_items", "sku, source_code, quantity, status", "sku, source_code"),
        ("categories", "categories", "code, name, parent_code, position, names", "code"),
        ("product categories", "product_categories", "sku, position, category_code", "sku, position"),
        ("product texts", "product_texts", "sku, lang, name, description", "sku, lang"),
        ("product media", "product_media", "sku, position, url", "sku, position"),
    ]
}

/// 128 bits of SipHash-2-4, chained over 64 KiB chunks of a canonical encoding (a type tag per value, lengths
/// before bytes), so no two different row sequences encode alike.
struct ChecksumHasher {
    private var buffer: [UInt8] = []
    private var a: UInt64 = 0x5768_6172_6643_6865  // "WharfChe"
    private var b: UInt64 = 0x636B_7375_6D20_7631  // "cksum v1"
    private var total: UInt64 = 0

    init() { buffer.reserveCapacity(ChecksumHasher.chunk + 1024) }

    private static let chunk = 65_536

    mutating func add(column: Int32, of st: Statement) {
        switch sqlite3_column_type(st.handle, column) {
        case SQLITE_NULL:
            buffer.append(0)
        case SQLITE_INTEGER:
            buffer.append(1)
            appendFixed(UInt64(bitPattern: st.int64(column)))
        case SQLITE_FLOAT:
            buffer.append(2)
            appendFixed(sqlite3_column_double(st.handle, column).bitPattern)
        case SQLITE_TEXT:
            buffer.append(3)
            st.withTextBytes(column) { appendCounted($0) }
        default:
            buffer.append(4)
            let count = Int(sqlite3_column_bytes(st.handle, column))
            if let p = sqlite3_column_blob(st.handle, column) {
                appendCounted(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: count))
            } else {
                appendCounted(UnsafeBufferPointer(start: nil, count: 0))
            }
        }
        if buffer.count >= ChecksumHasher.chunk { flush() }
    }

    mutating func add(text: String) {
        var text = text
        text.withUTF8 { appendCounted($0) }
    }

    mutating func add(integer: Int64) { appendFixed(UInt64(bitPattern: integer)) }

    mutating func add(bytes: [UInt8]) { bytes.withUnsafeBufferPointer { appendCounted($0) } }

    /// The 16-byte digest of everything added.
    mutating func finish() -> [UInt8] {
        appendFixed(total + UInt64(buffer.count))
        flush()
        var out: [UInt8] = []
        for word in [a, b] { for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: word >> (8 * UInt64(i)))) } }
        return out
    }

    private mutating func appendFixed(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    private mutating func appendCounted(_ bytes: UnsafeBufferPointer<UInt8>) {
        var n = UInt64(bytes.count)
        repeat {
            buffer.append(UInt8(n & 0x7F) | (n > 0x7F ? 0x80 : 0))
            n >>= 7
        } while n > 0
        buffer.append(contentsOf: bytes)
    }

    private mutating func flush() {
        total += UInt64(buffer.count)
        let (x, y) = buffer.withUnsafeBytes { raw in
            (SipHash24.hash(raw, k0: a, k1: b), SipHash24.hash(raw, k0: b ^ 0x9E37_79B9_7F4A_7C15, k1: a ^ 0xC2B2_AE3D_27D4_EB4F))
        }
        a = x
        b = y
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Lower-case hex digits of `bytes`.
private func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

import Synchronization
import WharfABI

/// One source element (an XML record element, a line, a JSON object) a plugin maps into records, named by a 128-bit
/// digest of everything its records depend on, and its position in the ingest. The C form is
/// `wharf_element_digest` (see wharf_plugin.h and ``ElementDigestChannel``).
///
/// Equal digests must mean equal records: the host skips an element whose digest it already holds. So a digest
/// covers the element's content AND what shapes its records besides it (the mapping, the plugin's version,
/// document-level values), and never what varies without changing them (file name, line, byte offset).
public struct ElementDigest: Sendable, Hashable {
    /// The digest's high half.
    public var high: UInt64
    /// The digest's low half.
    public var low: UInt64
    /// 1-based position of the element in the ingest (across all its files), strictly increasing.
    public var sequence: UInt64

    /// An element digest; `high` and `low` should not both be zero (that means "no element" in C).
    public init(high: UInt64, low: UInt64, sequence: UInt64) {
        self.high = high
        self.low = low
        self.sequence = sequence
    }

    /// An element digest from an ``ElementHasher`` result.
    public init(_ digest: (high: UInt64, low: UInt64), sequence: UInt64) {
        self.init(high: digest.high, low: digest.low, sequence: sequence)
    }

    /// The C form.
    var c: wharf_element_digest { wharf_element_digest(digest_high: high, digest_low: low, sequence: sequence) }
}

/// A fast, stable, non-cryptographic 128-bit streaming hash for ``ElementDigest``s.
///
/// Stable: no per-process seed, the same on every platform (words are read little-endian), so a digest computed
/// today matches the one stored by yesterday's run. Not cryptographic: it tells unchanged content apart from changed
/// content, it does not defend against someone forging a collision (whoever can write the feed can change the data
/// anyway).
///
/// What it hashes is the sequence of calls, not a flat byte stream: each ``combine(bytes:)`` absorbs its length
/// before its bytes, so `("ab", "c")` and `("a", "bc")` differ. Callers hash a fixed layout (counts, then items) so
/// that no two different contents produce the same sequence of words.
///
/// How: two independent 64-bit lanes absorb every 64-bit word, each with its own multiply-rotate round (lane one
/// XXH64's round, lane two a different rotation, constants and combining step) and its own final avalanche. Each
/// round is a bijection of the lane for a fixed word and of the word for a fixed lane, so two inputs of the same
/// layout that differ in one word can never collide; other differences collide with a chance of about 2^-128.
/// About 5 GB/s on one core (one multiply per word per lane on the critical path).
public struct ElementHasher: Sendable {
    private var a: UInt64
    private var b: UInt64
    private var words: UInt64 = 0

    /// A hasher whose digests depend on `seed` (e.g. a digest of the mapping and the plugin's version).
    public init(seed: (UInt64, UInt64)) {
        a = seed.0 ^ 0x2D35_8DCC_AA6C_78A5
        b = seed.1 ^ 0x8BB8_4B93_962E_ACC9
    }

    /// Adds a length and then the bytes (the length frames them: see the type's comment).
    public mutating func combine(bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        absorb(UInt64(count))
        guard count > 0, let base = bytes.baseAddress else { return }
        var offset = 0
        while offset + 8 <= count {
            absorb(UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            offset += 8
        }
        if offset < count {
            // The length was absorbed first, so zero padding of the last word is unambiguous.
            var tail: UInt64 = 0
            withUnsafeMutableBytes(of: &tail) { $0.baseAddress!.copyMemory(from: base + offset, byteCount: count - offset) }
            absorb(UInt64(littleEndian: tail))
        }
    }

    /// Adds the UTF-8 of a text (framed by its length, as ``combine(bytes:)``).
    public mutating func combine(_ text: String) {
        var text = text
        text.withUTF8 { combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Adds one 64-bit word.
    @inline(__always)
    public mutating func combine(_ value: UInt64) {
        absorb(value)
    }

    /// The 128-bit digest of everything added; never `(0, 0)` (which means "no element" in C).
    public func finalize() -> (high: UInt64, low: UInt64) {
        // The word count goes in too, as a last safeguard against layouts that are not self-delimiting.
        var high = a ^ (words &* Self.p3)
        high ^= high >> 33
        high &*= Self.p2
        high ^= high >> 29
        high &*= Self.p3
        high ^= high >> 32
        var low = b &+ (words &* Self.q3)
        low ^= low >> 33
        low &*= 0xFF51_AFD7_ED55_8CCD
        low ^= low >> 33
        low &*= 0xC4CE_B9FE_1A85_EC53
        low ^= low >> 33
        if high == 0 && low == 0 { return (0, 1) }
        return (high, low)
    }

    // MARK: Not public

    static let p1: UInt64 = 11_400_714_785_074_694_791
    static let p2: UInt64 = 14_029_467_366_897_019_727
    static let p3: UInt64 = 1_609_587_929_392_839_161
    static let q1: UInt64 = 0xA076_1D64_78BD_642F
    static let q2: UInt64 = 0xE703_7ED1_A0B4_28DB
    static let q3: UInt64 = 0x8EBC_6AF0_9C88_C6E3

    @inline(__always)
    private mutating func absorb(_ word: UInt64) {
        // The products of the word are off the lanes' critical paths, so the two lanes run in parallel.
        let x = a &+ word &* Self.p2
        a = ((x << 31) | (x >> 33)) &* Self.p1
        let y = b ^ (word &* Self.q1)
        b = ((y << 27) | (y >> 37)) &* Self.q2
        words &+= 1
    }
}

/// The host's "wharf.element-digests.v1" service for one ingest: asks whether a source element may be skipped
/// because the host still holds exactly what its records wrote last time.
///
/// The protocol (wharf_plugin.h): ask about every element that has a digest, in increasing `sequence`, in the order
/// its records would be emitted. When the answer is true, neither map nor emit the element. Otherwise map it and
/// set ``Record/element`` on each of its records — on none of them when the plugin rejected part of the element.
///
/// Threading: any thread, while the ingest that made it runs (the producer thread of a ``ProducerPipeline`` may
/// ask). Calls must still come in sequence order, so ask from one thread. After the ingest returns every answer is
/// false.
public final class ElementDigestChannel: @unchecked Sendable {
    private let context: IngestContext
    private let skipFunction:
        @convention(c) (OpaquePointer?, UnsafePointer<wharf_element_digest>?, Int, UnsafeMutablePointer<UInt8>?) -> wharf_status
    private let warned = Atomic<Bool>(false)

    /// The channel for `context`, or nil when the host does not offer the extension (or offers an unusable table).
    init?(context: IngestContext) {
        let lookup = WHARF_EXT_ELEMENT_DIGESTS_V1.withCString { context.host.pointee.get_extension($0) }
        guard let lookup else { return nil }
        let table = lookup.assumingMemoryBound(to: wharf_element_digests_v1.self)
        let end = MemoryLayout<wharf_element_digests_v1>.offset(of: \wharf_element_digests_v1.skip_unchanged)!
            + MemoryLayout<UnsafeRawPointer?>.size
        guard Int(table.pointee.struct_size) >= end, let function = table.pointee.skip_unchanged else { return nil }
        self.context = context
        skipFunction = function
    }

    /// True when the host says the element may be skipped: neither map nor emit it. False (map and emit it) when
    /// the host does not hold it, when the ingest is over, or when the host refused the question (a zero digest, a
    /// sequence that does not increase, a store error) — the first refusal is logged as a warning.
    public func skipUnchanged(_ element: ElementDigest) -> Bool {
        guard context.isValid else { return false }
        var digest = element.c
        var skip: UInt8 = 0
        let status = skipFunction(context.raw, &digest, 1, &skip)
        guard status == WHARF_OK else {
            if !warned.exchange(true, ordering: .relaxed) {
                context.log(
                    .warning,
                    "the host refused to say whether element \(element.sequence) is unchanged (status \(PluginError.Status(rawValue: status))); it and any other refused element are imported in full")
            }
            return false
        }
        return skip != 0
    }
}

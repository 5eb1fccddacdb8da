/// SHA-256 (FIPS 180-4), written in Swift because Wharf takes no package dependencies and Foundation on Linux has
/// no public digest API.
///
/// Used to store API keys as hashes. It runs on every authenticated request, so it works on the caller's bytes in
/// place without allocating beyond the 32-byte result.
public enum SHA256 {
    /// The 32-byte digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBufferPointer { oneShot($0) }
    }

    /// The 32-byte digest of `text`'s UTF-8 bytes.
    public static func hash(_ text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { oneShot($0) }
    }

    /// The digest of `bytes` as 64 lowercase hex digits.
    public static func hex(_ bytes: [UInt8]) -> String { hexString(hash(bytes)) }

    /// The digest of `text`'s UTF-8 bytes as 64 lowercase hex digits.
    public static func hex(_ text: String) -> String { hexString(hash(text)) }

    /// Lowercase hex of any bytes (`[0xab, 0x01]` -> `"ab01"`).
    public static func hexString(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            for (i, byte) in bytes.enumerated() {
                out[2 * i] = digits[Int(byte >> 4)]
                out[2 * i + 1] = digits[Int(byte & 0x0F)]
            }
            return bytes.count * 2
        }
    }

    /// An incremental SHA-256: feed bytes in pieces with `update`, then `finalize` once.
    public struct Hasher: Sendable {
        private var state = State()
        private var pending: [UInt8] = []
        private var totalBytes: UInt64 = 0

        /// A hasher with nothing fed yet.
        public init() {}

        /// Feeds `bytes`.
        public mutating func update(_ bytes: [UInt8]) {
            bytes.withUnsafeBufferPointer { update($0) }
        }

        /// Feeds the bytes in `bytes`.
        public mutating func update(_ bytes: UnsafeBufferPointer<UInt8>) {
            guard var base = bytes.baseAddress else { return }
            var count = bytes.count
            totalBytes &+= UInt64(count)
            if !pending.isEmpty {
                let take = min(64 - pending.count, count)
                pending.append(contentsOf: UnsafeBufferPointer(start: base, count: take))
                base += take
                count -= take
                guard pending.count == 64 else { return }
                pending.withUnsafeBufferPointer { state.compress($0.baseAddress!) }
                pending.removeAll(keepingCapacity: true)
            }
            while count >= 64 {
                state.compress(base)
                base += 64
                count -= 64
            }
            pending.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
        }

        /// The 32-byte digest of everything fed. Call once.
        public mutating func finalize() -> [UInt8] {
            pending.withUnsafeBufferPointer { state.finish(tail: $0, totalBytes: totalBytes) }
            return state.digest()
        }
    }

    // MARK: Not public

    static func oneShot(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var state = State()
        let fullBlocks = bytes.count / 64
        if let base = bytes.baseAddress {
            for b in 0..<fullBlocks { state.compress(base + 64 * b) }
        }
        state.finish(tail: UnsafeBufferPointer(rebasing: bytes[(fullBlocks * 64)...]), totalBytes: UInt64(bytes.count))
        return state.digest()
    }

    /// The eight working words (FIPS 180-4 §5.3.3 initial values).
    struct State: Sendable {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
            0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
        )

        /// Pads the last partial block (`tail`, under 64 bytes) with the message length and compresses it.
        mutating func finish(tail: UnsafeBufferPointer<UInt8>, totalBytes: UInt64) {
            let blocks = tail.count < 56 ? 1 : 2
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { padded in
                padded.initialize(repeating: 0)
                for k in 0..<tail.count { padded[k] = tail[k] }
                padded[tail.count] = 0x80
                let bitLength = totalBytes &* 8
                let end = 64 * blocks
                for k in 0..<8 { padded[end - 1 - k] = UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(k))) }
                compress(padded.baseAddress!)
                if blocks == 2 { compress(padded.baseAddress! + 64) }
            }
        }

        func digest() -> [UInt8] {
            [UInt8](unsafeUninitializedCapacity: 32) { out, count in
                func put(_ i: Int, _ word: UInt32) {
                    out[4 * i] = UInt8(truncatingIfNeeded: word >> 24)
                    out[4 * i + 1] = UInt8(truncatingIfNeeded: word >> 16)
                    out[4 * i + 2] = UInt8(truncatingIfNeeded: word >> 8)
                    out[4 * i + 3] = UInt8(truncatingIfNeeded: word)
                }
                put(0, h.0); put(1, h.1); put(2, h.2); put(3, h.3)
                put(4, h.4); put(5, h.5); put(6, h.6); put(7, h.7)
                count = 32
            }
        }

        /// One 64-byte block (FIPS 180-4 §6.2.2).
        mutating func compress(_ block: UnsafePointer<UInt8>) {
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                for t in 0..<16 {
                    w[t] = UInt32(block[4 * t]) << 24 | UInt32(block[4 * t + 1]) << 16
                        | UInt32(block[4 * t + 2]) << 8 | UInt32(block[4 * t + 3])
                }
                for t in 16..<64 {
                    let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
                    let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
                    w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
                }
                var (a, b, c, d, e, f, g, hh) = h
                SHA256.roundConstants.withUnsafeBufferPointer { k in
                    for t in 0..<64 {
                        let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                        let ch = (e & f) ^ (~e & g)
                        let t1 = hh &+ s1 &+ ch &+ k[t] &+ w[t]
                        let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                        let maj = (a & b) ^ (a & c) ^ (b & c)
                        let t2 = s0 &+ maj
                        hh = g
                        g = f
                        f = e
                        e = d &+ t1
                        d = c
                        c = b
                        b = a
                        a = t1 &+ t2
                    }
                }
                h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e, h.5 &+ f, h.6 &+ g, h.7 &+ hh)
            }
        }
    }

    static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]
}

@inline(__always)
private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

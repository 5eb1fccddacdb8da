import WharfABI
import WharfPluginKit
import XCTest

final class ElementDigestTests: XCTestCase {
    private func digest(seed: (UInt64, UInt64) = (1, 2), _ parts: [String]) -> [UInt64] {
        var hasher = ElementHasher(seed: seed)
        for part in parts { hasher.combine(part) }
        let result = hasher.finalize()
        return [result.high, result.low]
    }

    private func digest(bytes: [UInt8]) -> [UInt64] {
        var hasher = ElementHasher(seed: (0, 0))
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        let result = hasher.finalize()
        return [result.high, result.low]
    }

    /// Digests are stored by one run and compared by the next (and by the next plugin version): a fixed input must
    /// give a fixed output on every platform and in every process. If this fails, every stored digest is void.
    func testHasherOutputIsPinned() {
        var hasher = ElementHasher(seed: (0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210))
        hasher.combine(42)
        hasher.combine("PRODUCT")
        hasher.combine("Tasse ☕ mit Henkel, 0,3 l — spülmaschinenfest")
        let result = hasher.finalize()
        XCTAssertEqual(String(result.high, radix: 16), "662d14bcb93a22e6")
        XCTAssertEqual(String(result.low, radix: 16), "c906c96916850607")
        XCTAssertEqual(digest(seed: (0, 0), []).map { String($0, radix: 16) }, ["e666169a9be1e223", "6045234dae3bae30"])
    }

    /// Flipping any one byte of inputs of every length from 1 to 70 bytes (across the 8-byte word and tail
    /// boundaries) gives a new digest in both halves, and no two of all these inputs share a digest.
    func testHasherSeesEveryByte() {
        var seen: Set<[UInt64]> = []
        var inputs = 0
        for length in 0...70 {
            let base = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let original = digest(bytes: base)
            XCTAssertTrue(seen.insert(original).inserted, "length \(length) collided")
            inputs += 1
            for position in 0..<length {
                for bit in [0, 7] {
                    var changed = base
                    changed[position] ^= UInt8(1 << bit)
                    let other = digest(bytes: changed)
                    XCTAssertNotEqual(other[0], original[0], "length \(length), byte \(position), bit \(bit): high half unchanged")
                    XCTAssertNotEqual(other[1], original[1], "length \(length), byte \(position), bit \(bit): low half unchanged")
                    seen.insert(other)
                    inputs += 1
                }
            }
        }
        XCTAssertEqual(seen.count, inputs)
    }

    /// Lengths frame each part: moving a boundary, adding an empty part or a trailing zero byte changes the digest.
    func testHasherSeesBoundaries() {
        let variants: [[UInt64]] = [
            digest(["ab", "c"]), digest(["a", "bc"]), digest(["abc"]), digest(["abc", ""]), digest(["", "abc"]),
            digest(["abc\u{0}"]), digest([]), digest([""]), digest(["", ""]),
            digest(seed: (1, 3), ["ab", "c"]), digest(seed: (2, 2), ["ab", "c"]),
        ]
        XCTAssertEqual(Set(variants).count, variants.count, "\(variants)")
        // A whole word and the same bytes as a framed part are different streams.
        var word = ElementHasher(seed: (1, 2))
        word.combine(UInt64(0x6362_61))
        XCTAssertNotEqual(digest(["abc"]), [word.finalize().high, word.finalize().low])
    }

    /// (0, 0) means "no element" in C. The seed that zeroes both lanes, with nothing added, reaches the state whose
    /// digest would be (0, 0): the hasher must answer something else.
    func testHasherNeverAnswersZero() {
        let hasher = ElementHasher(seed: (0x2D35_8DCC_AA6C_78A5, 0x8BB8_4B93_962E_ACC9))
        let result = hasher.finalize()
        XCTAssertFalse(result.high == 0 && result.low == 0)
    }

    // MARK: Through a host

    private func ingest(_ host: UnsafePointer<wharf_host_api>, config: String, prepare: (FakeRun) -> Void = { _ in }) -> FakeRun {
        let descriptor = PluginExport.descriptor(for: EchoPlugin.self, hostMajor: 1, hostMinor: 1, host: host)!
        let run = FakeRun()
        run.configJSON = config
        prepare(run)
        var instance: UnsafeMutableRawPointer?
        XCTAssertEqual(descriptor.pointee.create!(host, run.context, &instance), WHARF_OK, run.lastError ?? "")
        defer { descriptor.pointee.destroy!(instance) }
        XCTAssertEqual(descriptor.pointee.ingest!(instance, run.context), WHARF_OK, run.lastError ?? "")
        return run
    }

    /// The producer thread asks; skipped elements are not emitted; the others reach the host with their digest in
    /// `wharf_record.element` (prepared and added batches alike), an untagged record with zeros.
    func testSkippedElementsAreNotEmittedAndTheOthersCarryTheirDigest() {
        let run = ingest(fakeHostWithElementDigests, config: #"{"mode": "elements", "count": 7, "batch_size": 2}"#) { run in
            run.skippable = [[2, 1002], [5, 1005]]
        }
        XCTAssertEqual(run.askedElements.map(\.sequence), [1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(run.askedElements.map(\.low), [1001, 1002, 1003, 1004, 1005, 1006, 1007])
        let records = run.emits.flatMap(\.records)
        XCTAssertEqual(records.map { $0["sku"] ?? "?" }, ["S1", "S3", "S4", "S6", "S7", "UNTAGGED"])
        XCTAssertEqual(
            records.map(\.element),
            [1, 3, 4, 6, 7].map { ElementDigest(high: UInt64($0), low: UInt64(1000 + $0), sequence: UInt64($0)) } + [nil])
        XCTAssertEqual(Set(run.rawRecordSizes), [UInt32(MemoryLayout<wharf_record>.size)])
        XCTAssertTrue(run.logs.isEmpty, "\(run.logs)")
    }

    /// A host that refuses the question skips nothing; the refusal is logged once, not once per element.
    func testARefusedQuestionSkipsNothingAndWarnsOnce() {
        let run = ingest(fakeHostWithElementDigests, config: #"{"mode": "elements", "count": 4}"#) { run in
            run.skippable = [[2, 1002]]
            run.skipStatus = WHARF_ERR_INVALID
        }
        XCTAssertEqual(run.askedElements.count, 4)
        XCTAssertEqual(run.emits.flatMap(\.records).map { $0["sku"] ?? "?" }, ["S1", "S2", "S3", "S4", "UNTAGGED"])
        XCTAssertEqual(run.logs.count, 1)
        XCTAssertEqual(run.logs.first?.level, WHARF_LOG_WARNING.rawValue)
        XCTAssertTrue(run.logs.first?.message.contains("element 1 ") == true, run.logs.first?.message ?? "")
    }

    /// Without the extension there is no channel (the plugin then imports everything untagged).
    func testAHostWithoutTheExtensionHasNoChannel() {
        let run = ingest(fakeHost, config: #"{"mode": "elements", "count": 3}"#)
        XCTAssertEqual(run.emits.flatMap(\.records).map { $0["sku"] ?? "?" }, ["NO-CHANNEL"])
        XCTAssertEqual(run.emits.flatMap(\.records).map(\.element), [nil])
    }
}

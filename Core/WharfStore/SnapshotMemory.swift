import CSQLite
import Glibc

extension Store {
    // MARK: Not public

    /// The (source, SKU) keys that the open full inventory snapshots of one writer connection have delivered, kept
    /// in memory (see `Snapshots`).
    ///
    /// Why: remembering each stock row with an INSERT into a TEMP B-tree cost about 10,000 instructions per row, a
    /// quarter of an unchanged import. Here a row costs an append to a byte arena (see `SeenKeys`). The keys are
    /// exact (compared byte for byte), stored compactly in one byte arena per run (source number, SKU length, SKU
    /// bytes — about 13 bytes for a typical SKU) plus a 4-byte slot in the table the finishing pass looks keys up
    /// in; a run that would take more than `limitBytes` puts its further keys into `temp.snapshot_seen` instead (the
    /// spill), so memory stays flat for snapshots of any size.
    ///
    /// Transactions: the arena only grows while a batch is applied, and the batch records the arena's length in
    /// `temp.snapshot_runs.seen_bytes` inside its own transaction (or savepoint). Every batch and the finish pass
    /// first call `sync`, which cuts the arena back to the length SQLite says was committed, so a batch that rolled
    /// back — on its own, or with a whole `onError: fail` run transaction — forgets its keys, as the TEMP rows did.
    ///
    /// Threading: owned by the writer connection; used only under the store's writer lock (and from the
    /// `wharf_snapshot_seen` SQL function that the finishing UPDATE calls on that same connection).
    final class SnapshotMemory {
        /// The most bytes (arena plus table) one run keeps in memory before spilling to `temp.snapshot_seen`.
        var limitBytes: Int

        /// The memory of each open snapshot, by run.
        private(set) var runs: [Int64: SeenKeys] = [:]

        /// 48 MiB by default: two million keys of 11-byte SKUs fit, which is about what the TEMP table's page cache
        /// (no longer filled by a snapshot that stays in memory) used to take.
        init(limitBytes: Int = 48 << 20) {
            self.limitBytes = limitBytes
        }

        /// What `sync` found.
        enum SyncOutcome {
            /// The run's memory matches what SQLite committed.
            case ready(SeenKeys)
            /// SQLite says keys were committed that this memory no longer holds (the snapshot was forgotten inside a
            /// transaction that then rolled back): the snapshot cannot be finished safely.
            case lost
        }

        /// Brings the memory of `runID` in line with `recordedBytes`, the arena length stored in SQLite: cuts back
        /// keys of rolled-back batches, creates the memory of a snapshot that has none yet.
        func sync(runID: Int64, recordedBytes: Int64) -> SyncOutcome {
            if let keys = runs[runID] {
                if Int64(keys.arenaCount) == recordedBytes { return .ready(keys) }
                if Int64(keys.arenaCount) > recordedBytes {
                    keys.truncate(toArenaCount: Int(recordedBytes))
                    return .ready(keys)
                }
                return .lost
            }
            guard recordedBytes == 0 else { return .lost }
            let keys = SeenKeys(limitBytes: limitBytes)
            runs[runID] = keys
            return .ready(keys)
        }

        /// Forgets the memory of `runID`.
        func forget(runID: Int64) { runs[runID] = nil }

        /// Forgets the memory of every run.
        func forgetAll() { runs.removeAll() }

        /// Registers `wharf_snapshot_seen(run_id, source_code, sku)` on `db`: 1 when the run's memory holds the key,
        /// else 0 (spilled keys are not looked up here; the finishing UPDATE checks `temp.snapshot_seen` for them).
        func register(on db: Connection) throws(SQLiteError) {
            guard let handle = db.handle else { throw db.error(SQLITE_MISUSE) }
            let function: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = {
                context, count, values in
                guard let context, count == 3, let values, let user = sqlite3_user_data(context) else { return }
                let memory = Unmanaged<SnapshotMemory>.fromOpaque(user).takeUnretainedValue()
                let runID = sqlite3_value_int64(values[0])
                var seen = false
                if let keys = memory.runs[runID] {
                    let source = UnsafeBufferPointer(
                        start: sqlite3_value_text(values[1]), count: Int(sqlite3_value_bytes(values[1])))
                    let sku = UnsafeBufferPointer(
                        start: sqlite3_value_text(values[2]), count: Int(sqlite3_value_bytes(values[2])))
                    if let sourceNumber = keys.sourceNumber(bytes: source) {
                        seen = keys.contains(source: sourceNumber, sku: sku)
                    }
                }
                sqlite3_result_int(context, seen ? 1 : 0)
            }
            let rc = sqlite3_create_function_v2(
                handle, "wharf_snapshot_seen", 3, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                Unmanaged.passUnretained(self).toOpaque(), function, nil, nil, nil)
            guard rc == SQLITE_OK else { throw db.error(rc) }
        }
    }

    /// The keys of one run: an append-only arena of entries (source number and SKU length as LEB128, then the SKU
    /// bytes) and, built on the first look-up, an open-addressing table (linear probing) of slots that hold an arena
    /// offset + 1 (0 meaning empty) in their low 26 bits and 6 bits of the key's hash in their high bits.
    ///
    /// Why appending without a look-up: the keys are only asked for by the finishing pass, so a run pays one table
    /// build instead of a probe per stock row plus a rehash at every doubling (random memory traffic over tens of
    /// megabytes). A key delivered twice is simply stored twice. The hash bits in a slot let a probe that meets
    /// another key tell it apart without reading the arena.
    final class SeenKeys {
        /// Entries in the arena (a key delivered twice counts twice).
        private(set) var count = 0
        /// Whether some key did not fit and went to `temp.snapshot_seen`.
        var spilled = false
        /// The arena's length in bytes, recorded in SQLite after each batch.
        var arenaCount: Int { arena.count }

        private let limitBytes: Int
        private var arena: [UInt8] = []
        /// The look-up table, empty until the first look-up; covers the arena up to `indexedBytes`.
        private var table: [UInt32] = []
        private var indexedBytes = 0
        /// The sources seen, by number (few per snapshot: warehouses).
        private var sources: [[UInt8]] = []
        private var sourceNumbers: [String: Int] = [:]

        /// Arena offsets + 1 must fit the slot's low bits.
        private static let offsetBits = 26
        private static let offsetMask: UInt32 = (1 << 26) - 1

        init(limitBytes: Int) {
            self.limitBytes = limitBytes
        }

        /// What `insert` did.
        enum Insertion: Equatable {
            case added
            /// Memory is full: the caller stores the key in `temp.snapshot_seen`.
            case full
        }

        /// The number of `source`, adding it when new.
        func sourceNumber(_ source: String) -> Int {
            if let n = sourceNumbers[source] { return n }
            let n = sources.count
            sources.append(Array(source.utf8))
            sourceNumbers[source] = n
            return n
        }

        /// The number of a source given as UTF-8 bytes, or nil when the run never saw it.
        func sourceNumber(bytes: UnsafeBufferPointer<UInt8>) -> Int? {
            for (n, source) in sources.enumerated() where source.count == bytes.count {
                if source.withUnsafeBufferPointer({ $0.elementsEqual(bytes) }) { return n }
            }
            return nil
        }

        /// Adds (source, sku) unless memory is full.
        func insert(source: Int, sku: String) -> Insertion {
            var sku = sku
            return sku.withUTF8 { bytes in insert(source: source, sku: bytes) }
        }

        /// Adds (source, sku bytes) unless memory is full (counting the table the finishing pass will build).
        func insert(source: Int, sku: UnsafeBufferPointer<UInt8>) -> Insertion {
            let entryBytes = Self.lengthOfLEB(source) + Self.lengthOfLEB(sku.count) + sku.count
            let tableBytes = Self.capacity(for: count + 1) * MemoryLayout<UInt32>.stride
            guard arena.count + entryBytes + tableBytes <= limitBytes,
                arena.count + entryBytes < Int(Self.offsetMask)
            else { return .full }
            Self.appendLEB(source, to: &arena)
            Self.appendLEB(sku.count, to: &arena)
            arena.append(contentsOf: sku)
            count += 1
            return .added
        }

        /// Whether memory holds (source, sku).
        func contains(source: Int, sku: UnsafeBufferPointer<UInt8>) -> Bool {
            if indexedBytes < arena.count || table.isEmpty { index() }
            let hash = Self.hash(source: source, sku: sku)
            let tag = Self.tag(hash)
            let mask = table.count - 1
            return table.withUnsafeBufferPointer { table in
                var slot = Int(truncatingIfNeeded: hash) & mask
                while table[slot] != 0 {
                    let entry = table[slot]
                    if entry & ~Self.offsetMask == tag
                        && matches(offset: Int(entry & Self.offsetMask) - 1, source: source, sku: sku)
                    {
                        return true
                    }
                    slot = (slot + 1) & mask
                }
                return false
            }
        }

        /// Whether memory holds (source, sku).
        func contains(source: String, sku: String) -> Bool {
            guard let number = sourceNumbers[source] else { return false }
            var sku = sku
            return sku.withUTF8 { contains(source: number, sku: $0) }
        }

        /// Drops the entries from arena offset `length` on (the keys of batches SQLite rolled back).
        func truncate(toArenaCount length: Int) {
            guard length < arena.count else { return }
            arena.removeSubrange(length...)
            var entries = 0
            var offset = 0
            while offset < arena.count {
                entries += 1
                offset = entryEnd(at: offset)
            }
            count = entries
            table = []
            indexedBytes = 0
        }

        // MARK: Entries

        /// Slots for `entries` keys at a load of at most 3/4 (at least 1024).
        private static func capacity(for entries: Int) -> Int {
            var capacity = 1024
            while entries * 4 > capacity * 3 { capacity *= 2 }
            return capacity
        }

        private func entryEnd(at offset: Int) -> Int {
            arena.withUnsafeBufferPointer { arena in
                var position = offset
                _ = Self.readLEB(arena, &position)
                let length = Self.readLEB(arena, &position)
                return position + length
            }
        }

        private func matches(offset: Int, source: Int, sku: UnsafeBufferPointer<UInt8>) -> Bool {
            arena.withUnsafeBufferPointer { arena in
                var position = offset
                guard Self.readLEB(arena, &position) == source, Self.readLEB(arena, &position) == sku.count else {
                    return false
                }
                guard sku.count > 0 else { return true }
                return memcmp(arena.baseAddress! + position, sku.baseAddress!, sku.count) == 0
            }
        }

        /// Brings the table up to date with the arena: adds the entries appended since the last look-up, or rebuilds
        /// it at a larger size when they would fill it beyond 3/4.
        private func index() {
            let capacity = Self.capacity(for: count)
            var offset = indexedBytes
            if capacity != table.count {
                table = [UInt32](repeating: 0, count: capacity)
                offset = 0
            }
            let mask = capacity - 1
            arena.withUnsafeBufferPointer { arena in
                table.withUnsafeMutableBufferPointer { table in
                    while offset < arena.count {
                        var position = offset
                        let source = Self.readLEB(arena, &position)
                        let length = Self.readLEB(arena, &position)
                        let hash = Self.hash(source: source, sku: UnsafeBufferPointer(rebasing: arena[position..<position + length]))
                        var slot = Int(truncatingIfNeeded: hash) & mask
                        while table[slot] != 0 { slot = (slot + 1) & mask }
                        table[slot] = Self.tag(hash) | UInt32(offset + 1)
                        offset = position + length
                    }
                }
            }
            indexedBytes = arena.count
        }

        /// FNV-1a over the SKU bytes, seeded with the source number, with a final mix so the low bits (the slot)
        /// depend on every byte.
        static func hash(source: Int, sku: UnsafeBufferPointer<UInt8>) -> UInt64 {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(truncatingIfNeeded: source &* 0x9E37_79B9)
            for byte in sku {
                h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
            h ^= h >> 33
            h = h &* 0xff51_afd7_ed55_8ccd
            h ^= h >> 33
            return h
        }

        /// The tag of a hash, in a slot's high bits: its top bits, which the slot number (its low bits) does not use.
        @inline(__always)
        private static func tag(_ hash: UInt64) -> UInt32 {
            UInt32(truncatingIfNeeded: hash >> 58) << UInt32(offsetBits)
        }

        private static func lengthOfLEB(_ value: Int) -> Int {
            var n = 1
            var v = value >> 7
            while v > 0 { n += 1; v >>= 7 }
            return n
        }

        private static func appendLEB(_ value: Int, to bytes: inout [UInt8]) {
            var v = value
            while v >= 0x80 {
                bytes.append(UInt8(v & 0x7F) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }

        @inline(__always)
        private static func readLEB(_ bytes: UnsafeBufferPointer<UInt8>, _ position: inout Int) -> Int {
            var value = 0
            var shift = 0
            while true {
                let byte = bytes[position]
                position += 1
                value |= Int(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }
    }
}

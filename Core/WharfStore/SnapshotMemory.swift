import CSQLite
import Glibc

extension Store {
    // MARK: Not public

    /// The (source, SKU) keys that the open full inventory snapshots of one writer connection have delivered, kept
    /// in memory (see `Snapshots`).
    ///
    /// Why: remembering each stock row with an INSERT into a TEMP B-tree cost about 10,000 instructions per row, a
    /// quarter of an unchanged import. Here a row costs a hash and a probe of an open-addressing table. The keys are
    /// exact (compared byte for byte), stored compactly in one byte arena per run (source number, SKU length, SKU
    /// bytes — about 13 bytes for a typical SKU) plus a 5-byte table slot (arena offset and an 8-bit hash tag); a
    /// run that would take more than `limitBytes` puts its further keys into `temp.snapshot_seen` instead (the
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
    /// bytes) and an open-addressing table (linear probing) of arena offsets + 1, 0 meaning empty.
    final class SeenKeys {
        /// Entries in the arena (distinct keys).
        private(set) var count = 0
        /// Whether some key did not fit and went to `temp.snapshot_seen`.
        var spilled = false
        /// The arena's length in bytes, recorded in SQLite after each batch.
        var arenaCount: Int { arena.count }

        private let limitBytes: Int
        private var arena: [UInt8] = []
        private var table = [UInt32](repeating: 0, count: 1024)
        /// Per slot, 8 bits of the key's hash: a probe that meets another key usually tells it apart here, without
        /// reading the arena (a cache miss per probe once the arena outgrows the CPU caches).
        private var tags = [UInt8](repeating: 0, count: 1024)
        /// Bytes a table slot costs: its offset and its tag.
        private static let slotBytes = MemoryLayout<UInt32>.stride + 1
        /// The sources seen, by number (few per snapshot: warehouses).
        private var sources: [[UInt8]] = []
        private var sourceNumbers: [String: Int] = [:]

        init(limitBytes: Int) {
            self.limitBytes = limitBytes
        }

        /// What `insert` did.
        enum Insertion: Equatable {
            case added, present
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

        /// Adds (source, sku) unless present or memory is full.
        func insert(source: Int, sku: String) -> Insertion {
            var sku = sku
            return sku.withUTF8 { bytes in insert(source: source, sku: bytes) }
        }

        /// Adds (source, sku bytes) unless present or memory is full.
        func insert(source: Int, sku: UnsafeBufferPointer<UInt8>) -> Insertion {
            let hash = Self.hash(source: source, sku: sku)
            let tag = Self.tag(hash)
            var slot = Int(truncatingIfNeeded: hash) & (table.count - 1)
            while table[slot] != 0 {
                if tags[slot] == tag && matches(offset: Int(table[slot] - 1), source: source, sku: sku) { return .present }
                slot = (slot + 1) & (table.count - 1)
            }
            let entryBytes = Self.lengthOfLEB(source) + Self.lengthOfLEB(sku.count) + sku.count
            let grows = (count + 1) * 4 > table.count * 3
            let tableBytes = (grows ? table.count * 2 : table.count) * Self.slotBytes
            guard arena.count + entryBytes + tableBytes <= limitBytes, arena.count + entryBytes < Int(UInt32.max) else {
                return .full
            }
            let offset = arena.count
            Self.appendLEB(source, to: &arena)
            Self.appendLEB(sku.count, to: &arena)
            arena.append(contentsOf: sku)
            count += 1
            if grows {
                rebuildTable(capacity: table.count * 2)
            } else {
                table[slot] = UInt32(offset + 1)
                tags[slot] = tag
            }
            return .added
        }

        /// Whether memory holds (source, sku).
        func contains(source: Int, sku: UnsafeBufferPointer<UInt8>) -> Bool {
            let hash = Self.hash(source: source, sku: sku)
            let tag = Self.tag(hash)
            var slot = Int(truncatingIfNeeded: hash) & (table.count - 1)
            while table[slot] != 0 {
                if tags[slot] == tag && matches(offset: Int(table[slot] - 1), source: source, sku: sku) { return true }
                slot = (slot + 1) & (table.count - 1)
            }
            return false
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
            var capacity = 1024
            var entries = 0
            var offset = 0
            while offset < arena.count {
                entries += 1
                offset = entryEnd(at: offset)
            }
            while entries * 4 > capacity * 3 { capacity *= 2 }
            count = entries
            rebuildTable(capacity: capacity)
        }

        // MARK: Entries

        private func entryEnd(at offset: Int) -> Int {
            var position = offset
            _ = Self.readLEB(arena, &position)
            let length = Self.readLEB(arena, &position)
            return position + length
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

        private func rebuildTable(capacity: Int) {
            table = [UInt32](repeating: 0, count: capacity)
            tags = [UInt8](repeating: 0, count: capacity)
            var offset = 0
            while offset < arena.count {
                var position = offset
                let source = Self.readLEB(arena, &position)
                let length = Self.readLEB(arena, &position)
                let hash = arena.withUnsafeBufferPointer {
                    Self.hash(source: source, sku: UnsafeBufferPointer(rebasing: $0[position..<position + length]))
                }
                var slot = Int(truncatingIfNeeded: hash) & (capacity - 1)
                while table[slot] != 0 { slot = (slot + 1) & (capacity - 1) }
                table[slot] = UInt32(offset + 1)
                tags[slot] = Self.tag(hash)
                offset = position + length
            }
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

        /// The tag of a hash: its top bits, which the slot (its low bits) does not use.
        @inline(__always)
        private static func tag(_ hash: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: hash >> 56) }

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

        private static func readLEB(_ bytes: [UInt8], _ position: inout Int) -> Int {
            bytes.withUnsafeBufferPointer { readLEB($0, &position) }
        }
    }
}

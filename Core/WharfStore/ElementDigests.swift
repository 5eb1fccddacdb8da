import CSQLite
import Foundation
import WharfModel

extension Store {
    /// The source element (an XML record element, a line) a record was mapped from, named by the plugin's digest of
    /// everything the element's records depend on (see wharf_plugin.h, `wharf_element_digest`).
    public struct ElementTag: Sendable, Hashable {
        /// The digest's high half.
        public var high: UInt64
        /// The digest's low half.
        public var low: UInt64
        /// 1-based position of the element in its run, strictly increasing.
        public var sequence: UInt64

        /// A tag; `high` and `low` both zero mean "no element".
        public init(high: UInt64, low: UInt64, sequence: UInt64) {
            self.high = high
            self.low = low
            self.sequence = sequence
        }

        /// Whether this names an element (a digest that is not all zero).
        public var isElement: Bool { high != 0 || low != 0 }
    }

    /// What an ingest run skipped as unchanged, by entity: the records the skipped elements produced last time.
    public struct SkippedRecords: Sendable, Hashable {
        /// Skipped elements.
        public var elements: Int64 = 0
        /// Their product records.
        public var products: Int64 = 0
        /// Their price records.
        public var prices: Int64 = 0
        /// Their stock records.
        public var stock: Int64 = 0

        /// Nothing skipped.
        public init() {}

        /// All their records.
        public var records: Int64 { products + prices + stock }
    }

    /// The element digests of one connector during one ingest run: which source elements the store already holds
    /// exactly, so the plugin may skip them without mapping or emitting them (the "wharf.element-digests.v1"
    /// extension of the plugin ABI).
    ///
    /// The rule that keeps a skip safe: a digest is in `element_digests` only while every row its element's records
    /// wrote still holds exactly what they wrote. Each element written gets an owner id (the id its digest row will
    /// have; ids come from `element_ids` in blocks, so concurrent runs never share one), each product, base price and
    /// stock row names the element that last wrote it (`element_owner`, NULL for any other writer), and every write
    /// that changes a row's owner — the REST API, another connector, another element, a snapshot's zeroing, a delete
    /// — revokes the old owner's digest in the same transaction (`element_revoked`). A digest is recorded only once all of its
    /// element's records were stored without a reject, in the transaction of the batch that ends the element (or at
    /// the run's end). The digests of a connector also depend on its host-side settings (`settings`): when those
    /// differ from the ones the digests were recorded under, they are all dropped.
    ///
    /// Why small ids rather than the digest as owner: a random 64-bit value takes 8 bytes in every catalog row and,
    /// as a key, scatters a batch's digest inserts over the whole table; sequential ids take 3 or 4 bytes. The
    /// digests of a batch are stored packed in one row, appended.
    ///
    /// Order within a run: the plugin asks ahead of the writer (its parser runs on another thread). When an element
    /// being written would take over a row whose owner was already answered "skip" with a LATER sequence, the row is
    /// left to that later element — which is what applying both in order would have left — and the earlier element
    /// is not recorded.
    ///
    /// Memory: the connector's digests are loaded on the first question, 40 bytes a digest plus 8 to 16 bytes of
    /// hash table (about 50 MB for a million elements).
    ///
    /// Threading: `skipUnchanged` may be called from any thread; the writer-side methods run under the store's
    /// writer lock. One lock guards the shared state.
    public final class ElementLedger: @unchecked Sendable, Hashable {
        /// The connector whose run this is.
        public let connector: String
        /// The host-side settings the digests depend on (plugin id and version, inventory policy, …), as text.
        public let settings: String
        private let store: Store
        private let lock = NSLock()

        // Shared (under `lock`).
        private var loaded = false
        /// The connector's digests, sorted by id (as loaded).
        private var entries: [Entry] = []
        /// An open-addressing table (linear probing) over `entries` by high half: slots hold an index + 1, 0 is
        /// empty. Why not a binary search: twenty dependent cache misses per element cost 0.8 s per million.
        private var byHigh: [UInt32] = []
        /// Owners revoked before the digests were loaded: applied to them when they are.
        private var revokedBeforeLoad: Set<Int64> = []
        private var sourceSets: [Int: [String]] = [:]
        private var skipped = SkippedRecords()
        private var skippedSourceSets: Set<Int> = []
        private var lastAsked: UInt64 = 0
        /// The last `element_revoked.seq` taken into account: later revocations (by other writers, in this process
        /// or another) are read every `revocationPollInterval` questions and before a snapshot is finished.
        private var revokedSeq: Int64 = 0
        private var questionsSincePoll = 0
        /// Questions between two reads of new revocations (a test makes it 1).
        var revocationPollInterval = 1024
        /// The most digests a run loads (about 50 bytes each in memory): 4 million, ~200 MB. A connector with more
        /// skips nothing (`tooManyDigests`).
        public var maxLoadedDigests = 4_000_000
        /// How many digests the connector had when there were more than `maxLoadedDigests` (nil otherwise).
        public private(set) var tooManyDigests: Int?
        /// Owner ids this run's own writer revoked (its elements taking rows over).
        private var ownRevoked: Set<Int64> = []
        /// Set when another writer took a row of an element this run skipped: the run can no longer tell all the
        /// rows its skipped elements delivered, so its snapshot must not zero anything.
        private(set) var skippedRowsTaken = false
        /// Set when a full snapshot of this run zeroed nothing because of `skippedRowsTaken` (the runner warns).
        public internal(set) var zeroingWithheld = false

        // Writer side (under the writer lock).
        /// The connector's row id in `element_digest_sets`, once the writer checked its settings in this run.
        private var setID: Int64?
        /// Owner ids reserved in `element_ids` and not handed out yet.
        private var reserved: Range<Int64> = 0..<0
        /// The blocks of owner ids this run reserved in batches that committed (or joined the run's transaction),
        /// and those of the batch being written.
        private var committedBlocks: [Range<Int64>] = []
        private var batchBlocks: [Range<Int64>] = []
        /// Owner ids reserved at a time (a test makes it small to see blocks change hands).
        var ownerIDBlock: Int64 = 4096
        private var writerSourceSets: [String: Int] = [:]
        /// The source set looked up last, as the element listed it.
        private var lastSourceSet: (sources: [String], number: Int)?
        /// Elements whose records are all written (the last one may still grow: `pending`).
        private var completed: [Accumulated] = []
        private var pending: Accumulated?
        /// Elements that must not be recorded (a record rejected, a row left to a later element).
        private var unclean: Set<UInt64> = []

        /// One digest in memory.
        struct Entry {
            /// Its row id: the owner id its element's rows carry.
            var id: Int64
            var high: UInt64
            var low: UInt64
            /// Counts and source set (see the `element_digests` table), plus `revokedBit`.
            var meta: UInt64
            /// The sequence it was answered "skip" with in this run (0: not skipped).
            var skippedAt: UInt64 = 0
        }

        /// What the writer gathers about one element while its records are written.
        struct Accumulated {
            var tag: ElementTag
            /// The owner id its rows carry and its digest row will have.
            var id: Int64
            var products = 0
            var prices = 0
            var stock = 0
            var sources: [String] = []
            var clean = true
        }

        /// A ledger for a run of `connector` whose digests were recorded under `settings`.
        public init(store: Store, connector: String, settings: String) {
            self.store = store
            self.connector = connector
            self.settings = settings
        }

        /// Identity: one ledger per run.
        public static func == (a: ElementLedger, b: ElementLedger) -> Bool { a === b }
        /// Identity.
        public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

        // MARK: The plugin's question

        /// Whether the plugin may skip `element`: the store holds exactly what its records wrote last time. A yes
        /// counts the element's records as skipped (see `takeSkipped`). Loads the connector's digests on the first
        /// call. Throws `.invalidArgument` for a sequence that does not increase, and what reading the store throws.
        public func skipUnchanged(_ element: ElementTag) throws(StoreError) -> Bool {
            lock.lock()
            defer { lock.unlock() }
            guard element.sequence > lastAsked else {
                throw StoreError(
                    code: .invalidArgument,
                    message: "element sequence \(element.sequence) was asked after \(lastAsked); a plugin must ask about "
                        + "elements in increasing sequence")
            }
            lastAsked = element.sequence
            if !loaded { try load() }
            questionsSincePoll += 1
            if questionsSincePoll >= revocationPollInterval {
                questionsSincePoll = 0
                try store.read("read new element revocations") { db in try self.applyNewRevocations(db) }
            }
            guard let index = find(high: element.high, low: element.low) else { return false }
            if entries[index].skippedAt == 0 { entries[index].skippedAt = element.sequence }
            let meta = Store.DigestMeta(raw: entries[index].meta)
            skipped.elements += 1
            skipped.products += Int64(meta.products)
            skipped.prices += Int64(meta.prices)
            skipped.stock += Int64(meta.stock)
            if meta.sourceSet != 0 { skippedSourceSets.insert(meta.sourceSet) }
            return true
        }

        /// What was skipped since the last call (the caller adds it to the run's counts).
        public func takeSkipped() -> SkippedRecords {
            lock.lock()
            defer { lock.unlock() }
            let taken = skipped
            skipped = SkippedRecords()
            return taken
        }

        // MARK: Loading

        private static let revokedBit: UInt64 = 1 << 63

        /// Reads the connector's live digests (when recorded under the same settings and no more than
        /// `maxLoadedDigests`) and builds the hash table over them.
        private func load() throws(StoreError) {
            let connector = self.connector, settings = self.settings
            struct Loaded {
                var entries: [Entry] = [], sets: [Int: [String]] = [:], revokedSeq: Int64 = 0, tooMany: Int?
            }
            let maxLoadedDigests = self.maxLoadedDigests
            let result = try store.read("read the element digests of connector '\(connector)'") { db -> Loaded in
                var out = Loaded()
                try db.execute("BEGIN")
                defer { try? db.execute("COMMIT") }
                guard let set = try Store.digestSet(db, connector: connector), set.settings == settings else { return out }
                let id = set.id
                for (number, key) in try Store.sourceSets(db, setID: id) {
                    out.sets[number] = key.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                }
                let revoked = try Store.revokedElements(db)
                out.revokedSeq = try db.scalarInt("SELECT coalesce(max(seq), 0) FROM element_revoked")
                let size = try db.statement("SELECT coalesce(sum(length(entries)), 0) FROM element_digests WHERE set_id = ?1")
                size.bind(1, id)
                let stored = try size.step() ? Int(size.int64(0)) / Store.packedDigestBytes : 0
                size.reset()
                // A bound on the memory a run may take for this (a worker's address space is capped): past it,
                // nothing is skipped, and the run says so.
                guard stored <= maxLoadedDigests else {
                    out.tooMany = stored
                    return out
                }
                out.entries.reserveCapacity(stored)
                let rows = try db.statement("SELECT entries FROM element_digests WHERE set_id = ?1 ORDER BY first_id")
                defer { rows.reset() }
                rows.bind(1, id)
                while try rows.step() {
                    Store.unpackElementDigests(rows.blob(0)) { id, high, low, meta in
                        if !revoked.contains(id) { out.entries.append(Entry(id: id, high: high, low: low, meta: meta)) }
                    }
                }
                return out
            }
            entries = result.entries
            revokedSeq = result.revokedSeq
            tooManyDigests = result.tooMany
            var capacity = 16
            while capacity < entries.count * 2 { capacity <<= 1 }
            byHigh = [UInt32](repeating: 0, count: capacity)
            let mask = capacity - 1
            for index in entries.indices {
                var slot = Int(truncatingIfNeeded: entries[index].high) & mask
                while byHigh[slot] != 0 { slot = (slot + 1) & mask }
                byHigh[slot] = UInt32(index + 1)
            }
            sourceSets = result.sets
            loaded = true
            for owner in revokedBeforeLoad {
                if let index = find(id: owner) { entries[index].meta |= Self.revokedBit }
            }
            revokedBeforeLoad = []
        }

        /// The index of the live digest (high, low), if there is one.
        private func find(high: UInt64, low: UInt64) -> Int? {
            guard !byHigh.isEmpty else { return nil }
            // The digest is uniformly distributed: its low bits are the slot.
            let mask = byHigh.count - 1
            var slot = Int(truncatingIfNeeded: high) & mask
            while byHigh[slot] != 0 {
                let index = Int(byHigh[slot] - 1)
                // Identical elements recorded twice share a digest: take a live one.
                if entries[index].high == high && entries[index].low == low && entries[index].meta & Self.revokedBit == 0 {
                    return index
                }
                slot = (slot + 1) & mask
            }
            return nil
        }

        /// The index of the digest with row id `id`.
        private func find(id: Int64) -> Int? {
            var first = 0, upper = entries.count
            while first < upper {
                let middle = (first + upper) / 2
                if entries[middle].id < id { first = middle + 1 } else { upper = middle }
            }
            return first < entries.count && entries[first].id == id ? first : nil
        }

        // MARK: Writer side

        /// What to do with a row owned by `owner` that a record of element `sequence` (0: no element) would write.
        enum Takeover {
            /// Write it; the old owner's digest is revoked.
            case proceed
            /// Leave it: a later element of this run owns it and was skipped.
            case leave
        }

        func takeover(owner: Int64, bySequence sequence: UInt64) -> Takeover {
            lock.lock()
            defer { lock.unlock() }
            guard loaded else {
                revokedBeforeLoad.insert(owner)
                return .proceed
            }
            guard let index = find(id: owner) else { return .proceed }
            if entries[index].skippedAt > sequence, sequence != 0 { return .leave }
            entries[index].meta |= Self.revokedBit
            ownRevoked.insert(owner)
            return .proceed
        }

        /// Reads the revocations other writers made since the last read (`element_revoked.seq`): their elements
        /// are not skipped any more, and one this run already skipped marks `skippedRowsTaken`. Under `lock`.
        private func applyNewRevocations(_ db: Connection) throws(SQLiteError) {
            let st = try db.statement("SELECT seq, id FROM element_revoked WHERE seq > ?1 ORDER BY seq")
            defer { st.reset() }
            st.bind(1, revokedSeq)
            while try st.step() {
                revokedSeq = st.int64(0)
                let id = st.int64(1)
                guard let index = find(id: id) else { continue }
                entries[index].meta |= Self.revokedBit
                if entries[index].skippedAt != 0 && !ownRevoked.contains(id) { skippedRowsTaken = true }
            }
        }

        /// Whether another writer took a row of an element this run skipped (see `skippedRowsTaken`), reading the
        /// revocations made since the last read on `db` (the writer, in the transaction about to zero).
        func skippedRowsWereTaken(_ db: Connection) throws(SQLiteError) -> Bool {
            lock.lock()
            defer { lock.unlock() }
            if loaded { try applyNewRevocations(db) }
            return skippedRowsTaken
        }

        /// Whether the row owned by `owner` (its `element_owner`) was delivered by this run: written by one of its
        /// elements (an owner id from one of its blocks) or owned by an element it skipped. Such rows count as
        /// present in a full inventory snapshot. Writer side (the snapshot's finishing pass).
        func delivered(owner: Int64) -> Bool {
            for block in committedBlocks where block.contains(owner) { return true }
            return wasSkipped(owner: owner)
        }

        /// Whether the element owning a row was skipped in this run.
        func wasSkipped(owner: Int64) -> Bool {
            lock.lock()
            defer { lock.unlock() }
            guard loaded, let index = find(id: owner) else { return false }
            return entries[index].skippedAt != 0
        }

        /// The stock sources of the skipped elements (they count as delivered by a full snapshot).
        func skippedSources() -> Set<String> {
            lock.lock()
            defer { lock.unlock() }
            var sources: Set<String> = []
            for set in skippedSourceSets { sources.formUnion(sourceSets[set] ?? []) }
            return sources
        }

        /// What a record is, for the counts kept per element.
        enum RecordKind {
            case product, price
            case stock(source: String)
            /// Any other entity: its rows name no element, so the element is never recorded.
            case other

            /// The kind of `record`, read without copying it (a copy retains every string in it).
            init(_ record: ModelRecord) {
                switch record {
                case .product: self = .product
                case .price: self = .price
                case .stock(let s): self = .stock(source: s.sourceCode)
                default: self = .other
                }
            }
        }

        /// Notes one record of `tag`'s element before it is written, and returns the owner id its row is to carry.
        func owner(_ db: Connection, _ tag: ElementTag, _ kind: RecordKind) throws(SQLiteError) -> Int64 {
            if pending?.tag.sequence != tag.sequence {
                if let pending { completed.append(pending) }
                pending = Accumulated(tag: tag, id: try nextID(db))
            }
            switch kind {
            case .product: pending!.products += 1
            case .price: pending!.prices += 1
            case .stock(let code):
                pending!.stock += 1
                if !pending!.sources.contains(code) { pending!.sources.append(code) }
            case .other: pending!.clean = false
            }
            return pending!.id
        }

        /// The next owner id, reserving a block of them in `element_ids` in the batch's transaction when none is left.
        private func nextID(_ db: Connection) throws(SQLiteError) -> Int64 {
            if reserved.isEmpty {
                let block = ownerIDBlock
                let st = try db.statement("UPDATE element_ids SET next_id = next_id + ?1 RETURNING next_id - ?1")
                st.bind(1, block)
                guard try st.step() else {
                    st.reset()
                    throw SQLiteError(
                        code: SQLITE_CORRUPT,
                        message: "table element_ids of database \(db.path) has no row, so no owner id can be handed out; "
                            + "the database was changed outside Wharf: restore it from a backup (wharf restore)")
                }
                let first = st.int64(0)
                st.reset()
                reserved = first..<(first + block)
                batchBlocks.append(reserved)
            }
            defer { reserved = reserved.dropFirst() }
            return reserved.lowerBound
        }

        /// Takes the owner ids of a batch that committed (or joined the run's transaction) as the run's own.
        func batchCommitted() {
            committedBlocks += batchBlocks
            batchBlocks = []
        }

        /// Forgets what a batch that rolled back did: its reserved owner ids (another run may get them now) and its
        /// elements, none of which may be recorded — the one it ended in the middle of not even when it goes on.
        func batchRolledBack() {
            reserved = 0..<0
            batchBlocks = []
            // The connector's set row and new source sets may have been rolled back with it: read them again.
            setID = nil
            writerSourceSets = [:]
            lastSourceSet = nil
            completed.removeAll()
            if let pending { unclean.insert(pending.tag.sequence) }
            pending = nil
        }

        /// Marks elements that must not be recorded.
        func markUnclean(_ sequences: some Sequence<UInt64>) {
            unclean.formUnion(sequences)
        }

        /// Records the completed elements of the batch (all but the last, which may continue in the next batch;
        /// `all` records that one too), in the batch's transaction.
        func recordCompleted(_ db: Connection, all: Bool) throws(SQLiteError) {
            if all, let last = pending {
                completed.append(last)
                pending = nil
            }
            try storeCompleted(db)
            // After the last digests are stored: a compaction forgets the revocations it applies, and the run's last
            // element may have been revoked (by another writer) after its batch and before this call. Before it, the
            // revocations of skipped elements are taken into account for the snapshot's zeroing.
            if all {
                _ = try skippedRowsWereTaken(db)
                try Store.compactElementDigests(db, connector: connector)
            }
        }

        private func storeCompleted(_ db: Connection) throws(SQLiteError) {
            guard !completed.isEmpty else { return }
            defer {
                completed.removeAll(keepingCapacity: true)
                // Sequences only grow: forget those behind us.
                if let pending { unclean = unclean.filter { $0 >= pending.tag.sequence } } else { unclean = [] }
            }
            let id = try prepareSet(db)
            var packed: [UInt8] = []
            packed.reserveCapacity(completed.count * Store.packedDigestBytes)
            var firstID: Int64?
            for element in completed where element.clean && !unclean.contains(element.tag.sequence) {
                var meta = Store.DigestMeta(
                    products: element.products, prices: element.prices, stock: element.stock, sourceSet: 0)
                guard meta.fits, element.products + element.prices + element.stock > 0 else { continue }
                if !element.sources.isEmpty {
                    guard let number = try sourceSet(db, id: id, element.sources) else { continue }
                    meta.sourceSet = number
                }
                if firstID == nil { firstID = element.id }
                Store.packElementDigest(
                    into: &packed, id: element.id, high: element.tag.high, low: element.tag.low, meta: meta.raw)
            }
            guard let firstID else { return }
            // One row per batch: a row per element cost a second of a million-product first import.
            let insert = try db.statement("INSERT INTO element_digests (first_id, set_id, entries) VALUES (?1, ?2, ?3)")
            insert.bind(1, firstID)
            insert.bind(2, id)
            insert.bindBlob(3, packed)
            try insert.run()
        }

        /// The connector's id in `element_digest_sets`, checked against `settings` once per run: digests recorded
        /// under other settings are dropped.
        private func prepareSet(_ db: Connection) throws(SQLiteError) -> Int64 {
            if let setID { return setID }
            let id: Int64
            if let found = try Store.digestSet(db, connector: connector) {
                id = found.id
                if found.settings != settings {
                    for sql in [
                        "DELETE FROM element_digests WHERE set_id = ?1", "DELETE FROM element_source_sets WHERE set_id = ?1",
                    ] {
                        let st = try db.statement(sql)
                        st.bind(1, id)
                        try st.run()
                    }
                    let update = try db.statement("UPDATE element_digest_sets SET settings = ?2 WHERE id = ?1")
                    update.bind(1, id)
                    update.bind(2, settings)
                    try update.run()
                }
            } else {
                let insert = try db.statement("INSERT INTO element_digest_sets (connector, settings) VALUES (?1, ?2)")
                insert.bind(1, connector)
                insert.bind(2, settings)
                try insert.run()
                id = db.lastInsertRowID
            }
            for (number, key) in try Store.sourceSets(db, setID: id) { writerSourceSets[key] = number }
            setID = id
            return id
        }

        /// The number of a set of stock sources, created when new; nil past 65,535 sets.
        private func sourceSet(_ db: Connection, id: Int64, _ sources: [String]) throws(SQLiteError) -> Int? {
            // Elements of one feed nearly always list the same sources in the same order.
            if let last = lastSourceSet, last.sources == sources { return last.number }
            let number = try sourceSetNumber(db, id: id, sources)
            if let number { lastSourceSet = (sources, number) }
            return number
        }

        private func sourceSetNumber(_ db: Connection, id: Int64, _ sources: [String]) throws(SQLiteError) -> Int? {
            let key = sources.sorted().joined(separator: "\n")
            if let number = writerSourceSets[key] { return number }
            let number = writerSourceSets.count + 1
            guard number <= 0xFFFF else { return nil }
            let insert = try db.statement("INSERT INTO element_source_sets (set_id, number, sources) VALUES (?1, ?2, ?3)")
            insert.bind(1, id)
            insert.bind(2, Int64(number))
            insert.bind(3, key)
            try insert.run()
            writerSourceSets[key] = number
            return number
        }
    }

    /// The row of `connector` in `element_digest_sets`: its id and the settings its digests were recorded under.
    static func digestSet(_ db: Connection, connector: String) throws(SQLiteError) -> (id: Int64, settings: String)? {
        let st = try db.statement("SELECT id, settings FROM element_digest_sets WHERE connector = ?1")
        defer { st.reset() }
        st.bind(1, connector)
        return try st.step() ? (st.int64(0), st.text(1)) : nil
    }

    /// The source sets of a digest set: each number with its key (source codes, sorted, one per line).
    static func sourceSets(_ db: Connection, setID: Int64) throws(SQLiteError) -> [(number: Int, key: String)] {
        let st = try db.statement("SELECT number, sources FROM element_source_sets WHERE set_id = ?1")
        defer { st.reset() }
        st.bind(1, setID)
        var sets: [(number: Int, key: String)] = []
        while try st.step() { sets.append((Int(st.int64(0)), st.text(1))) }
        return sets
    }

    /// Records the digests of the elements of a finished ingest that are not recorded yet — the run's last element,
    /// which no later record closed — in one transaction. Call it once the plugin's ingest succeeded.
    public func recordElements(_ elements: ElementLedger) throws(StoreError) {
        try write("record the element digests of connector '\(elements.connector)'") { db in
            try db.transaction { try elements.recordCompleted(db, all: true) }
        }
    }

    /// Registers `wharf_element_delivered(owner)` on the writer: 1 when a row with that owner was delivered by the
    /// run whose snapshot is being finished (`Connection.elementLedger`; see `ElementLedger.delivered`), else 0.
    static func registerElementFunctions(on db: Connection) throws(SQLiteError) {
        guard let handle = db.handle else { throw db.error(SQLITE_MISUSE) }
        let function: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = {
            context, count, values in
            guard let context, count == 1, let values, let user = sqlite3_user_data(context) else { return }
            let db = Unmanaged<Connection>.fromOpaque(user).takeUnretainedValue()
            var delivered = false
            if let ledger = db.elementLedger, sqlite3_value_type(values[0]) != SQLITE_NULL {
                delivered = ledger.delivered(owner: sqlite3_value_int64(values[0]))
            }
            sqlite3_result_int(context, delivered ? 1 : 0)
        }
        let rc = sqlite3_create_function_v2(
            handle, "wharf_element_delivered", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY,
            Unmanaged.passUnretained(db).toOpaque(), function, nil, nil, nil)
        guard rc == SQLITE_OK else { throw db.error(rc) }
    }

    /// Takes back the digest of the element that owned a row (see `ElementLedger`): the row is about to change.
    static func revokeElement(_ db: Connection, owner: Int64) throws(SQLiteError) {
        let st = try db.statement("INSERT INTO element_revoked (id) VALUES (?1) ON CONFLICT (id) DO NOTHING")
        st.bind(1, owner)
        try st.run()
    }

    /// `revokeElement` for the owners of the rows `ownersSQL` selects (one column, `?1` bound to `value`).
    static func revokeElements(_ db: Connection, ownersSQL: String, value: String) throws(SQLiteError) {
        let st = try db.statement(
            "INSERT INTO element_revoked (id) SELECT owner FROM (\(ownersSQL)) WHERE owner IS NOT NULL ON CONFLICT (id) DO NOTHING")
        st.bind(1, value)
        try st.run()
    }

    // MARK: The packed digests

    /// The `meta` word of a packed digest: the counts of the element's product, price and stock records (8 bits
    /// each) and the number of its set of stock sources (16 bits, 0 for none).
    struct DigestMeta {
        var products: Int
        var prices: Int
        var stock: Int
        var sourceSet: Int

        /// Whether the counts and the set number fit their bits (an element with more is not recorded).
        var fits: Bool { products <= 0xFF && prices <= 0xFF && stock <= 0xFF && sourceSet <= 0xFFFF }

        var raw: UInt64 {
            UInt64(products) | UInt64(prices) << 8 | UInt64(stock) << 16 | UInt64(sourceSet) << 24
        }

        init(products: Int, prices: Int, stock: Int, sourceSet: Int) {
            (self.products, self.prices, self.stock, self.sourceSet) = (products, prices, stock, sourceSet)
        }

        /// The fields of `raw` (bits above the set number, such as the ledger's revoked bit, are ignored).
        init(raw: UInt64) {
            products = Int(raw & 0xFF)
            prices = Int((raw >> 8) & 0xFF)
            stock = Int((raw >> 16) & 0xFF)
            sourceSet = Int((raw >> 24) & 0xFFFF)
        }
    }

    /// Bytes per digest in an `element_digests.entries` blob: id, high, low, meta, each 8 bytes little-endian.
    static let packedDigestBytes = 32

    static func packElementDigest(into bytes: inout [UInt8], id: Int64, high: UInt64, low: UInt64, meta: UInt64) {
        for value in [UInt64(bitPattern: id), high, low, meta] {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
    }

    /// Calls `body` with each digest of a packed blob (a blob of another length is cut to whole digests).
    static func unpackElementDigests(
        _ bytes: [UInt8], _ body: (_ id: Int64, _ high: UInt64, _ low: UInt64, _ meta: UInt64) -> Void
    ) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset + packedDigestBytes <= raw.count {
                func word(_ n: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8 * n, as: UInt64.self)) }
                body(Int64(bitPattern: word(0)), word(1), word(2), word(3))
                offset += packedDigestBytes
            }
        }
    }

    /// The revoked owner ids (few: a compaction empties them once they are many).
    static func revokedElements(_ db: Connection) throws(SQLiteError) -> Set<Int64> {
        let st = try db.statement("SELECT id FROM element_revoked")
        defer { st.reset() }
        var ids: Set<Int64> = []
        while try st.step() { ids.insert(st.int64(0)) }
        return ids
    }

    /// The live digests of every connector (owner id and high half), for tests and checks.
    static func liveElementDigests(_ db: Connection) throws(SQLiteError) -> [(id: Int64, high: UInt64)] {
        let revoked = try revokedElements(db)
        let st = try db.statement("SELECT entries FROM element_digests ORDER BY first_id")
        defer { st.reset() }
        var live: [(id: Int64, high: UInt64)] = []
        while try st.step() {
            unpackElementDigests(st.blob(0)) { id, high, _, _ in if !revoked.contains(id) { live.append((id, high)) } }
        }
        return live
    }

    /// Applies the revocations once they are many: rewrites the blocks that hold revoked digests without them, then
    /// forgets the revocations. Keeps both tables small for a feed whose elements change every run.
    ///
    /// Only while no other connector's run is running: its elements still being written may have been revoked,
    /// and forgetting that before their digests are stored would let them be recorded live.
    static func compactElementDigests(_ db: Connection, connector: String) throws(SQLiteError) {
        let revokedCount = try db.scalarInt("SELECT count(*) FROM element_revoked")
        guard revokedCount > 0 else { return }
        let others = try db.statement("SELECT count(*) FROM runs WHERE state = 'running' AND connector <> ?1")
        others.bind(1, connector)
        let running = try others.step() ? others.int64(0) : 0
        others.reset()
        guard running == 0 else { return }
        let digests = try db.scalarInt("SELECT coalesce(sum(length(entries)), 0) FROM element_digests") / Int64(packedDigestBytes)
        guard revokedCount >= compactionFloor || revokedCount * 4 >= digests else { return }
        let revoked = try revokedElements(db)
        var rewrites: [(firstID: Int64, entries: [UInt8])] = []
        let st = try db.statement("SELECT first_id, entries FROM element_digests ORDER BY first_id")
        while try st.step() {
            var kept: [UInt8] = []
            var dropped = false
            unpackElementDigests(st.blob(1)) { id, high, low, meta in
                if revoked.contains(id) { dropped = true } else { packElementDigest(into: &kept, id: id, high: high, low: low, meta: meta) }
            }
            if dropped { rewrites.append((st.int64(0), kept)) }
        }
        st.reset()
        let update = try db.statement("UPDATE element_digests SET entries = ?2 WHERE first_id = ?1")
        let delete = try db.statement("DELETE FROM element_digests WHERE first_id = ?1")
        for rewrite in rewrites {
            let statement = rewrite.entries.isEmpty ? delete : update
            statement.bind(1, rewrite.firstID)
            if !rewrite.entries.isEmpty { statement.bindBlob(2, rewrite.entries) }
            try statement.run()
        }
        try db.execute("DELETE FROM element_revoked")
    }

    /// Revocations that always lead to a compaction at the end of a run.
    static let compactionFloor: Int64 = 100_000
}

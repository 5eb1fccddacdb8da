import CSQLite
import WharfModel

extension Store {
    /// What one batch did: how many records created, changed or left rows as they were, and how many the store
    /// refused itself (each stored as a reject).
    public struct UpsertCounts: Sendable, Hashable {
        /// Records that created a row.
        public var inserted: Int64
        /// Records that changed a row.
        public var updated: Int64
        /// Records identical to the stored row (its `updatedAt` is not touched).
        public var unchanged: Int64
        /// Records the store refused while applying them — a relative stock adjustment that would take a quantity
        /// below zero — each stored as a reject of the run in `ApplyOptions.runID`. Records refused before they
        /// reached the store (decoding errors) are not counted here.
        public var rejected: Int64

        /// Counts; zero by default.
        public init(inserted: Int64 = 0, updated: Int64 = 0, unchanged: Int64 = 0, rejected: Int64 = 0) {
            self.inserted = inserted
            self.updated = updated
            self.unchanged = unchanged
            self.rejected = rejected
        }

        /// Counts one record's outcome.
        public mutating func add(_ outcome: UpsertOutcome) {
            switch outcome {
            case .inserted: inserted += 1
            case .updated: updated += 1
            case .unchanged: unchanged += 1
            }
        }
    }

    /// What storing one record did.
    public enum UpsertOutcome: String, Sendable, Hashable {
        /// It created a row.
        case inserted
        /// It changed a row.
        case updated
        /// The row already held exactly this; nothing was written.
        case unchanged
    }

    /// How `apply` treats the records of a batch. The default is a plain upsert of absolute values.
    public struct ApplyOptions: Sendable, Hashable {
        /// What a stock record's `quantity` means.
        public enum StockMode: String, Sendable, Hashable, CaseIterable {
            /// The quantity at the source (a full snapshot or an absolute delta): it replaces the stored quantity.
            case absolute
            /// A signed adjustment (a relative delta): it is added to the stored quantity (0 when there is no row
            /// yet). An adjustment that would take the quantity below zero is refused on its own — stored as a reject
            /// of `runID`, field "quantity" — and the rest of the batch lands. Without a given status, the status
            /// follows the new quantity (in stock above zero).
            case relative
        }

        /// What a stock record's `quantity` means; `.absolute` by default.
        public var stock: StockMode
        /// The run the batch belongs to, if any. While a full inventory snapshot is open for this run (see
        /// `beginSnapshot(runID:)`), every stock record applied with it is remembered; relative stock refusals are
        /// stored as rejects of this run (its connector taken from the run). Relative stock without a run fails the
        /// whole batch when an adjustment is refused, as an invalid record does.
        public var runID: Int64?
        /// Whether every record of the batch is a value `RecordCodec.decode` returned (or `validated(_:)` passed)
        /// with the decoding options that `stock` implies (`stockQuantityIsAdjustment` exactly when `.relative`):
        /// then `apply` skips its own validation pass, which would only repeat that one. False by default; set it
        /// only for records straight from the codec (the host's `emit` does), never for values built otherwise.
        public var recordsAreValidated: Bool
        /// The run's element digests, when its plugin names the source element of each record (see
        /// `ElementLedger`): rows are then stamped with their element, and elements stored without a reject are
        /// recorded. Nil by default: rows are written with no element, which revokes the element that owned them.
        public var elements: ElementLedger?

        /// These options for records `validate` has passed already.
        var validatedAlready: ApplyOptions {
            var options = self
            options.recordsAreValidated = true
            return options
        }

        /// Options; by default absolute stock, no run, and every record validated by `apply`.
        public init(
            stock: StockMode = .absolute, runID: Int64? = nil, recordsAreValidated: Bool = false,
            elements: ElementLedger? = nil
        ) {
            self.stock = stock
            self.runID = runID
            self.recordsAreValidated = recordsAreValidated
            self.elements = elements
        }
    }

    /// Stores a batch of records in ONE transaction, together with the connector's new cursor and the batch's
    /// rejects, so a cursor never runs ahead of the data it covers.
    ///
    /// Each record replaces the row with its key (a product record replaces name, description, status, all
    /// attributes, categories, media and texts; a price's key is SKU, currency and minimum quantity). A record
    /// equal to the stored row is counted unchanged and does not touch `updatedAt`. A stock record for an unknown
    /// source creates the source, with its code as name. Prices, stock and category links do not need the product
    /// or category to exist. Records are validated first; when any record is invalid or any write fails, nothing of
    /// the batch — records, rejects, cursor — is stored, and the error names the record.
    ///
    /// `options` choose relative stock adjustments and name the run (see `ApplyOptions`). `locations`, when not
    /// empty, holds one location per record (same order) and is copied into the rejects the store makes itself.
    public func apply(
        _ records: [ModelRecord], cursor: (connector: String, value: String)?, rejects: [NewReject] = [],
        options: ApplyOptions = ApplyOptions(), locations: [RecordLocation] = []
    ) throws(StoreError) -> UpsertCounts {
        // Validation needs no lock: do it before taking the writer.
        try Store.validate(records, options: options, locations: locations)
        let now = Timestamp.now().millisecondsSinceEpoch
        do {
            let counts = try write("apply a batch of \(records.count) records") { db in
                try db.transaction {
                    try Store.applyBatch(
                        db, records, cursor: cursor, rejects: rejects, options: options, locations: locations, now: now)
                }
            }
            options.elements?.batchCommitted()
            return counts
        } catch {
            options.elements?.batchRolledBack()
            var error = error
            if error.code != .closed && error.code != .misuse { error.message += "; nothing of the batch was stored" }
            throw error
        }
    }

    /// Part of a batch handed to `apply(chunks:…)`: records and, when not empty, one location per record.
    public struct RecordChunk: Sendable {
        /// The records, in the batch's order.
        public var records: [ModelRecord]
        /// One location per record (same order), or none.
        public var locations: [RecordLocation]
        /// One source element per record (same order; an all-zero tag for a record without one), or none. Used
        /// only with `ApplyOptions.elements`.
        public var elements: [ElementTag]
        /// Sequences of elements some of whose records did not reach the store (they failed to decode): those
        /// elements are not recorded as unchanged-skippable.
        public var failedElements: [UInt64]

        /// A chunk of `records` with their `locations` and `elements` (one per record, or none).
        public init(
            records: [ModelRecord], locations: [RecordLocation] = [], elements: [ElementTag] = [],
            failedElements: [UInt64] = []
        ) {
            self.records = records
            self.locations = locations
            self.elements = elements
            self.failedElements = failedElements
        }

        /// A `nextChunk` for `apply(chunks:…)` that hands out `chunk`, then nil: a whole batch as one chunk.
        public static func once(_ chunk: RecordChunk) -> () -> RecordChunk? {
            var next: RecordChunk? = chunk
            return {
                defer { next = nil }
                return next
            }
        }
    }

    /// Stores a batch whose records arrive in chunks while it is being written, in ONE transaction, exactly as
    /// `apply(_:cursor:rejects:options:locations:)` stores the same records given at once.
    ///
    /// Why: a host that turns a plugin's C records into model values can do that for the next chunk on another
    /// thread while the writer stores this one, so a batch costs the writer only its SQLite work.
    ///
    /// `nextChunk` is called on the calling thread, inside the transaction, until it returns nil; `rejects` is called
    /// once after the last chunk, and what it returns is stored with the batch. When any record is invalid (unless
    /// `options.recordsAreValidated`) or any write fails, nothing of the batch is stored; `nextChunk` is then not
    /// called again, so a caller that produces chunks elsewhere must still finish or drop that work itself.
    public func apply(
        chunks nextChunk: () -> RecordChunk?, cursor: (connector: String, value: String)?,
        rejects: () -> [NewReject], options: ApplyOptions = ApplyOptions()
    ) throws(StoreError) -> UpsertCounts {
        let now = Timestamp.now().millisecondsSinceEpoch
        do {
            let counts = try write("apply a batch of records in chunks") { db in
                try db.transaction {
                    try Store.applyChunks(
                        db, next: nextChunk, cursor: cursor, rejects: rejects, options: options, now: now)
                }
            }
            options.elements?.batchCommitted()
            return counts
        } catch {
            options.elements?.batchRolledBack()
            var error = error
            if error.code != .closed && error.code != .misuse { error.message += "; nothing of the batch was stored" }
            throw error
        }
    }

    /// The cursor (watermark) last stored for `connector` with `apply`, or nil when there is none.
    public func cursor(connector: String) throws(StoreError) -> String? {
        try read("read the cursor of connector '\(connector)'") { db in try Store.cursor(db, connector: connector) }
    }

    // MARK: Not public

    static func cursor(_ db: Connection, connector: String) throws(SQLiteError) -> String? {
        let st = try db.statement("SELECT cursor_value FROM cursors WHERE connector = ?1")
        defer { st.reset() }
        st.bind(1, connector)
        return try st.step() ? st.text(0) : nil
    }

    /// One item of a batch failed in SQLite.
    struct BatchFailure: Error {
        /// The item as a person finds it: "record 3 (product 'X')".
        var item: String
        var error: SQLiteError
    }

    /// Checks a batch before any lock is taken: every record valid under `options`, `locations` empty or one per
    /// record.
    static func validate(
        _ records: [ModelRecord], options: ApplyOptions, locations: [RecordLocation], firstNumber: Int = 1
    ) throws(StoreError) {
        let batch = firstNumber == 1 ? "a batch of \(records.count) records" : "a batch given in chunks"
        if !locations.isEmpty && locations.count != records.count {
            throw StoreError(
                code: .invalidArgument,
                message: "cannot apply \(batch): \(locations.count) locations were given for \(records.count) records; "
                    + "give one per record or none")
        }
        // Decoded by the codec with these options already: the loop below would repeat its checks, record by record.
        if options.recordsAreValidated { return }
        let decoding = RecordDecodingOptions(stockQuantityIsAdjustment: options.stock == .relative)
        for (index, record) in records.enumerated() {
            do throws(FieldError) {
                _ = try record.validated(decoding)
            } catch {
                throw StoreError(
                    code: .invalidRecord,
                    message: "cannot apply \(batch): record \(index + firstNumber) "
                        + "(\(record.keyDescription)) is invalid: \(error.reason); nothing of the batch was stored")
            }
        }
    }

    /// Writes a validated batch on the writer inside an open transaction or savepoint: records, the store's own
    /// rejects, the caller's rejects, the cursor. Throws on the first failure; the caller rolls back.
    static func applyBatch(
        _ db: Connection, _ records: [ModelRecord], cursor: (connector: String, value: String)?, rejects: [NewReject],
        options: ApplyOptions, locations: [RecordLocation], now: Int64
    ) throws -> UpsertCounts {
        return try applyChunks(
            db, next: RecordChunk.once(RecordChunk(records: records, locations: locations)), cursor: cursor,
            rejects: { rejects },
            options: options.validatedAlready, now: now)
    }

    /// `applyBatch` for records that arrive in chunks (see `apply(chunks:…)`): validates each chunk unless
    /// `options.recordsAreValidated`, writes it, then the rejects `rejects` returns after the last chunk, then the
    /// cursor. Throws on the first failure; the caller rolls back.
    static func applyChunks(
        _ db: Connection, next: () -> RecordChunk?, cursor: (connector: String, value: String)?,
        rejects: () -> [NewReject], options: ApplyOptions, now: Int64
    ) throws -> UpsertCounts {
        var upserter = try Upserter(db, now: now)
        upserter.ledger = options.elements
        if let runID = options.runID, let keys = try Snapshots.memory(db, runID: runID) {
            if options.stock == .relative {
                throw StoreError(
                    code: .invalidArgument,
                    message: "cannot apply relative stock adjustments in run \(runID) in database \(db.path): the run is "
                        + "a full inventory snapshot, whose quantities are absolute")
            }
            upserter.snapshotRunID = runID
            upserter.snapshotKeys = keys
        }
        let snapshotBytes = upserter.snapshotKeys?.arenaCount
        var counts = UpsertCounts()
        var rejectConnector: String?
        var before = 0  // records of the earlier chunks, for record numbers in messages
        while let chunk = next() {
            try validate(chunk.records, options: options, locations: chunk.locations, firstNumber: before + 1)
            let locations = chunk.locations
            let ledger = options.elements
            let elements = ledger == nil ? [] : chunk.elements
            ledger?.markUnclean(chunk.failedElements)
            for (index, record) in chunk.records.enumerated() {
            do {
                let element = index < elements.count && elements[index].isElement ? elements[index] : nil
                upserter.element = element
                if let element {
                    upserter.owner = try ledger!.owner(db, element, ElementLedger.RecordKind(record))
                } else {
                    upserter.owner = nil
                }
                // Records the store may refuse on their own, while the rest of the batch lands: relative stock
                // below zero, B2B records whose company is unknown, OMS updates that are not a valid transition,
                // pricing records that contradict their list. A refusal is filed as a reject of the run.
                var refusal: (field: String?, reason: String)?
                if options.stock == .relative, case .stock(let adjustment) = record {
                    switch try upserter.adjust(adjustment) {
                    case .applied(let outcome): counts.add(outcome)
                    case .refused(let reason): refusal = ("quantity", reason)
                    }
                } else if let b2b = try Store.applyB2B(db, record, now: now) {
                    switch b2b.result {
                    case .applied(let outcome): counts.add(outcome)
                    case .refused(let reason): refusal = (b2b.field, reason)
                    }
                } else if let outcome = try Store.applyOrderUpdate(db, record, now: Timestamp(millisecondsSinceEpoch: now)) {
                    switch outcome {
                    case .applied: counts.add(.updated)
                    case .unchanged: counts.add(.unchanged)
                    case .notFound: refusal = (nil, "no such order in Wharf")
                    case .rejected(let why): refusal = (nil, why)
                    }
                } else if case .pricing(let pricing) = record {
                    switch try PricingWriter.apply(db, pricing, now: now) {
                    case .applied(let outcome): counts.add(outcome)
                    case .refused(let field, let reason): refusal = (field, reason)
                    }
                } else {
                    counts.add(try upserter.upsert(record))
                }
                if let element {
                    if refusal != nil || upserter.leftToLaterElement { ledger!.markUnclean(CollectionOfOne(element.sequence)) }
                    upserter.leftToLaterElement = false
                }
                if let refusal {
                    guard let runID = options.runID else {
                        throw StoreError(
                            code: .invalidRecord,
                            message: "cannot apply a batch: record \(before + index + 1) "
                                + "(\(record.keyDescription)) was refused: \(refusal.reason); give ApplyOptions.runID to store "
                                + "such refusals as rejects and apply the rest")
                    }
                    if rejectConnector == nil { rejectConnector = try Store.connector(ofRun: runID, db) }
                    try Store.insertReject(
                        db,
                        NewReject(
                            runID: runID, connector: rejectConnector!,
                            location: index < locations.count ? locations[index] : RecordLocation(),
                            entity: record.entity, field: refusal.field, reason: refusal.reason),
                        now: now)
                    counts.rejected += 1
                }
            } catch let error as SQLiteError {
                throw BatchFailure(item: "record \(before + index + 1) (\(record.keyDescription))", error: error)
            }
            }
            before += chunk.records.count
        }
        if let keys = upserter.snapshotKeys, let runID = upserter.snapshotRunID, keys.arenaCount != snapshotBytes {
            // In the batch's transaction: a rollback takes the memory back to the previous length (see Snapshots).
            try Snapshots.recordBytes(db, runID: runID, bytes: keys.arenaCount)
        }
        for (index, reject) in rejects().enumerated() {
            do throws(SQLiteError) {
                try Store.insertReject(db, reject, now: now)
            } catch {
                throw BatchFailure(item: "reject \(index + 1) (of run \(reject.runID))", error: error)
            }
        }
        // After `rejects()`: the chunks' decoding failures are all known now.
        try options.elements?.recordCompleted(db, all: false)
        if let cursor {
            let st = try db.statement(
                """
                INSERT INTO cursors (connector, cursor_value, updated_at) VALUES (?1, ?2, ?3)
                ON CONFLICT (connector) DO UPDATE SET cursor_value = excluded.cursor_value,
                    updated_at = excluded.updated_at
                """)
            st.bind(1, cursor.connector)
            st.bind(2, cursor.value)
            st.bind(3, now)
            try st.run()
        }
        return counts
    }

    /// The connector of run `runID`, for rejects the store files under it; `.notFound` when there is no such run.
    static func connector(ofRun runID: Int64, _ db: Connection) throws -> String {
        let st = try db.statement("SELECT connector FROM runs WHERE id = ?1")
        defer { st.reset() }
        st.bind(1, runID)
        guard try st.step() else {
            throw StoreError(
                code: .notFound,
                message: "cannot store a reject for run \(runID) in database \(db.path): there is no such run; pass the id "
                    + "beginRun returned as ApplyOptions.runID")
        }
        return st.text(0)
    }

    /// Writes records on the writer inside an open transaction, with the batch's prepared statements fetched once.
    ///
    /// Each entity has three statements: a probe "SELECT <some column differs> FROM … WHERE <key>", an
    /// "INSERT … ON CONFLICT DO NOTHING" and an "UPDATE … WHERE <key> AND <some column differs>". The comparison runs
    /// inside SQLite, so telling an unchanged record costs one index look-up, no row decoding and no write. Which
    /// statement runs first is predicted per entity from the previous record: after an insert, the next record of
    /// that entity tries the INSERT first (a first import: one statement per record); otherwise the probe goes first
    /// (a repeated import: one statement per unchanged record). A wrong guess costs one extra look-up. A product's
    /// categories, media and texts take part through `products.content_digest` (see `ContentDigest`); their rows are
    /// written only when the product is inserted or changed.
    struct Upserter {
        let db: Connection
        let now: Int64
        let product, price, stock, source, category: Statements
        let ensureSource: Statement
        /// Sources known to exist in this transaction (created or checked), to skip re-checking per stock row.
        var knownSources: Set<String> = []
        /// The run whose full inventory snapshot is open: stock records are remembered for it (see `Snapshots`).
        var snapshotRunID: Int64?
        /// The in-memory keys of the open snapshot (see `SnapshotMemory`).
        var snapshotKeys: SeenKeys?
        /// The statement that remembers a stock row for the open snapshot beyond the memory's bound (prepared on
        /// first use).
        var rememberSeen: Statement?
        /// The sources remembered in this batch with their numbers in `snapshotKeys`: a snapshot has few sources
        /// (warehouses), so a linear scan beats hashing the code for every stock row.
        var batchSnapshotSources: [(code: String, number: Int)] = []
        /// Per entity: whether the previous record was new (see the type's comment).
        var expectNew = [Bool](repeating: false, count: 5)
        /// The run's element digests (see `ElementLedger`), if its records name their source elements.
        var ledger: ElementLedger?
        /// The source element of the record being written, if any.
        var element: ElementTag?
        /// The owner id its row is to carry (see `ElementLedger`), if any.
        var owner: Int64?
        /// Set when a row was left to a later element of the run (see `ElementLedger`); the caller resets it.
        var leftToLaterElement = false
        /// The owner revoked last, so an element's several rows revoke it once.
        private var lastRevoked: Int64?

        /// The probe, insert and update statements of one entity, which share their parameter numbers. Entities
        /// whose rows name their element (products, prices, stock) also bind the owner as ?9, probe it as column 1,
        /// and have `claim`, which sets only the owner.
        struct Statements {
            let probe, insert, update: Statement
            let slot: Int
            var claim: Statement? = nil
        }

        init(_ db: Connection, now: Int64) throws(SQLiteError) {
            self.db = db
            self.now = now
            product = Statements(
                probe: try db.statement(
                    """
                    SELECT name IS NOT ?2 OR description IS NOT ?3 OR status IS NOT ?4 OR attributes IS NOT ?5
                        OR content_digest IS NOT ?7, element_owner
                    FROM products WHERE sku = ?1
                    """),
                insert: try db.statement(
                    """
                    INSERT INTO products (sku, name, description, status, attributes, created_at, updated_at, content_digest,
                        element_owner)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?9) ON CONFLICT (sku) DO NOTHING
                    """),
                update: try db.statement(
                    """
                    UPDATE products SET name = ?2, description = ?3, status = ?4, attributes = ?5, updated_at = ?6,
                        content_digest = ?7, element_owner = ?9
                    WHERE sku = ?1 AND (name IS NOT ?2 OR description IS NOT ?3 OR status IS NOT ?4 OR attributes IS NOT ?5
                        OR content_digest IS NOT ?7)
                    """),
                slot: 0,
                claim: try db.statement("UPDATE products SET element_owner = ?9 WHERE sku = ?1"))
            price = Statements(
                probe: try db.statement(
                    """
                    SELECT amount IS NOT ?3, element_owner FROM base_prices
                    WHERE sku = ?1 AND currency = ?2 AND min_quantity = ?5
                    """),
                insert: try db.statement(
                    """
                    INSERT INTO base_prices (sku, currency, min_quantity, amount, updated_at, element_owner)
                    VALUES (?1, ?2, ?5, ?3, ?4, ?9) ON CONFLICT (sku, currency, min_quantity) DO NOTHING
                    """),
                update: try db.statement(
                    """
                    UPDATE base_prices SET amount = ?3, updated_at = ?4, element_owner = ?9
                    WHERE sku = ?1 AND currency = ?2 AND min_quantity = ?5 AND amount IS NOT ?3
                    """),
                slot: 1,
                claim: try db.statement(
                    "UPDATE base_prices SET element_owner = ?9 WHERE sku = ?1 AND currency = ?2 AND min_quantity = ?5"))
            stock = Statements(
                probe: try db.statement(
                    """
                    SELECT quantity IS NOT ?3 OR status IS NOT ?4, element_owner FROM inventory_source_items
                    WHERE sku = ?1 AND source_code = ?2
                    """),
                insert: try db.statement(
                    """
                    INSERT INTO inventory_source_items (sku, source_code, quantity, status, updated_at, element_owner)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?9) ON CONFLICT (sku, source_code) DO NOTHING
                    """),
                update: try db.statement(
                    """
                    UPDATE inventory_source_items SET quantity = ?3, status = ?4, updated_at = ?5, element_owner = ?9
                    WHERE sku = ?1 AND source_code = ?2 AND (quantity IS NOT ?3 OR status IS NOT ?4)
                    """),
                slot: 2,
                claim: try db.statement(
                    "UPDATE inventory_source_items SET element_owner = ?9 WHERE sku = ?1 AND source_code = ?2"))
            source = Statements(
                probe: try db.statement("SELECT name IS NOT ?2 OR enabled IS NOT ?3 FROM sources WHERE code = ?1"),
                insert: try db.statement(
                    """
                    INSERT INTO sources (code, name, enabled, updated_at) VALUES (?1, ?2, ?3, ?4)
                    ON CONFLICT (code) DO NOTHING
                    """),
                update: try db.statement(
                    """
                    UPDATE sources SET name = ?2, enabled = ?3, updated_at = ?4
                    WHERE code = ?1 AND (name IS NOT ?2 OR enabled IS NOT ?3)
                    """),
                slot: 3)
            category = Statements(
                probe: try db.statement(
                    """
                    SELECT name IS NOT ?2 OR parent_code IS NOT ?3 OR position IS NOT ?4 OR names IS NOT ?5
                    FROM categories WHERE code = ?1
                    """),
                insert: try db.statement(
                    """
                    INSERT INTO categories (code, name, parent_code, position, names, updated_at)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (code) DO NOTHING
                    """),
                update: try db.statement(
                    """
                    UPDATE categories SET name = ?2, parent_code = ?3, position = ?4, names = ?5, updated_at = ?6
                    WHERE code = ?1 AND (name IS NOT ?2 OR parent_code IS NOT ?3 OR position IS NOT ?4 OR names IS NOT ?5)
                    """),
                slot: 4)
            ensureSource = try db.statement(
                "INSERT INTO sources (code, name, enabled, updated_at) VALUES (?1, ?1, 1, ?2) ON CONFLICT (code) DO NOTHING")
        }

        mutating func upsert(_ record: ModelRecord) throws(SQLiteError) -> UpsertOutcome {
            switch record {
            case .pricing(let p):
                // applyBatch stores pricing records itself (a refusal becomes a reject); here only for completeness.
                if case .applied(let outcome) = try PricingWriter.apply(db, p, now: now) { return outcome }
                return .unchanged
            case .product(let p): return try product(p)
            case .price(let p):
                let now = self.now
                return try upsert(price) { st in
                    st.bind(1, p.sku)
                    st.bind(2, p.price.currency.code)
                    st.bind(3, p.price.minorUnits)
                    st.bind(4, now)
                    st.bind(5, p.minQuantity)
                }
            case .stock(let s):
                try ensure(source: s.sourceCode)
                let outcome = try store(stock: s, quantity: s.quantity, status: s.status)
                if let snapshotRunID { try rememberForSnapshot(snapshotRunID, s) }
                return outcome
            case .source(let s):
                let now = self.now
                knownSources.insert(s.code)
                return try upsert(source) { st in
                    st.bind(1, s.code)
                    st.bind(2, s.name)
                    st.bind(3, s.enabled)
                    st.bind(4, now)
                }
            case .orderStatus, .shipment, .orderReturn:
                return .unchanged  // applied by `applyOrderUpdate` before the upserter sees them
            case .company, .companyUser, .customerGroup:
                preconditionFailure("B2B records are applied by Store.applyB2B, never by the upserter")
            case .category(let input):
                let c = input.texts.isEmpty ? input : ((try? input.validated()) ?? input)
                let names = AttributesJSON.encode(c.texts)
                let now = self.now
                return try upsert(category) { st in
                    st.bind(1, c.code)
                    st.bind(2, c.name)
                    st.bind(3, c.parent)
                    st.bind(4, c.position)
                    st.bind(5, names)
                    st.bind(6, now)
                }
            }
        }

        /// Upserts one stock row with the given quantity and status.
        private mutating func store(stock s: InventorySourceItem, quantity: Int64, status: StockStatus) throws(SQLiteError)
            -> UpsertOutcome
        {
            let now = self.now
            return try upsert(stock) { st in
                st.bind(1, s.sku)
                st.bind(2, s.sourceCode)
                st.bind(3, quantity)
                st.bind(4, status.rawValue)
                st.bind(5, now)
            }
        }

        /// What a relative stock adjustment did: applied with an outcome, or refused with the reason.
        enum Adjustment {
            case applied(UpsertOutcome)
            case refused(String)
        }

        /// Adds `s.quantity` (an adjustment) to the stored quantity of (sku, source), 0 when there is no row.
        mutating func adjust(_ s: InventorySourceItem) throws(SQLiteError) -> Adjustment {
            try ensure(source: s.sourceCode)
            let select = try db.statement(
                "SELECT quantity, status FROM inventory_source_items WHERE sku = ?1 AND source_code = ?2")
            select.bind(1, s.sku)
            select.bind(2, s.sourceCode)
            var current: (quantity: Int64, status: StockStatus)?
            if try select.step() {
                current = (select.int64(0), select.withTextBytes(1) { $0.count == 8 ? .inStock : .outOfStock })
            }
            select.reset()
            let base = current?.quantity ?? 0
            let (quantity, overflow) = base.addingReportingOverflow(s.quantity)
            let was = current == nil ? "0 (no stock recorded yet)" : "\(base)"
            if overflow {
                return .refused(
                    "the adjustment \(s.quantity) would take the quantity of '\(s.sku)' at '\(s.sourceCode)' from \(was) "
                        + "beyond the largest quantity storable; it was not applied")
            }
            if quantity < 0 {
                return .refused(
                    "the adjustment \(s.quantity) would take the quantity of '\(s.sku)' at '\(s.sourceCode)' from \(was) "
                        + "to \(quantity), below 0; it was not applied (check the order of the deltas, or send a snapshot)")
            }
            let status = s.statusIsGiven ? s.status : StockStatus.implied(byQuantity: quantity)
            if let current, current.quantity == quantity, current.status == status { return .applied(.unchanged) }
            return .applied(try store(stock: s, quantity: quantity, status: status))
        }

        private mutating func ensure(source code: String) throws(SQLiteError) {
            guard !knownSources.contains(code) else { return }
            ensureSource.bind(1, code)
            ensureSource.bind(2, now)
            try ensureSource.run()
            knownSources.insert(code)
        }

        private mutating func rememberForSnapshot(_ runID: Int64, _ s: InventorySourceItem) throws(SQLiteError) {
            var number = -1
            for known in batchSnapshotSources where known.code == s.sourceCode {
                number = known.number
                break
            }
            if number < 0 {
                let source = try db.statement(
                    "INSERT INTO temp.snapshot_sources (run_id, source_code) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
                source.bind(1, runID)
                source.bind(2, s.sourceCode)
                try source.run()
                number = snapshotKeys?.sourceNumber(s.sourceCode) ?? 0
                batchSnapshotSources.append((s.sourceCode, number))
            }
            if let keys = snapshotKeys, keys.insert(source: number, sku: s.sku) != .full { return }
            snapshotKeys?.spilled = true
            try spillForSnapshot(runID, s)
        }

        /// Remembers a stock row in `temp.snapshot_seen`: for keys beyond the memory's bound.
        private mutating func spillForSnapshot(_ runID: Int64, _ s: InventorySourceItem) throws(SQLiteError) {
            // Prepared once per batch: looking the statement up by its text for every stock row cost a hash of it.
            if rememberSeen == nil {
                rememberSeen = try db.statement(
                    "INSERT INTO temp.snapshot_seen (run_id, source_code, sku) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
            }
            let seen = rememberSeen!
            seen.bind(1, runID)
            seen.bind(2, s.sourceCode)
            seen.bind(3, s.sku)
            try seen.run()
        }

        mutating func product(_ input: Product) throws(SQLiteError) -> UpsertOutcome {
            // Normalize what validation would (repeated categories, language tag case); the batch is valid already.
            let p = input.categories.count < 2 && input.texts.isEmpty ? input : ((try? input.validated()) ?? input)
            let attributes = AttributesJSON.encode(p.attributes)
            let digest = ContentDigest.of(categories: p.categories, media: p.media, texts: p.texts)
            let now = self.now
            let outcome = try upsert(product) { st in
                st.bind(1, p.sku)
                st.bind(2, p.name)
                st.bind(3, p.description)
                st.bind(4, p.status.rawValue)
                st.bind(5, attributes)
                st.bind(6, now)
                st.bindBlob(7, digest)
            }
            switch outcome {
            case .unchanged: break
            case .inserted:
                if digest != nil { try writeContent(of: p) }
            case .updated:
                // Something changed, perhaps only the name: replace the content rows (three index seeks when empty).
                try Store.deleteContent(db, sku: p.sku)
                if digest != nil { try writeContent(of: p) }
            }
            return outcome
        }

        /// Inserts the category links, media and texts of a product that has none stored.
        private func writeContent(of p: Product) throws(SQLiteError) {
            if !p.categories.isEmpty {
                let st = try db.statement("INSERT INTO product_categories (sku, position, category_code) VALUES (?1, ?2, ?3)")
                for (position, code) in p.categories.enumerated() {
                    st.bind(1, p.sku)
                    st.bind(2, Int64(position))
                    st.bind(3, code)
                    try st.run()
                }
            }
            if !p.media.isEmpty {
                let st = try db.statement("INSERT INTO product_media (sku, position, url) VALUES (?1, ?2, ?3)")
                for (position, url) in p.media.enumerated() {
                    st.bind(1, p.sku)
                    st.bind(2, Int64(position))
                    st.bind(3, url)
                    try st.run()
                }
            }
            if !p.texts.isEmpty {
                let st = try db.statement("INSERT INTO product_texts (sku, lang, name, description) VALUES (?1, ?2, ?3, ?4)")
                for (lang, text) in p.texts {
                    st.bind(1, p.sku)
                    st.bind(2, lang)
                    st.bind(3, text.name)
                    st.bind(4, text.description)
                    try st.run()
                }
            }
        }

        /// One upsert with `statements`, binding only the statements that run (see the type's comment).
        private mutating func upsert(_ statements: Statements, _ bind: (Statement) -> Void) throws(SQLiteError)
            -> UpsertOutcome
        {
            guard statements.claim != nil else { return try upsertUnowned(statements, bind) }
            let owner = self.owner
            func bindAll(_ st: Statement) {
                bind(st)
                st.bind(9, owner)
            }
            if expectNew[statements.slot] {
                bindAll(statements.insert)
                try statements.insert.run()
                if db.changes > 0 { return .inserted }
                // Taken: the probe below reads the row's owner.
                expectNew[statements.slot] = false
            }
            let probe = statements.probe
            bindAll(probe)
            let found = try probe.step()
            let differs = found && probe.int64(0) != 0
            let previousOwner: Int64? = found && !probe.isNull(1) ? probe.int64(1) : nil
            probe.reset()
            if !found {
                bindAll(statements.insert)
                try statements.insert.run()
                expectNew[statements.slot] = true
                return .inserted
            }
            if previousOwner != owner {
                if let previousOwner {
                    // The row is about to name another writer: its element's digest no longer describes it.
                    if ledger?.takeover(owner: previousOwner, bySequence: element?.sequence ?? 0) == .leave {
                        leftToLaterElement = true
                        return .unchanged
                    }
                    if lastRevoked != previousOwner {
                        try Store.revokeElement(db, owner: previousOwner)
                        lastRevoked = previousOwner
                    }
                }
                if !differs {
                    bindAll(statements.claim!)
                    try statements.claim!.run()
                    return .unchanged
                }
            } else if !differs {
                return .unchanged
            }
            bindAll(statements.update)
            try statements.update.run()
            return db.changes > 0 ? .updated : .unchanged
        }

        /// `upsert` for the entities whose rows name no element (sources, categories).
        private mutating func upsertUnowned(_ statements: Statements, _ bind: (Statement) -> Void) throws(SQLiteError)
            -> UpsertOutcome
        {
            if expectNew[statements.slot] {
                bind(statements.insert)
                try statements.insert.run()
                if db.changes > 0 { return .inserted }
                expectNew[statements.slot] = false
            } else {
                let probe = statements.probe
                bind(probe)
                let found = try probe.step()
                let differs = found && probe.int64(0) != 0
                probe.reset()
                if !found {
                    bind(statements.insert)
                    try statements.insert.run()
                    expectNew[statements.slot] = true
                    return .inserted
                }
                if !differs { return .unchanged }
            }
            bind(statements.update)
            try statements.update.run()
            return db.changes > 0 ? .updated : .unchanged
        }
    }

    /// Deletes the category links, media and texts of `sku`.
    static func deleteContent(_ db: Connection, sku: String) throws(SQLiteError) {
        for sql in [
            "DELETE FROM product_categories WHERE sku = ?1", "DELETE FROM product_media WHERE sku = ?1",
            "DELETE FROM product_texts WHERE sku = ?1",
        ] {
            let st = try db.statement(sql)
            st.bind(1, sku)
            try st.run()
        }
    }

    /// Inserts one reject, keeping at most 1024 bytes of its raw excerpt.
    static func insertReject(_ db: Connection, _ reject: NewReject, now: Int64) throws(SQLiteError) {
        let st = try db.statement(
            """
            INSERT INTO rejects (run_id, connector, source, line, column_number, record_number, entity, field, reason,
                raw, created_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            """)
        st.bind(1, reject.runID)
        st.bind(2, reject.connector)
        st.bind(3, reject.location.source)
        st.bind(4, reject.location.line)
        st.bind(5, reject.location.column)
        st.bind(6, reject.location.recordNumber)
        st.bind(7, reject.entity)
        st.bind(8, reject.field)
        st.bind(9, reject.reason)
        st.bind(10, reject.raw.map { truncateUTF8($0, maxBytes: maxRawBytes) })
        st.bind(11, now)
        try st.run()
    }

    /// The most raw input kept per reject.
    static let maxRawBytes = 1024

    /// The longest prefix of `text` of at most `maxBytes` UTF-8 bytes that does not split a character's encoding.
    static func truncateUTF8(_ text: String, maxBytes: Int) -> String {
        let utf8 = text.utf8
        guard utf8.count > maxBytes else { return text }
        var end = utf8.index(utf8.startIndex, offsetBy: maxBytes)
        // `end` is the first byte left out; while it continues a multi-byte sequence, leave that sequence out too.
        while end > utf8.startIndex, utf8[end] & 0xC0 == 0x80 { end = utf8.index(before: end) }
        return String(utf8[..<end]) ?? ""
    }
}

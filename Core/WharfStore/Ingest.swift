import CSQLite
import WharfModel

extension Store {
    /// What one batch did: how many records created, changed or left rows as they were.
    public struct UpsertCounts: Sendable, Hashable {
        /// Records that created a row.
        public var inserted: Int64
        /// Records that changed a row.
        public var updated: Int64
        /// Records identical to the stored row (its `updatedAt` is not touched).
        public var unchanged: Int64

        /// Counts; zero by default.
        public init(inserted: Int64 = 0, updated: Int64 = 0, unchanged: Int64 = 0) {
            self.inserted = inserted
            self.updated = updated
            self.unchanged = unchanged
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

    /// Stores a batch of records in ONE transaction, together with the connector's new cursor and the batch's
    /// rejects, so a cursor never runs ahead of the data it covers.
    ///
    /// Each record replaces the row with its key (a product record replaces name, description, status and all
    /// attributes). A record equal to the stored row is counted unchanged and does not touch `updatedAt`. A stock
    /// record for an unknown source creates the source, with its code as name. Prices and stock do not need the
    /// product to exist. Records are validated first; when any record is invalid or any write fails, nothing of
    /// the batch — records, rejects, cursor — is stored, and the error names the record.
    public func apply(
        _ records: [ModelRecord], cursor: (connector: String, value: String)?, rejects: [NewReject] = []
    ) throws(StoreError) -> UpsertCounts {
        // Validation needs no lock: do it before taking the writer.
        for (index, record) in records.enumerated() {
            do throws(FieldError) {
                _ = try record.validated()
            } catch {
                throw StoreError(
                    code: .invalidRecord,
                    message: "cannot apply a batch of \(records.count) records: record \(index + 1) "
                        + "(\(record.keyDescription)) is invalid: \(error.reason); nothing of the batch was stored")
            }
        }
        let now = Timestamp.now().millisecondsSinceEpoch
        do {
            return try write("apply a batch of \(records.count) records") { db in
                try db.transaction {
                    var upserter = try Upserter(db, now: now)
                    var counts = UpsertCounts()
                    for (index, record) in records.enumerated() {
                        do throws(SQLiteError) {
                            counts.add(try upserter.upsert(record))
                        } catch {
                            throw BatchFailure(item: "record \(index + 1) (\(record.keyDescription))", error: error)
                        }
                    }
                    for (index, reject) in rejects.enumerated() {
                        do throws(SQLiteError) {
                            try Store.insertReject(db, reject, now: now)
                        } catch {
                            throw BatchFailure(item: "reject \(index + 1) (of run \(reject.runID))", error: error)
                        }
                    }
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
            }
        } catch {
            var error = error
            if error.code != .closed { error.message += "; nothing of the batch was stored" }
            throw error
        }
    }

    /// The cursor (watermark) last stored for `connector` with `apply`, or nil when there is none.
    public func cursor(connector: String) throws(StoreError) -> String? {
        try read("read the cursor of connector '\(connector)'") { db in
            let st = try db.statement("SELECT cursor_value FROM cursors WHERE connector = ?1")
            defer { st.reset() }
            st.bind(1, connector)
            return try st.step() ? st.text(0) : nil
        }
    }

    // MARK: Not public

    /// One item of a batch failed in SQLite.
    struct BatchFailure: Error {
        /// The item as a person finds it: "record 3 (product 'X')".
        var item: String
        var error: SQLiteError
    }

    /// Writes records on the writer inside an open transaction, with the batch's prepared statements fetched once.
    ///
    /// Every upsert is "INSERT … ON CONFLICT DO NOTHING" (one change: inserted) followed, when the key exists, by
    /// "UPDATE … WHERE <key> AND <some column differs>" (one change: updated; none: unchanged). The comparison runs
    /// inside SQLite, so an unchanged record costs two index lookups and no row decoding.
    struct Upserter {
        let db: Connection
        let now: Int64
        let insertProduct, updateProduct, insertPrice, updatePrice, insertStock, updateStock: Statement
        let insertSource, updateSource, ensureSource: Statement
        /// Sources known to exist in this transaction (created or checked), to skip re-checking per stock row.
        var knownSources: Set<String> = []

        init(_ db: Connection, now: Int64) throws(SQLiteError) {
            self.db = db
            self.now = now
            insertProduct = try db.statement(
                """
                INSERT INTO products (sku, name, description, status, attributes, created_at, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (sku) DO NOTHING
                """)
            updateProduct = try db.statement(
                """
                UPDATE products SET name = ?2, description = ?3, status = ?4, attributes = ?5, updated_at = ?6
                WHERE sku = ?1 AND (name IS NOT ?2 OR description IS NOT ?3 OR status IS NOT ?4 OR attributes IS NOT ?5)
                """)
            insertPrice = try db.statement(
                """
                INSERT INTO base_prices (sku, currency, amount, updated_at) VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (sku, currency) DO NOTHING
                """)
            updatePrice = try db.statement(
                """
                UPDATE base_prices SET amount = ?3, updated_at = ?4
                WHERE sku = ?1 AND currency = ?2 AND amount IS NOT ?3
                """)
            insertStock = try db.statement(
                """
                INSERT INTO inventory_source_items (sku, source_code, quantity, status, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (sku, source_code) DO NOTHING
                """)
            updateStock = try db.statement(
                """
                UPDATE inventory_source_items SET quantity = ?3, status = ?4, updated_at = ?5
                WHERE sku = ?1 AND source_code = ?2 AND (quantity IS NOT ?3 OR status IS NOT ?4)
                """)
            insertSource = try db.statement(
                """
                INSERT INTO sources (code, name, enabled, updated_at) VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (code) DO NOTHING
                """)
            updateSource = try db.statement(
                """
                UPDATE sources SET name = ?2, enabled = ?3, updated_at = ?4
                WHERE code = ?1 AND (name IS NOT ?2 OR enabled IS NOT ?3)
                """)
            ensureSource = try db.statement(
                "INSERT INTO sources (code, name, enabled, updated_at) VALUES (?1, ?1, 1, ?2) ON CONFLICT (code) DO NOTHING")
        }

        mutating func upsert(_ record: ModelRecord) throws(SQLiteError) -> UpsertOutcome {
            switch record {
            case .product(let p): return try product(p)
            case .price(let p):
                both(insertPrice, updatePrice) { st in
                    st.bind(1, p.sku)
                    st.bind(2, p.price.currency.code)
                    st.bind(3, p.price.minorUnits)
                    st.bind(4, now)
                }
                return try insertOrUpdate(insertPrice, updatePrice)
            case .stock(let s):
                if !knownSources.contains(s.sourceCode) {
                    ensureSource.bind(1, s.sourceCode)
                    ensureSource.bind(2, now)
                    try ensureSource.run()
                    knownSources.insert(s.sourceCode)
                }
                both(insertStock, updateStock) { st in
                    st.bind(1, s.sku)
                    st.bind(2, s.sourceCode)
                    st.bind(3, s.quantity)
                    st.bind(4, s.status.rawValue)
                    st.bind(5, now)
                }
                return try insertOrUpdate(insertStock, updateStock)
            case .source(let s):
                both(insertSource, updateSource) { st in
                    st.bind(1, s.code)
                    st.bind(2, s.name)
                    st.bind(3, s.enabled)
                    st.bind(4, now)
                }
                knownSources.insert(s.code)
                return try insertOrUpdate(insertSource, updateSource)
            }
        }

        func product(_ p: Product) throws(SQLiteError) -> UpsertOutcome {
            let attributes = AttributesJSON.encode(p.attributes)
            both(insertProduct, updateProduct) { st in
                st.bind(1, p.sku)
                st.bind(2, p.name)
                st.bind(3, p.description)
                st.bind(4, p.status.rawValue)
                st.bind(5, attributes)
                st.bind(6, now)
            }
            return try insertOrUpdate(insertProduct, updateProduct)
        }

        /// Binds the same parameters on the insert and the update statement (no array per record).
        @inline(__always)
        private func both(_ a: Statement, _ b: Statement, _ bind: (Statement) -> Void) {
            bind(a)
            bind(b)
        }

        private func insertOrUpdate(_ insert: Statement, _ update: Statement) throws(SQLiteError) -> UpsertOutcome {
            try insert.run()
            if db.changes > 0 { return .inserted }
            try update.run()
            return db.changes > 0 ? .updated : .unchanged
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

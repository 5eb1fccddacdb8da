import WharfModel

// Price lists, their entries and assignments, channel special prices, and price resolution.
//
// Full loads are staged: every entry row carries the list's `version`; readers read only the list's
// `live_version`. A staged load writes entries under `load_version` (over as many batches/transactions as it needs)
// and a publish flips `live_version` in one transaction, then deletes the old rows in that same transaction — so
// readers see either the whole old list or the whole new one, and a load that never publishes changes nothing.

extension Store {
    /// A price list with its entry and assignment counts (for listings).
    public struct PriceListSummary: Sendable, Hashable {
        /// The list.
        public var list: PriceList
        /// Live entries (tiers).
        public var entryCount: Int64
        /// Assignments to companies and groups.
        public var assignments: [PriceListAssignment]
    }

    /// One page of a price list's live entries, ordered by SKU then minimum quantity.
    public struct PriceListEntryPage: Sendable, Hashable {
        /// The entries.
        public var items: [PriceListEntry]
        /// The SKU to pass as `after` for the next page; nil on the last page.
        public var nextAfter: String?
    }

    // MARK: Price lists

    /// Every price list, ordered by code, with entry counts and assignments.
    public func priceLists() throws(StoreError) -> [PriceListSummary] {
        try read("list price lists") { db in
            try db.transaction(immediate: false) { () throws -> [PriceListSummary] in
                let lists = try PricingReader.lists(db)
                return try lists.keys.sorted().map { code in try PricingReader.summary(db, lists[code]!) }
            }
        }
    }

    /// The price list `code` with counts and assignments, or nil.
    public func priceList(code: String) throws(StoreError) -> PriceListSummary? {
        // Counts and assignments of this one list only, not of every list.
        try read("read price list '\(code)'") { db in
            try db.transaction(immediate: false) { () throws -> PriceListSummary? in
                guard let row = try PricingReader.lists(db)[code] else { return nil }
                return try PricingReader.summary(db, row)
            }
        }
    }

    /// Creates or replaces a price list's header (its entries stay). Changing the currency of a list that has
    /// fixed-price entries is refused (`.conflict`): Wharf never converts; load it under a new code instead.
    @discardableResult
    public func putPriceList(_ list: PriceList) throws(StoreError) -> UpsertOutcome {
        let checked: PriceList
        do throws(FieldError) { checked = try list.validated() } catch {
            throw StoreError(code: .invalidRecord, message: "price list '\(list.code)' is invalid: \(error.reason)")
        }
        let now = Timestamp.now().millisecondsSinceEpoch
        return try write("store price list '\(list.code)'") { db in
            try db.transaction { () throws -> UpsertOutcome in
                switch try PricingWriter.apply(db, .list(checked, load: nil), now: now) {
                case .applied(let outcome): return outcome
                case .refused(_, let reason): throw StoreError(code: .conflict, message: reason)
                }
            }
        }
    }

    /// Deletes a price list with its entries and assignments; false when there was none.
    @discardableResult
    public func deletePriceList(code: String) throws(StoreError) -> Bool {
        try write("delete price list '\(code)'") { db in
            try db.transaction { () throws -> Bool in
                for sql in ["DELETE FROM price_list_entries WHERE list_code = ?1", "DELETE FROM price_list_assignments WHERE list_code = ?1"] {
                    let st = try db.statement(sql)
                    st.bind(1, code)
                    try st.run()
                }
                let st = try db.statement("DELETE FROM price_lists WHERE code = ?1")
                st.bind(1, code)
                try st.run()
                return db.changes > 0
            }
        }
    }

    /// A page of the live entries of list `code` (SKUs after `after`, `limit` SKUs' worth of rows at most 1000
    /// rows); nil when the list does not exist.
    public func priceListEntries(code: String, after: String? = nil, limit: Int = 100) throws(StoreError) -> PriceListEntryPage? {
        guard (1...1000).contains(limit) else {
            throw StoreError(code: .invalidArgument, message: "limit must be 1 to 1000, got \(limit)")
        }
        return try read("read entries of price list '\(code)'") { db in
            try db.transaction(immediate: false) { () throws -> PriceListEntryPage? in
                guard let row = try PricingReader.lists(db)[code] else { return nil }
                let st = try db.statement(
                    """
                    SELECT sku, min_quantity, amount, percent_off FROM price_list_entries
                    WHERE list_code = ?1 AND version = ?2 AND sku > ?3 ORDER BY sku, min_quantity LIMIT ?4
                    """)
                defer { st.reset() }
                st.bind(1, code)
                st.bind(2, row.liveVersion)
                st.bind(3, after ?? "")
                st.bind(4, Int64(limit + 1))
                var items: [PriceListEntry] = []
                while try st.step() {
                    items.append(PricingReader.entry(st, list: row.list, skuColumn: 0))
                }
                var nextAfter: String?
                if items.count > limit {
                    items.removeLast(items.count - limit)
                    nextAfter = items.last?.sku
                    // Keep a SKU's tiers on one page: drop the last SKU's rows if the page may have cut them.
                    if let last = nextAfter, items.first?.sku != last {
                        items.removeAll { $0.sku == last }
                        nextAfter = items.last?.sku
                    }
                }
                return PriceListEntryPage(items: items, nextAfter: nextAfter)
            }
        }
    }

    /// Stores entries of list `code` in one transaction. With `replace`, they become the list's entire entry set
    /// atomically (readers see the old set or the new one, never a mix); otherwise they are upserted. Every entry
    /// is checked first; a fixed price in another currency than the list's is refused (`.invalidRecord`), nothing
    /// is stored then. `.notFound` when the list does not exist.
    public func putPriceListEntries(code: String, _ entries: [PriceListEntry], replace: Bool) throws(StoreError) -> UpsertCounts {
        for (index, entry) in entries.enumerated() {
            do throws(FieldError) { _ = try entry.validated() } catch {
                throw StoreError(code: .invalidRecord, message: "entry \(index + 1) (\(entry.sku)) is invalid: \(error.reason)")
            }
            if entry.listCode != code {
                throw StoreError(code: .invalidRecord, message: "entry \(index + 1) (\(entry.sku)) belongs to list '\(entry.listCode)', not '\(code)'")
            }
        }
        let now = Timestamp.now().millisecondsSinceEpoch
        let token = "rest-\(now)"
        return try write("store \(entries.count) entries of price list '\(code)'") { db in
            try db.transaction { () throws -> UpsertCounts in
                guard let row = try PricingReader.lists(db)[code] else {
                    throw StoreError(code: .notFound, message: "there is no price list '\(code)'")
                }
                var counts = UpsertCounts()
                if replace {
                    _ = try PricingWriter.apply(db, .list(row.list, load: token), now: now)
                }
                for (index, entry) in entries.enumerated() {
                    switch try PricingWriter.apply(db, .entry(entry, load: replace ? token : nil, deleted: false), now: now) {
                    case .applied(let outcome): counts.add(outcome)
                    case .refused(_, let reason):
                        throw StoreError(code: .invalidRecord, message: "entry \(index + 1) (\(entry.sku)): \(reason); nothing was stored")
                    }
                }
                if replace { _ = try PricingWriter.apply(db, .publish(code: code, load: token), now: now) }
                return counts
            }
        }
    }

    /// Deletes one tier (or, with `minQuantity` nil, every tier) of `sku` in list `code`; the number deleted.
    @discardableResult
    public func deletePriceListEntry(code: String, sku: String, minQuantity: Int64? = nil) throws(StoreError) -> Int {
        try write("delete entries of '\(sku)' in price list '\(code)'") { db in
            let st = try db.statement(
                """
                DELETE FROM price_list_entries WHERE list_code = ?1 AND sku = ?2 AND (?3 IS NULL OR min_quantity = ?3)
                    AND version = (SELECT live_version FROM price_lists WHERE code = ?1)
                """)
            st.bind(1, code)
            st.bind(2, sku)
            st.bind(3, minQuantity)
            try st.run()
            return db.changes
        }
    }

    // MARK: Assignments and special prices

    /// Assigns a list to a company or group (idempotent). `.notFound` when the list does not exist.
    public func assignPriceList(_ assignment: PriceListAssignment) throws(StoreError) -> UpsertOutcome {
        let now = Timestamp.now().millisecondsSinceEpoch
        return try write("assign price list '\(assignment.listCode)'") { db in
            switch try PricingWriter.apply(db, .assignment(assignment, deleted: false), now: now) {
            case .applied(let outcome): return outcome
            case .refused(_, let reason): throw StoreError(code: .notFound, message: reason)
            }
        }
    }

    /// Removes an assignment; false when there was none.
    @discardableResult
    public func unassignPriceList(_ assignment: PriceListAssignment) throws(StoreError) -> Bool {
        let now = Timestamp.now().millisecondsSinceEpoch
        return try write("unassign price list '\(assignment.listCode)'") { db in
            if case .applied(let outcome) = try PricingWriter.apply(db, .assignment(assignment, deleted: true), now: now) {
                return outcome == .updated
            }
            return false
        }
    }

    /// The assignments of list `code`.
    public func priceListAssignments(code: String) throws(StoreError) -> [PriceListAssignment] {
        try read("read assignments of price list '\(code)'") { db in try PricingReader.assignments(db, list: code) }
    }

    /// Creates or replaces a special price (key: sku, channel, currency, from).
    @discardableResult
    public func putSpecialPrice(_ special: SpecialPrice) throws(StoreError) -> UpsertOutcome {
        do throws(FieldError) { _ = try special.validated() } catch {
            throw StoreError(code: .invalidRecord, message: "special price of '\(special.sku)' is invalid: \(error.reason)")
        }
        let now = Timestamp.now().millisecondsSinceEpoch
        return try write("store a special price of '\(special.sku)'") { db in
            guard case .applied(let outcome) = try PricingWriter.apply(db, .special(special, deleted: false), now: now) else {
                return .unchanged
            }
            return outcome
        }
    }

    /// Deletes the special price with this key (sku, channel, currency, start); false when there was none.
    @discardableResult
    public func deleteSpecialPrice(sku: String, channel: String, currency: Currency, from: Timestamp?) throws(StoreError) -> Bool {
        let now = Timestamp.now().millisecondsSinceEpoch
        let key = SpecialPrice(sku: sku, channel: channel, price: Money(minorUnits: 0, currency: currency), from: from)
        return try write("delete a special price of '\(sku)'") { db in
            if case .applied(let outcome) = try PricingWriter.apply(db, .special(key, deleted: true), now: now) { return outcome == .updated }
            return false
        }
    }

    /// The special prices of `sku`, in every channel.
    public func specialPrices(sku: String) throws(StoreError) -> [SpecialPrice] {
        try read("read special prices of '\(sku)'") { db in try PricingReader.specials(db, sku: sku) }
    }

    // MARK: Resolution

    /// Resolves one price: the unit price `query` pays, with every candidate explained when `explain` is true.
    /// A failure (no price at all, currency ambiguity, bad query) is a `PriceResolutionFailure` in the result;
    /// `StoreError` only for database trouble. One read transaction: a sync committing meanwhile is seen wholly
    /// or not at all.
    ///
    /// This is the host API other parts (order checks) call:
    /// `store.resolvePrice(PriceQuery(sku: "SKU-1", company: "ACME", quantity: 10))`.
    public func resolvePrice(_ query: PriceQuery, explain: Bool = false) throws(StoreError) -> Result<PriceResolution, PriceResolutionFailure> {
        try resolvePrices([query], explain: explain)[0]
    }

    /// Resolves many prices (a cart) in one read transaction; answers in the order of `queries`.
    public func resolvePrices(_ queries: [PriceQuery], explain: Bool = false) throws(StoreError) -> [Result<PriceResolution, PriceResolutionFailure>] {
        try read("resolve \(queries.count) price\(queries.count == 1 ? "" : "s")") { db in
            try db.transaction(immediate: false) { () throws -> [Result<PriceResolution, PriceResolutionFailure>] in
                var resolver = try PriceResolver(db)
                return try queries.map { try resolver.resolve($0, explain: explain) }
            }
        }
    }
}

// MARK: Not public

/// The migration that creates the pricing tables (appended to `Migrations.all`).
enum PricingSchema {
    static let sql = """
        -- Price lists from a CPQ or a sales channel. Entries are versioned: readers use live_version; a staged full
        -- load writes load_version and a publish swaps it in, so a list is never seen half-replaced.
        CREATE TABLE price_lists (
            code          TEXT PRIMARY KEY NOT NULL,
            name          TEXT NOT NULL,
            currency      TEXT NOT NULL CHECK (length(currency) = 3),
            priority      INTEGER NOT NULL DEFAULT 0,
            mode          TEXT NOT NULL CHECK (mode IN ('lowest', 'override')),
            valid_from    INTEGER,                                  -- ms since epoch, UTC, inclusive
            valid_to      INTEGER,                                  -- exclusive
            live_version  INTEGER NOT NULL DEFAULT 1,
            load_version  INTEGER,
            load_token    TEXT,
            updated_at    INTEGER NOT NULL
        ) WITHOUT ROWID;

        -- No foreign keys: lists, entries and SKUs arrive in any order and lists are deleted with their entries.
        CREATE TABLE price_list_entries (
            list_code     TEXT NOT NULL,
            version       INTEGER NOT NULL,
            sku           TEXT NOT NULL,
            min_quantity  INTEGER NOT NULL CHECK (min_quantity >= 1),
            amount        INTEGER CHECK (amount >= 0),              -- minor units of the list's currency
            percent_off   INTEGER CHECK (percent_off > 0 AND percent_off <= 1000000),  -- percent x 10^4
            updated_at    INTEGER NOT NULL,
            CHECK ((amount IS NULL) <> (percent_off IS NULL)),
            PRIMARY KEY (list_code, version, sku, min_quantity)
        ) WITHOUT ROWID;

        -- Companies and groups are referenced by code: they may live in a CRM Wharf does not own.
        CREATE TABLE price_list_assignments (
            target_kind  TEXT NOT NULL CHECK (target_kind IN ('company', 'group')),
            target       TEXT NOT NULL,
            list_code    TEXT NOT NULL,
            updated_at   INTEGER NOT NULL,
            PRIMARY KEY (target_kind, target, list_code)
        ) WITHOUT ROWID;
        CREATE INDEX price_list_assignments_by_list ON price_list_assignments (list_code);

        CREATE TABLE special_prices (
            sku         TEXT NOT NULL,
            channel     TEXT NOT NULL,
            currency    TEXT NOT NULL CHECK (length(currency) = 3),
            starts_at   INTEGER NOT NULL,                           -- -9223372036854775808 = no start
            ends_at     INTEGER,                                    -- exclusive; NULL = open-ended
            amount      INTEGER NOT NULL CHECK (amount >= 0),
            updated_at  INTEGER NOT NULL,
            PRIMARY KEY (sku, channel, currency, starts_at)
        ) WITHOUT ROWID;
        """
}

/// What storing a pricing record did: stored, or refused for a reason the caller turns into a reject.
enum PricingOutcome {
    case applied(Store.UpsertOutcome)
    case refused(field: String, reason: String)
}

/// Writes pricing records on the writer, inside the caller's transaction.
enum PricingWriter {
    static func apply(_ db: Connection, _ record: PricingRecord, now: Int64) throws(SQLiteError) -> PricingOutcome {
        switch record {
        case .list(let list, let load): return try putList(db, list, load: load, now: now)
        case .entry(let entry, let load, let deleted): return try putEntry(db, entry, load: load, deleted: deleted, now: now)
        case .assignment(let a, let deleted):
            if deleted {
                let st = try db.statement("DELETE FROM price_list_assignments WHERE target_kind = ?1 AND target = ?2 AND list_code = ?3")
                st.bind(1, a.target.rawValue)
                st.bind(2, a.code)
                st.bind(3, a.listCode)
                try st.run()
                return .applied(db.changes > 0 ? .updated : .unchanged)
            }
            guard try listRow(db, a.listCode) != nil else {
                return .refused(field: "list", reason: "there is no price list '\(a.listCode)' to assign; send the price_list record first")
            }
            let st = try db.statement(
                """
                INSERT INTO price_list_assignments (target_kind, target, list_code, updated_at) VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT DO NOTHING
                """)
            st.bind(1, a.target.rawValue)
            st.bind(2, a.code)
            st.bind(3, a.listCode)
            st.bind(4, now)
            try st.run()
            return .applied(db.changes > 0 ? .inserted : .unchanged)
        case .special(let s, let deleted):
            let start = s.from?.millisecondsSinceEpoch ?? Int64.min
            if deleted {
                let st = try db.statement("DELETE FROM special_prices WHERE sku = ?1 AND channel = ?2 AND currency = ?3 AND starts_at = ?4")
                st.bind(1, s.sku)
                st.bind(2, s.channel)
                st.bind(3, s.price.currency.code)
                st.bind(4, start)
                try st.run()
                return .applied(db.changes > 0 ? .updated : .unchanged)
            }
            let probe = try db.statement(
                "SELECT amount IS NOT ?5 OR ends_at IS NOT ?6 FROM special_prices WHERE sku = ?1 AND channel = ?2 AND currency = ?3 AND starts_at = ?4")
            defer { probe.reset() }
            bindSpecial(probe, s, start: start)
            let existed = try probe.step()
            if existed && probe.int64(0) == 0 { return .applied(.unchanged) }
            let st = try db.statement(
                """
                INSERT INTO special_prices (sku, channel, currency, starts_at, amount, ends_at, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                ON CONFLICT (sku, channel, currency, starts_at) DO UPDATE SET amount = excluded.amount,
                    ends_at = excluded.ends_at, updated_at = excluded.updated_at
                """)
            bindSpecial(st, s, start: start)
            st.bind(7, now)
            try st.run()
            return .applied(existed ? .updated : .inserted)
        case .publish(let code, let load):
            guard let row = try listRow(db, code) else {
                return .refused(field: "code", reason: "there is no price list '\(code)' to publish")
            }
            guard row.loadToken == load, let version = row.loadVersion else {
                return .refused(
                    field: "load",
                    reason: "price list '\(code)' has no staged load '\(load)'\(row.loadToken.map { " (the staged load is '\($0)')" } ?? ""); a price_list record with this load must come first")
            }
            let drop = try db.statement("DELETE FROM price_list_entries WHERE list_code = ?1 AND version <> ?2")
            drop.bind(1, code)
            drop.bind(2, version)
            try drop.run()
            let st = try db.statement(
                "UPDATE price_lists SET live_version = ?2, load_version = NULL, load_token = NULL, updated_at = ?3 WHERE code = ?1")
            st.bind(1, code)
            st.bind(2, version)
            st.bind(3, now)
            try st.run()
            return .applied(.updated)
        }
    }

    private static func bindSpecial(_ st: Statement, _ s: SpecialPrice, start: Int64) {
        st.bind(1, s.sku)
        st.bind(2, s.channel)
        st.bind(3, s.price.currency.code)
        st.bind(4, start)
        st.bind(5, s.price.minorUnits)
        st.bind(6, s.to?.millisecondsSinceEpoch)
    }

    struct ListRow {
        var currency: String
        var liveVersion: Int64
        var loadVersion: Int64?
        var loadToken: String?
    }

    static func listRow(_ db: Connection, _ code: String) throws(SQLiteError) -> ListRow? {
        let st = try db.statement("SELECT currency, live_version, load_version, load_token FROM price_lists WHERE code = ?1")
        defer { st.reset() }
        st.bind(1, code)
        guard try st.step() else { return nil }
        return ListRow(currency: st.text(0), liveVersion: st.int64(1), loadVersion: st.optionalInt64(2), loadToken: st.optionalText(3))
    }

    private static func putList(_ db: Connection, _ list: PriceList, load: String?, now: Int64) throws(SQLiteError) -> PricingOutcome {
        let existing = try listRow(db, list.code)
        if let existing, existing.currency != list.currency.code {
            let fixed = try db.statement(
                "SELECT 1 FROM price_list_entries WHERE list_code = ?1 AND version = ?2 AND amount IS NOT NULL LIMIT 1")
            defer { fixed.reset() }
            fixed.bind(1, list.code)
            fixed.bind(2, existing.liveVersion)
            if try fixed.step() {
                return .refused(
                    field: "currency",
                    reason: "price list '\(list.code)' has fixed prices in \(existing.currency); its currency cannot become \(list.currency.code) (Wharf never converts, and its live prices would change meaning); delete the list first or load it under a new code")
            }
        }
        let probe = try db.statement(
            """
            SELECT name IS NOT ?2 OR currency IS NOT ?3 OR priority IS NOT ?4 OR mode IS NOT ?5 OR valid_from IS NOT ?6
                OR valid_to IS NOT ?7 FROM price_lists WHERE code = ?1
            """)
        defer { probe.reset() }
        bindList(probe, list)
        let differs = try probe.step() && probe.int64(0) != 0
        if existing == nil || differs {
            let st = try db.statement(
                """
                INSERT INTO price_lists (code, name, currency, priority, mode, valid_from, valid_to, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                ON CONFLICT (code) DO UPDATE SET name = excluded.name, currency = excluded.currency,
                    priority = excluded.priority, mode = excluded.mode, valid_from = excluded.valid_from,
                    valid_to = excluded.valid_to, updated_at = excluded.updated_at
                """)
            bindList(st, list)
            st.bind(8, now)
            try st.run()
        }
        if let load {
            // A new staged load: forget rows of any earlier load that never published, and stage the next version.
            let live = existing?.liveVersion ?? 1
            let drop = try db.statement("DELETE FROM price_list_entries WHERE list_code = ?1 AND version <> ?2")
            drop.bind(1, list.code)
            drop.bind(2, live)
            try drop.run()
            let st = try db.statement("UPDATE price_lists SET load_version = ?2, load_token = ?3 WHERE code = ?1")
            st.bind(1, list.code)
            st.bind(2, live + 1)
            st.bind(3, load)
            try st.run()
        }
        return .applied(existing == nil ? .inserted : (differs ? .updated : .unchanged))
    }

    private static func bindList(_ st: Statement, _ list: PriceList) {
        st.bind(1, list.code)
        st.bind(2, list.name)
        st.bind(3, list.currency.code)
        st.bind(4, list.priority)
        st.bind(5, list.mode.rawValue)
        st.bind(6, list.validFrom?.millisecondsSinceEpoch)
        st.bind(7, list.validTo?.millisecondsSinceEpoch)
    }

    private static func putEntry(
        _ db: Connection, _ entry: PriceListEntry, load: String?, deleted: Bool, now: Int64
    ) throws(SQLiteError) -> PricingOutcome {
        guard let row = try listRow(db, entry.listCode) else {
            return .refused(field: "list", reason: "there is no price list '\(entry.listCode)'; send its price_list record first")
        }
        let version: Int64
        if let load {
            guard row.loadToken == load, let staged = row.loadVersion else {
                return .refused(
                    field: "load",
                    reason: "price list '\(entry.listCode)' has no staged load '\(load)'; a price_list record with this load must come first")
            }
            version = staged
        } else {
            version = row.liveVersion
        }
        if deleted {
            let st = try db.statement("DELETE FROM price_list_entries WHERE list_code = ?1 AND version = ?2 AND sku = ?3 AND min_quantity = ?4")
            st.bind(1, entry.listCode)
            st.bind(2, version)
            st.bind(3, entry.sku)
            st.bind(4, entry.minQuantity)
            try st.run()
            return .applied(db.changes > 0 ? .updated : .unchanged)
        }
        var amount: Int64?
        var percent: Int64?
        switch entry.adjustment {
        case .fixed(let money):
            guard money.currency.code == row.currency else {
                return .refused(
                    field: "currency",
                    reason: "the price is in \(money.currency.code) but price list '\(entry.listCode)' is in \(row.currency); Wharf never converts currencies")
            }
            amount = money.minorUnits
        case .percentOff(let p): percent = p.tenThousandths
        }
        let probe = try db.statement(
            """
            SELECT amount IS NOT ?5 OR percent_off IS NOT ?6 FROM price_list_entries
            WHERE list_code = ?1 AND version = ?2 AND sku = ?3 AND min_quantity = ?4
            """)
        defer { probe.reset() }
        bindEntry(probe, entry, version: version, amount: amount, percent: percent)
        let existed = try probe.step()
        if existed && probe.int64(0) == 0 { return .applied(.unchanged) }
        let st = try db.statement(
            """
            INSERT INTO price_list_entries (list_code, version, sku, min_quantity, amount, percent_off, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT (list_code, version, sku, min_quantity) DO UPDATE SET amount = excluded.amount,
                percent_off = excluded.percent_off, updated_at = excluded.updated_at
            """)
        bindEntry(st, entry, version: version, amount: amount, percent: percent)
        st.bind(7, now)
        try st.run()
        return .applied(existed ? .updated : .inserted)
    }

    private static func bindEntry(_ st: Statement, _ entry: PriceListEntry, version: Int64, amount: Int64?, percent: Int64?) {
        st.bind(1, entry.listCode)
        st.bind(2, version)
        st.bind(3, entry.sku)
        st.bind(4, entry.minQuantity)
        st.bind(5, amount)
        st.bind(6, percent)
    }
}

/// Reads pricing rows on a reader connection.
enum PricingReader {
    struct ListRow {
        var list: PriceList
        var liveVersion: Int64
    }

    static func lists(_ db: Connection) throws(SQLiteError) -> [String: ListRow] {
        let st = try db.statement(
            "SELECT code, name, currency, priority, mode, valid_from, valid_to, live_version, updated_at FROM price_lists")
        defer { st.reset() }
        var result: [String: ListRow] = [:]
        while try st.step() {
            let code = st.text(0)
            let list = PriceList(
                code: code, name: st.text(1), currency: Currency(code: st.text(2)) ?? Currency(code: "EUR")!,
                priority: st.int64(3), mode: PriceListMode(rawValue: st.text(4)) ?? .lowest,
                validFrom: st.optionalInt64(5).map { Timestamp(millisecondsSinceEpoch: $0) },
                validTo: st.optionalInt64(6).map { Timestamp(millisecondsSinceEpoch: $0) },
                updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(8)))
            result[code] = ListRow(list: list, liveVersion: st.int64(7))
        }
        return result
    }

    /// `row`'s list with its live entry count and assignments.
    static func summary(_ db: Connection, _ row: ListRow) throws(SQLiteError) -> Store.PriceListSummary {
        let counts = try db.statement("SELECT COUNT(*) FROM price_list_entries WHERE list_code = ?1 AND version = ?2")
        defer { counts.reset() }
        counts.bind(1, row.list.code)
        counts.bind(2, row.liveVersion)
        _ = try counts.step()
        return Store.PriceListSummary(
            list: row.list, entryCount: counts.int64(0), assignments: try assignments(db, list: row.list.code))
    }

    static func assignments(_ db: Connection, list: String) throws(SQLiteError) -> [PriceListAssignment] {
        let st = try db.statement(
            "SELECT target_kind, target FROM price_list_assignments WHERE list_code = ?1 ORDER BY target_kind, target")
        defer { st.reset() }
        st.bind(1, list)
        var result: [PriceListAssignment] = []
        while try st.step() {
            result.append(PriceListAssignment(listCode: list, target: PriceAssignmentTarget(rawValue: st.text(0)) ?? .group, code: st.text(1)))
        }
        return result
    }

    static func specials(_ db: Connection, sku: String) throws(SQLiteError) -> [SpecialPrice] {
        let st = try db.statement(
            "SELECT channel, currency, amount, starts_at, ends_at FROM special_prices WHERE sku = ?1 ORDER BY channel, currency, starts_at")
        defer { st.reset() }
        st.bind(1, sku)
        var result: [SpecialPrice] = []
        while try st.step() {
            guard let currency = Currency(code: st.text(1)) else { continue }
            let start = st.int64(3)
            result.append(SpecialPrice(
                sku: sku, channel: st.text(0), price: Money(minorUnits: st.int64(2), currency: currency),
                from: start == Int64.min ? nil : Timestamp(millisecondsSinceEpoch: start),
                to: st.optionalInt64(4).map { Timestamp(millisecondsSinceEpoch: $0) }))
        }
        return result
    }

    /// An entry from columns (sku at `skuColumn`, then min_quantity, amount, percent_off).
    static func entry(_ st: Statement, list: PriceList, skuColumn: Int32) -> PriceListEntry {
        let adjustment: PriceAdjustment = st.isNull(skuColumn + 2)
            ? .percentOff(PercentOff(tenThousandths: st.int64(skuColumn + 3)))
            : .fixed(Money(minorUnits: st.int64(skuColumn + 2), currency: list.currency))
        return PriceListEntry(listCode: list.code, sku: st.text(skuColumn), minQuantity: st.int64(skuColumn + 1), adjustment: adjustment)
    }
}

/// Resolves queries on one reader inside one read transaction; caches the lists and assignment look-ups.
struct PriceResolver {
    let db: Connection
    let lists: [String: PricingReader.ListRow]
    var assignmentCache: [String: [(code: String, via: String)]] = [:]

    let baseStatement: Statement
    let entriesStatement: Statement

    init(_ db: Connection) throws(SQLiteError) {
        self.db = db
        // Resolution seeks all over a table of millions of entries: reading its pages through a memory map saves a
        // read() per page that is not in SQLite's own cache. (Per connection; setting it again is a no-op.)
        try db.execute("PRAGMA mmap_size = 4294967296")
        self.lists = try PricingReader.lists(db)
        baseStatement = try db.statement("SELECT currency, min_quantity, amount FROM base_prices WHERE sku = ?1 ORDER BY currency, min_quantity")
        entriesStatement = try db.statement(
            "SELECT min_quantity, amount, percent_off FROM price_list_entries WHERE list_code = ?1 AND version = ?2 AND sku = ?3 ORDER BY min_quantity")
    }

    /// The lists assigned to the company or the group (each once; the company assignment named first).
    mutating func assigned(company: String?, group: String?) throws(SQLiteError) -> [(code: String, via: String)] {
        let key = "\(company ?? "")\u{1}\(group ?? "")"
        if let cached = assignmentCache[key] { return cached }
        var result: [(code: String, via: String)] = []
        let st = try db.statement("SELECT list_code FROM price_list_assignments WHERE target_kind = ?1 AND target = ?2 ORDER BY list_code")
        defer { st.reset() }
        for (kind, code) in [("company", company), ("group", group)] {
            guard let code, !code.isEmpty else { continue }
            st.reset()
            st.bind(1, kind)
            st.bind(2, code)
            while try st.step() {
                let list = st.text(0)
                if !result.contains(where: { $0.code == list }) { result.append((list, "\(kind):\(code)")) }
            }
        }
        if let company, !company.isEmpty {
            // The price lists a company record carries (set by the CRM sync or PATCH /v1/companies/{id}) count as
            // assignments to that company, so a CRM's price-list assignments take effect without a second step.
            let own = try db.statement("SELECT code FROM company_price_lists WHERE company_id = ?1 ORDER BY position")
            defer { own.reset() }
            own.bind(1, company)
            while try own.step() {
                let list = own.text(0)
                if !result.contains(where: { $0.code == list }) { result.append((list, "company:\(company) (its price lists)")) }
            }
        }
        assignmentCache[key] = result
        return result
    }

    mutating func resolve(_ query: PriceQuery, explain: Bool) throws(SQLiteError) -> Result<PriceResolution, PriceResolutionFailure> {
        guard query.quantity >= 1 else {
            return .failure(PriceResolutionFailure(kind: .invalid, message: "quantity must be 1 or more, got \(query.quantity)"))
        }
        var candidates: [PriceCandidate] = []
        let qty = query.quantity

        // Base prices: per currency, the tier with the highest minimum quantity not above qty.
        var baseByCurrency: [String: Money] = [:]
        let base = baseStatement
        defer { base.reset() }
        base.bind(1, query.sku)
        var baseRows: [(currency: Currency, min: Int64, amount: Int64)] = []
        while try base.step() {
            if let currency = Currency(code: base.text(0)) { baseRows.append((currency, base.int64(1), base.int64(2))) }
        }
        var chosenBaseTier: [String: Int64] = [:]
        for row in baseRows where row.min <= qty {
            baseByCurrency[row.currency.code] = Money(minorUnits: row.amount, currency: row.currency)
            chosenBaseTier[row.currency.code] = row.min
        }
        for row in baseRows {
            let money = Money(minorUnits: row.amount, currency: row.currency)
            if chosenBaseTier[row.currency.code] == row.min {
                candidates.append(PriceCandidate(kind: .base, minQuantity: row.min, price: money, outcome: .lost, reason: explain ? "base price tier from \(row.min)" : ""))
            } else if explain {
                candidates.append(PriceCandidate(
                    kind: .base, minQuantity: row.min, price: money, outcome: .notApplicable,
                    reason: row.min > qty ? "tier from \(row.min) is not reached at quantity \(qty)" : "superseded by the tier from \(chosenBaseTier[row.currency.code]!)"))
            }
        }

        // Price lists assigned to the company or the group.
        let entries = entriesStatement
        defer { entries.reset() }
        for (code, via) in try assigned(company: query.company, group: query.group) {
            guard let row = lists[code] else { continue }
            let list = row.list
            func candidate(_ min: Int64?, _ percent: PercentOff?, _ price: Money?, _ outcome: PriceCandidate.Outcome, _ reason: String) -> PriceCandidate {
                PriceCandidate(
                    kind: .priceList, listCode: code, mode: list.mode, priority: list.priority, assignedVia: via, minQuantity: min,
                    percentOff: percent, validFrom: list.validFrom, validTo: list.validTo, price: price, outcome: outcome, reason: reason)
            }
            let valid = list.isValid(at: query.at)
            if !valid && !explain { continue }
            entries.reset()
            entries.bind(1, code)
            entries.bind(2, row.liveVersion)
            entries.bind(3, query.sku)
            var tiers: [(min: Int64, amount: Int64?, percent: Int64?)] = []
            while try entries.step() {
                tiers.append((entries.int64(0), entries.optionalInt64(1), entries.optionalInt64(2)))
            }
            if tiers.isEmpty {
                if explain { candidates.append(candidate(nil, nil, nil, .notApplicable, "price list '\(code)' has no entry for this SKU")) }
                continue
            }
            let chosenIndex = tiers.lastIndex { $0.min <= qty }
            for (index, tier) in tiers.enumerated() {
                let percent = tier.percent.map { PercentOff(tenThousandths: $0) }
                var price: Money?
                var baseMissing = false
                if let amount = tier.amount {
                    price = Money(minorUnits: amount, currency: list.currency)
                } else if let percent {
                    if let basePrice = baseByCurrency[list.currency.code] {
                        price = Money(minorUnits: percent.apply(to: basePrice.minorUnits), currency: list.currency)
                    } else {
                        baseMissing = true
                    }
                }
                if index == chosenIndex && valid && !baseMissing {
                    let how = explain ? (percent.map { "\($0)% off the base price, rounded half-even" } ?? "fixed price") : ""
                    candidates.append(candidate(tier.min, percent, price, .lost, explain ? "tier from \(tier.min) of price list '\(code)' (\(how))" : ""))
                } else if explain {
                    let reason: String
                    if !valid {
                        reason = "price list '\(code)' is not valid at \(query.at.rfc3339) (valid \(list.validFrom?.rfc3339 ?? "always") to \(list.validTo?.rfc3339 ?? "open end"))"
                    } else if tier.min > qty {
                        reason = "tier from \(tier.min) is not reached at quantity \(qty)"
                    } else if index != chosenIndex {
                        reason = "superseded by the tier from \(tiers[chosenIndex!].min)"
                    } else {
                        reason = "\(percent?.description ?? "")% off needs a base price in \(list.currency.code), and there is none for this SKU"
                    }
                    candidates.append(candidate(tier.min, percent, price, .notApplicable, reason))
                }
            }
        }

        // Channel special prices.
        if query.channel != nil || explain {
            for special in try PricingReader.specials(db, sku: query.sku) {
                var reason: String?
                if special.channel != query.channel {
                    reason = query.channel == nil ? "for channel '\(special.channel)'; the query names no channel" : "for channel '\(special.channel)', not '\(query.channel!)'"
                } else if !special.isValid(at: query.at) {
                    reason = "not valid at \(query.at.rfc3339) (from \(special.from?.rfc3339 ?? "always") to \(special.to?.rfc3339 ?? "open end"))"
                }
                if reason != nil && !explain { continue }
                candidates.append(PriceCandidate(
                    kind: .special, channel: special.channel, validFrom: special.from, validTo: special.to, price: special.price,
                    outcome: reason == nil ? .lost : .notApplicable, reason: reason ?? (explain ? "special price in channel '\(special.channel)'" : "")))
            }
        }

        // One currency: the query's, or the one every applicable candidate agrees on. Never a conversion.
        let applicable = candidates.indices.filter { candidates[$0].outcome != .notApplicable && candidates[$0].price != nil }
        let currencies = Set(applicable.map { candidates[$0].price!.currency.code })
        let currency: String
        if let requested = query.currency {
            currency = requested.code
        } else if currencies.count > 1 {
            return .failure(PriceResolutionFailure(
                kind: .currencyMismatch,
                message: "prices for '\(query.sku)' apply in \(currencies.sorted().joined(separator: " and ")); name the currency to pay in (currency=) — Wharf never converts",
                candidates: explain ? candidates : []))
        } else {
            currency = currencies.first ?? ""
        }
        for index in applicable where candidates[index].price!.currency.code != currency {
            candidates[index].outcome = .notApplicable
            if explain { candidates[index].reason += "; in \(candidates[index].price!.currency.code), not \(currency)" }
        }
        guard let winnerIndex = Pricing.pickWinner(&candidates, explainLosers: explain) else {
            let what = query.currency.map { " in \($0.code)" } ?? ""
            return .failure(PriceResolutionFailure(
                kind: .notFound,
                message: "no price\(what) for '\(query.sku)' at quantity \(qty): no base price, price list or special price applies",
                candidates: explain ? candidates : []))
        }
        let winner = candidates[winnerIndex]
        return .success(PriceResolution(query: query, unitPrice: winner.price!, winner: winner, candidates: explain ? candidates : []))
    }
}

import CSQLite
import Foundation
import WharfModel

extension Store {
    /// Stores a new quote in status `requested` and returns it with its id ("Q000000001").
    public func createQuote(
        companyID: String, companyUserID: String, channel: String, currency: Currency, lines: [QuoteLine], note: String?,
        now: Timestamp = .now()
    ) throws(StoreError) -> Quote {
        try write("create a quote") { db in
            try db.transaction { () throws -> Quote in
                let count = try db.scalarInt("SELECT count(*) FROM quotes")
                let number = String(count + 1)
                let quote = Quote(
                    id: "Q" + String(repeating: "0", count: max(0, 9 - number.count)) + number, companyID: companyID,
                    companyUserID: companyUserID, channel: channel, currency: currency, lines: lines, status: .requested,
                    expiresAt: nil, note: note, orderNumber: nil, createdAt: now, updatedAt: now)
                try Store.saveQuote(db, quote, insert: true)
                return quote
            }
        }
    }

    /// The quote with `id` (its status already `expired` when the offer ran out), or nil.
    public func quote(id: String, now: Timestamp = .now()) throws(StoreError) -> Quote? {
        try read("read quote '\(id)'") { db in try Store.loadQuote(db, id: id, now: now) }
    }

    /// A change to a quote: a new status, quoted unit prices by line index, an expiry, a note.
    public struct QuoteChange: Sendable {
        /// The status to move to.
        public var status: QuoteStatus?
        /// Quoted unit prices (minor units) by 0-based line index.
        public var quotedUnitPrices: [Int: Int64] = [:]
        /// When the offer runs out.
        public var expiresAt: Timestamp?
        /// A note.
        public var note: String?

        /// An empty change.
        public init(status: QuoteStatus? = nil) { self.status = status }
    }

    /// What `updateQuote` did.
    public enum QuoteOutcome: Sendable {
        /// The quote as it is now.
        case updated(Quote)
        /// No such quote.
        case notFound
        /// The change is not allowed (the reason says why).
        case rejected(String)
    }

    /// Applies `change` when the transition is allowed: negotiating needs a quoted price on every line, accepting
    /// needs an offer that has not expired.
    public func updateQuote(id: String, _ change: QuoteChange, now: Timestamp = .now()) throws(StoreError) -> QuoteOutcome {
        try write("update quote '\(id)'") { db in
            try db.transaction { () throws -> QuoteOutcome in
                guard var quote = try Store.loadQuote(db, id: id, now: now) else { return .notFound }
                for (index, price) in change.quotedUnitPrices {
                    guard quote.lines.indices.contains(index) else { return .rejected("lines[\(index)] does not exist; the quote has \(quote.lines.count) lines") }
                    quote.lines[index].quotedUnitPrice = price
                }
                if let expiresAt = change.expiresAt { quote.expiresAt = expiresAt }
                if let note = change.note { quote.note = note }
                if let next = change.status {
                    guard quote.status.canMove(to: next) else {
                        return .rejected("quote \(id) is \(quote.status.rawValue) and cannot become \(next.rawValue)")
                    }
                    if next == .negotiated, let missing = quote.lines.firstIndex(where: { $0.quotedUnitPrice == nil }) {
                        return .rejected("lines[\(missing)] has no quotedUnitPrice; a negotiated quote offers a price for every line")
                    }
                    if next == .negotiated, let expiresAt = quote.expiresAt, expiresAt <= now {
                        return .rejected("expiresAt \(expiresAt.rfc3339) is in the past")
                    }
                    quote.status = next
                } else if quote.status != .requested && quote.status != .negotiated {
                    return .rejected("quote \(id) is \(quote.status.rawValue); it can no longer change")
                }
                quote.updatedAt = now
                try Store.saveQuote(db, quote, insert: false)
                return .updated(quote)
            }
        }
    }

    // MARK: Not public

    static func loadQuote(_ db: Connection, id: String, now: Timestamp) throws -> Quote? {
        let st = try db.statement(
            """
            SELECT id, company_id, company_user_id, channel, currency, lines, status, expires_at, note, order_number, created_at, updated_at
            FROM quotes WHERE id = ?1
            """)
        defer { st.reset() }
        st.bind(1, id)
        guard try st.step() else { return nil }
        guard let currency = Currency(code: st.text(4)) else {
            throw SQLiteError(code: SQLITE_CORRUPT, message: "quote \(id) is stored in unknown currency '\(st.text(4))'")
        }
        let lines = (try? JSONDecoder().decode([QuoteLine].self, from: Data(st.text(5).utf8))) ?? []
        var quote = Quote(
            id: st.text(0), companyID: st.text(1), companyUserID: st.text(2), channel: st.text(3), currency: currency,
            lines: lines, status: QuoteStatus(rawValue: st.text(6)) ?? .requested,
            expiresAt: st.optionalInt64(7).map { Timestamp(millisecondsSinceEpoch: $0) }, note: st.optionalText(8),
            orderNumber: st.optionalText(9), createdAt: Timestamp(millisecondsSinceEpoch: st.int64(10)),
            updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(11)))
        quote.status = quote.status(at: now)
        return quote
    }

    static func saveQuote(_ db: Connection, _ quote: Quote, insert: Bool) throws {
        let st = try db.statement(
            insert
                ? """
                INSERT INTO quotes (id, company_id, company_user_id, channel, currency, lines, status, expires_at, note, order_number, created_at, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                """
                : """
                UPDATE quotes SET lines = ?6, status = ?7, expires_at = ?8, note = ?9, order_number = ?10, updated_at = ?12
                WHERE id = ?1  -- ?2…?5 and ?11 are bound but never change
                """)
        st.bind(1, quote.id)
        st.bind(2, quote.companyID)
        st.bind(3, quote.companyUserID)
        st.bind(4, quote.channel)
        st.bind(5, quote.currency.code)
        st.bind(6, String(decoding: (try? JSONEncoder().encode(quote.lines)) ?? Data("[]".utf8), as: UTF8.self))
        st.bind(7, quote.status.rawValue)
        st.bind(8, quote.expiresAt?.millisecondsSinceEpoch)
        st.bind(9, quote.note)
        st.bind(10, quote.orderNumber)
        st.bind(11, quote.createdAt.millisecondsSinceEpoch)
        st.bind(12, quote.updatedAt.millisecondsSinceEpoch)
        try st.run()
    }
}

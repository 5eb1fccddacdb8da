import Foundation
import CSQLite
import WharfModel

/// One field of an exported row: what `read_records` hands an export plugin.
public typealias ExportField = (name: String, value: String)

extension Store {
    /// Entities only export plugins read (their rows are flat field lists, not model records).
    public static let exportEntities = [
        "order", "order_line", "consent", "customer", "shipment_line", "return_line", "product_summary", "stock_snapshot",
    ]

    /// Stores `customer` (insert or replace by id); keeps the first `createdAt`. Returns the stored customer.
    @discardableResult
    public func upsertCustomer(_ customer: Customer) throws(StoreError) -> Customer {
        try write("store customer '\(customer.id)'") { db in
            let st = try db.statement(
                """
                INSERT INTO customers (id, email, first_name, last_name, country, created_at, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                ON CONFLICT (id) DO UPDATE SET email = ?2, first_name = ?3, last_name = ?4, country = ?5, updated_at = ?6
                RETURNING created_at
                """)
            defer { st.reset() }
            st.bind(1, customer.id)
            st.bind(2, customer.email)
            st.bind(3, customer.firstName)
            st.bind(4, customer.lastName)
            st.bind(5, customer.country)
            st.bind(6, customer.updatedAt.millisecondsSinceEpoch)
            var stored = customer
            if try st.step() { stored.createdAt = Timestamp(millisecondsSinceEpoch: st.int64(0)) }
            return stored
        }
    }

    /// Records the latest marketing consent of `consent.email`. Bumps the consent's change time (so an export
    /// picks it up) only when status, person, time or source changed.
    public func putConsent(_ consent: MarketingConsent) throws(StoreError) {
        try write("store the consent of '\(consent.email)'") { db in
            let st = try db.statement(
                """
                INSERT INTO marketing_consents (email, person_kind, person_id, status, at, source, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                ON CONFLICT (email) DO UPDATE SET person_kind = ?2, person_id = ?3, status = ?4, at = ?5, source = ?6,
                    updated_at = ?7
                WHERE (person_kind, person_id, status, at, source) IS NOT (?2, ?3, ?4, ?5, ?6)
                """)
            defer { st.reset() }
            st.bind(1, consent.email)
            st.bind(2, consent.personKind.rawValue)
            st.bind(3, consent.personID)
            st.bind(4, consent.status.rawValue)
            st.bind(5, consent.at.millisecondsSinceEpoch)
            st.bind(6, consent.source)
            st.bind(7, consent.updatedAt.millisecondsSinceEpoch)
            _ = try st.step()
        }
    }

    /// The customer with `id`, or nil.
    public func customer(id: String) throws(StoreError) -> Customer? {
        try read("read customer '\(id)'") { db in
            let st = try db.statement(
                "SELECT id, email, first_name, last_name, country, created_at, updated_at FROM customers WHERE id = ?1")
            defer { st.reset() }
            st.bind(1, id)
            guard try st.step() else { return nil }
            return Customer(
                id: st.text(0), email: st.text(1), firstName: st.optionalText(2), lastName: st.optionalText(3),
                country: st.optionalText(4), createdAt: Timestamp(millisecondsSinceEpoch: st.int64(5)),
                updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(6)))
        }
    }

    /// The consent of `email` (any case), or nil.
    public func consent(email: String) throws(StoreError) -> MarketingConsent? {
        try read("read the consent of '\(email)'") { db in
            let st = try db.statement(
                "SELECT email, person_kind, person_id, status, at, source, updated_at FROM marketing_consents WHERE email = ?1")
            defer { st.reset() }
            st.bind(1, email.lowercased())
            guard try st.step() else { return nil }
            return MarketingConsent(
                email: st.text(0), personKind: ConsentPersonKind(rawValue: st.text(1)) ?? .customer, personID: st.text(2),
                status: ConsentStatus(rawValue: st.text(3)) ?? .withdrawn, at: Timestamp(millisecondsSinceEpoch: st.int64(4)),
                source: st.text(5), updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(6)))
        }
    }

    /// Reads the flat rows of an export entity changed at or after `changedSince`, in key order, `batchSize` at a
    /// time; `body` returns false to stop. Every row ends with `updated_at` (RFC 3339 UTC).
    ///
    /// - `order`: number, id, channel, customer_id, company_id, company_user_id, status, currency, subtotal,
    ///   shipping_total, tax_total, grand_total (minor units), created_at, updated_at. Key: the order's row id.
    /// - `order_line`: order_number, line_number, sku, quantity, unit_price, line_total (minor units), currency,
    ///   shipped_quantity, cancelled_quantity, returned_quantity, order_created_at, updated_at (the order's).
    /// - `consent`: email, person_kind, person_id, status, at, source, first_name, last_name, country (a company
    ///   user's name split at its first space, and the country of the company's first address; otherwise from the
    ///   customer when the person is one), updated_at. Key: email.
    /// - `customer`: id, email, first_name, last_name, country, created_at, updated_at. Key: id.
    public func readExportRows(
        entity: String, changedSince: Timestamp?, batchSize: Int, _ body: ([[ExportField]]) throws -> Bool
    ) throws {
        let since = changedSince?.millisecondsSinceEpoch ?? Int64.min
        let size = Int64(max(1, batchSize))
        switch entity {
        case "order":
            try pageByInteger(
                "read orders for export",
                """
                SELECT id, number, uid, channel, customer_id, company_id, company_user_id, status, currency, subtotal,
                       shipping_total, tax_total, grand_total, created_at, updated_at
                FROM orders WHERE id > ?1 AND updated_at >= ?2 ORDER BY id LIMIT ?3
                """, since: since, size: size, body
            ) { st in
                [
                    ("number", st.text(1)), ("id", st.text(2)), ("channel", st.text(3)),
                    ("customer_id", st.optionalText(4) ?? ""), ("company_id", st.optionalText(5) ?? ""),
                    ("company_user_id", st.optionalText(6) ?? ""), ("status", st.text(7)), ("currency", st.text(8)),
                    ("subtotal", String(st.int64(9))), ("shipping_total", String(st.int64(10))),
                    ("tax_total", String(st.int64(11))), ("grand_total", String(st.int64(12))),
                    ("created_at", Timestamp(millisecondsSinceEpoch: st.int64(13)).rfc3339),
                    ("updated_at", Timestamp(millisecondsSinceEpoch: st.int64(14)).rfc3339),
                ]
            }
        case "order_line":
            // Keyed by (order row id, line number): one page never splits differently on a re-run.
            var after: (Int64, Int64) = (0, 0)
            while true {
                let rows = try read("read order lines for export") { db -> [(Int64, Int64, [ExportField])] in
                    let st = try db.statement(
                        """
                        SELECT l.order_id, l.line_number, o.number, l.sku, l.quantity, l.unit_price, o.currency,
                               l.shipped_quantity, l.cancelled_quantity, l.returned_quantity, o.created_at, o.updated_at
                        FROM orders o JOIN order_lines l ON l.order_id = o.id
                        WHERE (l.order_id, l.line_number) > (?1, ?2) AND o.updated_at >= ?3
                        ORDER BY l.order_id, l.line_number LIMIT ?4
                        """)
                    defer { st.reset() }
                    st.bind(1, after.0)
                    st.bind(2, after.1)
                    st.bind(3, since)
                    st.bind(4, size)
                    var out: [(Int64, Int64, [ExportField])] = []
                    // An order's lines share its times and number: format them once per order.
                    var current: (id: Int64, number: String, currency: String, created: String, updated: String) = (-1, "", "", "", "")
                    while try st.step() {
                        let quantity = st.int64(4), unit = st.int64(5)
                        if st.int64(0) != current.id {
                            current = (st.int64(0), st.text(2), st.text(6),
                                Timestamp(millisecondsSinceEpoch: st.int64(10)).rfc3339,
                                Timestamp(millisecondsSinceEpoch: st.int64(11)).rfc3339)
                        }
                        out.append((st.int64(0), st.int64(1), [
                            ("order_number", current.number), ("line_number", String(st.int64(1))), ("sku", st.text(3)),
                            ("quantity", String(quantity)), ("unit_price", String(unit)),
                            ("line_total", String(quantity &* unit)), ("currency", current.currency),
                            ("shipped_quantity", String(st.int64(7))), ("cancelled_quantity", String(st.int64(8))),
                            ("returned_quantity", String(st.int64(9))),
                            ("order_created_at", current.created), ("updated_at", current.updated),
                        ]))
                    }
                    return out
                }
                guard let last = rows.last else { return }
                after = (last.0, last.1)
                guard try body(rows.map(\.2)), Int64(rows.count) == size else { return }
            }
        case "consent":
            try pageByText(
                "read marketing consents for export",
                """
                SELECT m.email, m.person_kind, m.person_id, m.status, m.at, m.source,
                       coalesce(c.first_name, CASE WHEN instr(u.name, ' ') > 0 THEN substr(u.name, 1, instr(u.name, ' ') - 1) ELSE u.name END),
                       coalesce(c.last_name, CASE WHEN instr(u.name, ' ') > 0 THEN substr(u.name, instr(u.name, ' ') + 1) END),
                       coalesce(c.country, (SELECT upper(a.country) FROM company_addresses a
                                            WHERE a.company_id = u.company_id ORDER BY a.position LIMIT 1)),
                       max(m.updated_at, coalesce(c.updated_at, 0), coalesce(u.updated_at, 0))
                FROM marketing_consents m
                LEFT JOIN customers c ON m.person_kind = 'customer' AND c.id = m.person_id
                -- A company user is found by email (lower case on both sides); with the same address at two
                -- companies, the most recently changed one names the person.
                LEFT JOIN company_users u ON m.person_kind = 'company_user' AND u.email = m.email
                    AND u.company_id = (SELECT company_id FROM company_users WHERE email = m.email
                                        ORDER BY updated_at DESC, company_id LIMIT 1)
                WHERE m.email > ?1 AND max(m.updated_at, coalesce(c.updated_at, 0), coalesce(u.updated_at, 0)) >= ?2
                ORDER BY m.email LIMIT ?3
                """, since: since, size: size, body
            ) { st in
                [
                    ("email", st.text(0)), ("person_kind", st.text(1)), ("person_id", st.text(2)),
                    ("status", st.text(3)), ("at", Timestamp(millisecondsSinceEpoch: st.int64(4)).rfc3339),
                    ("source", st.text(5)), ("first_name", st.optionalText(6) ?? ""),
                    ("last_name", st.optionalText(7) ?? ""), ("country", st.optionalText(8) ?? ""),
                    ("updated_at", Timestamp(millisecondsSinceEpoch: st.int64(9)).rfc3339),
                ]
            }
        case "customer":
            try pageByText(
                "read customers for export",
                """
                SELECT id, email, first_name, last_name, country, created_at, updated_at
                FROM customers WHERE id > ?1 AND updated_at >= ?2 ORDER BY id LIMIT ?3
                """, since: since, size: size, body
            ) { st in
                [
                    ("id", st.text(0)), ("email", st.text(1)), ("first_name", st.optionalText(2) ?? ""),
                    ("last_name", st.optionalText(3) ?? ""), ("country", st.optionalText(4) ?? ""),
                    ("created_at", Timestamp(millisecondsSinceEpoch: st.int64(5)).rfc3339),
                    ("updated_at", Timestamp(millisecondsSinceEpoch: st.int64(6)).rfc3339),
                ]
            }
        case "shipment_line", "return_line":
            // Shipments and returns never change once recorded: their change time is when Wharf recorded them.
            let shipments = entity == "shipment_line"
            let sql = shipments
                ? """
                SELECT s.id, s.external_id, o.number, s.lines, s.carrier, s.tracking_numbers, s.shipped_at, s.created_at
                FROM shipments s JOIN orders o ON o.id = s.order_id
                WHERE s.id > ?1 AND s.created_at >= ?2 ORDER BY s.id LIMIT ?3
                """
                : """
                SELECT r.id, r.external_id, o.number, r.lines, r.exchange_for, NULL, r.received_at, r.created_at
                FROM order_returns r JOIN orders o ON o.id = r.order_id
                WHERE r.id > ?1 AND r.created_at >= ?2 ORDER BY r.id LIMIT ?3
                """
            // One row per shipment or return, one export row per line of it.
            try pageByInteger(
                "read \(entity) rows for export", sql, since: since, size: size,
                { (rows: [[[ExportField]]]) in try body(rows.flatMap { $0 }) }
            ) { st -> [[ExportField]] in
                let at = Timestamp(millisecondsSinceEpoch: st.int64(6)).rfc3339
                let updated = Timestamp(millisecondsSinceEpoch: st.int64(7)).rfc3339
                let lines = Store.lines(fromJSON: st.text(3))
                return lines.enumerated().map { index, line in
                    shipments
                        ? [
                            ("shipment_id", st.text(1)), ("order_number", st.text(2)), ("line_index", String(index + 1)),
                            ("sku", line.sku), ("quantity", String(line.quantity)), ("carrier", st.optionalText(4) ?? ""),
                            ("tracking_numbers", Store.trackingList(st.text(5))), ("shipped_at", at), ("updated_at", updated),
                        ]
                        : [
                            ("return_id", st.text(1)), ("order_number", st.text(2)), ("line_index", String(index + 1)),
                            ("sku", line.sku), ("quantity", String(line.quantity)), ("reason", line.reason ?? ""),
                            ("restock", line.restock ? "true" : "false"), ("exchange_for", st.optionalText(4) ?? ""),
                            ("received_at", at), ("updated_at", updated),
                        ]
                }
            }
        case "product_summary":
            try pageByText(
                "read products for export",
                """
                SELECT sku, name, status, created_at, updated_at FROM products
                WHERE sku > ?1 AND updated_at >= ?2 ORDER BY sku LIMIT ?3
                """, since: since, size: size, body
            ) { st in
                [
                    ("sku", st.text(0)), ("name", st.text(1)), ("status", st.text(2)),
                    ("created_at", Timestamp(millisecondsSinceEpoch: st.int64(3)).rfc3339),
                    ("updated_at", Timestamp(millisecondsSinceEpoch: st.int64(4)).rfc3339),
                ]
            }
        case "stock_snapshot":
            // The state now, per SKU over all sources: a snapshot, so `changedSince` filters on the SKU's latest change.
            try pageByText(
                "read the inventory snapshot for export",
                """
                SELECT i.sku, sum(CASE WHEN i.status = 'in_stock' THEN i.quantity ELSE 0 END),
                       coalesce((SELECT sum(r.reserved) FROM reservation_totals r WHERE r.sku = i.sku), 0),
                       count(*), max(i.updated_at)
                FROM inventory_source_items i WHERE i.sku > ?1
                GROUP BY i.sku HAVING max(i.updated_at) >= ?2 ORDER BY i.sku LIMIT ?3
                """, since: since, size: size, body
            ) { st in
                let onHand = st.int64(1), reserved = st.int64(2)
                return [
                    ("sku", st.text(0)), ("in_stock_quantity", String(onHand)), ("reserved_quantity", String(reserved)),
                    ("salable_quantity", String(max(0, onHand - reserved))), ("sources", String(st.int64(3))),
                    ("updated_at", Timestamp(millisecondsSinceEpoch: st.int64(4)).rfc3339),
                ]
            }
        default:
            throw StoreError(
                code: .invalidArgument,
                message: "unknown export entity '\(entity)'; export entities are \(Store.exportEntities.joined(separator: ", "))")
        }
    }

    /// Records a file an export run completed.
    public func addExportFile(_ file: ExportFile) throws(StoreError) {
        try write("record export file '\(file.name)' of run \(file.runID)") { db in
            let st = try db.statement(
                "INSERT OR REPLACE INTO export_files (run_id, name, path, rows, bytes, sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            defer { st.reset() }
            st.bind(1, file.runID)
            st.bind(2, file.name)
            st.bind(3, file.path)
            st.bind(4, file.rows)
            st.bind(5, file.bytes)
            st.bind(6, file.sha256)
            _ = try st.step()
        }
    }

    /// The files of export runs `runIDs`, by run then name.
    public func exportFiles(runIDs: [Int64]) throws(StoreError) -> [Int64: [ExportFile]] {
        guard !runIDs.isEmpty else { return [:] }
        return try read("read export files") { db in
            let list = runIDs.map(String.init).joined(separator: ", ")  // integers: nothing to escape
            let st = try db.statement(
                "SELECT run_id, name, path, rows, bytes, sha256 FROM export_files WHERE run_id IN (\(list)) ORDER BY run_id, name")
            defer { st.reset() }
            var out: [Int64: [ExportFile]] = [:]
            while try st.step() {
                out[st.int64(0), default: []].append(ExportFile(
                    runID: st.int64(0), name: st.text(1), path: st.text(2), rows: st.int64(3), bytes: st.int64(4),
                    sha256: st.text(5)))
            }
            return out
        }
    }

    /// Asks the next export run of `connector` to use `parameters` (JSON object text), replacing an earlier ask.
    public func requestExport(connector: String, parameters: String) throws(StoreError) {
        try write("store the export request of '\(connector)'") { db in
            let st = try db.statement("INSERT OR REPLACE INTO export_requests (connector, parameters) VALUES (?1, ?2)")
            defer { st.reset() }
            st.bind(1, connector)
            st.bind(2, parameters)
            _ = try st.step()
        }
    }

    /// Takes (reads and deletes) the pending export request of `connector`: nil when there is none.
    public func takeExportRequest(connector: String) throws(StoreError) -> String? {
        try write("take the export request of '\(connector)'") { db in
            let st = try db.statement("DELETE FROM export_requests WHERE connector = ?1 RETURNING parameters")
            defer { st.reset() }
            st.bind(1, connector)
            return try st.step() ? st.text(0) : nil
        }
    }

    /// Sets the stored cursor of `connector` (nil deletes it), outside any run: for tests and re-exports.
    public func setCursor(connector: String, _ value: String?) throws(StoreError) {
        try write("set the cursor of '\(connector)'") { db in
            let st = try db.statement(
                value == nil
                    ? "DELETE FROM cursors WHERE connector = ?1"
                    : """
                    INSERT INTO cursors (connector, cursor_value, updated_at) VALUES (?1, ?2, ?3)
                    ON CONFLICT (connector) DO UPDATE SET cursor_value = ?2, updated_at = ?3
                    """)
            defer { st.reset() }
            st.bind(1, connector)
            if let value {
                st.bind(2, value)
                st.bind(3, Timestamp.now().millisecondsSinceEpoch)
            }
            _ = try st.step()
        }
    }

    // MARK: Not public

    /// A stored JSON array of tracking numbers as one space-separated field.
    static func trackingList(_ json: String) -> String {
        strings(fromJSON: json).joined(separator: " ")
    }

    /// Reads an export query a page at a time until a page comes back short or `body` returns false. The query
    /// takes the last key of the previous page as ?1 (`first` before the first page), `since` as ?2 and `size` as
    /// ?3 (its LIMIT); `key` reads a row's key and `row` what the row becomes.
    private func pageByKey<Key, Row>(
        _ what: String, _ sql: String, first: Key, since: Int64, size: Int64, key: (Statement) -> Key,
        bind: (Statement, Key) -> Void, _ body: ([Row]) throws -> Bool, row: (Statement) -> Row
    ) throws {
        var after = first
        while true {
            let rows = try read(what) { db -> [(Key, Row)] in
                let st = try db.statement(sql)
                defer { st.reset() }
                bind(st, after)
                st.bind(2, since)
                st.bind(3, size)
                var out: [(Key, Row)] = []
                while try st.step() { out.append((key(st), row(st))) }
                return out
            }
            guard let last = rows.last else { return }
            after = last.0
            guard try body(rows.map(\.1)), Int64(rows.count) == size else { return }
        }
    }

    /// `pageByKey` for a query keyed by a row id in column 0.
    func pageByInteger<Row>(
        _ what: String, _ sql: String, since: Int64, size: Int64, _ body: ([Row]) throws -> Bool, row: (Statement) -> Row
    ) throws {
        try pageByKey(what, sql, first: Int64(0), since: since, size: size, key: { $0.int64(0) }, bind: { $0.bind(1, $1) }, body, row: row)
    }

    /// `pageByKey` for a query keyed by text (an email, an id, a SKU) in column 0.
    private func pageByText<Row>(
        _ what: String, _ sql: String, since: Int64, size: Int64, _ body: ([Row]) throws -> Bool, row: (Statement) -> Row
    ) throws {
        try pageByKey(what, sql, first: "", since: since, size: size, key: { $0.text(0) }, bind: { $0.bind(1, $1) }, body, row: row)
    }
}

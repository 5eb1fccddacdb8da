import CSQLite
import Foundation
import WharfModel

extension Store {
    /// What `placeOrder` did.
    public enum PlaceOrderOutcome: Sendable {
        /// The order is stored, its stock reserved and its outbox message written, in one transaction.
        case created(Order)
        /// An order with the same idempotency key and the same request exists: it is returned, nothing changed.
        case replayed(Order)
        /// Some lines cannot be reserved or do not name a product; nothing was written.
        case refused([OrderLineProblem])
        /// The idempotency key belongs to an order made from a different request.
        case idempotencyKeyReused(orderNumber: String)
        /// Another order already has the number the request gave.
        case numberTaken(String)
        /// The order names a quote that is not accepted (or is already an order); the reason says which.
        case quoteNotAcceptable(String)
    }

    /// Places an order in one write transaction: replays it when `idempotencyKey` was seen with the same
    /// `requestDigest`; checks that every SKU is a product and that salable quantity (in-stock source quantity minus
    /// open reservations) covers every line, all while holding the one writer so racing orders are decided one after
    /// another and stock is never reserved twice; then stores the order, appends its reservations to the ledger and
    /// writes an outbox message whose body `payload` renders from the stored order.
    public func placeOrder(
        _ new: NewOrder, idempotencyKey: String?, requestDigest: [UInt8], now: Timestamp = .now(),
        payload: (Order) -> String
    ) throws(StoreError) -> PlaceOrderOutcome {
        try write("place an order") { db in
            try db.transaction { () throws -> PlaceOrderOutcome in
                if let idempotencyKey, let placed = try Store.orderID(db, idempotencyKey: idempotencyKey) {
                    let order = try Store.loadOrder(db, id: placed.id)!
                    return placed.requestDigest == requestDigest ? .replayed(order) : .idempotencyKeyReused(orderNumber: order.number)
                }
                if let number = new.number, try Store.orderID(db, number: number) != nil { return .numberTaken(number) }
                var quote: Quote?
                if let quoteID = new.quoteID {
                    // A quote becomes one order, in the same transaction that marks it ordered.
                    guard let found = try Store.loadQuote(db, id: quoteID, now: now) else { return .quoteNotAcceptable("no quote '\(quoteID)'") }
                    guard found.status == .accepted else {
                        return .quoteNotAcceptable("quote \(quoteID) is \(found.status.rawValue)\(found.orderNumber.map { " (order \($0))" } ?? ""); only an accepted quote becomes an order")
                    }
                    quote = found
                }

                // Units per SKU over all lines, and the first line of each SKU for problems.
                var wanted: [String: Int64] = [:]
                var order: [String] = []
                for line in new.lines {
                    if wanted[line.sku] == nil { order.append(line.sku) }
                    wanted[line.sku, default: 0] += line.quantity
                }
                var problems: [OrderLineProblem] = []
                let exists = try db.statement("SELECT 1 FROM products WHERE sku = ?1")
                var unknown: Set<String> = []
                for sku in order {
                    exists.bind(1, sku)
                    if try !exists.step() { unknown.insert(sku) }
                    exists.reset()
                }
                for sku in order where !unknown.contains(sku) {
                    let available = try Store.salable(db, sku: sku)
                    if available < wanted[sku]! {
                        for (i, line) in new.lines.enumerated() where line.sku == sku {
                            problems.append(OrderLineProblem(
                                line: i, sku: sku, kind: .insufficientStock,
                                reason: "\(wanted[sku]!) unit\(wanted[sku]! == 1 ? "" : "s") of \(sku) asked for, \(max(0, available)) salable",
                                requested: wanted[sku]!, available: max(0, available)))
                        }
                    }
                }
                for (i, line) in new.lines.enumerated() where unknown.contains(line.sku) {
                    problems.append(OrderLineProblem(line: i, sku: line.sku, kind: .unknownSKU, reason: "no product has SKU \(line.sku)"))
                }
                if !problems.isEmpty { return .refused(problems.sorted { ($0.line, $0.kind.rawValue) < ($1.line, $1.kind.rawValue) }) }

                let id = try db.scalarInt("SELECT coalesce(max(id), 0) + 1 FROM orders")
                let number = new.number ?? "W" + String(repeating: "0", count: max(0, 9 - String(id).count)) + String(id)
                let subtotal = new.subtotal ?? 0
                let stored = Order(
                    id: UUID().uuidString.lowercased(), number: number, channel: new.channel, customerID: new.customerID,
                    companyID: new.companyID, companyUserID: new.companyUserID, currency: new.currency,
                    lines: new.lines.enumerated().map { i, line in
                        OrderLine(lineNumber: i + 1, sku: line.sku, quantity: line.quantity, unitPrice: line.unitPrice)
                    },
                    subtotal: subtotal, shippingTotal: new.shippingTotal, taxTotal: new.taxTotal,
                    grandTotal: subtotal &+ new.shippingTotal &+ new.taxTotal, billingAddress: new.billingAddress,
                    shippingAddress: new.shippingAddress, status: .placed,
                    history: [OrderStatusChange(status: .placed, at: now, source: "api")], quoteID: new.quoteID,
                    createdAt: now, updatedAt: now)
                let insert = try db.statement(
                    """
                    INSERT INTO orders (id, uid, number, channel, customer_id, company_id, company_user_id, currency, subtotal,
                        shipping_total, tax_total, grand_total, billing_address, shipping_address, status, quote_id,
                        idempotency_key, request_digest, created_at, updated_at)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 'placed', ?15, ?16, ?17, ?18, ?18)
                    """)
                insert.bind(1, id)
                insert.bind(2, stored.id)
                insert.bind(3, number)
                insert.bind(4, stored.channel)
                insert.bind(5, stored.customerID)
                insert.bind(6, stored.companyID)
                insert.bind(7, stored.companyUserID)
                insert.bind(8, stored.currency.code)
                insert.bind(9, stored.subtotal)
                insert.bind(10, stored.shippingTotal)
                insert.bind(11, stored.taxTotal)
                insert.bind(12, stored.grandTotal)
                insert.bind(13, Store.addressJSON(stored.billingAddress))
                insert.bind(14, Store.addressJSON(stored.shippingAddress))
                insert.bind(15, stored.quoteID)
                insert.bind(16, idempotencyKey)
                insert.bindBlob(17, requestDigest)
                insert.bind(18, now.millisecondsSinceEpoch)
                try insert.run()
                let lineInsert = try db.statement(
                    "INSERT INTO order_lines (order_id, line_number, sku, quantity, unit_price) VALUES (?1, ?2, ?3, ?4, ?5)")
                for line in stored.lines {
                    lineInsert.bind(1, id)
                    lineInsert.bind(2, Int64(line.lineNumber))
                    lineInsert.bind(3, line.sku)
                    lineInsert.bind(4, line.quantity)
                    lineInsert.bind(5, line.unitPrice.minorUnits)
                    try lineInsert.run()
                }
                try Store.appendHistory(db, orderID: id, OrderStatusChange(status: .placed, at: now, source: "api"))
                for sku in order {
                    try Store.reserve(db, sku: sku, quantity: -wanted[sku]!, reason: "order_placed", orderNumber: number, now: now)
                }
                try Store.enqueue(db, kind: "order", orderNumber: number, messageID: stored.id, payload: payload(stored), now: now)
                if var quote {
                    quote.status = .ordered
                    quote.orderNumber = number
                    quote.updatedAt = now
                    try Store.saveQuote(db, quote, insert: false)
                }
                return .created(stored)
            }
        }
    }

    /// The order with `number`, with its lines and status history, or nil.
    public func order(number: String) throws(StoreError) -> Order? {
        try read("read order '\(number)'") { db in
            try db.transaction(immediate: false) {
                guard let id = try Store.orderID(db, number: number) else { return nil }
                return try Store.loadOrder(db, id: id)
            }
        }
    }

    /// The order placed with `idempotencyKey` and the SHA-256 of the request that placed it, or nil.
    public func order(idempotencyKey: String) throws(StoreError) -> (order: Order, requestDigest: [UInt8])? {
        try read("read the order of an idempotency key") { db in
            try db.transaction(immediate: false) { () throws -> (order: Order, requestDigest: [UInt8])? in
                guard let placed = try Store.orderID(db, idempotencyKey: idempotencyKey),
                    let order = try Store.loadOrder(db, id: placed.id)
                else { return nil }
                return (order, placed.requestDigest)
            }
        }
    }

    /// Which orders `orders(_:)` lists and how many.
    public struct OrderQuery: Sendable {
        /// Orders per page, 1...1000.
        public var limit: Int
        /// Only this status.
        public var status: OrderStatus?
        /// Only this channel.
        public var channel: String?
        /// Only this company's orders.
        public var companyID: String?
        /// Only orders changed at or after this time.
        public var updatedSince: Timestamp?
        /// Continue after this (updated_at, id) position, from the previous page.
        public var after: (updatedAt: Int64, id: Int64)?

        /// A query for the first `limit` orders.
        public init(limit: Int) { self.limit = limit }
    }

    /// Orders in the order they last changed (oldest change first), so a client that pages with `updatedSince`
    /// follows changes incrementally; the second value is the position to continue after, nil on the last page.
    public func orders(_ query: OrderQuery) throws(StoreError) -> (items: [Order], next: (updatedAt: Int64, id: Int64)?) {
        try read("list orders") { db in
            try db.transaction(immediate: false) {
                let st = try db.statement(
                    """
                    SELECT id, updated_at FROM orders
                    WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR channel = ?2) AND (?3 IS NULL OR company_id = ?3)
                      AND (?4 IS NULL OR updated_at >= ?4) AND (?5 IS NULL OR (updated_at, id) > (?5, ?6))
                    ORDER BY updated_at, id LIMIT ?7
                    """)
                defer { st.reset() }
                st.bind(1, query.status?.rawValue)
                st.bind(2, query.channel)
                st.bind(3, query.companyID)
                st.bind(4, query.updatedSince?.millisecondsSinceEpoch)
                st.bind(5, query.after?.updatedAt)
                st.bind(6, query.after?.id ?? 0)
                st.bind(7, Int64(query.limit + 1))
                var keys: [(Int64, Int64)] = []
                while try st.step() { keys.append((st.int64(0), st.int64(1))) }
                st.reset()
                let page = keys.prefix(query.limit)
                var items: [Order] = []
                for (id, _) in page { if let order = try Store.loadOrder(db, id: id) { items.append(order) } }
                let next = keys.count > query.limit ? page.last.map { (updatedAt: $0.1, id: $0.0) } : nil
                return (items, next)
            }
        }
    }

    /// What a change to an existing order did.
    public enum OrderChangeOutcome: Sendable {
        /// Applied; the order as it is now.
        case applied(Order)
        /// Already so (the same shipment or return id again, the same status): nothing changed.
        case unchanged(Order)
        /// No such order.
        case notFound
        /// Refused: the order's status or quantities do not allow it (the reason says which).
        case rejected(String)
    }

    /// Cancels an order that has not shipped: releases its open reservations in the ledger, records the status and
    /// writes a "cancel" outbox message (rendered by `payload`) so the OMS learns of it.
    public func cancelOrder(
        number: String, note: String?, source: String = "api", now: Timestamp = .now(), payload: (Order) -> String
    ) throws(StoreError) -> OrderChangeOutcome {
        try write("cancel order '\(number)'") { db in
            try db.transaction { () throws -> OrderChangeOutcome in
                guard let id = try Store.orderID(db, number: number), let order = try Store.loadOrder(db, id: id) else { return .notFound }
                if order.status == .cancelled { return .unchanged(order) }
                guard order.status.canMove(to: .cancelled) else {
                    return .rejected("order \(number) is \(order.status.rawValue); only placed, processing or on_hold orders can be cancelled")
                }
                try Store.releaseOpen(db, orderID: id, order, reason: "order_cancelled", markShipped: false, now: now)
                try Store.setStatus(db, id: id, OrderStatusChange(status: .cancelled, at: now, source: source, note: note))
                let cancelled = try Store.loadOrder(db, id: id)!
                try Store.enqueue(db, kind: "cancel", orderNumber: number, messageID: order.id + ":cancel", payload: payload(cancelled), now: now)
                return .applied(cancelled)
            }
        }
    }

    /// Moves an order to `change.status` when the transition is allowed (see `OrderStatus.canMove(to:)`). Moving to
    /// cancelled releases open reservations; moving to shipped, delivered or completed counts open units as shipped
    /// and compensates their reservations.
    public func applyOrderStatus(number: String, _ change: OrderStatusChange) throws(StoreError) -> OrderChangeOutcome {
        try write("change the status of order '\(number)'") { db in
            try db.transaction { try Store.applyStatus(db, number: number, change) }
        }
    }

    /// Records a shipment: every line must name a SKU of the order with no more units than are still open; the
    /// shipped units' reservations are compensated in the ledger and the order becomes partially_shipped or shipped.
    /// The same shipment id again changes nothing.
    public func recordShipment(_ shipment: Shipment, now: Timestamp = .now()) throws(StoreError) -> OrderChangeOutcome {
        try write("record shipment '\(shipment.id)'") { db in
            try db.transaction { try Store.applyShipment(db, shipment, now: now) }
        }
    }

    /// Records a return (or exchange): every line must name a SKU of the order with no more units than shipped and
    /// not yet returned. Source quantities are not touched, restock or not: the ERP owns them and books the restock
    /// it reads from `returns(…)`. The same return id again changes nothing.
    public func recordReturn(_ item: OrderReturn, now: Timestamp = .now()) throws(StoreError) -> OrderChangeOutcome {
        try write("record return '\(item.id)'") { db in
            try db.transaction { try Store.applyReturn(db, item, now: now) }
        }
    }

    /// Shipments, oldest first, after the shipment with internal id `afterID`; optionally of one order.
    public func shipments(orderNumber: String?, limit: Int, afterID: Int64?) throws(StoreError) -> [(id: Int64, shipment: Shipment)] {
        try read("list shipments") { db in
            let st = try db.statement(
                """
                SELECT s.id, s.external_id, o.number, s.carrier, s.tracking_numbers, s.lines, s.shipped_at
                FROM shipments s JOIN orders o ON o.id = s.order_id
                WHERE s.id > ?1 AND (?2 IS NULL OR o.number = ?2) ORDER BY s.id LIMIT ?3
                """)
            defer { st.reset() }
            st.bind(1, afterID ?? 0)
            st.bind(2, orderNumber)
            st.bind(3, Int64(limit))
            var items: [(Int64, Shipment)] = []
            while try st.step() {
                items.append((st.int64(0), Shipment(
                    id: st.text(1), orderNumber: st.text(2), carrier: st.optionalText(3),
                    trackingNumbers: Store.strings(fromJSON: st.text(4)),
                    lines: Store.lines(fromJSON: st.text(5)), shippedAt: Timestamp(millisecondsSinceEpoch: st.int64(6)))))
            }
            return items
        }
    }

    /// Returns, oldest first, after the return with internal id `afterID`; optionally of one order, or only those
    /// with a line to restock (what the ERP reads to book restocks).
    public func returns(orderNumber: String?, restockOnly: Bool, limit: Int, afterID: Int64?) throws(StoreError) -> [(id: Int64, item: OrderReturn)] {
        try read("list returns") { db in
            let st = try db.statement(
                """
                SELECT r.id, r.external_id, o.number, r.lines, r.exchange_for, r.received_at
                FROM order_returns r JOIN orders o ON o.id = r.order_id
                WHERE r.id > ?1 AND (?2 IS NULL OR o.number = ?2) ORDER BY r.id LIMIT ?3
                """)
            defer { st.reset() }
            st.bind(1, afterID ?? 0)
            st.bind(2, orderNumber)
            st.bind(3, Int64(restockOnly ? max(limit * 10, 1000) : limit))
            var items: [(Int64, OrderReturn)] = []
            while try st.step() {
                let item = Store.orderReturn(from: st)
                if restockOnly && !item.lines.contains(where: \.restock) { continue }
                items.append((st.int64(0), item))
                if items.count == limit { break }
            }
            return items
        }
    }

    /// Returns as "return" records for export plugins (`read_records`): those received by Wharf at or after
    /// `changedSince`, in the order Wharf recorded them, in batches of `batchSize`; `body` returns false to stop.
    /// The ERP reads the lines with `restock` true to book the units back into stock.
    func readReturnRecords(changedSince: Timestamp?, batchSize: Int, _ body: ([ModelRecord]) throws -> Bool) throws {
        try pageByInteger(
            "read returns for export",
            """
            SELECT r.id, r.external_id, o.number, r.lines, r.exchange_for, r.received_at
            FROM order_returns r JOIN orders o ON o.id = r.order_id
            WHERE r.id > ?1 AND r.created_at >= ?2 ORDER BY r.id LIMIT ?3
            """, since: changedSince?.millisecondsSinceEpoch ?? 0, size: Int64(batchSize), body
        ) { st in .orderReturn(Store.orderReturn(from: st)) }
    }

    /// The stock of `sku` per source with its open reservations; nil when the SKU has neither a product, stock nor
    /// reservations. Read in one snapshot, so the salable quantity is consistent.
    public func salableInventory(sku: String) throws(StoreError) -> SalableInventory? {
        try read("read the salable inventory of '\(sku)'") { db in
            try db.transaction(immediate: false) {
                let st = try db.statement("SELECT \(Store.stockColumns) FROM inventory_source_items WHERE sku = ?1 ORDER BY source_code")
                defer { st.reset() }
                st.bind(1, sku)
                var items: [InventorySourceItem] = []
                while try st.step() { items.append(Store.stock(from: st)) }
                st.reset()
                let reserved = try Store.reserved(db, sku: sku)
                let hasProduct = try Store.exists(db, "SELECT 1 FROM products WHERE sku = ?1", sku)
                if items.isEmpty && reserved == 0 && !hasProduct { return nil }
                let open = try db.statement(
                    """
                    SELECT order_number, -sum(quantity) AS q, max(id) FROM reservations WHERE sku = ?1 AND stock_code = ?2
                    GROUP BY order_number HAVING q > 0 ORDER BY 3 DESC LIMIT 100
                    """)
                defer { open.reset() }
                open.bind(1, sku)
                open.bind(2, ReservationEntry.defaultStock)
                var openReservations: [(String, Int64)] = []
                while try open.step() { openReservations.append((open.text(0), open.int64(1))) }
                return SalableInventory(summary: InventorySummary(sku: sku, items: items), reserved: reserved, openReservations: openReservations)
            }
        }
    }

    /// The reservation ledger of `sku`, oldest first.
    public func reservationLedger(sku: String) throws(StoreError) -> [ReservationEntry] {
        try read("read the reservations of '\(sku)'") { db in
            let st = try db.statement(
                "SELECT sku, stock_code, quantity, reason, order_number, created_at FROM reservations WHERE sku = ?1 ORDER BY id")
            defer { st.reset() }
            st.bind(1, sku)
            var entries: [ReservationEntry] = []
            while try st.step() {
                entries.append(ReservationEntry(
                    sku: st.text(0), stock: st.text(1), quantity: st.int64(2), reason: st.text(3), orderNumber: st.text(4),
                    at: Timestamp(millisecondsSinceEpoch: st.int64(5))))
            }
            return entries
        }
    }

    // MARK: Not public

    /// Applies an OMS update (status, shipment, return) inside the caller's transaction; writes nothing unless it
    /// is applied.
    static func applyOrderUpdate(_ db: Connection, _ record: ModelRecord, now: Timestamp) throws -> OrderChangeOutcome? {
        let outcome: OrderChangeOutcome
        let number: String
        switch record {
        case .orderStatus(let update):
            number = update.orderNumber
            outcome = try applyStatus(db, number: number, OrderStatusChange(status: update.status, at: update.at, source: "oms", note: update.note))
        case .shipment(let shipment):
            number = shipment.orderNumber
            outcome = try applyShipment(db, shipment, now: now)
        case .orderReturn(let item):
            number = item.orderNumber
            outcome = try applyReturn(db, item, now: now)
        default: return nil
        }
        if case .notFound = outcome { return .rejected("no order '\(number)' in Wharf") }
        return outcome
    }

    static func applyStatus(_ db: Connection, number: String, _ change: OrderStatusChange) throws -> OrderChangeOutcome {
        guard let id = try Store.orderID(db, number: number), let order = try Store.loadOrder(db, id: id) else { return .notFound }
        if order.status == change.status { return .unchanged(order) }
        guard order.status.canMove(to: change.status) else {
            return .rejected("order \(number) cannot move from \(order.status.rawValue) to \(change.status.rawValue)")
        }
        switch change.status {
        case .cancelled: try Store.releaseOpen(db, orderID: id, order, reason: "order_cancelled", markShipped: false, now: change.at)
        case .shipped, .delivered, .completed: try Store.releaseOpen(db, orderID: id, order, reason: "order_shipped", markShipped: true, now: change.at)
        default: break
        }
        try Store.setStatus(db, id: id, change)
        return .applied(try Store.loadOrder(db, id: id)!)
    }

    static func applyShipment(_ db: Connection, _ shipment: Shipment, now: Timestamp) throws -> OrderChangeOutcome {
        guard let id = try Store.orderID(db, number: shipment.orderNumber), var order = try Store.loadOrder(db, id: id) else {
            return .notFound
        }
        if try Store.exists(db, "SELECT 1 FROM shipments WHERE external_id = ?1", shipment.id) { return .unchanged(order) }
        guard order.status.acceptsShipments else {
            return .rejected("order \(order.number) is \(order.status.rawValue); a shipment cannot be recorded for it")
        }
        guard !shipment.lines.isEmpty else { return .rejected("shipment \(shipment.id) has no lines") }
        // Check every line before writing anything: a refused shipment changes nothing.
        var perSKU: [(String, Int64)] = []
        for line in shipment.lines {
            if let i = perSKU.firstIndex(where: { $0.0 == line.sku }) { perSKU[i].1 += line.quantity } else { perSKU.append((line.sku, line.quantity)) }
        }
        for (sku, quantity) in perSKU {
            let open = order.lines.filter { $0.sku == sku }.reduce(0) { $0 + $1.openQuantity }
            guard quantity > 0, quantity <= open else {
                return .rejected("shipment \(shipment.id) ships \(quantity) of \(sku), but order \(order.number) has \(open) open")
            }
        }
        for (sku, quantity) in perSKU {
            var left = quantity
            for i in order.lines.indices where order.lines[i].sku == sku && left > 0 {
                let take = min(left, order.lines[i].openQuantity)
                order.lines[i].shippedQuantity += take
                left -= take
            }
            try Store.reserve(db, sku: sku, quantity: quantity, reason: "order_shipped", orderNumber: order.number, now: now)
        }
        try Store.saveLineQuantities(db, orderID: id, order.lines)
        let st = try db.statement(
            "INSERT INTO shipments (external_id, order_id, carrier, tracking_numbers, lines, shipped_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        st.bind(1, shipment.id)
        st.bind(2, id)
        st.bind(3, shipment.carrier)
        st.bind(4, Store.jsonText(shipment.trackingNumbers))
        st.bind(5, Store.linesJSON(shipment.lines))
        st.bind(6, shipment.shippedAt.millisecondsSinceEpoch)
        st.bind(7, now.millisecondsSinceEpoch)
        try st.run()
        let done = order.lines.allSatisfy { $0.openQuantity == 0 }
        try Store.setStatus(db, id: id, OrderStatusChange(
            status: done ? .shipped : .partiallyShipped, at: shipment.shippedAt, source: "shipment", note: shipment.id))
        return .applied(try Store.loadOrder(db, id: id)!)
    }

    static func applyReturn(_ db: Connection, _ item: OrderReturn, now: Timestamp) throws -> OrderChangeOutcome {
        guard let id = try Store.orderID(db, number: item.orderNumber), var order = try Store.loadOrder(db, id: id) else {
            return .notFound
        }
        if try Store.exists(db, "SELECT 1 FROM order_returns WHERE external_id = ?1", item.id) { return .unchanged(order) }
        guard order.status.acceptsReturns else {
            return .rejected("order \(order.number) is \(order.status.rawValue); nothing shipped that could come back")
        }
        guard !item.lines.isEmpty else { return .rejected("return \(item.id) has no lines") }
        for line in item.lines {
            let returnable = order.lines.filter { $0.sku == line.sku }.reduce(0) { $0 + $1.shippedQuantity - $1.returnedQuantity }
            guard line.quantity > 0, line.quantity <= returnable else {
                return .rejected("return \(item.id) brings back \(line.quantity) of \(line.sku), but order \(order.number) has \(returnable) shipped and not returned")
            }
            var left = line.quantity
            for i in order.lines.indices where order.lines[i].sku == line.sku && left > 0 {
                let take = min(left, order.lines[i].shippedQuantity - order.lines[i].returnedQuantity)
                order.lines[i].returnedQuantity += take
                left -= take
            }
        }
        try Store.saveLineQuantities(db, orderID: id, order.lines)
        let st = try db.statement(
            "INSERT INTO order_returns (external_id, order_id, lines, exchange_for, received_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        st.bind(1, item.id)
        st.bind(2, id)
        st.bind(3, Store.linesJSON(item.lines))
        st.bind(4, item.exchangeFor)
        st.bind(5, item.receivedAt.millisecondsSinceEpoch)
        st.bind(6, now.millisecondsSinceEpoch)
        try st.run()
        let touch = try db.statement("UPDATE orders SET updated_at = ?2 WHERE id = ?1")
        touch.bind(1, id)
        touch.bind(2, now.millisecondsSinceEpoch)
        try touch.run()
        return .applied(try Store.loadOrder(db, id: id)!)
    }

    static let orderColumns = """
        id, uid, number, channel, customer_id, company_id, company_user_id, currency, subtotal, shipping_total, tax_total,
        grand_total, billing_address, shipping_address, status, quote_id, created_at, updated_at
        """

    /// A return from columns 1 to 5 of the returns queries (external_id, order number, lines, exchange_for,
    /// received_at); column 0 is the row id the queries page by.
    static func orderReturn(from st: Statement) -> OrderReturn {
        OrderReturn(
            id: st.text(1), orderNumber: st.text(2), lines: Store.lines(fromJSON: st.text(3)),
            exchangeFor: st.optionalText(4), receivedAt: Timestamp(millisecondsSinceEpoch: st.int64(5)))
    }

    static func orderID(_ db: Connection, number: String) throws(SQLiteError) -> Int64? {
        let st = try db.statement("SELECT id FROM orders WHERE number = ?1")
        defer { st.reset() }
        st.bind(1, number)
        return try st.step() ? st.int64(0) : nil
    }

    /// The row id of the order placed with idempotency key `key` and the SHA-256 of the request that placed it.
    static func orderID(_ db: Connection, idempotencyKey key: String) throws(SQLiteError) -> (id: Int64, requestDigest: [UInt8])? {
        let st = try db.statement("SELECT id, request_digest FROM orders WHERE idempotency_key = ?1")
        defer { st.reset() }
        st.bind(1, key)
        return try st.step() ? (st.int64(0), st.blob(1)) : nil
    }

    static func exists(_ db: Connection, _ sql: String, _ key: String) throws(SQLiteError) -> Bool {
        let st = try db.statement(sql)
        defer { st.reset() }
        st.bind(1, key)
        return try st.step()
    }

    static func loadOrder(_ db: Connection, id: Int64) throws(SQLiteError) -> Order? {
        let st = try db.statement("SELECT \(orderColumns) FROM orders WHERE id = ?1")
        defer { st.reset() }
        st.bind(1, id)
        guard try st.step() else { return nil }
        guard let currency = Currency(code: st.text(7)) else {
            throw SQLiteError(code: SQLITE_CORRUPT, message: "order \(st.text(2)) is stored in unknown currency '\(st.text(7))'")
        }
        var order = Order(
            id: st.text(1), number: st.text(2), channel: st.text(3), customerID: st.optionalText(4), companyID: st.optionalText(5),
            companyUserID: st.optionalText(6), currency: currency, lines: [], subtotal: st.int64(8), shippingTotal: st.int64(9),
            taxTotal: st.int64(10), grandTotal: st.int64(11), billingAddress: address(st.optionalText(12)),
            shippingAddress: address(st.optionalText(13)), status: OrderStatus(rawValue: st.text(14)) ?? .placed, history: [],
            quoteID: st.optionalText(15), createdAt: Timestamp(millisecondsSinceEpoch: st.int64(16)),
            updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(17)))
        st.reset()
        let lines = try db.statement(
            """
            SELECT line_number, sku, quantity, unit_price, shipped_quantity, cancelled_quantity, returned_quantity
            FROM order_lines WHERE order_id = ?1 ORDER BY line_number
            """)
        defer { lines.reset() }
        lines.bind(1, id)
        while try lines.step() {
            order.lines.append(OrderLine(
                lineNumber: Int(lines.int64(0)), sku: lines.text(1), quantity: lines.int64(2),
                unitPrice: Money(minorUnits: lines.int64(3), currency: currency), shippedQuantity: lines.int64(4),
                cancelledQuantity: lines.int64(5), returnedQuantity: lines.int64(6)))
        }
        let history = try db.statement("SELECT status, at, source, note FROM order_status_history WHERE order_id = ?1 ORDER BY id")
        defer { history.reset() }
        history.bind(1, id)
        while try history.step() {
            order.history.append(OrderStatusChange(
                status: OrderStatus(rawValue: history.text(0)) ?? .placed, at: Timestamp(millisecondsSinceEpoch: history.int64(1)),
                source: history.text(2), note: history.optionalText(3)))
        }
        return order
    }

    /// In-stock source quantity minus open reservations of `sku`, read on the writer inside its transaction.
    static func salable(_ db: Connection, sku: String) throws(SQLiteError) -> Int64 {
        let st = try db.statement("SELECT coalesce(sum(quantity), 0) FROM inventory_source_items WHERE sku = ?1 AND status = 'in_stock'")
        defer { st.reset() }
        st.bind(1, sku)
        _ = try st.step()
        let source = st.int64(0)
        return source - (try reserved(db, sku: sku))
    }

    static func reserved(_ db: Connection, sku: String) throws(SQLiteError) -> Int64 {
        let st = try db.statement("SELECT reserved FROM reservation_totals WHERE sku = ?1 AND stock_code = ?2")
        defer { st.reset() }
        st.bind(1, sku)
        st.bind(2, ReservationEntry.defaultStock)
        return try st.step() ? st.int64(0) : 0
    }

    /// Appends a ledger entry (`quantity` < 0 reserves, > 0 compensates) and keeps the SKU's total in step.
    static func reserve(_ db: Connection, sku: String, quantity: Int64, reason: String, orderNumber: String, now: Timestamp) throws(SQLiteError) {
        let entry = try db.statement(
            "INSERT INTO reservations (sku, stock_code, quantity, reason, order_number, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        entry.bind(1, sku)
        entry.bind(2, ReservationEntry.defaultStock)
        entry.bind(3, quantity)
        entry.bind(4, reason)
        entry.bind(5, orderNumber)
        entry.bind(6, now.millisecondsSinceEpoch)
        try entry.run()
        // UPDATE first: an upsert would check `reserved >= 0` on the would-be inserted row (−n) before the conflict.
        let update = try db.statement("UPDATE reservation_totals SET reserved = reserved - ?3 WHERE sku = ?1 AND stock_code = ?2")
        update.bind(1, sku)
        update.bind(2, ReservationEntry.defaultStock)
        update.bind(3, quantity)
        try update.run()
        if db.changes == 0 {
            let insert = try db.statement("INSERT INTO reservation_totals (sku, stock_code, reserved) VALUES (?1, ?2, ?3)")
            insert.bind(1, sku)
            insert.bind(2, ReservationEntry.defaultStock)
            insert.bind(3, -quantity)
            try insert.run()
        }
    }

    /// Compensates every open unit of `order`, row `id` (cancelled, or counted as shipped with `markShipped`).
    static func releaseOpen(
        _ db: Connection, orderID id: Int64, _ order: Order, reason: String, markShipped: Bool, now: Timestamp
    ) throws(SQLiteError) {
        var lines = order.lines
        var perSKU: [(String, Int64)] = []
        for i in lines.indices where lines[i].openQuantity > 0 {
            let open = lines[i].openQuantity
            if markShipped { lines[i].shippedQuantity += open } else { lines[i].cancelledQuantity += open }
            if let j = perSKU.firstIndex(where: { $0.0 == lines[i].sku }) { perSKU[j].1 += open } else { perSKU.append((lines[i].sku, open)) }
        }
        guard !perSKU.isEmpty else { return }
        for (sku, quantity) in perSKU {
            try reserve(db, sku: sku, quantity: quantity, reason: reason, orderNumber: order.number, now: now)
        }
        try saveLineQuantities(db, orderID: id, lines)
    }

    static func saveLineQuantities(_ db: Connection, orderID: Int64, _ lines: [OrderLine]) throws(SQLiteError) {
        let st = try db.statement(
            """
            UPDATE order_lines SET shipped_quantity = ?3, cancelled_quantity = ?4, returned_quantity = ?5
            WHERE order_id = ?1 AND line_number = ?2
            """)
        for line in lines {
            st.bind(1, orderID)
            st.bind(2, Int64(line.lineNumber))
            st.bind(3, line.shippedQuantity)
            st.bind(4, line.cancelledQuantity)
            st.bind(5, line.returnedQuantity)
            try st.run()
        }
    }

    static func appendHistory(_ db: Connection, orderID: Int64, _ change: OrderStatusChange) throws(SQLiteError) {
        let st = try db.statement("INSERT INTO order_status_history (order_id, status, source, note, at) VALUES (?1, ?2, ?3, ?4, ?5)")
        st.bind(1, orderID)
        st.bind(2, change.status.rawValue)
        st.bind(3, change.source)
        st.bind(4, change.note)
        st.bind(5, change.at.millisecondsSinceEpoch)
        try st.run()
    }

    static func setStatus(_ db: Connection, id: Int64, _ change: OrderStatusChange) throws(SQLiteError) {
        let st = try db.statement("UPDATE orders SET status = ?2, updated_at = max(updated_at, ?3) WHERE id = ?1")
        st.bind(1, id)
        st.bind(2, change.status.rawValue)
        st.bind(3, Timestamp.now().millisecondsSinceEpoch)
        try st.run()
        try appendHistory(db, orderID: id, change)
    }

    static func addressJSON(_ address: Address?) -> String? {
        guard let address, let data = try? JSONEncoder().encode(address) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    static func address(_ text: String?) -> Address? {
        guard let text else { return nil }
        return try? JSONDecoder().decode(Address.self, from: Data(text.utf8))
    }

    static func jsonText(_ strings: [String]) -> String {
        (try? JSONEncoder().encode(strings)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    /// The strings `jsonText` stored; none when the text is not a JSON array of strings.
    static func strings(fromJSON text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }

    private struct StoredLine: Codable {
        var sku: String
        var quantity: Int64
        var reason: String?
        var restock: Bool?
    }

    static func linesJSON(_ lines: [FulfilmentLine]) -> String {
        let stored = lines.map { StoredLine(sku: $0.sku, quantity: $0.quantity, reason: $0.reason, restock: $0.restock) }
        return (try? JSONEncoder().encode(stored)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    static func lines(fromJSON text: String) -> [FulfilmentLine] {
        let stored = (try? JSONDecoder().decode([StoredLine].self, from: Data(text.utf8))) ?? []
        return stored.map { FulfilmentLine(sku: $0.sku, quantity: $0.quantity, reason: $0.reason, restock: $0.restock ?? false) }
    }
}

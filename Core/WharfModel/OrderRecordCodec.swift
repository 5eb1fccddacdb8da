// MARK: Not public

/// The flat record form of what the OMS reports back, for `emit` (see `RecordCodec`):
///
/// - "order_status": order, status, at (RFC 3339), note
/// - "shipment": id, order, carrier, tracking (comma-separated), shipped_at, line.<n>.sku, line.<n>.quantity
/// - "return": id, order, received_at, exchange_for, line.<n>.sku, line.<n>.quantity, line.<n>.reason,
///   line.<n>.restock ("true"/"false")
///
/// Lines are numbered from 1 in the order they should be read; every error names its field.
enum OrderRecords {
    static let statusFields = ["order", "status", "at", "note"]
    static let shipmentFields = ["id", "order", "carrier", "tracking", "shipped_at", "line.<n>.sku", "line.<n>.quantity"]
    static let returnFields = [
        "id", "order", "received_at", "exchange_for", "line.<n>.sku", "line.<n>.quantity", "line.<n>.reason", "line.<n>.restock",
    ]

    static func decodeStatus(_ fields: [(name: String, value: String?)]) throws(FieldError) -> OrderStatusUpdate {
        var values = try plain(fields, entity: "order_status", known: statusFields)
        let order = try required(&values, "order", "order_status")
        try Rules.orderKey(order, field: "order")
        let text = try required(&values, "status", "order_status")
        guard let status = OrderStatus(rawValue: text) else {
            throw FieldError(field: "status", reason: "status '\(Rules.printable(text))' is not one of \(OrderStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return OrderStatusUpdate(orderNumber: order, status: status, at: try time(&values, "at") ?? .now(), note: values["note"])
    }

    static func decodeShipment(_ fields: [(name: String, value: String?)]) throws(FieldError) -> Shipment {
        var (values, lines) = try withLines(fields, entity: "shipment", known: shipmentFields, lineKeys: ["sku", "quantity"])
        let id = try required(&values, "id", "shipment")
        try Rules.length(id, field: "id", max: 128)
        let order = try required(&values, "order", "shipment")
        try Rules.orderKey(order, field: "order")
        let tracking = (values["tracking"] ?? "").split(separator: ",").map { String(String($0.drop { $0 == " " }.reversed()).drop { $0 == " " }.reversed()) }.filter { !$0.isEmpty }
        return Shipment(
            id: id, orderNumber: order, carrier: values["carrier"], trackingNumbers: tracking,
            lines: try lines.map { n, line throws(FieldError) in try fulfilment(n, line, restockable: false) },
            shippedAt: try time(&values, "shipped_at") ?? .now())
    }

    static func decodeReturn(_ fields: [(name: String, value: String?)]) throws(FieldError) -> OrderReturn {
        var (values, lines) = try withLines(fields, entity: "return", known: returnFields, lineKeys: ["sku", "quantity", "reason", "restock"])
        let id = try required(&values, "id", "return")
        try Rules.length(id, field: "id", max: 128)
        let order = try required(&values, "order", "return")
        try Rules.orderKey(order, field: "order")
        if let exchange = values["exchange_for"] { try Rules.orderKey(exchange, field: "exchange_for") }
        return OrderReturn(
            id: id, orderNumber: order,
            lines: try lines.map { n, line throws(FieldError) in try fulfilment(n, line, restockable: true) },
            exchangeFor: values["exchange_for"], receivedAt: try time(&values, "received_at") ?? .now())
    }

    static func encode(_ record: ModelRecord) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        switch record {
        case .orderStatus(let s):
            out = [("order", s.orderNumber), ("status", s.status.rawValue), ("at", s.at.rfc3339)]
            if let note = s.note { out.append(("note", note)) }
        case .shipment(let s):
            out = [("id", s.id), ("order", s.orderNumber)]
            if let carrier = s.carrier { out.append(("carrier", carrier)) }
            if !s.trackingNumbers.isEmpty { out.append(("tracking", s.trackingNumbers.joined(separator: ","))) }
            out.append(("shipped_at", s.shippedAt.rfc3339))
            for (i, line) in s.lines.enumerated() {
                out.append(("line.\(i + 1).sku", line.sku))
                out.append(("line.\(i + 1).quantity", String(line.quantity)))
            }
        case .orderReturn(let r):
            out = [("id", r.id), ("order", r.orderNumber), ("received_at", r.receivedAt.rfc3339)]
            if let exchange = r.exchangeFor { out.append(("exchange_for", exchange)) }
            for (i, line) in r.lines.enumerated() {
                out.append(("line.\(i + 1).sku", line.sku))
                out.append(("line.\(i + 1).quantity", String(line.quantity)))
                if let reason = line.reason { out.append(("line.\(i + 1).reason", reason)) }
                out.append(("line.\(i + 1).restock", line.restock ? "true" : "false"))
            }
        default: break
        }
        return out
    }

    // MARK: Helpers

    private static func plain(_ fields: [(name: String, value: String?)], entity: String, known: [String]) throws(FieldError) -> [String: String] {
        var values: [String: String] = [:]
        var seen: Set<String> = []
        for field in fields {
            guard known.contains(field.name) else {
                throw FieldError(field: field.name, reason: "unknown field '\(Rules.printable(field.name))' for entity \(entity); known fields: \(known.joined(separator: ", "))")
            }
            guard seen.insert(field.name).inserted else {
                throw FieldError(field: field.name, reason: "field '\(field.name)' appears more than once in one \(entity) record")
            }
            if let value = field.value, !value.isEmpty { values[field.name] = value }
        }
        return values
    }

    /// Splits `line.<n>.<key>` fields from the others; lines come back ordered by n.
    private static func withLines(
        _ fields: [(name: String, value: String?)], entity: String, known: [String], lineKeys: [String]
    ) throws(FieldError) -> ([String: String], [(Int, [String: String])]) {
        var plainFields: [(name: String, value: String?)] = []
        var lines: [Int: [String: String]] = [:]
        for field in fields {
            let parts = field.name.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "line" else {
                plainFields.append(field)
                continue
            }
            guard let n = Int(parts[1]), (1...500).contains(n), lineKeys.contains(String(parts[2])) else {
                throw FieldError(field: field.name, reason: "field '\(Rules.printable(field.name))' is not line.<1-500>.<\(lineKeys.joined(separator: "|"))>")
            }
            let key = String(parts[2])
            guard lines[n]?[key] == nil else {
                throw FieldError(field: field.name, reason: "field '\(field.name)' appears more than once in one \(entity) record")
            }
            if let value = field.value, !value.isEmpty { lines[n, default: [:]][key] = value } else { lines[n, default: [:]][key] = nil }
        }
        let values = try plain(plainFields, entity: entity, known: known.filter { !$0.hasPrefix("line.") })
        let ordered = lines.keys.sorted().map { ($0, lines[$0]!) }
        guard !ordered.isEmpty else { throw FieldError(field: "line.1.sku", reason: "a \(entity) needs at least one line (line.1.sku, line.1.quantity)") }
        return (values, ordered)
    }

    private static func fulfilment(_ n: Int, _ line: [String: String], restockable: Bool) throws(FieldError) -> FulfilmentLine {
        guard let sku = line["sku"] else { throw FieldError(field: "line.\(n).sku", reason: "line.\(n).sku is required") }
        try Rules.sku(sku, field: "line.\(n).sku")
        guard let text = line["quantity"] else { throw FieldError(field: "line.\(n).quantity", reason: "line.\(n).quantity is required") }
        let quantity = try InventorySourceItem.parseWholeNumber(text, field: "line.\(n).quantity")
        guard quantity >= 1 else { throw FieldError(field: "line.\(n).quantity", reason: "line.\(n).quantity must be 1 or more, got \(quantity)") }
        var restock = false
        if let flag = line["restock"] {
            guard flag == "true" || flag == "false" else {
                throw FieldError(field: "line.\(n).restock", reason: "line.\(n).restock must be true or false, not '\(Rules.printable(flag))'")
            }
            restock = flag == "true"
        }
        return FulfilmentLine(sku: sku, quantity: quantity, reason: line["reason"], restock: restock)
    }

    private static func required(_ values: inout [String: String], _ name: String, _ entity: String) throws(FieldError) -> String {
        guard let value = values[name] else { throw FieldError(field: name, reason: "\(entity) record is missing required field '\(name)'") }
        return value
    }

    private static func time(_ values: inout [String: String], _ name: String) throws(FieldError) -> Timestamp? {
        guard let text = values[name] else { return nil }
        guard let time = Timestamp(rfc3339: text) else {
            throw FieldError(field: name, reason: "\(name) '\(Rules.printable(text))' is not an RFC 3339 time such as 2026-11-23T12:00:00Z")
        }
        return time
    }
}

import Foundation
import WharfModel

/// The JSON shape of orders, shipments and returns: what `POST /v1/orders` reads, what the order routes answer, and
/// the order body the outbox sends to the OMS (the same document, so the OMS sees what the API shows). Amounts are
/// decimal strings in the order's currency ("19.99"), never JSON numbers, so no float ever touches money.
enum OrderJSON {
    /// Every problem found in a request body.
    struct InputProblems: Error {
        var errors: [FieldError]
    }

    /// Reads an order request body; every problem names its field.
    static func parseNewOrder(_ body: [UInt8]) -> Result<NewOrder, InputProblems> {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            return .failure(InputProblems(errors: [FieldError(field: nil, reason: "the body must be a JSON object with channel, currency and lines")]))
        }
        var problems: [FieldError] = []
        let known: Set<String> = [
            "number", "channel", "customerId", "companyId", "companyUserId", "currency", "lines", "shippingTotal", "taxTotal",
            "billingAddress", "shippingAddress", "quoteId",
        ]
        for key in object.keys.sorted() where !known.contains(key) {
            problems.append(FieldError(field: key, reason: "\(key) is not a field of an order; known: \(known.sorted().joined(separator: ", "))"))
        }
        func string(_ key: String, required: Bool = false) -> String? {
            switch object[key] {
            case nil, is NSNull:
                if required { problems.append(FieldError(field: key, reason: "\(key) is required")) }
                return nil
            case let text as String: return text
            default:
                problems.append(FieldError(field: key, reason: "\(key) must be a string"))
                return nil
            }
        }
        let channel = string("channel", required: true) ?? ""
        let code = string("currency", required: true)
        var currency = Currency(code: "EUR")!
        if let code {
            if let parsed = Currency(code: code) { currency = parsed } else {
                problems.append(FieldError(field: "currency", reason: "currency '\(code)' is not an ISO 4217 code Wharf knows"))
            }
        }
        func money(_ value: Any?, field: String) -> Money? {
            switch value {
            case nil, is NSNull: return nil
            case let text as String:
                do { return try Money.parse(text, currency: currency) } catch {
                    problems.append(FieldError(field: field, reason: error.reason.replacingOccurrences(of: "amount", with: field)))
                    return nil
                }
            default:
                problems.append(FieldError(field: field, reason: "\(field) must be a decimal string such as \"19.99\" (amounts are never JSON numbers)"))
                return nil
            }
        }
        var lines: [NewOrderLine] = []
        if let raw = object["lines"] as? [Any] {
            for (i, item) in raw.enumerated() {
                let field = "lines[\(i)]"
                guard let line = item as? [String: Any] else {
                    problems.append(FieldError(field: field, reason: "\(field) must be an object with sku, quantity and unitPrice"))
                    continue
                }
                for key in line.keys.sorted() where !["sku", "quantity", "unitPrice"].contains(key) {
                    problems.append(FieldError(field: "\(field).\(key)", reason: "\(field).\(key) is not a field of a line; use sku, quantity, unitPrice"))
                }
                let sku = line["sku"] as? String
                if sku == nil { problems.append(FieldError(field: "\(field).sku", reason: "\(field).sku is required (a string)")) }
                var quantity: Int64?
                if let number = line["quantity"] as? NSNumber, let whole = Int64(exactly: number.doubleValue), String(describing: number) == String(whole) {
                    quantity = whole
                } else {
                    problems.append(FieldError(field: "\(field).quantity", reason: "\(field).quantity must be a whole number such as 2"))
                }
                let price = money(line["unitPrice"], field: "\(field).unitPrice")
                if line["unitPrice"] == nil { problems.append(FieldError(field: "\(field).unitPrice", reason: "\(field).unitPrice is required, such as \"19.99\"")) }
                // A line with a bad field still counts for the other checks (quantity range), with placeholders.
                lines.append(NewOrderLine(sku: sku ?? "?", quantity: quantity ?? 1, unitPrice: price ?? Money(minorUnits: 0, currency: currency)))
            }
        } else {
            problems.append(FieldError(field: "lines", reason: "lines is required: an array of {sku, quantity, unitPrice}"))
        }
        func address(_ key: String) -> Address? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            guard let data = try? JSONSerialization.data(withJSONObject: value), let parsed = try? JSONDecoder().decode(Address.self, from: data) else {
                problems.append(FieldError(field: key, reason: "\(key) must be an object with country (ISO alpha-2) and optional name, company, street (array), city, postalCode, region, phone, email"))
                return nil
            }
            return parsed
        }
        let order = NewOrder(
            number: string("number"), channel: channel, customerID: string("customerId"), companyID: string("companyId"),
            companyUserID: string("companyUserId"), currency: currency, lines: lines,
            shippingTotal: money(object["shippingTotal"], field: "shippingTotal")?.minorUnits ?? 0,
            taxTotal: money(object["taxTotal"], field: "taxTotal")?.minorUnits ?? 0,
            billingAddress: address("billingAddress"), shippingAddress: address("shippingAddress"), quoteID: string("quoteId"))
        let named = Set(problems.compactMap(\.field))
        problems += order.problems().filter { $0.field == nil || !named.contains($0.field!) }
        return problems.isEmpty ? .success(order) : .failure(InputProblems(errors: problems))
    }

    /// An order as the API and the OMS see it.
    static func order(_ order: Order, into writer: inout JSONWriter) {
        let currency = order.currency
        func amount(_ minor: Int64) -> String { Money(minorUnits: minor, currency: currency).decimalString }
        writer.beginObject()
        writer.field("id", order.id)
        writer.field("number", order.number)
        writer.field("channel", order.channel)
        writer.field("customerId", order.customerID)
        writer.field("companyId", order.companyID)
        writer.field("companyUserId", order.companyUserID)
        writer.field("status", order.status.rawValue)
        writer.field("currency", currency.code)
        writer.key("lines")
        writer.beginArray()
        for line in order.lines {
            writer.beginObject()
            writer.field("line", Int64(line.lineNumber))
            writer.field("sku", line.sku)
            writer.field("quantity", line.quantity)
            writer.field("unitPrice", line.unitPrice.decimalString)
            writer.field("rowTotal", amount(line.rowTotal))
            writer.field("shippedQuantity", line.shippedQuantity)
            writer.field("cancelledQuantity", line.cancelledQuantity)
            writer.field("returnedQuantity", line.returnedQuantity)
            writer.endObject()
        }
        writer.endArray()
        writer.field("subtotal", amount(order.subtotal))
        writer.field("shippingTotal", amount(order.shippingTotal))
        writer.field("taxTotal", amount(order.taxTotal))
        writer.field("grandTotal", amount(order.grandTotal))
        writer.key("billingAddress")
        address(order.billingAddress, into: &writer)
        writer.key("shippingAddress")
        address(order.shippingAddress, into: &writer)
        writer.field("quoteId", order.quoteID)
        writer.key("history")
        writer.beginArray()
        for change in order.history {
            writer.beginObject()
            writer.field("status", change.status.rawValue)
            writer.field("at", change.at.rfc3339)
            writer.field("source", change.source)
            writer.field("note", change.note)
            writer.endObject()
        }
        writer.endArray()
        writer.field("createdAt", order.createdAt.rfc3339)
        writer.field("updatedAt", order.updatedAt.rfc3339)
        writer.endObject()
    }

    /// The order document as text (the outbox payload).
    static func orderText(_ order: Order) -> String {
        var writer = JSONWriter(capacity: 1024)
        self.order(order, into: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func address(_ address: Address?, into writer: inout JSONWriter) {
        guard let address else { return writer.null() }
        writer.beginObject()
        writer.field("name", address.name)
        writer.field("company", address.company)
        writer.key("street")
        writer.beginArray()
        for line in address.street { writer.value(line) }
        writer.endArray()
        writer.field("city", address.city)
        writer.field("postalCode", address.postalCode)
        writer.field("region", address.region)
        writer.field("country", address.country)
        writer.field("phone", address.phone)
        writer.field("email", address.email)
        writer.endObject()
    }

    static func lines(_ lines: [FulfilmentLine], returns: Bool, into writer: inout JSONWriter) {
        writer.beginArray()
        for line in lines {
            writer.beginObject()
            writer.field("sku", line.sku)
            writer.field("quantity", line.quantity)
            if returns {
                writer.field("reason", line.reason)
                writer.field("restock", line.restock)
            }
            writer.endObject()
        }
        writer.endArray()
    }

    static func shipment(_ shipment: Shipment, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("id", shipment.id)
        writer.field("orderNumber", shipment.orderNumber)
        writer.field("carrier", shipment.carrier)
        writer.key("trackingNumbers")
        writer.beginArray()
        for number in shipment.trackingNumbers { writer.value(number) }
        writer.endArray()
        writer.key("lines")
        lines(shipment.lines, returns: false, into: &writer)
        writer.field("shippedAt", shipment.shippedAt.rfc3339)
        writer.endObject()
    }

    static func orderReturn(_ item: OrderReturn, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("id", item.id)
        writer.field("orderNumber", item.orderNumber)
        writer.key("lines")
        lines(item.lines, returns: true, into: &writer)
        writer.field("exchangeFor", item.exchangeFor)
        writer.field("receivedAt", item.receivedAt.rfc3339)
        writer.endObject()
    }

    /// Source quantities (as `Encoding.inventory` writes them) plus reservations and the salable quantity.
    static func inventory(_ inventory: SalableInventory, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("sku", inventory.summary.sku)
        writer.key("sources")
        writer.beginArray()
        for item in inventory.summary.items {
            writer.beginObject()
            writer.field("source", item.sourceCode)
            writer.field("quantity", item.quantity)
            writer.field("status", item.status.rawValue)
            writer.field("updatedAt", item.updatedAt?.rfc3339)
            writer.endObject()
        }
        writer.endArray()
        writer.field("totalQuantity", inventory.summary.totalQuantity)
        writer.field("reservedQuantity", inventory.reserved)
        writer.field("salableQuantity", inventory.salable)
        writer.key("reservations")
        writer.beginArray()
        for open in inventory.openReservations {
            writer.beginObject()
            writer.field("order", open.orderNumber)
            writer.field("quantity", open.quantity)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
    }

    static func outboxMessage(_ message: OutboxMessage, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("id", message.id)
        writer.field("kind", message.kind)
        writer.field("orderNumber", message.orderNumber)
        writer.field("messageId", message.messageID)
        writer.field("state", message.state.rawValue)
        writer.field("attempts", Int64(message.attempts))
        writer.field("nextAttemptAt", message.state == .pending ? message.nextAttemptAt.rfc3339 : nil)
        writer.field("lastError", message.lastError)
        writer.field("createdAt", message.createdAt.rfc3339)
        writer.field("acknowledgedAt", message.acknowledgedAt?.rfc3339)
        writer.endObject()
    }
}

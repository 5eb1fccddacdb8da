/// Where an order is in its life. The OMS moves it forward (status pulls, shipments); a client may cancel it while
/// nothing has shipped.
public enum OrderStatus: String, Sendable, CaseIterable, Hashable {
    /// Accepted by Wharf, stock reserved, waiting for (or handed to) the OMS.
    case placed
    /// The OMS works on it.
    case processing
    /// The OMS holds it (payment, fraud check).
    case onHold = "on_hold"
    /// Some lines (or units) shipped.
    case partiallyShipped = "partially_shipped"
    /// Everything shipped.
    case shipped
    /// The carrier delivered it.
    case delivered
    /// Closed: nothing more will happen to it (returns aside).
    case completed
    /// Cancelled before it shipped; its reservations were released.
    case cancelled

    /// Statuses nothing leaves.
    public var isFinal: Bool { self == .cancelled || self == .completed }

    /// Whether units may still ship in this status (a shipment for any other status is refused).
    public var acceptsShipments: Bool {
        switch self {
        case .placed, .processing, .partiallyShipped: true
        default: false
        }
    }

    /// Whether a return may be recorded: only for orders that shipped something.
    public var acceptsReturns: Bool {
        switch self {
        case .partiallyShipped, .shipped, .delivered, .completed: true
        default: false
        }
    }

    /// Whether the order may move from this status to `next` (staying is allowed and changes nothing).
    public func canMove(to next: OrderStatus) -> Bool {
        if next == self { return true }
        switch self {
        case .placed: return [.processing, .onHold, .partiallyShipped, .shipped, .cancelled].contains(next)
        case .processing: return [.onHold, .partiallyShipped, .shipped, .cancelled].contains(next)
        case .onHold: return [.processing, .cancelled].contains(next)
        case .partiallyShipped: return [.shipped, .delivered, .completed].contains(next)
        case .shipped: return [.delivered, .completed].contains(next)
        case .delivered: return next == .completed
        case .completed, .cancelled: return false
        }
    }
}

/// A postal address as the storefront sent it. Every part is optional except the country.
public struct Address: Sendable, Hashable, Codable {
    /// The recipient's name.
    public var name: String?
    /// The company, for B2B orders.
    public var company: String?
    /// Street lines, in order.
    public var street: [String]
    /// City or town.
    public var city: String?
    /// Postal code.
    public var postalCode: String?
    /// State, province or region.
    public var region: String?
    /// ISO 3166-1 alpha-2 country code ("DE").
    public var country: String
    /// Phone number.
    public var phone: String?
    /// E-mail address.
    public var email: String?

    /// An address.
    public init(
        name: String? = nil, company: String? = nil, street: [String] = [], city: String? = nil, postalCode: String? = nil,
        region: String? = nil, country: String, phone: String? = nil, email: String? = nil
    ) {
        self.name = name
        self.company = company
        self.street = street
        self.city = city
        self.postalCode = postalCode
        self.region = region
        self.country = country
        self.phone = phone
        self.email = email
    }

    /// Decodes an address; `street` may be absent (no street lines), every other part but `country` too.
    public init(from decoder: any Decoder) throws {
        enum Keys: String, CodingKey { case name, company, street, city, postalCode, region, country, phone, email }
        let c = try decoder.container(keyedBy: Keys.self)
        self.init(
            name: try c.decodeIfPresent(String.self, forKey: .name), company: try c.decodeIfPresent(String.self, forKey: .company),
            street: try c.decodeIfPresent([String].self, forKey: .street) ?? [], city: try c.decodeIfPresent(String.self, forKey: .city),
            postalCode: try c.decodeIfPresent(String.self, forKey: .postalCode), region: try c.decodeIfPresent(String.self, forKey: .region),
            country: try c.decode(String.self, forKey: .country), phone: try c.decodeIfPresent(String.self, forKey: .phone),
            email: try c.decodeIfPresent(String.self, forKey: .email))
    }

    /// The address when the country is two capital letters and no part is longer than 256 characters.
    public func validated(field: String) throws(FieldError) -> Address {
        guard country.count == 2, country.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) }) else {
            throw FieldError(field: "\(field).country", reason: "\(field).country must be an ISO 3166-1 alpha-2 code such as DE, not '\(Rules.printable(country))'")
        }
        for (name, value) in [("name", name), ("company", company), ("city", city), ("postalCode", postalCode), ("region", region), ("phone", phone), ("email", email)] {
            if let value { try Rules.length(value, field: "\(field).\(name)", max: 256) }
        }
        for (i, line) in street.enumerated() { try Rules.length(line, field: "\(field).street[\(i)]", max: 256) }
        return self
    }
}

/// One line of an order to place: what, how many, at which unit price.
public struct NewOrderLine: Sendable, Hashable {
    /// The product's SKU; it must exist.
    public var sku: String
    /// Units, 1 or more.
    public var quantity: Int64
    /// The price of one unit the storefront showed; it must match price resolution.
    public var unitPrice: Money

    /// A line.
    public init(sku: String, quantity: Int64, unitPrice: Money) {
        self.sku = sku
        self.quantity = quantity
        self.unitPrice = unitPrice
    }
}

/// An order as a storefront places it (`POST /v1/orders`), before Wharf checks SKUs, prices and stock.
public struct NewOrder: Sendable, Hashable {
    /// The storefront's order number; Wharf makes one ("W000000042") when nil.
    public var number: String?
    /// The sales channel ("web-de", "b2b-portal").
    public var channel: String
    /// The customer's id in the storefront, for B2C orders.
    public var customerID: String?
    /// The B2B company's id (issue 7's companies; no foreign key).
    public var companyID: String?
    /// The company user who placed it.
    public var companyUserID: String?
    /// The currency of every amount.
    public var currency: Currency
    /// The lines, at least one.
    public var lines: [NewOrderLine]
    /// Shipping charged, in minor units of `currency`.
    public var shippingTotal: Int64
    /// Tax charged, in minor units of `currency`.
    public var taxTotal: Int64
    /// Where the invoice goes.
    public var billingAddress: Address?
    /// Where the goods go.
    public var shippingAddress: Address?
    /// The quote this order comes from, if any.
    public var quoteID: String?

    /// An order to place.
    public init(
        number: String? = nil, channel: String, customerID: String? = nil, companyID: String? = nil,
        companyUserID: String? = nil, currency: Currency, lines: [NewOrderLine], shippingTotal: Int64 = 0, taxTotal: Int64 = 0,
        billingAddress: Address? = nil, shippingAddress: Address? = nil, quoteID: String? = nil
    ) {
        self.number = number
        self.channel = channel
        self.customerID = customerID
        self.companyID = companyID
        self.companyUserID = companyUserID
        self.currency = currency
        self.lines = lines
        self.shippingTotal = shippingTotal
        self.taxTotal = taxTotal
        self.billingAddress = billingAddress
        self.shippingAddress = shippingAddress
        self.quoteID = quoteID
    }

    /// The sum of the lines (quantity × unit price) in minor units, or nil when it overflows.
    public var subtotal: Int64? {
        var total: Int64 = 0
        for line in lines {
            let (row, o1) = line.quantity.multipliedReportingOverflow(by: line.unitPrice.minorUnits)
            let (sum, o2) = total.addingReportingOverflow(row)
            if o1 || o2 { return nil }
            total = sum
        }
        return total
    }

    /// Every problem with the order's own fields (not stock or prices, which need the store), each naming its
    /// field (`lines[2].quantity`); empty when it is well-formed.
    public func problems() -> [FieldError] {
        var problems: [FieldError] = []
        func check(_ body: () throws -> Void) {
            do { try body() } catch { problems.append(error as? FieldError ?? FieldError(field: nil, reason: "\(error)")) }
        }
        if let number {
            check { try Rules.orderKey(number, field: "number") }
            // "W" and nine digits is how Wharf numbers orders itself; a storefront taking one would collide later.
            if number.utf8.count == 10, number.hasPrefix("W"), number.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) {
                problems.append(FieldError(field: "number", reason: "number '\(number)' has the form of Wharf's own order numbers (W and nine digits); use another form or leave it out"))
            }
        }
        check { try Rules.orderKey(channel, field: "channel") }
        for (name, value) in [("customerId", customerID), ("companyId", companyID), ("companyUserId", companyUserID)] {
            if let value { check { try Rules.length(value, field: name, max: 128) } }
        }
        if customerID == nil && companyUserID == nil {
            problems.append(FieldError(field: "customerId", reason: "an order needs a customerId or a companyUserId"))
        }
        if lines.isEmpty { problems.append(FieldError(field: "lines", reason: "an order needs at least one line")) }
        if lines.count > NewOrder.maxLines {
            problems.append(FieldError(field: "lines", reason: "an order has at most \(NewOrder.maxLines) lines, this one \(lines.count)"))
        }
        for (i, line) in lines.enumerated() {
            check { try Rules.sku(line.sku, field: "lines[\(i)].sku") }
            if line.quantity < 1 || line.quantity > NewOrder.maxLineQuantity {
                problems.append(FieldError(field: "lines[\(i)].quantity", reason: "lines[\(i)].quantity must be 1 to \(NewOrder.maxLineQuantity), got \(line.quantity)"))
            }
            if line.unitPrice.minorUnits < 0 {
                problems.append(FieldError(field: "lines[\(i)].unitPrice", reason: "lines[\(i)].unitPrice is negative"))
            }
            if line.unitPrice.currency != currency {
                problems.append(FieldError(field: "lines[\(i)].unitPrice", reason: "lines[\(i)].unitPrice is in \(line.unitPrice.currency.code) but the order is in \(currency.code)"))
            }
        }
        if shippingTotal < 0 { problems.append(FieldError(field: "shippingTotal", reason: "shippingTotal is negative")) }
        if taxTotal < 0 { problems.append(FieldError(field: "taxTotal", reason: "taxTotal is negative")) }
        if subtotal == nil { problems.append(FieldError(field: "lines", reason: "the order total is too large")) }
        if let billingAddress { check { _ = try billingAddress.validated(field: "billingAddress") } }
        if let shippingAddress { check { _ = try shippingAddress.validated(field: "shippingAddress") } }
        return problems
    }

    /// Lines per order at most.
    public static let maxLines = 500
    /// Units per line at most.
    public static let maxLineQuantity: Int64 = 1_000_000
}

/// One line of a stored order, with what happened to its units since.
public struct OrderLine: Sendable, Hashable {
    /// 1-based position in the order.
    public var lineNumber: Int
    /// The SKU.
    public var sku: String
    /// Units ordered.
    public var quantity: Int64
    /// Price of one unit.
    public var unitPrice: Money
    /// Units shipped so far.
    public var shippedQuantity: Int64
    /// Units cancelled (never shipped).
    public var cancelledQuantity: Int64
    /// Units returned so far.
    public var returnedQuantity: Int64

    /// A line.
    public init(
        lineNumber: Int, sku: String, quantity: Int64, unitPrice: Money, shippedQuantity: Int64 = 0,
        cancelledQuantity: Int64 = 0, returnedQuantity: Int64 = 0
    ) {
        self.lineNumber = lineNumber
        self.sku = sku
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.shippedQuantity = shippedQuantity
        self.cancelledQuantity = cancelledQuantity
        self.returnedQuantity = returnedQuantity
    }

    /// quantity × unit price, in minor units.
    public var rowTotal: Int64 { quantity &* unitPrice.minorUnits }
    /// Units still reserved: neither shipped nor cancelled.
    public var openQuantity: Int64 { max(0, quantity - shippedQuantity - cancelledQuantity) }
}

/// One entry of an order's status history.
public struct OrderStatusChange: Sendable, Hashable {
    /// The status the order moved to.
    public var status: OrderStatus
    /// When.
    public var at: Timestamp
    /// Who moved it: "api" (a client), "oms" (a status pull), "shipment", "return".
    public var source: String
    /// Why, when known ("customer asked", the OMS's reason).
    public var note: String?

    /// A change.
    public init(status: OrderStatus, at: Timestamp, source: String, note: String? = nil) {
        self.status = status
        self.at = at
        self.source = source
        self.note = note
    }
}

/// An order as Wharf stores it.
public struct Order: Sendable, Hashable {
    /// Wharf's stable id (a UUID): the OMS de-duplicates resends by it.
    public var id: String
    /// The order number.
    public var number: String
    /// The sales channel.
    public var channel: String
    /// The B2C customer's id.
    public var customerID: String?
    /// The B2B company's id.
    public var companyID: String?
    /// The company user who placed it.
    public var companyUserID: String?
    /// The currency of every amount.
    public var currency: Currency
    /// The lines, by line number.
    public var lines: [OrderLine]
    /// Sum of the lines, in minor units.
    public var subtotal: Int64
    /// Shipping, in minor units.
    public var shippingTotal: Int64
    /// Tax, in minor units.
    public var taxTotal: Int64
    /// subtotal + shipping + tax, in minor units.
    public var grandTotal: Int64
    /// Invoice address.
    public var billingAddress: Address?
    /// Delivery address.
    public var shippingAddress: Address?
    /// The current status.
    public var status: OrderStatus
    /// Every status it had, oldest first.
    public var history: [OrderStatusChange]
    /// The quote it came from.
    public var quoteID: String?
    /// When it was placed.
    public var createdAt: Timestamp
    /// When it last changed.
    public var updatedAt: Timestamp

    /// An order (the store makes these).
    public init(
        id: String, number: String, channel: String, customerID: String?, companyID: String?, companyUserID: String?,
        currency: Currency, lines: [OrderLine], subtotal: Int64, shippingTotal: Int64, taxTotal: Int64, grandTotal: Int64,
        billingAddress: Address?, shippingAddress: Address?, status: OrderStatus, history: [OrderStatusChange],
        quoteID: String?, createdAt: Timestamp, updatedAt: Timestamp
    ) {
        self.id = id
        self.number = number
        self.channel = channel
        self.customerID = customerID
        self.companyID = companyID
        self.companyUserID = companyUserID
        self.currency = currency
        self.lines = lines
        self.subtotal = subtotal
        self.shippingTotal = shippingTotal
        self.taxTotal = taxTotal
        self.grandTotal = grandTotal
        self.billingAddress = billingAddress
        self.shippingAddress = shippingAddress
        self.status = status
        self.history = history
        self.quoteID = quoteID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Why one line of an order cannot be accepted.
public struct OrderLineProblem: Sendable, Hashable {
    /// What is wrong. New kinds may be added.
    public enum Kind: String, Sendable, Hashable {
        /// No product has the SKU.
        case unknownSKU = "unknown-sku"
        /// Fewer units are salable than the line asks for.
        case insufficientStock = "insufficient-stock"
        /// The unit price is not the one price resolution gives.
        case priceMismatch = "price-mismatch"
        /// Price resolution has no price for the SKU in the order's currency.
        case noPrice = "no-price"
    }

    /// 0-based index of the line in the request.
    public var line: Int
    /// The line's SKU.
    public var sku: String
    /// What is wrong.
    public var kind: Kind
    /// A sentence for people.
    public var reason: String
    /// Units asked for (stock problems).
    public var requested: Int64?
    /// Units salable (stock problems).
    public var available: Int64?
    /// The unit price price resolution gives, in minor units (price problems).
    public var expectedUnitPrice: Int64?

    /// A problem.
    public init(line: Int, sku: String, kind: Kind, reason: String, requested: Int64? = nil, available: Int64? = nil, expectedUnitPrice: Int64? = nil) {
        self.line = line
        self.sku = sku
        self.kind = kind
        self.reason = reason
        self.requested = requested
        self.available = available
        self.expectedUnitPrice = expectedUnitPrice
    }
}

/// One entry of the reservation ledger: placing an order reserves (negative quantity), shipping or cancelling
/// compensates (positive). Entries are never changed or deleted; open reservations are minus their sum.
public struct ReservationEntry: Sendable, Hashable {
    /// The SKU.
    public var sku: String
    /// The stock (a set of sources sold together; "default" is every source).
    public var stock: String
    /// Signed units: −n reserves, +n compensates.
    public var quantity: Int64
    /// Why: "order_placed", "order_shipped", "order_cancelled".
    public var reason: String
    /// The order it belongs to.
    public var orderNumber: String
    /// When.
    public var at: Timestamp

    /// An entry.
    public init(sku: String, stock: String, quantity: Int64, reason: String, orderNumber: String, at: Timestamp) {
        self.sku = sku
        self.stock = stock
        self.quantity = quantity
        self.reason = reason
        self.orderNumber = orderNumber
        self.at = at
    }

    /// The one stock Wharf sells from today: all sources together.
    public static let defaultStock = "default"
}

/// Source quantities of a SKU with what orders reserved of them.
public struct SalableInventory: Sendable, Hashable {
    /// Source quantities and their in-stock total.
    public var summary: InventorySummary
    /// Units reserved by open orders (shipped or cancelled units are no longer reserved).
    public var reserved: Int64
    /// Open reservations by order, newest first (at most 100).
    public var openReservations: [(orderNumber: String, quantity: Int64)]

    /// Units that may still be sold: in-stock source total minus reservations, never below zero.
    public var salable: Int64 { max(0, summary.totalQuantity - reserved) }

    /// Inventory with reservations.
    public init(summary: InventorySummary, reserved: Int64, openReservations: [(orderNumber: String, quantity: Int64)]) {
        self.summary = summary
        self.reserved = reserved
        self.openReservations = openReservations
    }

    /// Equal when summary, reserved and open reservations are.
    public static func == (a: SalableInventory, b: SalableInventory) -> Bool {
        a.summary == b.summary && a.reserved == b.reserved
            && a.openReservations.map(\.orderNumber) == b.openReservations.map(\.orderNumber)
            && a.openReservations.map(\.quantity) == b.openReservations.map(\.quantity)
    }

    /// Hashes the summary and reserved units.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(summary)
        hasher.combine(reserved)
    }
}

extension Rules {
    /// Order numbers, channels and other keys that appear in URLs: 1 to 64 of [A-Za-z0-9._-].
    static func orderKey(_ value: String, field: String) throws(FieldError) {
        let ok = !value.isEmpty && value.utf8.count <= 64
            && value.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-" }
        if !ok {
            throw FieldError(field: field, reason: "\(field) must be 1 to 64 of A-Z, a-z, 0-9, '.', '_', '-', not '\(Rules.printable(value))'")
        }
    }
}

/// Where a B2B quote is: the buyer asked, the seller answered (perhaps several times), then it is accepted,
/// declined, expired, or turned into an order.
public enum QuoteStatus: String, Sendable, CaseIterable, Hashable {
    /// The buyer asked for prices.
    case requested
    /// The seller offered prices (and usually an expiry).
    case negotiated
    /// The buyer accepted the offer; it can become an order.
    case accepted
    /// Either side declined.
    case declined
    /// The offer ran out before it was accepted.
    case expired
    /// It became an order.
    case ordered

    /// Whether a PATCH may move a quote from this status to `next`.
    public func canMove(to next: QuoteStatus) -> Bool {
        switch (self, next) {
        case (.requested, .negotiated), (.requested, .declined), (.negotiated, .negotiated), (.negotiated, .accepted),
            (.negotiated, .declined):
            return true
        default:
            return false
        }
    }
}

/// One line of a quote: what the buyer asks for and what the seller offers.
public struct QuoteLine: Sendable, Hashable, Codable {
    /// The SKU.
    public var sku: String
    /// Units.
    public var quantity: Int64
    /// The unit price the buyer asked for, in minor units (optional).
    public var requestedUnitPrice: Int64?
    /// The unit price the seller offers, in minor units (set when negotiated).
    public var quotedUnitPrice: Int64?

    /// A line.
    public init(sku: String, quantity: Int64, requestedUnitPrice: Int64? = nil, quotedUnitPrice: Int64? = nil) {
        self.sku = sku
        self.quantity = quantity
        self.requestedUnitPrice = requestedUnitPrice
        self.quotedUnitPrice = quotedUnitPrice
    }
}

/// A B2B quote: a company user asks for prices on lines; once the offer is accepted it converts to an order at the
/// quoted prices.
public struct Quote: Sendable, Hashable {
    /// Wharf's id ("Q000000001").
    public var id: String
    /// The company (issue 7's companies; no foreign key).
    public var companyID: String
    /// The company user who asked.
    public var companyUserID: String
    /// The sales channel.
    public var channel: String
    /// The currency of every price.
    public var currency: Currency
    /// The lines.
    public var lines: [QuoteLine]
    /// The status (already `expired` when the offer ran out, even before it is written).
    public var status: QuoteStatus
    /// When the offer runs out.
    public var expiresAt: Timestamp?
    /// The last note of either side.
    public var note: String?
    /// The order it became.
    public var orderNumber: String?
    /// When it was asked for.
    public var createdAt: Timestamp
    /// When it last changed.
    public var updatedAt: Timestamp

    /// A quote.
    public init(
        id: String, companyID: String, companyUserID: String, channel: String, currency: Currency, lines: [QuoteLine],
        status: QuoteStatus, expiresAt: Timestamp?, note: String?, orderNumber: String?, createdAt: Timestamp, updatedAt: Timestamp
    ) {
        self.id = id
        self.companyID = companyID
        self.companyUserID = companyUserID
        self.channel = channel
        self.currency = currency
        self.lines = lines
        self.status = status
        self.expiresAt = expiresAt
        self.note = note
        self.orderNumber = orderNumber
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The status as of `now`: an open offer past its expiry is expired.
    public func status(at now: Timestamp) -> QuoteStatus {
        if let expiresAt, expiresAt < now, status == .requested || status == .negotiated { return .expired }
        return status
    }
}

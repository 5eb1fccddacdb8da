/// Where an outbox message is: waiting to be sent (or to be retried), acknowledged by the receiver, or parked after
/// too many failures.
public enum OutboxState: String, Sendable, CaseIterable, Hashable {
    /// Not yet acknowledged; sent when `nextAttemptAt` has come.
    case pending
    /// The receiver acknowledged it.
    case acknowledged
    /// Failed as often as the manifest allows; waits for `POST /v1/outbox/{id}/retry`.
    case dead
}

/// A message for an external system, written in the same transaction as the change it announces, so an accepted
/// order is never lost between Wharf and the OMS.
public struct OutboxMessage: Sendable, Hashable {
    /// The message's id (increasing).
    public var id: Int64
    /// What it announces: "order" (a new order), "cancel" (an order cancelled in Wharf).
    public var kind: String
    /// The order.
    public var orderNumber: String
    /// The stable id the receiver de-duplicates by: the order's id for "order", "<order id>:cancel" for "cancel".
    public var messageID: String
    /// The message body (JSON), as it is sent every time.
    public var payload: String
    /// Where it is.
    public var state: OutboxState
    /// Sends that failed so far.
    public var attempts: Int
    /// When it may be sent next.
    public var nextAttemptAt: Timestamp
    /// The last failure, for the operator.
    public var lastError: String?
    /// When it was written.
    public var createdAt: Timestamp
    /// When the receiver acknowledged it.
    public var acknowledgedAt: Timestamp?

    /// A message (the store makes these).
    public init(
        id: Int64, kind: String, orderNumber: String, messageID: String, payload: String, state: OutboxState, attempts: Int,
        nextAttemptAt: Timestamp, lastError: String?, createdAt: Timestamp, acknowledgedAt: Timestamp?
    ) {
        self.id = id
        self.kind = kind
        self.orderNumber = orderNumber
        self.messageID = messageID
        self.payload = payload
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.createdAt = createdAt
        self.acknowledgedAt = acknowledgedAt
    }
}

/// Units of one SKU in a shipment or a return.
public struct FulfilmentLine: Sendable, Hashable {
    /// The SKU.
    public var sku: String
    /// Units, 1 or more.
    public var quantity: Int64
    /// For returns: why the customer sent it back.
    public var reason: String?
    /// For returns: whether the units go back into stock (the ERP books that; Wharf exports it).
    public var restock: Bool

    /// A line.
    public init(sku: String, quantity: Int64, reason: String? = nil, restock: Bool = false) {
        self.sku = sku
        self.quantity = quantity
        self.reason = reason
        self.restock = restock
    }
}

/// Units of an order that left the warehouse, as the OMS/WMS reports them.
public struct Shipment: Sendable, Hashable {
    /// The OMS's shipment id (a resend of the same id changes nothing).
    public var id: String
    /// The order.
    public var orderNumber: String
    /// The carrier ("DHL").
    public var carrier: String?
    /// Tracking numbers.
    public var trackingNumbers: [String]
    /// What shipped.
    public var lines: [FulfilmentLine]
    /// When it shipped.
    public var shippedAt: Timestamp

    /// A shipment.
    public init(id: String, orderNumber: String, carrier: String?, trackingNumbers: [String], lines: [FulfilmentLine], shippedAt: Timestamp) {
        self.id = id
        self.orderNumber = orderNumber
        self.carrier = carrier
        self.trackingNumbers = trackingNumbers
        self.lines = lines
        self.shippedAt = shippedAt
    }
}

/// Units of an order a customer sent back, as the OMS reports them. An exchange is a return whose `exchangeFor`
/// names the order that replaces the goods.
public struct OrderReturn: Sendable, Hashable {
    /// The OMS's return id (a resend of the same id changes nothing).
    public var id: String
    /// The order.
    public var orderNumber: String
    /// What came back, with reason and restock flag per line.
    public var lines: [FulfilmentLine]
    /// For exchanges: the replacement order's number.
    public var exchangeFor: String?
    /// When it was received.
    public var receivedAt: Timestamp

    /// A return.
    public init(id: String, orderNumber: String, lines: [FulfilmentLine], exchangeFor: String? = nil, receivedAt: Timestamp) {
        self.id = id
        self.orderNumber = orderNumber
        self.lines = lines
        self.exchangeFor = exchangeFor
        self.receivedAt = receivedAt
    }
}

/// An order status change reported by the OMS.
public struct OrderStatusUpdate: Sendable, Hashable {
    /// The order.
    public var orderNumber: String
    /// The new status.
    public var status: OrderStatus
    /// When it changed in the OMS.
    public var at: Timestamp
    /// The OMS's reason, if any.
    public var note: String?

    /// An update.
    public init(orderNumber: String, status: OrderStatus, at: Timestamp, note: String? = nil) {
        self.orderNumber = orderNumber
        self.status = status
        self.at = at
        self.note = note
    }
}

import Foundation
import WharfManifest
import WharfModel
import WharfStore

/// Wakes the order dispatcher when outbox messages were committed, so an order goes out without waiting for a poll.
/// Shared by the order routes (which notify) and the dispatcher (which waits).
public final class OutboxSignal: @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var written: UInt64 = 0
    private var stopped = false

    /// A signal.
    public init() {}

    /// Says `count` messages were committed.
    public func notify(_ count: Int = 1) {
        condition.lock()
        written &+= UInt64(count)
        condition.broadcast()
        condition.unlock()
    }

    /// Messages notified since the signal was made (a counter the dispatcher compares).
    var count: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return written
    }

    /// Waits until `until`, or until the count reaches `target`, or until stopped. Returns false once stopped.
    func wait(until: Date, countReaches target: UInt64) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !stopped && written < target && Date() < until {
            _ = condition.wait(until: until)
        }
        return !stopped
    }

    /// Ends every wait, now and later.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }
}

/// How the dispatcher hands orders to the OMS connector, from the connector's `config.orders` in the manifest:
///
/// ```json5
/// { name: "oms", plugin: "oms", config: { baseURL: "https://oms.example.com/api",
///   orders: { windowMs: 200, maxBatch: 100, maxAttempts: 10, backoffMs: 1000, maxBackoffMs: 300000, deadlineSeconds: 10 } } }
/// ```
///
/// The OMS plugin checks the same keys when the manifest is checked (`wharf manifest check`), so a mistake is
/// reported with its path there; the host only reads the values (defaults for what is absent).
public struct OrderDispatchSettings: Sendable, Hashable {
    /// The connector orders go to.
    public var connector: String
    /// How long the first waiting order waits for others to join its call.
    public var window: Duration = .milliseconds(200)
    /// Orders per call at most.
    public var maxBatch: Int = 100
    /// Failed sends after which an order is parked as dead.
    public var maxAttempts: Int = 10
    /// The wait after the first failure; it doubles with each failure, with jitter.
    public var backoff: Duration = .seconds(1)
    /// The longest wait between attempts.
    public var maxBackoff: Duration = .seconds(300)
    /// How long one call may take (worker start included).
    public var deadline: Duration = .seconds(10)
    /// The plugin operation that takes a batch.
    public static let operation = "send_orders"

    /// Settings for `connector` with the defaults.
    public init(connector: String) { self.connector = connector }

    /// The settings of the first enabled connector whose config has an `orders` object, or nil when there is none.
    public static func find(in manifest: Manifest) -> OrderDispatchSettings? {
        for connector in manifest.connectors where connector.enabled {
            guard case .object(let object)? = connector.config.value(atPath: "orders") else { continue }
            var settings = OrderDispatchSettings(connector: connector.name)
            func number(_ key: String) -> Int64? {
                if case .int(let value)? = object[key] { return value }
                return nil
            }
            if let v = number("windowMs"), (0...10_000).contains(v) { settings.window = .milliseconds(v) }
            if let v = number("maxBatch"), (1...1000).contains(v) { settings.maxBatch = Int(v) }
            if let v = number("maxAttempts"), (1...1000).contains(v) { settings.maxAttempts = Int(v) }
            if let v = number("backoffMs"), (1...3_600_000).contains(v) { settings.backoff = .milliseconds(v) }
            if let v = number("maxBackoffMs"), (1...86_400_000).contains(v) { settings.maxBackoff = .milliseconds(v) }
            if let v = number("deadlineSeconds"), (1...600).contains(v) { settings.deadline = .seconds(v) }
            return settings
        }
        return nil
    }
}

/// What one send of a batch came to.
public struct OutboxSendResult: Sendable {
    /// Per message id: nil when the receiver acknowledged it, else the error.
    public var results: [Int64: String?]
    /// The receiver's Retry-After in seconds, when it asked to wait (429/503): no retry comes sooner.
    public var retryAfter: Double?

    /// A result.
    public init(results: [Int64: String?], retryAfter: Double? = nil) {
        self.results = results
        self.retryAfter = retryAfter
    }
}

/// How a batch of outbox messages reaches the external system.
public protocol OutboxTransport: Sendable {
    /// Sends `messages` in one call.
    func send(_ messages: [OutboxMessage]) -> OutboxSendResult
}

/// Sends batches through the OMS connector's plugin: the ABI's `call` operation `send_orders`, on a warm worker
/// from the `CallPool`, with a deadline.
///
/// Why `call` and not `export_data`: export runs are scheduled, heavyweight (a run record, a fresh worker) and read
/// what they export themselves; a dispatch is a small request/response that must go now, on a warm process, and
/// must return per-order acknowledgements to the host, which is exactly `call`.
///
/// Request: `{"messages": [{"id": "<stable id>", "kind": "order"|"cancel", "order": {…}}, …]}`.
/// Response: `{"results": [{"id": "<stable id>", "ok": true} | {"id": …, "ok": false, "error": "…"}],
/// "retryAfterSeconds": n?}`; an id without a result counts as failed.
public struct PluginOutboxTransport: OutboxTransport {
    /// The call pool.
    public let calls: CallPool
    /// Connector and deadline.
    public let settings: OrderDispatchSettings

    /// A transport through `calls`.
    public init(calls: CallPool, settings: OrderDispatchSettings) {
        self.calls = calls
        self.settings = settings
    }

    /// Sends one batch.
    public func send(_ messages: [OutboxMessage]) -> OutboxSendResult {
        var writer = JSONWriter(capacity: 1024 * messages.count)
        writer.beginObject()
        writer.key("messages")
        writer.beginArray()
        for message in messages {
            writer.beginObject()
            writer.field("id", message.messageID)
            writer.field("kind", message.kind)
            writer.field("orderNumber", message.orderNumber)
            writer.key("order")
            writer.rawValue(message.payload)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        let response: [UInt8]
        do {
            response = try calls.call(
                connector: settings.connector, operation: OrderDispatchSettings.operation, request: writer.bytes,
                deadline: settings.deadline)
        } catch {
            return OutboxSendResult(results: Dictionary(uniqueKeysWithValues: messages.map { ($0.id, Optional(error.message)) }))
        }
        var byStableID: [String: String?] = [:]
        let object = try? JSONSerialization.jsonObject(with: Data(response)) as? [String: Any]
        if let results = object?["results"] as? [[String: Any]] {
            for result in results {
                guard let id = result["id"] as? String else { continue }
                byStableID[id] = (result["ok"] as? Bool) == true ? .some(nil) : .some((result["error"] as? String) ?? "the OMS refused it")
            }
        }
        var outcome: [Int64: String?] = [:]
        for message in messages {
            if let result = byStableID[message.messageID] {
                outcome[message.id] = result
            } else {
                outcome[message.id] = .some("the connector's answer has no result for \(message.messageID)")
            }
        }
        return OutboxSendResult(results: outcome, retryAfter: (object?["retryAfterSeconds"] as? NSNumber)?.doubleValue)
    }
}

/// Hands committed outbox messages to the OMS as soon as possible, few at a time: a message waits at most the
/// window (default 200 ms) for others to join its call, a call carries at most `maxBatch`; failures retry with
/// exponential backoff and jitter, and after `maxAttempts` a message is parked as dead with its last error.
///
/// A message is marked acknowledged only after the receiver answered; a crash between the send and that mark leaves
/// it pending, so it is sent again after a restart (the receiver de-duplicates by the stable id). One dispatcher
/// thread per server: calls never overlap, so a message is never in two calls at once.
public final class OrderDispatcher: @unchecked Sendable {
    /// The settings.
    public let settings: OrderDispatchSettings
    private let store: Store
    private let transport: any OutboxTransport
    private let signal: OutboxSignal
    private let logger: Logger
    private let onSent: (@Sendable (Int, Int) -> Void)?
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    /// How often the outbox is looked at without a signal (retries falling due, messages from another process).
    let pollInterval: TimeInterval

    /// A dispatcher that sends `store`'s outbox through `transport`; `onSent(acknowledged, failed)` is called
    /// after each call (metrics, tests).
    public init(
        store: Store, settings: OrderDispatchSettings, transport: any OutboxTransport, signal: OutboxSignal, logger: Logger,
        pollInterval: TimeInterval = 1, onSent: (@Sendable (Int, Int) -> Void)? = nil
    ) {
        self.store = store
        self.settings = settings
        self.transport = transport
        self.signal = signal
        self.logger = logger
        self.pollInterval = pollInterval
        self.onSent = onSent
    }

    /// Starts the dispatch thread; pending messages left by an earlier process go out at once.
    public func start() {
        let thread = Thread { [self] in
            loop()
            finished.signal()
        }
        thread.name = "wharf-order-dispatcher"
        self.thread = thread
        thread.start()
    }

    /// Stops after the call in progress (if any) has been answered and recorded.
    public func stop() {
        signal.stop()
        if thread != nil {
            finished.wait()
            thread = nil
        }
    }

    // MARK: Not public

    private func loop() {
        let window = seconds(settings.window)
        while !signal.isStopped {
            let seen = signal.count
            var due: [OutboxMessage]
            do {
                due = try store.dueOutboxMessages(limit: settings.maxBatch)
            } catch {
                logger.log(.error, "cannot read the outbox", fields: [("error", error.message)])
                _ = signal.wait(until: Date().addingTimeInterval(pollInterval), countReaches: .max)
                continue
            }
            if due.isEmpty {
                let next = (try? store.nextOutboxAttempt())?.map(\.date) ?? .distantFuture
                _ = signal.wait(until: min(next, Date().addingTimeInterval(pollInterval)), countReaches: seen + 1)
                continue
            }
            if due.count < settings.maxBatch {
                // Coalesce: the oldest waiting message waits out its window unless the batch fills up first.
                let sendAt = due.map(\.createdAt.date).min()!.addingTimeInterval(window)
                if sendAt > Date() {
                    guard signal.wait(until: sendAt, countReaches: seen + UInt64(settings.maxBatch - due.count)) else { return }
                    do { due = try store.dueOutboxMessages(limit: settings.maxBatch) } catch { continue }
                    if due.isEmpty { continue }
                }
            }
            dispatch(due)
        }
    }

    private func dispatch(_ messages: [OutboxMessage]) {
        let sent = transport.send(messages)
        let results = sent.results
        let now = Timestamp.now()
        var acknowledged: [Int64] = []
        var failures: [(id: Int64, error: String, retryAt: Timestamp?)] = []
        for message in messages {
            switch results[message.id] {
            case .some(.none): acknowledged.append(message.id)
            case .some(.some(let error)):
                failures.append((message.id, error, retryTime(afterFailure: message.attempts + 1, now: now, notBefore: sent.retryAfter)))
            case .none: failures.append((message.id, "no result from the transport", retryTime(afterFailure: message.attempts + 1, now: now)))
            }
        }
        do {
            try store.acknowledgeOutboxMessages(ids: acknowledged, at: now)
            try store.recordOutboxFailures(failures)
        } catch {
            logger.log(.error, "cannot record outbox results", fields: [("error", error.message)])
        }
        for failure in failures {
            let message = messages.first { $0.id == failure.id }!
            logger.log(failure.retryAt == nil ? .error : .warning, failure.retryAt == nil ? "order message parked as dead" : "order message send failed; will retry", fields: [
                ("order", message.orderNumber), ("kind", message.kind), ("attempt", String(message.attempts + 1)), ("error", failure.error),
            ])
        }
        onSent?(acknowledged.count, failures.count)
    }

    /// When to try again after failure number `failures`, or nil when that was the last attempt allowed:
    /// backoff × 2^(failures−1), capped, then a random 50–100 % of it ("equal jitter") so senders do not retry in step;
    /// never sooner than the receiver's Retry-After (`notBefore` seconds, itself capped at the longest backoff).
    func retryTime(afterFailure failures: Int, now: Timestamp, notBefore: Double? = nil) -> Timestamp? {
        guard failures < settings.maxAttempts else { return nil }
        let base = min(seconds(settings.maxBackoff), seconds(settings.backoff) * pow(2, Double(min(failures - 1, 40))))
        let wait = max(base * Double.random(in: 0.5...1.0), min(notBefore ?? 0, seconds(settings.maxBackoff)))
        return Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch + Int64(wait * 1000))
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

extension Metrics {
    /// The outbox depth gauge: messages waiting for the OMS and messages parked as dead.
    static func renderOutbox(_ depth: (pending: Int64, dead: Int64)) -> String {
        """
        # HELP wharf_outbox_messages Outbox messages to the OMS by state: pending (not yet acknowledged) and dead (gave up; see GET /v1/outbox?state=dead).
        # TYPE wharf_outbox_messages gauge
        wharf_outbox_messages{state="pending"} \(depth.pending)
        wharf_outbox_messages{state="dead"} \(depth.dead)

        """
    }
}

import CSQLite
import WharfModel

extension Store {
    /// Pending messages whose time has come (`next_attempt_at` ≤ `now`), oldest first, at most `limit`. A message
    /// waits while an earlier message of the same order is not yet acknowledged (pending or dead), so the receiver
    /// sees an order's messages in order: never a cancellation before the order itself.
    public func dueOutboxMessages(now: Timestamp = .now(), limit: Int) throws(StoreError) -> [OutboxMessage] {
        try read("read due outbox messages") { db in
            let st = try db.statement(
                """
                SELECT \(Store.outboxColumns) FROM outbox
                WHERE state = 'pending' AND next_attempt_at <= ?1
                  AND NOT EXISTS (SELECT 1 FROM outbox earlier WHERE earlier.order_number = outbox.order_number
                                  AND earlier.id < outbox.id AND earlier.state <> 'acknowledged')
                ORDER BY next_attempt_at, id LIMIT ?2
                """)
            defer { st.reset() }
            st.bind(1, now.millisecondsSinceEpoch)
            st.bind(2, Int64(limit))
            var messages: [OutboxMessage] = []
            while try st.step() { messages.append(Store.outboxMessage(from: st)) }
            return messages
        }
    }

    /// When the earliest pending message that is not waiting behind an earlier message of its order becomes due
    /// (the same rule as `dueOutboxMessages`), or nil when there is none.
    public func nextOutboxAttempt() throws(StoreError) -> Timestamp? {
        try read("read the next outbox attempt") { db in
            let st = try db.statement(
                """
                SELECT min(next_attempt_at) FROM outbox
                WHERE state = 'pending'
                  AND NOT EXISTS (SELECT 1 FROM outbox earlier WHERE earlier.order_number = outbox.order_number
                                  AND earlier.id < outbox.id AND earlier.state <> 'acknowledged')
                """)
            defer { st.reset() }
            return try st.step() ? st.optionalInt64(0).map { Timestamp(millisecondsSinceEpoch: $0) } : nil
        }
    }

    /// Marks messages acknowledged by their receiver, in one transaction. Ids that are not pending are skipped (a
    /// message an operator parked meanwhile, or acknowledged twice).
    public func acknowledgeOutboxMessages(ids: [Int64], at now: Timestamp = .now()) throws(StoreError) {
        guard !ids.isEmpty else { return }
        try write("acknowledge \(ids.count) outbox messages") { db in
            try db.transaction {
                let st = try db.statement(
                    "UPDATE outbox SET state = 'acknowledged', acknowledged_at = ?2, last_error = NULL WHERE id = ?1 AND state = 'pending'")
                for id in ids {
                    st.bind(1, id)
                    st.bind(2, now.millisecondsSinceEpoch)
                    try st.run()
                }
            }
        }
    }

    /// Records failed sends in one transaction: each message's attempts grow by one and it keeps `error`; it is
    /// tried again at `retryAt`, or parked as dead when `retryAt` is nil.
    public func recordOutboxFailures(_ failures: [(id: Int64, error: String, retryAt: Timestamp?)]) throws(StoreError) {
        guard !failures.isEmpty else { return }
        try write("record \(failures.count) failed outbox sends") { db in
            try db.transaction {
                let st = try db.statement(
                    """
                    UPDATE outbox SET attempts = attempts + 1, last_error = ?2,
                        state = CASE WHEN ?3 IS NULL THEN 'dead' ELSE 'pending' END, next_attempt_at = coalesce(?3, next_attempt_at)
                    WHERE id = ?1 AND state = 'pending'
                    """)
                for failure in failures {
                    st.bind(1, failure.id)
                    st.bind(2, String(failure.error.prefix(2000)))
                    st.bind(3, failure.retryAt?.millisecondsSinceEpoch)
                    try st.run()
                }
            }
        }
    }

    /// Messages in `state` (any when nil), oldest first, after id `afterID`.
    public func outboxMessages(state: OutboxState?, limit: Int, afterID: Int64?) throws(StoreError) -> [OutboxMessage] {
        try read("list outbox messages") { db in
            let st = try db.statement(
                "SELECT \(Store.outboxColumns) FROM outbox WHERE id > ?1 AND (?2 IS NULL OR state = ?2) ORDER BY id LIMIT ?3")
            defer { st.reset() }
            st.bind(1, afterID ?? 0)
            st.bind(2, state?.rawValue)
            st.bind(3, Int64(limit))
            var messages: [OutboxMessage] = []
            while try st.step() { messages.append(Store.outboxMessage(from: st)) }
            return messages
        }
    }

    /// The message with `id`, or nil.
    public func outboxMessage(id: Int64) throws(StoreError) -> OutboxMessage? {
        try read("read outbox message \(id)") { db in try Store.outboxMessage(db, id: id) }
    }

    /// Puts a dead (or pending) message back in line to be sent now with a fresh count of attempts; its last error
    /// stays until a send succeeds. Returns nil when there is no such message; an acknowledged message is returned
    /// unchanged (it is never sent twice on purpose).
    public func retryOutboxMessage(id: Int64, now: Timestamp = .now()) throws(StoreError) -> OutboxMessage? {
        try write("retry outbox message \(id)") { db in
            try db.transaction { () throws -> OutboxMessage? in
                let st = try db.statement(
                    "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?2 WHERE id = ?1 AND state <> 'acknowledged'")
                st.bind(1, id)
                st.bind(2, now.millisecondsSinceEpoch)
                try st.run()
                return try Store.outboxMessage(db, id: id)
            }
        }
    }

    /// Messages waiting (pending) and parked (dead): the outbox depth the metrics show.
    public func outboxDepth() throws(StoreError) -> (pending: Int64, dead: Int64) {
        try read("count outbox messages") { db in
            let st = try db.statement("SELECT state, count(*) FROM outbox WHERE state IN ('pending', 'dead') GROUP BY state")
            defer { st.reset() }
            var pending: Int64 = 0
            var dead: Int64 = 0
            while try st.step() {
                if st.text(0) == "pending" { pending = st.int64(1) } else { dead = st.int64(1) }
            }
            return (pending, dead)
        }
    }

    // MARK: Not public

    static let outboxColumns =
        "id, kind, order_number, message_id, payload, state, attempts, next_attempt_at, last_error, created_at, acknowledged_at"

    static func outboxMessage(from st: Statement) -> OutboxMessage {
        OutboxMessage(
            id: st.int64(0), kind: st.text(1), orderNumber: st.text(2), messageID: st.text(3), payload: st.text(4),
            state: OutboxState(rawValue: st.text(5)) ?? .pending, attempts: Int(st.int64(6)),
            nextAttemptAt: Timestamp(millisecondsSinceEpoch: st.int64(7)), lastError: st.optionalText(8),
            createdAt: Timestamp(millisecondsSinceEpoch: st.int64(9)),
            acknowledgedAt: st.optionalInt64(10).map { Timestamp(millisecondsSinceEpoch: $0) })
    }

    /// The message with `id`, or nil.
    static func outboxMessage(_ db: Connection, id: Int64) throws(SQLiteError) -> OutboxMessage? {
        let st = try db.statement("SELECT \(outboxColumns) FROM outbox WHERE id = ?1")
        defer { st.reset() }
        st.bind(1, id)
        return try st.step() ? outboxMessage(from: st) : nil
    }

    /// Writes a pending message, due now, inside the caller's transaction.
    static func enqueue(_ db: Connection, kind: String, orderNumber: String, messageID: String, payload: String, now: Timestamp) throws(SQLiteError) {
        let st = try db.statement(
            """
            INSERT INTO outbox (kind, order_number, message_id, payload, state, next_attempt_at, created_at)
            VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)
            """)
        st.bind(1, kind)
        st.bind(2, orderNumber)
        st.bind(3, messageID)
        st.bind(4, payload)
        st.bind(5, now.millisecondsSinceEpoch)
        try st.run()
    }
}

import Foundation

/// A local OMS on loopback for order tests: accepts order batches at `POST /orders/batch` (`{"orders": [{…,
/// "messageId": …}]}`), de-duplicates by messageId the way a real OMS must, and can fail, answer slowly or hold a
/// batch without answering (to kill Wharf between "sent" and "acknowledged").
///
/// ```swift
/// let oms = try OMSTestServer()
/// oms.mode = .fail(status: 503)
/// // … place orders against a Wharf whose oms connector points at oms.baseURL …
/// XCTAssertTrue(oms.waitForMessages(5, timeout: 10))
/// ```
public final class OMSTestServer: @unchecked Sendable {
    /// How the next batches are answered.
    public enum Mode: Sendable {
        /// 200 with a result per order ("accepted", or "duplicate" for a messageId seen before).
        case accept
        /// This HTTP status, no results.
        case fail(status: Int)
        /// Accept after waiting this many seconds.
        case slow(seconds: Double)
        /// Record the batch, then never answer until `release()` (or 60 s pass).
        case hold
        /// 200 with every order of the batch "rejected" for this reason.
        case reject(reason: String)
    }

    /// The HTTP server underneath.
    public let http: StubHTTPServer
    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { http.baseURL }

    private let condition = NSCondition()
    private var currentMode: Mode = .accept
    private var batches: [[String]] = []
    private var firstSeen: [String: Date] = [:]
    private var released = false

    /// Starts the server in `.accept` mode.
    public init() throws {
        http = try StubHTTPServer()
        http.handle("POST", "/orders/batch") { [weak self] request in
            self?.batch(request) ?? StubResponse(status: 503)
        }
    }

    /// How batches are answered from now on.
    public var mode: Mode {
        get { condition.withLock { currentMode } }
        set { condition.withLock { currentMode = newValue } }
    }

    /// Answers the held batches (`.hold`) and every later one as accepted.
    public func release() {
        condition.withLock {
            released = true
            currentMode = .accept
            condition.broadcast()
        }
    }

    /// The messageIds of each batch received (answered or not), in arrival order.
    public var receivedBatches: [[String]] { condition.withLock { batches } }

    /// When each messageId first arrived.
    public var firstArrivals: [String: Date] { condition.withLock { firstSeen } }

    /// Distinct messageIds received.
    public var distinctMessages: Int { condition.withLock { firstSeen.count } }

    /// Waits until `count` distinct messages arrived; false after `timeout` seconds.
    public func waitForMessages(_ count: Int, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        return condition.withLock {
            while firstSeen.count < count {
                if !condition.wait(until: deadline) { return firstSeen.count >= count }
            }
            return true
        }
    }

    /// Waits until `count` batches arrived; false after `timeout` seconds.
    public func waitForBatches(_ count: Int, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        return condition.withLock {
            while batches.count < count {
                if !condition.wait(until: deadline) { return batches.count >= count }
            }
            return true
        }
    }

    /// Serves `items` at `GET path` the way the `oms` plugin reads updates: `{"items": [...], "next_cursor": …}`,
    /// `pageSize` items per page, only items whose `timeField` is later than `updated_since` when it is given.
    public func serveUpdates(_ path: String, timeField: String, items: [[String: Any]], pageSize: Int = 2) {
        let text = String(decoding: (try? JSONSerialization.data(withJSONObject: items)) ?? Data("[]".utf8), as: UTF8.self)
        http.handle("GET", path) { request in
            let all = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? []
            let since = request.queryValue("updated_since") ?? ""
            let fresh = all.filter { ($0[timeField] as? String ?? "") > since }
            let start = Int(request.queryValue("cursor") ?? "0") ?? 0
            let page = Array(fresh.dropFirst(start).prefix(pageSize))
            let next: Any = start + pageSize < fresh.count ? String(start + pageSize) : NSNull()
            return .json(object: ["items": page, "next_cursor": next])
        }
    }

    /// Stops the server.
    public func stop() { http.stop() }

    // MARK: Not public

    private func batch(_ request: StubRequest) -> StubResponse {
        let now = Date()
        let orders = ((try? request.json()) as? [String: Any])?["orders"] as? [[String: Any]] ?? []
        let ids = orders.compactMap { $0["messageId"] as? String }
        let (mode, duplicates) = condition.withLock { () -> (Mode, Set<String>) in
            let duplicates = Set(ids.filter { firstSeen[$0] != nil })
            for id in ids where firstSeen[id] == nil { firstSeen[id] = now }
            batches.append(ids)
            condition.broadcast()
            return (currentMode, duplicates)
        }
        switch mode {
        case .fail(let status): return StubResponse(status: status, body: Array(#"{"error":"OMS unavailable"}"#.utf8))
        case .slow(let seconds): Thread.sleep(forTimeInterval: seconds)
        case .hold:
            let deadline = Date().addingTimeInterval(60)
            condition.withLock { while !released && condition.wait(until: deadline) {} }
        case .accept: break
        case .reject(let reason):
            return .json(object: ["results": ids.map { ["messageId": $0, "status": "rejected", "error": reason] }])
        }
        let results = ids.map { ["messageId": $0, "status": duplicates.contains($0) ? "duplicate" : "accepted"] }
        return .json(object: ["results": results])
    }
}

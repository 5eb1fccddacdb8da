import Foundation
import WharfABI
import WharfPluginKit

/// The plugin's one exported symbol: hands the host the descriptor WharfPluginKit builds for ``OMSPlugin``.
@_cdecl("wharf_plugin_entry")
public func wharfPluginEntry(
    _ hostMajor: UInt32, _ hostMinor: UInt32, _ host: UnsafePointer<wharf_host_api>?
) -> UnsafePointer<wharf_plugin_descriptor>? {
    PluginExport.descriptor(for: OMSPlugin.self, hostMajor: hostMajor, hostMinor: hostMinor, host: host)
}

/// An order management system over HTTP JSON: takes batches of orders from Wharf's outbox (the `send_orders`
/// call) and, on a schedule, pulls order status changes, shipments and returns back (`ingest`, see
/// ``OMSUpdates``).
///
/// Config:
/// ```json5
/// { baseURL: "https://oms.example.com/api", auth: { secret: "env:OMS_TOKEN" }, timeoutSeconds: 10,
///   ordersPath: "/orders/batch",
///   orders: { windowMs: 200, maxBatch: 100, maxAttempts: 10, backoffMs: 1000, maxBackoffMs: 300000, deadlineSeconds: 10 },
///   updates: { statusPath: "/order-status", shipmentsPath: "/shipments", returnsPath: "/returns" } }
/// ```
/// `orders` is read by the host's order dispatcher; it is checked here so `wharf manifest check` names a wrong key.
///
/// The batch request is `POST ordersPath` with `{"orders": [{…order, "messageId": "<stable id>", "kind": "order" |
/// "cancel"}]}`; the OMS de-duplicates a resend by `messageId`. It answers 2xx, with
/// optional per-order results `{"results": [{"messageId": …, "status": "accepted" | "duplicate" | "rejected",
/// "error": …}]}`; without results every order in a 2xx answer counts as accepted. Any other answer fails the
/// whole batch, which the host retries with backoff.
public struct OMSPlugin: WharfPlugin {
    /// `oms`.
    public static let id = "oms"
    /// An OMS.
    public static let systemKind = "oms"
    /// The plugin's version.
    public static let version = "1.0.0"
    /// One line for people.
    public static let description: String? = "Orders out to an HTTP JSON OMS in batches; status, shipments and returns back"
    /// Calls (order batches) and ingest (updates back from the OMS).
    public static let capabilities: PluginCapabilities = [.call, .ingest]

    let client: HTTPJSONClient
    let ordersPath: String
    let updates: OMSUpdates

    /// Reads and checks the config; a wrong key is refused naming it (`config.orders.windowMs: …`).
    public init(context: PluginContext) throws {
        let config = try context.config()
        guard case .object(let object) = config else { throw PluginError.invalid("config must be an object with baseURL") }
        let known = ["baseURL", "auth", "timeoutSeconds", "ordersPath", "orders", "updates"]
        for key in object.keys where !known.contains(key) {
            throw PluginError.invalid("config.\(key): not a key of the oms plugin; known: \(known.joined(separator: ", "))")
        }
        guard let baseURL = config["baseURL"]?.stringValue, !baseURL.isEmpty else {
            throw PluginError.invalid("config.baseURL: required, the OMS API's base URL such as \"https://oms.example.com/api\"")
        }
        var timeout = 10.0
        if let value = config["timeoutSeconds"] {
            guard let seconds = value.intValue, (1...600).contains(seconds) else {
                throw PluginError.invalid("config.timeoutSeconds: must be a whole number of seconds from 1 to 600")
            }
            timeout = Double(seconds)
        }
        let auth = try config["auth"].map { try HTTPAuth.parse($0, path: "config.auth", context: context) }
        ordersPath = config["ordersPath"]?.stringValue ?? "/orders/batch"
        if let orders = config["orders"] { try OMSPlugin.checkDispatch(orders) }
        do {
            // One quick retry for a blip; the host's outbox owns real retries (backoff, dead letters).
            client = try HTTPJSONClient(
                baseURL: baseURL, auth: auth, timeout: timeout,
                retry: HTTPRetryPolicy(maxAttempts: 2, initialDelay: 0.1, maxDelay: 1, maxRetryAfter: 2),
                log: { level, message in context.log(level, message) })
        } catch {
            throw PluginError.invalid("config.baseURL: \(error.message)")
        }
        updates = try OMSUpdates(config["updates"], client: client)
    }

    /// `send_orders`: one POST with every order of the batch; per-order results back to the host.
    public func call(_ operation: String, request: [UInt8], context: CallContext) throws -> [UInt8] {
        guard operation == "send_orders" else {
            throw PluginError.unsupported("the oms plugin answers send_orders, not \(operation)")
        }
        let parsed = try request.withUnsafeBufferPointer { buffer throws(JSONError) in try JSON.parse(buffer) }
        guard let messages = parsed["messages"]?.arrayValue else {
            throw PluginError.invalid("send_orders expects {\"messages\": [...]}")
        }
        var ids: [String] = []
        var orders: [JSON] = []
        for message in messages {
            guard let id = message["id"]?.stringValue, case .object(var order)? = message["order"] else { continue }
            ids.append(id)
            order.members.append((key: "messageId", value: .string(id)))
            order.members.append((key: "kind", value: .string(message["kind"]?.stringValue ?? "order")))
            orders.append(.object(order))
        }
        let body = JSON.object(JSONObject([(key: "orders", value: .array(orders))]))
        let answer: JSON
        do {
            // The OMS de-duplicates each order by its messageId, so a resent batch is safe to retry.
            let response = try client.send(HTTPJSONRequest(
                method: "POST", path: ordersPath, headers: [("Content-Type", "application/json")],
                body: Array(body.jsonText.utf8), retryable: true))
            answer = response.body.isEmpty ? .null : (try? response.json()) ?? .null
        } catch {
            // Busy or down: every order failed; pass the OMS's Retry-After on so the host waits at least that long.
            if error.code == .status, let retryAfter = error.retryAfter {
                let failed = ids.map { JSON.object(JSONObject([("id", .string($0)), ("ok", .bool(false)), ("error", .string(error.description))])) }
                return Array(JSON.object(JSONObject([("results", .array(failed)), ("retryAfterSeconds", .number(String(Int(retryAfter.rounded(.up)))))])).jsonText.utf8)
            }
            throw error.pluginError
        }
        var results: [String: (ok: Bool, error: String?)] = [:]
        if let items = answer["results"]?.arrayValue {
            for item in items {
                guard let id = item["messageId"]?.stringValue ?? item["id"]?.stringValue else { continue }
                let status = item["status"]?.stringValue ?? "accepted"
                results[id] = status == "rejected" ? (false, item["error"]?.stringValue ?? "the OMS rejected it") : (true, nil)
            }
        } else {
            for id in ids { results[id] = (true, nil) }
        }
        var out: [JSON] = []
        for id in ids {
            let result = results[id] ?? (false, "the OMS's answer has no result for \(id)")
            var members: [(key: String, value: JSON)] = [("id", .string(id)), ("ok", .bool(result.ok))]
            if let error = result.error { members.append(("error", .string(error))) }
            out.append(.object(JSONObject(members)))
        }
        return Array(JSON.object(JSONObject([("results", .array(out))])).jsonText.utf8)
    }

    /// Pulls status changes, shipments and returns since the cursor and emits them (see ``OMSUpdates``).
    public func ingest(_ context: IngestContext) throws {
        try updates.pull(context)
    }

    // MARK: Not public

    /// The dispatcher's settings: whole numbers in range, no unknown keys.
    static func checkDispatch(_ json: JSON) throws(PluginError) {
        guard case .object(let object) = json else {
            throw PluginError.invalid("config.orders: must be an object such as { windowMs: 200, maxBatch: 100 }")
        }
        let ranges: [String: ClosedRange<Int>] = [
            "windowMs": 0...10_000, "maxBatch": 1...1000, "maxAttempts": 1...1000, "backoffMs": 1...3_600_000,
            "maxBackoffMs": 1...86_400_000, "deadlineSeconds": 1...600,
        ]
        for (key, value) in object.members {
            guard let range = ranges[key] else {
                throw PluginError.invalid("config.orders.\(key): not a dispatch setting; known: \(ranges.keys.sorted().joined(separator: ", "))")
            }
            guard let number = value.intValue, range.contains(number) else {
                throw PluginError.invalid("config.orders.\(key): must be a whole number from \(range.lowerBound) to \(range.upperBound), found \(value.scalarText ?? value.kindName)")
            }
        }
    }
}

import WharfPluginKit

/// The scheduled pull of what the OMS/WMS did with orders: status changes, shipments and returns (exchanges are
/// returns with `exchangeFor`), each from its own paged, incremental HTTP JSON feed, in that order, so a status
/// change is applied before a shipment reported after it.
///
/// Config `updates` (every key optional; a feed without a path is not read):
/// `{ statusPath: "/order-status", shipmentsPath: "/shipments", returnsPath: "/returns", itemsPath: "items",
///    sinceParameter: "updated_since", paging: { mode: "cursor", cursorParameter: "cursor", next: "next_cursor" } }`.
///
/// Items, as the OMS sends them:
/// - status: `{"orderNumber", "status", "at", "note"?}`
/// - shipment: `{"id", "orderNumber", "carrier"?, "trackingNumbers"?: [..], "shippedAt", "lines": [{"sku", "quantity"}]}`
/// - return: `{"id", "orderNumber", "receivedAt", "exchangeFor"?, "lines": [{"sku", "quantity", "reason"?, "restock"?}]}`
///
/// Each item may carry `updatedAt`; otherwise its own time is its change time. The run's cursor holds the latest
/// change time per feed (`status=…;shipments=…;returns=…`) and moves with each page's records, so a failed run
/// resumes where it stopped. Items are emitted as "order_status", "shipment" and "return" records; the host
/// validates each transition and stores a refused one (a shipment for a cancelled order) as a reject with its reason.
struct OMSUpdates: Sendable {
    /// One feed: its cursor key, path, entity and how an item becomes fields.
    struct Feed: Sendable {
        let key: String
        let path: String
        let entity: String
        let timeField: String
    }

    let client: HTTPJSONClient
    let feeds: [Feed]
    let itemsPath: String
    let sinceParameter: String
    let paging: HTTPPaging

    init(_ json: JSON?, client: HTTPJSONClient) throws(PluginError) {
        self.client = client
        let config = json ?? .object(JSONObject())
        guard case .object(let object) = config else {
            throw PluginError.invalid("config.updates: must be an object such as { shipmentsPath: \"/shipments\" }")
        }
        let known = ["statusPath", "shipmentsPath", "returnsPath", "itemsPath", "sinceParameter", "paging"]
        for key in object.keys where !known.contains(key) {
            throw PluginError.invalid("config.updates.\(key): not a key of updates; known: \(known.joined(separator: ", "))")
        }
        func path(_ key: String) throws(PluginError) -> String? {
            guard let value = object[key] else { return nil }
            guard let text = value.stringValue, text.hasPrefix("/") else {
                throw PluginError.invalid("config.updates.\(key): must be a path starting with /, such as \"/shipments\"")
            }
            return text
        }
        var feeds: [Feed] = []
        if let p = try path("statusPath") { feeds.append(Feed(key: "status", path: p, entity: "order_status", timeField: "at")) }
        if let p = try path("shipmentsPath") { feeds.append(Feed(key: "shipments", path: p, entity: "shipment", timeField: "shippedAt")) }
        if let p = try path("returnsPath") { feeds.append(Feed(key: "returns", path: p, entity: "return", timeField: "receivedAt")) }
        self.feeds = feeds
        itemsPath = object["itemsPath"]?.stringValue ?? "items"
        sinceParameter = object["sinceParameter"]?.stringValue ?? "updated_since"
        paging = try object["paging"].map { json throws(PluginError) in try HTTPPaging.parse(json, path: "config.updates.paging") }
            ?? .cursor(parameter: "cursor", nextPath: "next_cursor")
    }

    /// Reads every feed from its cursor position and emits one batch per page.
    func pull(_ context: IngestContext) throws {
        guard !feeds.isEmpty else {
            throw PluginError.invalid("config.updates: name at least one of statusPath, shipmentsPath, returnsPath to pull updates")
        }
        var positions = OMSUpdates.parseCursor(context.cursor)
        var recordNumber = 0
        for feed in feeds {
            let source = HTTPJSONSource(
                client: client, path: feed.path, paging: paging, itemsPath: itemsPath,
                modifiedSince: (sinceParameter, positions[feed.key]))
            do {
                try source.forEachPage { page in
                    try context.checkCancelled()
                    var records: [Record] = []
                    for item in page.items {
                        recordNumber += 1
                        let location = RecordLocation(source: page.url, recordNumber: page.firstItemIndex + records.count + 1)
                        guard case .object = item, let fields = OMSUpdates.fields(of: item, feed: feed) else {
                            try context.reject(location: location, reason: "a \(feed.key) item must be an object with orderNumber (and id, lines for shipments and returns)", raw: item.jsonText)
                            continue
                        }
                        records.append(Record(entity: feed.entity, fields: fields, location: location, raw: item.jsonText))
                        let changed = item["updatedAt"]?.stringValue ?? item[feed.timeField]?.stringValue
                        if let changed, changed > (positions[feed.key] ?? "") { positions[feed.key] = changed }
                    }
                    try context.emit(records, cursor: OMSUpdates.renderCursor(positions))
                    return true
                }
            } catch let error as HTTPSourceError {
                throw error.pluginError
            }
        }
        context.log(.info, "pulled \(recordNumber) OMS updates")
    }

    // MARK: Not public

    /// The flat fields of an item, or nil when it lacks its order number.
    static func fields(of item: JSON, feed: Feed) -> [RecordField]? {
        guard let order = item["orderNumber"]?.scalarText else { return nil }
        var fields = [RecordField("order", order)]
        func add(_ name: String, _ key: String) {
            if let value = item[key]?.scalarText { fields.append(RecordField(name, value)) }
        }
        switch feed.entity {
        case "order_status":
            add("status", "status")
            add("at", "at")
            add("note", "note")
        default:
            add("id", "id")
            if feed.entity == "shipment" {
                add("carrier", "carrier")
                add("shipped_at", "shippedAt")
                if let numbers = item["trackingNumbers"]?.arrayValue {
                    fields.append(RecordField("tracking", numbers.compactMap(\.scalarText).joined(separator: ",")))
                }
            } else {
                add("received_at", "receivedAt")
                add("exchange_for", "exchangeFor")
            }
            for (i, line) in (item["lines"]?.arrayValue ?? []).enumerated() {
                let n = i + 1
                fields.append(RecordField("line.\(n).sku", line["sku"]?.scalarText))
                fields.append(RecordField("line.\(n).quantity", line["quantity"]?.scalarText))
                if feed.entity == "return" {
                    if let reason = line["reason"]?.scalarText { fields.append(RecordField("line.\(n).reason", reason)) }
                    if let restock = line["restock"]?.scalarText { fields.append(RecordField("line.\(n).restock", restock)) }
                }
            }
        }
        return fields
    }

    /// `status=2026-…;shipments=…` → per-feed positions.
    static func parseCursor(_ text: String?) -> [String: String] {
        var positions: [String: String] = [:]
        for part in (text ?? "").split(separator: ";") {
            let pieces = part.split(separator: "=", maxSplits: 1)
            if pieces.count == 2 { positions[String(pieces[0])] = String(pieces[1]) }
        }
        return positions
    }

    static func renderCursor(_ positions: [String: String]) -> String {
        positions.keys.sorted().map { "\($0)=\(positions[$0]!)" }.joined(separator: ";")
    }
}

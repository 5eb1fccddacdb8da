import Foundation
import WharfPluginKit

/// One CRM record as read: its id, its properties (flattened to text) and whether the CRM deleted it.
struct CRMRecord {
    var id: String
    var properties: [String: String]
    var updatedAt: String?
    var archived: Bool
    /// CRM ids of records merged into this one (HubSpot `hs_merged_object_ids`), or the survivor this one was merged
    /// into (Salesforce `MasterRecordId`, in `mergedInto`).
    var mergedIDs: [String]
    var mergedInto: String?

    subscript(property: String?) -> String? {
        guard let property, let value = properties[property], !value.isEmpty else { return nil }
        return value
    }
}

/// The CRM's HTTP JSON API in the shape the config names: search, create and paged lists.
struct CRMAPI {
    let config: CRMConfig
    let client: HTTPJSONClient

    init(config: CRMConfig, log: (@Sendable (LogLevel, String) -> Void)?) throws(PluginError) {
        self.config = config
        do {
            client = try HTTPJSONClient(
                baseURL: config.baseURL, auth: config.auth, timeout: config.timeout,
                retry: HTTPRetryPolicy(maxAttempts: config.maxAttempts, initialDelay: 0.2, maxDelay: 5, maxRetryAfter: 30), log: log)
        } catch {
            throw PluginError.invalid("config.baseURL: \(error.message)")
        }
    }

    // MARK: Real time

    /// The id of the company whose `property` equals `value`, or nil. A search is safe to repeat, so it is retried
    /// on 429 and 5xx.
    func findCompany(property: String, value: String) throws(HTTPSourceError) -> String? {
        switch config.shape {
        case .hubspot:
            let body = JSON.object(JSONObject([
                ("filterGroups", .array([.object(JSONObject([
                    ("filters", .array([.object(JSONObject([
                        ("propertyName", .string(property)), ("operator", .string("EQ")), ("value", .string(value)),
                    ]))])),
                ]))])),
                ("properties", .array([.string(property)])),
                ("limit", .number("2")),
            ]))
            let answer = try client.postJSON(config.searchPath, body: body, retryable: true)
            return answer["results"]?.arrayValue?.first?["id"]?.scalarText
        case .salesforce:
            let soql = "SELECT Id FROM \(config.sync.companyObject) WHERE \(property) = '\(Self.soqlEscaped(value))' LIMIT 2"
            let answer = try client.getJSON(config.searchPath, query: [("q", soql)])
            return answer["records"]?.arrayValue?.first?["Id"]?.scalarText
        }
    }

    /// Creates a company with `properties`; returns its CRM id. Never retried here: a create that timed out may
    /// have happened, so the caller searches by the external id before it tries again.
    func createCompany(_ properties: [(String, String)]) throws(HTTPSourceError) -> String {
        let fields = JSON.object(JSONObject(properties.map { ($0.0, JSON.string($0.1)) }))
        switch config.shape {
        case .hubspot:
            let answer = try client.postJSON(config.createPath, body: .object(JSONObject([("properties", fields)])))
            guard let id = answer["id"]?.scalarText else {
                throw HTTPSourceError(.invalidResponse, method: "POST", url: config.createPath, message: "the answer has no id")
            }
            return id
        case .salesforce:
            let answer = try client.postJSON(config.createPath, body: fields)
            guard let id = answer["id"]?.scalarText else {
                throw HTTPSourceError(.invalidResponse, method: "POST", url: config.createPath, message: "the answer has no id")
            }
            return id
        }
    }

    // MARK: Lists (scheduled sync)

    /// Reads every record of a list, page by page, handing each page's records to `body`.
    /// `object` is the Salesforce object; `path` the HubSpot list path; `since` the incremental watermark.
    func forEachPage(
        path: String, object: String, properties: [String], since: String?, deleted: Bool, _ body: ([CRMRecord]) throws -> Void
    ) throws {
        let source: HTTPJSONSource
        switch config.shape {
        case .hubspot:
            var query: [(name: String, value: String)] = [("limit", String(config.sync.pageSize))]
            var wanted = properties
            if !deleted && path == config.sync.companiesPath { wanted.append("hs_merged_object_ids") }
            query.append(("properties", wanted.joined(separator: ",")))
            if deleted { query.append(("archived", "true")) }
            source = HTTPJSONSource(
                client: client, path: path, query: query, paging: .cursor(parameter: "after", nextPath: "paging.next.after"),
                itemsPath: "results", modifiedSince: config.sync.modifiedSinceParameter.map { ($0, since) })
        case .salesforce:
            var fields = ["Id", "SystemModstamp"] + properties
            if deleted || object == config.sync.companyObject { fields.append("MasterRecordId") }
            var soql = "SELECT \(Self.unique(fields).joined(separator: ", ")) FROM \(object)"
            var conditions: [String] = []
            if deleted { conditions.append("IsDeleted = true") }
            if let since, !since.isEmpty { conditions.append("SystemModstamp > \(since)") }
            if !conditions.isEmpty { soql += " WHERE " + conditions.joined(separator: " AND ") }
            soql += " ORDER BY SystemModstamp"
            let queryPath = deleted ? path.replacingOccurrences(of: "/query", with: "/queryAll") : path
            source = HTTPJSONSource(
                client: client, path: queryPath, query: [("q", soql)], paging: .nextLink(nextPath: "nextRecordsUrl"),
                itemsPath: "records")
        }
        try source.forEachPage { page in
            try body(page.items.compactMap { record(from: $0, deleted: deleted) })
            return true
        }
    }

    func record(from item: JSON, deleted: Bool) -> CRMRecord? {
        switch config.shape {
        case .hubspot:
            guard let id = item["id"]?.scalarText else { return nil }
            var properties: [String: String] = [:]
            for (key, value) in item["properties"]?.objectValue?.members ?? [] {
                if let text = value.scalarText { properties[key] = text }
            }
            let merged = (properties["hs_merged_object_ids"] ?? "").split(separator: ";").map {
                String($0).trimmingCharacters(in: .whitespaces)
            }.filter { !$0.isEmpty }
            return CRMRecord(
                id: id, properties: properties, updatedAt: item["updatedAt"]?.scalarText,
                archived: deleted || item["archived"]?.boolValue == true, mergedIDs: merged, mergedInto: nil)
        case .salesforce:
            guard let id = item["Id"]?.scalarText else { return nil }
            var properties: [String: String] = [:]
            for (key, value) in item.objectValue?.members ?? [] {
                if let text = value.scalarText { properties[key] = text }
            }
            return CRMRecord(
                id: id, properties: properties, updatedAt: item["SystemModstamp"]?.scalarText,
                archived: deleted || item["IsDeleted"]?.boolValue == true, mergedIDs: [],
                mergedInto: item["MasterRecordId"]?.scalarText)
        }
    }

    static func soqlEscaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
    }

    static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}

import Foundation
import WharfABI
import WharfPluginKit

/// The plugin's one exported symbol: hands the host the descriptor WharfPluginKit builds for ``CRMCompaniesPlugin``.
@_cdecl("wharf_plugin_entry")
public func wharfPluginEntry(
    _ hostMajor: UInt32, _ hostMinor: UInt32, _ host: UnsafePointer<wharf_host_api>?
) -> UnsafePointer<wharf_plugin_descriptor>? {
    PluginExport.descriptor(for: CRMCompaniesPlugin.self, hostMajor: hostMajor, hostMinor: hostMinor, host: host)
}

/// B2B companies, their people and customer groups from a CRM's HTTP JSON API (HubSpot- or Salesforce-shaped), and
/// companies verified or created in that CRM in real time when they register on the storefront.
///
/// Call `company.register` (request: the company as the host sends it, with Wharf's `id`): searches the CRM by the
/// external-id property (Wharf's id: an earlier attempt may have created it), then by tax id, then by domain; found
/// → `{"outcome": "linked", "crmId": …}` (or `"created"` when found by Wharf's id); not found → creates it with
/// Wharf's id in the external-id property → `{"outcome": "created", "crmId": …}`. A create the CRM refuses as a
/// duplicate (409) is searched again instead of failing.
///
/// Ingest: pages through companies (incrementally since the last sync), deleted/archived companies and merges
/// (deactivated in Wharf), contacts as company users and customer groups, and emits `customer_group`, `company`
/// and `company_user` records. See docs/companies.md for config and mapping.
public struct CRMCompaniesPlugin: WharfPlugin {
    /// `crm-companies`.
    public static let id = "crm-companies"
    /// A CRM.
    public static let systemKind = "crm"
    /// The plugin's version.
    public static let version = "1.0.0"
    /// One line for people.
    public static let description: String? = "B2B companies, people and customer groups from a CRM; real-time verify or create"
    /// Scheduled sync and real-time calls.
    public static let capabilities: PluginCapabilities = [.ingest, .call]

    let config: CRMConfig
    let api: CRMAPI

    /// Reads and checks config and mapping; a mistake is refused with its path (`config.registration.…`).
    public init(context: PluginContext) throws {
        config = try CRMConfig(context: context)
        let logContext = context
        api = try CRMAPI(config: config, log: { level, line in logContext.log(level, line) })
    }

    // MARK: Real time

    /// `company.register`: find the company in the CRM or create it there.
    public func call(_ operation: String, request: [UInt8], context: CallContext) throws -> [UInt8] {
        guard operation == "company.register" else {
            throw PluginError.unsupported("unknown operation '\(operation)'; this plugin answers company.register")
        }
        let body = try JSON.parse(String(decoding: request, as: UTF8.self))
        guard let wharfID = body["id"]?.stringValue, !wharfID.isEmpty, let legalName = body["legalName"]?.stringValue else {
            throw PluginError.invalid("company.register needs a JSON object with id and legalName")
        }
        let mapping = config.company
        do {
            let (outcome, crmID) = try register(body, wharfID: wharfID, legalName: legalName, mapping: mapping)
            let answer = JSON.object(JSONObject([("outcome", .string(outcome)), ("crmId", .string(crmID))]))
            return Array(answer.jsonText.utf8)
        } catch let error as HTTPSourceError {
            throw error.pluginError
        }
    }

    private func register(_ body: JSON, wharfID: String, legalName: String, mapping: CompanyMapping) throws -> (String, String) {
        // 1. An earlier attempt may have created it (and timed out before the answer came back).
        if let id = try api.findCompany(property: mapping.externalID, value: wharfID) { return ("created", id) }
        // 2. The match keys.
        if let found = try findByMatchKeys(body, mapping: mapping) { return ("linked", found) }
        // 3. Create, with Wharf's id as the idempotency key.
        var properties: [(String, String)] = [(mapping.legalName, legalName), (mapping.externalID, wharfID)]
        func add(_ property: String?, _ value: String?) {
            if let property, let value, !value.isEmpty { properties.append((property, value)) }
        }
        add(mapping.displayName, body["displayName"]?.stringValue)
        add(mapping.taxID, body["taxId"]?.stringValue)
        add(mapping.email, body["email"]?.stringValue)
        add(mapping.domain, body["emailDomain"]?.stringValue)
        add(mapping.phone, body["phone"]?.stringValue)
        if let address = body["addresses"]?.arrayValue?.first {
            add(mapping.street, address["street"]?.stringValue)
            add(mapping.city, address["city"]?.stringValue)
            add(mapping.postalCode, address["postalCode"]?.stringValue)
            add(mapping.region, address["region"]?.stringValue)
            add(mapping.country, address["country"]?.stringValue)
        }
        let failure: HTTPSourceError
        do {
            return ("created", try api.createCompany(properties))
        } catch {
            failure = error
        }
        guard failure.status == 409 || failure.bodyExcerpt?.contains("DUPLICATES_DETECTED") == true else { throw failure }
        // The CRM's own duplicate detection: the company is there after all (a concurrent registration, or a match
        // rule of the CRM's). Find it rather than fail.
        if let id = try api.findCompany(property: mapping.externalID, value: wharfID) { return ("created", id) }
        if let found = try findByMatchKeys(body, mapping: mapping) { return ("linked", found) }
        throw failure
    }

    private func findByMatchKeys(_ body: JSON, mapping: CompanyMapping) throws -> String? {
        if let property = mapping.taxID, let tax = body["taxId"]?.stringValue, !tax.isEmpty,
            let id = try api.findCompany(property: property, value: tax)
        {
            return id
        }
        if let property = mapping.domain, let domain = body["emailDomain"]?.stringValue, !domain.isEmpty,
            let id = try api.findCompany(property: property, value: domain)
        {
            return id
        }
        return nil
    }

    // MARK: Scheduled sync

    /// Reads groups, companies (changed since the last sync), deleted and merged companies, and contacts; emits
    /// them, and stores the new watermarks with the last batch.
    public func ingest(_ context: IngestContext) throws {
        let previous = (try? JSON.parse(context.cursor ?? "")) ?? .null
        var watermarks = SyncWatermarks(
            companies: previous["companies"]?.stringValue, users: previous["users"]?.stringValue)
        var counts = EmitCounts()
        var recordNumber = 0
        func location(_ what: String) -> RecordLocation {
            recordNumber += 1
            return RecordLocation(source: what, recordNumber: recordNumber)
        }
        do {
            if let path = config.sync.groupsPath {
                try api.forEachPage(
                    path: path, object: config.sync.groupObject, properties: [config.group.code, config.group.name],
                    since: nil, deleted: false
                ) { records in
                    try context.checkCancelled()
                    var batch: [Record] = []
                    for record in records {
                        let loc = location("customer group \(record.id)")
                        guard let code = record[config.group.code], let name = record[config.group.name] ?? record[config.group.code] else {
                            try context.reject(location: loc, field: "code", reason: "customer group \(record.id) has no \(config.group.code) property")
                            continue
                        }
                        batch.append(Record(entity: "customer_group", fields: [
                            RecordField("code", code), RecordField("name", name), RecordField("crm_id", record.id),
                        ], location: loc))
                    }
                    counts.add(try context.emit(batch))
                }
            }
            var newest = watermarks.companies
            try api.forEachPage(
                path: config.sync.companiesPath, object: config.sync.companyObject, properties: config.company.properties,
                since: watermarks.companies, deleted: false
            ) { records in
                try context.checkCancelled()
                var batch: [Record] = []
                for record in records {
                    batch.append(companyRecord(record, location: location("company \(record.id)")))
                    for merged in record.mergedIDs {
                        batch.append(Record(entity: "company", fields: [
                            RecordField("crm_id", merged), RecordField("deleted", "true"), RecordField("merged_into", record.id),
                        ], location: location("company \(merged) merged into \(record.id)")))
                    }
                    if let updated = record.updatedAt, updated > (newest ?? "") { newest = updated }
                }
                counts.add(try context.emit(batch))
            }
            if config.sync.deletions {
                try api.forEachPage(
                    path: config.sync.companiesPath, object: config.sync.companyObject, properties: [], since: nil, deleted: true
                ) { records in
                    try context.checkCancelled()
                    let batch = records.map { record in
                        var fields = [RecordField("crm_id", record.id), RecordField("deleted", "true")]
                        if let survivor = record.mergedInto { fields.append(RecordField("merged_into", survivor)) }
                        return Record(entity: "company", fields: fields, location: location("deleted company \(record.id)"))
                    }
                    counts.add(try context.emit(batch))
                }
            }
            watermarks.companies = newest
            if let path = config.sync.usersPath {
                var newestUser = watermarks.users
                try api.forEachPage(
                    path: path, object: config.sync.userObject, properties: config.user.properties, since: watermarks.users,
                    deleted: false
                ) { records in
                    try context.checkCancelled()
                    var batch: [Record] = []
                    for record in records {
                        let loc = location("contact \(record.id)")
                        guard let company = record[config.user.company] else {
                            // A contact of no company is a consumer, not a company user: not Wharf's business here.
                            continue
                        }
                        guard let email = record[config.user.email] else {
                            try context.reject(location: loc, field: "email", reason: "contact \(record.id) of company \(company) has no \(config.user.email)")
                            continue
                        }
                        let name = record[config.user.name]
                            ?? [record[config.user.firstName], record[config.user.lastName]].compactMap { $0 }.joined(separator: " ")
                        var fields = [
                            RecordField("company_crm_id", company), RecordField("email", email),
                            RecordField("name", name.isEmpty ? email : name), RecordField("crm_id", record.id),
                            RecordField("job_title", record[config.user.jobTitle]), RecordField("role", record[config.user.role]),
                        ]
                        if record.archived { fields.append(RecordField("active", "false")) } else if let active = record[config.user.active] {
                            fields.append(RecordField("active", active))
                        }
                        batch.append(Record(entity: "company_user", fields: fields, location: loc))
                        if let updated = record.updatedAt, updated > (newestUser ?? "") { newestUser = updated }
                    }
                    counts.add(try context.emit(batch))
                }
                watermarks.users = newestUser
            }
        } catch let error as HTTPSourceError {
            throw error.pluginError
        }
        // The watermarks move only now, with an (empty) last batch: a sync that failed half-way repeats from the old ones.
        counts.add(try context.emit([], cursor: watermarks.json))
        context.log(
            .info,
            "CRM sync: \(counts.inserted) inserted, \(counts.updated) updated, \(counts.unchanged) unchanged, \(counts.rejected) rejected")
    }

    private func companyRecord(_ record: CRMRecord, location: RecordLocation) -> Record {
        let m = config.company
        if record.archived {
            return Record(entity: "company", fields: [RecordField("crm_id", record.id), RecordField("deleted", "true")], location: location)
        }
        var fields = [
            RecordField("crm_id", record.id), RecordField("legal_name", record[m.legalName]),
            RecordField("display_name", record[m.displayName]), RecordField("tax_id", record[m.taxID]),
            RecordField("email", record[m.email]), RecordField("domain", record[m.domain].map(Self.domain)),
            RecordField("phone", record[m.phone]), RecordField("customer_group", record[m.customerGroup]),
            RecordField("external_id", record[m.externalID]),
        ]
        if let status = record[m.status] { fields.append(RecordField("status", m.statusValues[status] ?? status.lowercased())) }
        for code in (record[m.priceLists] ?? "").split(separator: Character(m.priceListSeparator.isEmpty ? ";" : m.priceListSeparator)) {
            let trimmed = code.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty { fields.append(RecordField("price_list", trimmed)) }
        }
        if let street = record[m.street], let city = record[m.city], let country = record[m.country] {
            fields += [
                RecordField("address.street", street), RecordField("address.city", city),
                RecordField("address.postal_code", record[m.postalCode]), RecordField("address.region", record[m.region]),
                RecordField("address.country", country),
            ]
        }
        return Record(entity: "company", fields: fields, location: location)
    }

    /// "https://www.acme.example/about" → "acme.example" (Salesforce keeps a website, HubSpot a bare domain).
    static func domain(_ text: String) -> String {
        var host = text.lowercased()
        if let range = host.range(of: "://") { host = String(host[range.upperBound...]) }
        if let slash = host.firstIndex(of: "/") { host = String(host[..<slash]) }
        if host.hasPrefix("www.") { host.removeFirst(4) }
        return host
    }
}

/// The incremental-sync watermarks, stored as the connector's cursor (`{"companies": "…", "users": "…"}`).
struct SyncWatermarks {
    var companies: String?
    var users: String?

    var json: String {
        var members: [(key: String, value: JSON)] = []
        if let companies { members.append(("companies", .string(companies))) }
        if let users { members.append(("users", .string(users))) }
        return JSON.object(JSONObject(members)).jsonText
    }
}

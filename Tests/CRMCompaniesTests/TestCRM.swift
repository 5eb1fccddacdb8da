import Foundation
import WharfTestSupport

/// A HubSpot-style CRM on 127.0.0.1 for the connector's tests, on ``StubHTTPServer``: companies and contacts with
/// `after`-cursor paging, `updatedAfter` incremental lists, `archived=true` for deleted companies, `POST …/search`
/// with EQ filters, `POST` create with duplicate detection on its side (same `domain` or `wharf_id` → 409), merges
/// (`hs_merged_object_ids`), and switches for being down (503) or slow (answers a create only after `createDelay`
/// seconds, the record already made).
final class TestCRM: @unchecked Sendable {
    let server: StubHTTPServer
    var baseURL: String { server.baseURL }

    struct Company {
        var id: String
        var properties: [String: String]
        var updatedAt: String
        var archived = false
    }

    private let lock = NSLock()
    private var companies: [Company] = []
    private var contacts: [Company] = []
    private var groups: [Company] = []
    private var nextID = 1001
    private var clock = 0
    private var _creates = 0
    private var _down = false
    private var _createDelay = 0.0

    /// Creates that reached the CRM (including ones whose answer came too late).
    var creates: Int { lock.withLock { _creates } }
    /// When true every request answers 503.
    var down: Bool {
        get { lock.withLock { _down } }
        set { lock.withLock { _down = newValue } }
    }
    /// Seconds a create waits before it answers (after making the record).
    var createDelay: Double {
        get { lock.withLock { _createDelay } }
        set { lock.withLock { _createDelay = newValue } }
    }
    /// The live (not archived) companies.
    var liveCompanies: [Company] { lock.withLock { companies.filter { !$0.archived } } }

    init() throws {
        server = try StubHTTPServer()
        server.handle("GET", "/crm/v3/objects/companies") { [unowned self] request in list(request, of: \.companies) }
        server.handle("GET", "/crm/v3/objects/contacts") { [unowned self] request in list(request, of: \.contacts) }
        server.handle("GET", "/crm/v3/objects/customer_groups") { [unowned self] request in list(request, of: \.groups) }
        server.handle("POST", "/crm/v3/objects/companies/search") { [unowned self] request in search(request) }
        server.handle("POST", "/crm/v3/objects/companies") { [unowned self] request in create(request) }
    }

    /// Adds a company as if someone had entered it in the CRM; returns its id.
    @discardableResult
    func addCompany(_ properties: [String: String]) -> String {
        lock.withLock {
            let id = String(nextID)
            nextID += 1
            companies.append(Company(id: id, properties: properties, updatedAt: tick()))
            return id
        }
    }

    func addContact(_ properties: [String: String]) {
        lock.withLock {
            contacts.append(Company(id: String(nextID), properties: properties, updatedAt: tick()))
            nextID += 1
        }
    }

    func addGroup(_ properties: [String: String]) {
        lock.withLock {
            groups.append(Company(id: String(nextID), properties: properties, updatedAt: tick()))
            nextID += 1
        }
    }

    /// Changes properties of company `id`.
    func update(_ id: String, _ properties: [String: String]) {
        lock.withLock {
            guard let index = companies.firstIndex(where: { $0.id == id }) else { return }
            companies[index].properties.merge(properties) { _, new in new }
            companies[index].updatedAt = tick()
        }
    }

    /// Deletes (archives) company `id`.
    func archive(_ id: String) {
        lock.withLock {
            guard let index = companies.firstIndex(where: { $0.id == id }) else { return }
            companies[index].archived = true
            companies[index].updatedAt = tick()
        }
    }

    /// Merges `loser` into `survivor`: the loser disappears, the survivor lists it in hs_merged_object_ids.
    func merge(_ loser: String, into survivor: String) {
        lock.withLock {
            companies.removeAll { $0.id == loser }
            guard let index = companies.firstIndex(where: { $0.id == survivor }) else { return }
            let merged = companies[index].properties["hs_merged_object_ids"].map { $0 + ";" } ?? ""
            companies[index].properties["hs_merged_object_ids"] = merged + loser
            companies[index].updatedAt = tick()
        }
    }

    // MARK: Not public

    /// An increasing ISO time per change, so updatedAfter filters are exact.
    private func tick() -> String {
        clock += 1
        return String(format: "2026-11-23T10:%02d:%02d.000Z", clock / 60, clock % 60)
    }

    private func json(_ object: Any, status: Int = 200) -> StubResponse {
        .json(object: object, status: status)
    }

    private func encode(_ company: Company) -> [String: Any] {
        ["id": company.id, "properties": company.properties, "updatedAt": company.updatedAt, "archived": company.archived]
    }

    private func list(_ request: StubRequest, of keyPath: KeyPath<TestCRM, [Company]>) -> StubResponse {
        if down { return .serviceUnavailable() }
        let limit = Int(request.queryValue("limit") ?? "") ?? 10
        let after = Int(request.queryValue("after") ?? "") ?? 0
        let archived = request.queryValue("archived") == "true"
        let since = request.queryValue("updatedAfter")
        let all = lock.withLock { self[keyPath: keyPath] }
            .filter { $0.archived == archived && (since == nil || $0.updatedAt > since!) }
        let page = Array(all.dropFirst(after).prefix(limit))
        var answer: [String: Any] = ["results": page.map(encode)]
        if after + page.count < all.count { answer["paging"] = ["next": ["after": String(after + page.count)]] }
        return json(answer)
    }

    private func search(_ request: StubRequest) -> StubResponse {
        if down { return .serviceUnavailable() }
        guard let body = try? request.json() as? [String: Any],
            let groups = body["filterGroups"] as? [[String: Any]],
            let filters = groups.first?["filters"] as? [[String: Any]], let filter = filters.first,
            let property = filter["propertyName"] as? String, let value = filter["value"] as? String,
            filter["operator"] as? String == "EQ"
        else { return json(["status": "error", "message": "bad search"], status: 400) }
        let found = liveCompanies.filter { $0.properties[property]?.lowercased() == value.lowercased() }
        return json(["total": found.count, "results": found.map(encode)])
    }

    private func create(_ request: StubRequest) -> StubResponse {
        if down { return .serviceUnavailable() }
        guard let body = try? request.json() as? [String: Any], let properties = body["properties"] as? [String: String] else {
            return json(["status": "error", "message": "properties required"], status: 400)
        }
        let (answer, delay): (StubResponse, Double) = lock.withLock {
            for existing in companies where !existing.archived {
                for key in ["domain", "wharf_id"] {
                    if let value = properties[key], existing.properties[key] == value {
                        return (.json(object: ["status": "error", "category": "CONFLICT", "message": "a company with \(key) \(value) exists: \(existing.id)"], status: 409), 0)
                    }
                }
            }
            _creates += 1
            let company = Company(id: String(nextID), properties: properties, updatedAt: tick())
            nextID += 1
            companies.append(company)
            return (.json(object: encode(company), status: 201), _createDelay)
        }
        var response = answer
        response.delay = delay
        return response
    }
}

import Foundation
import WharfAuth
import WharfHTTP
import WharfModel
import WharfPlugins
import WharfStore

/// Customers and their marketing consent (what the eDM export reads), and the exports API: start an export run,
/// list runs with their files, download a file.
enum ExportRoutes {
    static func routes(deployment: Deployment, coordinator: RunCoordinator) -> [APIRoute] {
        let store = deployment.store
        return [
            APIRoute(
                method: .PUT, path: "/v1/customers/{id}", scope: .customersWrite, operationID: "putCustomer",
                summary: "Stores a B2C customer (email, firstName, lastName, country as ISO 3166-1 alpha-2).", tag: "Customers",
                parameters: [.path("id", "The storefront's customer id.")], requestSchema: "CustomerInput",
                responses: [
                    .ok("Customer"), .problem(400, "The body is not a JSON object"),
                    APIResponse(status: 422, description: "Invalid fields (listed)", schema: "ValidationProblem"),
                ] + APIResponse.authProblems
            ) { request, parameters in
                let id = parameters["id"] ?? ""
                let body = try jsonObjectBody(request)
                var errors: [(field: String?, reason: String)] = []
                let email = body["email"] as? String ?? ""
                if !isEmail(email) { errors.append(("email", "required, an email address such as ana@example.com")) }
                let country = (body["country"] as? String).map { $0.uppercased() }
                if let country, country.utf8.count != 2 || !country.utf8.allSatisfy({ (65...90).contains($0) }) {
                    errors.append(("country", "an ISO 3166-1 alpha-2 code such as DE, not '\(country)'"))
                }
                for key in ["firstName", "lastName"] where body[key] != nil && !(body[key] is String) && !(body[key] is NSNull) {
                    errors.append((key, "must be a string"))
                }
                if id.isEmpty || id.utf8.count > 255 { errors.append(("id", "must be 1 to 255 bytes")) }
                guard errors.isEmpty else { return Problems.validationFailed(errors) }
                let now = Timestamp.now()
                let stored = try store.upsertCustomer(Customer(
                    id: id, email: email, firstName: body["firstName"] as? String, lastName: body["lastName"] as? String,
                    country: country, createdAt: now, updatedAt: now))
                return json { customer(stored, into: &$0) }
            },
            APIRoute(
                method: .GET, path: "/v1/customers/{id}", scope: .customersRead, operationID: "getCustomer",
                summary: "One customer with the marketing consent of their email.", tag: "Customers",
                parameters: [.path("id", "The storefront's customer id.")], requestSchema: nil,
                responses: [.ok("Customer"), .problem(404, "No such customer")] + APIResponse.authProblems
            ) { _, parameters in
                let id = parameters["id"] ?? ""
                guard let stored = try store.customer(id: id) else { throw Problems.notFound("no customer '\(id)'") }
                let consent = try store.consent(email: stored.email)
                return json { writer in customer(stored, consent: consent, into: &writer) }
            },
            APIRoute(
                method: .PUT, path: "/v1/consents/{email}", scope: .customersWrite, operationID: "putConsent",
                summary: "Records the latest marketing consent of an email address: personKind (customer | company_user), personId, status (granted | withdrawn), at (RFC 3339, default now), source.",
                tag: "Customers", parameters: [.path("email", "The email address.")], requestSchema: "ConsentInput",
                responses: [
                    .ok("Consent"), .problem(400, "The body is not a JSON object"),
                    APIResponse(status: 422, description: "Invalid fields (listed)", schema: "ValidationProblem"),
                ] + APIResponse.authProblems
            ) { request, parameters in
                let email = parameters["email"] ?? ""
                let body = try jsonObjectBody(request)
                var errors: [(field: String?, reason: String)] = []
                if !isEmail(email) { errors.append(("email", "the path must end in an email address, not '\(email)'")) }
                let kind = ConsentPersonKind(rawValue: body["personKind"] as? String ?? "")
                if kind == nil { errors.append(("personKind", "required, customer or company_user")) }
                let personID = body["personId"] as? String ?? ""
                if personID.isEmpty { errors.append(("personId", "required, the customer's or company user's id")) }
                let status = ConsentStatus(rawValue: body["status"] as? String ?? "")
                if status == nil { errors.append(("status", "required, granted or withdrawn")) }
                let source = body["source"] as? String ?? ""
                if source.isEmpty { errors.append(("source", "required, where the consent was given or withdrawn (\"checkout\")")) }
                var at = Timestamp.now()
                if let text = body["at"] as? String {
                    if let parsed = Timestamp(rfc3339: text) { at = parsed } else { errors.append(("at", "an RFC 3339 time, not '\(text)'")) }
                }
                guard errors.isEmpty, let kind, let status else { return Problems.validationFailed(errors) }
                try store.putConsent(MarketingConsent(
                    email: email, personKind: kind, personID: personID, status: status, at: at, source: source,
                    updatedAt: .now()))
                let stored = try store.consent(email: email)
                return json { writer in consent(stored!, into: &writer) }
            },
            APIRoute(
                method: .POST, path: "/v1/exports/{connector}", scope: .exportsWrite, operationID: "startExport",
                summary: "Starts an export run of the connector now. Optional body: {\"full\": true} re-exports everything; {\"from\": …, \"to\": …} exports exactly that range again (byte-identical files). Follow the run at Location.",
                tag: "Exports", parameters: [.path("connector", "The export connector's name.")], requestSchema: "ExportRequest",
                responses: [
                    APIResponse(status: 202, description: "Started", schema: "Run"), .problem(400, "A bad body"),
                    .problem(404, "No such export connector"), .problem(409, "It is already running or disabled"),
                    .problem(503, "The server is shutting down"),
                ] + APIResponse.authProblems
            ) { request, parameters in
                let name = parameters["connector"] ?? ""
                guard exportConnectors(deployment).contains(name) else {
                    throw Problems.notFound("no export connector named '\(name)'; export connectors: \(exportConnectors(deployment).sorted().joined(separator: ", "))")
                }
                var asked: [String: String] = [:]
                if !request.body.isEmpty {
                    let body = try jsonObjectBody(request)
                    for key in body.keys where !["full", "from", "to"].contains(key) {
                        throw Problems.badRequest("\(key): not a field of an export request; fields: full, from, to")
                    }
                    if let full = body["full"] {
                        guard let flag = full as? Bool else { throw Problems.badRequest("full: expected true or false") }
                        if flag { asked["full"] = "true" }
                    }
                    for key in ["from", "to"] {
                        guard let value = body[key] else { continue }
                        guard let text = value as? String, let time = Timestamp(rfc3339: text) else {
                            throw Problems.badRequest("\(key): expected an RFC 3339 time such as 2026-11-23T00:00:00Z")
                        }
                        asked[key] = time.rfc3339
                    }
                    if let from = asked["from"], let to = asked["to"], from > to {
                        throw Problems.badRequest("from is after to: the range would be empty")
                    }
                }
                // A running export would not see the request; say so before storing it for the next run.
                if coordinator.running.contains(name) {
                    throw Problems.conflict("connector '\(name)' is already running; start the export again when its run has finished")
                }
                let text = String(decoding: try JSONEncoder().encode(asked), as: UTF8.self)
                try store.requestExport(connector: name, parameters: text)
                // If the run is refused, the stored ask must not leak into a later run.
                return try RunRoutes.startRun(name, coordinator: coordinator) { _ = try? store.takeExportRequest(connector: name) }
            },
            APIRoute(
                method: .GET, path: "/v1/exports", scope: .exportsRead, operationID: "listExports",
                summary: "Export runs, newest first, with their files (rows, bytes, SHA-256).", tag: "Exports",
                parameters: [
                    .query("connector", "Only this export connector's runs."),
                    .query("limit", "Page size, 1 to 1000 (default 100).", type: "integer"),
                    .query("cursor", "The nextCursor of the previous page."),
                ],
                requestSchema: nil, responses: [.ok("ExportRunPage"), .problem(400, "A parameter is invalid")] + APIResponse.authProblems
            ) { request, _ in
                let connectors = exportConnectors(deployment)
                let only = request.query("connector")
                if let only, !connectors.contains(only) { throw Problems.badRequest("'\(only)' is not an export connector") }
                var files: [Int64: [ExportFile]] = [:]
                return try idPage(
                    request,
                    fetch: { limit, after in
                        // Runs of every connector, newest first, filtered to export connectors.
                        var out: [Run] = []
                        var before = after
                        while out.count < limit {
                            let batch = try store.runs(connector: only, limit: 500, beforeID: before)
                            out += batch.filter { connectors.contains($0.connector) }
                            guard batch.count == 500, let last = batch.last else { break }
                            before = last.id
                        }
                        let page = Array(out.prefix(limit))
                        files = try store.exportFiles(runIDs: page.map(\.id))
                        return page
                    }, id: \.id,
                    encode: { run, writer in
                        writer.beginObject()
                        writer.key("run")
                        Encoding.run(run, into: &writer)
                        let list = files[run.id] ?? []
                        writer.field("rows", list.reduce(0) { $0 + $1.rows })
                        writer.key("files")
                        writer.beginArray()
                        for file in list {
                            writer.beginObject()
                            writer.field("name", file.name)
                            writer.field("rows", file.rows)
                            writer.field("bytes", file.bytes)
                            writer.field("sha256", file.sha256)
                            writer.field("href", "/v1/exports/\(run.id)/files/\(file.name.replacingOccurrences(of: "/", with: "%2F"))")
                            writer.endObject()
                        }
                        writer.endArray()
                        writer.endObject()
                    })
            },
            APIRoute(
                method: .GET, path: "/v1/exports/{id}/files/{name}", scope: .exportsRead, operationID: "downloadExportFile",
                summary: "Downloads one file of an export run (its name with / as %2F), checked against its recorded SHA-256.",
                tag: "Exports",
                parameters: [.path("id", "The run's id.", type: "integer"), .path("name", "The file's name in the run.")],
                requestSchema: nil,
                responses: [
                    APIResponse(status: 200, description: "The file's bytes", schema: nil),
                    .problem(404, "No such run or file"), .problem(409, "The file on disk no longer matches its checksum"),
                ] + APIResponse.authProblems
            ) { _, parameters in
                guard let id = Int64(parameters["id"] ?? ""), let name = parameters["name"],
                    let file = try store.exportFiles(runIDs: [id])[id]?.first(where: { $0.name == name })
                else {
                    throw Problems.notFound("run \(parameters["id"] ?? "") has no export file '\(parameters["name"] ?? "")'")
                }
                guard let data = FileManager.default.contents(atPath: file.path) else {
                    throw Problems.notFound("export file '\(name)' of run \(id) is gone from \(file.path)")
                }
                let bytes = [UInt8](data)
                guard SHA256.hex(bytes) == file.sha256 else {
                    throw Problems.conflict(
                        "export file '\(name)' of run \(id) at \(file.path) no longer matches its recorded SHA-256; re-run the export for its range")
                }
                let type =
                    name.hasSuffix(".gz") ? "application/gzip"
                    : name.hasSuffix(".csv") ? "text/csv; charset=utf-8"
                    : name.hasSuffix(".ndjson") ? "application/x-ndjson" : "application/json"
                return HTTPResponse(status: 200, headers: ["Content-Type": type, "X-Wharf-SHA256": file.sha256], body: bytes)
            },
        ]
    }

    /// The OpenAPI schemas of these routes.
    static var schemas: [String: Any] {
        let string: [String: Any] = ["type": "string"]
        let nullableString: [String: Any] = ["type": ["string", "null"]]
        let integer: [String: Any] = ["type": "integer", "format": "int64"]
        let consent: [String: Any] = ["type": "object", "properties": [
            "email": string, "personKind": ["type": "string", "enum": ["customer", "company_user"]], "personId": string,
            "status": ["type": "string", "enum": ["granted", "withdrawn"]], "at": string, "source": string, "updatedAt": string,
        ], "required": ["email", "personKind", "personId", "status", "at", "source", "updatedAt"]]
        return [
            "CustomerInput": ["type": "object", "properties": [
                "email": string, "firstName": nullableString, "lastName": nullableString, "country": nullableString,
            ], "required": ["email"]],
            "Customer": ["type": "object", "properties": [
                "id": string, "email": string, "firstName": nullableString, "lastName": nullableString,
                "country": nullableString, "createdAt": string, "updatedAt": string,
                "consent": ["oneOf": [["$ref": "#/components/schemas/Consent"], ["type": "null"]]],
            ], "required": ["id", "email", "createdAt", "updatedAt"]],
            "ConsentInput": ["type": "object", "properties": [
                "personKind": string, "personId": string, "status": string, "at": string, "source": string,
            ], "required": ["personKind", "personId", "status", "source"]],
            "Consent": consent,
            "ExportRequest": ["type": "object", "properties": ["full": ["type": "boolean"], "from": string, "to": string]],
            "ExportRunPage": ["type": "object", "properties": [
                "items": ["type": "array", "items": ["type": "object", "properties": [
                    "run": ["$ref": "#/components/schemas/Run"], "rows": integer,
                    "files": ["type": "array", "items": ["type": "object", "properties": [
                        "name": string, "rows": integer, "bytes": integer, "sha256": string, "href": string,
                    ]]],
                ]]],
                "nextCursor": nullableString,
            ], "required": ["items", "nextCursor"]],
        ]
    }

    // MARK: Not public

    /// Connectors whose plugin exports (and does not ingest).
    static func exportConnectors(_ deployment: Deployment) -> Set<String> {
        let plugins = deployment.plugins.list(host: HostServices.table).plugins
        let exporters = Set(plugins.filter { $0.capabilities.contains(.export) && !$0.capabilities.contains(.ingest) }.map(\.id))
        return Set(deployment.manifest.connectors.filter { exporters.contains($0.plugin) }.map(\.name))
    }

    private static func isEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && text.utf8.count <= 254
            && !text.contains(where: { $0 == " " || $0 == "," || $0 == "\n" })
    }

    private static func customer(_ c: Customer, consent: MarketingConsent? = nil, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("id", c.id)
        writer.field("email", c.email)
        writer.field("firstName", c.firstName)
        writer.field("lastName", c.lastName)
        writer.field("country", c.country)
        writer.field("createdAt", c.createdAt.rfc3339)
        writer.field("updatedAt", c.updatedAt.rfc3339)
        writer.key("consent")
        if let consent { Self.consent(consent, into: &writer) } else { writer.null() }
        writer.endObject()
    }

    private static func consent(_ c: MarketingConsent, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("email", c.email)
        writer.field("personKind", c.personKind.rawValue)
        writer.field("personId", c.personID)
        writer.field("status", c.status.rawValue)
        writer.field("at", c.at.rfc3339)
        writer.field("source", c.source)
        writer.field("updatedAt", c.updatedAt.rfc3339)
        writer.endObject()
    }
}

import Foundation
import WharfAuth
import WharfHTTP
import WharfModel
import WharfStore

/// B2B routes: companies (registered in real time with the CRM), their users, and customer groups.
enum CompanyRoutes {
    /// The routes; `registration` runs the real-time CRM step of a new company.
    static func routes(deployment: Deployment, registration: CompanyRegistration) -> [APIRoute] {
        let store = deployment.store
        let idParameter = APIParameter.path("id", "The company's Wharf id (co_…).")
        let invalid = APIResponse(status: 422, description: "Fields are invalid", schema: "ValidationProblem")
        let bodyErrors = [APIResponse.problem(400, "The body is not a JSON object"), .problem(415, "The body is not JSON"), invalid]
        return [
            APIRoute(
                method: .POST, path: "/v1/companies", scope: .companiesWrite, operationID: "registerCompany",
                summary: "Registers a company: the CRM is searched by its email domain and tax id in real time; found, the company is linked to it, otherwise created there. crmOutcome says which.",
                tag: "Companies", parameters: [], requestSchema: "CompanyInput",
                responses: [
                    APIResponse(status: 201, description: "Registered and linked to or created in the CRM (or stored without a CRM)", schema: "Company"),
                    APIResponse(status: 202, description: "The CRM did not answer in time: stored as pending, the CRM step is retried in the background", schema: "Company"),
                    .problem(409, "A company with the same email domain, tax id or CRM record exists"),
                    .problem(503, "The CRM did not answer in time and the deployment refuses registrations then"),
                ] + bodyErrors + APIResponse.authProblems
            ) { request, _ in
                let input: Company
                switch CompanyInput.parse(request, existing: nil) {
                case .success(let company): input = company
                case .failure(.problem(let problem)): throw problem
                case .failure(.invalid(let errors)): return Problems.validationFailed(errors)
                }
                let company: Company
                let outcome: RegistrationOutcome
                do throws(RegistrationError) {
                    (company, outcome) = try registration.register(input)
                } catch {
                    switch error.kind {
                    case .invalid: return Problems.validationFailed([(error.field, error.message)])
                    case .conflict:
                        throw Problems.conflict(error.message, instance: error.existingID.map { "/v1/companies/\($0)" })
                    case .crmUnavailable:
                        throw ProblemDetails(
                            type: Problems.base + "crm-unavailable", title: "Service Unavailable", status: 503,
                            detail: error.message, instance: nil)
                    }
                }
                var writer = JSONWriter(capacity: 1024)
                Encoding.company(company, crmOutcome: outcome, into: &writer)
                var response = HTTPResponse.json(outcome == .pending ? 202 : 201, writer.bytes)
                response.headers.replaceOrAdd(name: "Location", value: "/v1/companies/\(company.id)")
                if outcome == .pending, let retry = registration.settings?.retryInterval {
                    // When to look again (GET Location): the first background retry.
                    response.headers.replaceOrAdd(name: "Retry-After", value: String(max(1, retry.components.seconds)))
                }
                return response
            },
            APIRoute(
                method: .GET, path: "/v1/companies", scope: .companiesRead, operationID: "listCompanies",
                summary: "Lists companies in id order, a page at a time.", tag: "Companies",
                parameters: [
                    .query("limit", "Page size, 1 to 1000 (default 100).", type: "integer"),
                    .query("cursor", "The nextCursor of the previous page."),
                    .query("status", "Only companies with this status: pending, approved, rejected or blocked."),
                    .query("customerGroup", "Only companies in this customer group."),
                    .query("active", "true: only active companies; false: only companies deactivated (deleted or merged in the CRM)."),
                    .query("crmState", "Only companies in this CRM state: none, pending, linked, created or synced."),
                    .query("taxId", "Only the company with this tax id."),
                    .query("emailDomain", "Only the company with this email domain."),
                    .query("updatedSince", "Only companies changed at or after this RFC 3339 time."),
                ],
                requestSchema: nil, responses: [.ok("CompanyPage"), .problem(400, "A parameter is invalid")] + APIResponse.authProblems
            ) { request, _ in
                var query = Store.CompanyQuery(limit: try limitParameter(request))
                query.after = try cursorParameter(request)
                query.status = try enumParameter(request, "status", choices: "one of pending, approved, rejected, blocked")
                query.crmState = try enumParameter(request, "crmState", choices: "one of none, pending, linked, created, synced")
                if let text = request.query("active") {
                    guard text == "true" || text == "false" else {
                        throw Problems.badRequest("active must be true or false, not '\(text)'")
                    }
                    query.active = text == "true"
                }
                if let since = try timeParameter(request, "updatedSince") { query.updatedSince = since }
                query.customerGroup = request.query("customerGroup")
                query.taxID = request.query("taxId")
                query.emailDomain = request.query("emailDomain")
                let page = try store.companies(query)
                return pageResponse(page.items, nextKey: page.nextAfter, capacity: 1024) {
                    Encoding.company($0, crmOutcome: nil, into: &$1)
                }
            },
            APIRoute(
                method: .GET, path: "/v1/companies/{id}", scope: .companiesRead, operationID: "getCompany",
                summary: "One company.", tag: "Companies", parameters: [idParameter], requestSchema: nil,
                responses: [.ok("Company"), .problem(404, "No such company")] + APIResponse.authProblems
            ) { _, parameters in
                let company = try existing(store, parameters)
                return json(capacity: 1024) { Encoding.company(company, crmOutcome: nil, into: &$0) }
            },
            APIRoute(
                method: .PATCH, path: "/v1/companies/{id}", scope: .companiesWrite, operationID: "updateCompany",
                summary: "Changes the fields given (JSON merge patch: null clears a field); status, customer group and price lists included.",
                tag: "Companies", parameters: [idParameter], requestSchema: "CompanyPatch",
                responses: [.ok("Company"), .problem(404, "No such company"), .problem(409, "Another company has that email domain or tax id")]
                    + bodyErrors + APIResponse.authProblems
            ) { request, parameters in
                let stored = try existing(store, parameters)
                let changed: Company
                switch CompanyInput.parse(request, existing: stored) {
                case .success(let company): changed = company
                case .failure(.problem(let problem)): throw problem
                case .failure(.invalid(let errors)): return Problems.validationFailed(errors)
                }
                let updated: Company?
                do {
                    updated = try store.updateCompany(changed)
                } catch let error as StoreError where error.code == .conflict {
                    throw Problems.conflict(error.message)
                }
                guard let updated else { throw Problems.notFound("no company with id '\(stored.id)'") }
                return json(capacity: 1024) { Encoding.company(updated, crmOutcome: nil, into: &$0) }
            },
            APIRoute(
                method: .GET, path: "/v1/companies/{id}/users", scope: .companiesRead, operationID: "listCompanyUsers",
                summary: "The company's users in email order.", tag: "Companies", parameters: [idParameter], requestSchema: nil,
                responses: [.ok("CompanyUserList"), .problem(404, "No such company")] + APIResponse.authProblems
            ) { _, parameters in
                let company = try existing(store, parameters)
                let users = try store.companyUsers(companyID: company.id)
                return json(capacity: 512) { writer in
                    writer.beginObject()
                    writer.key("items")
                    writer.beginArray()
                    for user in users { Encoding.companyUser(user, into: &writer) }
                    writer.endArray()
                    writer.endObject()
                }
            },
            APIRoute(
                method: .POST, path: "/v1/companies/{id}/users", scope: .companiesWrite, operationID: "putCompanyUser",
                summary: "Adds a user to the company, or replaces the user with the same email.", tag: "Companies",
                parameters: [idParameter], requestSchema: "CompanyUserInput",
                responses: [
                    APIResponse(status: 201, description: "Added", schema: "CompanyUser"), .ok("CompanyUser", "Replaced or unchanged"),
                    .problem(404, "No such company"),
                ] + bodyErrors + APIResponse.authProblems
            ) { request, parameters in
                let company = try existing(store, parameters)
                let input: CompanyUser
                switch CompanyInput.parseUser(request, companyID: company.id) {
                case .success(let user): input = user
                case .failure(.problem(let problem)): throw problem
                case .failure(.invalid(let errors)): return Problems.validationFailed(errors)
                }
                let (outcome, user) = try store.putCompanyUser(input)
                var response = json(capacity: 256) { Encoding.companyUser(user, into: &$0) }
                if outcome == .inserted { response.status = 201 }
                return response
            },
            APIRoute(
                method: .GET, path: "/v1/customer-groups", scope: .companiesRead, operationID: "listCustomerGroups",
                summary: "Every customer group in code order.", tag: "Companies", parameters: [], requestSchema: nil,
                responses: [.ok("CustomerGroupList")] + APIResponse.authProblems
            ) { _, _ in
                let groups = try store.customerGroups()
                return json { writer in
                    writer.beginObject()
                    writer.key("items")
                    writer.beginArray()
                    for group in groups {
                        writer.beginObject()
                        writer.field("code", group.code)
                        writer.field("name", group.name)
                        writer.field("crmId", group.crmID)
                        writer.field("updatedAt", group.updatedAt?.rfc3339)
                        writer.endObject()
                    }
                    writer.endArray()
                    writer.endObject()
                }
            },
        ]
    }

    /// The company named by the `id` path parameter, or 404.
    private static func existing(_ store: Store, _ parameters: RouteParameters) throws -> Company {
        let id = parameters["id"] ?? ""
        guard let company = try store.company(id: id) else { throw Problems.notFound("no company with id '\(id)'") }
        return company
    }

    /// The OpenAPI schemas of these routes (merged into the document's components).
    static var schemas: [String: Any] {
        let string: [String: Any] = ["type": "string"]
        let nullable: [String: Any] = ["type": ["string", "null"]]
        let time: [String: Any] = ["type": ["string", "null"], "format": "date-time"]
        let boolean: [String: Any] = ["type": "boolean"]
        func object(_ properties: [String: Any], required: [String]) -> [String: Any] {
            ["type": "object", "properties": properties, "required": required]
        }
        func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
        let status: [String: Any] = ["type": "string", "enum": CompanyStatus.allCases.map(\.rawValue)]
        let role: [String: Any] = ["type": "string", "enum": CompanyUserRole.allCases.map(\.rawValue)]
        let address = object(
            ["kind": string, "street": string, "city": string, "postalCode": nullable, "region": nullable, "country": string],
            required: ["kind", "street", "city", "country"])
        let writable: [String: Any] = [
            "legalName": string, "displayName": nullable, "taxId": nullable, "email": nullable, "phone": nullable,
            "addresses": ["type": "array", "items": address], "customerGroup": nullable,
            "priceLists": ["type": "array", "items": string],
        ]
        var patch = writable
        patch["status"] = status
        patch["active"] = boolean
        var company = patch
        company["id"] = string
        company["emailDomain"] = nullable
        company["crmId"] = nullable
        company["crmState"] = ["type": "string", "enum": CRMLinkState.allCases.map(\.rawValue)]
        company["crmOutcome"] = ["type": "string", "enum": ["linked", "created", "pending", "stored"]]
        company["mergedInto"] = nullable
        company["createdAt"] = time
        company["updatedAt"] = time
        let user = object(
            [
                "companyId": string, "email": string, "name": string, "jobTitle": nullable, "role": role, "active": boolean,
                "crmId": nullable, "updatedAt": time,
            ], required: ["companyId", "email", "name", "role", "active"])
        return [
            "CompanyInput": object(writable, required: ["legalName"]),
            "CompanyPatch": object(patch, required: []),
            "Company": object(company, required: ["id", "legalName", "status", "active", "crmState", "addresses", "priceLists"]),
            "CompanyPage": object(
                ["items": ["type": "array", "items": ref("Company")], "nextCursor": nullable], required: ["items", "nextCursor"]),
            "CompanyUser": user,
            "CompanyUserInput": object(
                ["email": string, "name": string, "jobTitle": nullable, "role": role, "active": boolean], required: ["email", "name"]),
            "CompanyUserList": object(["items": ["type": "array", "items": ref("CompanyUser")]], required: ["items"]),
            "CustomerGroupList": object(
                ["items": ["type": "array", "items": object(
                    ["code": string, "name": string, "crmId": nullable, "updatedAt": time], required: ["code", "name"])]],
                required: ["items"]),
        ]
    }
}

extension Encoding {
    /// The fields that say who a company is (id, names, tax id, contact, addresses): the start of the API's company
    /// object and the whole of what a CRM is asked to find or create. Written into an open object.
    static func companyIdentity(_ company: Company, into writer: inout JSONWriter) {
        writer.field("id", company.id)
        writer.field("legalName", company.legalName)
        writer.field("displayName", company.displayName)
        writer.field("taxId", company.taxID)
        writer.field("email", company.email)
        writer.field("emailDomain", company.emailDomain)
        writer.field("phone", company.phone)
        writer.key("addresses")
        writer.beginArray()
        for address in company.addresses {
            writer.beginObject()
            writer.field("kind", address.kind)
            writer.field("street", address.street)
            writer.field("city", address.city)
            writer.field("postalCode", address.postalCode)
            writer.field("region", address.region)
            writer.field("country", address.country)
            writer.endObject()
        }
        writer.endArray()
    }

    /// The API's company object; `crmOutcome` only on the answer to a registration, where it says what the CRM did.
    static func company(_ company: Company, crmOutcome: RegistrationOutcome?, into writer: inout JSONWriter) {
        writer.beginObject()
        companyIdentity(company, into: &writer)
        writer.field("status", company.status.rawValue)
        writer.field("customerGroup", company.customerGroup)
        writer.key("priceLists")
        writer.beginArray()
        for code in company.priceLists { writer.value(code) }
        writer.endArray()
        writer.field("active", company.active)
        writer.field("mergedInto", company.mergedInto)
        writer.field("crmId", company.crmID)
        writer.field("crmState", company.crmState.rawValue)
        if let crmOutcome { writer.field("crmOutcome", crmOutcome.rawValue) }
        writer.field("createdAt", company.createdAt?.rfc3339)
        writer.field("updatedAt", company.updatedAt?.rfc3339)
        writer.endObject()
    }

    /// The API's company user object.
    static func companyUser(_ user: CompanyUser, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("companyId", user.companyID)
        writer.field("email", user.email)
        writer.field("name", user.name)
        writer.field("jobTitle", user.jobTitle)
        writer.field("role", user.role.rawValue)
        writer.field("active", user.active)
        writer.field("crmId", user.crmID)
        writer.field("updatedAt", user.updatedAt?.rfc3339)
        writer.endObject()
    }
}

/// The JSON bodies of the company routes, checked field by field so a client sees every mistake at once.
enum CompanyInput {
    /// The fields a registration may send; a patch may also change status and active.
    static let registrationFields: Set<String> = [
        "legalName", "displayName", "taxId", "email", "phone", "addresses", "customerGroup", "priceLists",
    ]
    static let patchFields = registrationFields.union(["status", "active"])
    /// The fields of a company user body.
    static let userFields: Set<String> = ["email", "name", "jobTitle", "role", "active"]

    /// A registration (`existing` nil: every field as given) or a merge patch of `existing` (only the fields given
    /// change; null clears an optional field).
    static func parse(_ request: HTTPRequest, existing: Company?) -> Result<Company, InputFailure> {
        let object: [String: Any]
        switch body(request, example: #"{"legalName": "ACME GmbH", "email": "buyer@acme.example"}"#) {
        case .success(let parsed): object = parsed
        case .failure(let failure): return .failure(failure)
        }
        let known = existing == nil ? registrationFields : patchFields
        var errors: [(field: String?, reason: String)] = []
        for key in object.keys.sorted() where !known.contains(key) {
            errors.append((key, "unknown field; \(existing == nil ? "a registration" : "a patch") has \(known.sorted().joined(separator: ", "))"))
        }
        var company = existing ?? Company(id: "new", legalName: "")
        func text(_ key: String, required: Bool = false) -> String?? {
            switch object[key] {
            case nil:
                if required && existing == nil { errors.append((key, "required")) }
                return .none
            case is NSNull:
                if required { errors.append((key, "may not be null")) }
                return .some(nil)
            case let value as String: return .some(value)
            default:
                errors.append((key, "must be a string"))
                return .none
            }
        }
        if case .some(let value?) = text("legalName", required: true) { company.legalName = value }
        if case .some(let value) = text("displayName") { company.displayName = value }
        if case .some(let value) = text("taxId") { company.taxID = value }
        if case .some(let value) = text("email") { company.email = value }
        if case .some(let value) = text("phone") { company.phone = value }
        if case .some(let value) = text("customerGroup") { company.customerGroup = value }
        switch object["priceLists"] {
        case nil: break
        case is NSNull: company.priceLists = []
        case let list as [Any]:
            let codes = list.compactMap { $0 as? String }
            if codes.count == list.count { company.priceLists = codes } else { errors.append(("priceLists", "must be an array of price-list codes (strings)")) }
        default: errors.append(("priceLists", "must be an array of price-list codes (strings)"))
        }
        switch object["addresses"] {
        case nil: break
        case is NSNull: company.addresses = []
        case let list as [Any]:
            var addresses: [CompanyAddress] = []
            for (index, item) in list.enumerated() {
                let path = "addresses[\(index)]"
                guard let fields = item as? [String: Any] else {
                    errors.append((path, "must be an object with kind, street, city, postalCode, region, country"))
                    continue
                }
                for key in fields.keys.sorted() where !["kind", "street", "city", "postalCode", "region", "country"].contains(key) {
                    errors.append(("\(path).\(key)", "unknown field; an address has kind, street, city, postalCode, region, country"))
                }
                func field(_ key: String, required: Bool) -> String? {
                    switch fields[key] {
                    case let value as String: return value
                    case nil, is NSNull:
                        if required { errors.append(("\(path).\(key)", "required")) }
                        return nil
                    default:
                        errors.append(("\(path).\(key)", "must be a string"))
                        return nil
                    }
                }
                let kind = field("kind", required: false) ?? "billing"
                let street = field("street", required: true) ?? ""
                let city = field("city", required: true) ?? ""
                let country = field("country", required: true) ?? ""
                addresses.append(
                    CompanyAddress(
                        kind: kind, street: street, city: city, postalCode: field("postalCode", required: false),
                        region: field("region", required: false), country: country))
            }
            company.addresses = addresses
        default: errors.append(("addresses", "must be an array of address objects"))
        }
        if existing != nil {
            switch object["status"] {
            case nil: break
            case let value as String:
                if let status = CompanyStatus(rawValue: value) { company.status = status } else {
                    errors.append(("status", "must be one of pending, approved, rejected, blocked, not '\(value)'"))
                }
            default: errors.append(("status", "must be a string: pending, approved, rejected or blocked"))
            }
            switch object["active"] {
            case nil: break
            case let value as Bool: company.active = value
            default: errors.append(("active", "must be true or false"))
            }
        }
        guard errors.isEmpty else { return .failure(.invalid(errors)) }
        do {
            return .success(try company.validated())
        } catch {
            return .failure(.invalid([(error.field, error.reason)]))
        }
    }

    /// A company user for company `companyID`.
    static func parseUser(_ request: HTTPRequest, companyID: String) -> Result<CompanyUser, InputFailure> {
        let object: [String: Any]
        switch body(request, example: #"{"email": "ann@acme.example", "name": "Ann Smith", "role": "buyer"}"#) {
        case .success(let parsed): object = parsed
        case .failure(let failure): return .failure(failure)
        }
        var errors: [(field: String?, reason: String)] = []
        for key in object.keys.sorted() where !userFields.contains(key) {
            errors.append((key, "unknown field; a company user has \(userFields.sorted().joined(separator: ", "))"))
        }
        func text(_ key: String, required: Bool) -> String? {
            switch object[key] {
            case let value as String: return value
            case nil, is NSNull:
                if required { errors.append((key, "required")) }
                return nil
            default:
                errors.append((key, "must be a string"))
                return nil
            }
        }
        let email = text("email", required: true) ?? ""
        let name = text("name", required: true) ?? ""
        let jobTitle = text("jobTitle", required: false)
        var role = CompanyUserRole.buyer
        if let value = text("role", required: false) {
            if let parsed = CompanyUserRole(rawValue: value) { role = parsed } else {
                errors.append(("role", "must be one of admin, buyer, approver, not '\(value)'"))
            }
        }
        var active = true
        switch object["active"] {
        case nil: break
        case let value as Bool: active = value
        default: errors.append(("active", "must be true or false"))
        }
        guard errors.isEmpty else { return .failure(.invalid(errors)) }
        do {
            return .success(
                try CompanyUser(companyID: companyID, email: email, name: name, jobTitle: jobTitle, role: role, active: active)
                    .validated())
        } catch {
            return .failure(.invalid([(error.field, error.reason)]))
        }
    }

    /// The JSON object body, or the 415/400 problem as an `InputFailure`.
    private static func body(_ request: HTTPRequest, example: String) -> Result<[String: Any], InputFailure> {
        do throws(ProblemDetails) {
            try requireJSONContentType(request, sending: "the body")
            return .success(try jsonObjectBody(request, example: example))
        } catch {
            return .failure(.problem(error))
        }
    }
}

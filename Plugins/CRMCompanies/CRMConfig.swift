import WharfPluginKit

/// Which CRM API the connector talks to: the request and answer shapes differ, the mapping says which fields.
enum CRMAPIShape: String, CaseIterable {
    /// HubSpot CRM v3: `/crm/v3/objects/companies`, `after` cursor paging, properties nested in `properties`,
    /// `POST …/search` with filter groups, `archived=true` for deleted records.
    case hubspot
    /// Salesforce REST: SOQL over `GET …/query?q=`, `nextRecordsUrl` paging, flat fields, `POST …/sobjects/Account`,
    /// `queryAll` with `IsDeleted` for deleted records and `MasterRecordId` for merged ones.
    case salesforce
}

/// The CRM property (field) names Wharf's company, user and group fields map to. Each is a property name of the
/// CRM's object (`vat_id`, `VAT_Number__c`); absent ones are not read or written.
struct CompanyMapping {
    var legalName: String
    var displayName: String?
    var taxID: String?
    var email: String?
    var domain: String?
    var phone: String?
    var status: String?
    var customerGroup: String?
    var priceLists: String?
    var priceListSeparator: String
    /// The property that holds Wharf's company id (the idempotency key of creates).
    var externalID: String
    var street: String?
    var city: String?
    var postalCode: String?
    var region: String?
    var country: String?
    /// CRM status values → Wharf status (`{"Customer": "approved"}`); values already named like Wharf's pass.
    var statusValues: [String: String]

    static let keys = [
        "legalName", "displayName", "taxId", "email", "domain", "phone", "status", "customerGroup", "priceLists",
        "priceListSeparator", "externalId", "street", "city", "postalCode", "region", "country", "statusValues",
    ]

    /// The CRM properties to ask for when reading companies.
    var properties: [String] {
        [legalName, displayName, taxID, email, domain, phone, status, customerGroup, priceLists, externalID, street, city, postalCode, region, country]
            .compactMap { $0 }
    }

    static func defaults(_ shape: CRMAPIShape) -> CompanyMapping {
        switch shape {
        case .hubspot:
            CompanyMapping(
                legalName: "name", displayName: nil, taxID: "vat_id", email: nil, domain: "domain", phone: "phone",
                status: nil, customerGroup: nil, priceLists: nil, priceListSeparator: ";", externalID: "wharf_id",
                street: "address", city: "city", postalCode: "zip", region: "state", country: "country", statusValues: [:])
        case .salesforce:
            CompanyMapping(
                legalName: "Name", displayName: nil, taxID: "VAT_Number__c", email: nil, domain: "Website", phone: "Phone",
                status: nil, customerGroup: nil, priceLists: nil, priceListSeparator: ";", externalID: "Wharf_Id__c",
                street: "BillingStreet", city: "BillingCity", postalCode: "BillingPostalCode", region: "BillingState",
                country: "BillingCountryCode", statusValues: [:])
        }
    }
}

/// Company users: CRM contacts (HubSpot) or Contacts (Salesforce).
struct UserMapping {
    var email: String
    var firstName: String?
    var lastName: String?
    var name: String?
    var jobTitle: String?
    var role: String?
    /// The property holding the CRM id of the contact's company.
    var company: String
    var active: String?

    static let keys = ["email", "firstName", "lastName", "name", "jobTitle", "role", "company", "active"]

    var properties: [String] { [email, firstName, lastName, name, jobTitle, role, company, active].compactMap { $0 } }

    static func defaults(_ shape: CRMAPIShape) -> UserMapping {
        switch shape {
        case .hubspot:
            UserMapping(
                email: "email", firstName: "firstname", lastName: "lastname", name: nil, jobTitle: "jobtitle", role: nil,
                company: "associatedcompanyid", active: nil)
        case .salesforce:
            UserMapping(
                email: "Email", firstName: "FirstName", lastName: "LastName", name: nil, jobTitle: "Title", role: nil,
                company: "AccountId", active: nil)
        }
    }
}

/// Customer groups: a custom object in the CRM.
struct GroupMapping {
    var code: String
    var name: String
    static let keys = ["code", "name"]
}

/// What to read on a scheduled sync.
struct SyncSettings {
    /// Path of the company list (HubSpot) or the query endpoint (Salesforce).
    var companiesPath: String
    /// Path of the contact list, nil: users are not synced.
    var usersPath: String?
    /// Path of the customer-group list, nil: groups are not synced.
    var groupsPath: String?
    /// Salesforce object names.
    var companyObject: String
    var userObject: String
    var groupObject: String
    /// Records per page.
    var pageSize: Int
    /// The query parameter of the incremental read (HubSpot-style lists), nil: every sync reads everything.
    var modifiedSinceParameter: String?
    /// Whether deleted (archived) companies are read to deactivate them.
    var deletions: Bool
}

/// The connector's whole configuration, checked at `create` (and so by `wharf manifest check`).
struct CRMConfig {
    var shape: CRMAPIShape
    var baseURL: String
    var auth: HTTPAuth?
    var timeout: Double
    var maxAttempts: Int
    var searchPath: String
    var createPath: String
    var sync: SyncSettings
    var company: CompanyMapping
    var user: UserMapping
    var group: GroupMapping

    static let configKeys = ["api", "baseURL", "auth", "timeoutSeconds", "maxAttempts", "registration", "paths", "sync"]

    init(context: PluginContext) throws {
        let config = try context.config()
        let mapping = try context.mapping()
        try Self.checkKeys(config, Self.configKeys, "config")
        let shapeName = try Self.string(config, "api", "config") ?? CRMAPIShape.hubspot.rawValue
        guard let shape = CRMAPIShape(rawValue: shapeName) else {
            throw PluginError.invalid("config.api: expected \"hubspot\" or \"salesforce\", found \"\(shapeName)\"")
        }
        self.shape = shape
        guard let base = try Self.string(config, "baseURL", "config"), !base.isEmpty else {
            throw PluginError.invalid("config.baseURL: required, the CRM API's base URL like \"https://api.hubapi.com\"")
        }
        baseURL = base
        if let authValue = config["auth"] {
            do {
                auth = try HTTPAuth.parse(authValue, path: "config.auth", context: context)
            } catch {
                throw error
            }
        }
        timeout = try Self.number(config, "timeoutSeconds", "config", 0.1...600) ?? 4
        maxAttempts = Int(try Self.number(config, "maxAttempts", "config", 1...10) ?? 3)
        try Self.checkRegistration(config["registration"])

        let paths = config["paths"]
        if let paths { try Self.checkKeys(paths, ["search", "create"], "config.paths") }
        switch shape {
        case .hubspot:
            searchPath = try Self.string(paths, "search", "config.paths") ?? "/crm/v3/objects/companies/search"
            createPath = try Self.string(paths, "create", "config.paths") ?? "/crm/v3/objects/companies"
        case .salesforce:
            searchPath = try Self.string(paths, "search", "config.paths") ?? "/services/data/v59.0/query"
            createPath = try Self.string(paths, "create", "config.paths") ?? "/services/data/v59.0/sobjects/Account"
        }

        let syncValue = config["sync"]
        if let syncValue {
            try Self.checkKeys(
                syncValue,
                ["companies", "users", "groups", "companyObject", "userObject", "groupObject", "pageSize", "modifiedSinceParameter", "deletions"],
                "config.sync")
        }
        let defaultList = shape == .hubspot ? "/crm/v3/objects/companies" : "/services/data/v59.0/query"
        sync = SyncSettings(
            companiesPath: try Self.string(syncValue, "companies", "config.sync") ?? defaultList,
            usersPath: try Self.string(syncValue, "users", "config.sync"),
            groupsPath: try Self.string(syncValue, "groups", "config.sync"),
            companyObject: try Self.string(syncValue, "companyObject", "config.sync") ?? "Account",
            userObject: try Self.string(syncValue, "userObject", "config.sync") ?? "Contact",
            groupObject: try Self.string(syncValue, "groupObject", "config.sync") ?? "Customer_Group__c",
            pageSize: Int(try Self.number(syncValue, "pageSize", "config.sync", 1...2000) ?? 100),
            modifiedSinceParameter: try Self.string(syncValue, "modifiedSinceParameter", "config.sync")
                ?? (shape == .hubspot ? "updatedAfter" : nil),
            deletions: try Self.bool(syncValue, "deletions", "config.sync") ?? true)

        try Self.checkKeys(mapping, ["company", "user", "group"], "mapping")
        company = try Self.companyMapping(mapping["company"], shape: shape)
        user = try Self.userMapping(mapping["user"], shape: shape)
        let groupValue = mapping["group"]
        if let groupValue { try Self.checkKeys(groupValue, GroupMapping.keys, "mapping.group") }
        group = GroupMapping(
            code: try Self.string(groupValue, "code", "mapping.group") ?? (shape == .hubspot ? "code" : "Code__c"),
            name: try Self.string(groupValue, "name", "mapping.group") ?? (shape == .hubspot ? "name" : "Name"))
    }

    /// `registration` is read by the host; checked here so a mistake shows at `wharf manifest check`.
    static func checkRegistration(_ value: JSON?) throws(PluginError) {
        guard let value else { return }
        try checkKeys(value, ["deadlineSeconds", "whenCRMUnavailable", "retrySeconds"], "config.registration")
        _ = try number(value, "deadlineSeconds", "config.registration", 0.05...600)
        _ = try number(value, "retrySeconds", "config.registration", 0.05...86_400)
        if let choice = try string(value, "whenCRMUnavailable", "config.registration"), choice != "refuse", choice != "pending" {
            throw PluginError.invalid(
                "config.registration.whenCRMUnavailable: expected \"refuse\" (answer 503) or \"pending\" (keep the company pending and retry), found \"\(choice)\"")
        }
    }

    /// The CRM property name mapped at `path.key`: `current` (the default) when the key is absent, nil when it is
    /// null (not mapped), else a non-empty string.
    static func propertyName(_ value: JSON, _ key: String, _ path: String, default current: String?) throws(PluginError) -> String? {
        guard let entry = value[key] else { return current }
        if case .null = entry { return nil }
        guard let name = entry.stringValue, !name.isEmpty else {
            throw PluginError.invalid("\(path).\(key): expected a CRM property name (a string) or null, found \(entry.kindName)")
        }
        return name
    }

    static func companyMapping(_ value: JSON?, shape: CRMAPIShape) throws(PluginError) -> CompanyMapping {
        var mapping = CompanyMapping.defaults(shape)
        guard let value else { return mapping }
        let path = "mapping.company"
        try checkKeys(value, CompanyMapping.keys, path)
        func property(_ key: String, _ current: String?) throws(PluginError) -> String? {
            try propertyName(value, key, path, default: current)
        }
        mapping.legalName = try property("legalName", mapping.legalName) ?? ""
        if mapping.legalName.isEmpty { throw PluginError.invalid("\(path).legalName: required, the CRM property with the company name") }
        mapping.externalID = try property("externalId", mapping.externalID) ?? ""
        if mapping.externalID.isEmpty {
            throw PluginError.invalid(
                "\(path).externalId: required, a CRM property that holds Wharf's company id, so a retried create finds the record instead of making a duplicate")
        }
        let optional: [(String, WritableKeyPath<CompanyMapping, String?>)] = [
            ("displayName", \.displayName), ("taxId", \.taxID), ("email", \.email), ("domain", \.domain),
            ("phone", \.phone), ("status", \.status), ("customerGroup", \.customerGroup), ("priceLists", \.priceLists),
            ("street", \.street), ("city", \.city), ("postalCode", \.postalCode), ("region", \.region),
            ("country", \.country),
        ]
        for (key, field) in optional { mapping[keyPath: field] = try property(key, mapping[keyPath: field]) }
        mapping.priceListSeparator = try string(value, "priceListSeparator", path) ?? ";"
        if mapping.taxID == nil && mapping.domain == nil {
            throw PluginError.invalid("\(path): map taxId or domain (or both): they are the keys companies are matched by")
        }
        if let values = value["statusValues"] {
            guard case .object(let object) = values else {
                throw PluginError.invalid("\(path).statusValues: expected an object like {\"Customer\": \"approved\"}, found \(values.kindName)")
            }
            for (crmValue, wharfValue) in object.members {
                guard let text = wharfValue.stringValue, ["pending", "approved", "rejected", "blocked"].contains(text) else {
                    throw PluginError.invalid(
                        "\(path).statusValues.\(crmValue): expected pending, approved, rejected or blocked, found \(wharfValue.scalarText ?? wharfValue.kindName)")
                }
                mapping.statusValues[crmValue] = text
            }
        }
        return mapping
    }

    static func userMapping(_ value: JSON?, shape: CRMAPIShape) throws(PluginError) -> UserMapping {
        var mapping = UserMapping.defaults(shape)
        guard let value else { return mapping }
        let path = "mapping.user"
        try checkKeys(value, UserMapping.keys, path)
        func property(_ key: String, _ current: String?) throws(PluginError) -> String? {
            try propertyName(value, key, path, default: current)
        }
        mapping.email = try property("email", mapping.email) ?? ""
        if mapping.email.isEmpty { throw PluginError.invalid("\(path).email: required, the contact's email property") }
        mapping.company = try property("company", mapping.company) ?? ""
        if mapping.company.isEmpty { throw PluginError.invalid("\(path).company: required, the property with the contact's company id") }
        let optional: [(String, WritableKeyPath<UserMapping, String?>)] = [
            ("firstName", \.firstName), ("lastName", \.lastName), ("name", \.name), ("jobTitle", \.jobTitle),
            ("role", \.role), ("active", \.active),
        ]
        for (key, field) in optional { mapping[keyPath: field] = try property(key, mapping[keyPath: field]) }
        return mapping
    }

    // MARK: Small checked readers

    static func checkKeys(_ value: JSON, _ known: [String], _ path: String) throws(PluginError) {
        guard case .object(let object) = value else {
            throw PluginError.invalid("\(path): expected an object, found \(value.kindName)")
        }
        for key in object.keys where !known.contains(key) {
            throw PluginError.invalid("\(path).\(key): not a known key; use \(known.joined(separator: ", "))")
        }
    }

    static func string(_ object: JSON?, _ key: String, _ path: String) throws(PluginError) -> String? {
        guard let value = object?[key] else { return nil }
        guard let text = value.stringValue else {
            throw PluginError.invalid("\(path).\(key): expected a string, found \(value.kindName)")
        }
        return text
    }

    static func number(_ object: JSON?, _ key: String, _ path: String, _ range: ClosedRange<Double>) throws(PluginError) -> Double? {
        guard let value = object?[key] else { return nil }
        guard case .number(let text) = value, let number = Double(text), range.contains(number) else {
            throw PluginError.invalid(
                "\(path).\(key): expected a number from \(range.lowerBound.formatted()) to \(range.upperBound.formatted()), found \(value.scalarText ?? value.kindName)")
        }
        return number
    }

    static func bool(_ object: JSON?, _ key: String, _ path: String) throws(PluginError) -> Bool? {
        guard let value = object?[key] else { return nil }
        guard case .bool(let flag) = value else {
            throw PluginError.invalid("\(path).\(key): expected true or false, found \(value.kindName)")
        }
        return flag
    }
}

extension Double {
    /// "5" for 5.0, "0.05" for 0.05.
    fileprivate func formatted() -> String {
        self == rounded() ? String(Int(self)) : String(self)
    }
}

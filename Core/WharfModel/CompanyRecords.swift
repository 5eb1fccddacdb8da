/// A company as a CRM sync reports it: keyed by its CRM id, possibly deleted or merged into another.
public struct CRMCompanyRecord: Sendable, Hashable {
    /// The company's id in the CRM (the record's key).
    public var crmID: String
    /// Wharf's company id when the CRM holds it (companies registered through Wharf), else nil.
    public var externalID: String?
    /// True when the CRM deleted (archived) the company, or merged it into `mergedInto`: Wharf deactivates it.
    public var deleted: Bool
    /// The CRM id of the company this one was merged into.
    public var mergedInto: String?
    /// The company's fields (its `id` is a placeholder, its `crmState` unused); nil for a deleted company.
    public var company: Company?
    /// The status the CRM gives, nil when it gives none (then a known company keeps its status and a new one is
    /// approved: the CRM's companies are the merchant's customers).
    public var status: CompanyStatus?

    /// A record.
    public init(
        crmID: String, externalID: String? = nil, deleted: Bool = false, mergedInto: String? = nil, company: Company? = nil,
        status: CompanyStatus? = nil
    ) {
        self.crmID = crmID
        self.externalID = externalID
        self.deleted = deleted
        self.mergedInto = mergedInto
        self.company = company
        self.status = status
    }

    /// The record when it follows the model's rules, otherwise the first problem.
    public func validated() throws(FieldError) -> CRMCompanyRecord {
        var copy = self
        try Rules.length(crmID, field: "crm_id", max: 128)
        if !deleted {
            guard let company else {
                throw FieldError(field: "legal_name", reason: "company record '\(crmID)' is missing required field 'legal_name'")
            }
            copy.company = try company.validated()
        }
        return copy
    }
}

/// A company user as a CRM sync reports it: the CRM id of their company, and the user.
public struct CRMCompanyUserRecord: Sendable, Hashable {
    /// The CRM id of the user's company.
    public var companyCRMID: String
    /// The user (its `companyID` is filled in by the store from `companyCRMID`).
    public var user: CompanyUser

    /// A record.
    public init(companyCRMID: String, user: CompanyUser) {
        self.companyCRMID = companyCRMID
        self.user = user
    }

    /// The record when it follows the model's rules, otherwise the first problem.
    public func validated() throws(FieldError) -> CRMCompanyUserRecord {
        try Rules.length(companyCRMID, field: "company_crm_id", max: 128)
        var copy = self
        copy.user.companyID = "crm:" + companyCRMID
        copy.user = try copy.user.validated()
        copy.user.companyID = user.companyID
        return copy
    }
}

/// Flat-record decoding and encoding of the B2B entities: "company", "company_user", "customer_group".
enum CompanyRecordCodec {
    static let companyFields = [
        "crm_id", "external_id", "deleted", "merged_into", "legal_name", "display_name", "tax_id", "email", "domain",
        "phone", "status", "customer_group", "address.street", "address.city", "address.postal_code", "address.region",
        "address.country",
    ]
    static let userFields = ["company_crm_id", "email", "name", "job_title", "role", "active", "crm_id"]
    static let groupFields = ["code", "name", "crm_id"]

    static func fieldNames(entity: String) -> [String]? {
        switch entity {
        case "company": companyFields + ["price_list"]
        case "company_user": userFields
        case "customer_group": groupFields
        default: nil
        }
    }

    /// Values by position in `known`; `price_list` may repeat; unknown and repeated fields are errors.
    private static func collect(
        _ fields: [(name: String, value: String?)], entity: String, known: [String], repeats: String? = nil
    ) throws(FieldError) -> (values: [String?], repeated: [String]) {
        var values = [String?](repeating: nil, count: known.count)
        var seen = [Bool](repeating: false, count: known.count)
        var repeated: [String] = []
        for field in fields {
            if field.name == repeats {
                if let v = field.value, !v.isEmpty { repeated.append(v) }
                continue
            }
            guard let index = known.firstIndex(of: field.name) else {
                throw FieldError(
                    field: field.name,
                    reason: "unknown field '\(Rules.printable(field.name))' for entity \(entity); known fields: "
                        + (fieldNames(entity: entity) ?? known).joined(separator: ", "))
            }
            if seen[index] {
                throw FieldError(field: field.name, reason: "field '\(field.name)' appears more than once in one \(entity) record")
            }
            seen[index] = true
            if let v = field.value, !v.isEmpty { values[index] = v }
        }
        return (values, repeated)
    }

    private static func flag(_ value: String?, _ field: String) throws(FieldError) -> Bool? {
        switch value?.lowercased() {
        case nil: return nil
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw FieldError(field: field, reason: "\(field) '\(Rules.printable(value!))' must be true or false")
        }
    }

    static func decodeCompany(_ fields: [(name: String, value: String?)]) throws(FieldError) -> CRMCompanyRecord {
        let (v, priceLists) = try collect(fields, entity: "company", known: companyFields, repeats: "price_list")
        guard let crmID = v[0] else { throw FieldError(field: "crm_id", reason: "company record is missing required field 'crm_id'") }
        let deleted = try flag(v[2], "deleted") ?? false
        var status: CompanyStatus?
        if let s = v[10] {
            guard let parsed = CompanyStatus(rawValue: s) else {
                throw FieldError(field: "status", reason: "status '\(Rules.printable(s))' is not one of pending, approved, rejected, blocked")
            }
            status = parsed
        }
        var company: Company?
        if !deleted {
            guard let legalName = v[4] else {
                throw FieldError(field: "legal_name", reason: "company record '\(crmID)' is missing required field 'legal_name'")
            }
            var addresses: [CompanyAddress] = []
            if v[12] != nil || v[13] != nil || v[16] != nil {
                guard let street = v[12], let city = v[13], let country = v[16] else {
                    throw FieldError(
                        field: v[12] == nil ? "address.street" : v[13] == nil ? "address.city" : "address.country",
                        reason: "an address needs address.street, address.city and address.country")
                }
                addresses.append(CompanyAddress(kind: "billing", street: street, city: city, postalCode: v[14], region: v[15], country: country))
            }
            company = Company(
                id: "crm:" + crmID, legalName: legalName, displayName: v[5], taxID: v[6], email: v[7], domain: v[8], phone: v[9],
                addresses: addresses, status: status ?? .approved, customerGroup: v[11], priceLists: priceLists, crmID: crmID)
        }
        return try CRMCompanyRecord(
            crmID: crmID, externalID: v[1], deleted: deleted, mergedInto: v[3], company: company, status: status
        ).validated()
    }

    static func decodeUser(_ fields: [(name: String, value: String?)]) throws(FieldError) -> CRMCompanyUserRecord {
        let (v, _) = try collect(fields, entity: "company_user", known: userFields)
        guard let company = v[0] else {
            throw FieldError(field: "company_crm_id", reason: "company_user record is missing required field 'company_crm_id'")
        }
        guard let email = v[1] else { throw FieldError(field: "email", reason: "company_user record is missing required field 'email'") }
        guard let name = v[2] else { throw FieldError(field: "name", reason: "company_user record is missing required field 'name'") }
        var role = CompanyUserRole.buyer
        if let r = v[4] {
            guard let parsed = CompanyUserRole(rawValue: r.lowercased()) else {
                throw FieldError(field: "role", reason: "role '\(Rules.printable(r))' is not one of admin, buyer, approver")
            }
            role = parsed
        }
        let user = CompanyUser(
            companyID: "", email: email, name: name, jobTitle: v[3], role: role, active: try flag(v[5], "active") ?? true, crmID: v[6])
        return try CRMCompanyUserRecord(companyCRMID: company, user: user).validated()
    }

    static func decodeGroup(_ fields: [(name: String, value: String?)]) throws(FieldError) -> CustomerGroup {
        let (v, _) = try collect(fields, entity: "customer_group", known: groupFields)
        guard let code = v[0] else { throw FieldError(field: "code", reason: "customer_group record is missing required field 'code'") }
        return try CustomerGroup(code: code, name: v[1] ?? code, crmID: v[2]).validated()
    }

    static func encode(_ record: ModelRecord) -> [(name: String, value: String)]? {
        var out: [(name: String, value: String)] = []
        func add(_ name: String, _ value: String?) { if let value, !value.isEmpty { out.append((name, value)) } }
        switch record {
        case .company(let r):
            add("crm_id", r.crmID)
            add("external_id", r.externalID)
            if r.deleted { add("deleted", "true") }
            add("merged_into", r.mergedInto)
            if let c = r.company {
                add("legal_name", c.legalName)
                add("display_name", c.displayName)
                add("tax_id", c.taxID)
                add("email", c.email)
                add("domain", c.domain)
                add("phone", c.phone)
                add("status", r.status?.rawValue)
                add("customer_group", c.customerGroup)
                if let a = c.addresses.first {
                    add("address.street", a.street)
                    add("address.city", a.city)
                    add("address.postal_code", a.postalCode)
                    add("address.region", a.region)
                    add("address.country", a.country)
                }
                for code in c.priceLists { add("price_list", code) }
            }
        case .companyUser(let r):
            add("company_crm_id", r.companyCRMID)
            add("email", r.user.email)
            add("name", r.user.name)
            add("job_title", r.user.jobTitle)
            add("role", r.user.role.rawValue)
            add("active", r.user.active ? "true" : "false")
            add("crm_id", r.user.crmID)
        case .customerGroup(let g):
            add("code", g.code)
            add("name", g.name)
            add("crm_id", g.crmID)
        default:
            return nil
        }
        return out
    }
}

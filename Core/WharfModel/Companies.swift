/// Where a B2B company stands with the merchant.
public enum CompanyStatus: String, Sendable, Hashable, CaseIterable {
    /// Registered, not yet reviewed (or not yet confirmed by the CRM).
    case pending
    /// May buy on account.
    case approved
    /// Refused.
    case rejected
    /// Was approved, may not buy any more.
    case blocked
}

/// What a company user may do for the company.
public enum CompanyUserRole: String, Sendable, Hashable, CaseIterable {
    /// Manages the company's users and settings.
    case admin
    /// Places orders and requests quotes.
    case buyer
    /// Approves the buyers' orders.
    case approver
}

/// Where a company stands with the CRM: how Wharf's record got (or will get) its CRM id.
public enum CRMLinkState: String, Sendable, Hashable, CaseIterable {
    /// No CRM is involved (no connector answers registrations).
    case none
    /// The CRM step has not succeeded yet; Wharf retries it in the background.
    case pending
    /// The CRM already had the company; Wharf's record is linked to it.
    case linked
    /// The CRM did not have the company; Wharf created it there.
    case created
    /// The company came into Wharf from the CRM's scheduled sync.
    case synced
}

/// One postal address of a company.
public struct CompanyAddress: Sendable, Hashable {
    /// What the address is for: `billing`, `shipping` or `office` (free text, 1 to 32 characters).
    public var kind: String
    /// Street and house number (lines joined by newlines), 1 to 512 characters.
    public var street: String
    /// Town or city, 1 to 128 characters.
    public var city: String
    /// Postal code, up to 32 characters, if the country has them.
    public var postalCode: String?
    /// State, province or region, if any.
    public var region: String?
    /// ISO 3166-1 alpha-2 country code ("DE"); `validated()` upper-cases it.
    public var country: String

    /// An address.
    public init(kind: String, street: String, city: String, postalCode: String? = nil, region: String? = nil, country: String) {
        self.kind = kind
        self.street = street
        self.city = city
        self.postalCode = postalCode
        self.region = region
        self.country = country
    }

    /// The address when it follows the model's rules (country upper-cased); `field` prefixes field names
    /// ("addresses[0]").
    public func validated(field: String) throws(FieldError) -> CompanyAddress {
        try Rules.length(kind, field: "\(field).kind", max: 32)
        try Rules.length(street, field: "\(field).street", max: 512)
        try Rules.length(city, field: "\(field).city", max: 128)
        if let postalCode { try Rules.length(postalCode, field: "\(field).postalCode", max: 32) }
        if let region { try Rules.length(region, field: "\(field).region", max: 128) }
        var copy = self
        copy.country = country.uppercased()
        guard copy.country.utf8.count == 2, copy.country.utf8.allSatisfy({ (65...90).contains($0) }) else {
            throw FieldError(
                field: "\(field).country",
                reason: "\(field).country must be an ISO 3166-1 alpha-2 code such as DE or US, not '\(Rules.printable(country))'")
        }
        return copy
    }
}

/// A B2B customer: a company whose employees buy on its behalf.
///
/// Its match keys — the domain of its email address and its tax id — are unique among companies: a registration
/// or a CRM record with the same domain or tax id is the same company.
public struct Company: Sendable, Hashable {
    /// Wharf's id ("co_" + 20 hex digits); also sent to the CRM as the company's external id, so a retried create
    /// finds the record an earlier attempt made.
    public var id: String
    /// The registered legal name, 1 to 256 characters.
    public var legalName: String
    /// The name shown to people; the legal name when absent.
    public var displayName: String?
    /// VAT or tax id ("DE123456789"); `validated()` upper-cases it and drops spaces, dots and dashes.
    public var taxID: String?
    /// The company's email address; its domain is a match key.
    public var email: String?
    /// The company's web or email domain when it differs from the domain of `email` (a CRM keeps a website
    /// domain; a company may have no email at all). Lower-cased by `validated()`.
    public var domain: String?
    /// Phone number as given.
    public var phone: String?
    /// Postal addresses, in order.
    public var addresses: [CompanyAddress]
    /// Where the company stands with the merchant.
    public var status: CompanyStatus
    /// The code of the customer group it belongs to, if any.
    public var customerGroup: String?
    /// Codes of the price lists assigned to it, in order (no foreign key: price lists may arrive later).
    public var priceLists: [String]
    /// The company's id in the CRM, once known.
    public var crmID: String?
    /// False when the CRM deleted or merged the company: it stays for history but may not buy.
    public var active: Bool
    /// The CRM id of the company it was merged into, when it was merged.
    public var mergedInto: String?
    /// How the company is linked to the CRM.
    public var crmState: CRMLinkState
    /// When the store first saw the company (set by the store).
    public var createdAt: Timestamp?
    /// When it last changed in the store (set by the store).
    public var updatedAt: Timestamp?

    /// A company. Timestamps are filled in by the store.
    public init(
        id: String, legalName: String, displayName: String? = nil, taxID: String? = nil, email: String? = nil,
        domain: String? = nil, phone: String? = nil, addresses: [CompanyAddress] = [], status: CompanyStatus = .pending,
        customerGroup: String? = nil, priceLists: [String] = [], crmID: String? = nil, active: Bool = true,
        mergedInto: String? = nil, crmState: CRMLinkState = .none, createdAt: Timestamp? = nil, updatedAt: Timestamp? = nil
    ) {
        self.id = id
        self.legalName = legalName
        self.displayName = displayName
        self.taxID = taxID
        self.email = email
        self.domain = domain
        self.phone = phone
        self.addresses = addresses
        self.status = status
        self.customerGroup = customerGroup
        self.priceLists = priceLists
        self.crmID = crmID
        self.active = active
        self.mergedInto = mergedInto
        self.crmState = crmState
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The first match key: `domain` when set, otherwise the lower-cased domain of `email` ("acme.example"); nil
    /// when the company has neither.
    public var emailDomain: String? {
        if let domain, !domain.isEmpty { return domain.lowercased() }
        return Company.domain(ofEmail: email)
    }

    /// The lower-cased domain of an email address, or nil.
    public static func domain(ofEmail email: String?) -> String? {
        guard let email, let at = email.lastIndex(of: "@") else { return nil }
        let domain = email[email.index(after: at)...].lowercased()
        return domain.isEmpty ? nil : domain
    }

    /// A new random company id ("co_" + 20 hex digits).
    public static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = UInt64.random(in: 0...UInt64.max, using: &generator)
        let low = UInt16.random(in: 0...UInt16.max, using: &generator)
        func hex<T: FixedWidthInteger>(_ value: T, digits: Int) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: max(0, digits - text.count)) + text
        }
        return "co_" + hex(high, digits: 16) + hex(low, digits: 4)
    }

    /// A tax id as it is compared: upper case, without spaces, dots, dashes or slashes ("de 123.456-789" →
    /// "DE123456789").
    public static func normalizedTaxID(_ text: String) -> String {
        String(text.uppercased().unicodeScalars.filter { !" .-/\t".unicodeScalars.contains($0) }.map(Character.init))
    }

    /// The company when every field follows the model's rules, otherwise the first problem found. It comes back
    /// normalized: tax id compared form, country codes upper-cased, repeated price lists dropped, empty optional
    /// texts as nil.
    public func validated() throws(FieldError) -> Company {
        var copy = self
        try Rules.length(id, field: "id", max: 64)
        try Rules.length(legalName, field: "legalName", max: 256)
        copy.displayName = displayName.flatMap { $0.isEmpty ? nil : $0 }
        if let name = copy.displayName { try Rules.length(name, field: "displayName", max: 256) }
        copy.taxID = taxID.map(Company.normalizedTaxID).flatMap { $0.isEmpty ? nil : $0 }
        if let tax = copy.taxID {
            try Rules.length(tax, field: "taxId", max: 32)
            guard tax.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) }) else {
                throw FieldError(field: "taxId", reason: "taxId may hold only letters and digits, not '\(Rules.printable(tax))'")
            }
        }
        copy.email = email.flatMap { $0.isEmpty ? nil : $0 }
        if let email = copy.email { try Rules.email(email, field: "email") }
        copy.domain = domain.map { $0.lowercased() }.flatMap { $0.isEmpty || $0 == Company.domain(ofEmail: copy.email) ? nil : $0 }
        if let domain = copy.domain {
            try Rules.length(domain, field: "domain", max: 253)
            guard domain.contains("."), !domain.contains("@"), !domain.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0 == "/" }) else {
                throw FieldError(field: "domain", reason: "domain '\(Rules.printable(domain))' is not a domain name like acme.example")
            }
        }
        copy.phone = phone.flatMap { $0.isEmpty ? nil : $0 }
        if let phone = copy.phone { try Rules.length(phone, field: "phone", max: 64) }
        copy.addresses = []
        for (index, address) in addresses.enumerated() {
            copy.addresses.append(try address.validated(field: "addresses[\(index)]"))
        }
        copy.customerGroup = customerGroup.flatMap { $0.isEmpty ? nil : $0 }
        if let group = copy.customerGroup { try Rules.categoryCode(group, field: "customerGroup") }
        for code in priceLists { try Rules.categoryCode(code, field: "priceLists") }
        copy.priceLists = Rules.withoutRepeats(priceLists)
        copy.crmID = crmID.flatMap { $0.isEmpty ? nil : $0 }
        if let crm = copy.crmID { try Rules.length(crm, field: "crmId", max: 128) }
        return copy
    }
}

/// A person who buys, approves or administers for a company.
public struct CompanyUser: Sendable, Hashable {
    /// The company's Wharf id.
    public var companyID: String
    /// The user's email address, their key within the company (compared in lower case).
    public var email: String
    /// Full name, 1 to 256 characters.
    public var name: String
    /// Job title, if known.
    public var jobTitle: String?
    /// What the user may do.
    public var role: CompanyUserRole
    /// False for people who left or were deactivated.
    public var active: Bool
    /// The person's id in the CRM, if known.
    public var crmID: String?
    /// When it last changed in the store (set by the store).
    public var updatedAt: Timestamp?

    /// A company user.
    public init(
        companyID: String, email: String, name: String, jobTitle: String? = nil, role: CompanyUserRole = .buyer,
        active: Bool = true, crmID: String? = nil, updatedAt: Timestamp? = nil
    ) {
        self.companyID = companyID
        self.email = email
        self.name = name
        self.jobTitle = jobTitle
        self.role = role
        self.active = active
        self.crmID = crmID
        self.updatedAt = updatedAt
    }

    /// The user when every field follows the model's rules (email lower-cased), otherwise the first problem.
    public func validated() throws(FieldError) -> CompanyUser {
        var copy = self
        try Rules.length(companyID, field: "companyId", max: 64)
        copy.email = email.lowercased()
        try Rules.email(copy.email, field: "email")
        try Rules.length(name, field: "name", max: 256)
        copy.jobTitle = jobTitle.flatMap { $0.isEmpty ? nil : $0 }
        if let title = copy.jobTitle { try Rules.length(title, field: "jobTitle", max: 128) }
        copy.crmID = crmID.flatMap { $0.isEmpty ? nil : $0 }
        return copy
    }
}

/// A customer group: companies that share conditions (price lists, payment terms).
public struct CustomerGroup: Sendable, Hashable {
    /// The group's code, its key (the rules of a category code).
    public var code: String
    /// Display name, 1 to 256 characters.
    public var name: String
    /// Its id in the CRM, if it came from there.
    public var crmID: String?
    /// When it last changed in the store (set by the store).
    public var updatedAt: Timestamp?

    /// A group.
    public init(code: String, name: String, crmID: String? = nil, updatedAt: Timestamp? = nil) {
        self.code = code
        self.name = name
        self.crmID = crmID
        self.updatedAt = updatedAt
    }

    /// The group when it follows the model's rules, otherwise the first problem.
    public func validated() throws(FieldError) -> CustomerGroup {
        try Rules.categoryCode(code, field: "code")
        try Rules.length(name, field: "name", max: 256)
        var copy = self
        copy.crmID = crmID.flatMap { $0.isEmpty ? nil : $0 }
        return copy
    }
}

extension Rules {
    /// A plausible email address: one "@" with text on both sides, a dot in the domain, no spaces, ≤ 254 bytes.
    static func email(_ email: String, field: String) throws(FieldError) {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.utf8.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
            !email.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 })
        else {
            throw FieldError(field: field, reason: "\(field) '\(printable(email))' is not an email address like buyer@acme.example")
        }
    }
}

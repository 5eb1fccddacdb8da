/// A B2C shopper. Company users (B2B) are kept elsewhere; both meet in ``MarketingConsent`` by email.
public struct Customer: Sendable, Hashable {
    /// The storefront's id for the customer.
    public var id: String
    /// Email address, as given.
    public var email: String
    /// Given name.
    public var firstName: String?
    /// Family name.
    public var lastName: String?
    /// ISO 3166-1 alpha-2 country code, upper case.
    public var country: String?
    /// When Wharf first stored the customer.
    public var createdAt: Timestamp
    /// When Wharf last changed the customer.
    public var updatedAt: Timestamp

    /// A customer with every field given.
    public init(
        id: String, email: String, firstName: String?, lastName: String?, country: String?, createdAt: Timestamp,
        updatedAt: Timestamp
    ) {
        self.id = id
        self.email = email
        self.firstName = firstName
        self.lastName = lastName
        self.country = country
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Whose consent a ``MarketingConsent`` is.
public enum ConsentPersonKind: String, Sendable, Hashable, CaseIterable {
    /// A B2C customer (`customers`).
    case customer
    /// A B2B company user.
    case companyUser = "company_user"
}

/// Whether a person agreed to marketing email.
public enum ConsentStatus: String, Sendable, Hashable, CaseIterable {
    /// The person agreed.
    case granted
    /// The person took the agreement back (or unsubscribed).
    case withdrawn
}

/// The latest marketing consent of one email address. Only `granted` people are ever exported to an eDM.
public struct MarketingConsent: Sendable, Hashable {
    /// The email address, lower-cased: the key.
    public var email: String
    /// Customer or company user.
    public var personKind: ConsentPersonKind
    /// The person's id in its kind.
    public var personID: String
    /// Granted or withdrawn.
    public var status: ConsentStatus
    /// When the person gave or withdrew it.
    public var at: Timestamp
    /// Where it was given ("checkout", "newsletter-form", "edm-unsubscribe").
    public var source: String
    /// When Wharf last stored a change.
    public var updatedAt: Timestamp

    /// A consent with every field given; `email` is lower-cased.
    public init(
        email: String, personKind: ConsentPersonKind, personID: String, status: ConsentStatus, at: Timestamp,
        source: String, updatedAt: Timestamp
    ) {
        self.email = email.lowercased()
        self.personKind = personKind
        self.personID = personID
        self.status = status
        self.at = at
        self.source = source
        self.updatedAt = updatedAt
    }
}

/// One file an export run completed and renamed into place.
public struct ExportFile: Sendable, Hashable {
    /// The run that wrote it.
    public var runID: Int64
    /// Its name relative to the run's folder ("orders/day=2026-11-23/orders.csv").
    public var name: String
    /// Where it is on disk (absolute).
    public var path: String
    /// Data rows in it (headers not counted).
    public var rows: Int64
    /// Its size in bytes.
    public var bytes: Int64
    /// SHA-256 of its bytes, lower-case hex.
    public var sha256: String

    /// A file with every field given.
    public init(runID: Int64, name: String, path: String, rows: Int64, bytes: Int64, sha256: String) {
        self.runID = runID
        self.name = name
        self.path = path
        self.rows = rows
        self.bytes = bytes
        self.sha256 = sha256
    }
}

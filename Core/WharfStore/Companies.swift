import CSQLite
import WharfModel

extension Store {
    /// Which companies `companies(_:)` lists.
    public struct CompanyQuery: Sendable, Hashable {
        /// Only companies with this status, when set.
        public var status: CompanyStatus?
        /// Only companies in this customer group, when set.
        public var customerGroup: String?
        /// Only active (true) or deactivated (false) companies, when set.
        public var active: Bool?
        /// Only companies in this CRM state, when set (`pending`: waiting for the CRM step).
        public var crmState: CRMLinkState?
        /// Only companies with this tax id (compared normalized), when set.
        public var taxID: String?
        /// Only companies whose email has this domain (lower case), when set.
        public var emailDomain: String?
        /// Only companies changed at or after this instant, when set.
        public var updatedSince: Timestamp?
        /// The last id of the previous page (its `nextAfter`), or nil for the first page.
        public var after: String?
        /// Companies per page, 1...1000.
        public var limit: Int

        /// A query; with no arguments, the first 100 companies in id order.
        public init(
            status: CompanyStatus? = nil, customerGroup: String? = nil, active: Bool? = nil, crmState: CRMLinkState? = nil,
            taxID: String? = nil, emailDomain: String? = nil, updatedSince: Timestamp? = nil, after: String? = nil,
            limit: Int = 100
        ) {
            self.status = status
            self.customerGroup = customerGroup
            self.active = active
            self.crmState = crmState
            self.taxID = taxID
            self.emailDomain = emailDomain
            self.updatedSince = updatedSince
            self.after = after
            self.limit = limit
        }
    }

    /// One page of companies in id order.
    public struct CompanyPage: Sendable, Hashable {
        /// The companies.
        public var items: [Company]
        /// The value for the next query's `after` when more follow; nil on the last page.
        public var nextAfter: String?
    }

    /// Stores a new company (validated; timestamps set). A company whose email domain, tax id or CRM id another
    /// company already has fails with `.conflict`, and the message names that company. A company in CRM state
    /// `pending` is first retried at `crmRetryAt` (the background retrier leaves it alone until then).
    @discardableResult
    public func insertCompany(_ input: Company, crmRetryAt: Timestamp? = nil) throws(StoreError) -> Company {
        let company = try Store.validated(input)
        let now = Timestamp.now().millisecondsSinceEpoch
        return try write("store company '\(company.id)'") { db in
            try db.transaction {
                if let existing = try Store.companyMatching(db, company, excludingID: nil) {
                    throw Store.matchConflict(company, existing)
                }
                try Store.insertCompanyRow(
                    db, company, crmNextAttemptAt: company.crmState == .pending ? (crmRetryAt?.millisecondsSinceEpoch ?? now) : nil,
                    now: now)
                return try Store.company(db, id: company.id)!
            }
        }
    }

    /// The company with `id`, or nil.
    public func company(id: String) throws(StoreError) -> Company? {
        try read("read company '\(id)'") { db in try Store.company(db, id: id) }
    }

    /// The company with CRM id `crmID`, or nil.
    public func company(crmID: String) throws(StoreError) -> Company? {
        try read("read the company with CRM id '\(crmID)'") { db in
            try Store.companyID(db, where: "crm_id = ?1", crmID).flatMap { id in try Store.company(db, id: id) }
        }
    }

    /// The company that has `company`'s email domain or tax id (its match keys), or nil.
    public func company(matching company: Company) throws(StoreError) -> Company? {
        let normalized = try Store.validated(company)
        return try read("look up a company by its match keys") { db in
            try Store.companyMatching(db, normalized, excludingID: nil)
        }
    }

    /// A page of companies in id order, filtered by `query`.
    public func companies(_ query: CompanyQuery) throws(StoreError) -> CompanyPage {
        guard (1...1000).contains(query.limit) else {
            throw StoreError(code: .invalidArgument, message: "a page of companies holds 1 to 1000, not \(query.limit)")
        }
        var conditions: [String] = []
        var texts: [String] = []
        func text(_ value: String) -> String {
            texts.append(value)
            return "?\(texts.count)"
        }
        if let status = query.status { conditions.append("status = \(text(status.rawValue))") }
        if let group = query.customerGroup { conditions.append("customer_group = \(text(group))") }
        if let active = query.active { conditions.append(active ? "active = 1" : "active = 0") }
        if let state = query.crmState { conditions.append("crm_state = \(text(state.rawValue))") }
        if let tax = query.taxID { conditions.append("tax_id = \(text(Company.normalizedTaxID(tax)))") }
        if let domain = query.emailDomain { conditions.append("email_domain = \(text(domain.lowercased()))") }
        if let after = query.after { conditions.append("id > \(text(after))") }
        if let since = query.updatedSince { conditions.append("updated_at >= \(since.millisecondsSinceEpoch)") }
        let sql = "SELECT id FROM companies" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY id LIMIT \(query.limit + 1)"
        return try read("list companies") { db in
            let st = try db.statement(sql)
            defer { st.reset() }
            for (index, value) in texts.enumerated() { st.bind(Int32(index + 1), value) }
            var ids: [String] = []
            while try st.step() { ids.append(st.text(0)) }
            st.reset()
            let more = ids.count > query.limit
            var items: [Company] = []
            for id in ids.prefix(query.limit) { if let company = try Store.company(db, id: id) { items.append(company) } }
            return CompanyPage(items: items, nextAfter: more ? items.last?.id : nil)
        }
    }

    /// Replaces the stored company with `company` (same id): every field except the timestamps and the CRM retry
    /// bookkeeping. Returns nil when there is no such company; `.conflict` when a match key or CRM id belongs to
    /// another company. Unchanged values do not touch `updatedAt`.
    public func updateCompany(_ input: Company) throws(StoreError) -> Company? {
        let company = try Store.validated(input)
        let now = Timestamp.now().millisecondsSinceEpoch
        return try write("update company '\(company.id)'") { db in
            try db.transaction { () throws -> Company? in
                guard let stored = try Store.company(db, id: company.id) else { return nil }
                if let existing = try Store.companyMatching(db, company, excludingID: company.id) {
                    throw Store.matchConflict(company, existing)
                }
                var comparable = company
                comparable.createdAt = stored.createdAt
                comparable.updatedAt = stored.updatedAt
                if comparable == stored { return stored }
                try Store.replaceCompany(db, company, now: now)
                return try Store.company(db, id: company.id)
            }
        }
    }

    /// Deletes a company with its users, addresses and price-list codes. False when there was none.
    public func deleteCompany(id: String) throws(StoreError) -> Bool {
        try write("delete company '\(id)'") { db in
            let st = try db.statement("DELETE FROM companies WHERE id = ?1")
            st.bind(1, id)
            try st.run()
            return db.changes > 0
        }
    }

    /// Records the CRM's answer for company `id`: its CRM id and whether the CRM had it (`.linked`) or Wharf
    /// created it there (`.created`); the background retry stops. Returns the company, nil when it is gone.
    /// `.conflict` when another company already holds that CRM id (the CRM considers them the same company).
    public func linkCompanyToCRM(id: String, crmID: String, state: CRMLinkState) throws(StoreError) -> Company? {
        let now = Timestamp.now().millisecondsSinceEpoch
        return try write("link company '\(id)' to CRM record '\(crmID)'") { db in
            try db.transaction { () throws -> Company? in
                if let other = try Store.companyID(db, where: "crm_id = ?1 AND id <> ?2", crmID, id) {
                    throw StoreError(
                        code: .conflict,
                        message: "cannot link company '\(id)' to CRM record '\(crmID)': company '\(other)' is already linked to it")
                }
                let st = try db.statement(
                    """
                    UPDATE companies SET crm_id = ?2, crm_state = ?3, crm_next_attempt_at = NULL, crm_last_error = NULL,
                        updated_at = ?4
                    WHERE id = ?1
                    """)
                st.bind(1, id)
                st.bind(2, crmID)
                st.bind(3, state.rawValue)
                st.bind(4, now)
                try st.run()
                return try Store.company(db, id: id)
            }
        }
    }

    /// A company whose CRM step is still to be done, as the background retrier sees it.
    public struct PendingCRMCompany: Sendable, Hashable {
        /// The company.
        public var company: Company
        /// Attempts made so far, this one included.
        public var attempts: Int64
    }

    /// Claims up to `limit` companies in CRM state `pending` whose retry time has come (by `now`): each one's next
    /// retry time moves to `now + lease` in the same transaction, so no other retrier (another thread, process or
    /// node) takes it while this attempt runs, and a retrier that dies mid-attempt leaves it to be retried after the
    /// lease. Oldest due first.
    public func claimPendingCRMCompanies(now: Timestamp, lease: Duration, limit: Int = 16) throws(StoreError) -> [PendingCRMCompany] {
        let leaseMilliseconds = lease.components.seconds * 1000 + lease.components.attoseconds / 1_000_000_000_000_000
        let at = now.millisecondsSinceEpoch
        return try write("claim companies waiting for the CRM") { db in
            try db.transaction {
                let select = try db.statement(
                    """
                    SELECT id FROM companies WHERE crm_state = 'pending' AND crm_next_attempt_at <= ?1
                    ORDER BY crm_next_attempt_at, id LIMIT ?2
                    """)
                select.bind(1, at)
                select.bind(2, Int64(limit))
                var ids: [String] = []
                while try select.step() { ids.append(select.text(0)) }
                select.reset()
                let claim = try db.statement(
                    """
                    UPDATE companies SET crm_next_attempt_at = ?2, crm_attempts = crm_attempts + 1 WHERE id = ?1
                    RETURNING crm_attempts
                    """)
                var claimed: [PendingCRMCompany] = []
                for id in ids {
                    claim.bind(1, id)
                    claim.bind(2, at + leaseMilliseconds)
                    let attempts = try claim.step() ? claim.int64(0) : 0
                    claim.reset()
                    if let company = try Store.company(db, id: id) {
                        claimed.append(PendingCRMCompany(company: company, attempts: attempts))
                    }
                }
                return claimed
            }
        }
    }

    /// Records a failed CRM attempt for a pending company: the reason, and when to try again.
    public func recordCRMFailure(id: String, error: String, retryAt: Timestamp) throws(StoreError) {
        try write("record a failed CRM attempt for company '\(id)'") { db in
            let st = try db.statement(
                """
                UPDATE companies SET crm_last_error = ?2, crm_next_attempt_at = ?3 WHERE id = ?1 AND crm_state = 'pending'
                """)
            st.bind(1, id)
            st.bind(2, String(error.prefix(1000)))
            st.bind(3, retryAt.millisecondsSinceEpoch)
            try st.run()
        }
    }

    /// The reason of the last failed CRM attempt of company `id` and how many attempts were made, or nil when the
    /// company does not exist.
    public func crmAttempts(companyID id: String) throws(StoreError) -> (attempts: Int64, lastError: String?)? {
        try read("read the CRM attempts of company '\(id)'") { db in
            let st = try db.statement("SELECT crm_attempts, crm_last_error FROM companies WHERE id = ?1")
            defer { st.reset() }
            st.bind(1, id)
            return try st.step() ? (st.int64(0), st.optionalText(1)) : nil
        }
    }

    // MARK: Company users

    /// The users of company `companyID` in email order.
    public func companyUsers(companyID: String) throws(StoreError) -> [CompanyUser] {
        try read("read the users of company '\(companyID)'") { db in
            let st = try db.statement("SELECT \(Store.companyUserColumns) FROM company_users WHERE company_id = ?1 ORDER BY email")
            defer { st.reset() }
            st.bind(1, companyID)
            var users: [CompanyUser] = []
            while try st.step() { users.append(Store.companyUser(from: st)) }
            return users
        }
    }

    /// Creates or replaces a company user (key: company and email). `.notFound` when the company does not exist.
    @discardableResult
    public func putCompanyUser(_ input: CompanyUser) throws(StoreError) -> (UpsertOutcome, CompanyUser) {
        let user: CompanyUser
        do throws(FieldError) { user = try input.validated() } catch {
            throw StoreError(code: .invalidRecord, message: "cannot store company user: \(error.reason)")
        }
        let now = Timestamp.now().millisecondsSinceEpoch
        return try write("store user '\(user.email)' of company '\(user.companyID)'") { db in
            try db.transaction {
                guard try Store.companyID(db, where: "id = ?1", user.companyID) != nil else {
                    throw StoreError(code: .notFound, message: "no company with id '\(user.companyID)'")
                }
                let outcome = try Store.upsertCompanyUser(db, user, now: now)
                let st = try db.statement(
                    "SELECT \(Store.companyUserColumns) FROM company_users WHERE company_id = ?1 AND email = ?2")
                defer { st.reset() }
                st.bind(1, user.companyID)
                st.bind(2, user.email)
                _ = try st.step()
                return (outcome, Store.companyUser(from: st))
            }
        }
    }

    // MARK: Customer groups

    /// Every customer group in code order.
    public func customerGroups() throws(StoreError) -> [CustomerGroup] {
        try read("read customer groups") { db in
            let st = try db.statement("SELECT code, name, crm_id, updated_at FROM customer_groups ORDER BY code")
            defer { st.reset() }
            var groups: [CustomerGroup] = []
            while try st.step() {
                groups.append(
                    CustomerGroup(
                        code: st.text(0), name: st.text(1), crmID: st.optionalText(2),
                        updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(3))))
            }
            return groups
        }
    }

    /// Creates or replaces a customer group.
    @discardableResult
    public func putCustomerGroup(_ input: CustomerGroup) throws(StoreError) -> UpsertOutcome {
        let group: CustomerGroup
        do throws(FieldError) { group = try input.validated() } catch {
            throw StoreError(code: .invalidRecord, message: "cannot store customer group: \(error.reason)")
        }
        let now = Timestamp.now().millisecondsSinceEpoch
        return try write("store customer group '\(group.code)'") { db in
            try Store.upsertCustomerGroup(db, group, now: now)
        }
    }

    // MARK: Not public

    static let companyColumns = """
        id, legal_name, display_name, tax_id, email, phone, status, customer_group, crm_id, active, merged_into,
        crm_state, created_at, updated_at, email_domain
        """

    static func validated(_ company: Company) throws(StoreError) -> Company {
        do throws(FieldError) {
            return try company.validated()
        } catch {
            throw StoreError(code: .invalidRecord, message: "company '\(company.id)' is invalid: \(error.reason)")
        }
    }

    /// Binds ?1...?13 of the companies INSERT/UPDATE statements.
    static func bindCompany(_ st: Statement, _ c: Company) {
        st.bind(1, c.id)
        st.bind(2, c.legalName)
        st.bind(3, c.displayName)
        st.bind(4, c.taxID)
        st.bind(5, c.email)
        st.bind(6, c.emailDomain)
        st.bind(7, c.phone)
        st.bind(8, c.status.rawValue)
        st.bind(9, c.customerGroup)
        st.bind(10, c.crmID)
        st.bind(11, c.active)
        st.bind(12, c.mergedInto)
        st.bind(13, c.crmState.rawValue)
    }

    /// Inserts a new company row and its children (addresses, price-list codes); `crmNextAttemptAt` is when the
    /// CRM retrier first takes it (nil: never).
    static func insertCompanyRow(_ db: Connection, _ company: Company, crmNextAttemptAt: Int64?, now: Int64) throws {
        let st = try db.statement(
            """
            INSERT INTO companies (id, legal_name, display_name, tax_id, email, email_domain, phone, status,
                customer_group, crm_id, active, merged_into, crm_state, crm_next_attempt_at, created_at, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)
            """)
        bindCompany(st, company)
        st.bind(14, crmNextAttemptAt)
        st.bind(15, now)
        try st.run()
        try writeCompanyChildren(db, company)
    }

    /// Overwrites a company's fields (not created_at or the retry bookkeeping) and its children.
    static func replaceCompany(_ db: Connection, _ company: Company, now: Int64) throws {
        let st = try db.statement(
            """
            UPDATE companies SET legal_name = ?2, display_name = ?3, tax_id = ?4, email = ?5, email_domain = ?6,
                phone = ?7, status = ?8, customer_group = ?9, crm_id = ?10, active = ?11, merged_into = ?12,
                crm_state = ?13, updated_at = ?14,
                crm_next_attempt_at = CASE WHEN ?13 = 'pending' THEN crm_next_attempt_at ELSE NULL END
            WHERE id = ?1
            """)
        bindCompany(st, company)
        st.bind(14, now)
        try st.run()
        try writeCompanyChildren(db, company)
    }

    static func writeCompanyChildren(_ db: Connection, _ company: Company) throws {
        let clearAddresses = try db.statement("DELETE FROM company_addresses WHERE company_id = ?1")
        clearAddresses.bind(1, company.id)
        try clearAddresses.run()
        let address = try db.statement(
            """
            INSERT INTO company_addresses (company_id, position, kind, street, city, postal_code, region, country)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            """)
        for (index, a) in company.addresses.enumerated() {
            address.bind(1, company.id)
            address.bind(2, Int64(index))
            address.bind(3, a.kind)
            address.bind(4, a.street)
            address.bind(5, a.city)
            address.bind(6, a.postalCode)
            address.bind(7, a.region)
            address.bind(8, a.country)
            try address.run()
        }
        let clearLists = try db.statement("DELETE FROM company_price_lists WHERE company_id = ?1")
        clearLists.bind(1, company.id)
        try clearLists.run()
        let list = try db.statement("INSERT INTO company_price_lists (company_id, position, code) VALUES (?1, ?2, ?3)")
        for (index, code) in company.priceLists.enumerated() {
            list.bind(1, company.id)
            list.bind(2, Int64(index))
            list.bind(3, code)
            try list.run()
        }
    }

    static func company(_ db: Connection, id: String) throws -> Company? {
        let st = try db.statement("SELECT \(companyColumns) FROM companies WHERE id = ?1")
        st.bind(1, id)
        guard try st.step() else {
            st.reset()
            return nil
        }
        let email = st.optionalText(4)
        let domain = st.optionalText(14)
        var company = Company(
            id: st.text(0), legalName: st.text(1), displayName: st.optionalText(2), taxID: st.optionalText(3),
            email: email, domain: domain == Company.domain(ofEmail: email) ? nil : domain, phone: st.optionalText(5), status: CompanyStatus(rawValue: st.text(6)) ?? .pending,
            customerGroup: st.optionalText(7), crmID: st.optionalText(8), active: st.int64(9) != 0,
            mergedInto: st.optionalText(10), crmState: CRMLinkState(rawValue: st.text(11)) ?? .none,
            createdAt: Timestamp(millisecondsSinceEpoch: st.int64(12)),
            updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(13)))
        st.reset()
        let addresses = try db.statement(
            """
            SELECT kind, street, city, postal_code, region, country FROM company_addresses
            WHERE company_id = ?1 ORDER BY position
            """)
        defer { addresses.reset() }
        addresses.bind(1, id)
        while try addresses.step() {
            company.addresses.append(
                CompanyAddress(
                    kind: addresses.text(0), street: addresses.text(1), city: addresses.text(2),
                    postalCode: addresses.optionalText(3), region: addresses.optionalText(4), country: addresses.text(5)))
        }
        let lists = try db.statement("SELECT code FROM company_price_lists WHERE company_id = ?1 ORDER BY position")
        defer { lists.reset() }
        lists.bind(1, id)
        while try lists.step() { company.priceLists.append(lists.text(0)) }
        return company
    }

    /// The id of the first company matching `condition` with the given text parameters.
    static func companyID(_ db: Connection, where condition: String, _ values: String...) throws -> String? {
        let st = try db.statement("SELECT id FROM companies WHERE \(condition) LIMIT 1")
        defer { st.reset() }
        for (index, value) in values.enumerated() { st.bind(Int32(index + 1), value) }
        return try st.step() ? st.text(0) : nil
    }

    /// Another company with the same email domain, tax id or CRM id as `company` (a normalized company).
    static func companyMatching(_ db: Connection, _ company: Company, excludingID: String?) throws -> Company? {
        let st = try db.statement(
            """
            SELECT id FROM companies
            WHERE (email_domain = ?1 OR tax_id = ?2 OR crm_id = ?3) AND id IS NOT ?4
            ORDER BY (crm_id = ?3) DESC, (tax_id = ?2) DESC LIMIT 1
            """)
        st.bind(1, company.emailDomain)
        st.bind(2, company.taxID)
        st.bind(3, company.crmID)
        st.bind(4, excludingID)
        let id = try st.step() ? st.text(0) : nil
        st.reset()
        return try id.flatMap { try Store.company(db, id: $0) }
    }

    /// The `.conflict` error for `company` when `existing` already has one of its match keys or its CRM id.
    static func matchConflict(_ company: Company, _ existing: Company) -> StoreError {
        StoreError(
            code: .conflict,
            message: "company '\(existing.id)' (\(existing.legalName)) already has \(sharedKey(company, existing)); a company's email domain, tax id and CRM id are unique")
    }

    /// The CRM id, tax id or (failing those) email domain `company` shares with `existing`, for messages.
    static func sharedKey(_ company: Company, _ existing: Company) -> String {
        if let crm = company.crmID, crm == existing.crmID { return "CRM id '\(crm)'" }
        if let tax = company.taxID, tax == existing.taxID { return "tax id '\(tax)'" }
        return "email domain '\(company.emailDomain ?? "")'"
    }

    static func upsertCompanyUser(_ db: Connection, _ user: CompanyUser, now: Int64) throws -> UpsertOutcome {
        let probe = try db.statement(
            """
            SELECT name IS NOT ?3 OR job_title IS NOT ?4 OR role IS NOT ?5 OR active IS NOT ?6 OR crm_id IS NOT ?7
            FROM company_users WHERE company_id = ?1 AND email = ?2
            """)
        bindUser(probe, user)
        let exists = try probe.step()
        let changed = exists && probe.int64(0) != 0
        probe.reset()
        if exists && !changed { return .unchanged }
        let st = try db.statement(
            """
            INSERT INTO company_users (company_id, email, name, job_title, role, active, crm_id, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            ON CONFLICT (company_id, email) DO UPDATE SET name = excluded.name, job_title = excluded.job_title,
                role = excluded.role, active = excluded.active, crm_id = excluded.crm_id, updated_at = excluded.updated_at
            """)
        bindUser(st, user)
        st.bind(8, now)
        try st.run()
        return exists ? .updated : .inserted
    }

    private static func bindUser(_ st: Statement, _ user: CompanyUser) {
        st.bind(1, user.companyID)
        st.bind(2, user.email)
        st.bind(3, user.name)
        st.bind(4, user.jobTitle)
        st.bind(5, user.role.rawValue)
        st.bind(6, user.active)
        st.bind(7, user.crmID)
    }

    /// The columns `companyUser(from:)` reads, in its order.
    static let companyUserColumns = "company_id, email, name, job_title, role, active, crm_id, updated_at"

    static func companyUser(from st: Statement) -> CompanyUser {
        CompanyUser(
            companyID: st.text(0), email: st.text(1), name: st.text(2), jobTitle: st.optionalText(3),
            role: CompanyUserRole(rawValue: st.text(4)) ?? .buyer, active: st.int64(5) != 0, crmID: st.optionalText(6),
            updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(7)))
    }

    static func upsertCustomerGroup(_ db: Connection, _ group: CustomerGroup, now: Int64) throws -> UpsertOutcome {
        let probe = try db.statement("SELECT name IS NOT ?2 OR crm_id IS NOT ?3 FROM customer_groups WHERE code = ?1")
        probe.bind(1, group.code)
        probe.bind(2, group.name)
        probe.bind(3, group.crmID)
        let exists = try probe.step()
        let changed = exists && probe.int64(0) != 0
        probe.reset()
        if exists && !changed { return .unchanged }
        let st = try db.statement(
            """
            INSERT INTO customer_groups (code, name, crm_id, updated_at) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT (code) DO UPDATE SET name = excluded.name, crm_id = excluded.crm_id, updated_at = excluded.updated_at
            """)
        st.bind(1, group.code)
        st.bind(2, group.name)
        st.bind(3, group.crmID)
        st.bind(4, now)
        try st.run()
        return exists ? .updated : .inserted
    }
}

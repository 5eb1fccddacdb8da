import CSQLite
import WharfModel

extension Store {
    // MARK: Not public

    /// Applies a B2B record from a CRM sync inside the batch's transaction; nil for other records.
    ///
    /// A company is found by its CRM id, then by Wharf's id when the CRM holds it (a registration whose CRM step is
    /// still pending: the sync completes the link and ends the retries), then by its match keys (tax id, domain)
    /// among companies not linked to another CRM record; it is updated (keeping Wharf's status unless the CRM gives
    /// one) or, when none matches, created as `approved` in CRM state `synced`. A deleted or merged company is
    /// deactivated (never kept active); an unknown deleted one is nothing to do. A user whose company is unknown,
    /// and a company whose match key belongs to a company linked to another CRM record, are refused (rejects).
    static func applyB2B(_ db: Connection, _ record: ModelRecord, now: Int64) throws -> (result: Upserter.Adjustment, field: String)? {
        switch record {
        case .customerGroup(let group):
            return (.applied(try upsertCustomerGroup(db, group, now: now)), "code")
        case .companyUser(let input):
            guard let companyID = try companyID(db, where: "crm_id = ?1", input.companyCRMID) else {
                return (.refused("no company with CRM id '\(input.companyCRMID)' in Wharf; it is synced with the companies (check that the contact's company exists in the CRM)"), "company_crm_id")
            }
            var user = input.user
            user.companyID = companyID
            return (.applied(try upsertCompanyUser(db, user, now: now)), "email")
        case .company(let input):
            return (try applyCompany(db, input, now: now), input.deleted ? "deleted" : "crm_id")
        default:
            return nil
        }
    }

    /// Why a CRM company record cannot be stored: `company` (what it would become) shares a match key with
    /// `clash`. Names the key, so the operator knows what to correct.
    private static func clashMessage(_ input: CRMCompanyRecord, _ company: Company, _ clash: Company) -> String {
        "the CRM record '\(input.crmID)' clashes with company '\(clash.id)' on its \(sharedKey(company, clash)); merge the two or correct the record in the CRM"
    }

    private static func applyCompany(_ db: Connection, _ input: CRMCompanyRecord, now: Int64) throws -> Upserter.Adjustment {
        let byCRM = try companyID(db, where: "crm_id = ?1", input.crmID)
        if input.deleted {
            guard let id = byCRM else { return .applied(.unchanged) }
            let st = try db.statement(
                """
                UPDATE companies SET active = 0, merged_into = ?2, updated_at = ?3
                WHERE id = ?1 AND (active <> 0 OR merged_into IS NOT ?2)
                """)
            st.bind(1, id)
            st.bind(2, input.mergedInto)
            st.bind(3, now)
            try st.run()
            return .applied(db.changes > 0 ? .updated : .unchanged)
        }
        guard var incoming = input.company else { return .applied(.unchanged) }
        var storedID = byCRM
        if storedID == nil, let external = input.externalID {
            storedID = try companyID(db, where: "id = ?1 AND (crm_id IS NULL OR crm_id = ?2)", external, input.crmID)
        }
        if storedID == nil, let match = try companyMatching(db, incoming, excludingID: nil) {
            if let other = match.crmID, other != input.crmID {
                return .refused(
                    "the CRM record '\(input.crmID)' has the tax id or domain of company '\(match.id)', which is linked to CRM record '\(other)'; merge the two in the CRM")
            }
            storedID = match.id
        }
        guard let id = storedID, let stored = try company(db, id: id) else {
            incoming.id = Company.newID()
            incoming.status = input.status ?? .approved
            incoming.crmState = .synced
            incoming.active = true
            incoming.mergedInto = nil
            if let clash = try companyMatching(db, incoming, excludingID: nil) {
                return .refused(clashMessage(input, incoming, clash))
            }
            try insertCompanyRow(db, incoming, crmNextAttemptAt: nil, now: now)
            return .applied(.inserted)
        }
        // Merge onto the stored company: the CRM owns these fields; Wharf keeps its id, timestamps and status.
        var merged = stored
        merged.legalName = incoming.legalName
        merged.displayName = incoming.displayName
        merged.taxID = incoming.taxID ?? stored.taxID
        merged.email = incoming.email ?? stored.email
        merged.domain = incoming.domain ?? stored.domain
        merged.phone = incoming.phone ?? stored.phone
        if !incoming.addresses.isEmpty { merged.addresses = incoming.addresses }
        merged.customerGroup = incoming.customerGroup ?? stored.customerGroup
        if !incoming.priceLists.isEmpty || incoming.customerGroup != nil { merged.priceLists = incoming.priceLists }
        if let status = input.status { merged.status = status }
        merged.crmID = input.crmID
        merged.active = true
        merged.mergedInto = nil
        if stored.crmState == .pending || stored.crmState == .none { merged.crmState = .linked }
        merged = (try? merged.validated()) ?? merged
        if let clash = try companyMatching(db, merged, excludingID: id) {
            return .refused(clashMessage(input, merged, clash))
        }
        if merged == stored { return .applied(.unchanged) }
        try replaceCompany(db, merged, now: now)
        return .applied(.updated)
    }
}

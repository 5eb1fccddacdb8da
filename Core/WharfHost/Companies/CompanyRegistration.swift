import Foundation
import WharfManifest
import WharfModel
import WharfStore

/// How company registrations reach the CRM, from the `config.registration` object of the connector that answers
/// them (the first enabled connector that has one):
///
/// ```json5
/// { name: "crm", plugin: "crm-companies",
///   config: { registration: { deadlineSeconds: 5, whenCRMUnavailable: "pending", retrySeconds: 30 }, ... } }
/// ```
public struct CompanyRegistrationSettings: Sendable, Hashable {
    /// What a registration does when the CRM does not answer within the deadline (down, slow, failing).
    public enum Unavailable: String, Sendable, Hashable, CaseIterable {
        /// Refuse the registration with 503; nothing is stored.
        case refuse
        /// Store the company as `pending` and retry the CRM step in the background until it succeeds.
        case pending
    }

    /// The connector whose plugin answers `company.register` calls.
    public var connector: String
    /// The deadline of one CRM call (waiting for a worker, the plugin's searches and create).
    public var deadline: Duration
    /// What to do when the CRM does not answer in time.
    public var whenUnavailable: Unavailable
    /// The first background retry comes this long after a failed attempt; each further one waits twice as long,
    /// up to an hour.
    public var retryInterval: Duration

    /// The default deadline of a CRM call: 5 s.
    public static let defaultDeadline: Duration = .seconds(5)
    /// The default first retry interval: 30 s.
    public static let defaultRetryInterval: Duration = .seconds(30)

    /// Settings.
    public init(
        connector: String, deadline: Duration = defaultDeadline, whenUnavailable: Unavailable = .refuse,
        retryInterval: Duration = defaultRetryInterval
    ) {
        self.connector = connector
        self.deadline = deadline
        self.whenUnavailable = whenUnavailable
        self.retryInterval = retryInterval
    }

    /// The settings of the first enabled connector of `manifest` whose config has a `registration` object, or nil
    /// when none has (registrations are then stored without a CRM step). Values the plugin's configuration check
    /// would refuse fall back to their defaults here.
    public static func from(_ manifest: Manifest) -> CompanyRegistrationSettings? {
        for connector in manifest.connectors where connector.enabled {
            guard let registration = connector.config["registration"], case .object = registration else { continue }
            var settings = CompanyRegistrationSettings(connector: connector.name)
            if let seconds = registration["deadlineSeconds"]?.doubleValue, seconds > 0, seconds <= 600 {
                settings.deadline = .milliseconds(Int64(seconds * 1000))
            }
            if let seconds = registration["retrySeconds"]?.doubleValue, seconds > 0, seconds <= 86_400 {
                settings.retryInterval = .milliseconds(Int64(seconds * 1000))
            }
            if let text = registration["whenCRMUnavailable"]?.stringValue, let choice = Unavailable(rawValue: text) {
                settings.whenUnavailable = choice
            }
            return settings
        }
        return nil
    }
}

/// What happened to a company at registration.
public enum RegistrationOutcome: String, Sendable, Hashable {
    /// The CRM already had the company: Wharf's record is linked to it.
    case linked
    /// The CRM did not have it: it was created there.
    case created
    /// The CRM did not answer in time: the company is stored as pending and the CRM step is retried.
    case pending
    /// No CRM is configured: the company is stored in Wharf only.
    case stored
}

/// Why a registration was refused.
public struct RegistrationError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Hashable {
        /// The company breaks the model's rules or has no match key.
        case invalid
        /// Wharf already has a company with the same match key or CRM record (`existingID` names it).
        case conflict
        /// The CRM did not answer in time and the manifest says to refuse.
        case crmUnavailable
    }

    /// The kind of refusal.
    public var kind: Kind
    /// One sentence for the client.
    public var message: String
    /// The field at fault, for `.invalid`.
    public var field: String?
    /// The company that already exists, for `.conflict`.
    public var existingID: String?

    /// The message.
    public var description: String { message }
}

/// Registers B2B companies: stores them and asks the CRM, synchronously and with a deadline, whether it knows
/// each one (then links it) or creates it there. When the CRM does not answer in time the manifest chooses: refuse,
/// or keep the company as `pending` and retry the CRM step in the background (`CRMRetrier`).
///
/// No duplicate reaches the CRM: the company is stored before the CRM is called, its Wharf id goes to the CRM as
/// the record's external id, and the plugin searches by that id (then by tax id and email domain) before it
/// creates anything — so a retry after a slow create that did happen finds the record instead of creating another.
/// A stored lease (`crm_next_attempt_at`) keeps the background retry away while an attempt runs.
public final class CompanyRegistration: Sendable {
    /// The operation name of the plugin call.
    public static let operation = "company.register"

    /// The deployment.
    public let deployment: Deployment
    /// The CRM settings, nil when no connector answers registrations.
    public let settings: CompanyRegistrationSettings?
    /// Calls into the connector's plugin.
    public let calls: CallPool

    /// A registration service for `deployment`, calling its CRM connector through `calls`.
    public init(deployment: Deployment, calls: CallPool, settings: CompanyRegistrationSettings? = nil) {
        self.deployment = deployment
        self.calls = calls
        self.settings = settings ?? CompanyRegistrationSettings.from(deployment.manifest)
    }

    /// Registers `input` (its id, status and CRM fields are Wharf's to set): answers the stored company and what
    /// happened in the CRM.
    public func register(_ input: Company) throws(RegistrationError) -> (Company, RegistrationOutcome) {
        var company = input
        company.id = Company.newID()
        company.status = .pending
        company.crmID = nil
        company.active = true
        company.mergedInto = nil
        do throws(FieldError) {
            company = try company.validated()
        } catch {
            throw RegistrationError(kind: .invalid, message: error.reason, field: error.field)
        }
        guard company.emailDomain != nil || company.taxID != nil else {
            throw RegistrationError(
                kind: .invalid, message: "give email or taxId: a company is matched with the CRM by its email domain and tax id",
                field: "email")
        }
        let store = deployment.store
        guard let settings else {
            company.crmState = .none
            return (try insert(company, retryAt: nil), .stored)
        }
        company.crmState = .pending
        // Stored before the CRM sees it, with a lease that keeps the background retry away during this attempt.
        let lease = Timestamp.now().adding(settings.deadline + settings.retryInterval)
        let stored = try insert(company, retryAt: lease)
        let answer: CRMAnswer
        do throws(CRMAttemptError) {
            answer = try attempt(stored, settings: settings)
        } catch {
            deployment.logger.log(
                .warning, "CRM step of a company registration failed",
                fields: [("company", stored.id), ("connector", settings.connector), ("error", error.message)])
            switch settings.whenUnavailable {
            case .refuse:
                _ = try? store.deleteCompany(id: stored.id)
                throw RegistrationError(
                    kind: .crmUnavailable,
                    message: "the CRM (connector '\(settings.connector)') could not confirm the company: \(error.message); try again later")
            case .pending:
                try? store.recordCRMFailure(
                    id: stored.id, error: error.message, retryAt: Timestamp.now().adding(settings.retryInterval))
                return (stored, .pending)
            }
        }
        do {
            guard let linked = try store.linkCompanyToCRM(id: stored.id, crmID: answer.crmID, state: answer.outcome == .created ? .created : .linked)
            else { throw RegistrationError(kind: .conflict, message: "the company was deleted while it was registered") }
            return (linked, answer.outcome)
        } catch let error as StoreError where error.code == .conflict {
            // The CRM says it is a company Wharf already has under another id.
            _ = try? store.deleteCompany(id: stored.id)
            let existing = try? store.company(crmID: answer.crmID)
            throw RegistrationError(
                kind: .conflict,
                message: "the CRM knows this company as record '\(answer.crmID)', which company '\(existing?.id ?? "?")' already is",
                existingID: existing?.id)
        } catch let error as RegistrationError {
            throw error
        } catch {
            throw RegistrationError(kind: .crmUnavailable, message: "the company could not be stored: \(error)")
        }
    }

    /// One CRM attempt for a stored pending company, as the background retry makes it: links it on success, or
    /// records the failure and the next retry time (doubling from `retryInterval`, at most an hour) and returns false.
    @discardableResult
    public func retry(_ pending: Store.PendingCRMCompany) -> Bool {
        guard let settings else { return false }
        let store = deployment.store
        do throws(CRMAttemptError) {
            let answer = try attempt(pending.company, settings: settings)
            do {
                _ = try store.linkCompanyToCRM(
                    id: pending.company.id, crmID: answer.crmID, state: answer.outcome == .created ? .created : .linked)
                deployment.logger.log(
                    .info, "company linked to the CRM by the background retry",
                    fields: [("company", pending.company.id), ("crmId", answer.crmID), ("outcome", answer.outcome.rawValue),
                             ("attempt", String(pending.attempts))])
                return true
            } catch {
                try? store.recordCRMFailure(
                    id: pending.company.id, error: "\(error)", retryAt: Timestamp.now().adding(backoff(pending.attempts, settings)))
                return false
            }
        } catch {
            deployment.logger.log(
                .warning, "background CRM retry failed",
                fields: [("company", pending.company.id), ("attempt", String(pending.attempts)), ("error", error.message)])
            try? store.recordCRMFailure(
                id: pending.company.id, error: error.message, retryAt: Timestamp.now().adding(backoff(pending.attempts, settings)))
            return false
        }
    }

    // MARK: Not public

    struct CRMAnswer {
        var outcome: RegistrationOutcome
        var crmID: String
    }

    struct CRMAttemptError: Error {
        var message: String
    }

    /// The wait before the next retry after `attempts` failed ones.
    func backoff(_ attempts: Int64, _ settings: CompanyRegistrationSettings) -> Duration {
        let factor = 1 << min(max(attempts - 1, 0), 16)
        return min(settings.retryInterval * Int(factor), .seconds(3600))
    }

    private func insert(_ company: Company, retryAt: Timestamp?) throws(RegistrationError) -> Company {
        do {
            return try deployment.store.insertCompany(company, crmRetryAt: retryAt)
        } catch where error.code == .conflict {
            let existing = try? deployment.store.company(matching: company)
            throw RegistrationError(kind: .conflict, message: error.message, existingID: existing?.id)
        } catch where error.code == .invalidRecord {
            throw RegistrationError(kind: .invalid, message: error.message)
        } catch {
            throw RegistrationError(kind: .crmUnavailable, message: "the company could not be stored: \(error.message)")
        }
    }

    /// Asks the plugin to find or create `company` in the CRM.
    func attempt(_ company: Company, settings: CompanyRegistrationSettings) throws(CRMAttemptError) -> CRMAnswer {
        var writer = JSONWriter(capacity: 512)
        writer.beginObject()
        Encoding.companyIdentity(company, into: &writer)
        writer.endObject()
        let response: [UInt8]
        do {
            response = try calls.call(
                connector: settings.connector, operation: Self.operation, request: writer.bytes, deadline: settings.deadline)
        } catch {
            throw CRMAttemptError(message: error.message)
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let answer = try? JSONValue.parse(json5: text), let outcome = answer["outcome"]?.stringValue,
            let crmID = answer["crmId"]?.scalarText, !crmID.isEmpty,
            outcome == "linked" || outcome == "created"
        else {
            throw CRMAttemptError(
                message: "the plugin of connector '\(settings.connector)' answered \(Self.operation) with '\(text.prefix(200))', "
                    + "not {\"outcome\": \"linked\" | \"created\", \"crmId\": \"…\"}")
        }
        return CRMAnswer(outcome: outcome == "created" ? .created : .linked, crmID: crmID)
    }
}

/// Retries the CRM step of pending company registrations in the background, on one thread: it claims companies
/// whose retry time has come (a stored lease, so a restarted server picks up where the last one stopped and two
/// servers never work on the same company), calls the CRM, and links or reschedules each.
public final class CRMRetrier: @unchecked Sendable {
    /// The registration service whose `retry` is used.
    public let registration: CompanyRegistration
    /// How often due companies are looked for.
    public let pollInterval: Duration

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var stopped = false
    private var thread: Thread?
    private var finished = false

    /// A retrier; `pollInterval` defaults to a second or the retry interval, whichever is shorter.
    public init(registration: CompanyRegistration, pollInterval: Duration? = nil) {
        self.registration = registration
        self.pollInterval = pollInterval ?? min(.seconds(1), registration.settings?.retryInterval ?? .seconds(1))
    }

    /// Starts the background thread (nothing to do when no CRM connector answers registrations).
    public func start() {
        guard registration.settings != nil else { return }
        condition.lock()
        defer { condition.unlock() }
        guard thread == nil, !stopped else { return }
        let thread = Thread { [self] in loop() }
        thread.name = "wharf-crm-retry"
        self.thread = thread
        thread.start()
    }

    /// Stops the thread after the attempt in progress (if any) and waits for it.
    public func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while thread != nil && !finished { condition.wait() }
        condition.unlock()
    }

    /// Claims and retries every company that is due now; returns how many were linked. (The thread does this
    /// every `pollInterval`; tests call it directly.)
    @discardableResult
    public func runOnce() -> Int {
        guard let settings = registration.settings else { return 0 }
        let lease = settings.deadline + .seconds(5)
        let claimed: [Store.PendingCRMCompany]
        do {
            claimed = try registration.deployment.store.claimPendingCRMCompanies(now: .now(), lease: lease)
        } catch {
            registration.deployment.logger.log(.error, "cannot read companies waiting for the CRM", fields: [("error", error.message)])
            return 0
        }
        var linked = 0
        for pending in claimed {
            if isStopped { break }
            if registration.retry(pending) { linked += 1 }
        }
        return linked
    }

    // MARK: Not public

    private var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    private func loop() {
        while !isStopped {
            runOnce()
            condition.lock()
            if !stopped {
                let seconds = Double(pollInterval.components.seconds) + Double(pollInterval.components.attoseconds) / 1e18
                _ = condition.wait(until: Date().addingTimeInterval(seconds))
            }
            condition.unlock()
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}

extension Timestamp {
    /// This instant plus `duration`, to the millisecond.
    func adding(_ duration: Duration) -> Timestamp {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return Timestamp(millisecondsSinceEpoch: millisecondsSinceEpoch + milliseconds)
    }
}

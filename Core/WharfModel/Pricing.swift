// The pricing model: price lists from a CPQ or sales channel, their tiered entries, their assignments to companies
// and customer groups, channel special prices, and the answer to "what does this buyer pay for this SKU at this
// quantity now" with every candidate explained. See docs/pricing.md for the resolution rules.

/// How a price list competes with the other prices that apply.
public enum PriceListMode: String, Sendable, CaseIterable {
    /// The lowest applicable price wins (the Adobe Commerce convention); this list is one candidate among others.
    case lowest
    /// A negotiated contract: when the list applies, its price wins over every other candidate, even lower ones.
    case override
}

/// A price list: a named set of SKU prices in one currency, for the companies and groups it is assigned to.
public struct PriceList: Sendable, Hashable {
    /// The key: 1 to 64 characters, no control characters, no "/".
    public var code: String
    /// Display name, 1 to 256 characters.
    public var name: String
    /// The currency of every fixed price in the list (percent entries apply to the base price in this currency).
    public var currency: Currency
    /// Higher wins ties and decides between several `override` lists that apply (default 0).
    public var priority: Int64
    /// `lowest` (default) or `override`.
    public var mode: PriceListMode
    /// The first instant the list applies (inclusive), or nil for "always has".
    public var validFrom: Timestamp?
    /// The instant the list stops applying (exclusive), or nil for "never ends".
    public var validTo: Timestamp?
    /// When the list last changed in the store (set by the store).
    public var updatedAt: Timestamp?

    /// A price list.
    public init(
        code: String, name: String, currency: Currency, priority: Int64 = 0, mode: PriceListMode = .lowest,
        validFrom: Timestamp? = nil, validTo: Timestamp? = nil, updatedAt: Timestamp? = nil
    ) {
        self.code = code
        self.name = name
        self.currency = currency
        self.priority = priority
        self.mode = mode
        self.validFrom = validFrom
        self.validTo = validTo
        self.updatedAt = updatedAt
    }

    /// The list when it follows the model's rules, otherwise the first problem found.
    public func validated() throws(FieldError) -> PriceList {
        try Rules.sku(code, field: "code")
        try Rules.length(name, field: "name", max: 256)
        if let validFrom, let validTo, validTo <= validFrom {
            throw FieldError(field: "valid_to", reason: "valid_to \(validTo.rfc3339) must be after valid_from \(validFrom.rfc3339)")
        }
        return self
    }

    /// Whether the list's validity window contains `instant` (`validFrom` ≤ instant < `validTo`).
    public func isValid(at instant: Timestamp) -> Bool {
        if let validFrom, instant < validFrom { return false }
        if let validTo, instant >= validTo { return false }
        return true
    }
}

/// A percentage taken off the base price, exact to four decimals (12.5 % is 125000 ten-thousandths).
public struct PercentOff: Sendable, Hashable, CustomStringConvertible {
    /// The percentage × 10 000 (0 < value ≤ 1 000 000).
    public var tenThousandths: Int64

    /// A percentage from its scaled value.
    public init(tenThousandths: Int64) {
        self.tenThousandths = tenThousandths
    }

    /// Parses "12.5" (percent, up to 4 decimals, more than 0 and at most 100).
    public static func parse(_ text: String, field: String = "percent_off") throws(FieldError) -> PercentOff {
        switch DecimalText.parse(text, scale: 4) {
        case .value(let value) where value > 0 && value <= 1_000_000:
            return PercentOff(tenThousandths: value)
        case .value:
            throw FieldError(field: field, reason: "\(field) \(text) must be more than 0 and at most 100")
        case .tooManyDecimals:
            throw FieldError(field: field, reason: "\(field) \(text) has more than 4 decimals")
        default:
            throw FieldError(field: field, reason: "\(field) '\(Rules.printable(text))' is not a percentage like 12.5")
        }
    }

    /// "12.5".
    public var description: String {
        var text = DecimalText.format(tenThousandths, scale: 4)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// `base` minus this percentage, rounded half-even to the currency's minor unit.
    public func apply(to base: Int64) -> Int64 {
        let numerator = Int128(base) * Int128(1_000_000 - tenThousandths)
        return Int64(Pricing.divideHalfEven(numerator, by: 1_000_000))
    }
}

/// What a price list entry sets: a fixed unit price in the list's currency, or a percentage off the base price.
public enum PriceAdjustment: Sendable, Hashable {
    /// This unit price.
    case fixed(Money)
    /// The base price minus this percentage.
    case percentOff(PercentOff)
}

/// One tier of one SKU in a price list: from `minQuantity` units on, the unit price is `adjustment`.
public struct PriceListEntry: Sendable, Hashable {
    /// The price list's code.
    public var listCode: String
    /// The SKU.
    public var sku: String
    /// The tier's threshold (1 = from the first unit).
    public var minQuantity: Int64
    /// The price or discount.
    public var adjustment: PriceAdjustment

    /// An entry.
    public init(listCode: String, sku: String, minQuantity: Int64 = 1, adjustment: PriceAdjustment) {
        self.listCode = listCode
        self.sku = sku
        self.minQuantity = minQuantity
        self.adjustment = adjustment
    }

    /// The entry when it follows the model's rules, otherwise the first problem found.
    public func validated() throws(FieldError) -> PriceListEntry {
        try Rules.sku(listCode, field: "list")
        try Rules.sku(sku)
        guard minQuantity >= 1 else {
            throw FieldError(field: "min_quantity", reason: "min_quantity must be 1 or more, got \(minQuantity)")
        }
        if case .fixed(let money) = adjustment, money.minorUnits < 0 {
            throw FieldError(field: "amount", reason: "amount \(money.decimalString) is negative")
        }
        return self
    }
}

/// Whom a price list is assigned to.
public enum PriceAssignmentTarget: String, Sendable, CaseIterable {
    /// A B2B company, by its code.
    case company
    /// A customer group, by its code.
    case group
}

/// A price list assigned to one company or one customer group (by code; companies and groups may be managed
/// elsewhere, so there is no reference check).
public struct PriceListAssignment: Sendable, Hashable {
    /// The price list's code.
    public var listCode: String
    /// Company or group.
    public var target: PriceAssignmentTarget
    /// The company's or group's code.
    public var code: String

    /// An assignment.
    public init(listCode: String, target: PriceAssignmentTarget, code: String) {
        self.listCode = listCode
        self.target = target
        self.code = code
    }

    /// The assignment when it follows the model's rules, otherwise the first problem found.
    public func validated() throws(FieldError) -> PriceListAssignment {
        try Rules.sku(listCode, field: "list")
        try Rules.sku(code, field: target.rawValue)
        return self
    }
}

/// A time-limited price of a SKU in one sales channel.
public struct SpecialPrice: Sendable, Hashable {
    /// The SKU.
    public var sku: String
    /// The sales channel's code (`web-de`).
    public var channel: String
    /// The unit price.
    public var price: Money
    /// The first instant it applies (inclusive); nil = already.
    public var from: Timestamp?
    /// The instant it stops applying (exclusive); nil = open-ended.
    public var to: Timestamp?

    /// A special price.
    public init(sku: String, channel: String, price: Money, from: Timestamp? = nil, to: Timestamp? = nil) {
        self.sku = sku
        self.channel = channel
        self.price = price
        self.from = from
        self.to = to
    }

    /// The special price when it follows the model's rules, otherwise the first problem found.
    public func validated() throws(FieldError) -> SpecialPrice {
        try Rules.sku(sku)
        try Rules.sku(channel, field: "channel")
        guard price.minorUnits >= 0 else { throw FieldError(field: "amount", reason: "amount \(price.decimalString) is negative") }
        if let from, let to, to <= from {
            throw FieldError(field: "to", reason: "to \(to.rfc3339) must be after from \(from.rfc3339)")
        }
        return self
    }

    /// Whether `instant` is inside [from, to).
    public func isValid(at instant: Timestamp) -> Bool {
        if let from, instant < from { return false }
        if let to, instant >= to { return false }
        return true
    }
}

/// A pricing record as plugins emit it (entities `price_list`, `price_list_entry`, `price_list_assignment`,
/// `special_price`, `price_list_publish`). A full sync of a list is staged: the `price_list` record carries a load
/// token, entries carry the same token, and `price_list_publish` swaps the staged entries in, in one transaction.
public enum PricingRecord: Sendable, Hashable {
    /// A price list's header; `load` starts a staged full load of its entries.
    case list(PriceList, load: String?)
    /// One entry; `load` puts it into the staged load with that token instead of the live entries; `deleted`
    /// removes the live entry (incremental syncs).
    case entry(PriceListEntry, load: String?, deleted: Bool)
    /// An assignment (or its removal).
    case assignment(PriceListAssignment, deleted: Bool)
    /// A channel special price (or its removal).
    case special(SpecialPrice, deleted: Bool)
    /// Makes the staged load `load` of list `code` the live entries (atomically) and drops the old ones.
    case publish(code: String, load: String)

    /// The entity name on the plugin ABI.
    public var entity: String {
        switch self {
        case .list: "price_list"
        case .entry: "price_list_entry"
        case .assignment: "price_list_assignment"
        case .special: "special_price"
        case .publish: "price_list_publish"
        }
    }

    /// The record's key as a person reads it.
    public var keyDescription: String {
        switch self {
        case .list(let list, _): "price list '\(list.code)'"
        case .entry(let e, _, _): "entry of '\(e.sku)' from \(e.minQuantity) in price list '\(e.listCode)'"
        case .assignment(let a, _): "assignment of price list '\(a.listCode)' to \(a.target.rawValue) '\(a.code)'"
        case .special(let s, _): "special price of '\(s.sku)' in channel '\(s.channel)'"
        case .publish(let code, _): "publication of price list '\(code)'"
        }
    }

    /// The record when it follows the model's rules.
    public func validated() throws(FieldError) -> PricingRecord {
        switch self {
        case .list(let list, let load):
            if let load { try Rules.length(load, field: "load", max: 128) }
            return .list(try list.validated(), load: load)
        case .entry(let entry, let load, let deleted): return .entry(try entry.validated(), load: load, deleted: deleted)
        case .assignment(let a, let deleted): return .assignment(try a.validated(), deleted: deleted)
        case .special(let s, let deleted): return .special(try s.validated(), deleted: deleted)
        case .publish(let code, let load):
            try Rules.sku(code, field: "code")
            try Rules.length(load, field: "load", max: 128)
            return self
        }
    }
}

// MARK: Resolution

/// The question "what does this buyer pay for `sku` at `quantity` at `at`".
public struct PriceQuery: Sendable, Hashable {
    /// The SKU.
    public var sku: String
    /// The buyer's company code, if a B2B buyer.
    public var company: String?
    /// The buyer's customer group code, if any.
    public var group: String?
    /// The sales channel, for special prices.
    public var channel: String?
    /// Units ordered (≥ 1); picks the tier.
    public var quantity: Int64
    /// The instant the price is for (validity windows); usually now.
    public var at: Timestamp
    /// The currency the buyer pays in; nil = the one the applicable prices agree on.
    public var currency: Currency?

    /// A query.
    public init(
        sku: String, company: String? = nil, group: String? = nil, channel: String? = nil, quantity: Int64 = 1,
        at: Timestamp = .now(), currency: Currency? = nil
    ) {
        self.sku = sku
        self.company = company
        self.group = group
        self.channel = channel
        self.quantity = quantity
        self.at = at
        self.currency = currency
    }
}

/// One price considered for a query, and what became of it.
public struct PriceCandidate: Sendable, Hashable {
    /// Where a candidate comes from.
    public enum Kind: String, Sendable {
        /// The ERP's base price (tier by quantity).
        case base
        /// A price list entry.
        case priceList = "price_list"
        /// A channel special price.
        case special
    }

    /// What became of the candidate.
    public enum Outcome: String, Sendable {
        /// It is the price.
        case won
        /// It applied but another candidate beat it.
        case lost
        /// It did not apply (validity, tier, currency, channel …).
        case notApplicable = "not_applicable"
    }

    /// Where it comes from.
    public var kind: Kind
    /// The price list's code (price list candidates).
    public var listCode: String?
    /// The list's mode (price list candidates).
    public var mode: PriceListMode?
    /// The list's priority (price list candidates).
    public var priority: Int64?
    /// Why the list applies: `company:ACME` or `group:wholesale` (price list candidates).
    public var assignedVia: String?
    /// The channel (special prices).
    public var channel: String?
    /// The tier's minimum quantity (base and list candidates).
    public var minQuantity: Int64?
    /// The percentage off (percent entries).
    public var percentOff: PercentOff?
    /// The validity window, when the candidate has one.
    public var validFrom: Timestamp?
    /// The end of the validity window (exclusive).
    public var validTo: Timestamp?
    /// The unit price it stands for (nil when it could not be computed, e.g. no base price for a percentage).
    public var price: Money?
    /// What became of it.
    public var outcome: Outcome
    /// Why, in words.
    public var reason: String

    /// A candidate.
    public init(
        kind: Kind, listCode: String? = nil, mode: PriceListMode? = nil, priority: Int64? = nil, assignedVia: String? = nil,
        channel: String? = nil, minQuantity: Int64? = nil, percentOff: PercentOff? = nil, validFrom: Timestamp? = nil,
        validTo: Timestamp? = nil, price: Money?, outcome: Outcome, reason: String
    ) {
        self.kind = kind
        self.listCode = listCode
        self.mode = mode
        self.priority = priority
        self.assignedVia = assignedVia
        self.channel = channel
        self.minQuantity = minQuantity
        self.percentOff = percentOff
        self.validFrom = validFrom
        self.validTo = validTo
        self.price = price
        self.outcome = outcome
        self.reason = reason
    }
}

/// The price a query resolved to, and every candidate considered (when asked for).
public struct PriceResolution: Sendable, Hashable {
    /// The query answered.
    public var query: PriceQuery
    /// The unit price.
    public var unitPrice: Money
    /// The candidate that won.
    public var winner: PriceCandidate
    /// Every candidate considered, the winner included (empty unless an explanation was asked for).
    public var candidates: [PriceCandidate]

    /// A resolution.
    public init(query: PriceQuery, unitPrice: Money, winner: PriceCandidate, candidates: [PriceCandidate]) {
        self.query = query
        self.unitPrice = unitPrice
        self.winner = winner
        self.candidates = candidates
    }

    /// `unitPrice × quantity` (nil on overflow).
    public var lineTotal: Money? {
        let (total, overflow) = unitPrice.minorUnits.multipliedReportingOverflow(by: query.quantity)
        return overflow ? nil : Money(minorUnits: total, currency: unitPrice.currency)
    }
}

/// Why a query has no price.
public struct PriceResolutionFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Kind: String, Sendable {
        /// No candidate applies (no base price, no list, no special price): not zero, not found.
        case notFound = "not_found"
        /// Candidates apply in different currencies and the query named none (or named one none of them has).
        case currencyMismatch = "currency_mismatch"
        /// The query itself is wrong (quantity < 1, bad SKU).
        case invalid
    }

    /// The kind.
    public var kind: Kind
    /// What is wrong, for people.
    public var message: String
    /// The candidates considered (when an explanation was asked for).
    public var candidates: [PriceCandidate]

    /// A failure.
    public init(kind: Kind, message: String, candidates: [PriceCandidate] = []) {
        self.kind = kind
        self.message = message
        self.candidates = candidates
    }

    /// The message.
    public var description: String { message }
}

/// The resolution rules, independent of storage: given the candidates that apply, pick the price.
public enum Pricing {
    /// `numerator / denominator` rounded half to even (banker's rounding), for non-negative numerators and
    /// positive denominators.
    public static func divideHalfEven(_ numerator: Int128, by denominator: Int128) -> Int128 {
        let quotient = numerator / denominator
        let remainder = numerator % denominator
        let twice = remainder * 2
        if twice > denominator || (twice == denominator && quotient % 2 != 0) { return quotient + 1 }
        return quotient
    }

    /// Picks the winner among `candidates` (marking every one `won`/`lost`, leaving `notApplicable` ones alone):
    /// an applicable `override` list wins over everything (several: highest priority, then lowest price, then
    /// code); otherwise the lowest price wins, ties going to the higher priority, then price list over special
    /// over base, then code. Candidates must all be in one currency. Returns the winner's index, or nil when none
    /// applies. With `explainLosers` false the losers' reasons are left as they are (a cart's fast path).
    public static func pickWinner(_ candidates: inout [PriceCandidate], explainLosers: Bool = true) -> Int? {
        let applicable = candidates.indices.filter { candidates[$0].outcome != .notApplicable && candidates[$0].price != nil }
        guard !applicable.isEmpty else { return nil }
        let overrides = applicable.filter { candidates[$0].mode == .override }
        func kindRank(_ kind: PriceCandidate.Kind) -> Int {
            switch kind {
            case .priceList: 0
            case .special: 1
            case .base: 2
            }
        }
        func better(_ a: Int, _ b: Int, priorityFirst: Bool) -> Bool {
            let x = candidates[a], y = candidates[b]
            let px = x.price!.minorUnits, py = y.price!.minorUnits
            let rx = x.priority ?? Int64.min, ry = y.priority ?? Int64.min
            if priorityFirst {
                if rx != ry { return rx > ry }
                if px != py { return px < py }
            } else {
                if px != py { return px < py }
                if rx != ry { return rx > ry }
            }
            if kindRank(x.kind) != kindRank(y.kind) { return kindRank(x.kind) < kindRank(y.kind) }
            return (x.listCode ?? x.channel ?? "") < (y.listCode ?? y.channel ?? "")
        }
        let pool = overrides.isEmpty ? applicable : overrides
        var winner = pool[0]
        for index in pool.dropFirst() where better(index, winner, priorityFirst: !overrides.isEmpty) { winner = index }
        let winning = candidates[winner]
        for index in applicable where index != winner {
            candidates[index].outcome = .lost
            guard explainLosers else { continue }
            let price = candidates[index].price!
            candidates[index].outcome = .lost
            if !overrides.isEmpty && candidates[index].mode != .override {
                candidates[index].reason = "applies, but override list '\(winning.listCode ?? "")' wins over every price that is not an override"
            } else if price.minorUnits > winning.price!.minorUnits {
                candidates[index].reason = "applies, but \(price.decimalString) is more than the winning \(winning.price!.decimalString)"
            } else if price.minorUnits < winning.price!.minorUnits {
                candidates[index].reason = "applies at \(price.decimalString), but among override lists the higher priority wins (\(winning.priority ?? 0) > \(candidates[index].priority ?? 0))"
            } else {
                candidates[index].reason = "applies at the same price \(price.decimalString); the tie goes to the higher priority, then price list over special price over base price, then code"
            }
        }
        candidates[winner].outcome = .won
        candidates[winner].reason = !overrides.isEmpty
            ? "override list: a negotiated price wins over every other applicable price"
            : (applicable.count == 1 ? "the only applicable price" : "the lowest applicable price")
        return winner
    }
}

import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

/// The price resolution rules (docs/pricing.md), one test per rule, plus staged full loads and currency checks.
final class PricingTests: StoreTestCase {
    let now = Timestamp(rfc3339: "2026-06-15T12:00:00Z")!

    private func list(
        _ code: String, currency: Currency? = nil, priority: Int64 = 0, mode: PriceListMode = .lowest,
        from: String? = nil, to: String? = nil
    ) -> PriceList {
        PriceList(
            code: code, name: "List \(code)", currency: currency ?? eur, priority: priority, mode: mode,
            validFrom: from.flatMap { Timestamp(rfc3339: $0) }, validTo: to.flatMap { Timestamp(rfc3339: $0) })
    }

    private func fixed(_ list: String, _ sku: String, _ minor: Int64, from min: Int64 = 1, _ currency: Currency? = nil) -> PriceListEntry {
        PriceListEntry(listCode: list, sku: sku, minQuantity: min, adjustment: .fixed(Money(minorUnits: minor, currency: currency ?? eur)))
    }

    private func percent(_ list: String, _ sku: String, _ text: String, from min: Int64 = 1) throws -> PriceListEntry {
        PriceListEntry(listCode: list, sku: sku, minQuantity: min, adjustment: .percentOff(try PercentOff.parse(text)))
    }

    /// A list assigned to company ACME with `entries`.
    private func arrange(_ list: PriceList, _ entries: [PriceListEntry], company: String? = "ACME", group: String? = nil) throws {
        try store.putPriceList(list)
        _ = try store.putPriceListEntries(code: list.code, entries, replace: false)
        if let company { _ = try store.assignPriceList(PriceListAssignment(listCode: list.code, target: .company, code: company)) }
        if let group { _ = try store.assignPriceList(PriceListAssignment(listCode: list.code, target: .group, code: group)) }
    }

    private func resolve(
        _ sku: String = "SKU-1", company: String? = "ACME", group: String? = nil, channel: String? = nil, qty: Int64 = 1,
        at: Timestamp? = nil, currency: Currency? = nil
    ) throws -> Result<PriceResolution, PriceResolutionFailure> {
        try store.resolvePrice(
            PriceQuery(sku: sku, company: company, group: group, channel: channel, quantity: qty, at: at ?? now, currency: currency),
            explain: true)
    }

    private func price(_ result: Result<PriceResolution, PriceResolutionFailure>, file: StaticString = #filePath, line: UInt = #line) -> Int64? {
        switch result {
        case .success(let resolution): return resolution.unitPrice.minorUnits
        case .failure(let failure):
            XCTFail("no price: \(failure.message)", file: file, line: line)
            return nil
        }
    }

    func testBasePriceAloneIsThePrice() throws {
        _ = try store.apply([price("SKU-1", 1000)], cursor: nil)
        let result = try resolve(company: nil)
        XCTAssertEqual(price(result), 1000)
        XCTAssertEqual(try result.get().winner.kind, .base)
        XCTAssertEqual(try result.get().winner.outcome, .won)
    }

    func testTheListsACompanyRecordCarriesCountAsItsAssignments() throws {
        _ = try store.apply([price("SKU-1", 1000)], cursor: nil)
        try arrange(list("PL-B2B"), [fixed("PL-B2B", "SKU-1", 850)], company: nil)
        XCTAssertEqual(price(try resolve(company: "co_acme")), 1000, "no assignment and no company yet: the base price")
        _ = try store.insertCompany(Company(id: "co_acme", legalName: "ACME GmbH", priceLists: ["PL-B2B"]))
        let result = try resolve(company: "co_acme")
        XCTAssertEqual(price(result), 850, "the company's own price list (as the CRM sync stores it) applies")
        let winner = try result.get().winner
        XCTAssertTrue(winner.assignedVia?.contains("company:co_acme") ?? false, "\(winner)")
    }

    func testNoPriceIsNotFoundNotZero() throws {
        guard case .failure(let failure) = try resolve("NOPE") else { return XCTFail("expected no price") }
        XCTAssertEqual(failure.kind, .notFound)
        XCTAssertTrue(failure.message.contains("'NOPE'"), failure.message)
    }

    func testLowestApplicablePriceWins() throws {
        _ = try store.apply([price("SKU-1", 1000)], cursor: nil)
        try arrange(list("A"), [fixed("A", "SKU-1", 900)])
        try arrange(list("B", priority: 5), [fixed("B", "SKU-1", 850)], company: nil, group: "wholesale")
        let result = try resolve(group: "wholesale")
        XCTAssertEqual(price(result), 850)
        let resolution = try result.get()
        XCTAssertEqual(resolution.winner.listCode, "B")
        XCTAssertEqual(resolution.winner.assignedVia, "group:wholesale")
        let a = try XCTUnwrap(resolution.candidates.first { $0.listCode == "A" })
        XCTAssertEqual(a.outcome, .lost)
        XCTAssertTrue(a.reason.contains("more than the winning 8.50"), a.reason)
        XCTAssertEqual(resolution.candidates.first { $0.kind == .base }?.outcome, .lost)
    }

    func testAListPriceAboveTheBasePriceLoses() throws {
        _ = try store.apply([price("SKU-1", 1000)], cursor: nil)
        try arrange(list("A"), [fixed("A", "SKU-1", 1200)])
        XCTAssertEqual(try resolve().get().winner.kind, .base, "the lowest price wins, the base price included")
    }

    func testOverrideListWinsEvenWhenHigher() throws {
        _ = try store.apply([price("SKU-1", 1000)], cursor: nil)
        try arrange(list("CONTRACT", mode: .override), [fixed("CONTRACT", "SKU-1", 1100)])
        try arrange(list("PROMO"), [fixed("PROMO", "SKU-1", 700)])
        let resolution = try resolve().get()
        XCTAssertEqual(resolution.unitPrice.minorUnits, 1100)
        XCTAssertEqual(resolution.winner.listCode, "CONTRACT")
        let promo = try XCTUnwrap(resolution.candidates.first { $0.listCode == "PROMO" })
        XCTAssertEqual(promo.outcome, .lost)
        XCTAssertTrue(promo.reason.contains("override"), promo.reason)
    }

    func testAmongOverridesTheHigherPriorityWins() throws {
        try arrange(list("C1", priority: 1, mode: .override), [fixed("C1", "SKU-1", 500)])
        try arrange(list("C2", priority: 9, mode: .override), [fixed("C2", "SKU-1", 800)])
        XCTAssertEqual(try resolve().get().winner.listCode, "C2")
    }

    func testOverrideOutsideItsValidityDoesNotApply() throws {
        _ = try store.apply([price("SKU-1", 1000)], cursor: nil)
        try arrange(list("CONTRACT", mode: .override, to: "2026-01-01T00:00:00Z"), [fixed("CONTRACT", "SKU-1", 1100)])
        let resolution = try resolve().get()
        XCTAssertEqual(resolution.unitPrice.minorUnits, 1000)
        let contract = try XCTUnwrap(resolution.candidates.first { $0.listCode == "CONTRACT" })
        XCTAssertEqual(contract.outcome, .notApplicable)
        XCTAssertTrue(contract.reason.contains("not valid at"), contract.reason)
    }

    func testValidityWindowIsHalfOpen() throws {
        try arrange(list("SUMMER", from: "2026-06-01T00:00:00Z", to: "2026-09-01T00:00:00Z"), [fixed("SUMMER", "SKU-1", 500)])
        XCTAssertEqual(price(try resolve(at: Timestamp(rfc3339: "2026-06-01T00:00:00Z"))), 500, "from is inclusive")
        guard case .failure = try resolve(at: Timestamp(rfc3339: "2026-09-01T00:00:00Z")) else { return XCTFail("to is exclusive") }
    }

    func testHighestTierNotAboveTheQuantityApplies() throws {
        try arrange(list("T"), [fixed("T", "SKU-1", 1000), fixed("T", "SKU-1", 900, from: 10), fixed("T", "SKU-1", 800, from: 100)])
        XCTAssertEqual(price(try resolve(qty: 9)), 1000)
        XCTAssertEqual(price(try resolve(qty: 10)), 900)
        XCTAssertEqual(price(try resolve(qty: 99)), 900)
        let resolution = try resolve(qty: 150).get()
        XCTAssertEqual(resolution.unitPrice.minorUnits, 800)
        let reasons = resolution.candidates.filter { $0.listCode == "T" }.map { "\($0.minQuantity!):\($0.outcome.rawValue)" }
        XCTAssertEqual(reasons, ["1:not_applicable", "10:not_applicable", "100:won"])
        let tier10 = resolution.candidates.first { $0.minQuantity == 10 }!
        XCTAssertTrue(tier10.reason.contains("superseded by the tier from 100"), tier10.reason)
    }

    func testATierNotReachedDoesNotApply() throws {
        _ = try store.apply([price("SKU-1", 1000)], cursor: nil)
        try arrange(list("T"), [fixed("T", "SKU-1", 500, from: 50)])
        let resolution = try resolve(qty: 5).get()
        XCTAssertEqual(resolution.unitPrice.minorUnits, 1000)
        XCTAssertTrue(resolution.candidates.first { $0.listCode == "T" }!.reason.contains("not reached at quantity 5"))
    }

    func testPercentOffAppliesToTheBasePriceTierAndRoundsHalfEven() throws {
        // Base 10.05 EUR; 50 % off = 5.025 -> 5.02 (half to even); base tier from 10 = 10.15; 50 % = 5.075 -> 5.08.
        _ = try store.apply([price("SKU-1", 1005), .price(BasePrice(sku: "SKU-1", price: Money(minorUnits: 1015, currency: eur), minQuantity: 10))], cursor: nil)
        try arrange(list("P"), [try percent("P", "SKU-1", "50")])
        XCTAssertEqual(price(try resolve(qty: 1)), 502)
        XCTAssertEqual(price(try resolve(qty: 10)), 508)
        let winner = try resolve().get().winner
        XCTAssertEqual(winner.percentOff?.description, "50")
        XCTAssertTrue(winner.reason.contains("lowest"), winner.reason)
    }

    func testHalfEvenRounding() {
        XCTAssertEqual(Pricing.divideHalfEven(25, by: 10), 2)
        XCTAssertEqual(Pricing.divideHalfEven(35, by: 10), 4)
        XCTAssertEqual(Pricing.divideHalfEven(26, by: 10), 3)
        XCTAssertEqual(Pricing.divideHalfEven(24, by: 10), 2)
        XCTAssertEqual(try PercentOff.parse("12.5").apply(to: 1000), 875)
        XCTAssertEqual(try PercentOff.parse("33.3333").apply(to: 100), 67)  // 66.6667 -> 67
        XCTAssertEqual(try PercentOff.parse("100").apply(to: 999), 0)
        XCTAssertThrowsError(try PercentOff.parse("0"))
        XCTAssertThrowsError(try PercentOff.parse("100.5"))
        XCTAssertThrowsError(try PercentOff.parse("1.23456"))
    }

    func testPercentWithoutABasePriceInTheListCurrencyDoesNotApply() throws {
        _ = try store.apply([price("SKU-1", 1000, usd)], cursor: nil)
        try arrange(list("P"), [try percent("P", "SKU-1", "10")])
        let result = try resolve(currency: usd)
        XCTAssertEqual(price(result), 1000)
        let p = try result.get().candidates.first { $0.listCode == "P" }!
        XCTAssertEqual(p.outcome, .notApplicable)
        XCTAssertTrue(p.reason.contains("needs a base price in EUR"), p.reason)
    }

    func testCurrencyAmbiguityIsAnErrorNotAConversion() throws {
        _ = try store.apply([price("SKU-1", 1000, usd)], cursor: nil)
        try arrange(list("A"), [fixed("A", "SKU-1", 900)])
        guard case .failure(let failure) = try resolve() else { return XCTFail("expected a currency error") }
        XCTAssertEqual(failure.kind, .currencyMismatch)
        XCTAssertTrue(failure.message.contains("EUR and USD"), failure.message)
        XCTAssertEqual(price(try resolve(currency: eur)), 900)
        XCTAssertEqual(price(try resolve(currency: usd)), 1000)
        guard case .failure(let none) = try resolve(currency: jpy) else { return XCTFail("no JPY price") }
        XCTAssertEqual(none.kind, .notFound)
    }

    func testAFixedPriceInAnotherCurrencyThanItsListIsRefused() throws {
        try store.putPriceList(list("A"))
        let error = storeError { try store.putPriceListEntries(code: "A", [fixed("A", "SKU-1", 900, usd)], replace: false) }
        XCTAssertEqual(error?.code, .invalidRecord)
        XCTAssertTrue(error?.message.contains("never converts") == true, error?.message ?? "")
        let change = storeError { () throws -> Store.UpsertOutcome in
            _ = try store.putPriceListEntries(code: "A", [fixed("A", "SKU-1", 900)], replace: false)
            return try store.putPriceList(list("A", currency: usd))
        }
        XCTAssertEqual(change?.code, .conflict)
        // Not through a staged load either: until the publish, the live prices would be read in the new currency.
        let staged = storeError { try store.apply([.pricing(.list(list("A", currency: usd), load: "run-9"))], cursor: nil) }
        XCTAssertTrue(staged?.message.contains("cannot become USD") == true, staged?.message ?? "")
        XCTAssertEqual(try store.priceList(code: "A")?.list.currency, eur)
    }

    func testChannelSpecialPriceAppliesOnlyInItsChannelAndWindow() throws {
        _ = try store.apply([price("SKU-1", 1000)], cursor: nil)
        try store.putSpecialPrice(SpecialPrice(
            sku: "SKU-1", channel: "web", price: Money(minorUnits: 799, currency: eur),
            from: Timestamp(rfc3339: "2026-06-01T00:00:00Z"), to: Timestamp(rfc3339: "2026-07-01T00:00:00Z")))
        XCTAssertEqual(price(try resolve(channel: "web")), 799)
        XCTAssertEqual(price(try resolve(channel: "store")), 1000)
        XCTAssertEqual(price(try resolve(channel: "web", at: Timestamp(rfc3339: "2026-07-01T00:00:00Z"))), 1000)
        let special = try resolve(channel: "store").get().candidates.first { $0.kind == .special }!
        XCTAssertTrue(special.reason.contains("not 'store'"), special.reason)
    }

    func testUnassignedListsDoNotApply() throws {
        _ = try store.apply([price("SKU-1", 1000)], cursor: nil)
        try arrange(list("ACME-ONLY"), [fixed("ACME-ONLY", "SKU-1", 100)])
        XCTAssertEqual(price(try resolve(company: "OTHER")), 1000)
        XCTAssertEqual(price(try resolve(company: "ACME")), 100)
        XCTAssertTrue(try store.unassignPriceList(PriceListAssignment(listCode: "ACME-ONLY", target: .company, code: "ACME")))
        XCTAssertEqual(price(try resolve(company: "ACME")), 1000)
    }

    func testCartResolvesEveryLineInOrder() throws {
        _ = try store.apply([price("A", 100), price("B", 200)], cursor: nil)
        try arrange(list("L"), [fixed("L", "B", 150, from: 5)])
        let results = try store.resolvePrices([
            PriceQuery(sku: "A", company: "ACME", quantity: 1, at: now),
            PriceQuery(sku: "B", company: "ACME", quantity: 5, at: now),
            PriceQuery(sku: "C", company: "ACME", quantity: 1, at: now),
            PriceQuery(sku: "A", company: "ACME", quantity: 0, at: now),
        ])
        XCTAssertEqual(try results[0].get().unitPrice.minorUnits, 100)
        XCTAssertEqual(try results[1].get().unitPrice.minorUnits, 150)
        XCTAssertEqual(try results[1].get().lineTotal?.minorUnits, 750)
        XCTAssertTrue(try results[1].get().candidates.isEmpty, "no explanation unless asked")
        guard case .failure(let missing) = results[2], case .failure(let invalid) = results[3] else { return XCTFail() }
        XCTAssertEqual(missing.kind, .notFound)
        XCTAssertEqual(invalid.kind, .invalid)
    }

    func testReplaceSwapsEntriesAtomically() throws {
        try arrange(list("L"), [fixed("L", "A", 100), fixed("L", "B", 200)])
        _ = try store.putPriceListEntries(code: "L", [fixed("L", "B", 210), fixed("L", "C", 300)], replace: true)
        let page = try XCTUnwrap(try store.priceListEntries(code: "L"))
        XCTAssertEqual(page.items.map(\.sku), ["B", "C"])
        XCTAssertEqual(try sqlInt("SELECT COUNT(*) FROM price_list_entries"), 2, "old rows are gone")
    }

    func testStagedLoadIsInvisibleUntilPublishedAndAFailedLoadChangesNothing() throws {
        try arrange(list("L"), [fixed("L", "SKU-1", 100)])
        let header = PricingRecord.list(list("L"), load: "run-1")
        _ = try store.apply([.pricing(header), .pricing(.entry(fixed("L", "SKU-1", 90), load: "run-1", deleted: false))], cursor: nil)
        _ = try store.apply([.pricing(.entry(fixed("L", "SKU-2", 50), load: "run-1", deleted: false))], cursor: nil)
        // Between batches readers still see the old list, whole.
        XCTAssertEqual(price(try resolve()), 100)
        guard case .failure = try resolve("SKU-2") else { return XCTFail("SKU-2 is not live yet") }
        _ = try store.apply([.pricing(.publish(code: "L", load: "run-1"))], cursor: nil)
        XCTAssertEqual(price(try resolve()), 90)
        XCTAssertEqual(price(try resolve("SKU-2")), 50)

        // A load that never publishes (the run failed) leaves the live prices, and the next load discards its rows.
        _ = try store.apply([.pricing(.list(list("L"), load: "run-2")), .pricing(.entry(fixed("L", "SKU-1", 1), load: "run-2", deleted: false))], cursor: nil)
        XCTAssertEqual(price(try resolve()), 90)
        _ = try store.apply([.pricing(.list(list("L"), load: "run-3"))], cursor: nil)
        XCTAssertEqual(try sqlInt("SELECT COUNT(*) FROM price_list_entries"), 2, "run-2's staged rows were dropped")
        let late = storeError { try store.apply([.pricing(.publish(code: "L", load: "run-2"))], cursor: nil) }
        XCTAssertTrue(late?.message.contains("no staged load 'run-2'") == true, late?.message ?? "")
    }

    func testIncrementalEntriesAndDeletes() throws {
        try arrange(list("L"), [fixed("L", "SKU-1", 100), fixed("L", "SKU-1", 90, from: 10)])
        let counts = try store.apply([
            .pricing(.entry(fixed("L", "SKU-1", 95, from: 10), load: nil, deleted: false)),
            .pricing(.entry(fixed("L", "SKU-1", 100), load: nil, deleted: false)),
        ], cursor: nil)
        XCTAssertEqual(counts, .counts(0, 1, 1))
        XCTAssertEqual(price(try resolve(qty: 10)), 95)
        _ = try store.apply([.pricing(.entry(fixed("L", "SKU-1", 0, from: 10), load: nil, deleted: true))], cursor: nil)
        XCTAssertEqual(price(try resolve(qty: 10)), 100)
    }

    func testEntryForAnUnknownListIsRefusedWithAReason() throws {
        let error = storeError { try store.apply([.pricing(.entry(fixed("NOPE", "SKU-1", 1), load: nil, deleted: false))], cursor: nil) }
        XCTAssertTrue(error?.message.contains("there is no price list 'NOPE'") == true, error?.message ?? "")
    }

    func testDeletingAListRemovesEntriesAndAssignments() throws {
        try arrange(list("L"), [fixed("L", "SKU-1", 100)], group: "g")
        XCTAssertEqual(try store.priceLists().map(\.entryCount), [1])
        XCTAssertEqual(try store.priceList(code: "L")?.assignments.count, 2)
        XCTAssertTrue(try store.deletePriceList(code: "L"))
        XCTAssertFalse(try store.deletePriceList(code: "L"))
        XCTAssertEqual(try sqlInt("SELECT COUNT(*) FROM price_list_entries") + (try sqlInt("SELECT COUNT(*) FROM price_list_assignments")), 0)
    }

    func testPricingRecordsRoundTripThroughTheCodec() throws {
        let records: [PricingRecord] = [
            .list(list("L", priority: 3, mode: .override, from: "2026-01-01T00:00:00Z"), load: "x"),
            .entry(fixed("L", "SKU-1", 1250, from: 5), load: "x", deleted: false),
            .entry(try percent("L", "SKU-2", "7.5"), load: nil, deleted: false),
            .assignment(PriceListAssignment(listCode: "L", target: .group, code: "retail"), deleted: true),
            .special(SpecialPrice(sku: "S", channel: "web", price: Money(minorUnits: 5, currency: jpy)), deleted: false),
            .publish(code: "L", load: "x"),
        ]
        for record in records {
            let fields = PricingCodec.encode(record).map { (name: $0.name, value: Optional($0.value)) }
            XCTAssertEqual(try RecordCodec.decode(entity: record.entity, fields: fields).get(), .pricing(record))
        }
        guard case .failure(let error) = RecordCodec.decode(entity: "price_list_entry", fields: [("list", "L"), ("sku", "A"), ("amount", "1.00")]) else {
            return XCTFail("amount without currency")
        }
        XCTAssertEqual(error.field, "currency")
    }
}

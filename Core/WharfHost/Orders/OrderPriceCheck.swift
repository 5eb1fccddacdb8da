import WharfModel
import WharfStore

/// The seam between order placement and price resolution: the unit price a line must carry. `POST /v1/orders`
/// asks it for every line before it reserves stock, outside the writer (a resolver may call a CPQ system).
///
/// `ResolvedPriceCheck` (what the server uses) answers with price resolution: price lists, tiers, B2B and channel
/// prices (docs/pricing.md); `BasePriceCheck` answers from base prices alone.
public protocol OrderPriceCheck: Sendable {
    /// The price of one unit of `sku` when `quantity` units are bought in `order`'s currency by its customer or
    /// company, or nil when no price applies. Throws when price resolution itself failed (the order is then
    /// refused with 503, not with a price problem).
    func unitPrice(sku: String, quantity: Int64, order: NewOrder) throws -> Money?
}

/// Unit prices from the base price table: the tier with the largest minimum quantity not above the line's
/// quantity, in the order's currency.
public struct BasePriceCheck: OrderPriceCheck {
    /// Where base prices are read.
    public let store: Store

    /// A check against `store`'s base prices.
    public init(store: Store) { self.store = store }

    /// The base price tier for `quantity` units in `order.currency`, or nil.
    public func unitPrice(sku: String, quantity: Int64, order: NewOrder) throws -> Money? {
        try store.basePrices(sku: sku)
            .filter { $0.price.currency == order.currency && $0.minQuantity <= quantity }
            .max { $0.minQuantity < $1.minQuantity }?.price
    }
}

/// Unit prices as price resolution gives them (`Store.resolvePrice`): the buyer is the order's company (and that
/// company's customer group), the channel is the order's, the quantity is the line's, the currency the order's.
public struct ResolvedPriceCheck: OrderPriceCheck {
    /// Where prices, price lists and companies are read.
    public let store: Store

    /// A check against `store`'s price resolution.
    public init(store: Store) { self.store = store }

    /// The resolved unit price, nil when no price applies (or only in another currency: never converted).
    public func unitPrice(sku: String, quantity: Int64, order: NewOrder) throws -> Money? {
        let group = try order.companyID.flatMap { id throws(StoreError) in try store.company(id: id)?.customerGroup }
        let query = PriceQuery(
            sku: sku, company: order.companyID, group: group, channel: order.channel, quantity: quantity,
            currency: order.currency)
        switch try store.resolvePrice(query) {
        case .success(let resolution): return resolution.unitPrice
        case .failure(let failure) where failure.kind == .invalid: throw failure
        case .failure: return nil  // not found, or only in another currency: the line has no price
        }
    }
}

extension OrderPriceCheck {
    /// Every line whose unit price is not the resolved one, or that has no price.
    func problems(_ order: NewOrder) throws -> [OrderLineProblem] {
        var problems: [OrderLineProblem] = []
        for (i, line) in order.lines.enumerated() {
            guard let expected = try unitPrice(sku: line.sku, quantity: line.quantity, order: order) else {
                problems.append(OrderLineProblem(
                    line: i, sku: line.sku, kind: .noPrice,
                    reason: "\(line.sku) has no price in \(order.currency.code) for \(line.quantity) unit\(line.quantity == 1 ? "" : "s")"))
                continue
            }
            if expected.minorUnits != line.unitPrice.minorUnits {
                problems.append(OrderLineProblem(
                    line: i, sku: line.sku, kind: .priceMismatch,
                    reason: "unit price \(line.unitPrice.decimalString) \(order.currency.code) of \(line.sku) is not the current price \(expected.decimalString)",
                    expectedUnitPrice: expected.minorUnits))
            }
        }
        return problems
    }
}

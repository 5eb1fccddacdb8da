// Pricing benchmark (issue 6), run by scripts/bench-pricing: loads N SKUs x L price lists x 3 tiers through the
// store's public API, then measures (1) single-SKU resolution inside the server process (Store.resolvePrice, no
// network, with and without the explanation) and (2) 1,000-line cart resolution over HTTP (POST /v1/prices:resolve
// to a real WharfServer over loopback, keep-alive). Prints medians and p99s.
//
//   PricingBench <work folder> [--skus N] [--lists L] [--carts C]
import Foundation
import WharfAuth
import WharfHost
import WharfManifest
import WharfModel
import WharfStore
import WharfTestSupport

var arguments = Array(CommandLine.arguments.dropFirst())
guard let work = arguments.first else {
    print("usage: PricingBench <work folder> [--skus N] [--lists L] [--carts C]")
    exit(2)
}
arguments.removeFirst()
var skus = 100_000, lists = 50, carts = 50
while arguments.count >= 2 {
    let value = Int(arguments[1]) ?? 0
    switch arguments[0] {
    case "--skus": skus = value
    case "--lists": lists = value
    case "--carts": carts = value
    default: print("unknown option \(arguments[0])"); exit(2)
    }
    arguments.removeFirst(2)
}

func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

let eur = Currency(code: "EUR")!
try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
let manifestPath = work + "/bench.json5"
try "{ database: \"db/wharf.sqlite\", listen: \"127.0.0.1:0\", pluginFolder: \"plugins\", connectors: [] }"
    .write(toFile: manifestPath, atomically: true, encoding: .utf8)
let deployment = try Deployment(manifest: try Manifest.load(path: manifestPath))
let store = deployment.store
let sku = { (i: Int) in "SKU-\(String(format: "%06d", i))" }

let listCount = try store.priceLists().count
let firstListEntries = try store.priceList(code: "L00")?.entryCount ?? 0
let loaded = listCount == lists && firstListEntries == Int64(skus * 3)
if !loaded {
    print("== loading \(skus) SKUs x \(lists) lists x 3 tiers (\(skus * lists * 3) entries)")
    let start = ContinuousClock.now
    var batch: [ModelRecord] = []
    for i in 0..<skus {
        batch.append(.price(BasePrice(sku: sku(i), price: Money(minorUnits: Int64(1000 + i % 9000), currency: eur))))
        if batch.count == 10_000 { _ = try store.apply(batch, cursor: nil); batch.removeAll() }
    }
    if !batch.isEmpty { _ = try store.apply(batch, cursor: nil) }
    for l in 0..<lists {
        let code = String(format: "L%02d", l)
        try store.putPriceList(PriceList(code: code, name: "List \(l)", currency: eur, priority: Int64(l % 7), mode: l % 17 == 5 ? .override : .lowest))
        _ = try store.assignPriceList(PriceListAssignment(listCode: code, target: .group, code: "g\(l % 10)"))
        _ = try store.assignPriceList(PriceListAssignment(listCode: code, target: .company, code: "c\(l % 25)"))
        var entries: [PriceListEntry] = []
        entries.reserveCapacity(skus * 3)
        for i in 0..<skus {
            for (tier, min) in [1, 10, 100].enumerated() {
                let adjustment: PriceAdjustment = l % 2 == 0
                    ? .fixed(Money(minorUnits: Int64(900 + (i + l * 7) % 8000 - tier * 20), currency: eur))
                    : .percentOff(PercentOff(tenThousandths: Int64(50_000 + tier * 25_000 + l * 1_000)))
                entries.append(PriceListEntry(listCode: code, sku: sku(i), minQuantity: Int64(min), adjustment: adjustment))
            }
        }
        _ = try store.putPriceListEntries(code: code, entries, replace: true)
        if l % 10 == 9 { print("   \(l + 1) lists loaded (\(String(format: "%.0f", seconds(since: start))) s)") }
    }
    print(String(format: "   loaded in %.1f s", seconds(since: start)))
} else {
    print("== reusing the loaded database in \(work)/db")
}

// (1) Single-SKU resolution inside the server process.
var generator = SystemRandomNumberGenerator()
func query(_ i: Int, qty: Int64) -> PriceQuery {
    PriceQuery(sku: sku(i), company: "c\(i % 25)", group: "g\(i % 10)", channel: nil, quantity: qty)
}
for explain in [false, true] {
    var times: [Double] = []
    for n in 0..<10_000 {
        let q = query(Int.random(in: 0..<skus, using: &generator), qty: Int64(n % 150 + 1))
        let start = ContinuousClock.now
        _ = try store.resolvePrice(q, explain: explain)
        times.append(seconds(since: start))
    }
    print(String(format: "single-SKU resolve in process%@: median %.3f ms, p99 %.3f ms (10000 random SKUs)",
                 explain ? " with explain" : "", percentile(times, 0.5) * 1000, percentile(times, 0.99) * 1000))
}

// (2) 1,000-line carts over HTTP.
let server = try WharfServer(deployment: deployment, port: 0)
try server.start()
let (key, record) = APIKeys.generate(name: "bench-\(UUID().uuidString.prefix(8))", scopes: ["catalog:read"], now: .now())
try store.insertAPIKey(record)
let client = try TestHTTPClient(port: server.port, timeout: 30)
var cartTimes: [Double] = []
var inProcessCartTimes: [Double] = []
for c in 0..<(carts + 3) {
    let base = Int.random(in: 0..<skus, using: &generator)
    let lines = (0..<1000).map { "{\"sku\":\"\(sku((base + $0 * 97) % skus))\",\"qty\":\($0 % 150 + 1)}" }
    let body = Array("{\"company\":\"c\(c % 25)\",\"group\":\"g\(c % 10)\",\"lines\":[\(lines.joined(separator: ","))]}".utf8)
    let start = ContinuousClock.now
    let response = try client.send("POST", "/v1/prices:resolve", headers: [("Authorization", "Bearer \(key)"), ("Content-Type", "application/json")], body: body)
    let elapsed = seconds(since: start)
    guard response.status == 200 else { print("cart failed: \(response.status) \(response.bodyText.prefix(300))"); exit(1) }
    if c >= 3 { cartTimes.append(elapsed) }  // the first carts warm the readers' caches
    let queries = (0..<1000).map { PriceQuery(sku: sku((base + $0 * 97) % skus), company: "c\(c % 25)", group: "g\(c % 10)", quantity: Int64($0 % 150 + 1)) }
    let inProcess = ContinuousClock.now
    _ = try store.resolvePrices(queries)
    if c >= 3 { inProcessCartTimes.append(seconds(since: inProcess)) }
}
print(String(format: "1000-line cart over HTTP: median %.1f ms, p99 %.1f ms (%d carts, keep-alive, loopback)",
             percentile(cartTimes, 0.5) * 1000, percentile(cartTimes, 0.99) * 1000, carts))
print(String(format: "1000-line cart in process (Store.resolvePrices): median %.1f ms", percentile(inProcessCartTimes, 0.5) * 1000))
client.close()
server.shutdown()

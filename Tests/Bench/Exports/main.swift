// Export benchmark driver (scripts/bench-exports): seeds a store with orders of many lines, then times one
// bi-export run of the order lines to CSV (in process, the plugin loaded with dlopen like in production).
import Foundation
import WharfHost
import WharfManifest
import WharfModel
import WharfStore

func argument(_ name: String, _ fallback: String? = nil) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    guard let fallback else { fatalError("missing \(name)") }
    return fallback
}

let plugin = argument("--plugin")
let work = argument("--work")
let lines = Int(argument("--lines", "1000000"))!
let perOrder = Int(argument("--lines-per-order", "100"))!
let gzip = argument("--gzip", "false") == "true"

try? FileManager.default.removeItem(atPath: work)
try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
let manifestPath = work + "/wharf.json5"
try """
    { database: "db/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins",
      connectors: [ { name: "bi", plugin: "bi-export", isolation: "inprocess",
        config: { folder: "out", settleSeconds: 0, gzip: \(gzip), formats: ["csv"], entities: ["order_line"] } } ] }
    """.write(toFile: manifestPath, atomically: true, encoding: .utf8)
let deployment = try Deployment(manifest: try Manifest.load(path: manifestPath), logger: Logger(level: .warning))
try deployment.plugins.install(from: plugin, replace: false, host: HostServices.table)
let store = deployment.store
let eur = Currency(code: "EUR")!

let seedStart = Date()
for p in 0..<perOrder {
    _ = try store.putProduct(Product(sku: "SKU-\(p)", name: "Product \(p)"))
}
_ = try store.apply((0..<perOrder).map { .stock(InventorySourceItem(sku: "SKU-\($0)", sourceCode: "WH", quantity: 1_000_000_000)) }, cursor: nil)
let orders = lines / perOrder
for o in 0..<orders {
    let new = NewOrder(
        channel: "web", customerID: "c-\(o % 5000)", currency: eur,
        lines: (0..<perOrder).map { NewOrderLine(sku: "SKU-\($0)", quantity: Int64(1 + ($0 + o) % 5), unitPrice: Money(minorUnits: Int64(999 + $0), currency: eur)) })
    guard case .created = try store.placeOrder(new, idempotencyKey: nil, requestDigest: [], payload: { _ in "{}" }) else {
        fatalError("order \(o) was not placed")
    }
}
let seeded = Date().timeIntervalSince(seedStart)
print("seeded \(orders) orders with \(orders * perOrder) lines in \(String(format: "%.1f", seeded)) s")

Thread.sleep(forTimeInterval: 0.01)
let start = Date()
let run = try ConnectorRunner(deployment: deployment).ingest(connector: "bi", trigger: .manual)
let seconds = Date().timeIntervalSince(start)
guard run.state == .succeeded else { fatalError("export failed: \(run.error ?? "")") }
let files = try store.exportFiles(runIDs: [run.id])[run.id] ?? []
let bytes = files.reduce(0) { $0 + $1.bytes }
print("exported \(run.counts.read) order lines (\(gzip ? "gzip " : "")CSV, \(files.count) files, \(bytes / 1_000_000) MB) in \(String(format: "%.2f", seconds)) s: \(Int(Double(run.counts.read) / seconds)) rows/s")

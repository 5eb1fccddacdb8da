// Order placement benchmark (issue 8), driven by scripts/bench-orders: a real `wharf serve` (release build) with the
// oms plugin pointing at a local OMS test server in this process; C clients (threads, one keep-alive connection
// each) POST /v1/orders with unique Idempotency-Keys for D seconds. Prints orders/s placed, the median (p90, p99)
// time from an order's 201 answer to the OMS receiving it, and orders per OMS call.
//
//   BenchOrders --wharf PATH --plugin PATH --work DIR [--clients 32] [--seconds 10] [--window-ms 200] [--pause-ms 0]
import Foundation
import WharfTestSupport

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bench-orders: \(message)\n".utf8))
    exit(1)
}

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let name = arguments.popFirst() {
    guard name.hasPrefix("--"), let value = arguments.popFirst() else { fail("usage: --wharf PATH --plugin PATH --work DIR [--clients N] [--seconds S] [--window-ms MS]") }
    options[String(name.dropFirst(2))] = value
}
guard let wharf = options["wharf"], let plugin = options["plugin"], let work = options["work"] else { fail("--wharf, --plugin and --work are required") }
let clients = Int(options["clients"] ?? "32") ?? 32
let seconds = Double(options["seconds"] ?? "10") ?? 10
let window = Int(options["window-ms"] ?? "200") ?? 200
/// A pause after each order per client, to measure a light load where the coalescing window dominates.
let pause = Double(options["pause-ms"] ?? "0") ?? 0

// MARK: Deployment

try? FileManager.default.removeItem(atPath: work)
try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
let oms = try OMSTestServer()
let manifest = work + "/bench.json5"
try """
    {
      database: "db/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins",
      log: { format: "logfmt", level: "warning" },
      connectors: [ { name: "oms", plugin: "oms", config: { baseURL: "\(oms.baseURL)", orders: { windowMs: \(window), maxBatch: 100 } } } ],
    }
    """.write(toFile: manifest, atomically: true, encoding: .utf8)

func run(_ args: [String]) -> String {
    guard let result = try? ProcessRunner.run(URL(fileURLWithPath: wharf), ["--manifest", manifest] + args, timeout: 60), result.exitCode == 0 else {
        fail("wharf \(args.joined(separator: " ")) failed")
    }
    return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}
_ = run(["plugins", "install", plugin])
let key = run(["keys", "create", "--name", "bench", "--scopes", "catalog:write,inventory:write,orders:read,orders:write"])

let server = Process()
server.executableURL = URL(fileURLWithPath: wharf)
server.arguments = ["--manifest", manifest, "serve"]
let output = Pipe()
server.standardOutput = output
server.standardError = FileHandle.nullDevice
try server.run()
var banner = ""
while !banner.contains("\n") {
    let chunk = output.fileHandleForReading.availableData
    if chunk.isEmpty { break }
    banner += String(decoding: chunk, as: UTF8.self)
}
guard let range = banner.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression), let port = Int(banner[range].split(separator: ":").last ?? "") else {
    server.terminate()
    fail("wharf serve did not say where it listens: \(banner)")
}
defer { server.terminate() }

// MARK: Seed: 100 products with a price and plenty of stock

let auth = [("Authorization", "Bearer \(key)"), ("Content-Type", "application/json")]
let seeder = try TestHTTPClient(port: port, timeout: 30)
let skus = (0..<100).map { "BENCH-\($0)" }
_ = try seeder.send("POST", "/v1/products:batch", headers: auth, text: #"{"items": ["# + skus.map { #"{"sku": "\#($0)", "name": "Item \#($0)"}"# }.joined(separator: ",") + "]}")
_ = try seeder.send("POST", "/v1/prices/base", headers: auth, text: #"{"items": ["# + skus.map { #"{"sku": "\#($0)", "currency": "EUR", "amount": "9.99"}"# }.joined(separator: ",") + "]}")
_ = try seeder.send("POST", "/v1/inventory/source-items", headers: auth, text: #"{"items": ["# + skus.map { #"{"sku": "\#($0)", "source": "BER", "quantity": 1000000000}"# }.joined(separator: ",") + "]}")
seeder.close()

// MARK: Load

final class Tally: @unchecked Sendable {
    let lock = NSLock()
    var answered: [String: Date] = [:]
    var placed = 0
    var errors = 0
}
let tally = Tally()
let stop = Date().addingTimeInterval(seconds)
let group = DispatchGroup()
let idPrefix = Array(#""id":""#.utf8)
let started = Date()
for c in 0..<clients {
    group.enter()
    Thread.detachNewThread {
        defer { group.leave() }
        guard let client = try? TestHTTPClient(port: port, timeout: 30) else { tally.lock.withLock { tally.errors += 1 }; return }
        var i = 0
        var local: [(String, Date)] = []
        var errors = 0
        while Date() < stop {
            i += 1
            let sku = skus[(c * 7 + i) % skus.count]
            let body = #"{"channel": "web", "customerId": "c-\#(c)", "currency": "EUR", "lines": [{"sku": "\#(sku)", "quantity": 1, "unitPrice": "9.99"}]}"#
            guard let response = try? client.send("POST", "/v1/orders", headers: auth + [("Idempotency-Key", "b-\(c)-\(i)")], text: body),
                response.status == 201
            else { errors += 1; continue }
            let now = Date()
            if pause > 0 { Thread.sleep(forTimeInterval: pause / 1000) }
            // The order's id is the first "id" of the answer; found without parsing the whole document.
            if let start = response.body.firstRange(of: idPrefix)?.upperBound, let end = response.body[start...].firstIndex(of: UInt8(ascii: "\"")) {
                local.append((String(decoding: response.body[start..<end], as: UTF8.self), now))
            }
        }
        client.close()
        tally.lock.withLock {
            for (id, at) in local { tally.answered[id] = at }
            tally.placed += local.count
            tally.errors += errors
        }
    }
}
group.wait()
let elapsed = Date().timeIntervalSince(started)
_ = oms.waitForMessages(tally.placed, timeout: 30)
let arrivals = oms.firstArrivals
let latencies: [Double] = tally.answered.compactMap { id, answered in
    arrivals[id].map { $0.timeIntervalSince(answered) * 1000 }
}.sorted()
func percentile(_ sorted: [Double], _ p: Double) -> Double { sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
let batches = oms.receivedBatches
print(String(format: "clients %d, %.1f s: %d orders placed, %.0f orders/s, %d errors", clients, elapsed, tally.placed, Double(tally.placed) / elapsed, tally.errors))
print(String(format: "answered -> OMS received (ms): median %.0f, p90 %.0f, p99 %.0f (%d of %d orders reached the OMS)",
             percentile(latencies, 0.5), percentile(latencies, 0.9), percentile(latencies, 0.99), latencies.count, tally.placed))
print(String(format: "OMS calls: %d, %.1f orders per call", batches.count, Double(batches.reduce(0) { $0 + $1.count }) / Double(max(1, batches.count))))
oms.stop()

import Foundation
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

/// Kills the real `wharf run` with SIGKILL at random moments of a large import and checks what every crash left:
/// a sound database, whole batches only, a cursor that matches the data, and — after one more run — exactly the
/// state of an import that was never interrupted.
///
/// Every run imports a new version of the same catalog (every product renamed, every price changed), so every
/// batch of every run writes, wherever the kill lands. After a kill the database must hold the killed run's
/// version for a prefix of the file that ends at a batch boundary, and earlier versions after it.
final class CrashSafetyTests: XCTestCase {
    /// Lines in each products file; each gives a product and its base price (two records).
    static let lines = 25_000
    /// An odd batch size splits lines across batches, so a half-applied batch would show as a boundary that is not
    /// a multiple of it, or as a product without its price.
    static let batchSize = 999

    var folder: TemporaryDirectory!

    override func setUp() {
        folder = TemporaryDirectory(prefix: "wharf-crash")
    }

    override func tearDown() {
        folder = nil
    }

    /// Writes version `version` of the catalog and a manifest that imports it into `database`; returns the
    /// manifest's path.
    func catalogVersion(_ version: Int, database: String) -> String {
        writeCatalog(version)
        return manifest(version, database: database)
    }

    /// Writes version `version` of the products file.
    func writeCatalog(_ version: Int) {
        var text = ""
        text.reserveCapacity(Self.lines * 90)
        for i in 1...Self.lines {
            text += "{\"sku\":\"BIG-\(i)\",\"name\":\"\(Self.name(i, version))\",\"price\":\"\(i % 90 + 1).\(version < 10 ? "0" : "")\(version)\","
                + "\"currency\":\"EUR\",\"attributes\":{\"n\":\"\(i)\"}}\n"
        }
        folder.write("products-v\(version).jsonl", text)
    }

    /// A manifest that imports version `version` of the products file into `database`; returns its path.
    func manifest(_ version: Int, database: String) -> String {
        folder.write("\(database)-v\(version).json5", """
            { database: "\(database).sqlite", pluginFolder: "plugins",
              connectors: [{ name: "catalog", plugin: "catalog-file", config: { path: "products-v\(version).jsonl", batch_size: \(Self.batchSize) } }] }
            """)
    }

    static func name(_ line: Int, _ version: Int) -> String { "Product \(line) v\(version)" }

    static func priceMinor(_ line: Int, _ version: Int) -> Int64 { Int64((line % 90 + 1) * 100 + version) }

    func testAnImportKilledAtRandomMomentsLeavesWholeBatchesAndConvergesOnTheUninterruptedState() throws {
        let kills = 20
        let finalVersion = kills + 1
        // The uninterrupted import of the last version: the state the crashed database must converge on, and how
        // long one import takes.
        let reference = catalogVersion(finalVersion, database: "reference")
        let install = try ProcessRunner.run(
            BuildProducts.wharf, ["--manifest", reference, "plugins", "install", BuildProducts.plugin("wharf-catalog-file").path])
        XCTAssertEqual(install.exitCode, 0, install.stderr)
        let started = Date()
        let uninterrupted = try ProcessRunner.run(BuildProducts.wharf, ["--manifest", reference, "run", "catalog"], timeout: 120)
        let duration = Date().timeIntervalSince(started)
        XCTAssertEqual(uninterrupted.exitCode, 0, uninterrupted.stdout + uninterrupted.stderr)
        XCTAssertTrue(uninterrupted.stdout.contains("inserted \(2 * Self.lines)"), uninterrupted.stdout)
        let (expected, expectedCursor) = try withStore(folder.file("reference.sqlite")) { store in
            (try store.contentChecksum(), try store.cursor(connector: "catalog"))
        }
        XCTAssertEqual(expected.rows(of: "products"), Int64(Self.lines))
        XCTAssertEqual(expected.rows(of: "base prices"), Int64(Self.lines))
        XCTAssertNotNil(expectedCursor, "the finished import stored its cursor")

        // Kill moments are uniform from process start to a little past a whole import, capped so the test stays
        // well under a minute on a slow machine.
        let seed = ProcessInfo.processInfo.environment["WHARF_CRASH_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        var random = SplitMix64(seed: seed)
        let latest = min(duration * 1.1, 3.0)
        // What the database must hold: the version of each line's product and price (0: none yet).
        var productVersion = [Int](repeating: 0, count: Self.lines + 1)
        var priceVersion = [Int](repeating: 0, count: Self.lines + 1)
        var cursor: String?
        var killedMidImport = 0
        for version in 1...kills {
            let manifest = catalogVersion(version, database: "crashed")
            let delay = Double(random.next() % 10_000) / 10_000 * latest
            let context = "kill \(version) after \(String(format: "%.3f", delay)) s (WHARF_CRASH_SEED=\(seed))"
            let exited = try runAndKill(manifest: manifest, after: delay)
            try waitUntilUnused(folder.file("crashed.sqlite"), context)
            try withStore(folder.file("crashed.sqlite")) { store in
                XCTAssertEqual(try store.checkIntegrity(), [], "PRAGMA integrity_check after \(context)")
                // The run's version covers a prefix of the file: find where it ends, for products and for prices.
                let products = try prefix { try store.product(sku: "BIG-\($0)")?.name == Self.name($0, version) }
                let prices = try prefix { try store.basePrices(sku: "BIG-\($0)").first?.price.minorUnits == Self.priceMinor($0, version) }
                let records = products + prices
                let complete = records == 2 * Self.lines
                XCTAssertTrue(
                    complete || records % Self.batchSize == 0,
                    "half a batch is visible: the run's first \(products) products and \(prices) prices (\(context))")
                XCTAssertTrue(products - prices == 0 || products - prices == 1, "a line's records are split wrongly: \(products) products, \(prices) prices (\(context))")
                // The cursor moves only with the final batch, in its transaction.
                let stored = try store.cursor(connector: "catalog")
                if complete {
                    XCTAssertNotNil(stored, context)
                    XCTAssertNotEqual(stored, cursor, "the run finished but its cursor did not move (\(context))")
                } else {
                    XCTAssertEqual(stored, cursor, "the cursor moved without all its data (\(context))")
                    if records > 0 && !exited { killedMidImport += 1 }
                }
                cursor = stored
                for line in 1...Self.lines {
                    if line <= products { productVersion[line] = version }
                    if line <= prices { priceVersion[line] = version }
                }
                // Beyond the prefix, earlier runs' data stays as they left it (a sample; the checksum at the end
                // compares everything).
                var samples = [products + 1, prices + 1].filter { $0 <= Self.lines }
                for _ in 0..<20 { samples.append(Int(random.next() % UInt64(Self.lines)) + 1) }
                for line in samples {
                    let product = try store.product(sku: "BIG-\(line)")
                    XCTAssertEqual(product?.name, productVersion[line] == 0 ? nil : Self.name(line, productVersion[line]), "line \(line) after \(context)")
                    let price = try store.basePrices(sku: "BIG-\(line)").first?.price.minorUnits
                    XCTAssertEqual(price, priceVersion[line] == 0 ? nil : Self.priceMinor(line, priceVersion[line]), "line \(line) after \(context)")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(killedMidImport, 5, "too few kills landed in the middle of an import to prove anything (WHARF_CRASH_SEED=\(seed))")

        let rerun = try ProcessRunner.run(BuildProducts.wharf, ["--manifest", manifest(finalVersion, database: "crashed"), "run", "catalog"], timeout: 120)
        XCTAssertEqual(rerun.exitCode, 0, rerun.stdout + rerun.stderr)
        try withStore(folder.file("crashed.sqlite")) { store in
            XCTAssertEqual(try store.checkIntegrity(), [])
            XCTAssertEqual(try store.contentChecksum(), expected, "re-running converged on the uninterrupted import's state (WHARF_CRASH_SEED=\(seed))")
            XCTAssertEqual(try store.cursor(connector: "catalog"), expectedCursor)
        }
    }

    /// The number of leading lines (from line 1) for which `holds` is true, by binary search: the lines a run has
    /// committed form a prefix of the file.
    func prefix(_ holds: (Int) throws -> Bool) rethrows -> Int {
        var low = 0, high = Self.lines  // holds for 1...low; fails for high + 1...
        while low < high {
            let middle = (low + high + 1) / 2
            if try holds(middle) { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// Starts `wharf run catalog`, sends SIGKILL to its whole process group (a worker it started dies with it) after
    /// `delay` seconds, and returns whether it had already exited by itself.
    func runAndKill(manifest: String, after delay: TimeInterval) throws -> Bool {
        let process = Process()
        process.executableURL = BuildProducts.wharf
        process.arguments = ["--manifest", manifest, "run", "catalog"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Foundation starts the child in a process group of its own.
        let group = process.processIdentifier
        usleep(UInt32(delay * 1_000_000))
        let exited = !process.isRunning
        kill(-group, SIGKILL)
        process.waitUntilExit()
        return exited
    }

    /// Waits (at most 10 s) until no process has the database open any more, so the checks see what the crash
    /// left, not a process that is still writing.
    func waitUntilUnused(_ path: String, _ context: String) throws {
        let deadline = Date().addingTimeInterval(10)
        while try Store.databaseIsInUse(path) {
            guard Date() < deadline else {
                XCTFail("the database stayed in use 10 s after \(context): a process of the killed run lives on")
                throw CocoaError(.fileLocking)
            }
            usleep(20_000)
        }
    }

    func withStore<T>(_ path: String, _ body: (Store) throws -> T) throws -> T {
        let store = try Store(path: path, readerCount: 1)
        defer { store.close() }
        return try body(store)
    }
}

/// A small seeded generator, so a failing sequence of kill moments can be replayed with WHARF_CRASH_SEED.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

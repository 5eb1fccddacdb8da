import Foundation
import Synchronization
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

/// Online backup under write load, restore with its checks, the content checksum and the integrity check.
final class BackupTests: StoreTestCase {
    /// Batch `k` of the write load: 100 new products with prices, and the product `LAST` renamed "batch k" — so
    /// a state holding n whole batches has 101·n products… and LAST names batch n - 1.
    static func loadBatch(_ k: Int) -> [ModelRecord] {
        var records: [ModelRecord] = []
        for i in 0..<100 {
            let sku = "K\(String(k + 1_000_000).dropFirst())-\(i)"
            records.append(.product(Product(sku: sku, name: "Product \(k)/\(i) with a name long enough to fill pages")))
            records.append(.price(BasePrice(sku: sku, price: Money(minorUnits: Int64(k * 100 + i), currency: Currency(code: "EUR")!))))
        }
        records.append(.product(Product(sku: "LAST", name: "batch \(k)")))
        return records
    }

    /// The number of whole load batches in `store`, failing the test when the state is not one a sequence of
    /// whole batches produces.
    func wholeBatches(in store: Store, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let counts = try store.contentCounts()
        let products = counts["products"] ?? 0
        let prices = counts["base prices"] ?? 0
        guard products > 0 else {
            XCTAssertEqual(prices, 0, file: file, line: line)
            return 0
        }
        XCTAssertEqual((products - 1) % 100, 0, "products \(products) are not whole batches", file: file, line: line)
        XCTAssertEqual(prices, products - 1, "prices travel with their products in the same batch", file: file, line: line)
        let batches = Int((products - 1) / 100)
        XCTAssertEqual(try store.product(sku: "LAST")?.name, "batch \(batches - 1)", "LAST names the last whole batch", file: file, line: line)
        return batches
    }

    func testABackupUnderWriteLoadIsOneConsistentStateAndPassesTheIntegrityCheck() throws {
        for k in 0..<150 { _ = try store.apply(Self.loadBatch(k), cursor: nil) }
        let load = WriteLoad(committed: 150)
        let store = self.store!
        let writer = Thread {
            var k = 150
            while !load.stop.load(ordering: .relaxed) {
                do {
                    _ = try store.apply(Self.loadBatch(k), cursor: nil)
                } catch {
                    load.failure.withLock { $0 = "\(error)" }
                    return
                }
                k += 1
                load.committed.store(k, ordering: .relaxed)
            }
        }
        writer.start()
        // Small steps with pauses stretch the copy over many of the writer's commits.
        let before = load.committed.load(ordering: .relaxed)
        var progressCalls = 0
        let report = try store.backup(
            to: folder.file("backup.sqlite"),
            options: Store.BackupOptions(pagesPerStep: 16, pauseBetweenSteps: .milliseconds(2))
        ) { copied, total in
            progressCalls += 1
            XCTAssertLessThanOrEqual(copied, total)
        }
        let during = load.committed.load(ordering: .relaxed) - before
        load.stop.store(true, ordering: .relaxed)
        while !writer.isFinished { usleep(1000) }
        XCTAssertNil(load.failure.withLock { $0 }, "the writer was never refused")
        XCTAssertGreaterThan(during, 0, "the writer committed batches while the backup ran (it was not blocked)")
        XCTAssertGreaterThan(report.steps, 10, "copied in steps")
        XCTAssertGreaterThan(progressCalls, 10)
        XCTAssertTrue(report.verified)
        XCTAssertEqual(report.schemaVersion, Store.latestSchemaVersion)

        let info = try Store.inspectDatabase(at: report.path)
        XCTAssertEqual(info.integrityProblems, [], "PRAGMA integrity_check is ok")
        XCTAssertTrue(info.integrityChecked)
        XCTAssertEqual(info.bytes, report.bytes)
        XCTAssertFalse(FileManager.default.fileExists(atPath: report.path + "-wal"), "a backup is one self-contained file")
        let copy = try Store(path: report.path, readerCount: 1)
        defer { copy.close() }
        let batches = try wholeBatches(in: copy)
        XCTAssertGreaterThanOrEqual(batches, before, "it holds every batch committed before it started")
        XCTAssertLessThanOrEqual(batches, load.committed.load(ordering: .relaxed))
        XCTAssertEqual(try copy.checkIntegrity(), [])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".partial-") }
        XCTAssertEqual(leftovers, [], "no temporary file is left behind")
    }

    func testABackupNeverOverwritesByAccidentNorCopiesOntoItsOwnDatabase() throws {
        _ = try store.apply(Self.loadBatch(0), cursor: nil)
        let path = folder.file("backup.sqlite")
        folder.write("backup.sqlite", "an older backup")
        let exists = storeError { try store.backup(to: path) }
        XCTAssertEqual(exists?.code, .invalidArgument)
        XCTAssertTrue(exists?.message.contains("already exists") ?? false, exists?.message ?? "")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "an older backup", "untouched")

        let report = try store.backup(to: path, options: Store.BackupOptions(replace: true))
        XCTAssertEqual(try Store.inspectDatabase(at: report.path).schemaVersion, Store.latestSchemaVersion)

        let onto = storeError { try store.backup(to: store.path, options: Store.BackupOptions(replace: true)) }
        XCTAssertEqual(onto?.code, .invalidArgument)
        XCTAssertTrue(onto?.message.contains("onto itself") ?? false, onto?.message ?? "")
        XCTAssertEqual(try wholeBatches(in: store), 1)

        let missing = storeError { try Store.backup(database: folder.file("nope.sqlite"), to: folder.file("b2.sqlite")) }
        XCTAssertEqual(missing?.code, .cannotOpen)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.file("nope.sqlite")), "backing up creates no database")

        let badFolder = storeError { try store.backup(to: folder.file("no/such/folder/b.sqlite")) }
        XCTAssertEqual(badFolder?.code, .cannotOpen)
        XCTAssertTrue(badFolder?.message.contains("no/such/folder/b.sqlite") ?? false, badFolder?.message ?? "")
    }

    func testRestorePutsTheBackupBackAndKeepsThePreviousContent() throws {
        for k in 0..<3 { _ = try store.apply(Self.loadBatch(k), cursor: ("erp", "c3")) }
        let backedUp = try store.contentChecksum()
        let backup = try store.backup(to: folder.file("backup.sqlite")).path
        for k in 3..<5 { _ = try store.apply(Self.loadBatch(k), cursor: ("erp", "c5")) }
        _ = try store.putProduct(Product(sku: "K000000-1", name: "changed after the backup"))
        let current = try store.contentChecksum()
        XCTAssertNotEqual(current, backedUp)

        let refused = storeError { try Store.restore(from: backup, to: store.path) }
        XCTAssertEqual(refused?.code, .databaseInUse, "an open store uses the database")
        XCTAssertTrue(refused?.message.contains("stop it") ?? false, refused?.message ?? "")
        XCTAssertEqual(try store.contentChecksum(), current, "a refused restore changes nothing")

        let path = store.path
        store.close()
        let report = try Store.restore(from: backup, to: path)
        XCTAssertEqual(report.schemaVersion, Store.latestSchemaVersion)
        let previous = try XCTUnwrap(report.previousCopy)
        XCTAssertTrue(previous.hasPrefix(path + ".before-restore-"), previous)

        store = try Store(path: path, readerCount: 1)
        XCTAssertEqual(try store.contentChecksum(), backedUp, "the database holds the backup's content")
        XCTAssertEqual(try store.cursor(connector: "erp"), "c3", "cursors come back with their data")
        XCTAssertEqual(try wholeBatches(in: store), 3)
        XCTAssertEqual(try store.checkIntegrity(), [])

        let kept = try Store(path: previous, readerCount: 1)
        defer { kept.close() }
        XCTAssertEqual(try kept.contentChecksum(), current, "the content from before the restore is kept")
        XCTAssertEqual(try kept.cursor(connector: "erp"), "c5")
    }

    func testRestoreIntoAMissingDatabaseCreatesIt() throws {
        _ = try store.apply(Self.loadBatch(0), cursor: nil)
        let backup = try store.backup(to: folder.file("backup.sqlite")).path
        let target = folder.file("new/place/wharf.sqlite")
        let report = try Store.restore(from: backup, to: target)
        XCTAssertNil(report.previousCopy, "there was nothing to keep")
        let restored = try Store(path: target, readerCount: 1)
        defer { restored.close() }
        XCTAssertEqual(try restored.contentChecksum(), try store.contentChecksum())
    }

    func testRestoreChecksTheBackupFileBeforeTouchingTheDatabase() throws {
        for k in 0..<10 { _ = try store.apply(Self.loadBatch(k), cursor: nil) }
        let backup = try store.backup(to: folder.file("backup.sqlite")).path
        let path = store.path
        store.close()
        store = nil
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        func refusal(_ file: String) -> StoreError? {
            storeError { try Store.restore(from: file, to: path) }
        }
        let missing = refusal(folder.file("missing.sqlite"))
        XCTAssertEqual(missing?.code, .invalidArgument)

        let text = refusal(folder.write("notes.txt", String(repeating: "not a database\n", count: 400)))
        XCTAssertEqual(text?.code, .cannotOpen)
        XCTAssertTrue(text?.message.contains("not an SQLite database") ?? false, text?.message ?? "")

        let foreignPath = folder.file("foreign.sqlite")
        try sqliteExecute(foreignPath, "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x')")
        let foreign = refusal(foreignPath)
        XCTAssertEqual(foreign?.code, .notWharfDatabase)

        let newerPath = folder.file("newer.sqlite")
        try FileManager.default.copyItem(atPath: backup, toPath: newerPath)
        try sqliteExecute(newerPath, "PRAGMA user_version = \(Store.latestSchemaVersion + 1)")
        let newer = refusal(newerPath)
        XCTAssertEqual(newer?.code, .newerSchema)
        XCTAssertTrue(newer?.message.contains("schema version \(Store.latestSchemaVersion + 1)") ?? false, newer?.message ?? "")

        // Garbage over the pages after the first: the header still says Wharf, the b-trees are broken.
        let damagedPath = folder.file("damaged.sqlite")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: backup))
        XCTAssertGreaterThan(bytes.count, 8 * 4096)
        for i in (2 * 4096)..<(bytes.count - 4096) { bytes[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 7) }
        try bytes.write(to: URL(fileURLWithPath: damagedPath))
        let damaged = refusal(damagedPath)
        XCTAssertEqual(damaged?.code, .corrupt)
        XCTAssertTrue(damaged?.message.contains("integrity check") ?? false, damaged?.message ?? "")

        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "no refusal touched the database")
        let copies = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains("before-restore") }
        XCTAssertEqual(copies, [], "no refusal made a copy")
    }

    func testTheContentChecksumIgnoresTimestampsAndHowTheContentArrived() throws {
        let other = try Store(path: folder.file("other.sqlite"), readerCount: 1)
        defer { other.close() }
        let records = Self.loadBatch(0) + [stock("K000000-1", "w1", 5), stock("K000000-2", "w2", 0)]
        _ = try store.apply(records, cursor: ("a", "1"))
        // The other store gets the same content in another order, in pieces, later, through a detour.
        _ = try other.apply([product("K000000-1", "a name that is replaced")], cursor: nil)
        usleep(5_000)
        for piece in stride(from: records.count, to: 0, by: -50) {
            _ = try other.apply(Array(records[max(0, piece - 50)..<piece].reversed()), cursor: nil)
        }
        let a = try store.contentChecksum()
        let b = try other.contentChecksum()
        XCTAssertEqual(a, b, "same content, same checksum\n\(a)\n\(b)")
        XCTAssertEqual(a.rows(of: "products"), 101)
        XCTAssertEqual(a.rows(of: "base prices"), 100)
        XCTAssertEqual(a.rows(of: "stock"), 2)
        XCTAssertEqual(a.digest.count, 32)
        XCTAssertEqual(try store.contentCounts()["products"], 101)

        _ = try other.apply([stock("K000000-2", "w2", 1)], cursor: nil)
        let changed = try other.contentChecksum()
        XCTAssertNotEqual(changed.digest, a.digest, "one quantity differs")
        XCTAssertEqual(changed.parts.first { $0.name == "products" }, a.parts.first { $0.name == "products" })
        XCTAssertNotEqual(changed.parts.first { $0.name == "stock" }, a.parts.first { $0.name == "stock" })
    }

    func testAPIKeysKeepTheirExpiryTime() throws {
        let expires = Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)
        let record = APIKeyRecord(
            id: "abcdefghij", name: "short-lived", scopes: ["catalog:read"], secretHash: Array(repeating: 7, count: 32),
            createdAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000), expiresAt: expires)
        try store.insertAPIKey(record)
        try store.insertAPIKey(APIKeyRecord(
            id: "bcdefghijk", name: "forever", scopes: ["admin"], secretHash: Array(repeating: 8, count: 32),
            createdAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_001)))
        XCTAssertEqual(try store.apiKey(id: "abcdefghij"), record)
        XCTAssertNil(try store.apiKey(id: "bcdefghijk")?.expiresAt)
        XCTAssertEqual(try store.apiKeys().map(\.expiresAt), [expires, nil])
    }

    /// Runs SQL on a file with its own connection (for files that are not Wharf databases).
    func sqliteExecute(_ path: String, _ sql: String) throws {
        let db = try Connection(path: path, flags: 0x02 | 0x04)  // SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        defer { db.close() }
        try db.execute(sql)
    }
}

/// What the test's writer thread shares with the test.
final class WriteLoad: Sendable {
    /// Batches committed so far.
    let committed: Atomic<Int>
    /// Set to stop the writer.
    let stop = Atomic<Bool>(false)
    /// The writer's error, if it failed.
    let failure = Mutex<String?>(nil)

    init(committed: Int) { self.committed = Atomic(committed) }
}

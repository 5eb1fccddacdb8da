import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

final class OpenAndMigrationTests: XCTestCase {
    func testCreatesFoldersSchemaAndWAL() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("a/b/c/wharf.sqlite")
        let store = try Store(path: path)
        defer { store.close() }
        XCTAssertEqual(store.path, path)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
        let tables = try store.write("list tables") { db -> [String] in
            let st = try db.statement("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            defer { st.reset() }
            var names: [String] = []
            while try st.step() { names.append(st.text(0)) }
            return names
        }
        for table in [
            "api_keys", "base_prices", "cursors", "inventory_source_items", "products", "rejects", "runs", "sources",
        ] {
            XCTAssertTrue(tables.contains(table), "missing table \(table) in \(tables)")
        }
        try store.write("check pragmas") { db in
            XCTAssertEqual(try db.scalarText("PRAGMA journal_mode"), "wal")
            XCTAssertEqual(try db.scalarInt("PRAGMA foreign_keys"), 1)
            XCTAssertEqual(try db.scalarInt("PRAGMA synchronous"), 1)  // NORMAL
            XCTAssertEqual(try db.scalarInt("PRAGMA busy_timeout"), 5000)
            XCTAssertEqual(try db.scalarInt("PRAGMA user_version"), Migrations.latestVersion)
            XCTAssertEqual(try db.scalarInt("PRAGMA application_id"), Migrations.applicationID)
        }
    }

    func testReopenIsIdempotentAndKeepsData() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("wharf.sqlite")
        var store: Store? = try Store(path: path)
        _ = try store!.apply([.product(Product(sku: "A", name: "Kept"))], cursor: ("c", "1"))
        store!.close()
        store = nil
        for _ in 0..<3 {
            let again = try Store(path: path)
            XCTAssertEqual(try again.product(sku: "A")?.name, "Kept")
            XCTAssertEqual(try again.cursor(connector: "c"), "1")
            XCTAssertEqual(try again.write("v") { try $0.scalarInt("PRAGMA user_version") }, Migrations.latestVersion)
            again.close()
        }
    }

    func testTwoStoresOnOneFile() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("wharf.sqlite")
        let first = try Store(path: path)
        let second = try Store(path: path)
        defer {
            first.close()
            second.close()
        }
        _ = try first.apply([.product(Product(sku: "A", name: "From first"))], cursor: nil)
        XCTAssertEqual(try second.product(sku: "A")?.name, "From first")
    }

    func testNewerSchemaIsRefused() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("wharf.sqlite")
        try Store(path: path).close()
        let raw = try Connection(path: path, flags: 0x2)  // SQLITE_OPEN_READWRITE
        try raw.execute("PRAGMA user_version = 99")
        raw.close()
        XCTAssertThrowsError(try Store(path: path)) { error in
            let e = error as? StoreError
            XCTAssertEqual(e?.code, .newerSchema)
            XCTAssertEqual(
                e?.message,
                "database \(path) has schema version 99, but this Wharf knows only up to version 1; it was written by "
                    + "a newer Wharf: run that version, or use another database file")
        }
    }

    func testForeignDatabaseIsRefused() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("other.sqlite")
        let raw = try Connection(path: path, flags: 0x2 | 0x4)  // READWRITE | CREATE
        try raw.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        raw.close()
        XCTAssertThrowsError(try Store(path: path)) { error in
            XCTAssertEqual((error as? StoreError)?.code, .notWharfDatabase)
            XCTAssertTrue((error as? StoreError)?.message.contains(path) ?? false)
        }
    }

    func testNotADatabaseFile() throws {
        let folder = TemporaryDirectory()
        let path = folder.write("notes.sqlite", String(repeating: "this is not sqlite\n", count: 100))
        XCTAssertThrowsError(try Store(path: path)) { error in
            XCTAssertEqual((error as? StoreError)?.code, .cannotOpen)
            XCTAssertEqual((error as? StoreError)?.message, "cannot open database \(path): file is not a database")
        }
    }

    func testUnopenablePathsNameThePath() throws {
        let folder = TemporaryDirectory()
        // A folder where the file should be.
        let dirPath = folder.file("adir")
        try FileManager.default.createDirectory(atPath: dirPath, withIntermediateDirectories: true)
        XCTAssertThrowsError(try Store(path: dirPath)) { error in
            XCTAssertEqual((error as? StoreError)?.code, .cannotOpen)
            XCTAssertEqual((error as? StoreError)?.message, "cannot open database \(dirPath): unable to open database file")
        }
        // A file where a parent folder should be.
        let file = folder.write("plain.txt", "x")
        let nested = file + "/wharf.sqlite"
        XCTAssertThrowsError(try Store(path: nested)) { error in
            XCTAssertEqual((error as? StoreError)?.code, .cannotOpen)
            XCTAssertEqual(
                (error as? StoreError)?.message,
                "cannot open database \(nested): cannot create folder \(file): a file of that name is in the way")
        }
    }

    func testBadArguments() {
        let folder = TemporaryDirectory()
        XCTAssertThrowsError(try Store(path: folder.file("x.sqlite"), readerCount: 0)) { error in
            XCTAssertEqual((error as? StoreError)?.code, .invalidArgument)
        }
        XCTAssertThrowsError(try Store(path: ":memory:")) { error in
            XCTAssertEqual((error as? StoreError)?.code, .invalidArgument)
        }
    }

    func testClosedStoreRefusesWork() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("wharf.sqlite")
        let store = try Store(path: path)
        store.close()
        store.close()  // twice is fine
        XCTAssertThrowsError(try store.product(sku: "A")) { error in
            XCTAssertEqual((error as? StoreError)?.code, .closed)
            XCTAssertEqual((error as? StoreError)?.message, "database \(path) is closed")
        }
        XCTAssertThrowsError(try store.apply([], cursor: nil)) { error in
            XCTAssertEqual((error as? StoreError)?.code, .closed)
        }
    }
}

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
            "categories", "product_categories", "product_media", "product_texts",
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

    /// Readers map the file only when asked (a serving process); the writer never does.
    func testReadersMapTheFileOnlyWhenAsked() throws {
        let folder = TemporaryDirectory()
        let plain = try Store(path: folder.file("plain.sqlite"))
        defer { plain.close() }
        XCTAssertEqual(try plain.read("m") { try $0.scalarInt("PRAGMA mmap_size") }, 0)

        let mapped = try Store(path: folder.file("mapped.sqlite"), readerMapBytes: 1 << 30)
        defer { mapped.close() }
        XCTAssertEqual(try mapped.read("m") { try $0.scalarInt("PRAGMA mmap_size") }, 1 << 30)
        XCTAssertEqual(try mapped.write("m") { try $0.scalarInt("PRAGMA mmap_size") }, 0)
        _ = try mapped.apply([.product(Product(sku: "A", name: "Shirt"))], cursor: nil)
        XCTAssertEqual(try mapped.product(sku: "A")?.name, "Shirt", "a mapped reader sees what the writer committed")
        _ = try mapped.apply([.product(Product(sku: "A", name: "Shirt, blue"))], cursor: nil)
        XCTAssertEqual(try mapped.product(sku: "A")?.name, "Shirt, blue")
    }

    /// A new database file at `path` with the schema of `version`, as the Wharf of that version wrote it.
    private func database(_ path: String, atVersion version: Int64) throws -> Connection {
        let db = try Connection(path: path, flags: 0x2 | 0x4)  // READWRITE | CREATE
        try db.execute("PRAGMA journal_mode = WAL")
        try Migrations.migrate(db, upTo: version)
        return db
    }

    /// A database at schema version 1 (as the previous Wharf wrote it), populated, opened by this build: migration 2
    /// keeps every row, turns prices into the tier from 1 unit, and the old data reads and re-imports as unchanged.
    func testMigrationFromVersion1KeepsData() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("wharf.sqlite")
        let old = try database(path, atVersion: 1)
        XCTAssertEqual(try old.scalarInt("PRAGMA user_version"), 1)
        try old.execute(
            """
            INSERT INTO sources VALUES ('wh1', 'Main', 1, 100);
            INSERT INTO products VALUES ('A', 'Shirt', 'Cotton', 'active', '{"color":"red"}', 100, 200);
            INSERT INTO products VALUES ('B', 'Socks', NULL, 'inactive', '{}', 100, 200);
            INSERT INTO base_prices VALUES ('A', 'EUR', 1250, 300);
            INSERT INTO base_prices VALUES ('A', 'USD', 1400, 300);
            INSERT INTO base_prices VALUES ('ORPHAN', 'JPY', 500, 300);
            INSERT INTO inventory_source_items VALUES ('A', 'wh1', 7, 'in_stock', 400);
            INSERT INTO cursors VALUES ('erp', 'c-41', 500);
            """)
        old.close()

        let store = try Store(path: path)
        defer { store.close() }
        XCTAssertEqual(try store.write("v") { try $0.scalarInt("PRAGMA user_version") }, Migrations.latestVersion)
        let a = try XCTUnwrap(try store.product(sku: "A"))
        XCTAssertEqual(a.name, "Shirt")
        XCTAssertEqual(a.attributes, ["color": "red"])
        XCTAssertEqual(a.categories, [])
        XCTAssertEqual(a.updatedAt, Timestamp(millisecondsSinceEpoch: 200))
        XCTAssertEqual(try store.product(sku: "B")?.status, .inactive)
        XCTAssertEqual(
            try store.basePrices(sku: "A").map {
                "\($0.price.currency.code)@\($0.minQuantity)=\($0.price.minorUnits)/\($0.updatedAt!.millisecondsSinceEpoch)"
            },
            ["EUR@1=1250/300", "USD@1=1400/300"])
        XCTAssertEqual(try store.basePrices(sku: "ORPHAN").map(\.minQuantity), [1])
        XCTAssertEqual(try store.inventory(sku: "A")?.totalQuantity, 7)
        XCTAssertEqual(try store.cursor(connector: "erp"), "c-41")
        XCTAssertEqual(try store.sources().map(\.name), ["Main"])
        // The same data imported again is unchanged: no content digest on either side, prices at tier 1.
        let eur = Currency(code: "EUR")!
        XCTAssertEqual(
            try store.apply(
                [.product(Product(sku: "A", name: "Shirt", description: "Cotton", attributes: ["color": "red"])),
                 .price(BasePrice(sku: "A", price: Money(minorUnits: 1250, currency: eur)))], cursor: nil),
            Store.UpsertCounts(unchanged: 2))
        // The new key takes tiers next to the migrated price.
        XCTAssertEqual(
            try store.apply([.price(BasePrice(sku: "A", price: Money(minorUnits: 1000, currency: eur), minQuantity: 10))], cursor: nil),
            Store.UpsertCounts(inserted: 1))
        XCTAssertEqual(try store.basePrices(sku: "A").count, 3)
        // The rebuilt table kept its CHECKs; its updated_at index went with migration 10 (no query used it).
        XCTAssertThrowsError(try store.write("t") { try $0.execute("INSERT INTO base_prices VALUES ('X', 'EUR', 0, 1, 1)") })
        XCTAssertEqual(
            try store.write("i") { try $0.scalarInt("SELECT count(*) FROM sqlite_schema WHERE name = 'base_prices_by_updated_at'") }, 0)
    }

    /// Migration 10 drops the catalog indexes that only cost writes: the large-import tables keep their primary
    /// keys alone, and the "changed since" reads and the snapshot's zeroing pass still find their rows, by primary key.
    func testMigration10LeavesTheImportTablesWithTheirPrimaryKeysAlone() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("wharf.sqlite")
        let old = try database(path, atVersion: 9)
        XCTAssertEqual(
            try old.scalarInt(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN ('products_by_updated_at', "
                    + "'base_prices_by_updated_at', 'inventory_source_items_by_updated_at', 'inventory_source_items_by_source')"),
            4)
        old.close()

        let store = try Store(path: path)
        defer { store.close() }
        let indexes = try store.write("i") { db in
            let st = try db.statement(
                """
                SELECT tbl_name || '.' || name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
                    AND tbl_name IN ('products', 'base_prices', 'inventory_source_items', 'categories') ORDER BY 1
                """)
            defer { st.reset() }
            var names: [String] = []
            while try st.step() { names.append(st.text(0)) }
            return names
        }
        XCTAssertEqual(indexes, ["categories.categories_by_parent"])
        let plans = try store.write("p") { db in
            try [
                "SELECT sku FROM products WHERE sku > '' AND updated_at >= 5 ORDER BY sku LIMIT 100",
                "SELECT sku FROM base_prices WHERE (sku, currency, min_quantity) > ('', '', 0) AND updated_at >= 5 "
                    + "ORDER BY sku, currency, min_quantity LIMIT 100",
                "SELECT sku FROM inventory_source_items WHERE (sku, source_code) > ('', '') AND updated_at >= 5 "
                    + "ORDER BY sku, source_code LIMIT 100",
            ].map { sql in
                let st = try db.statement("EXPLAIN QUERY PLAN " + sql)
                defer { st.reset() }
                var detail = ""
                while try st.step() { detail += st.text(3) + "; " }
                return detail
            }
        }
        for plan in plans {
            XCTAssertTrue(plan.contains("PRIMARY KEY") || plan.contains("sqlite_autoindex_products_1"), plan)
            XCTAssertFalse(plan.contains("TEMP B-TREE"), "a changed-since page must not sort: \(plan)")
        }
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
                "database \(path) has schema version 99, but this Wharf knows only up to version "
                    + "\(Migrations.latestVersion); it was written by a newer Wharf: run that version, or use another "
                    + "database file")
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

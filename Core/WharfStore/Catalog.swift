import CSQLite
import WharfModel

extension Store {
    /// Which products `products(_:)` lists: filters, the keyset position and the page size.
    public struct ProductQuery: Sendable, Hashable {
        /// Only SKUs that start with this (byte-wise), when set.
        public var skuPrefix: String?
        /// Only products with this status, when set.
        public var status: ProductStatus?
        /// Only products changed at or after this instant, when set.
        public var updatedSince: Timestamp?
        /// The last SKU of the previous page (its `nextAfter`), or nil for the first page.
        public var after: String?
        /// Products per page, 1...1000.
        public var limit: Int

        /// A query; with no arguments, the first 100 products.
        public init(
            skuPrefix: String? = nil, status: ProductStatus? = nil, updatedSince: Timestamp? = nil, after: String? = nil,
            limit: Int = 100
        ) {
            self.skuPrefix = skuPrefix
            self.status = status
            self.updatedSince = updatedSince
            self.after = after
            self.limit = limit
        }
    }

    /// One page of products, ordered by SKU.
    public struct ProductPage: Sendable, Hashable {
        /// The products.
        public var items: [Product]
        /// The value for the next query's `after` when more products follow; nil on the last page.
        public var nextAfter: String?

        /// A page.
        public init(items: [Product], nextAfter: String?) {
            self.items = items
            self.nextAfter = nextAfter
        }
    }

    /// The product with `sku` (with its categories, media and texts), or nil. This is the REST API's hot path: one
    /// cached statement per reader, one index lookup — plus one statement over the three content tables only for a
    /// product that has such content — no Foundation.
    public func product(sku: String) throws(StoreError) -> Product? {
        try read("read product '\(sku)'") { db in
            let st = try db.statement("SELECT \(Store.productColumns) FROM products WHERE sku = ?1")
            defer { st.reset() }
            st.bind(1, sku)
            return try st.step() ? try Store.product(from: st, db) : nil
        }
    }

    /// The product with `sku` and its base prices (ordered by currency, then minimum quantity) from one snapshot on
    /// one reader, or nil when there is no such product: what `GET /v1/products/{sku}` serves, in one connection
    /// checkout.
    public func productWithPrices(sku: String) throws(StoreError) -> (product: Product, prices: [BasePrice])? {
        try read("read product '\(sku)'") { db in
            try db.transaction(immediate: false) { () throws -> (product: Product, prices: [BasePrice])? in
                let st = try db.statement("SELECT \(Store.productColumns) FROM products WHERE sku = ?1")
                defer { st.reset() }
                st.bind(1, sku)
                guard try st.step() else { return nil }
                let product = try Store.product(from: st, db)
                let prices = try db.statement(
                    "SELECT \(Store.priceColumns) FROM base_prices WHERE sku = ?1 ORDER BY currency, min_quantity")
                defer { prices.reset() }
                prices.bind(1, sku)
                var list: [BasePrice] = []
                while try prices.step() { list.append(try Store.price(from: prices)) }
                return (product, list)
            }
        }
    }

    /// A page of products ordered by SKU (keyset pagination: pass the page's `nextAfter` as the next `after`).
    public func products(_ query: ProductQuery) throws(StoreError) -> ProductPage {
        guard (1...1000).contains(query.limit) else {
            throw StoreError(code: .invalidArgument, message: "limit must be 1 to 1000, got \(query.limit)")
        }
        // SKU prefixes are a range on the primary key (sku >= prefix AND sku < prefix + 0xFF): never LIKE, which
        // would scan. 0xFF never occurs in UTF-8, so every SKU with the prefix sorts below the upper bound.
        var conditions: [String] = []
        var binds: [(Statement, Int32) -> Void] = []
        if let prefix = query.skuPrefix, !prefix.isEmpty {
            conditions.append("sku >= ?\(binds.count + 1) AND sku < ?\(binds.count + 2)")
            binds.append { $0.bind($1, prefix) }
            binds.append { $0.bindText($1, bytes: Array(prefix.utf8) + [0xFF]) }
        }
        if let after = query.after {
            conditions.append("sku > ?\(binds.count + 1)")
            binds.append { $0.bind($1, after) }
        }
        if let status = query.status {
            conditions.append("status = ?\(binds.count + 1)")
            binds.append { $0.bind($1, status.rawValue) }
        }
        if let since = query.updatedSince {
            conditions.append("updated_at >= ?\(binds.count + 1)")
            binds.append { $0.bind($1, since.millisecondsSinceEpoch) }
        }
        let limit = query.limit
        binds.append { $0.bind($1, Int64(limit + 1)) }  // one more than asked tells whether a next page exists
        let sql = "SELECT \(Store.productColumns) FROM products"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY sku LIMIT ?\(binds.count)"
        return try read("list products") { db in
            let st = try db.statement(sql)
            defer { st.reset() }
            for (i, bind) in binds.enumerated() { bind(st, Int32(i + 1)) }
            var items: [Product] = []
            var more = false
            while try st.step() {
                if items.count == limit {
                    more = true
                    break
                }
                items.append(try Store.product(from: st, db))
            }
            return ProductPage(items: items, nextAfter: more ? items.last?.sku : nil)
        }
    }

    /// Creates or replaces one product (all of name, description, status, attributes, categories, media and texts)
    /// in its own transaction,
    /// and returns what happened with the product as stored (timestamps set). An unchanged product keeps its
    /// `updatedAt`. An invalid product fails with `.invalidRecord` naming the field.
    public func putProduct(_ product: Product) throws(StoreError) -> (outcome: UpsertOutcome, product: Product) {
        do throws(FieldError) {
            _ = try product.validated()
        } catch {
            throw StoreError(code: .invalidRecord, message: "product '\(product.sku)' is invalid: \(error.reason)")
        }
        let now = Timestamp.now().millisecondsSinceEpoch
        return try write("store product '\(product.sku)'") { db in
            try db.transaction {
                var upserter = try Upserter(db, now: now)
                let outcome = try upserter.product(product)
                let st = try db.statement("SELECT \(Store.productColumns) FROM products WHERE sku = ?1")
                defer { st.reset() }
                st.bind(1, product.sku)
                guard try st.step() else { throw SQLiteError(code: SQLITE_INTERNAL, message: "the stored product vanished") }
                return (outcome, try Store.product(from: st, db))
            }
        }
    }

    /// Deletes the product with `sku` together with its categories links, media, texts, base prices and stock, in
    /// one transaction. Returns whether the product existed (its prices and stock are removed either way).
    public func deleteProduct(sku: String) throws(StoreError) -> Bool {
        try write("delete product '\(sku)'") { db in
            try db.transaction {
                var existed = false
                // The elements that wrote these rows no longer describe what is stored (see ElementLedger).
                for table in ["products", "base_prices", "inventory_source_items"] {
                    try Store.revokeElements(
                        db, ownersSQL: "SELECT element_owner AS owner FROM \(table) WHERE sku = ?1", value: sku)
                }
                for sql in [
                    "DELETE FROM products WHERE sku = ?1", "DELETE FROM base_prices WHERE sku = ?1",
                    "DELETE FROM inventory_source_items WHERE sku = ?1",
                ] {
                    let st = try db.statement(sql)
                    st.bind(1, sku)
                    try st.run()
                    if sql.hasPrefix("DELETE FROM products") { existed = db.changes > 0 }
                }
                try Store.deleteContent(db, sku: sku)
                return existed
            }
        }
    }

    /// The base prices of `sku` — every tier — ordered by currency code, then minimum quantity (empty when there
    /// are none).
    public func basePrices(sku: String) throws(StoreError) -> [BasePrice] {
        try read("read the prices of '\(sku)'") { db in
            let st = try db.statement(
                "SELECT \(Store.priceColumns) FROM base_prices WHERE sku = ?1 ORDER BY currency, min_quantity")
            defer { st.reset() }
            st.bind(1, sku)
            var prices: [BasePrice] = []
            while try st.step() { prices.append(try Store.price(from: st)) }
            return prices
        }
    }

    /// The stock of `sku` at every source and its in-stock total; nil when the SKU has neither a product nor stock.
    public func inventory(sku: String) throws(StoreError) -> InventorySummary? {
        try read("read the inventory of '\(sku)'") { db in
            try db.transaction(immediate: false) {
                let st = try db.statement(
                    "SELECT \(Store.stockColumns) FROM inventory_source_items WHERE sku = ?1 ORDER BY source_code")
                defer { st.reset() }
                st.bind(1, sku)
                var items: [InventorySourceItem] = []
                while try st.step() { items.append(Store.stock(from: st)) }
                if items.isEmpty {
                    let exists = try db.statement("SELECT 1 FROM products WHERE sku = ?1")
                    defer { exists.reset() }
                    exists.bind(1, sku)
                    if try !exists.step() { return nil }
                }
                return InventorySummary(sku: sku, items: items)
            }
        }
    }

    /// Every stock source, ordered by code.
    public func sources() throws(StoreError) -> [Source] {
        try read("list sources") { db in
            let st = try db.statement("SELECT \(Store.sourceColumns) FROM sources ORDER BY code")
            defer { st.reset() }
            var sources: [Source] = []
            while try st.step() { sources.append(Store.source(from: st)) }
            return sources
        }
    }

    /// Every category, ordered by code (parents come with `parent`; a consumer builds the tree).
    public func categories() throws(StoreError) -> [Category] {
        try read("list categories") { db in
            let st = try db.statement("SELECT \(Store.categoryColumns) FROM categories ORDER BY code")
            defer { st.reset() }
            var categories: [Category] = []
            while try st.step() { categories.append(try Store.category(from: st)) }
            return categories
        }
    }

    /// The category with `code`, or nil.
    public func category(code: String) throws(StoreError) -> Category? {
        try read("read category '\(code)'") { db in
            let st = try db.statement("SELECT \(Store.categoryColumns) FROM categories WHERE code = ?1")
            defer { st.reset() }
            st.bind(1, code)
            return try st.step() ? try Store.category(from: st) : nil
        }
    }

    /// Reads every record of `entity` ("source", "product", "price", "stock", "category"; "return" for the ERP to
    /// book restocks, see `readReturnRecords`), optionally only those
    /// changed at or after `changedSince`, in key order, in batches of `batchSize` (1...10000). `body` gets each batch and
    /// returns false to stop. Each batch is read in its own short read transaction and `body` runs with no
    /// connection held, so a slow export never pins a reader (keyset paging: rows are neither skipped nor repeated,
    /// though rows changed during the read may appear in their new state). Errors of `body` propagate unchanged.
    public func readRecords(
        entity: String, changedSince: Timestamp?, batchSize: Int, _ body: ([ModelRecord]) throws -> Bool
    ) throws {
        guard (1...10_000).contains(batchSize) else {
            throw StoreError(code: .invalidArgument, message: "batch size must be 1 to 10000, got \(batchSize)")
        }
        if entity == "return" { return try readReturnRecords(changedSince: changedSince, batchSize: batchSize, body) }
        guard ModelRecord.entities.contains(entity) else {
            throw StoreError(
                code: .invalidArgument,
                message: "unknown entity '\(entity)'; this host knows \(ModelRecord.entities.joined(separator: ", "))")
        }
        let since = changedSince?.millisecondsSinceEpoch
        let table: String, columns: String, key: [String]
        switch entity {
        case "product": (table, columns, key) = ("products", Store.productColumns, ["sku"])
        case "price": (table, columns, key) = ("base_prices", Store.priceColumns, ["sku", "currency", "min_quantity"])
        case "stock": (table, columns, key) = ("inventory_source_items", Store.stockColumns, ["sku", "source_code"])
        case "category": (table, columns, key) = ("categories", Store.categoryColumns, ["code"])
        default: (table, columns, key) = ("sources", Store.sourceColumns, ["code"])
        }
        // (k1, k2) > (?1, ?2): a row-value comparison SQLite answers with a range scan of the primary key.
        let keyList = key.joined(separator: ", ")
        let after = key.count == 1 ? "\(keyList) > ?1" : "(\(keyList)) > (\((1...key.count).map { "?\($0)" }.joined(separator: ", ")))"
        let sql = "SELECT \(columns) FROM \(table) WHERE \(after)"
            + (since == nil ? "" : " AND updated_at >= ?5") + " ORDER BY \(keyList) LIMIT ?4"
        // Every text key is non-empty and every tier is 1 or more, so ("", "", 0) sorts before all rows.
        var last: (String, String, Int64) = ("", "", 0)
        while true {
            let batch: [ModelRecord] = try read("read \(entity) records") { db in
                let st = try db.statement(sql)
                defer { st.reset() }
                st.bind(1, last.0)
                if key.count >= 2 { st.bind(2, last.1) }
                if key.count == 3 { st.bind(3, last.2) }
                if let since { st.bind(5, since) }
                st.bind(4, Int64(batchSize))
                var records: [ModelRecord] = []
                records.reserveCapacity(batchSize)
                while try st.step() {
                    switch entity {
                    case "product": records.append(.product(try Store.product(from: st, db)))
                    case "price": records.append(.price(try Store.price(from: st)))
                    case "stock": records.append(.stock(Store.stock(from: st)))
                    case "category": records.append(.category(try Store.category(from: st)))
                    default: records.append(.source(Store.source(from: st)))
                    }
                }
                return records
            }
            guard let tail = batch.last else { return }
            switch tail {
            case .product(let p): last = (p.sku, "", 0)
            case .price(let p): last = (p.sku, p.price.currency.code, p.minQuantity)
            case .stock(let s): last = (s.sku, s.sourceCode, 0)
            case .source(let s): last = (s.code, "", 0)
            case .category(let c): last = (c.code, "", 0)
            case .orderStatus, .shipment, .orderReturn: return  // not read back as records
            case .company, .companyUser, .customerGroup: return  // ingest-only entities are never read here
            case .pricing: return  // never read here: readRecords(entity:) reads catalog entities only
            }
            guard try body(batch), batch.count == batchSize else { return }
        }
    }

    // MARK: Not public

    static let productColumns = "sku, name, description, status, attributes, created_at, updated_at, content_digest"
    static let priceColumns = "sku, currency, amount, updated_at, min_quantity"
    static let categoryColumns = "code, name, parent_code, position, names, updated_at"
    static let stockColumns = "sku, source_code, quantity, status, updated_at"
    static let sourceColumns = "code, name, enabled, updated_at"

    /// The product on the current row of `st` (selecting `productColumns`), with its categories, media and texts
    /// read on `db` when its content digest says it has any.
    static func product(from st: Statement, _ db: Connection) throws(SQLiteError) -> Product {
        let attributes = st.withTextBytes(4) { bytes in
            bytes.count == 2 ? [:] : AttributesJSON.decode(bytes)  // "{}" is by far the most common value
        }
        guard let attributes else {
            throw SQLiteError(
                code: SQLITE_CORRUPT, message: "the stored attributes of product '\(st.text(0))' are not a JSON object of strings")
        }
        var product = Product(
            sku: st.text(0), name: st.text(1), description: st.optionalText(2),
            status: st.withTextBytes(3) { $0.count == 8 ? .inactive : .active },  // CHECK allows only these two
            attributes: attributes,
            createdAt: Timestamp(millisecondsSinceEpoch: st.int64(5)),
            updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(6)))
        if !st.isNull(7) { try readContent(of: &product, db) }
        return product
    }

    /// Fills in the categories, media and texts of `product` from the three content tables, in one statement.
    static func readContent(of product: inout Product, _ db: Connection) throws(SQLiteError) {
        let st = try db.statement(
            """
            SELECT 0, position, category_code, NULL, NULL FROM product_categories WHERE sku = ?1
            UNION ALL SELECT 1, position, url, NULL, NULL FROM product_media WHERE sku = ?1
            UNION ALL SELECT 2, 0, lang, name, description FROM product_texts WHERE sku = ?1
            """)
        defer { st.reset() }
        st.bind(1, product.sku)
        var categories: [(Int64, String)] = []
        var media: [(Int64, String)] = []
        while try st.step() {
            switch st.int64(0) {
            case 0: categories.append((st.int64(1), st.text(2)))
            case 1: media.append((st.int64(1), st.text(2)))
            default:
                product.texts[st.text(2)] = LocalizedText(name: st.optionalText(3), description: st.optionalText(4))
            }
        }
        // UNION ALL promises no order: sort by the stored positions.
        product.categories = categories.sorted { $0.0 < $1.0 }.map(\.1)
        product.media = media.sorted { $0.0 < $1.0 }.map(\.1)
    }

    static func price(from st: Statement) throws(SQLiteError) -> BasePrice {
        let code = st.text(1)
        guard let currency = Currency(code: code) else {
            throw SQLiteError(
                code: SQLITE_CORRUPT, message: "price of '\(st.text(0))' is stored in unknown currency '\(code)'")
        }
        return BasePrice(
            sku: st.text(0), price: Money(minorUnits: st.int64(2), currency: currency), minQuantity: st.int64(4),
            updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(3)))
    }

    static func category(from st: Statement) throws(SQLiteError) -> Category {
        let texts = st.withTextBytes(4) { bytes in bytes.count == 2 ? [:] : AttributesJSON.decode(bytes) }
        guard let texts else {
            throw SQLiteError(
                code: SQLITE_CORRUPT, message: "the stored names of category '\(st.text(0))' are not a JSON object of strings")
        }
        return Category(
            code: st.text(0), name: st.text(1), parent: st.optionalText(2), position: st.optionalInt64(3), texts: texts,
            updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(5)))
    }

    static func stock(from st: Statement) -> InventorySourceItem {
        InventorySourceItem(
            sku: st.text(0), sourceCode: st.text(1), quantity: st.int64(2),
            status: st.withTextBytes(3) { $0.count == 8 ? .inStock : .outOfStock },  // "in_stock" / "out_of_stock"
            updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(4)))
    }

    static func source(from st: Statement) -> Source {
        Source(
            code: st.text(0), name: st.text(1), enabled: st.int64(2) != 0,
            updatedAt: Timestamp(millisecondsSinceEpoch: st.int64(3)))
    }
}

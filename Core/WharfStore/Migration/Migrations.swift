import CSQLite

// MARK: Not public

/// One numbered schema change. Versions are 1, 2, 3 … with no gaps; a released migration is never edited, only
/// followed by a new one. The database's version is SQLite's `user_version`, written in the same transaction as
/// the change, so a crash leaves the database at the previous version with none of the change applied.
struct Migration {
    let version: Int64
    let name: String
    let sql: String
}

enum Migrations {
    /// Marks a database as Wharf's (`PRAGMA application_id`, "WHRF"), so another application's SQLite file is
    /// refused instead of being migrated.
    static let applicationID: Int64 = 0x5748_5246

    static var latestVersion: Int64 { all.last!.version }

    static let all: [Migration] = [
        Migration(
            version: 1, name: "catalog, inventory, runs, rejects, cursors and API keys",
            sql: """
                CREATE TABLE sources (
                    code        TEXT PRIMARY KEY NOT NULL,
                    name        TEXT NOT NULL,
                    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
                    updated_at  INTEGER NOT NULL                      -- ms since epoch, UTC
                ) WITHOUT ROWID;

                -- A rowid table: descriptions make rows too wide for WITHOUT ROWID to pay off.
                CREATE TABLE products (
                    sku          TEXT PRIMARY KEY NOT NULL,
                    name         TEXT NOT NULL,
                    description  TEXT,
                    status       TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
                    attributes   TEXT NOT NULL DEFAULT '{}',          -- flat JSON object, keys in byte order
                    created_at   INTEGER NOT NULL,
                    updated_at   INTEGER NOT NULL
                );
                CREATE INDEX products_by_updated_at ON products (updated_at, sku);

                -- No foreign key to products: price and stock feeds arrive in any order.
                CREATE TABLE base_prices (
                    sku         TEXT NOT NULL,
                    currency    TEXT NOT NULL CHECK (length(currency) = 3),
                    amount      INTEGER NOT NULL CHECK (amount >= 0),  -- minor units of currency
                    updated_at  INTEGER NOT NULL,
                    PRIMARY KEY (sku, currency)
                ) WITHOUT ROWID;
                CREATE INDEX base_prices_by_updated_at ON base_prices (updated_at);

                CREATE TABLE inventory_source_items (
                    sku          TEXT NOT NULL,
                    source_code  TEXT NOT NULL REFERENCES sources (code) ON UPDATE CASCADE,
                    quantity     INTEGER NOT NULL CHECK (quantity >= 0),
                    status       TEXT NOT NULL CHECK (status IN ('in_stock', 'out_of_stock')),
                    updated_at   INTEGER NOT NULL,
                    PRIMARY KEY (sku, source_code)
                ) WITHOUT ROWID;
                CREATE INDEX inventory_source_items_by_source ON inventory_source_items (source_code);
                CREATE INDEX inventory_source_items_by_updated_at ON inventory_source_items (updated_at);

                CREATE TABLE cursors (
                    connector     TEXT PRIMARY KEY NOT NULL,
                    cursor_value  TEXT NOT NULL,
                    updated_at    INTEGER NOT NULL
                ) WITHOUT ROWID;

                -- AUTOINCREMENT: run ids are never reused, even after old runs are pruned.
                CREATE TABLE runs (
                    id               INTEGER PRIMARY KEY AUTOINCREMENT,
                    connector        TEXT NOT NULL,
                    plugin_id        TEXT NOT NULL,
                    trigger_kind     TEXT NOT NULL,
                    state            TEXT NOT NULL,
                    started_at       INTEGER NOT NULL,
                    finished_at      INTEGER,
                    read_count       INTEGER NOT NULL DEFAULT 0,
                    inserted_count   INTEGER NOT NULL DEFAULT 0,
                    updated_count    INTEGER NOT NULL DEFAULT 0,
                    unchanged_count  INTEGER NOT NULL DEFAULT 0,
                    rejected_count   INTEGER NOT NULL DEFAULT 0,
                    error            TEXT
                );
                CREATE INDEX runs_by_connector ON runs (connector, id);

                CREATE TABLE rejects (
                    id             INTEGER PRIMARY KEY,
                    run_id         INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                    connector      TEXT NOT NULL,
                    source         TEXT,
                    line           INTEGER,
                    column_number  INTEGER,
                    record_number  INTEGER,
                    entity         TEXT,
                    field          TEXT,
                    reason         TEXT NOT NULL,
                    raw            TEXT,                              -- at most 1024 bytes
                    created_at     INTEGER NOT NULL
                );
                CREATE INDEX rejects_by_run ON rejects (run_id, id);

                CREATE TABLE api_keys (
                    id           TEXT PRIMARY KEY NOT NULL,
                    name         TEXT NOT NULL,
                    scopes       TEXT NOT NULL,                       -- space-separated
                    secret_hash  BLOB NOT NULL,                       -- SHA-256 of the whole key
                    created_at   INTEGER NOT NULL,
                    revoked_at   INTEGER
                ) WITHOUT ROWID;
                """),
        Migration(
            version: 2, name: "categories, product texts, media and category links, price tiers",
            sql: """
                -- The PIM's category tree. No foreign key to the parent: feeds arrive in any order.
                CREATE TABLE categories (
                    code         TEXT PRIMARY KEY NOT NULL,
                    name         TEXT NOT NULL,
                    parent_code  TEXT,
                    position     INTEGER,
                    names        TEXT NOT NULL DEFAULT '{}',          -- per-language names: flat JSON object, keys in byte order
                    updated_at   INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX categories_by_parent ON categories (parent_code, position, code);
                CREATE INDEX categories_by_updated_at ON categories (updated_at);

                -- A product's categories, texts and media. Rows exist only for stored products (a product upsert
                -- replaces them, deleting a product removes them). No foreign keys to categories: a product may name
                -- a category before the PIM delivers it.
                CREATE TABLE product_categories (
                    sku            TEXT NOT NULL,
                    position       INTEGER NOT NULL,                  -- 0-based, in the order the feed gave
                    category_code  TEXT NOT NULL,
                    PRIMARY KEY (sku, position)
                ) WITHOUT ROWID;
                CREATE INDEX product_categories_by_category ON product_categories (category_code, sku);

                -- A rowid table: descriptions make rows too wide for WITHOUT ROWID to pay off.
                CREATE TABLE product_texts (
                    sku          TEXT NOT NULL,
                    lang         TEXT NOT NULL,                       -- BCP 47 tag in conventional case ("en-GB")
                    name         TEXT,
                    description  TEXT,
                    PRIMARY KEY (sku, lang)
                );

                CREATE TABLE product_media (
                    sku       TEXT NOT NULL,
                    position  INTEGER NOT NULL,                       -- 0-based, in order
                    url       TEXT NOT NULL,
                    PRIMARY KEY (sku, position)
                ) WITHOUT ROWID;

                -- A 16-byte digest of the product's categories, media and texts (NULL when it has none), so an import
                -- tells an unchanged product with one comparison in the UPDATE and reads skip the three tables for
                -- products without such content.
                ALTER TABLE products ADD COLUMN content_digest BLOB;

                -- Price tiers: the key gains the minimum quantity; existing prices are the tier from 1 unit.
                CREATE TABLE base_prices_v2 (
                    sku           TEXT NOT NULL,
                    currency      TEXT NOT NULL CHECK (length(currency) = 3),
                    min_quantity  INTEGER NOT NULL DEFAULT 1 CHECK (min_quantity >= 1),
                    amount        INTEGER NOT NULL CHECK (amount >= 0),  -- minor units of currency
                    updated_at    INTEGER NOT NULL,
                    PRIMARY KEY (sku, currency, min_quantity)
                ) WITHOUT ROWID;
                INSERT INTO base_prices_v2 (sku, currency, min_quantity, amount, updated_at)
                    SELECT sku, currency, 1, amount, updated_at FROM base_prices;
                DROP TABLE base_prices;
                ALTER TABLE base_prices_v2 RENAME TO base_prices;
                CREATE INDEX base_prices_by_updated_at ON base_prices (updated_at);
                """),
        Migration(
            version: 3, name: "the process that runs a run",
            sql: """
                -- Which process (and machine) runs a run, so a run left 'running' by a process that died is found
                -- and marked failed instead of staying 'running' forever.
                ALTER TABLE runs ADD COLUMN runner_pid INTEGER;
                ALTER TABLE runs ADD COLUMN runner_host TEXT;
                CREATE INDEX runs_running ON runs (state) WHERE state = 'running';
                """),
        Migration(
            version: 4, name: "log lines of runs",
            sql: """
                -- What a run's plugin logged, kept with the run so an operator reads it next to the counts.
                CREATE TABLE run_logs (
                    id          INTEGER PRIMARY KEY,
                    run_id      INTEGER NOT NULL,
                    logged_at   INTEGER NOT NULL,
                    level       TEXT NOT NULL,
                    message     TEXT NOT NULL
                );
                CREATE INDEX run_logs_by_run ON run_logs (run_id, id);
                """),
        Migration(
            version: 5, name: "API keys that expire",
            sql: """
                -- When a key stops working by itself (ms since epoch, UTC); NULL for keys that never expire.
                ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
                """),
        Migration(
            version: 6, name: "orders, reservation ledger, outbox, shipments, returns and quotes",
            sql: """
                -- Orders placed through Wharf. Companies and company users are referenced by id, without foreign keys
                -- (the CRM sync owns them).
                CREATE TABLE orders (
                    id                INTEGER PRIMARY KEY,
                    uid               TEXT NOT NULL UNIQUE,             -- stable id the OMS de-duplicates by
                    number            TEXT NOT NULL UNIQUE,
                    channel           TEXT NOT NULL,
                    customer_id       TEXT,
                    company_id        TEXT,
                    company_user_id   TEXT,
                    currency          TEXT NOT NULL CHECK (length(currency) = 3),
                    subtotal          INTEGER NOT NULL,                 -- minor units of currency
                    shipping_total    INTEGER NOT NULL,
                    tax_total         INTEGER NOT NULL,
                    grand_total       INTEGER NOT NULL,
                    billing_address   TEXT,                             -- JSON object
                    shipping_address  TEXT,
                    status            TEXT NOT NULL,
                    quote_id          TEXT,
                    idempotency_key   TEXT UNIQUE,
                    request_digest    BLOB,                             -- SHA-256 of the request that made it
                    created_at        INTEGER NOT NULL,
                    updated_at        INTEGER NOT NULL
                );
                CREATE INDEX orders_by_updated_at ON orders (updated_at, id);
                CREATE INDEX orders_by_status ON orders (status, id);
                CREATE INDEX orders_by_company ON orders (company_id, id) WHERE company_id IS NOT NULL;

                CREATE TABLE order_lines (
                    order_id           INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
                    line_number        INTEGER NOT NULL,
                    sku                TEXT NOT NULL,
                    quantity           INTEGER NOT NULL CHECK (quantity > 0),
                    unit_price         INTEGER NOT NULL,
                    shipped_quantity   INTEGER NOT NULL DEFAULT 0,
                    cancelled_quantity INTEGER NOT NULL DEFAULT 0,
                    returned_quantity  INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (order_id, line_number)
                ) WITHOUT ROWID;

                CREATE TABLE order_status_history (
                    id        INTEGER PRIMARY KEY,
                    order_id  INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
                    status    TEXT NOT NULL,
                    source    TEXT NOT NULL,
                    note      TEXT,
                    at        INTEGER NOT NULL
                );
                CREATE INDEX order_status_history_by_order ON order_status_history (order_id, id);

                -- The reservation ledger: append-only. Placing reserves (-qty); shipping or cancelling compensates
                -- (+qty). reservation_totals keeps minus the ledger's sum per SKU and stock, updated in the same
                -- transaction, so a salable check reads one row instead of summing history.
                CREATE TABLE reservations (
                    id            INTEGER PRIMARY KEY,
                    sku           TEXT NOT NULL,
                    stock_code    TEXT NOT NULL,
                    quantity      INTEGER NOT NULL CHECK (quantity <> 0),
                    reason        TEXT NOT NULL,
                    order_number  TEXT NOT NULL,
                    created_at    INTEGER NOT NULL
                );
                CREATE INDEX reservations_by_sku ON reservations (sku, stock_code, order_number);
                CREATE TABLE reservation_totals (
                    sku         TEXT NOT NULL,
                    stock_code  TEXT NOT NULL,
                    reserved    INTEGER NOT NULL CHECK (reserved >= 0),
                    PRIMARY KEY (sku, stock_code)
                ) WITHOUT ROWID;

                -- Messages to external systems, written in the same transaction as what they announce.
                CREATE TABLE outbox (
                    id               INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind             TEXT NOT NULL,
                    order_number     TEXT NOT NULL,
                    message_id       TEXT NOT NULL UNIQUE,
                    payload          TEXT NOT NULL,
                    state            TEXT NOT NULL CHECK (state IN ('pending', 'acknowledged', 'dead')),
                    attempts         INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at  INTEGER NOT NULL,
                    last_error       TEXT,
                    created_at       INTEGER NOT NULL,
                    acknowledged_at  INTEGER
                );
                CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'pending';
                CREATE INDEX outbox_by_state ON outbox (state, id);
                CREATE INDEX outbox_by_order ON outbox (order_number, id);

                CREATE TABLE shipments (
                    id                INTEGER PRIMARY KEY,
                    external_id       TEXT NOT NULL UNIQUE,
                    order_id          INTEGER NOT NULL REFERENCES orders (id),
                    carrier           TEXT,
                    tracking_numbers  TEXT NOT NULL DEFAULT '[]',       -- JSON array of strings
                    lines             TEXT NOT NULL,                    -- JSON array of {sku, quantity}
                    shipped_at        INTEGER NOT NULL,
                    created_at        INTEGER NOT NULL
                );
                CREATE INDEX shipments_by_order ON shipments (order_id);

                CREATE TABLE order_returns (
                    id            INTEGER PRIMARY KEY,
                    external_id   TEXT NOT NULL UNIQUE,
                    order_id      INTEGER NOT NULL REFERENCES orders (id),
                    lines         TEXT NOT NULL,                        -- JSON array of {sku, quantity, reason, restock}
                    exchange_for  TEXT,
                    received_at   INTEGER NOT NULL,
                    created_at    INTEGER NOT NULL
                );
                CREATE INDEX order_returns_by_order ON order_returns (order_id);

                -- B2B quotes. Lines are a JSON array (read and written whole with the quote).
                CREATE TABLE quotes (
                    id               TEXT PRIMARY KEY NOT NULL,
                    company_id       TEXT NOT NULL,
                    company_user_id  TEXT NOT NULL,
                    channel          TEXT NOT NULL,
                    currency         TEXT NOT NULL CHECK (length(currency) = 3),
                    lines            TEXT NOT NULL,
                    status           TEXT NOT NULL,
                    expires_at       INTEGER,
                    note             TEXT,
                    order_number     TEXT,
                    created_at       INTEGER NOT NULL,
                    updated_at       INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX quotes_by_company ON quotes (company_id, updated_at);
                """),
        Migration(
            version: 7, name: "B2B companies, their users, customer groups and CRM links",
            sql: """
                -- Companies. email_domain and tax_id are the match keys: unique when present. crm_state says how
                -- the row got (or will get) its CRM id; 'pending' rows are retried in the background at
                -- crm_next_attempt_at, which also works as a lease while an attempt runs (durable across restarts).
                CREATE TABLE companies (
                    id                   TEXT PRIMARY KEY NOT NULL,
                    legal_name           TEXT NOT NULL,
                    display_name         TEXT,
                    tax_id               TEXT UNIQUE,
                    email                TEXT,
                    email_domain         TEXT UNIQUE,
                    phone                TEXT,
                    status               TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'blocked')),
                    customer_group       TEXT,
                    crm_id               TEXT UNIQUE,
                    active               INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
                    merged_into          TEXT,
                    crm_state            TEXT NOT NULL CHECK (crm_state IN ('none', 'pending', 'linked', 'created', 'synced')),
                    crm_attempts         INTEGER NOT NULL DEFAULT 0,
                    crm_next_attempt_at  INTEGER,                     -- ms since epoch, UTC; only for 'pending'
                    crm_last_error       TEXT,
                    created_at           INTEGER NOT NULL,
                    updated_at           INTEGER NOT NULL
                );
                CREATE INDEX companies_crm_pending ON companies (crm_next_attempt_at) WHERE crm_state = 'pending';
                CREATE INDEX companies_by_status ON companies (status, id);

                CREATE TABLE company_addresses (
                    company_id   TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
                    position     INTEGER NOT NULL,
                    kind         TEXT NOT NULL,
                    street       TEXT NOT NULL,
                    city         TEXT NOT NULL,
                    postal_code  TEXT,
                    region       TEXT,
                    country      TEXT NOT NULL,
                    PRIMARY KEY (company_id, position)
                ) WITHOUT ROWID;

                -- Price-list codes only: price lists are maintained elsewhere and may arrive later.
                CREATE TABLE company_price_lists (
                    company_id  TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
                    position    INTEGER NOT NULL,
                    code        TEXT NOT NULL,
                    PRIMARY KEY (company_id, position)
                ) WITHOUT ROWID;

                CREATE TABLE company_users (
                    company_id  TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
                    email       TEXT NOT NULL,                       -- lower case
                    name        TEXT NOT NULL,
                    job_title   TEXT,
                    role        TEXT NOT NULL CHECK (role IN ('admin', 'buyer', 'approver')),
                    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
                    crm_id      TEXT,
                    updated_at  INTEGER NOT NULL,
                    PRIMARY KEY (company_id, email)
                ) WITHOUT ROWID;

                CREATE TABLE customer_groups (
                    code        TEXT PRIMARY KEY NOT NULL,
                    name        TEXT NOT NULL,
                    crm_id      TEXT,
                    updated_at  INTEGER NOT NULL
                ) WITHOUT ROWID;
                """),
        Migration(version: 8, name: "price lists, their entries and assignments, channel special prices", sql: PricingSchema.sql),
        Migration(
            version: 9, name: "customers, marketing consent, export files and export requests",
            sql: """
                -- B2C shoppers. Company users live elsewhere; consent below is keyed by email so both can join it.
                CREATE TABLE customers (
                    id          TEXT PRIMARY KEY NOT NULL,
                    email       TEXT NOT NULL,
                    first_name  TEXT,
                    last_name   TEXT,
                    country     TEXT CHECK (country IS NULL OR length(country) = 2),
                    created_at  INTEGER NOT NULL,
                    updated_at  INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX customers_by_email ON customers (email);

                -- The latest marketing consent per email address (lower-cased), with who it belongs to.
                CREATE TABLE marketing_consents (
                    email        TEXT PRIMARY KEY NOT NULL,
                    person_kind  TEXT NOT NULL CHECK (person_kind IN ('customer', 'company_user')),
                    person_id    TEXT NOT NULL,
                    status       TEXT NOT NULL CHECK (status IN ('granted', 'withdrawn')),
                    at           INTEGER NOT NULL,
                    source       TEXT NOT NULL,
                    updated_at   INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX marketing_consents_by_updated_at ON marketing_consents (updated_at);

                -- Files an export run completed (renamed into place), for GET /v1/exports and downloads.
                CREATE TABLE export_files (
                    run_id     INTEGER NOT NULL,
                    name       TEXT NOT NULL,
                    path       TEXT NOT NULL,
                    rows       INTEGER NOT NULL,
                    bytes      INTEGER NOT NULL,
                    sha256     TEXT NOT NULL,
                    PRIMARY KEY (run_id, name)
                ) WITHOUT ROWID;

                -- What the next export run of a connector was asked to do (full re-export, a fixed range);
                -- taken by that run when it starts.
                CREATE TABLE export_requests (
                    connector   TEXT PRIMARY KEY NOT NULL,
                    parameters  TEXT NOT NULL
                ) WITHOUT ROWID;
                """),
        Migration(
            version: 10, name: "drop the catalog indexes no query uses",
            sql: """
                -- Every read of these tables pages by primary key ("changed since" filters on updated_at while it
                -- pages, which costs one pass over the table for a whole incremental read); the query planner
                -- chose none of these indexes, with or without ANALYZE statistics. Each still cost a B-tree
                -- insert per written row: a third of a large import's SQLite time. The full-snapshot zeroing
                -- pass scans the primary key instead of the by-source index: the same rows when, as usual, a
                -- source stocks most SKUs. (The stock rows' foreign key to sources needs no child index either:
                -- Wharf never deletes a source nor changes its code.)
                DROP INDEX IF EXISTS products_by_updated_at;
                DROP INDEX IF EXISTS base_prices_by_updated_at;
                DROP INDEX IF EXISTS inventory_source_items_by_updated_at;
                DROP INDEX IF EXISTS inventory_source_items_by_source;
                DROP INDEX IF EXISTS categories_by_updated_at;
                """),
        Migration(
            version: 11, name: "element digests: skipping unchanged source elements",
            sql: """
                -- Which source element (its owner id, handed out from element_ids) last wrote each catalog row;
                -- NULL for any other writer. A write that changes it revokes the old element's digest (see
                -- Store.ElementLedger).
                ALTER TABLE products ADD COLUMN element_owner INTEGER;
                ALTER TABLE base_prices ADD COLUMN element_owner INTEGER;
                ALTER TABLE inventory_source_items ADD COLUMN element_owner INTEGER;
                -- One row per connector that records digests, with the host-side settings they depend on.
                CREATE TABLE element_digest_sets (
                    id          INTEGER PRIMARY KEY,
                    connector   TEXT NOT NULL UNIQUE,
                    settings    TEXT NOT NULL
                );
                -- The distinct sets of stock sources the elements of a connector deliver (few: warehouses).
                CREATE TABLE element_source_sets (
                    set_id      INTEGER NOT NULL,
                    number      INTEGER NOT NULL,
                    sources     TEXT NOT NULL,                       -- source codes, sorted, one per line
                    PRIMARY KEY (set_id, number)
                ) WITHOUT ROWID;
                -- The elements whose rows held exactly what their records wrote when recorded, one row per batch
                -- (a row per element cost a second of a million-product import): entries packs, per element, its
                -- owner id (the id its rows carry), the digest's high and low halves, and meta (the counts of
                -- product, price and stock records, 8 bits each, and its source set's number, 16 bits), each 8
                -- bytes little-endian. first_id is the first entry's id.
                CREATE TABLE element_digests (
                    first_id    INTEGER PRIMARY KEY,
                    set_id      INTEGER NOT NULL,
                    entries     BLOB NOT NULL
                );
                -- Owner ids whose element was taken back since (a write changed one of its rows), in the order
                -- they were (seq never goes back, so a running import can ask for the ones after those it knows).
                -- Applied to the packed rows, then emptied, by a compaction when they are many.
                CREATE TABLE element_revoked (
                    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
                    id          INTEGER NOT NULL UNIQUE
                );
                -- The next owner id to hand out (one row).
                CREATE TABLE element_ids (next_id INTEGER NOT NULL);
                INSERT INTO element_ids (next_id) VALUES (1);
                """),
    ]

    /// Brings the database on `db` (the writer) to the latest version (or to `target`, for tests that build an
    /// older schema), one transaction per migration. Refuses a database from a newer Wharf and an SQLite file that
    /// belongs to another application.
    static func migrate(_ db: Connection, upTo target: Int64 = latestVersion) throws(StoreError) {
        let path = db.path
        func fail(_ code: StoreError.Code, _ message: String, _ sqlite: SQLiteError? = nil) -> StoreError {
            StoreError(code: code, message: message, sqliteCode: sqlite?.code)
        }
        let version: Int64
        let appID: Int64
        let tableCount: Int64
        do {
            version = try db.scalarInt("PRAGMA user_version")
            appID = try db.scalarInt("PRAGMA application_id")
            tableCount = try db.scalarInt("SELECT count(*) FROM sqlite_schema WHERE type = 'table'")
        } catch {
            throw fail(.cannotOpen, "cannot open database \(path): \(error.message)", error)
        }
        if appID != 0 && appID != applicationID || appID == 0 && version == 0 && tableCount > 0 {
            throw fail(
                .notWharfDatabase,
                "database \(path) belongs to another application (it has tables but no Wharf schema); "
                    + "point Wharf at a new or existing Wharf database file")
        }
        if version > latestVersion { throw newer(path, version) }
        for migration in all where migration.version > version && migration.version <= target {
            do {
                try db.transaction {
                    // Another process may have migrated between our read and our write lock.
                    let now = try db.scalarInt("PRAGMA user_version")
                    if now > latestVersion { throw newer(path, now) }
                    if now >= migration.version { return }
                    try db.execute(migration.sql)
                    try db.execute("PRAGMA user_version = \(migration.version)")
                    try db.execute("PRAGMA application_id = \(applicationID)")
                }
            } catch let error as StoreError {
                throw error
            } catch {
                let e = error as? SQLiteError
                throw fail(
                    .migrationFailed,
                    "migration \(migration.version) (\(migration.name)) failed for database \(path): "
                        + "\(e?.message ?? "\(error)"); the database stays at version \(migration.version - 1)", e)
            }
        }
    }

    private static func newer(_ path: String, _ version: Int64) -> StoreError {
        StoreError(
            code: .newerSchema,
            message: "database \(path) has schema version \(version), but this Wharf knows only up to version "
                + "\(latestVersion); it was written by a newer Wharf: run that version, or use another database file")
    }
}

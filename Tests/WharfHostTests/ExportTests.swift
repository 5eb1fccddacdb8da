import Foundation
import WharfAuth
import WharfManifest
import WharfModel
import WharfPlugins
import WharfStore
import WharfTestSupport
import XCTest

@testable import WharfHost

/// The `edm-export` and `bi-export` plugins run by the host: the consent rule, every row and column against the
/// store, the run manifest, the watermark across runs, byte-identical range re-runs, and a crash mid-write.
final class ExportTests: XCTestCase {
    var env: TestDeployment!
    let eur = Currency(code: "EUR")!

    func makeEnv(isolation: String = "inprocess", gzip: Bool = false) throws -> TestDeployment {
        let env = try TestDeployment(connectors: """
            [ { name: "edm", plugin: "edm-export", isolation: "\(isolation)", config: { folder: "out/edm", settleSeconds: 0 } },
              { name: "bi", plugin: "bi-export", isolation: "\(isolation)",
                config: { folder: "out/bi", settleSeconds: 0, gzip: \(gzip), entities: ["order", "order_line"] } },
              { name: "facts", plugin: "bi-export", isolation: "\(isolation)", config: { folder: "out/facts", settleSeconds: 0, formats: ["csv"] } } ]
            """)
        for product in ["wharf-edm-export", "wharf-bi-export"] {
            try env.deployment.plugins.install(from: BuildProducts.plugin(product).path, replace: false, host: HostServices.table)
        }
        return env
    }

    func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// The run's folder (the one with manifest.json written by `run`).
    func runFolder(_ env: TestDeployment, _ connector: String, run: Run) throws -> String {
        let files = try env.deployment.store.exportFiles(runIDs: [run.id])[run.id] ?? []
        let manifest = try XCTUnwrap(files.first { $0.name == "manifest.json" }, "run \(run.id) recorded no manifest")
        return (manifest.path as NSString).deletingLastPathComponent
    }

    func consent(_ email: String, _ kind: ConsentPersonKind, _ id: String, _ status: ConsentStatus, source: String = "checkout") throws {
        try env.deployment.store.putConsent(MarketingConsent(
            email: email, personKind: kind, personID: id, status: status, at: Timestamp(rfc3339: "2026-11-20T09:30:00Z")!,
            source: source, updatedAt: .now()))
    }

    func customer(_ id: String, _ email: String, _ first: String?, _ last: String?, _ country: String?) throws {
        try env.deployment.store.upsertCustomer(Customer(
            id: id, email: email, firstName: first, lastName: last, country: country, createdAt: .now(), updatedAt: .now()))
    }

    /// Waits until the clock has moved past every change made so far (the range's upper bound is exclusive).
    func tick() { Thread.sleep(forTimeInterval: 0.01) }

    func testEDMExportWritesOnlyConsentedPeopleAndWithdrawalsSinceTheLastExport() throws {
        env = try makeEnv()
        try customer("c-1", "ana@example.com", "Ana", "Lima, \"Jr\"", "PT")
        try customer("c-2", "ben@example.com", "Ben", "Okafor", "NG")  // no consent at all
        try customer("c-3", "cleo@example.com", "Cleo", "Sand", "SE")
        try consent("ana@example.com", .customer, "c-1", .granted)
        try consent("cleo@example.com", .customer, "c-3", .withdrawn, source: "edm-unsubscribe")
        try consent("Dev@Firm.example", .companyUser, "u-9", .granted, source: "b2b-portal")
        try consent("ops@firm.example", .companyUser, "u-10", .granted, source: "b2b-portal")  // not a known user
        // Dev is a user of a B2B company (issue 7's model): the export names him and takes the company's country.
        let store = env.deployment.store
        _ = try store.insertCompany(Company(
            id: "co_firm", legalName: "Firm GmbH",
            addresses: [CompanyAddress(kind: "billing", street: "Hauptstr. 1", city: "Berlin", country: "de")]))
        _ = try store.putCompanyUser(CompanyUser(companyID: "co_firm", email: "dev@firm.example", name: "Dev Raj Patel"))
        tick()

        let first = try env.run("edm")
        XCTAssertEqual(first.state, .succeeded, first.error ?? "")
        let folder1 = try runFolder(env, "edm", run: first)
        XCTAssertEqual(try text(folder1 + "/contacts.csv"), [
            "Email Address,First Name,Last Name,Country,Marketing Consent,Consent Time,Consent Source",
            "ana@example.com,Ana,\"Lima, \"\"Jr\"\"\",PT,granted,2026-11-20T09:30:00.000Z,checkout",
            "dev@firm.example,Dev,Raj Patel,DE,granted,2026-11-20T09:30:00.000Z,b2b-portal",
            "ops@firm.example,,,,granted,2026-11-20T09:30:00.000Z,b2b-portal",
        ].map { $0 + "\r\n" }.joined())
        XCTAssertEqual(try text(folder1 + "/withdrawals.csv"), [
            "Email Address,Person Kind,Person ID,Withdrawn At,Source",
            "cleo@example.com,customer,c-3,2026-11-20T09:30:00.000Z,edm-unsubscribe",
        ].map { $0 + "\r\n" }.joined())
        XCTAssertEqual(first.counts.read, 4, "rows written: 3 contacts + 1 withdrawal")
        XCTAssertNotNil(try env.deployment.store.cursor(connector: "edm"), "the watermark moved")

        // Nothing changed: the next export is empty. Then Ana withdraws and Ben grants.
        let empty = try env.run("edm")
        XCTAssertEqual(empty.counts.read, 0)
        let cursor = try XCTUnwrap(try env.deployment.store.cursor(connector: "edm"))
        try consent("ana@example.com", .customer, "c-1", .withdrawn, source: "edm-unsubscribe")
        try consent("ben@example.com", .customer, "c-2", .granted, source: "newsletter-form")
        tick()
        let second = try env.run("edm")
        XCTAssertEqual(second.state, .succeeded, second.error ?? "")
        let folder2 = try runFolder(env, "edm", run: second)
        XCTAssertTrue(folder2.hasSuffix("/" + cursor.replacingOccurrences(of: ":", with: "") + "--" + (try env.deployment.store.cursor(connector: "edm")!).replacingOccurrences(of: ":", with: "")))
        let contacts = try text(folder2 + "/contacts.csv")
        XCTAssertEqual(contacts.split(separator: "\r\n").count, 2)
        XCTAssertTrue(contacts.contains("ben@example.com,Ben,Okafor,NG,granted,2026-11-20T09:30:00.000Z,newsletter-form\r\n"))
        XCTAssertFalse(contacts.contains("ana@"), "a withdrawn person is never a contact")
        XCTAssertTrue(try text(folder2 + "/withdrawals.csv").contains("ana@example.com,customer,c-1,"))

        // The consent rule over every file ever written: ben only after he granted, never before.
        XCTAssertFalse(try text(folder1 + "/contacts.csv").contains("ben@"))
        XCTAssertFalse(try text(folder1 + "/withdrawals.csv").contains("ben@"))
    }

    func testAManifestColumnMappingIsUsedAndAWrongFieldIsRefusedWithItsPath() throws {
        env = try TestDeployment(connectors: """
            [ { name: "edm", plugin: "edm-export", isolation: "inprocess", config: { folder: "out", settleSeconds: 0 },
                mapping: { columns: [ { header: "EMAIL", field: "email" }, { header: "FNAME", field: "first_name" } ] } },
              { name: "bad", plugin: "edm-export", config: { folder: "out" },
                mapping: { columns: [ { header: "EMAIL", field: "email" }, { header: "X", field: "shoe_size" } ] } } ]
            """)
        try env.deployment.plugins.install(from: BuildProducts.plugin("wharf-edm-export").path, replace: false, host: HostServices.table)
        try customer("c-1", "ana@example.com", "Ana", "Lima", "PT")
        try consent("ana@example.com", .customer, "c-1", .granted)
        tick()
        let run = try env.run("edm")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(try text(try runFolder(env, "edm", run: run) + "/contacts.csv"), "EMAIL,FNAME\r\nana@example.com,Ana\r\n")

        let manifest = env.deployment.manifest
        let bad = try XCTUnwrap(manifest.connector(named: "bad"))
        let problem = ConnectorRunner.checkConfiguration(of: bad, manifest: manifest, plugins: env.deployment.plugins, logger: env.deployment.logger)
        XCTAssertEqual(problem?.contains("connectors[1].mapping.columns[1].field: expected one of email"), true, problem ?? "accepted")
    }

    func testTheExampleManifestPassesBothPluginsChecksAndBadSettingsAreRefusedWithTheirPath() throws {
        let path = BuildProducts.packageRoot.appendingPathComponent("manifests/examples/exports.json5").path
        let manifest = try Manifest.load(path: path)
        env = try makeEnv()
        for connector in manifest.connectors {
            XCTAssertNil(ConnectorRunner.checkConfiguration(
                of: connector, manifest: manifest, plugins: env.deployment.plugins, logger: env.deployment.logger), connector.name)
        }
        let bad = try TestDeployment(connectors: """
            [ { name: "a", plugin: "bi-export", config: { folder: "out", formats: ["csv", "xlsx"] } },
              { name: "b", plugin: "bi-export", config: { formats: ["csv"] } },
              { name: "c", plugin: "edm-export", config: { folder: "out", preset: "nope" } },
              { name: "d", plugin: "edm-export", config: { folder: "out", gzip: "yes" } } ]
            """)
        let problems = bad.deployment.manifest.connectors.map {
            ConnectorRunner.checkConfiguration(of: $0, manifest: bad.deployment.manifest, plugins: env.deployment.plugins, logger: env.deployment.logger) ?? "accepted"
        }
        XCTAssertTrue(problems[0].contains("connectors[0].config.formats[1]: expected one of csv, ndjson, found xlsx"), problems[0])
        XCTAssertTrue(problems[1].contains("connectors[1].config.folder: required"), problems[1])
        XCTAssertTrue(problems[2].contains("connectors[2].config.preset: 'nope' is not a preset; presets: mailchimp, wharf"), problems[2])
        XCTAssertTrue(problems[3].contains("connectors[3].config.gzip: expected true or false"), problems[3])
    }

    func placeOrders(_ count: Int) throws -> [Order] {
        let store = env.deployment.store
        _ = try store.putProduct(Product(sku: "MUG", name: "Mug"))
        _ = try store.putProduct(Product(sku: "TEE", name: "Tee"))
        _ = try store.apply([
            .stock(InventorySourceItem(sku: "MUG", sourceCode: "BER", quantity: 1000)),
            .stock(InventorySourceItem(sku: "TEE", sourceCode: "BER", quantity: 1000)),
        ], cursor: nil)
        return try (0..<count).map { i in
            let new = NewOrder(
                channel: i % 2 == 0 ? "web" : "app", customerID: "c-\(i)", currency: eur,
                lines: [
                    NewOrderLine(sku: "MUG", quantity: Int64(i + 1), unitPrice: Money(minorUnits: 1250, currency: eur)),
                    NewOrderLine(sku: "TEE", quantity: 2, unitPrice: Money(minorUnits: 1999, currency: eur)),
                ])
            guard case .created(let order) = try store.placeOrder(new, idempotencyKey: UUID().uuidString, requestDigest: [], payload: { _ in "{}" }) else {
                throw XCTSkip("placing failed")
            }
            return order
        }
    }

    func expectedOrderCSV(_ orders: [Order]) -> String {
        (["number,id,channel,customer_id,company_id,company_user_id,status,currency,subtotal,shipping_total,tax_total,grand_total,created_at,updated_at"]
            + orders.map { o in
                [o.number, o.id, o.channel, o.customerID ?? "", o.companyID ?? "", o.companyUserID ?? "", o.status.rawValue,
                 o.currency.code, String(o.subtotal), String(o.shippingTotal), String(o.taxTotal), String(o.grandTotal),
                 o.createdAt.rfc3339, o.updatedAt.rfc3339].joined(separator: ",")
            }).map { $0 + "\r\n" }.joined()
    }

    func expectedLineCSV(_ orders: [Order]) -> String {
        (["order_number,line_number,sku,quantity,unit_price,line_total,currency,shipped_quantity,cancelled_quantity,returned_quantity,order_created_at,updated_at"]
            + orders.flatMap { o in
                o.lines.map { l in
                    [o.number, String(l.lineNumber), l.sku, String(l.quantity), String(l.unitPrice.minorUnits),
                     String(l.quantity * l.unitPrice.minorUnits), o.currency.code, String(l.shippedQuantity),
                     String(l.cancelledQuantity), String(l.returnedQuantity), o.createdAt.rfc3339, o.updatedAt.rfc3339].joined(separator: ",")
                }
            }).map { $0 + "\r\n" }.joined()
    }

    func testBIExportWritesEveryRowAndColumnPerDayWithAManifestAndARangeReRunIsByteIdentical() throws {
        env = try makeEnv()
        let placed = try placeOrders(3)
        tick()
        let first = try env.run("bi")
        XCTAssertEqual(first.state, .succeeded, first.error ?? "")
        let folder = try runFolder(env, "bi", run: first)
        let store = env.deployment.store
        let orders = try placed.map { try XCTUnwrap(try store.order(number: $0.number)) }
        let day = String(orders[0].createdAt.rfc3339.prefix(10))
        XCTAssertEqual(try text(folder + "/order/day=\(day)/order.csv"), expectedOrderCSV(orders))
        XCTAssertEqual(try text(folder + "/order_line/day=\(day)/order_line.csv"), expectedLineCSV(orders))

        // NDJSON: one object per row with typed values; the same rows as the CSV.
        let ndjson = try text(folder + "/order_line/day=\(day)/order_line.ndjson").split(separator: "\n")
        XCTAssertEqual(ndjson.count, 6)
        let firstLine = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(ndjson[0].utf8)) as? [String: Any])
        XCTAssertEqual(firstLine["order_number"] as? String, orders[0].number)
        XCTAssertEqual(firstLine["quantity"] as? Int, 1)
        XCTAssertEqual(firstLine["line_total"] as? Int, 1250)
        XCTAssertEqual(firstLine["updated_at"] as? String, orders[0].updatedAt.rfc3339)

        // The manifest lists every file with rows and a checksum that matches the bytes.
        let manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json"))) as? [String: Any])
        let files = try XCTUnwrap(manifest["files"] as? [[String: Any]])
        XCTAssertEqual(files.map { $0["name"] as? String }, [
            "order/day=\(day)/order.csv", "order/day=\(day)/order.ndjson",
            "order_line/day=\(day)/order_line.csv", "order_line/day=\(day)/order_line.ndjson",
        ])
        XCTAssertEqual(files.map { $0["rows"] as? Int }, [3, 3, 6, 6])
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/" + (file["name"] as! String))))
            XCTAssertEqual(SHA256.hex(bytes), file["sha256"] as? String)
            XCTAssertEqual(bytes.count, file["bytes"] as? Int)
        }
        let watermark = try XCTUnwrap(manifest["watermark"] as? [String: Any])
        XCTAssertTrue(watermark["from"] is NSNull, "a first export starts at the beginning")
        XCTAssertEqual(watermark["to"] as? String, try store.cursor(connector: "bi"))

        // Re-running exactly that range (from the beginning to the first run's `to`) gives byte-identical files,
        // manifest included, and does not move the watermark back.
        let snapshot = try FileManager.default.subpathsOfDirectory(atPath: folder).sorted().map { name -> (String, Data?) in
            (name, FileManager.default.contents(atPath: folder + "/" + name))
        }
        for (name, _) in snapshot where !name.hasSuffix(".json") && !name.hasSuffix("/") {
            try? FileManager.default.removeItem(atPath: folder + "/" + name)  // so the re-run must write them again
        }
        let to = try XCTUnwrap(watermark["to"] as? String)
        try store.requestExport(connector: "bi", parameters: #"{"to": "\#(to)"}"#)
        let rerun = try env.run("bi")
        XCTAssertEqual(rerun.state, .succeeded, rerun.error ?? "")
        let rerunFolder = try runFolder(env, "bi", run: rerun)
        let again = try FileManager.default.subpathsOfDirectory(atPath: rerunFolder).sorted().map { name -> (String, Data?) in
            (name, FileManager.default.contents(atPath: rerunFolder + "/" + name))
        }
        XCTAssertEqual(again.map(\.0), snapshot.map(\.0))
        for (a, b) in zip(again, snapshot) where a.1 != nil || b.1 != nil {
            XCTAssertEqual(a.1, b.1, "\(a.0) differs; the manifest too must be byte-identical")
        }
        XCTAssertEqual(try store.cursor(connector: "bi"), to, "a range re-run never moves the watermark back")
        tick()
        _ = try store.cancelOrder(number: orders[1].number, note: "customer asked", payload: { _ in "{}" })
        tick()

        // The row changed after it was exported is in the next incremental export, and only it.
        let next = try env.run("bi")
        XCTAssertEqual(next.state, .succeeded, next.error ?? "")
        let nextFolder = try runFolder(env, "bi", run: next)
        let cancelled = try XCTUnwrap(try store.order(number: orders[1].number))
        XCTAssertEqual(cancelled.status, .cancelled)
        XCTAssertEqual(try text(nextFolder + "/order/day=\(day)/order.csv"), expectedOrderCSV([cancelled]))
        XCTAssertEqual(try text(nextFolder + "/order_line/day=\(day)/order_line.csv"), expectedLineCSV([cancelled]))

        // A full re-export on demand writes everything again.
        try store.requestExport(connector: "bi", parameters: #"{"full": "true"}"#)
        tick()
        let full = try env.run("bi")
        let fullFolder = try runFolder(env, "bi", run: full)
        let now = try orders.map { try XCTUnwrap(try store.order(number: $0.number)) }
        XCTAssertEqual(try text(fullFolder + "/order/day=\(day)/order.csv"), expectedOrderCSV(now))
        XCTAssertTrue(fullFolder.hasSuffix("/start--" + (try store.cursor(connector: "bi")!).replacingOccurrences(of: ":", with: "")))
    }

    func testShipmentsReturnsProductsAndADailyInventorySnapshotAreExportedWithEveryColumn() throws {
        env = try makeEnv()
        let store = env.deployment.store
        let orders = try placeOrders(1)
        let number = orders[0].number
        let shippedAt = Timestamp(rfc3339: "2026-11-22T08:00:00Z")!, receivedAt = Timestamp(rfc3339: "2026-11-23T09:00:00Z")!
        _ = try store.recordShipment(Shipment(
            id: "S-1", orderNumber: number, carrier: "DHL", trackingNumbers: ["T1", "T2"],
            lines: [FulfilmentLine(sku: "MUG", quantity: 1), FulfilmentLine(sku: "TEE", quantity: 2)], shippedAt: shippedAt))
        _ = try store.recordReturn(OrderReturn(
            id: "R-1", orderNumber: number, lines: [FulfilmentLine(sku: "TEE", quantity: 1, reason: "too small, \"S\"", restock: true)],
            receivedAt: receivedAt))
        tick()
        let run = try env.run("facts")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        let folder = try runFolder(env, "facts", run: run)
        let recorded = (try store.exportFiles(runIDs: [run.id])[run.id] ?? []).map(\.name)
        // Shipments and returns carry the time Wharf recorded them as their change time.
        let shipmentCSV = try text(folder + "/shipment_line/day=2026-11-22/shipment_line.csv").split(separator: "\r\n").map(String.init)
        XCTAssertEqual(shipmentCSV.count, 3)
        XCTAssertEqual(shipmentCSV[0], "shipment_id,order_number,line_index,sku,quantity,carrier,tracking_numbers,shipped_at,updated_at")
        XCTAssertTrue(shipmentCSV[1].hasPrefix("S-1,\(number),1,MUG,1,DHL,T1 T2,2026-11-22T08:00:00.000Z,"), shipmentCSV[1])
        XCTAssertTrue(shipmentCSV[2].hasPrefix("S-1,\(number),2,TEE,2,DHL,T1 T2,2026-11-22T08:00:00.000Z,"), shipmentCSV[2])
        let returnCSV = try text(folder + "/return_line/day=2026-11-23/return_line.csv").split(separator: "\r\n").map(String.init)
        XCTAssertEqual(returnCSV[0], "return_id,order_number,line_index,sku,quantity,reason,restock,exchange_for,received_at,updated_at")
        XCTAssertTrue(returnCSV[1].hasPrefix("R-1,\(number),1,TEE,1,\"too small, \"\"S\"\"\",true,,2026-11-23T09:00:00.000Z,"), returnCSV[1])
        XCTAssertEqual(returnCSV.count, 2)

        let products = try ["MUG", "TEE"].map { try XCTUnwrap(try store.product(sku: $0)) }
        let productDay = String(products[0].updatedAt!.rfc3339.prefix(10))
        XCTAssertEqual(try text(folder + "/product/day=\(productDay)/product.csv"), (["sku,name,status,created_at,updated_at"] + products.map {
            "\($0.sku),\($0.name),\($0.status.rawValue),\($0.createdAt!.rfc3339),\($0.updatedAt!.rfc3339)"
        }).map { $0 + "\r\n" }.joined())

        // The snapshot: per SKU, stock in stock over all sources, open reservations, salable, on the run's day.
        let to = try XCTUnwrap(try store.cursor(connector: "facts"))
        let snapshotName = "inventory_snapshot/day=\(to.prefix(10))/inventory_snapshot.csv"
        XCTAssertTrue(recorded.contains(snapshotName), "\(recorded)")
        let snapshot = try text(folder + "/" + snapshotName).split(separator: "\r\n").map(String.init)
        XCTAssertEqual(snapshot[0], "sku,in_stock_quantity,reserved_quantity,salable_quantity,sources,updated_at")
        for (index, sku) in ["MUG", "TEE"].enumerated() {
            let salable = try XCTUnwrap(try store.salableInventory(sku: sku))
            let fields = snapshot[index + 1].split(separator: ",").map(String.init)
            XCTAssertEqual(Array(fields.prefix(5)), [sku, "1000", String(salable.reserved), String(1000 - salable.reserved), "1"])
        }

        // The next run the same day writes no second snapshot, and nothing else changed.
        tick()
        let again = try env.run("facts")
        XCTAssertEqual(try store.exportFiles(runIDs: [again.id])[again.id]?.map(\.name), ["manifest.json"])
    }

    func testACrashInTheMiddleOfWritingLeavesNoFileUnderItsFinalNameAndTheNextRunCompletesIt() throws {
        env = try makeEnv(isolation: "process")
        let placed = try placeOrders(5)
        tick()
        let store = env.deployment.store
        try store.requestExport(connector: "bi", parameters: #"{"crashAfterRows": "3"}"#)
        let crashed = try env.run("bi")
        XCTAssertEqual(crashed.state, .failed)
        XCTAssertEqual(crashed.error?.contains("SIGABRT"), true, crashed.error ?? "")
        XCTAssertNil(try store.cursor(connector: "bi"), "the watermark did not move")
        let root = env.folder.path + "/out/bi"
        let left = try FileManager.default.subpathsOfDirectory(atPath: root)
        XCTAssertFalse(left.isEmpty, "the crash happened while writing")
        for name in left {
            XCTAssertTrue(name.hasPrefix(".staging-"), "\(name) is visible outside the run's staging folder")
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isDirectory)
            if !isDirectory.boolValue {
                XCTAssertTrue((name as NSString).lastPathComponent.hasSuffix(".partial"), "\(name) is visible under a final name")
            }
        }

        let next = try env.run("bi")
        XCTAssertEqual(next.state, .succeeded, next.error ?? "")
        let folder = try runFolder(env, "bi", run: next)
        XCTAssertTrue(folder.contains("/start--"), "the next run starts where the last complete export ended: the beginning")
        let orders = try placed.map { try XCTUnwrap(try store.order(number: $0.number)) }
        let day = String(orders[0].createdAt.rfc3339.prefix(10))
        XCTAssertEqual(try text(folder + "/order/day=\(day)/order.csv"), expectedOrderCSV(orders))
        XCTAssertEqual(try text(folder + "/order_line/day=\(day)/order_line.csv"), expectedLineCSV(orders))
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix(".partial") || $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "the next run cleared what the crash left")
    }

    func testGzipFilesDecompressToTheSameRowsAndTheManifestChecksumsTheCompressedBytes() throws {
        env = try makeEnv(gzip: true)
        let placed = try placeOrders(2)
        tick()
        let run = try env.run("bi")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        let folder = try runFolder(env, "bi", run: run)
        let orders = try placed.map { try XCTUnwrap(try env.deployment.store.order(number: $0.number)) }
        let day = String(orders[0].createdAt.rfc3339.prefix(10))
        let path = folder + "/order/day=\(day)/order.csv.gz"
        let gunzip = try ProcessRunner.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "gzip -dc '\(path)'"])
        XCTAssertEqual(gunzip.stdout, expectedOrderCSV(orders))
        let recorded = try XCTUnwrap(try env.deployment.store.exportFiles(runIDs: [run.id])[run.id]?.first { $0.name == "order/day=\(day)/order.csv.gz" })
        XCTAssertEqual(recorded.sha256, SHA256.hex([UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))))
    }
}

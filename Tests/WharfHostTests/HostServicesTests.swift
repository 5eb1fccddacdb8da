import Foundation
import WharfABI
import WharfManifest
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfHost

/// The host side of the ABI, called the way a plugin calls it: through the `wharf_host_api` table.
final class HostServicesTests: XCTestCase {
    var env: TestDeployment!
    let api = HostServices.table.pointee

    override func setUpWithError() throws {
        env = try TestDeployment(connectors: """
            [ { name: "feed", plugin: "stock-csv", config: { path: "in/feed.csv", files: { delimiter: ";" }, token: "env:WHARF_TEST_TOKEN", retries: 3 },
                mapping: { sku: "Item" } } ]
            """)
    }

    func context(_ phase: ContextPhase, run: Bool = true, environment: [String: String] = [:]) throws -> ConnectorContext {
        let manifest = env.deployment.manifest
        let runID = run ? try env.deployment.store.beginRun(connector: "feed", pluginID: "stock-csv", trigger: .manual).id : nil
        return ConnectorContext(
            connector: manifest.connectors[0], phase: phase, store: env.deployment.store, runID: runID,
            logger: env.deployment.logger, cancellation: CancellationFlag(), baseDirectory: manifest.directory,
            environment: environment)
    }

    func testTableHeaderCarriesSizeAndVersion() {
        XCTAssertEqual(Int(api.struct_size), MemoryLayout<wharf_host_api>.size)
        XCTAssertEqual(Int32(api.abi_major), WHARF_ABI_MAJOR)
        XCTAssertNotNil(api.resolve_path, "the last member is filled in")
    }

    func testConfigAccessorsMappingSecretsAndPaths() throws {
        let ctx = try context(.create, run: false, environment: ["WHARF_TEST_TOKEN": "s3cret"])
        let config = String(cString: api.config_json(ctx.opaque)!)
        XCTAssertTrue(config.contains("\"path\":\"in/feed.csv\""), config)
        XCTAssertEqual(String(cString: api.mapping_json(ctx.opaque)!), #"{"sku":"Item"}"#)
        XCTAssertEqual(api.config_string(ctx.opaque, "files.delimiter").map { String(cString: $0) }, ";")
        XCTAssertEqual(api.config_string(ctx.opaque, "retries").map { String(cString: $0) }, "3")
        XCTAssertNil(api.config_string(ctx.opaque, "files"), "objects are not scalars")
        XCTAssertNil(api.config_string(ctx.opaque, "absent"))
        XCTAssertEqual(api.secret(ctx.opaque, "env:WHARF_TEST_TOKEN").map { String(cString: $0) }, "s3cret")
        XCTAssertNil(api.secret(ctx.opaque, "env:WHARF_NOT_SET"))
        XCTAssertTrue(ctx.errorMessage?.contains("WHARF_NOT_SET") == true, ctx.errorMessage ?? "")
        XCTAssertFalse(ctx.errorMessage?.contains("s3cret") == true)
        let resolved = String(cString: api.resolve_path(ctx.opaque, "in/feed.csv")!)
        XCTAssertEqual(resolved, env.folder.url.appendingPathComponent("in/feed.csv").standardizedFileURL.path)
        XCTAssertEqual(String(cString: api.resolve_path(ctx.opaque, "/abs/x.csv")!), "/abs/x.csv")
    }

    func testEmitStoresValidRecordsRejectsInvalidOnesAndMovesTheCursorInOneTransaction() throws {
        let ctx = try context(.ingest)
        var counts = wharf_emit_counts()
        counts.struct_size = UInt32(MemoryLayout<wharf_emit_counts>.size)
        let status = withRecords([
            ("stock", [("sku", "A"), ("source", "BER"), ("quantity", "7")]),
            ("stock", [("sku", "B"), ("source", "BER"), ("quantity", "1.5")]),
            ("product", [("sku", "A"), ("name", "Anchor"), ("attr.color", "red")]),
            ("gadget", [("sku", "A")]),
        ]) { records, count in api.emit(ctx.opaque, records, count, "line:4", &counts) }
        XCTAssertEqual(status, WHARF_OK)
        XCTAssertEqual(counts.inserted, 2)
        XCTAssertEqual(counts.rejected, 2)
        XCTAssertEqual(try env.deployment.store.inventory(sku: "A")?.totalQuantity, 7)
        XCTAssertEqual(try env.deployment.store.product(sku: "A")?.attributes, ["color": "red"])
        XCTAssertEqual(try env.deployment.store.cursor(connector: "feed"), "line:4")
        XCTAssertEqual(api.cursor_get(ctx.opaque).map { String(cString: $0) }, "line:4")
        let rejects = try env.deployment.store.rejects(runID: try XCTUnwrap(ctx.runID), limit: 10, afterID: nil)
        XCTAssertEqual(rejects.map(\.field), ["quantity", nil])
        XCTAssertTrue(rejects[1].reason.contains("gadget"), rejects[1].reason)
        XCTAssertEqual(rejects.map(\.location.recordNumber), [2, 4])
        XCTAssertEqual(ctx.counts.read, 4)
    }

    /// A bulk batch (decoded in chunks on a helper thread while the store writes): the same result as small batches
    /// — every valid record stored, every invalid one rejected with its own location, whichever chunk it is in.
    func testABulkEmitDecodedInChunksStoresAndRejectsExactlyLikeASmallOne() throws {
        let ctx = try context(.ingest)
        let count = 1_000  // 8 chunks
        XCTAssertGreaterThanOrEqual(count, EmitDecoder.minimumRecords)
        let invalidAt: Set<Int> = [0, 299, 640, 999]  // in chunks 0, 2, 5 and the last
        let records = (0..<count).map { i -> (String, [(String, String)]) in
            invalidAt.contains(i)
                ? ("stock", [("sku", "S\(i)"), ("source", "BER"), ("quantity", "\(i) pieces")])
                : ("stock", [("sku", "S\(i)"), ("source", "BER"), ("quantity", "\(i)")])
        }
        var counts = wharf_emit_counts()
        counts.struct_size = UInt32(MemoryLayout<wharf_emit_counts>.size)
        // Two files whose names alternate every 100 records: each record keeps its own file in its location.
        let status = "a.xml".withCString { a in
            "b.xml".withCString { b in
                withRecords(records) { pointer, n in
                    let copy = UnsafeMutablePointer<wharf_record>.allocate(capacity: n)
                    defer { copy.deallocate() }
                    for i in 0..<n {
                        copy[i] = pointer[i]
                        copy[i].location.source = (i / 100) % 2 == 0 ? a : b
                    }
                    return api.emit(ctx.opaque, copy, n, "after-bulk", &counts)
                }
            }
        }
        XCTAssertEqual(status, WHARF_OK)
        XCTAssertEqual(counts.inserted, UInt64(count - invalidAt.count))
        XCTAssertEqual(counts.rejected, UInt64(invalidAt.count))
        XCTAssertEqual(ctx.counts.read, Int64(count))
        XCTAssertEqual(try env.deployment.store.inventory(sku: "S998")?.totalQuantity, 998)
        XCTAssertNil(try env.deployment.store.inventory(sku: "S299"))
        XCTAssertEqual(try env.deployment.store.cursor(connector: "feed"), "after-bulk")
        let rejects = try env.deployment.store.rejects(runID: try XCTUnwrap(ctx.runID), limit: 10, afterID: nil)
        XCTAssertEqual(rejects.map(\.location.recordNumber), [1, 300, 641, 1000])
        XCTAssertEqual(rejects.map(\.location.source), ["a.xml", "a.xml", "a.xml", "b.xml"])
        XCTAssertEqual(rejects.map(\.field), ["quantity", "quantity", "quantity", "quantity"])
        // The stored rows are those of a small emit of the same records: re-emitting them in one small batch each
        // changes nothing.
        for i in [1, 127, 128, 500, 998] {
            let again = withRecords([records[i]]) { api.emit(ctx.opaque, $0, $1, nil, &counts) }
            XCTAssertEqual(again, WHARF_OK)
            XCTAssertEqual(counts.unchanged, 1, "record \(i)")
        }
    }

    /// The decoder stops early when the store gives up on a batch, and never reads the plugin's records after
    /// `finish`: `finish` returns once its helper is done, whatever it had left.
    func testEmitDecoderFinishesEarlyAndOnlyHandsOutChunksInOrder() throws {
        let records = (0..<1_000).map { ("product", [("sku", "P\($0)"), ("name", "Product \($0)")]) }
        _ = withRecords(records) { pointer, n in
            let decoder = EmitDecoder(
                base: UnsafeRawPointer(pointer), stride: MemoryLayout<wharf_record>.size, count: n,
                options: RecordDecodingOptions())
            let first = decoder.next()
            let second = decoder.next()
            decoder.finish()
            XCTAssertEqual(first?.records.count, EmitDecoder.chunkSize)
            XCTAssertEqual(first?.records.first?.keyDescription, "product 'P0'")
            XCTAssertEqual(second?.records.first?.keyDescription, "product 'P\(EmitDecoder.chunkSize)'")
            XCTAssertTrue(decoder.failures.isEmpty)

            let whole = EmitDecoder(
                base: UnsafeRawPointer(pointer), stride: MemoryLayout<wharf_record>.size, count: n,
                options: RecordDecodingOptions())
            var skus: [String] = []
            while let chunk = whole.next() { skus += chunk.records.map(\.keyDescription) }
            whole.finish()
            XCTAssertEqual(skus, (0..<n).map { "product 'P\($0)'" })
            return WHARF_OK
        }
    }

    func testEmitIsRefusedOutsideIngestAndAfterCancel() throws {
        let create = try context(.create, run: false)
        let status = withRecords([("source", [("code", "X")])]) { api.emit(create.opaque, $0, $1, nil, nil) }
        XCTAssertEqual(status, WHARF_ERR_STATE)
        XCTAssertTrue(create.errorMessage?.contains("only allowed during ingest") == true)

        let ingest = try context(.ingest)
        ingest.cancellation.cancel()
        XCTAssertEqual(api.is_cancelled(ingest.opaque), 1)
        let cancelled = withRecords([("source", [("code", "X")])]) { api.emit(ingest.opaque, $0, $1, "c", nil) }
        XCTAssertEqual(cancelled, WHARF_ERR_CANCELLED)
        XCTAssertEqual(try env.deployment.store.sources(), [])
        XCTAssertNil(try env.deployment.store.cursor(connector: "feed"))
    }

    func testRecordsAreReadByTheirOwnStructSize() throws {
        // A plugin built against a later minor passes bigger records; the host steps by the plugin's size.
        let ctx = try context(.ingest)
        let bigger = MemoryLayout<wharf_record>.size + 16
        let status = withRecords([("source", [("code", "ONE")]), ("source", [("code", "TWO")])]) { records, count in
            let raw = UnsafeMutableRawPointer.allocate(byteCount: bigger * count, alignment: 16)
            defer { raw.deallocate() }
            memset(raw, 0xAB, bigger * count)
            for i in 0..<count {
                var record = records[i]
                record.struct_size = UInt32(bigger)
                (raw + i * bigger).storeBytes(of: record, as: wharf_record.self)
            }
            return api.emit(ctx.opaque, raw.assumingMemoryBound(to: wharf_record.self), count, nil, nil)
        }
        XCTAssertEqual(status, WHARF_OK)
        XCTAssertEqual(try env.deployment.store.sources().map(\.code), ["ONE", "TWO"])

        let tooSmall = withRecords([("source", [("code", "X")])]) { records, count in
            var record = records[0]
            record.struct_size = 8
            return api.emit(ctx.opaque, &record, 1, nil, nil)
        }
        XCTAssertEqual(tooSmall, WHARF_ERR_INVALID)
    }

    func testPluginRejectsAreStoredWithTheNextBatch() throws {
        let ctx = try context(.ingest)
        var reject = wharf_reject()
        reject.struct_size = UInt32(MemoryLayout<wharf_reject>.size)
        reject.location.struct_size = UInt32(MemoryLayout<wharf_location>.size)
        reject.location.line = 12
        let status = "feed.csv".withCString { source in
            "qty".withCString { field in
                "the row has 2 columns, the header 3".withCString { reason in
                    reject.location.source = source
                    reject.field = field
                    reject.reason = reason
                    return api.reject(ctx.opaque, &reject)
                }
            }
        }
        XCTAssertEqual(status, WHARF_OK)
        XCTAssertEqual(api.emit(ctx.opaque, nil, 0, "after-12", nil), WHARF_OK)
        let stored = try env.deployment.store.rejects(runID: try XCTUnwrap(ctx.runID), limit: 10, afterID: nil)
        XCTAssertEqual(stored.count, 1)
        XCTAssertEqual(stored.first?.location.line, 12)
        XCTAssertEqual(stored.first?.location.source, "feed.csv")
        XCTAssertEqual(stored.first?.reason, "the row has 2 columns, the header 3")
        XCTAssertEqual(ctx.counts.rejected, 1)
    }

    func testReadRecordsHandsExportsBatchesInKeyOrder() throws {
        let ingest = try context(.ingest)
        let records = (1...7).map { ("product", [("sku", "P\($0)"), ("name", "Product \($0)")]) }
        XCTAssertEqual(withRecords(records) { api.emit(ingest.opaque, $0, $1, nil, nil) }, WHARF_OK)

        let export = try context(.export, run: false)
        final class Seen { var skus: [String] = []; var batches = 0 }
        let seen = Seen()
        var request = wharf_read_request()
        request.struct_size = UInt32(MemoryLayout<wharf_read_request>.size)
        request.batch_size = 3
        let status = "product".withCString { entity -> wharf_status in
            request.entity = entity
            return api.read_records(export.opaque, &request, { user, records, count in
                let seen = Unmanaged<Seen>.fromOpaque(user!).takeUnretainedValue()
                seen.batches += 1
                for i in 0..<count {
                    let record = records![i]
                    for f in 0..<Int(record.field_count) where String(cString: record.fields[f].name) == "sku" {
                        let field = record.fields[f]
                        seen.skus.append(String(decoding: UnsafeRawBufferPointer(start: field.value, count: field.value_len), as: UTF8.self))
                    }
                }
                return WHARF_OK
            }, Unmanaged.passUnretained(seen).toOpaque())
        }
        XCTAssertEqual(status, WHARF_OK)
        XCTAssertEqual(seen.skus, (1...7).map { "P\($0)" })
        XCTAssertEqual(seen.batches, 3)

        let unknown = "gadget".withCString { entity -> wharf_status in
            request.entity = entity
            return api.read_records(export.opaque, &request, { _, _, _ in WHARF_OK }, nil)
        }
        XCTAssertEqual(unknown, WHARF_ERR_UNSUPPORTED)
        XCTAssertEqual(api.read_records(ingest.opaque, &request, { _, _, _ in WHARF_OK }, nil), WHARF_ERR_STATE)
    }

    func testSetResponseOnlyDuringCall() throws {
        let call = try context(.call, run: false)
        XCTAssertEqual(api.set_response(call.opaque, "{\"ok\":true}", 11), WHARF_OK)
        XCTAssertEqual(call.response.map { String(decoding: $0, as: UTF8.self) }, "{\"ok\":true}")
        let ingest = try context(.ingest)
        XCTAssertEqual(api.set_response(ingest.opaque, "x", 1), WHARF_ERR_STATE)
    }
}

/// Builds C records for `records` (entity, fields) and calls `body` with them; everything is freed afterwards.
func withRecords(_ records: [(String, [(String, String)])], _ body: (UnsafePointer<wharf_record>, Int) -> wharf_status) -> wharf_status {
    var strings: [UnsafeMutablePointer<CChar>] = []
    defer { strings.forEach { free($0) } }
    func c(_ s: String) -> UnsafeMutablePointer<CChar> {
        let p = strdup(s)!
        strings.append(p)
        return p
    }
    let fieldArrays = records.map { record -> UnsafeMutablePointer<wharf_field> in
        let array = UnsafeMutablePointer<wharf_field>.allocate(capacity: max(1, record.1.count))
        for (i, field) in record.1.enumerated() {
            array[i] = wharf_field(name: c(field.0), value: c(field.1), value_len: field.1.utf8.count)
        }
        return array
    }
    defer { fieldArrays.forEach { $0.deallocate() } }
    var cRecords = records.enumerated().map { index, record -> wharf_record in
        var r = wharf_record()
        r.struct_size = UInt32(MemoryLayout<wharf_record>.size)
        r.field_count = UInt32(record.1.count)
        r.entity = UnsafePointer(c(record.0))
        r.fields = UnsafePointer(fieldArrays[index])
        r.location.struct_size = UInt32(MemoryLayout<wharf_location>.size)
        r.location.record_number = UInt64(index + 1)
        return r
    }
    return body(&cRecords, cRecords.count)
}

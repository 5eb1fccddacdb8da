import Foundation
import WharfManifest
import WharfModel
import XCTest

@testable import WharfHost

/// The frames between a server and its workers, without processes: encoding, cutting a byte stream into frames,
/// refusing broken frames, and the run request's round trip.
final class WorkerProtocolTests: XCTestCase {
    /// Workers start with a few malloc arenas (one would serialize the import's threads on one lock), and their
    /// memory cap allows the 64 MiB each extra arena reserves, so memoryLimitMB stays memory the plugin uses.
    func testWorkersGetSeveralMallocArenasAndTheCapAllowsTheirReservations() {
        let environment = WorkerSettings().workerEnvironment()
        XCTAssertEqual(environment["MALLOC_ARENA_MAX"], String(WorkerSettings.mallocArenas))
        XCTAssertGreaterThan(WorkerSettings.mallocArenas, 1)

        let saved = getenv("MALLOC_ARENA_MAX").map { String(cString: $0) }
        defer { if let saved { setenv("MALLOC_ARENA_MAX", saved, 1) } else { unsetenv("MALLOC_ARENA_MAX") } }
        setenv("MALLOC_ARENA_MAX", "4", 1)
        XCTAssertEqual(Worker.arenaReservation(), 3 << 26)
        setenv("MALLOC_ARENA_MAX", "1", 1)
        XCTAssertEqual(Worker.arenaReservation(), 0)
        unsetenv("MALLOC_ARENA_MAX")
        XCTAssertEqual(Worker.arenaReservation(), 0, "unset counts as one arena (the supervisor always sets it)")
        setenv("MALLOC_ARENA_MAX", "many", 1)
        XCTAssertEqual(Worker.arenaReservation(), 0)
    }

    func testFramesSurviveAnySplitOfTheByteStream() throws {
        var progress = FrameEncoder(.progress)
        progress.counts(RunCounts(read: 5, inserted: 1, updated: 2, unchanged: 3, rejected: 4))
        progress.u64(7)
        progress.u64(9)
        var log = FrameEncoder(.log)
        log.u8(0)
        log.u8(UInt8(LogLevel.warning.rawValue))
        log.string("grüße, ünïcode")
        let stream = progress.bytes + log.bytes + FrameEncoder(.cancel).bytes
        for size in 1...stream.count {
            var buffer = FrameBuffer()
            var frames: [(type: UInt8, payload: [UInt8])] = []
            var offset = 0
            while offset < stream.count {
                let end = min(offset + size, stream.count)
                Array(stream[offset..<end]).withUnsafeBytes { buffer.append($0) }
                while let frame = try buffer.next() { frames.append(frame) }
                offset = end
            }
            XCTAssertEqual(frames.map(\.type), [FrameType.progress.rawValue, FrameType.log.rawValue, FrameType.cancel.rawValue], "chunks of \(size)")
            XCTAssertEqual(buffer.pending, 0)
            var first = PayloadReader(frames[0].payload)
            XCTAssertEqual(try first.counts(), RunCounts(read: 5, inserted: 1, updated: 2, unchanged: 3, rejected: 4))
            XCTAssertEqual(try first.u64(), 7)
            XCTAssertEqual(try first.u64(), 9)
            var second = PayloadReader(frames[1].payload)
            XCTAssertEqual(try second.u8(), 0)
            XCTAssertEqual(try second.u8(), UInt8(LogLevel.warning.rawValue))
            XCTAssertEqual(try second.string(), "grüße, ünïcode")
            XCTAssertTrue(frames[2].payload.isEmpty)
        }
    }

    func testOversizedEmptyAndTruncatedFramesAreRefused() {
        var huge = FrameBuffer()
        ([0xFF, 0xFF, 0xFF, 0x7F, 1] as [UInt8]).withUnsafeBytes { huge.append($0) }
        XCTAssertThrowsError(try huge.next()) { XCTAssertTrue("\($0)".contains("limit"), "\($0)") }
        var empty = FrameBuffer()
        ([0, 0, 0, 0] as [UInt8]).withUnsafeBytes { empty.append($0) }
        XCTAssertThrowsError(try empty.next())
        var incomplete = FrameBuffer()
        ([9, 0, 0, 0, 0x82, 1, 2] as [UInt8]).withUnsafeBytes { incomplete.append($0) }
        XCTAssertNil(try incomplete.next(), "waits for the rest")
        var short = PayloadReader([1, 2, 3])
        XCTAssertThrowsError(try short.u64()) { XCTAssertTrue("\($0)".contains("ended early"), "\($0)") }
        var lying = PayloadReader([0xFF, 0xFF, 0, 0, 65])
        XCTAssertThrowsError(try lying.string(), "a string longer than its frame")
    }

    func testTheRunRequestRoundTripsWithTheConnectorAsConfigured() throws {
        let config = try JSONValue.parse(json5: #"{ path: "in/x.csv", token: "env:ERP_TOKEN", nested: { z: true, a: [1, 2.5, null] } }"#)
        let mapping = try JSONValue.parse(json5: #"{ sku: "Item", quantity: "Qty" }"#)
        let connector = ConnectorConfig(
            name: "erp-stock", plugin: "stock-csv", config: config, mapping: mapping, onError: .fail,
            inventory: InventoryPolicy(mode: .full, absent: .keep), index: 3, memoryLimitMB: 77)
        let request = WorkerRequest(
            runID: 42, manifestPath: "/srv/wharf.json5", database: "/srv/db/wharf.sqlite", pluginFolder: "/srv/plugins",
            connector: connector, logLevel: .debug, cancelled: true)
        var buffer = FrameBuffer()
        request.frame().bytes.withUnsafeBytes { buffer.append($0) }
        let frame = try XCTUnwrap(try buffer.next())
        XCTAssertEqual(frame.type, FrameType.start.rawValue)
        let decoded = try WorkerRequest(payload: frame.payload)
        XCTAssertEqual(decoded.runID, 42)
        XCTAssertEqual(decoded.manifestPath, "/srv/wharf.json5")
        XCTAssertEqual(decoded.database, "/srv/db/wharf.sqlite")
        XCTAssertEqual(decoded.pluginFolder, "/srv/plugins")
        XCTAssertEqual(decoded.logLevel, .debug)
        XCTAssertTrue(decoded.cancelled)
        XCTAssertEqual(decoded.connector.name, "erp-stock")
        XCTAssertEqual(decoded.connector.plugin, "stock-csv")
        XCTAssertEqual(decoded.connector.index, 3)
        XCTAssertEqual(decoded.connector.onError, .fail)
        XCTAssertEqual(decoded.connector.inventory, InventoryPolicy(mode: .full, absent: .keep))
        XCTAssertEqual(decoded.connector.memoryLimitMB, 77)
        XCTAssertEqual(decoded.connector.config.jsonText(), config.jsonText(), "config as written, in order, secrets unresolved")
        XCTAssertEqual(decoded.connector.mapping, mapping)

        var other = request.frame().bytes
        other[5] = 9  // protocol version 9
        XCTAssertThrowsError(try WorkerRequest(payload: Array(other[5...]))) { error in
            XCTAssertTrue("\(error)".contains("same wharf binary"), "\(error)")
        }
    }

    func testTheOutputTailTakesOutTheDyingReportAndKeepsTheLastLine() {
        var tail = OutputTail()
        var logged: [String] = []
        let text = "first line\n\u{1E}wharf-worker-died signal=11 errno=12 size=123456\nFatal error: out of cheese\npartial"
        tail.append(ArraySlice(Array(text.utf8))) { logged.append($0) }
        XCTAssertEqual(logged, ["first line", "Fatal error: out of cheese"], "the report is not output")
        XCTAssertEqual(tail.lastLine, "Fatal error: out of cheese")
        XCTAssertEqual(tail.death?.signal, 11)
        XCTAssertEqual(tail.death?.errno, 12)
        XCTAssertEqual(tail.death?.size, 123_456)
        tail.flush { logged.append($0) }
        XCTAssertEqual(tail.lastLine, "partial")
        XCTAssertEqual(signalName(SIGSEGV), "SIGSEGV")
        XCTAssertEqual(WorkerSupervisor.seconds(.milliseconds(500)), "0.5")
        XCTAssertEqual(WorkerSupervisor.seconds(.seconds(300)), "300")
    }
}

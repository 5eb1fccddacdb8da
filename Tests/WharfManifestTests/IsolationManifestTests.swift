import Foundation
import WharfTestSupport
import XCTest

@testable import WharfManifest

/// `isolation`, `memoryLimitMB` and `deadlineSeconds` on connectors.
final class IsolationManifestTests: XCTestCase {
    func testRunsAreIsolatedInWorkersByDefaultWithSaneLimits() throws {
        let connector = try Manifest.parse("{ database: 'w', connectors: [{ name: 'a', plugin: 'p' }] }", filePath: "/x/m.json5").connectors[0]
        XCTAssertEqual(connector.isolation, .process)
        XCTAssertEqual(connector.memoryLimitMB, 512)
        XCTAssertEqual(connector.deadline, .seconds(300))
        XCTAssertEqual(ConnectorConfig(name: "a", plugin: "p").isolation, .process, "also for connectors built in code")
    }

    func testIsolationAndLimitsAreRead() throws {
        let manifest = try Manifest.parse("""
            { database: "x.sqlite", connectors: [
              { name: "trusted", plugin: "p", isolation: "inprocess" },
              { name: "big", plugin: "p", isolation: "process", memoryLimitMB: 4096, deadlineSeconds: 2.5 },
              { name: "nulls", plugin: "p", isolation: null, memoryLimitMB: null, deadlineSeconds: null },
            ] }
            """, filePath: "/tmp/m.json5")
        XCTAssertEqual(manifest.connectors[0].isolation, .inprocess)
        XCTAssertEqual(manifest.connectors[1].isolation, .process)
        XCTAssertEqual(manifest.connectors[1].memoryLimitMB, 4096)
        XCTAssertEqual(manifest.connectors[1].deadline, .milliseconds(2500))
        XCTAssertEqual(manifest.connectors[2].isolation, .process, "null means the default")
        XCTAssertEqual(manifest.connectors[2].memoryLimitMB, 512)
    }

    func testBadValuesAreReportedByPathWithWhatIsAllowed() {
        XCTAssertThrowsError(try Manifest.parse("""
            { database: "x.sqlite", connectors: [
              { name: "a", plugin: "p", isolation: "proces", memoryLimitMB: 8, deadlineSeconds: 0 },
              { name: "b", plugin: "p", isolation: "inprocess", memoryLimitMB: 256, deadlineSeconds: 10 },
              { name: "c", plugin: "p", memoryLimitMB: "lots", deadlineSeconds: 100000 },
            ] }
            """, filePath: "/tmp/m.json5")) { error in
            let lines = (error as? ManifestError)?.issues.map(\.description) ?? []
            let text = lines.joined(separator: "\n")
            XCTAssertTrue(lines.contains { $0.hasPrefix("connectors[0].isolation:") && $0.contains("did you mean \"process\"") }, text)
            XCTAssertTrue(lines.contains { $0.hasPrefix("connectors[0].memoryLimitMB:") && $0.contains("16 to 1048576") }, text)
            XCTAssertTrue(lines.contains { $0.hasPrefix("connectors[0].deadlineSeconds:") && $0.contains("above 0") }, text)
            XCTAssertTrue(lines.contains { $0.hasPrefix("connectors[1].memoryLimitMB:") && $0.contains("only a worker process can enforce") }, text)
            XCTAssertTrue(lines.contains { $0.hasPrefix("connectors[1].deadlineSeconds:") && $0.contains("isolation to \"process\"") }, text)
            XCTAssertTrue(lines.contains { $0.hasPrefix("connectors[2].memoryLimitMB:") && $0.contains("the string \"lots\"") }, text)
            XCTAssertTrue(lines.contains { $0.hasPrefix("connectors[2].deadlineSeconds:") && $0.contains("at most 86400") }, text)
            XCTAssertEqual(lines.count, 7, text)
        }
    }

    func testTheREADMEDocumentsTheKeys() throws {
        let readme = try String(contentsOf: BuildProducts.packageRoot.appendingPathComponent("manifests/README.md"), encoding: .utf8)
        for key in ["`isolation`", "`memoryLimitMB`", "`deadlineSeconds`", "`\"inprocess\"`"] {
            XCTAssertTrue(readme.contains(key), "manifests/README.md documents \(key)")
        }
    }
}

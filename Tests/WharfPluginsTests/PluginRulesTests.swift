@testable import WharfPlugins
import XCTest

/// The descriptor rules the loader enforces, checked directly (a fixture per case would add nothing).
final class PluginRulesTests: XCTestCase {
    func testSemanticVersionRule() {
        XCTAssertTrue(PluginLoader.isSemanticVersion("1.0.0"))
        XCTAssertTrue(PluginLoader.isSemanticVersion("10.20.30-rc.1+build.5"))
        XCTAssertFalse(PluginLoader.isSemanticVersion("1.0"))
        XCTAssertFalse(PluginLoader.isSemanticVersion("01.0.0"))
        XCTAssertFalse(PluginLoader.isSemanticVersion("1.0.0-"))
        XCTAssertFalse(PluginLoader.isSemanticVersion("v1.0.0"))
    }

    func testIDRule() {
        XCTAssertTrue(PluginLoader.isValidID("stock-csv".utf8))
        XCTAssertTrue(PluginLoader.isValidID("a".utf8))
        XCTAssertTrue(PluginLoader.isValidID(String(repeating: "a", count: 64).utf8))
        XCTAssertFalse(PluginLoader.isValidID(String(repeating: "a", count: 65).utf8))
        XCTAssertFalse(PluginLoader.isValidID("".utf8))
        XCTAssertFalse(PluginLoader.isValidID("1csv".utf8))
        XCTAssertFalse(PluginLoader.isValidID("Stock".utf8))
        XCTAssertFalse(PluginLoader.isValidID("../x".utf8))
    }

    func testCapabilityNames() {
        XCTAssertEqual(PluginCapabilities([.ingest, .call]).names, ["ingest", "call"])
        XCTAssertEqual(PluginCapabilities(rawValue: 1 << 40).names, [])
    }
}

import XCTest
final class WharfManifestTestsPlaceholder: XCTestCase { func testPlaceholder() { XCTAssertTrue(true) } }

import XCTest
final class WharfPluginsTestsPlaceholder: XCTestCase { func testPlaceholder() { XCTAssertTrue(true) } }

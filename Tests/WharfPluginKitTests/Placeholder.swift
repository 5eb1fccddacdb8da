import XCTest
final class WharfPluginKitTestsPlaceholder: XCTestCase { func testPlaceholder() { XCTAssertTrue(true) } }

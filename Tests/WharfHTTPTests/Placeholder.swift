import XCTest
final class WharfHTTPTestsPlaceholder: XCTestCase { func testPlaceholder() { XCTAssertTrue(true) } }

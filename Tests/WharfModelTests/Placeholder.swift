import XCTest
final class WharfModelTestsPlaceholder: XCTestCase { func testPlaceholder() { XCTAssertTrue(true) } }

import XCTest
final class WharfAuthTestsPlaceholder: XCTestCase { func testPlaceholder() { XCTAssertTrue(true) } }

import XCTest
final class WharfHostTestsPlaceholder: XCTestCase { func testPlaceholder() { XCTAssertTrue(true) } }

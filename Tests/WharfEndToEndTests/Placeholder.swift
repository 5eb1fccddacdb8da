import XCTest
final class WharfEndToEndTestsPlaceholder: XCTestCase { func testPlaceholder() { XCTAssertTrue(true) } }

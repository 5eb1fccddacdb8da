import XCTest
final class WharfSchedulePlaceholder: XCTestCase { func testPlaceholder() { XCTAssertTrue(true) } }

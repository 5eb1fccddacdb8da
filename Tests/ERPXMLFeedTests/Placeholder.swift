import XCTest
final class ERPXMLFeedPlaceholder: XCTestCase { func testPlaceholder() { XCTAssertTrue(true) } }

import XCTest

@testable import WharfPluginKit

/// Which transport failures prove the server never got the request, so that even a POST may be sent once more.
final class HTTPRetryRuleTests: XCTestCase {
    func testOnlyAFailureWhileWritingTheRequestCountsAsNeverSent() {
        XCTAssertTrue(HTTPJSONClient.wasNeverSent("request failed (Send failure: Broken pipe, code -1)"))
        XCTAssertTrue(HTTPJSONClient.wasNeverSent("request failed (Send failure: Connection reset by peer, code -1)"))
        // The request may have arrived whole: a POST must not be sent again.
        XCTAssertFalse(HTTPJSONClient.wasNeverSent("request failed (Recv failure: Connection reset by peer, code -1)"))
        XCTAssertFalse(HTTPJSONClient.wasNeverSent("no answer within the timeout"))
        XCTAssertFalse(HTTPJSONClient.wasNeverSent("connection failed (Could not connect to server, code -1004)"))
    }
}

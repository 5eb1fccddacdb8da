import XCTest

@testable import WharfAuth

/// Failed authentication per client address: blocked after too many failures, for a bounded time, alone.
final class AuthenticationThrottleTests: XCTestCase {
    let limits = AuthenticationThrottle.Limits(maxFailures: 5, window: .seconds(60), blockDuration: .seconds(30), maxTrackedClients: 100)

    func testTooManyFailuresWithinTheWindowBlockTheClientForTheBlockDuration() {
        let throttle = AuthenticationThrottle(limits: limits)
        let t0: Int64 = 1_000_000
        for i in 0..<4 {
            XCTAssertNil(throttle.recordFailure(client: "10.0.0.1", now: t0 + Int64(i) * 1000))
            XCTAssertNil(throttle.retryAfter(client: "10.0.0.1", now: t0 + Int64(i) * 1000 + 1))
        }
        XCTAssertFalse(throttle.isBlockingAnyone(now: t0 + 4000))
        XCTAssertEqual(throttle.recordFailure(client: "10.0.0.1", now: t0 + 4000), 30, "the fifth failure blocks")
        XCTAssertTrue(throttle.isBlockingAnyone(now: t0 + 4000))
        XCTAssertFalse(throttle.isBlockingAnyone(now: t0 + 34_000), "the fast path knows when every block is over")
        XCTAssertEqual(throttle.retryAfter(client: "10.0.0.1", now: t0 + 4000), 30)
        XCTAssertEqual(throttle.retryAfter(client: "10.0.0.1", now: t0 + 4000 + 12_500), 18, "counts down, rounded up")
        XCTAssertEqual(throttle.recordFailure(client: "10.0.0.1", now: t0 + 20_000), 14, "failures while blocked do not prolong it")
        XCTAssertNil(throttle.retryAfter(client: "10.0.0.2", now: t0 + 5000), "another address is not affected")
        XCTAssertEqual(throttle.retryAfter(client: "10.0.0.1", now: t0 + 4000 + 29_999), 1)
        XCTAssertNil(throttle.retryAfter(client: "10.0.0.1", now: t0 + 4000 + 30_000), "the block ends")
        XCTAssertNil(throttle.recordFailure(client: "10.0.0.1", now: t0 + 35_000), "and counting starts afresh")
    }

    func testFailuresSpreadBeyondTheWindowNeverBlock() {
        let throttle = AuthenticationThrottle(limits: limits)
        var now: Int64 = 0
        for _ in 0..<50 {
            XCTAssertNil(throttle.recordFailure(client: "10.0.0.1", now: now))
            now += 15_000  // four failures per minute at most
        }
        XCTAssertNil(throttle.retryAfter(client: "10.0.0.1", now: now))
    }

    func testMemoryStaysBoundedUnderAFloodOfAddresses() {
        let throttle = AuthenticationThrottle(limits: limits)
        for i in 0..<5_000 {
            throttle.recordFailure(client: "10.\(i / 65536).\(i / 256 % 256).\(i % 256)", now: Int64(i))
            XCTAssertLessThanOrEqual(throttle.trackedClients, 100)
        }
        // A blocked client stays blocked while the flood goes on, unless it is among the oldest entries.
        for _ in 0..<5 { throttle.recordFailure(client: "192.0.2.1", now: 10_000) }
        for i in 0..<50 { throttle.recordFailure(client: "198.51.100.\(i)", now: 10_001) }
        XCTAssertNotNil(throttle.retryAfter(client: "192.0.2.1", now: 10_002))
    }

    func testClientKeysIgnoreThePortAndGroupIPv6ByNetwork() {
        XCTAssertEqual(AuthenticationThrottle.clientKey(remoteAddress: "203.0.113.7:51234"), "203.0.113.7")
        XCTAssertEqual(AuthenticationThrottle.clientKey(remoteAddress: "203.0.113.7"), "203.0.113.7")
        XCTAssertEqual(AuthenticationThrottle.clientKey(remoteAddress: "[2001:db8:1:2:3:4:5:6]:443"), "2001:db8:1:2::/64")
        XCTAssertEqual(
            AuthenticationThrottle.clientKey(remoteAddress: "[2001:db8:1:2:ffff::9]:1"),
            AuthenticationThrottle.clientKey(remoteAddress: "[2001:db8:1:2::1]:2"), "one /64, one client")
        XCTAssertNotEqual(
            AuthenticationThrottle.clientKey(remoteAddress: "[2001:db8:1:3::1]:2"),
            AuthenticationThrottle.clientKey(remoteAddress: "[2001:db8:1:2::1]:2"))
        XCTAssertEqual(AuthenticationThrottle.clientKey(remoteAddress: "[::ffff:198.51.100.4]:80"), "198.51.100.4")
        XCTAssertEqual(AuthenticationThrottle.clientKey(remoteAddress: "[::1]:8080"), "0:0:0:0::/64")
        XCTAssertEqual(AuthenticationThrottle.clientKey(remoteAddress: "unix"), "unix")
    }

    func testLoopbackPeersCountAgainstTheClientALocalProxyForwardsOrNotAtAll() {
        XCTAssertEqual(AuthenticationThrottle.client(remoteAddress: "203.0.113.7:1", forwardedFor: "198.51.100.1"), "203.0.113.7", "only a local peer is trusted to forward")
        XCTAssertNil(AuthenticationThrottle.client(remoteAddress: "127.0.0.1:5000", forwardedFor: nil), "this machine's own requests")
        XCTAssertNil(AuthenticationThrottle.client(remoteAddress: "[::1]:5000", forwardedFor: " "))
        XCTAssertEqual(AuthenticationThrottle.client(remoteAddress: "127.0.0.1:5000", forwardedFor: "198.51.100.1"), "198.51.100.1")
        XCTAssertEqual(
            AuthenticationThrottle.client(remoteAddress: "127.0.0.1:5000", forwardedFor: "10.9.9.9, 198.51.100.1:4711"), "198.51.100.1",
            "the last entry is the one the proxy added; earlier ones are the client's word")
        XCTAssertEqual(AuthenticationThrottle.client(remoteAddress: "[::1]:5000", forwardedFor: "2001:db8:7:8::42"), "2001:db8:7:8::/64")
        XCTAssertEqual(AuthenticationThrottle.client(remoteAddress: "[::ffff:127.0.0.1]:5000", forwardedFor: "198.51.100.2"), "198.51.100.2")
    }
}

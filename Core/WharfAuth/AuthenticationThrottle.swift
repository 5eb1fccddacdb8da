import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Limits failed authentication per client address, so nobody can guess API keys at network speed.
///
/// A client whose presented keys fail `maxFailures` times within `window` is refused (HTTP 429 with
/// `Retry-After`) for `blockDuration`; then it starts afresh. Only failures count: a client that authenticates
/// well is never slowed down, and one client's failures never affect another address. Clients are told apart by
/// IP address (the port is ignored), IPv6 clients by their /64 network, since one host usually owns a whole /64.
///
/// Requests from this machine (a loopback peer) count against the client a local reverse proxy names in
/// `X-Forwarded-For` — its last entry, the address the proxy saw — and are not throttled when there is none: behind
/// a proxy on the same host every client arrives from 127.0.0.1, and throttling that one address would let one
/// guesser lock out every storefront (see `client(remoteAddress:forwardedFor:)`).
///
/// Memory is bounded: at most `maxTrackedClients` addresses are remembered. When the table is full, entries whose
/// window has passed are dropped first, then the oldest.
///
/// Times are milliseconds of a monotonic clock (`monotonicMilliseconds()`), so a wall-clock step neither lifts nor
/// prolongs a block. Thread-safe.
public final class AuthenticationThrottle: Sendable {
    /// How many failures lead to how long a block.
    public struct Limits: Sendable, Hashable {
        /// Failures within `window` that block the client (the request with the last one is still answered 401).
        public var maxFailures: Int
        /// The period failures are counted in, from the first failure.
        public var window: Duration
        /// How long a blocked client is refused.
        public var blockDuration: Duration
        /// How many client addresses are remembered at most.
        public var maxTrackedClients: Int

        /// Limits; the defaults block an address for a minute after 20 failures within a minute.
        public init(maxFailures: Int = 20, window: Duration = .seconds(60), blockDuration: Duration = .seconds(60), maxTrackedClients: Int = 10_000) {
            self.maxFailures = max(1, maxFailures)
            self.window = window
            self.blockDuration = blockDuration
            self.maxTrackedClients = max(1, maxTrackedClients)
        }
    }

    /// The limits in force.
    public let limits: Limits

    /// A throttle with `limits`.
    public init(limits: Limits = Limits()) {
        self.limits = limits
        windowMilliseconds = AuthenticationThrottle.milliseconds(limits.window)
        blockMilliseconds = AuthenticationThrottle.milliseconds(limits.blockDuration)
    }

    /// Whole seconds (at least 1) the client `client` (a key from `clientKey(remoteAddress:)`) must wait before it
    /// may try again, or nil when it may try now.
    public func retryAfter(client: String, now: Int64 = AuthenticationThrottle.monotonicMilliseconds()) -> Int? {
        entries.withLock { entries -> Int? in
            guard let entry = entries[client], entry.blockedUntil > 0 else { return nil }
            if entry.blockedUntil <= now {
                entries[client] = nil  // the block is over: start afresh
                return nil
            }
            return AuthenticationThrottle.seconds(entry.blockedUntil - now)
        }
    }

    /// Records one failed authentication of `client`. Returns the seconds it must now wait when this failure (or
    /// an earlier one) blocked it, else nil.
    @discardableResult
    public func recordFailure(client: String, now: Int64 = AuthenticationThrottle.monotonicMilliseconds()) -> Int? {
        entries.withLock { entries -> Int? in
            var entry = entries[client] ?? Entry(windowStart: now)
            if entry.blockedUntil > now { return AuthenticationThrottle.seconds(entry.blockedUntil - now) }
            if entry.blockedUntil > 0 || now - entry.windowStart >= windowMilliseconds { entry = Entry(windowStart: now) }
            entry.failures += 1
            if entry.failures >= limits.maxFailures {
                entry.blockedUntil = now + blockMilliseconds
                latestBlockEnd.max(entry.blockedUntil)
            }
            if entries[client] == nil, entries.count >= limits.maxTrackedClients { makeRoom(&entries, now: now) }
            entries[client] = entry
            return entry.blockedUntil > now ? AuthenticationThrottle.seconds(entry.blockedUntil - now) : nil
        }
    }

    /// Whether any client may be blocked now: false means `retryAfter` is nil for everyone, so a caller can skip
    /// working out who the client is on the common path (one atomic load and a clock read, no lock).
    public func isBlockingAnyone(now: Int64 = AuthenticationThrottle.monotonicMilliseconds()) -> Bool {
        now < latestBlockEnd.load(ordering: .relaxed)
    }

    /// How many client addresses are remembered now (never more than `limits.maxTrackedClients`).
    public var trackedClients: Int { entries.withLock { $0.count } }

    /// The client a request counts against, or nil when it is not throttled: the peer's key
    /// (`clientKey(remoteAddress:)`); for a loopback peer (a local proxy, a health check, a script on the host) the
    /// key of the last `X-Forwarded-For` entry, or nil without one. Only a process on this machine can send from a
    /// loopback address, so its `X-Forwarded-For` is trusted; anyone else's is ignored.
    public static func client(remoteAddress: String, forwardedFor: String?) -> String? {
        let peer = clientKey(remoteAddress: remoteAddress)
        guard isLoopback(peer) else { return peer }
        guard let last = forwardedFor?.split(separator: ",").last else { return nil }
        let address = last.trimmingCharacters(in: " \t")
        return address.isEmpty ? nil : clientKey(remoteAddress: address)
    }

    /// Whether a client key is a loopback address (127.0.0.0/8, or ::1's network).
    public static func isLoopback(_ key: String) -> Bool {
        key.hasPrefix("127.") || key == "0:0:0:0::/64" || key == "localhost"
    }

    /// The client key for a peer address as `HTTPRequest.remoteAddress` gives it (`ip:port`, `[ipv6]:port`): the
    /// IPv4 address, or the IPv6 /64 network (`2001:db8:1:2::/64`). IPv4-mapped IPv6 addresses count as IPv4.
    public static func clientKey(remoteAddress: String) -> String {
        var host = Substring(remoteAddress)
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { host = host[host.index(after: host.startIndex)..<close] }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            host = host[..<colon]
        }
        if let zone = host.firstIndex(of: "%") { host = host[..<zone] }
        var v6 = in6_addr()
        guard String(host).withCString({ inet_pton(AF_INET6, $0, &v6) }) == 1 else { return String(host) }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return bytes[12..<16].map(String.init).joined(separator: ".")
        }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }

    /// Milliseconds of the system's monotonic clock.
    public static func monotonicMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    // MARK: Not public

    struct Entry {
        /// When the first failure of the current window happened.
        var windowStart: Int64
        var failures = 0
        /// When the block ends; 0 when not blocked.
        var blockedUntil: Int64 = 0
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// The latest end of any block set so far (monotonic ms), for `isBlockingAnyone`.
    private let latestBlockEnd = Atomic<Int64>(0)
    private let windowMilliseconds: Int64
    private let blockMilliseconds: Int64

    /// Drops entries that no longer matter (window passed, not blocked); if that frees less than a tenth of the
    /// table, drops the oldest tenth too, so a flood of new addresses costs one scan per many insertions.
    private func makeRoom(_ entries: inout [String: Entry], now: Int64) {
        entries = entries.filter { _, entry in entry.blockedUntil > now || now - entry.windowStart < windowMilliseconds }
        let target = limits.maxTrackedClients - max(1, limits.maxTrackedClients / 10)
        guard entries.count > target else { return }
        let oldest = entries.sorted { $0.value.windowStart < $1.value.windowStart }.prefix(entries.count - target)
        for (client, _) in oldest { entries[client] = nil }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Milliseconds rounded up to whole seconds, at least 1.
    private static func seconds(_ milliseconds: Int64) -> Int { max(1, Int((milliseconds + 999) / 1000)) }
}

extension Atomic where Value == Int64 {
    /// Raises the value to `candidate` when it is higher.
    fileprivate func max(_ candidate: Int64) {
        var current = load(ordering: .relaxed)
        while current < candidate {
            let (exchanged, original) = compareExchange(expected: current, desired: candidate, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var text = self
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return String(text)
    }
}

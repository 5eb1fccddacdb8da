import Foundation
import Synchronization
import WharfStore

/// Counters and histograms in the Prometheus text exposition format (version 0.0.4), for `GET /metrics`.
///
/// Series are created on first use and kept for the life of the process; label values come from closed sets
/// (route patterns, methods, status codes, connector names), never from request data, so the number of series stays
/// bounded.
public final class Metrics: Sendable {
    /// Upper bounds (seconds) of the HTTP latency histogram buckets.
    public static let httpBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

    private struct Histogram {
        var buckets: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
    }

    private struct State {
        var requests: [String: UInt64] = [:]  // "route\u{0}method\u{0}status"
        var latency: [String: Histogram] = [:]  // "route\u{0}method"
    }

    private let state = Mutex(State())

    /// An empty registry.
    public init() {}

    /// Records one HTTP request: its route pattern (or "unmatched"), method, status and time taken.
    public func observeRequest(route: String, method: String, status: Int, seconds: Double) {
        state.withLock { state in
            state.requests["\(route)\u{0}\(method)\u{0}\(status)", default: 0] += 1
            let key = "\(route)\u{0}\(method)"
            var histogram = state.latency[key] ?? Histogram(buckets: Array(repeating: 0, count: Metrics.httpBuckets.count))
            if let index = Metrics.httpBuckets.firstIndex(where: { seconds <= $0 }) { histogram.buckets[index] += 1 }
            histogram.sum += seconds
            histogram.count += 1
            state.latency[key] = histogram
        }
    }

    /// The HTTP series in exposition format.
    public func renderHTTP() -> String {
        let snapshot = state.withLock { $0 }
        var out = "# HELP wharf_http_requests_total HTTP requests answered, by route pattern, method and status.\n"
        out += "# TYPE wharf_http_requests_total counter\n"
        for key in snapshot.requests.keys.sorted() {
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
            out += "wharf_http_requests_total{route=\(Metrics.quote(parts[0])),method=\(Metrics.quote(parts[1])),status=\(Metrics.quote(parts[2]))} \(snapshot.requests[key]!)\n"
        }
        out += "# HELP wharf_http_request_duration_seconds Time from a complete request to its response, by route pattern and method.\n"
        out += "# TYPE wharf_http_request_duration_seconds histogram\n"
        for key in snapshot.latency.keys.sorted() {
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
            let labels = "route=\(Metrics.quote(parts[0])),method=\(Metrics.quote(parts[1]))"
            let histogram = snapshot.latency[key]!
            var cumulative: UInt64 = 0
            for (index, bound) in Metrics.httpBuckets.enumerated() {
                cumulative += histogram.buckets[index]
                out += "wharf_http_request_duration_seconds_bucket{\(labels),le=\"\(Metrics.number(bound))\"} \(cumulative)\n"
            }
            out += "wharf_http_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(histogram.count)\n"
            out += "wharf_http_request_duration_seconds_sum{\(labels)} \(Metrics.number(histogram.sum))\n"
            out += "wharf_http_request_duration_seconds_count{\(labels)} \(histogram.count)\n"
        }
        return out
    }

    /// Upper bounds (seconds) of the run duration histogram buckets.
    public static let runBuckets: [Double] = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600]

    /// The run series (from the store's run history, so they survive restarts) in exposition format.
    public static func renderRuns(_ statistics: [RunStatistics]) -> String {
        var out = "# HELP wharf_runs_total Runs by connector and state.\n# TYPE wharf_runs_total counter\n"
        for row in statistics {
            out += "wharf_runs_total{connector=\(quote(row.connector)),state=\(quote(row.state.rawValue))} \(row.runs)\n"
        }
        var byConnector: [String: (read: Int64, written: Int64, unchanged: Int64, rejected: Int64)] = [:]
        for row in statistics {
            var totals = byConnector[row.connector] ?? (0, 0, 0, 0)
            totals.read += row.counts.read
            totals.written += row.counts.inserted + row.counts.updated
            totals.unchanged += row.counts.unchanged
            totals.rejected += row.counts.rejected
            byConnector[row.connector] = totals
        }
        out += "# HELP wharf_records_total Records handled by runs, by connector and outcome (read, written, unchanged, rejected).\n"
        out += "# TYPE wharf_records_total counter\n"
        for connector in byConnector.keys.sorted() {
            let totals = byConnector[connector]!
            for (outcome, value) in [("read", totals.read), ("written", totals.written), ("unchanged", totals.unchanged), ("rejected", totals.rejected)] {
                out += "wharf_records_total{connector=\(quote(connector)),outcome=\"\(outcome)\"} \(value)\n"
            }
        }
        out += "# HELP wharf_run_duration_seconds Duration of finished runs, by connector and state.\n"
        out += "# TYPE wharf_run_duration_seconds histogram\n"
        for row in statistics where row.finished > 0 {
            let labels = "connector=\(quote(row.connector)),state=\(quote(row.state.rawValue))"
            for (index, bound) in runBuckets.enumerated() {
                out += "wharf_run_duration_seconds_bucket{\(labels),le=\"\(number(bound))\"} \(row.durationBuckets[index])\n"
            }
            out += "wharf_run_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(row.finished)\n"
            out += "wharf_run_duration_seconds_sum{\(labels)} \(number(Double(row.durationSumMilliseconds) / 1000))\n"
            out += "wharf_run_duration_seconds_count{\(labels)} \(row.finished)\n"
        }
        return out
    }

    /// A label value in quotes with `\`, `"` and newlines escaped, as the format requires.
    static func quote(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    /// A sample value: integers without a fraction, others in full precision.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

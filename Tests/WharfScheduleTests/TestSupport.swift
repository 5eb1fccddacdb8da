import Foundation
import XCTest

@testable import WharfSchedule

/// An instant from RFC 3339 text ("2026-03-29T01:00:00Z" or with an offset).
func instant(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Date {
    let formatter = ISO8601DateFormatter()
    guard let date = formatter.date(from: text) else {
        XCTFail("bad test date \(text)", file: file, line: line)
        return Date(timeIntervalSince1970: 0)
    }
    return date
}

/// Instants as UTC RFC 3339 text, for readable assertion failures.
func utcTexts(_ dates: [Date]) -> [String] {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    return dates.map { formatter.string(from: $0) }
}

/// Instants as wall-clock text with offset in `zone` ("2026-03-29T03:00:00+02:00").
func localTexts(_ dates: [Date], in zone: String) -> [String] {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: zone)
    formatter.formatOptions = [.withInternetDateTime]
    return dates.map { formatter.string(from: $0) }
}

/// The values in a parsed field.
func values(_ set: FieldSet) -> [Int] {
    (0..<64).filter { set.contains($0) }
}

/// The error a throwing expression throws, or a failure.
func scheduleError<T>(
    _ body: () throws(ScheduleError) -> T, file: StaticString = #filePath, line: UInt = #line
) -> ScheduleError? {
    do {
        let value = try body()
        XCTFail("expected an error, got \(value)", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

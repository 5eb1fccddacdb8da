import Foundation
import XCTest

@testable import WharfManifest

/// Cases the manifest fuzzer (Tests/Fuzz/Manifest) found.
final class ManifestFuzzRegressionTests: XCTestCase {
    private func refusal(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ManifestError? {
        do {
            _ = try Manifest.parse(text, filePath: "/deploy/wharf.json5")
            XCTFail("accepted:\n\(text)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    /// A schedule written with an escaped line break (`\x0A`, `\n`, U+2028) was quoted raw into its cron message,
    /// so one issue printed over several lines and read like two. Every issue is one line now.
    func testIssuesQuotingValuesWithLineBreaksStayOnOneLine() throws {
        let error = try XCTUnwrap(refusal(#"""
            { database: 'w', connectors: [
                { name: 'a', plugin: 'p', schedule: '0 2 ??\x0A?? *' },
                { name: 'b', plugin: 'p', schedule: '0 2 * *\r\n *' },
                { name: 'c', plugin: 'p', schedule: '@dai\u2028ly' },
                { name: 'd', plugin: 'p', schedule: { every: '1\nq' } },
            ] }
            """#))
        let printed = error.description
        XCTAssertEqual(error.issues.count, 4, printed)
        let lines = printed.unicodeScalars.split(omittingEmptySubsequences: false) {
            $0 == "\n" || $0 == "\r" || $0 == "\u{2028}" || $0 == "\u{2029}"
        }
        XCTAssertEqual(lines.count, error.issues.count, printed)
        XCTAssertTrue(printed.contains(#"??\n??"#), "the line break is shown as \\n: \(printed)")
        XCTAssertTrue(printed.contains(#"\r\n"#), printed)
        XCTAssertTrue(printed.contains(#"\u{2028}"#), printed)
        for issue in error.issues { XCTAssertFalse(issue.description.contains("\n"), issue.description) }
    }

    func testEscapingLeavesOrdinaryTextAlone() {
        XCTAssertEqual(escapingLineBreaks("connectors[0].name: expected a name\tsuch as \"é\""), "connectors[0].name: expected a name\tsuch as \"é\"")
        XCTAssertEqual(escapingLineBreaks("a\u{0}b\u{7F}c\u{85}d"), #"a\u{0}b\u{7F}c\u{85}d"#)
    }
}

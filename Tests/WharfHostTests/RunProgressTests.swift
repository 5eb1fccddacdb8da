import XCTest

@testable import WharfHost

/// The progress line `wharf run` shows.
final class RunProgressTests: XCTestCase {
    func testLineShowsRecordsRateElapsedAndTimeLeftWhenTheSizeIsKnown() {
        let progress = RunProgress()
        progress.add(read: 5000, rejected: 3)
        let later = progress.started + .seconds(10)
        XCTAssertEqual(progress.line(connector: "erp", now: later), "erp: 5000 records (500/s), 3 rejected, 10.0s elapsed")
        progress.report(done: 250, total: 1000)
        XCTAssertEqual(progress.line(connector: "erp", now: later), "erp: 5000 records (500/s), 3 rejected, 10.0s elapsed, 25%, about 30.0s left")
        progress.report(done: 1000, total: 1000)
        XCTAssertFalse(progress.line(connector: "erp", now: later).contains("left"))
    }

    func testDurations() {
        XCTAssertEqual(RunProgress.duration(4.25), "4.2s")
        XCTAssertEqual(RunProgress.duration(125), "2m05s")
        XCTAssertEqual(RunProgress.duration(3 * 3600 + 7 * 60), "3h07m")
    }
}

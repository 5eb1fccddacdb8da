import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfStore

/// `ApplyOptions.recordsAreValidated`: records the codec decoded skip the store's second validation pass.
final class ApplyOptionsTests: StoreTestCase {
    func testValidatedRecordsApplyAsOthersDo() throws {
        XCTAssertFalse(Store.ApplyOptions().recordsAreValidated, "validated by the store unless said otherwise")
        let decoded = try [
            RecordCodec.decode(.product, values: ["A", "Name", nil, nil]).get(),
            RecordCodec.decode(.price, values: ["A", "EUR", "1.50", nil]).get(),
            RecordCodec.decode(.stock, values: ["A", "w1", "3", ""]).get(),
        ]
        let trusted = Store.ApplyOptions(recordsAreValidated: true)
        XCTAssertEqual(try store.apply(decoded, cursor: nil, options: trusted), .counts(3, 0, 0))
        XCTAssertEqual(try store.apply(decoded, cursor: nil), .counts(0, 0, 3))
        XCTAssertEqual(try store.inventory(sku: "A")?.totalQuantity, 3)
    }

    func testUnmarkedRecordsAreStillValidated() {
        let invalid = stock("A", "w1", -1)
        XCTAssertEqual(storeError { try store.apply([invalid], cursor: nil) }?.code, .invalidRecord)
        XCTAssertEqual(
            storeError {
                try store.apply([invalid], cursor: nil, options: Store.ApplyOptions(stock: .absolute, recordsAreValidated: false))
            }?.code,
            .invalidRecord)
    }
}

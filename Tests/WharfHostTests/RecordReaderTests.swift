import Foundation
import WharfABI
import WharfModel
import XCTest

@testable import WharfHost

/// `RecordReader.decode`: the fast path for product, price and stock records with only their fixed fields gives
/// exactly what the general path gives, value or error, and leaves everything else to the general path.
final class RecordReaderTests: XCTestCase {
    /// A field: name (nil: no name pointer), value bytes (nil: no value pointer).
    private typealias Field = (name: String?, value: [UInt8]?)

    /// Calls `body` with a C record of `entity` and `fields`.
    private func withRecord<T>(_ entity: String?, _ fields: [Field], _ body: (wharf_record) -> T) -> T {
        var storage: [UnsafeMutablePointer<CChar>] = []
        defer { storage.forEach { free($0) } }
        func cString(_ text: String) -> UnsafePointer<CChar> {
            let copy = strdup(text)!
            storage.append(copy)
            return UnsafePointer(copy)
        }
        func bytes(_ value: [UInt8]) -> UnsafePointer<CChar> {
            let copy = malloc(value.count + 1)!.assumingMemoryBound(to: CChar.self)
            for (index, byte) in value.enumerated() { copy[index] = CChar(bitPattern: byte) }
            copy[value.count] = 0
            storage.append(copy)
            return UnsafePointer(copy)
        }
        var cFields = fields.map { field in
            wharf_field(
                name: field.name.map(cString), value: field.value.map(bytes), value_len: field.value?.count ?? 0)
        }
        return cFields.withUnsafeMutableBufferPointer { buffer in
            var record = wharf_record()
            record.struct_size = UInt32(MemoryLayout<wharf_record>.size)
            record.entity = entity.map(cString)
            record.field_count = UInt32(buffer.count)
            record.fields = buffer.isEmpty ? nil : UnsafePointer(buffer.baseAddress)
            return body(record)
        }
    }

    /// Decodes with both paths and checks they agree; returns whether the fast path took the record.
    @discardableResult
    private func assertPathsAgree(
        _ entity: String, _ fields: [Field], relative: Bool = false, file: StaticString = #filePath, line: UInt = #line
    ) -> Bool {
        let options = RecordDecodingOptions(stockQuantityIsAdjustment: relative)
        return withRecord(entity, fields) { record in
            let general = RecordReader.decodeFields(record, options: options)
            let full = RecordReader.decode(record, options: options)
            XCTAssertEqual(String(describing: full), String(describing: general), file: file, line: line)
            guard let fast = RecordReader.decodeFixedFields(record, options: options) else { return false }
            XCTAssertEqual(String(describing: fast), String(describing: general), file: file, line: line)
            return true
        }
    }

    private func text(_ value: String) -> [UInt8] { Array(value.utf8) }

    func testFastPathAgreesOnValidRecords() {
        XCTAssertTrue(assertPathsAgree("stock", [("sku", text("A-1")), ("source", text("w1")), ("quantity", text("5"))]))
        XCTAssertTrue(
            assertPathsAgree(
                "stock", [("status", text("out_of_stock")), ("quantity", text("0")), ("source", text("w1")), ("sku", text("A"))]))
        XCTAssertTrue(
            assertPathsAgree("stock", [("sku", text("A")), ("source", text("w1")), ("quantity", text("-3"))], relative: true))
        XCTAssertTrue(
            assertPathsAgree("stock", [("sku", text("A")), ("source", text("w1")), ("quantity", text("+3"))], relative: true))
        XCTAssertTrue(
            assertPathsAgree("price", [("sku", text("A")), ("currency", text("EUR")), ("amount", text("12.50"))]))
        XCTAssertTrue(
            assertPathsAgree(
                "price", [("sku", text("A")), ("currency", text("JPY")), ("amount", text("100")), ("min_quantity", text("10"))]))
        XCTAssertTrue(
            assertPathsAgree(
                "product",
                [("sku", text("Ä-1")), ("name", text("Größe — 大")), ("description", text("")), ("status", text("inactive"))]))
        XCTAssertTrue(assertPathsAgree("product", [("sku", text("A")), ("name", text("N")), ("description", nil)]))
    }

    func testFastPathAgreesOnInvalidValues() {
        XCTAssertTrue(assertPathsAgree("stock", [("sku", text("A")), ("source", text("w1"))]))  // quantity missing
        XCTAssertTrue(assertPathsAgree("stock", [("sku", text("A")), ("source", text("w1")), ("quantity", text("-3"))]))
        XCTAssertTrue(assertPathsAgree("stock", [("sku", text("A")), ("source", text("w 1")), ("quantity", text("x"))]))
        XCTAssertTrue(
            assertPathsAgree(
                "stock", [("sku", text("A")), ("source", text("w1")), ("quantity", text("1")), ("status", text("maybe"))]))
        XCTAssertTrue(assertPathsAgree("stock", [("sku", text("")), ("source", text("w1")), ("quantity", text("1"))]))
        XCTAssertTrue(assertPathsAgree("price", [("sku", text("A")), ("currency", text("XXX1")), ("amount", text("1"))]))
        XCTAssertTrue(assertPathsAgree("price", [("sku", text("A")), ("currency", text("EUR")), ("amount", text("1.234"))]))
        XCTAssertTrue(assertPathsAgree("product", [("sku", text("A")), ("status", text("gone"))]))  // name missing
        XCTAssertTrue(assertPathsAgree("product", [("sku", text("A")), ("name", text("N")), ("status", text("gone"))]))
    }

    func testOtherRecordsTakeTheGeneralPath() {
        // Invalid UTF-8 (its message names the field), a field twice, an unknown or extra field, a nameless field,
        // another entity: the general path decides, with its own messages.
        XCTAssertFalse(
            assertPathsAgree("stock", [("sku", [0x41, 0xFF]), ("source", text("w1")), ("quantity", text("1"))]))
        XCTAssertFalse(
            assertPathsAgree("stock", [("sku", text("A")), ("sku", text("B")), ("source", text("w1")), ("quantity", text("1"))]))
        XCTAssertFalse(
            assertPathsAgree("stock", [("sku", text("A")), ("source", text("w1")), ("quantity", text("1")), ("colour", text("red"))]))
        XCTAssertFalse(assertPathsAgree("stock", [(nil, text("A")), ("source", text("w1")), ("quantity", text("1"))]))
        XCTAssertFalse(
            assertPathsAgree("product", [("sku", text("A")), ("name", text("N")), ("attr.colour", text("red"))]))
        XCTAssertFalse(assertPathsAgree("product", [("sku", text("A")), ("name", text("N")), ("category", text("c1"))]))
        XCTAssertFalse(assertPathsAgree("source", [("code", text("w1"))]))
        XCTAssertFalse(assertPathsAgree("stocks", [("sku", text("A"))]))
        XCTAssertFalse(assertPathsAgree("stock", []))
        withRecord(nil, [("sku", text("A"))]) { record in
            XCTAssertNil(RecordReader.decodeFixedFields(record, options: RecordDecodingOptions()))
            XCTAssertEqual(
                String(describing: RecordReader.decode(record)),
                String(describing: Result<ModelRecord, FieldError>.failure(FieldError(field: nil, reason: "the record has no entity name"))))
        }
    }
}

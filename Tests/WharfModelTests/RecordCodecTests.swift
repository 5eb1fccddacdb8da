import WharfModel
import XCTest

final class RecordCodecTests: XCTestCase {
    typealias Fields = [(name: String, value: String?)]

    private func decode(_ entity: String, _ fields: Fields) -> Result<ModelRecord, FieldError> {
        RecordCodec.decode(entity: entity, fields: fields)
    }

    private func error(_ entity: String, _ fields: Fields, file: StaticString = #filePath, line: UInt = #line) -> FieldError {
        switch decode(entity, fields) {
        case .success(let record):
            XCTFail("decoded \(record) but expected an error", file: file, line: line)
            return FieldError(field: nil, reason: "")
        case .failure(let error): return error
        }
    }

    private func record(_ entity: String, _ fields: Fields, file: StaticString = #filePath, line: UInt = #line) -> ModelRecord? {
        switch decode(entity, fields) {
        case .success(let record): return record
        case .failure(let error):
            XCTFail("unexpected error: \(error)", file: file, line: line)
            return nil
        }
    }

    // MARK: Decoding

    func testDecodesEveryEntity() {
        XCTAssertEqual(
            record("product", [
                ("sku", "SKU-1"), ("name", "Shirt"), ("description", "Cotton"), ("status", "inactive"),
                ("attr.color", "red"), ("attr.size", "M"),
            ]),
            .product(
                Product(
                    sku: "SKU-1", name: "Shirt", description: "Cotton", status: .inactive,
                    attributes: ["color": "red", "size": "M"])))
        XCTAssertEqual(
            record("price", [("sku", "SKU-1"), ("currency", "EUR"), ("amount", "12.5")]),
            .price(BasePrice(sku: "SKU-1", price: Money(minorUnits: 1250, currency: Currency(code: "EUR")!))))
        XCTAssertEqual(
            record("stock", [("sku", "SKU-1"), ("source", "wh-1"), ("quantity", "10.000")]),
            .stock(InventorySourceItem(sku: "SKU-1", sourceCode: "wh-1", quantity: 10, status: .inStock)))
        XCTAssertEqual(
            record("stock", [("sku", "SKU-1"), ("source", "wh-1"), ("quantity", "0")]),
            .stock(InventorySourceItem(sku: "SKU-1", sourceCode: "wh-1", quantity: 0, status: .outOfStock)))
        XCTAssertEqual(
            record("stock", [("sku", "S"), ("source", "w"), ("quantity", "4"), ("status", "out_of_stock")]),
            .stock(InventorySourceItem(sku: "S", sourceCode: "w", quantity: 4, status: .outOfStock)))
        XCTAssertEqual(
            record("source", [("code", "wh-1"), ("name", "Main"), ("enabled", "false")]),
            .source(Source(code: "wh-1", name: "Main", enabled: false)))
        XCTAssertEqual(record("source", [("code", "wh-1")]), .source(Source(code: "wh-1", name: "wh-1", enabled: true)))
    }

    func testDefaultsAndAbsentValues() {
        // nil and "" both mean absent for optional fields.
        XCTAssertEqual(
            record("product", [("sku", "A"), ("name", "N"), ("description", nil), ("status", ""), ("attr.x", "")]),
            .product(Product(sku: "A", name: "N")))
        XCTAssertEqual(record("product", [("name", "N"), ("sku", "A")]), .product(Product(sku: "A", name: "N")))
    }

    // MARK: Every error

    func testUnknownEntity() {
        XCTAssertEqual(
            error("order", [("id", "1")]),
            FieldError(field: nil, reason: "unknown entity 'order'; this host knows source, product, price, stock, category, order_status, shipment, return, company, company_user, customer_group, price_list, price_list_entry, price_list_assignment, special_price, price_list_publish"))
        XCTAssertEqual(error("Product", [("sku", "A"), ("name", "N")]).field, nil)
    }

    func testUnknownFieldIsNamed() {
        let e = error("product", [("sku", "A"), ("name", "N"), ("colour", "red")])
        XCTAssertEqual(e.field, "colour")
        XCTAssertEqual(
            e.reason,
            "unknown field 'colour' for entity product; known fields: sku, name, description, status, attr.<name>, "
                + "category, media, name.<lang>, description.<lang>")
        XCTAssertEqual(error("price", [("sku", "A"), ("currency", "EUR"), ("amount", "1"), ("price", "1")]).field, "price")
        XCTAssertEqual(error("stock", [("sku", "A"), ("source", "w"), ("quantity", "1"), ("qty", "1")]).field, "qty")
        XCTAssertEqual(error("source", [("code", "w"), ("Name", "x")]).field, "Name")
        // updated_at is output-only.
        XCTAssertEqual(error("source", [("code", "w"), ("updated_at", "2026-01-01")]).field, "updated_at")
    }

    func testMissingRequiredFieldIsNamed() {
        XCTAssertEqual(
            error("product", [("sku", "A")]),
            FieldError(field: "name", reason: "product record is missing required field 'name'"))
        XCTAssertEqual(error("product", [("name", "N")]).field, "sku")
        XCTAssertEqual(error("product", [("sku", nil), ("name", "N")]).field, "sku")
        XCTAssertEqual(error("price", [("sku", "A"), ("amount", "1")]).field, "currency")
        XCTAssertEqual(error("price", [("sku", "A"), ("currency", "EUR")]).field, "amount")
        XCTAssertEqual(error("price", [("currency", "EUR"), ("amount", "1")]).field, "sku")
        XCTAssertEqual(error("stock", [("sku", "A"), ("quantity", "1")]).field, "source")
        XCTAssertEqual(error("stock", [("sku", "A"), ("source", "w")]).field, "quantity")
        XCTAssertEqual(error("source", [("name", "x")]).field, "code")
    }

    func testRepeatedFieldIsAnError() {
        XCTAssertEqual(
            error("product", [("sku", "A"), ("name", "N"), ("sku", "B")]),
            FieldError(field: "sku", reason: "field 'sku' appears more than once in one product record"))
        XCTAssertEqual(
            error("product", [("sku", "A"), ("name", "N"), ("attr.c", "red"), ("attr.c", "blue")]),
            FieldError(field: "attr.c", reason: "field 'attr.c' appears more than once in one product record"))
        XCTAssertEqual(error("stock", [("sku", "A"), ("source", "w"), ("quantity", "1"), ("quantity", "2")]).field, "quantity")
    }

    func testInvalidValuesAreNamed() {
        XCTAssertEqual(error("product", [("sku", "a/b"), ("name", "N")]).field, "sku")
        XCTAssertEqual(error("product", [("sku", "A"), ("name", String(repeating: "n", count: 513))]).field, "name")
        XCTAssertEqual(
            error("product", [("sku", "A"), ("name", "N"), ("status", "enabled")]),
            FieldError(field: "status", reason: "status 'enabled' is not one of active, inactive"))
        XCTAssertEqual(
            error("product", [("sku", "A"), ("name", "N"), ("attr.", "x")]),
            FieldError(field: "attr.", reason: "attribute name is empty; write the field as attr.<name>"))
        XCTAssertEqual(
            error("price", [("sku", "A"), ("currency", "EURO"), ("amount", "1")]),
            FieldError(field: "currency", reason: "currency 'EURO' is not an ISO 4217 currency code (like EUR, USD, JPY)"))
        XCTAssertEqual(
            error("price", [("sku", "A"), ("currency", "EUR"), ("amount", "12.345")]),
            FieldError(field: "amount", reason: "amount 12.345 has 3 decimals but EUR has 2"))
        XCTAssertEqual(
            error("price", [("sku", "A"), ("currency", "EUR"), ("amount", "-1")]),
            FieldError(field: "amount", reason: "amount -1.00 is negative; a base price must be 0 or more"))
        XCTAssertEqual(
            error("stock", [("sku", "A"), ("source", "w"), ("quantity", "10.5")]),
            FieldError(field: "quantity", reason: "quantity 10.5 is not a whole number; units cannot be split"))
        XCTAssertEqual(error("stock", [("sku", "A"), ("source", "w"), ("quantity", "-2")]).field, "quantity")
        XCTAssertEqual(error("stock", [("sku", "A"), ("source", "w h"), ("quantity", "1")]).field, "source")
        XCTAssertEqual(
            error("stock", [("sku", "A"), ("source", "w"), ("quantity", "1"), ("status", "yes")]),
            FieldError(field: "status", reason: "status 'yes' is not one of in_stock, out_of_stock"))
        XCTAssertEqual(
            error("source", [("code", "w"), ("enabled", "yes")]),
            FieldError(field: "enabled", reason: "enabled 'yes' must be true or false"))
        XCTAssertEqual(error("source", [("code", "w/1")]).field, "code")
    }

    // MARK: Encoding

    func testEncodeIsTheInverseOfDecodePlusUpdatedAt() throws {
        let t = Timestamp(millisecondsSinceEpoch: 1_790_000_000_123)
        let records: [ModelRecord] = [
            .product(
                Product(
                    sku: "SKU-1", name: "Shirt \"deluxe\"", description: "Line 1\nLine 2", status: .inactive,
                    attributes: ["size": "M", "color": "red", "Ä": "umlaut", "a.b": "dotted"], updatedAt: t)),
            .product(Product(sku: "SKU-2", name: "Plain", updatedAt: t)),
            .price(BasePrice(sku: "SKU-1", price: Money(minorUnits: 1250, currency: Currency(code: "EUR")!), updatedAt: t)),
            .price(BasePrice(sku: "SKU-1", price: Money(minorUnits: 1250, currency: Currency(code: "JPY")!), updatedAt: t)),
            .price(BasePrice(sku: "SKU-1", price: Money(minorUnits: 5, currency: Currency(code: "BHD")!), updatedAt: t)),
            .stock(InventorySourceItem(sku: "SKU-1", sourceCode: "wh-1", quantity: 7, status: .outOfStock, updatedAt: t)),
            .stock(InventorySourceItem(sku: "SKU-1", sourceCode: "wh-2", quantity: 0, updatedAt: t)),
            .source(Source(code: "wh-1", name: "Main", enabled: false, updatedAt: t)),
        ]
        for original in records {
            let fields = RecordCodec.encode(original)
            XCTAssertEqual(fields.last?.name, "updated_at")
            XCTAssertEqual(fields.last?.value, t.rfc3339)
            let input: Fields = fields.dropLast().map { ($0.name, $0.value) }
            var expected = original
            switch expected {  // decode leaves timestamps to the store
            case .product(var p):
                p.updatedAt = nil
                expected = .product(p)
            case .price(var p):
                p.updatedAt = nil
                expected = .price(p)
            case .stock(var s):
                s.updatedAt = nil
                expected = .stock(s)
            case .source(var s):
                s.updatedAt = nil
                expected = .source(s)
            case .category(var c):
                c.updatedAt = nil
                expected = .category(c)
            case .orderStatus, .shipment, .orderReturn: break
            case .company, .companyUser, .customerGroup:
                break  // not among the records above
            case .pricing: break
            }
            XCTAssertEqual(try RecordCodec.decode(entity: original.entity, fields: input).get(), expected)
        }
    }

    func testEncodeFieldOrderAndForms() {
        let fields = RecordCodec.encode(
            .product(Product(sku: "A", name: "N", attributes: ["b": "2", "a": "1", "B": "3"])))
        XCTAssertEqual(fields.map(\.name), ["sku", "name", "status", "attr.B", "attr.a", "attr.b"])
        XCTAssertEqual(
            RecordCodec.encode(.price(BasePrice(sku: "A", price: Money(minorUnits: 1200, currency: Currency(code: "EUR")!))))
                .map { "\($0.name)=\($0.value)" },
            ["sku=A", "currency=EUR", "amount=12.00"])
        XCTAssertEqual(
            RecordCodec.encode(.stock(InventorySourceItem(sku: "A", sourceCode: "w", quantity: 3))).map { "\($0.name)=\($0.value)" },
            ["sku=A", "source=w", "quantity=3", "status=in_stock"])
        XCTAssertEqual(
            RecordCodec.encode(.source(Source(code: "w"))).map { "\($0.name)=\($0.value)" },
            ["code=w", "name=w", "enabled=true"])
    }

    func testEntityNames() {
        XCTAssertEqual(ModelRecord.entities, ["source", "product", "price", "stock", "category"])
        XCTAssertEqual(ModelRecord.product(Product(sku: "A", name: "N")).entity, "product")
        XCTAssertEqual(RecordCodec.fieldNames(entity: "stock"), ["sku", "source", "quantity", "status"])
        XCTAssertNil(RecordCodec.fieldNames(entity: "order"))
    }
}

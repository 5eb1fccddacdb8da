import WharfModel
import XCTest

/// The fields added for PIM and ERP feeds: product categories, media and per-language texts, the category entity,
/// price tiers and relative stock adjustments — decoding, every error, and encode as decode's inverse.
final class CatalogContentCodecTests: XCTestCase {
    typealias Fields = [(name: String, value: String?)]

    private func decode(
        _ entity: String, _ fields: Fields, options: RecordDecodingOptions = RecordDecodingOptions()
    ) -> Result<ModelRecord, FieldError> {
        RecordCodec.decode(entity: entity, fields: fields, options: options)
    }

    private func error(
        _ entity: String, _ fields: Fields, options: RecordDecodingOptions = RecordDecodingOptions(),
        file: StaticString = #filePath, line: UInt = #line
    ) -> FieldError {
        switch decode(entity, fields, options: options) {
        case .success(let record):
            XCTFail("decoded \(record) but expected an error", file: file, line: line)
            return FieldError(field: nil, reason: "")
        case .failure(let error): return error
        }
    }

    private func record(
        _ entity: String, _ fields: Fields, options: RecordDecodingOptions = RecordDecodingOptions(),
        file: StaticString = #filePath, line: UInt = #line
    ) -> ModelRecord? {
        switch decode(entity, fields, options: options) {
        case .success(let record): return record
        case .failure(let error):
            XCTFail("unexpected error: \(error)", file: file, line: line)
            return nil
        }
    }

    private let eur = Currency(code: "EUR")!

    // MARK: Product content

    func testProductCategoriesMediaAndTexts() {
        let decoded = record("product", [
            ("sku", "A"), ("name", "Shirt"), ("category", "men/shirts"), ("media", "https://cdn.example.com/a.jpg"),
            ("category", "sale"), ("name.de", "Hemd"), ("category", "men/shirts"), ("media", "/media/b.png"),
            ("description.de", "Baumwolle"), ("name.en-gb", "Shirt (UK)"), ("category", ""), ("media", nil),
            ("description.fr", "Coton"), ("media", "https://cdn.example.com/a.jpg"),
        ])
        XCTAssertEqual(
            decoded,
            .product(
                Product(
                    sku: "A", name: "Shirt",
                    categories: ["men/shirts", "sale"],  // order kept, the repeat and the empty value left out
                    media: ["https://cdn.example.com/a.jpg", "/media/b.png", "https://cdn.example.com/a.jpg"],
                    texts: [
                        "de": LocalizedText(name: "Hemd", description: "Baumwolle"),
                        "en-GB": LocalizedText(name: "Shirt (UK)"),  // tag in conventional case
                        "fr": LocalizedText(description: "Coton"),
                    ])))
    }

    func testProductContentErrorsNameTheField() {
        func productError(_ extra: Fields) -> FieldError { error("product", [("sku", "A"), ("name", "N")] + extra) }
        XCTAssertEqual(
            productError([("name.d", "x")]),
            FieldError(
                field: "name.d", reason: "language 'd' is not a BCP 47 language tag; write it like de, en-GB or zh-Hant-TW"))
        XCTAssertEqual(productError([("description.en_GB", "x")]).field, "description.en_GB")
        XCTAssertEqual(productError([("name.", "x")]).field, "name.")
        XCTAssertEqual(
            productError([("name.de", "a"), ("name.DE", "b")]),
            FieldError(field: "name.DE", reason: "field 'name.de' appears more than once in one product record"))
        XCTAssertEqual(productError([("description.de", "a"), ("description.de", "b")]).field, "description.de")
        XCTAssertEqual(
            productError([("name.de", String(repeating: "n", count: 513))]),
            FieldError(field: "name.de", reason: "name.de must be 1 to 512 characters, got 513"))
        XCTAssertEqual(
            productError([("category", "a\u{1}b")]),
            FieldError(field: "category", reason: "category 'a\\u{0001}b' contains a control character (U+0001); remove it"))
        XCTAssertEqual(
            productError([("category", String(repeating: "c", count: 129))]),
            FieldError(field: "category", reason: "category must be 1 to 128 characters, got 129"))
        XCTAssertEqual(
            productError([("media", "a b.jpg")]),
            FieldError(field: "media", reason: "media 'a b.jpg' contains a space; percent-encode it (a space is %20)"))
        XCTAssertEqual(productError([("media", "http:/x.jpg")]).reason,
            "media 'http:/x.jpg' has no host; write it like http://cdn.example.com/a.jpg")
        XCTAssertEqual(productError([("media", "1http://x")]).reason,
            "media '1http://x' does not start with a URL scheme (like https:) or a path (like /media/a.jpg)")
        XCTAssertEqual(productError([("media", "www.example.com/a.jpg")]).reason,
            "media 'www.example.com/a.jpg' has no scheme; write the full URL, like https://www.example.com/a.jpg")
        XCTAssertEqual(productError([("media", "C:\\img\\a.jpg")]).reason,
            "media 'C:\\img\\a.jpg' contains a backslash; URLs and paths use '/'")
        XCTAssertEqual(productError([("media", "mailto:")]).reason, "media 'mailto:' has nothing after the scheme")
        XCTAssertEqual(productError([("media", "https://x/" + String(repeating: "a", count: 2040))]).reason,
            "media must be at most 2048 characters, got 2050")
    }

    func testMediaAcceptsURLsAndPaths() {
        for url in [
            "https://cdn.example.com/a.jpg?w=200#top", "HTTP://EXAMPLE.COM", "file:///srv/media/a.pdf", "s3://bucket/key",
            "/media/a.jpg", "images/a.jpg", "./a.jpg", "../a.jpg", "a.jpg", "//cdn.example.com/a.jpg",
            "https://example.com/a%20b.jpg", "data:image/png;base64,iVBORw0KGgo=", "https://例え.jp/画像.jpg",
        ] {
            XCTAssertNoThrow(try Product(sku: "A", name: "N", media: [url]).validated(), url)
        }
        for url in ["https://", "https:///a.jpg", "x y", "a\tb", "a\u{A0}b", "-x:y", ""] {
            XCTAssertThrowsError(try Product(sku: "A", name: "N", media: [url]).validated(), url) { error in
                XCTAssertEqual((error as? FieldError)?.field, "media", url)
            }
        }
    }

    func testLanguageTagsAreCheckedLooselyAndWrittenInConventionalCase() throws {
        let cases = [
            "de": "de", "DE": "de", "en-gb": "en-GB", "zh-hant-tw": "zh-Hant-TW", "sr-LATN-rs": "sr-Latn-RS",
            "es-419": "es-419", "de-CH-1996": "de-CH-1996", "x-klingon": nil, "e": nil, "toolonglang": nil,
            "de-": nil, "-de": nil, "de--ch": nil, "de-123456789": nil, "de_CH": nil, "dé": nil, "12": nil,
        ] as [String: String?]
        for (tag, expected) in cases {
            let product = Product(sku: "A", name: "N", texts: [tag: LocalizedText(name: "n")])
            if let expected {
                XCTAssertEqual(try product.validated().texts.keys.first, expected, tag)
            } else {
                XCTAssertThrowsError(try product.validated(), tag)
            }
        }
        // Two spellings of one language are one language twice.
        XCTAssertThrowsError(
            try Product(sku: "A", name: "N", texts: ["de": LocalizedText(name: "a"), "DE": LocalizedText(name: "b")]).validated()
        ) { error in
            XCTAssertEqual((error as? FieldError)?.field, "name.de")
        }
        XCTAssertEqual(
            try Product(sku: "A", name: "N", categories: ["b", "a", "b", "c", "a"]).validated().categories, ["b", "a", "c"])
    }

    // MARK: Category

    func testDecodesCategories() {
        XCTAssertEqual(
            record("category", [
                ("code", "men/shirts"), ("name", "Shirts"), ("parent", "men"), ("position", "3"), ("name.de", "Hemden"),
                ("name.fr-fr", "Chemises"), ("name.it", ""),
            ]),
            .category(
                Category(
                    code: "men/shirts", name: "Shirts", parent: "men", position: 3,
                    texts: ["de": "Hemden", "fr-FR": "Chemises"])))
        XCTAssertEqual(
            record("category", [("code", "root"), ("name", "All"), ("parent", ""), ("position", "-1.000")]),
            .category(Category(code: "root", name: "All", position: -1)))
        XCTAssertEqual(record("category", [("code", "c"), ("name", "C")]), .category(Category(code: "c", name: "C")))
    }

    func testCategoryErrorsNameTheField() {
        XCTAssertEqual(
            error("category", [("name", "N")]),
            FieldError(field: "code", reason: "category record is missing required field 'code'"))
        XCTAssertEqual(error("category", [("code", "c")]).field, "name")
        XCTAssertEqual(
            error("category", [("code", "c"), ("name", "N"), ("parent", "c")]),
            FieldError(field: "parent", reason: "parent 'c' is the category itself; leave parent out for a root"))
        XCTAssertEqual(
            error("category", [("code", "c"), ("name", "N"), ("position", "first")]),
            FieldError(field: "position", reason: "position 'first' is not a number; expected a whole number like 10"))
        XCTAssertEqual(error("category", [("code", "c"), ("name", "N"), ("position", "1.5")]).field, "position")
        XCTAssertEqual(error("category", [("code", "c\n"), ("name", "N")]).field, "code")
        XCTAssertEqual(error("category", [("code", String(repeating: "c", count: 129)), ("name", "N")]).field, "code")
        XCTAssertEqual(error("category", [("code", "c"), ("name", "N"), ("parent", "p\u{7F}")]).field, "parent")
        XCTAssertEqual(
            error("category", [("code", "c"), ("name", "N"), ("name.de", "a"), ("name.De", "")]),
            FieldError(field: "name.De", reason: "field 'name.de' appears more than once in one category record"))
        XCTAssertEqual(
            error("category", [("code", "c"), ("name", "N"), ("description.de", "x")]).reason,
            "unknown field 'description.de' for entity category; known fields: code, name, parent, position, name.<lang>")
        XCTAssertEqual(error("category", [("code", "c"), ("name", "N"), ("name.1", "x")]).field, "name.1")
    }

    // MARK: Price tiers

    func testPriceMinimumQuantity() {
        XCTAssertEqual(
            record("price", [("sku", "A"), ("currency", "EUR"), ("amount", "9.50"), ("min_quantity", "10")]),
            .price(BasePrice(sku: "A", price: Money(minorUnits: 950, currency: eur), minQuantity: 10)))
        XCTAssertEqual(
            record("price", [("sku", "A"), ("currency", "EUR"), ("amount", "9.50"), ("min_quantity", "")]),
            .price(BasePrice(sku: "A", price: Money(minorUnits: 950, currency: eur), minQuantity: 1)))
        XCTAssertEqual(
            error("price", [("sku", "A"), ("currency", "EUR"), ("amount", "1"), ("min_quantity", "0")]),
            FieldError(
                field: "min_quantity",
                reason: "min_quantity 0 is less than 1; a price applies from 1 unit (the default) or more"))
        XCTAssertEqual(
            error("price", [("sku", "A"), ("currency", "EUR"), ("amount", "1"), ("min_quantity", "-5")]).field,
            "min_quantity")
        XCTAssertEqual(
            error("price", [("sku", "A"), ("currency", "EUR"), ("amount", "1"), ("min_quantity", "2.5")]),
            FieldError(field: "min_quantity", reason: "min_quantity 2.5 is not a whole number; units cannot be split"))
        XCTAssertEqual(
            ModelRecord.price(BasePrice(sku: "A", price: Money(minorUnits: 1, currency: eur), minQuantity: 10)).keyDescription,
            "EUR price of 'A' from 10")
        XCTAssertEqual(
            ModelRecord.price(BasePrice(sku: "A", price: Money(minorUnits: 1, currency: eur))).keyDescription,
            "EUR price of 'A'")
    }

    // MARK: Stock adjustments

    func testNegativeQuantityIsAnErrorUnlessItIsAnAdjustment() {
        let fields: Fields = [("sku", "A"), ("source", "w"), ("quantity", "-3")]
        XCTAssertEqual(
            error("stock", fields),
            FieldError(field: "quantity", reason: "quantity -3 is negative; send 0 when there is none"))
        let relative = RecordDecodingOptions(stockQuantityIsAdjustment: true)
        guard case .stock(let item) = record("stock", fields, options: relative) else { return XCTFail("not stock") }
        XCTAssertEqual(item.quantity, -3)
        XCTAssertFalse(item.statusIsGiven)
        guard case .stock(let plus) = record("stock", [("sku", "A"), ("source", "w"), ("quantity", "+5.00")], options: relative)
        else { return XCTFail("not stock") }
        XCTAssertEqual(plus.quantity, 5)
        guard
            case .stock(let given) = record(
                "stock", [("sku", "A"), ("source", "w"), ("quantity", "-1"), ("status", "in_stock")], options: relative)
        else { return XCTFail("not stock") }
        XCTAssertTrue(given.statusIsGiven)
        XCTAssertEqual(given.status, .inStock)
        XCTAssertEqual(
            error("stock", [("sku", "A"), ("source", "w"), ("quantity", "+-5")], options: relative),
            FieldError(field: "quantity", reason: "quantity '+-5' is not a number; expected a whole number like -3 or +5"))
        XCTAssertEqual(error("stock", [("sku", "A"), ("source", "w"), ("quantity", "+5")]).field, "quantity")  // absolute
        XCTAssertEqual(error("stock", [("sku", "A"), ("source", "w"), ("quantity", "-1.5")], options: relative).field, "quantity")
        // Validation follows the same switch.
        XCTAssertThrowsError(try ModelRecord.stock(item).validated())
        XCTAssertNoThrow(try ModelRecord.stock(item).validated(relative))
    }

    func testWhetherAStatusWasGivenIsNotPartOfEquality() {
        var implied = InventorySourceItem(sku: "A", sourceCode: "w", quantity: 3)
        let given = InventorySourceItem(sku: "A", sourceCode: "w", quantity: 3, status: .inStock)
        XCTAssertFalse(implied.statusIsGiven)
        XCTAssertTrue(given.statusIsGiven)
        XCTAssertEqual(implied, given)
        XCTAssertEqual(Set([implied, given]).count, 1)
        implied.status = .inStock
        XCTAssertTrue(implied.statusIsGiven, "setting the status marks it given")
        XCTAssertNotEqual(implied, InventorySourceItem(sku: "A", sourceCode: "w", quantity: 3, status: .outOfStock))
    }

    // MARK: Encoding

    func testEncodeIsTheInverseOfDecodeForTheNewFields() throws {
        let t = Timestamp(millisecondsSinceEpoch: 1_790_000_000_123)
        let records: [ModelRecord] = [
            .product(
                Product(
                    sku: "A", name: "Shirt", attributes: ["color": "red"], categories: ["men/shirts", "sale"],
                    media: ["https://cdn.example.com/a.jpg", "/media/b.png"],
                    texts: [
                        "de": LocalizedText(name: "Hemd", description: "Baumwolle\nweich"),
                        "en-GB": LocalizedText(name: "Shirt"), "fr": LocalizedText(description: "Coton"),
                    ],
                    updatedAt: t)),
            .category(
                Category(code: "men/shirts", name: "Shirts", parent: "men", position: -2, texts: ["de": "Hemden"], updatedAt: t)),
            .category(Category(code: "men", name: "Men", updatedAt: t)),
            .price(BasePrice(sku: "A", price: Money(minorUnits: 950, currency: eur), minQuantity: 10, updatedAt: t)),
        ]
        for original in records {
            let fields = RecordCodec.encode(original)
            XCTAssertEqual(fields.last?.name, "updated_at")
            let input: Fields = fields.dropLast().map { ($0.name, $0.value) }
            var expected = original
            switch expected {
            case .product(var p):
                p.updatedAt = nil
                expected = .product(p)
            case .category(var c):
                c.updatedAt = nil
                expected = .category(c)
            case .price(var p):
                p.updatedAt = nil
                expected = .price(p)
            default: XCTFail("unexpected record")
            }
            XCTAssertEqual(try RecordCodec.decode(entity: original.entity, fields: input).get(), expected)
        }
        XCTAssertEqual(
            RecordCodec.encode(records[0]).map(\.name),
            [
                "sku", "name", "status", "attr.color", "category", "category", "media", "media", "name.de",
                "description.de", "name.en-GB", "description.fr", "updated_at",
            ])
        XCTAssertEqual(
            RecordCodec.encode(records[1]).map { "\($0.name)=\($0.value)" },
            ["code=men/shirts", "name=Shirts", "parent=men", "position=-2", "name.de=Hemden", "updated_at=\(t.rfc3339)"])
        XCTAssertEqual(
            RecordCodec.encode(records[3]).map { "\($0.name)=\($0.value)" },
            ["sku=A", "currency=EUR", "amount=9.50", "min_quantity=10", "updated_at=\(t.rfc3339)"])
        XCTAssertEqual(RecordCodec.fieldNames(entity: "category"), ["code", "name", "parent", "position", "name.<lang>"])
        XCTAssertEqual(RecordCodec.fieldNames(entity: "price"), ["sku", "currency", "amount", "min_quantity"])
        XCTAssertEqual(ModelRecord.category(Category(code: "c", name: "C")).keyDescription, "category 'c'")
    }
}

import WharfPluginKit
import XCTest

/// Exact decimals, date formats and the mapping transforms that connectors share.
final class ValueTransformTests: XCTestCase {
    func testDecimalParsingKeepsEveryDigitWithEitherSeparator() throws {
        XCTAssertEqual(try DecimalText.parse("1499.5").description, "1499.5")
        XCTAssertEqual(try DecimalText.parse("17,23", separator: ",").description, "17.23")
        XCTAssertEqual(try DecimalText.parse(",8", separator: ",").description, "0.8")
        XCTAssertEqual(try DecimalText.parse("1.234.567,50", separator: ",", thousands: ".").description, "1234567.50")
        XCTAssertEqual(try DecimalText.parse("1,234.5", thousands: ",").description, "1234.5")
        XCTAssertEqual(try DecimalText.parse(" -0007.10 ").description, "-7.10")
        XCTAssertEqual(try DecimalText.parse("-0.00").description, "0.00", "zero is never negative")
        XCTAssertEqual(try DecimalText.parse("5.").description, "5")
    }

    func testDecimalParsingRefusesWhatItCannotReadExactly() {
        for (text, separator, thousands) in [
            ("12,3x", Character(","), Character?.none), ("", ".", nil), ("1e3", ".", nil), ("1.5", ",", "."),
            ("12.50", ",", nil), ("1,2,3", ".", nil), (".", ".", nil), ("1.234,5", ",", ","),
        ] {
            XCTAssertThrowsError(try DecimalText.parse(text, separator: separator, thousands: thousands), "\(text)") { error in
                XCTAssertTrue("\(error)".contains("'\(text)'"), "\(error)")
            }
        }
    }

    func testDecimalArithmeticIsExact() throws {
        let amount = try DecimalText.parse("17.23")
        XCTAssertEqual(amount.multiplied(by: try DecimalText.parse("0.8")).description, "13.784")
        XCTAssertEqual(try DecimalText.parse("20.00").multiplied(by: try DecimalText.parse("1.0")).description, "20.00")
        XCTAssertEqual(try DecimalText.parse("1.5").multiplied(by: try DecimalText.parse("100")).description, "150.0")
        XCTAssertEqual(try DecimalText.parse("-2.5").multiplied(by: try DecimalText.parse("-4")).description, "10.0")
        XCTAssertEqual(try DecimalText.parse("2.345").rounded(toScale: 2).description, "2.35")
        XCTAssertEqual(try DecimalText.parse("-2.345").rounded(toScale: 2).description, "-2.35")
        XCTAssertEqual(try DecimalText.parse("9.995").rounded(toScale: 2).description, "10.00")
        XCTAssertEqual(try DecimalText.parse("2.344").rounded(toScale: 2).description, "2.34")
        XCTAssertEqual(try DecimalText.parse("7").rounded(toScale: 2).description, "7.00")
        XCTAssertTrue(try DecimalText.parse("10.000").isInteger)
        XCTAssertEqual(try DecimalText.parse("10.000").withoutZeroFraction.description, "10")
    }

    func testDateFormatsParseToRFC3339InUTC() throws {
        XCTAssertEqual(try DateTimeFormat("yyyy-MM-dd").rfc3339("2001-07-31"), "2001-07-31")
        XCTAssertEqual(try DateTimeFormat("dd.MM.yyyy").rfc3339("29.02.2024"), "2024-02-29")
        XCTAssertEqual(try DateTimeFormat("d.M.yyyy HH:mm").rfc3339("1.3.2024 07:05"), "2024-03-01T07:05:00Z")
        XCTAssertEqual(
            try DateTimeFormat("yyyy-MM-dd'T'HH:mm:ssXXX").rfc3339("2019-02-20T14:39:48-08:00"), "2019-02-20T22:39:48Z")
        XCTAssertEqual(try DateTimeFormat("yyyy-MM-dd'T'HH:mm:ssXXX").rfc3339("2016-07-11T10:11:12Z"), "2016-07-11T10:11:12Z")
        XCTAssertEqual(
            try DateTimeFormat("yyyyMMddHHmmss", defaultOffsetSeconds: 3600).rfc3339("20240101003000"), "2023-12-31T23:30:00Z")
        XCTAssertEqual(try DateTimeFormat("yyyy-MM-dd HH:mm:ss.SSS").rfc3339("2024-05-06 01:02:03.450"), "2024-05-06T01:02:03.450Z")
    }

    func testDateFormatsRefuseBadPatternsAndValues() {
        XCTAssertThrowsError(try DateTimeFormat("yyyy-MM-dd QQ")) { XCTAssertTrue("\($0)".contains("QQ"), "\($0)") }
        XCTAssertThrowsError(try DateTimeFormat("HH:mm")) { XCTAssertTrue("\($0)".contains("needs a year"), "\($0)") }
        let format = try! DateTimeFormat("dd.MM.yyyy")
        for value in ["31.02.2023", "1.1.2024", "01.13.2024", "01.01.2024x", ""] {
            XCTAssertThrowsError(try format.rfc3339(value), value) { XCTAssertTrue("\($0)".contains("dd.MM.yyyy"), "\($0)") }
        }
    }

    func testTransformsApplyInOrderAndPassAbsentValuesThrough() throws {
        let pipeline = try TransformPipeline.parse(
            try JSON.parse(#"["trim", {"decimal": {"separator": ",", "thousands": "."}}, {"scale": "0.8"}, {"round": 2}]"#),
            path: "p")
        XCTAssertEqual(try pipeline.apply(" 1.234,50 "), "987.60")
        XCTAssertNil(try pipeline.apply(nil))
        XCTAssertEqual(try TransformPipeline([.collapseWhitespace, .upper]).apply("  Surge  voltage\n arrester "), "SURGE VOLTAGE ARRESTER")
        XCTAssertEqual(try TransformPipeline([.trim, .lower, .prefix("x-"), .suffix("!")]).apply("\u{A0}AbC "), "x-abc!")
        XCTAssertEqual(try TransformPipeline([.defaultValue("EUR")]).apply(nil), "EUR")
        XCTAssertEqual(try TransformPipeline([.defaultValue("EUR")]).apply(""), "EUR")
        XCTAssertEqual(try TransformPipeline([.replace("/", with: "-")]).apply("a/b/c"), "a-b-c")
        XCTAssertEqual(try TransformPipeline([.integer]).apply("10.000"), "10")
        XCTAssertThrowsError(try TransformPipeline([.integer]).apply("10.5"))
    }

    func testLookupTablesRejectOrFallBack() throws {
        let strict = try TransformPipeline.parse(try JSON.parse(#"{"lookup": {"net_list": "list", "gone": null}}"#), path: "p")
        XCTAssertEqual(try strict.apply("net_list"), "list")
        XCTAssertNil(try strict.apply("gone"), "a null entry makes the value absent")
        XCTAssertThrowsError(try strict.apply("other")) { error in
            XCTAssertTrue("\(error)".contains("'other' is not in the lookup table"), "\(error)")
            XCTAssertEqual((error as? TransformError)?.step, 0)
        }
        let fallback = try TransformPipeline.parse(try JSON.parse(#"{"lookup": {"A": "x"}, "default": "y"}"#), path: "p")
        XCTAssertEqual(try fallback.apply("B"), "y")
        let keep = try TransformPipeline.parse(try JSON.parse(#"{"lookup": {"A": "x"}, "miss": "keep"}"#), path: "p")
        XCTAssertEqual(try keep.apply("B"), "B")
    }

    func testUnitConversionUsesTheResolvedUnit() throws {
        let pipeline = try TransformPipeline.parse(
            try JSON.parse(#"[{"unit": {"from": "@unit", "factors": {"EA": 1, "DZN": 12, "KGM": "0.001"}}}]"#), path: "p")
        XCTAssertEqual(pipeline.references, ["@unit"])
        XCTAssertEqual(try pipeline.apply("3", resolve: { _ in "DZN" }), "36")
        XCTAssertEqual(try pipeline.apply("2500", resolve: { _ in "KGM" }), "2.5", "zeros past the value's own scale are dropped")
        XCTAssertThrowsError(try pipeline.apply("3", resolve: { _ in "PK" })) { XCTAssertTrue("\($0)".contains("'PK'"), "\($0)") }
        XCTAssertThrowsError(try pipeline.apply("3", resolve: { _ in nil })) { XCTAssertTrue("\($0)".contains("no unit"), "\($0)") }
    }

    func testDecimalStepsNeedCanonicalInput() {
        XCTAssertThrowsError(try TransformPipeline([.scale(try! DecimalText.parse("2"))]).apply("1,5")) {
            XCTAssertTrue("\($0)".contains("put a decimal transform"), "\($0)")
        }
    }

    func testMistakesInTransformListsNameTheirPath() {
        let cases: [(String, String)] = [
            (#"["trim", "decmal"]"#, #"f.transform[1]: unknown transform "decmal" (did you mean "decimal"?)"#),
            (#"[{"decimal": ";"}]"#, "f.transform[0].decimal: the decimal separator must be"),
            (#"[{"scale": "x"}]"#, "f.transform[0].scale: expected a decimal factor"),
            (#"[{"round": 40}]"#, "f.transform[0].round: expected a number of fraction digits"),
            (#"[{"lookup": {"a": "b"}, "miss": "maybe"}]"#, "f.transform[0].miss: expected \"keep\" or \"reject\""),
            (#"[{"date": "yyyy-QQ"}]"#, "f.transform[0].date: date format 'yyyy-QQ'"),
            (#"[{"trim": true}]"#, #"f.transform[0]: transform "trim" has no options"#),
            (#"[{"upper": 1, "lower": 1}]"#, "f.transform[0]: one transform per list entry"),
            (#"[{"unit": {"factors": {"EA": 1}}}]"#, "f.transform[0].unit: needs from"),
            (#"[{"scale": 2, "extra": 1}]"#, "f.transform[0].extra: not an option of scale"),
            (#"[3]"#, "f.transform[0]: a transform is a name"),
        ]
        for (json, expected) in cases {
            XCTAssertThrowsError(try TransformPipeline.parse(try JSON.parse(json), path: "f.transform"), json) { error in
                XCTAssertTrue("\(error)".hasPrefix(expected), "\(json): \(error)")
            }
        }
    }
}

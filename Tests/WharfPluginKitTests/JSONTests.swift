import WharfPluginKit
import XCTest

final class JSONTests: XCTestCase {
    func testParsesValuesAndKeepsNumberText() throws {
        let value = try JSON.parse(#" {"a": 12.50, "b": [true, false, null, -0.5e-3], "c": {"d": "x"}, "e": 0} "#)
        XCTAssertEqual(value["a"], .number("12.50"))
        XCTAssertEqual(value["b"], .array([.bool(true), .bool(false), .null, .number("-0.5e-3")]))
        XCTAssertEqual(value.value(atPath: "c.d"), .string("x"))
        XCTAssertEqual(value["e"]?.intValue, 0)
        XCTAssertEqual(value["a"]?.scalarText, "12.50")
        XCTAssertEqual(value["b"]?.scalarText, nil)
        XCTAssertEqual(value.objectValue?.keys, ["a", "b", "c", "e"])
    }

    func testDecodesEscapesAndSurrogatePairs() throws {
        let value = try JSON.parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#)
        XCTAssertEqual(value, .string("a\"b\\c/d\n\té😀"))
        XCTAssertEqual(try JSON.parse("\"Grüße\""), .string("Grüße"))
    }

    func testLastDuplicateKeyWinsAndDottedKeysAreFoundDirectly() throws {
        let value = try JSON.parse(#"{"k": 1, "k": 2, "a.b": "direct", "a": {"b": "nested"}}"#)
        XCTAssertEqual(value["k"], .number("2"))
        XCTAssertEqual(value.value(atPath: "a.b"), .string("direct"))
    }

    func testReportsWhereTextIsWrong() {
        let cases: [(String, String)] = [
            (#"{"a" 1}"#, "expected ':' after object key \"a\" at byte 6"),
            (#"{"a": 1,}"#, "expected a string key in object at byte 9"),
            ("[1 2]", "expected ',' or ']' in array, found '2' at byte 4"),
            ("01", "invalid number: leading zero at byte 2"),
            ("1.", "invalid number: expected digits after '.' at byte 3"),
            (#""abc"#, "unterminated string at byte 5"),
            ("\"a\u{01}\"", "control character in string (escape it) at byte 3"),
            (#""\ud800""#, "unpaired surrogate in \\u escape at byte 8"),
            (#""\x""#, "invalid escape \\x at byte 3"),
            ("tru", "invalid literal, expected true at byte 1"),
            ("{} x", "unexpected 'x' after the JSON value at byte 4"),
            ("", "unexpected end of JSON, expected a value at byte 1"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try JSON.parse(text), text) { error in
                XCTAssertEqual("\(error)", expected, text)
            }
        }
    }

    func testRefusesInvalidUTF8AndDeepNesting() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        XCTAssertThrowsError(try bytes.withUnsafeBufferPointer { try JSON.parse($0) }) { error in
            XCTAssertEqual((error as? JSONError)?.reason, "invalid UTF-8 in string")
        }
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        XCTAssertThrowsError(try JSON.parse(deep)) { error in
            XCTAssertEqual((error as? JSONError)?.reason, "JSON nested deeper than 256 levels")
        }
        let fine = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        XCTAssertNoThrow(try JSON.parse(fine))
    }

    func testScalarConveniences() throws {
        XCTAssertEqual(JSON.string("true").boolValue, true)
        XCTAssertEqual(JSON.bool(false).boolValue, false)
        XCTAssertNil(JSON.number("1").boolValue)
        XCTAssertEqual(JSON.string("42").intValue, 42)
        XCTAssertNil(JSON.number("4.2").intValue)
        XCTAssertEqual(JSON.object(JSONObject()).kindName, "an object")
    }
}

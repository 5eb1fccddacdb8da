import Foundation
import XCTest

@testable import WharfManifest

final class JSONValueTests: XCTestCase {
    func testKeysKeepTheirWrittenOrder() throws {
        let value = try JSONValue.parse(json5: "{ zeta: 1, alpha: 2, mid: 3, b: 4, a: 5, x10: 6, x2: 7 }")
        XCTAssertEqual(value.objectValue?.keys, ["zeta", "alpha", "mid", "b", "a", "x10", "x2"])
        XCTAssertEqual(value.jsonText(), #"{"zeta":1,"alpha":2,"mid":3,"b":4,"a":5,"x10":6,"x2":7}"#)
    }

    func testJSONTextIsCompactEscapedAndOrdered() {
        let value: JSONValue = [
            "s": "quote \" backslash \\ newline \n tab \t bell \u{07} e\u{301} \u{2028} 🚀",
            "n": nil, "t": true, "f": false, "i": -42, "d": 1.5, "big": 1e20, "arr": [1, "two", [], [:]],
        ]
        XCTAssertEqual(
            value.jsonText(),
            #"{"s":"quote \" backslash \\ newline \n tab \t bell \u0007 e\#u{301} \u2028 🚀","n":null,"t":true,"f":false,"i":-42,"d":1.5,"big":1e+20,"arr":[1,"two",[],{}]}"#
        )
    }

    func testJSONTextIsValidJSONForFoundationsStrictReader() throws {
        let value = try JSONValue.parse(json5: """
            { a: 'single \\'quoted\\'', b: 0x1F, c: +Infinity, d: NaN, e: .5, f: [1, 2, ], g: "\\u0000\\x7f",
              h: { "needs quoting": 1 }, i: -0x8000000000000000, j: 18446744073709551616 }
            """)
        let text = value.jsonText()
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(object["a"] as? String, "single 'quoted'")
        XCTAssertEqual(object["b"] as? Int, 31)
        XCTAssertTrue(object["c"] is NSNull, "Infinity has no JSON form and is written as null")
        XCTAssertTrue(object["d"] is NSNull)
        XCTAssertEqual(object["g"] as? String, "\u{0}\u{7f}")
        XCTAssertEqual(value["i"], .int(.min))
        XCTAssertEqual(value["j"], .double(18446744073709551616))
    }

    func testRoundTripThroughJSONText() throws {
        let source = """
            // every kind of value, nested
            {
              name: "erp-stock", count: 3, ratio: 0.25, negative: -7, huge: 9223372036854775807, exp: 1.5e-7,
              flags: [true, false, null], nested: { z: { y: [ { x: "deep" } ] } }, empty: {}, none: [],
              text: "tab\\tnewline\\nquote\\"unicode\\u00e9 emoji 😀 separator \\u2028",
            }
            """
        let value = try JSONValue.parse(json5: source)
        let again = try JSONValue.parse(json5: value.jsonText())
        XCTAssertEqual(again, value)
        XCTAssertEqual(again.jsonText(), value.jsonText(), "writing is deterministic and keeps key order")
        XCTAssertEqual(again.objectValue?.keys, ["name", "count", "ratio", "negative", "huge", "exp", "flags", "nested", "empty", "none", "text"])
    }

    func testObjectEqualityIgnoresOrderButTextDoesNot() throws {
        let a = try JSONValue.parse(json5: "{a: 1, b: 2}")
        let b = try JSONValue.parse(json5: "{b: 2, a: 1}")
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.hashValue, b.hashValue)
        XCTAssertNotEqual(a.jsonText(), b.jsonText())
        XCTAssertNotEqual(a, try JSONValue.parse(json5: "{a: 1, b: 3}"))
    }

    func testValueAtPath() throws {
        let value = try JSONValue.parse(json5: """
            { files: { delimiter: ";", "a.b": 1 }, items: [ { sku: "A" }, { sku: "B" } ], n: 3 }
            """)
        XCTAssertEqual(value.value(atPath: "files.delimiter"), .string(";"))
        XCTAssertEqual(value.value(atPath: "items[1].sku"), .string("B"))
        XCTAssertEqual(value.value(atPath: #"files["a.b"]"#), .int(1))
        XCTAssertEqual(value.value(atPath: ""), value)
        XCTAssertNil(value.value(atPath: "files.missing"))
        XCTAssertNil(value.value(atPath: "items[2]"))
        XCTAssertNil(value.value(atPath: "n.x"), "a number has no members")
        XCTAssertNil(value.value(atPath: "files..delimiter"), "not a path")
        XCTAssertNil(value.value(atPath: "items[x]"))
    }

    func testScalarText() {
        XCTAssertEqual(JSONValue.string("a,b").scalarText, "a,b")
        XCTAssertEqual(JSONValue.int(42).scalarText, "42")
        XCTAssertEqual(JSONValue.double(2.5).scalarText, "2.5")
        XCTAssertEqual(JSONValue.bool(true).scalarText, "true")
        XCTAssertNil(JSONValue.null.scalarText)
        XCTAssertNil(JSONValue.array([]).scalarText)
        XCTAssertNil(JSONValue.object([:]).scalarText)
    }

    func testDecodableThroughJSONDecoder() throws {
        struct Wrapper: Decodable { var settings: JSONValue }
        let wrapper = try JSONDecoder().decode(Wrapper.self, from: Data(#"{"settings":{"a":[1,2.5,"x",null,true]}}"#.utf8))
        XCTAssertEqual(wrapper.settings, ["a": [1, 2.5, "x", nil, true]])
    }

    func testObjectEditing() {
        var object: JSONObject = ["a": 1, "b": 2]
        object["c"] = 3
        object["a"] = 10
        object["b"] = nil
        XCTAssertEqual(object.keys, ["a", "c"])
        XCTAssertEqual(object["a"], .int(10))
        XCTAssertEqual(JSONObject([("x", 1), ("y", 2), ("x", 3)]).keys, ["x", "y"])
        XCTAssertEqual(JSONObject([("x", 1), ("y", 2), ("x", 3)])["x"], .int(3), "a repeated key keeps its last value")
    }
}

import WharfModel
import XCTest

final class CurrencyTests: XCTestCase {
    func testMinorUnitsFollowISO4217() {
        let expected = [
            "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "JPY": 0, "KRW": 0, "ISK": 0, "VND": 0, "XOF": 0, "BHD": 3,
            "KWD": 3, "JOD": 3, "TND": 3, "IQD": 3, "LYD": 3, "OMR": 3, "CLF": 4, "UYW": 4, "CLP": 0, "HUF": 2,
        ]
        for (code, minor) in expected {
            XCTAssertEqual(Currency(code: code)?.minorUnits, minor, code)
            XCTAssertEqual(Currency(code: code)?.code, code)
        }
    }

    func testLowerCaseCodesAreNormalized() {
        XCTAssertEqual(Currency(code: "eur"), Currency(code: "EUR"))
        XCTAssertEqual(Currency(code: "Jpy")?.code, "JPY")
    }

    func testCodesWithoutMinorUnitsOrWithdrawnAreUnknown() {
        for code in ["XAU", "XAG", "XDR", "XTS", "XXX", "HRK", "EU", "EURO", "", "E1R", "€", "DEM"] {
            XCTAssertNil(Currency(code: code), code)
        }
    }

    func testTableIsCompleteAndWellFormed() {
        let all = Currency.all
        XCTAssertEqual(all.count, 169)
        XCTAssertEqual(Set(all.map(\.code)).count, all.count)
        for currency in all {
            XCTAssertEqual(currency.code.utf8.count, 3)
            XCTAssertTrue(currency.code.utf8.allSatisfy { $0 >= 65 && $0 <= 90 }, currency.code)
            XCTAssertTrue([0, 2, 3, 4].contains(currency.minorUnits), currency.code)
        }
        XCTAssertEqual(all.map(\.code), all.map(\.code).sorted())
    }
}

final class MoneyTests: XCTestCase {
    let eur = Currency(code: "EUR")!
    let jpy = Currency(code: "JPY")!
    let bhd = Currency(code: "BHD")!

    private func reason(_ text: String, _ currency: Currency) -> String? {
        do {
            _ = try Money.parse(text, currency: currency)
            return nil
        } catch {
            XCTAssertEqual(error.field, "amount")
            return error.reason
        }
    }

    func testParsesExactly() throws {
        XCTAssertEqual(try Money.parse("12.5", currency: eur).minorUnits, 1250)
        XCTAssertEqual(try Money.parse("12.50", currency: eur).minorUnits, 1250)
        XCTAssertEqual(try Money.parse("12", currency: eur).minorUnits, 1200)
        XCTAssertEqual(try Money.parse("0.01", currency: eur).minorUnits, 1)
        XCTAssertEqual(try Money.parse("0", currency: eur).minorUnits, 0)
        XCTAssertEqual(try Money.parse("007.10", currency: eur).minorUnits, 710)
        XCTAssertEqual(try Money.parse("-3.5", currency: eur).minorUnits, -350)
        XCTAssertEqual(try Money.parse("-0", currency: eur).minorUnits, 0)
        XCTAssertEqual(try Money.parse("1250", currency: jpy).minorUnits, 1250)
        XCTAssertEqual(try Money.parse("1250.000", currency: jpy).minorUnits, 1250)
        XCTAssertEqual(try Money.parse("1.234", currency: bhd).minorUnits, 1234)
        XCTAssertEqual(try Money.parse("0.1", currency: bhd).minorUnits, 100)
        // Trailing zeros past the minor units keep the value exact, so they are accepted.
        XCTAssertEqual(try Money.parse("12.5000", currency: eur).minorUnits, 1250)
        // 0.1 + 0.2 style values that Double gets wrong stay exact.
        XCTAssertEqual(try Money.parse("0.29", currency: eur).minorUnits, 29)
        XCTAssertEqual(try Money.parse("1152921504606846.97", currency: eur).minorUnits, 115_292_150_460_684_697)
        XCTAssertEqual(try Money.parse("92233720368547758.07", currency: eur).minorUnits, Int64.max)
    }

    func testTooManyDecimalsIsAnErrorNotARounding() {
        XCTAssertEqual(reason("12.345", eur), "amount 12.345 has 3 decimals but EUR has 2")
        XCTAssertEqual(reason("12.3450", eur), "amount 12.3450 has 3 decimals but EUR has 2")
        XCTAssertEqual(reason("12.5", jpy), "amount 12.5 has 1 decimal but JPY has 0")
        XCTAssertEqual(reason("0.0001", bhd), "amount 0.0001 has 4 decimals but BHD has 3")
    }

    func testMalformedAmounts() {
        XCTAssertEqual(reason("", eur), "amount is empty; expected a decimal like 12.50")
        for text in ["abc", "1,50", "1.", ".5", "1e3", " 1", "1 ", "+1", "1.2.3", "--1", "-", "1_000", "１２"] {
            let r = reason(text, eur)
            XCTAssertNotNil(r, text)
            XCTAssertTrue(r?.contains("is not a decimal number") ?? false, "\(text): \(r ?? "")")
        }
    }

    func testOverflowIsAnError() {
        XCTAssertEqual(reason("92233720368547758.08", eur), "amount 92233720368547758.08 is too large")
        XCTAssertEqual(reason("99999999999999999999999", jpy), "amount 99999999999999999999999 is too large")
    }

    func testDecimalString() {
        XCTAssertEqual(Money(minorUnits: 1250, currency: eur).decimalString, "12.50")
        XCTAssertEqual(Money(minorUnits: 5, currency: eur).decimalString, "0.05")
        XCTAssertEqual(Money(minorUnits: -5, currency: eur).decimalString, "-0.05")
        XCTAssertEqual(Money(minorUnits: 0, currency: eur).decimalString, "0.00")
        XCTAssertEqual(Money(minorUnits: 1250, currency: jpy).decimalString, "1250")
        XCTAssertEqual(Money(minorUnits: 1, currency: bhd).decimalString, "0.001")
        XCTAssertEqual(Money(minorUnits: Int64.min, currency: eur).decimalString, "-92233720368547758.08")
        XCTAssertEqual(Money(minorUnits: 1250, currency: eur).description, "12.50 EUR")
    }

    func testDecimalStringRoundTrips() throws {
        for currency in [eur, jpy, bhd, Currency(code: "CLF")!] {
            for minor: Int64 in [0, 1, 9, 10, 99, 100, 101, 12345, -1, -100, -12345, Int64.max, Int64.min + 1] {
                let money = Money(minorUnits: minor, currency: currency)
                XCTAssertEqual(try Money.parse(money.decimalString, currency: currency), money)
            }
        }
    }
}

final class QuantityTests: XCTestCase {
    private func reason(_ text: String) -> String? {
        do {
            _ = try InventorySourceItem.parseQuantity(text)
            return nil
        } catch {
            XCTAssertEqual(error.field, "quantity")
            return error.reason
        }
    }

    func testWholeNumbersWithOrWithoutZeroFraction() throws {
        XCTAssertEqual(try InventorySourceItem.parseQuantity("10"), 10)
        XCTAssertEqual(try InventorySourceItem.parseQuantity("10.000"), 10)
        XCTAssertEqual(try InventorySourceItem.parseQuantity("0"), 0)
        XCTAssertEqual(try InventorySourceItem.parseQuantity("-3"), -3)  // parses; validation refuses it
    }

    func testFractionsAndGarbageAreErrors() {
        XCTAssertEqual(reason("10.5"), "quantity 10.5 is not a whole number; units cannot be split")
        XCTAssertEqual(reason(""), "quantity is empty; expected a whole number like 10")
        XCTAssertEqual(reason("ten"), "quantity 'ten' is not a number; expected a whole number like 10")
        XCTAssertEqual(reason("99999999999999999999"), "quantity 99999999999999999999 is too large")
    }
}

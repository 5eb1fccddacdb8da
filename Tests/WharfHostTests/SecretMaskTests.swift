import WharfManifest
import XCTest

@testable import WharfHost

/// The masking of secret values in what plugins say back (log lines, errors, rejects).
final class SecretMaskTests: XCTestCase {
    func testEveryReferenceInTheConfigIsKnownBeforeThePluginAsksForIt() throws {
        let config = try XCTUnwrap(Manifest.parse("""
            { database: "w", connectors: [ { name: "c", plugin: "p", config: {
                auth: { token: "env:TOKEN" }, hosts: ["env:HOST_PASSWORD", "plain"], missing: "env:UNSET" } } ] }
            """, filePath: "/w.json5").connectors.first?.config)
        let mask = SecretMask(config: config, environment: ["TOKEN": "tok-123456", "HOST_PASSWORD": "pw-abcdef"])
        XCTAssertEqual(mask.redact("sent tok-123456 and pw-abcdef to plain"), "sent [secret] and [secret] to plain")
    }

    func testLongerSecretsAreMaskedWholeAndVeryShortOnesAreLeftAlone() {
        let mask = SecretMask()
        mask.add("abc")
        mask.add("pass")
        mask.add("password-1")
        XCTAssertEqual(mask.redact("abc password-1 pass"), "abc [secret] [secret]")
        XCTAssertEqual(mask.redact("nothing here"), "nothing here")
    }
}

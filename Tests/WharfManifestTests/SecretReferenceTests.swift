import XCTest

@testable import WharfManifest

final class SecretReferenceTests: XCTestCase {
    func testParse() {
        XCTAssertEqual(SecretReference.parse("env:ERP_TOKEN")?.name, "ERP_TOKEN")
        XCTAssertEqual(SecretReference.parse("env:_x1")?.name, "_x1")
        XCTAssertEqual(SecretReference.parse("env:ERP_TOKEN")?.description, "env:ERP_TOKEN")
        for text in ["env:", "env:1ABC", "env:A-B", "env: A", "ENV:A", "A", "", "env:A B"] {
            XCTAssertNil(SecretReference.parse(text), text)
        }
    }

    func testResolveReturnsTheValue() throws {
        let reference = try XCTUnwrap(SecretReference(name: "ERP_TOKEN"))
        XCTAssertEqual(try reference.resolve(environment: ["ERP_TOKEN": "s3cr3t"]), "s3cr3t")
    }

    func testResolveFailureNamesTheVariableNotAValue() throws {
        let reference = try XCTUnwrap(SecretReference(name: "ERP_TOKEN"))
        do {
            _ = try reference.resolve(environment: ["OTHER": "s3cr3t"])
            XCTFail("resolved a missing variable")
        } catch {
            XCTAssertEqual(error, SecretError(name: "ERP_TOKEN", reason: .notSet))
            XCTAssertEqual(error.description, "the environment variable ERP_TOKEN is not set; set it before starting Wharf")
        }
        do {
            _ = try reference.resolve(environment: ["ERP_TOKEN": ""])
            XCTFail("resolved an empty variable")
        } catch {
            XCTAssertEqual(error.reason, .empty)
            XCTAssertEqual(error.description, "the environment variable ERP_TOKEN is empty; set it to the secret's value")
        }
    }

    func testResolvedConfigReplacesEveryReference() throws {
        let manifest = try Manifest.parse("""
            { database: 'w', connectors: [{ name: 'erp', plugin: 'p', config: {
                url: 'https://erp', password: 'env:ERP_PASSWORD', nested: { list: ['plain', 'env:ERP_TOKEN'] }, n: 3 } }] }
            """, filePath: "/x/m.json5")
        let connector = manifest.connectors[0]
        XCTAssertEqual(connector.config.value(atPath: "password"), "env:ERP_PASSWORD", "the manifest keeps the reference")
        let environment = ["ERP_PASSWORD": "pw-value", "ERP_TOKEN": "token-value"]
        let resolved = try connector.resolvedConfig(environment: environment)
        XCTAssertEqual(resolved.jsonText(), #"{"url":"https://erp","password":"pw-value","nested":{"list":["plain","token-value"]},"n":3}"#)
        XCTAssertNoThrow(try manifest.checkSecrets(environment: environment))

        do {
            _ = try connector.resolvedConfig(environment: ["ERP_PASSWORD": "pw-value"])
            XCTFail("resolved without ERP_TOKEN")
        } catch {
            XCTAssertEqual(error.description, "connectors[0].config.nested.list[1]: the environment variable ERP_TOKEN is not set; set it before starting Wharf")
            XCTAssertFalse(error.description.contains("pw-value"))
        }
        do {
            try manifest.checkSecrets(environment: ["ERP_PASSWORD": ""])
            XCTFail("checked with missing secrets")
        } catch {
            XCTAssertEqual(error.issues.map(\.description), [
                "connectors[0].config.password: the environment variable ERP_PASSWORD is empty; set it to the secret's value",
                "connectors[0].config.nested.list[1]: the environment variable ERP_TOKEN is not set; set it before starting Wharf",
            ])
            XCTAssertEqual(Set(error.issues.map(\.kind)), [.unresolvedSecret])
        }
    }

    func testWhichKeyNamesLookSecret() {
        for key in ["password", "PASSWORD", "db_password", "passwd", "passphrase", "secret", "clientSecret", "client_secret",
            "token", "accessToken", "refresh-token", "apiKey", "api_key", "API-KEY", "authorization", "credentials",
            "privateKey", "private_key", "awsAccessKey", "cookie"]
        {
            XCTAssertTrue(looksLikeSecretKey(key), key)
        }
        for key in ["path", "user", "username", "delimiter", "url", "tokenUrl", "token_endpoint", "passwordFile",
            "apiKeyHeader", "secretName", "keyPath", "authType", "monkey", "tokenTTL"]
        {
            XCTAssertFalse(looksLikeSecretKey(key), key)
        }
    }
}

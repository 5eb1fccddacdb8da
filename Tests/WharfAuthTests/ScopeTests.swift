import WharfModel
import XCTest

@testable import WharfAuth

final class ScopeTests: XCTestCase {
    func testKnownScopes() {
        XCTAssertEqual(Scope.known.map(\.rawValue), [
            "catalog:read", "catalog:write", "inventory:read", "inventory:write", "connectors:read", "runs:read", "runs:write", "plugins:read", "meta:read", "metrics:read", "orders:read", "orders:write", "companies:read", "companies:write", "customers:read", "customers:write", "exports:read", "exports:write", "admin",
        ])
        XCTAssertTrue(Scope.catalogRead.isKnown)
        XCTAssertFalse(Scope(rawValue: "foo:bar").isKnown)
    }

    func testParseList() throws {
        XCTAssertEqual(try Scope.parse(list: "catalog:read,inventory:read"), [.catalogRead, .inventoryRead])
        XCTAssertEqual(try Scope.parse(list: " catalog:read , admin,catalog:read, "), [.catalogRead, .admin], "spaces trimmed, repeats dropped")
    }

    func testUnknownScopesAreRefusedByName() {
        do {
            _ = try Scope.parse(list: "catalog:read,foo:bar")
            XCTFail("accepted foo:bar")
        } catch {
            XCTAssertEqual(error.unknown, ["foo:bar"])
            XCTAssertEqual(
                error.description,
                "unknown scope \"foo:bar\"; the known scopes are catalog:read, catalog:write, inventory:read, inventory:write, connectors:read, runs:read, runs:write, plugins:read, meta:read, metrics:read, orders:read, orders:write, companies:read, companies:write, customers:read, customers:write, exports:read, exports:write, admin")
        }
        do {
            _ = try Scope.validate(["catalog:raed", "Admin", "x"])
            XCTFail("accepted misspelt scopes")
        } catch {
            XCTAssertEqual(error.unknown, ["catalog:raed", "Admin", "x"])
            XCTAssertTrue(error.description.hasPrefix(
                "unknown scopes \"catalog:raed\", \"Admin\", \"x\" (did you mean \"catalog:read\" for \"catalog:raed\"? did you mean \"admin\" for \"Admin\"?); the known scopes are "), error.description)
        }
        do {
            _ = try Scope.parse(list: " , ")
            XCTFail("accepted no scopes")
        } catch {
            XCTAssertEqual(error.description, "no scopes given; give one or more of catalog:read, catalog:write, inventory:read, inventory:write, connectors:read, runs:read, runs:write, plugins:read, meta:read, metrics:read, orders:read, orders:write, companies:read, companies:write, customers:read, customers:write, exports:read, exports:write, admin")
        }
    }

    func testAdminGrantsEverythingOtherScopesOnlyThemselves() {
        for scope in Scope.known + [Scope(rawValue: "future:scope")] {
            XCTAssertTrue(Scope.grants(["admin"], scope), scope.rawValue)
        }
        XCTAssertTrue(Scope.grants(["catalog:read"], .catalogRead))
        XCTAssertFalse(Scope.grants(["catalog:write"], .catalogRead), "write does not imply read")
        XCTAssertFalse(Scope.grants(["catalog:read"], .admin))
        XCTAssertFalse(Scope.grants([], .metaRead))

        let record = APIKeyRecord(id: "abcdefghij", name: "k", scopes: ["inventory:read"], secretHash: [], createdAt: Timestamp(millisecondsSinceEpoch: 0))
        XCTAssertTrue(record.grants(.inventoryRead))
        XCTAssertFalse(record.grants(.catalogRead))
    }
}

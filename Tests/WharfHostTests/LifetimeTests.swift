import Foundation
import WharfStore
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Objects that own threads, sockets or database connections go away when their owner lets go of them: a
/// reference cycle here would keep a closed store's file handles, or a stopped server's threads, forever.
final class LifetimeTests: XCTestCase {
    /// Runs `body` so that its locals are released when it returns.
    func scope(_ body: () throws -> Void) rethrows { try body() }

    func testAServerAndItsAPIAreFreedAfterShutdown() throws {
        let env = try TestDeployment()
        weak var weakServer: WharfServer?
        weak var weakAPI: RESTAPI?
        try scope {
            let server = try WharfServer(deployment: env.deployment, port: 0)
            try server.start()
            let client = try TestHTTPClient(port: server.port)
            XCTAssertEqual(try client.send("GET", "/health").status, 200)
            client.close()
            server.shutdown()
            weakServer = server
            weakAPI = server.api
        }
        XCTAssertNil(weakAPI, "the REST API (its route closures) is not kept alive by a cycle")
        XCTAssertNil(weakServer, "the server is not kept alive by a cycle")
    }

    func testAStoreIsFreedWhenItsLastOwnerLetsGo() throws {
        let folder = TemporaryDirectory(prefix: "wharf-lifetime")
        weak var weakStore: Store?
        try scope {
            let store = try Store(path: folder.path + "/w.sqlite")
            _ = try store.products(Store.ProductQuery(limit: 10))
            weakStore = store
        }
        XCTAssertNil(weakStore, "the store (its statement caches) is not kept alive by a cycle")
    }
}

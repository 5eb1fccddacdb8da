import WharfAuth
import WharfTestSupport
import XCTest

@testable import WharfHost

/// Base class: every test gets a fresh ``TestDeployment`` served on a free loopback port and a client connected to
/// it; both are shut down afterwards. Subclasses call `super.setUpWithError()` first, then make keys and data.
class ServedTestCase: XCTestCase {
    /// This test's deployment; new for every test, so tests share no state.
    var env: TestDeployment!
    /// The server for `env`, started.
    var server: WharfServer!
    /// A client connected to `server`.
    var client: TestHTTPClient!

    /// Opens the deployment, starts its server and connects the client.
    override func setUpWithError() throws {
        env = try TestDeployment()
        server = try WharfServer(deployment: env.deployment, port: 0)
        try server.start()
        client = try TestHTTPClient(port: server.port)
    }

    /// Closes the client and shuts the server down (nil-safe: set-up may have failed half-way).
    override func tearDown() {
        client?.close()
        server?.shutdown()
    }

    /// Headers for a JSON request authorised by a new API key holding `scopes`.
    func jsonHeaders(_ scopes: [Scope]) throws -> [(String, String)] {
        [("Authorization", "Bearer \(try env.key(scopes))"), ("Content-Type", "application/json")]
    }
}

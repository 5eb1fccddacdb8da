import Foundation
import WharfTestSupport
import XCTest

/// A secret referenced as `env:NAME` in a connector's config is resolved for the plugin and never comes out again:
/// the real binary runs connectors that log and fail, serves the API, and every byte it prints or answers is
/// searched for the value.
final class SecretsEndToEndTests: XCTestCase {
    /// The value of WHARF_E2E_SECRET: distinctive, so finding it anywhere is a leak.
    let secret = "s3cr3t-" + UUID().uuidString
    var folder: TemporaryDirectory!
    var manifest: String!
    /// Everything the binary printed or answered, by where it came from.
    var outputs: [(source: String, text: String)] = []

    override func setUp() {
        folder = TemporaryDirectory(prefix: "wharf-secrets")
        manifest = folder.write("deploy.json5", """
            {
              database: "state/wharf.sqlite", listen: "127.0.0.1:0", pluginFolder: "plugins",
              log: { format: "logfmt", level: "debug" },
              connectors: [
                { name: "erp", plugin: "fixture-uses-secret", config: { password: "env:WHARF_E2E_SECRET" } },
                { name: "erp-unset", plugin: "fixture-uses-secret", config: { password: "env:WHARF_E2E_MISSING" } },
                { name: "catalog", plugin: "catalog-file",
                  config: { path: "missing.jsonl", apiToken: "env:WHARF_E2E_SECRET" } },
              ],
            }
            """)
    }

    override func tearDown() {
        folder = nil
    }

    @discardableResult
    func wharf(_ arguments: String..., expect code: Int32, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let result = try ProcessRunner.run(
            BuildProducts.wharf, ["--manifest", manifest] + arguments, environment: ["WHARF_E2E_SECRET": secret], timeout: 60)
        XCTAssertEqual(result.exitCode, code, "wharf \(arguments.joined(separator: " "))\n\(result.stdout)\n\(result.stderr)", file: file, line: line)
        outputs.append(("wharf \(arguments.joined(separator: " ")) (stdout)", result.stdout))
        outputs.append(("wharf \(arguments.joined(separator: " ")) (stderr)", result.stderr))
        return result
    }

    func testNoSecretValueLeaksIntoOutputLogsErrorMessagesOrTheAPI() throws {
        try wharf("plugins", "install", BuildProducts.plugin("wharf-fixture-uses-secret").path, expect: 0)
        try wharf("plugins", "install", BuildProducts.plugin("wharf-catalog-file").path, expect: 0)
        let check = try wharf("manifest", "check", expect: 1)
        XCTAssertTrue(check.stderr.contains("connectors[1]") && check.stderr.contains("WHARF_E2E_MISSING"), check.stderr)
        let erp = try wharf("run", "erp", expect: 1)
        XCTAssertTrue(erp.stderr.contains("refused the credentials"), erp.stderr)
        let unset = try wharf("run", "erp-unset", expect: 1)
        XCTAssertTrue(unset.stderr.contains("WHARF_E2E_MISSING") && unset.stderr.contains("not set"), "the error names the variable: \(unset.stderr)")
        try wharf("run", "catalog", expect: 1)
        let key = try wharf("keys", "create", "--name", "ops", "--scopes", "admin", expect: 0)
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let server = try LoggedServer(manifest: manifest, environment: ["WHARF_E2E_SECRET": secret], folder: folder)
        defer { server.kill() }
        let client = try TestHTTPClient(port: server.port, timeout: 30)
        defer { client.close() }
        let auth = [("Authorization", "Bearer \(key)")]
        func get(_ path: String, headers: [(String, String)]? = nil) throws -> TestHTTPResponse {
            let response = try client.send("GET", path, headers: headers ?? auth)
            outputs.append(("GET \(path) (\(response.status))", response.bodyText))
            return response
        }
        var runs: [String] = []
        for connector in ["erp", "erp-unset", "catalog"] {
            let started = try client.send("POST", "/v1/connectors/\(connector)/runs", headers: auth)
            XCTAssertEqual(started.status, 202, started.bodyText)
            outputs.append(("POST run of \(connector)", started.bodyText))
            let location = try XCTUnwrap(started.header("Location"))
            var state = "running"
            for _ in 0..<300 where state == "running" {
                state = try get(location).jsonObject()["state"] as? String ?? ""
                if state == "running" { usleep(50_000) }
            }
            XCTAssertEqual(state, "failed", connector)
            runs.append(location)
        }
        for path in ["/v1/connectors", "/v1/status", "/v1/runs", "/v1/plugins", "/metrics", "/openapi.json", "/health", "/v1/nothing"] {
            _ = try get(path)
        }
        var logText = ""
        for run in runs {
            _ = try get(run)
            _ = try get(run + "/rejects")
            logText += try get(run + "/logs").bodyText
        }
        XCTAssertEqual(try get("/v1/products", headers: [("Authorization", "Bearer wharf_bad")]).status, 401)
        let garbage = try client.send("POST", "/v1/products:batch", headers: auth + [("Content-Type", "application/json")], body: Array("{".utf8))
        outputs.append(("POST /v1/products:batch (\(garbage.status))", garbage.bodyText))
        XCTAssertEqual(server.stop(), 0, "SIGTERM ends serve cleanly")
        outputs.append(("wharf serve (stdout)", server.stdout))
        outputs.append(("wharf serve (stderr, the log)", server.stderr))

        // The plugin did get the secret: it logged its length.
        XCTAssertTrue(logText.contains("a password of \(secret.utf8.count) bytes"), "the secret was resolved for the plugin: \(logText)")
        // The plugin also put the value itself in a log line, a reject and its error: the host masked each.
        XCTAssertTrue(logText.contains("password=[secret]"), "the careless log line is kept, masked: \(logText)")
        XCTAssertTrue(erp.stderr.contains("for password [secret];"), "the run error is kept, masked: \(erp.stderr)")
        XCTAssertTrue(outputs.contains { $0.source.hasSuffix("/rejects (200)") && $0.text.contains("password='[secret]'") && $0.text.contains("to password [secret] could") },
                      "the reject's reason and raw excerpt are kept, masked")
        XCTAssertTrue(server.stderr.contains("run finished"), "the server logged the runs at debug level")
        XCTAssertTrue(outputs.contains { $0.text.contains("WHARF_E2E_MISSING") }, "errors name the variable")
        for (source, text) in outputs {
            XCTAssertFalse(text.contains(secret), "the secret's value appears in \(source):\n\(text)")
        }
        XCTAssertGreaterThan(outputs.count, 25)
    }

    func testKeysCreatedWithAnExpiryShowItAndStopWorkingWhenRevoked() throws {
        let created = try wharf("keys", "create", "--name", "temp", "--scopes", "catalog:read", "--expires", "2h", expect: 0)
        let key = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let expiry = try XCTUnwrap(created.stderr.range(of: #"expiring at \S+Z"#, options: .regularExpression).map { String(created.stderr[$0].dropFirst(12)) })
        let id = String(key.split(separator: "_")[1])
        var list = try wharf("keys", "list", expect: 0).stdout
        let row = try XCTUnwrap(list.split(separator: "\n").first { $0.hasPrefix(id) })
        XCTAssertTrue(list.contains("EXPIRES") && row.contains(expiry) && row.hasSuffix("active"), list)

        let bad = try wharf("keys", "create", "--name", "x", "--scopes", "catalog:read", "--expires", "yesterday", expect: 2)
        XCTAssertTrue(bad.stderr.contains("12h, 30d or 8w"), bad.stderr)

        let server = try LoggedServer(manifest: manifest, environment: [:], folder: folder)
        defer { server.kill() }
        let client = try TestHTTPClient(port: server.port)
        defer { client.close() }
        XCTAssertEqual(try client.send("GET", "/v1/products", headers: [("Authorization", "Bearer \(key)")]).status, 200)
        try wharf("keys", "revoke", id, expect: 0)
        list = try wharf("keys", "list", expect: 0).stdout
        XCTAssertTrue(list.split(separator: "\n").first { $0.hasPrefix(id) }?.contains("revoked") ?? false, list)
        XCTAssertEqual(server.stop(), 0)
    }
}

/// `wharf serve` as a child process with its own environment, writing its output to files (so a chatty log never
/// blocks it); its port is read from the line it prints when it listens.
final class LoggedServer {
    let process = Process()
    let port: Int
    private let stdoutPath: String
    private let stderrPath: String

    init(manifest: String, environment: [String: String], folder: TemporaryDirectory) throws {
        stdoutPath = folder.write("serve.out", "")
        stderrPath = folder.write("serve.err", "")
        process.executableURL = BuildProducts.wharf
        process.arguments = ["--manifest", manifest, "serve"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var found: Int?
        let deadline = Date().addingTimeInterval(20)
        while found == nil && Date() < deadline && process.isRunning {
            let text = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                found = Int(text[range].split(separator: ":").last ?? "")
            } else {
                usleep(20_000)
            }
        }
        guard let found else {
            process.terminate()
            throw TestHTTPClientError("wharf serve did not say where it listens: \((try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")")
        }
        port = found
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// SIGTERM, then the exit status (or -1 if it did not exit within 10 s).
    func stop() -> Int32 {
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? -1 : process.terminationStatus
    }

    /// SIGKILL when still running.
    func kill() {
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

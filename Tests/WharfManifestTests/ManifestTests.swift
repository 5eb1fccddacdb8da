import Foundation
import WharfTestSupport
import XCTest

@testable import WharfManifest

final class ManifestTests: XCTestCase {
    // MARK: Helpers

    /// The error for `text` as the manifest `/deploy/wharf.json5`, failing the test when it is accepted.
    private func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ManifestError? {
        do {
            _ = try Manifest.parse(text, filePath: "/deploy/wharf.json5")
            XCTFail("accepted:\n\(text)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    /// The issue lines without the file prefix.
    private func lines(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [String] {
        error(text, file: file, line: line)?.issues.map(\.description) ?? []
    }

    // MARK: Loading

    /// The fenced code blocks of manifests/README.md: info string ("json5" or "") and body.
    private func readmeBlocks() throws -> [(info: String, body: String)] {
        let readme = try String(contentsOf: BuildProducts.packageRoot.appendingPathComponent("manifests/README.md"), encoding: .utf8)
        let pieces = readme.components(separatedBy: "```")
        return stride(from: 1, to: pieces.count, by: 2).map { i in
            let piece = pieces[i]
            let newline = piece.firstIndex(of: "\n") ?? piece.endIndex
            return (String(piece[..<newline]), String(piece[newline...]).trimmingCharacters(in: .newlines))
        }
    }

    func testTheREADMEExampleLoads() throws {
        let example = try XCTUnwrap(readmeBlocks().first { $0.info == "json5" }?.body)
        let folder = TemporaryDirectory(prefix: "wharf-manifest")
        let path = folder.write("deploy/wharf.json5", example)
        let manifest = try Manifest.load(path: path)

        XCTAssertEqual(manifest.filePath, path)
        XCTAssertEqual(manifest.directory, folder.path + "/deploy")
        XCTAssertEqual(manifest.database, folder.path + "/deploy/data/wharf.sqlite")
        XCTAssertEqual(manifest.listen, ListenAddress(host: "127.0.0.1", port: 8080))
        XCTAssertEqual(manifest.pluginFolder, folder.path + "/deploy/plugins")
        XCTAssertEqual(manifest.log, LogSettings(format: .logfmt, level: .info))
        XCTAssertEqual(manifest.server, ServerSettings(maxConnections: 4096, maxBodyBytes: 1_048_576, headerTimeout: .seconds(10), idleTimeout: .seconds(60)))
        XCTAssertEqual(manifest.connectors.map(\.name), ["erp-stock", "pim-catalog"])

        let stock = try XCTUnwrap(manifest.connector(named: "erp-stock"))
        XCTAssertEqual(stock.plugin, "stock-csv")
        XCTAssertTrue(stock.enabled)
        XCTAssertEqual(stock.schedule, "0 3 * * *")
        XCTAssertEqual(stock.index, 0)
        XCTAssertEqual(stock.config.jsonText(), #"{"path":"samples/stock.csv","delimiter":","}"#, "config is kept as written, in order")
        XCTAssertEqual(stock.mapping.jsonText(), #"{"sku":"Item","quantity":"Qty"}"#)
        XCTAssertEqual(manifest.resolvePath(stock.config.value(atPath: "path")!.stringValue!), folder.path + "/deploy/samples/stock.csv")

        let catalog = try XCTUnwrap(manifest.connector(named: "pim-catalog"))
        XCTAssertEqual(catalog.index, 1)
        XCTAssertEqual(catalog.mapping, .object([:]))
        XCTAssertNil(catalog.schedule)
        XCTAssertNil(manifest.connector(named: "nope"))
    }

    func testTheREADMEErrorExampleMatchesRealOutput() throws {
        let blocks = try readmeBlocks()
        let broken = try XCTUnwrap(blocks.first { $0.body.hasPrefix("// broken.json5") }?.body)
        let documented = try XCTUnwrap(blocks.first { $0.body.hasPrefix("broken.json5: ") }?.body)
        let syntax = try XCTUnwrap(blocks.first { $0.body.hasPrefix("wharf.json5: line 4") }?.body)
        do {
            _ = try Manifest.parse(broken, filePath: "broken.json5")
            XCTFail("the README's broken manifest loads")
        } catch {
            XCTAssertEqual(error.description, documented)
        }
        do {
            _ = try Manifest.parse("{\n  database: \"data/wharf.sqlite\",\n  // the API\n  listen: \"127.0.0.1\" \"8080\",\n}", filePath: "wharf.json5")
            XCTFail("loaded a syntax error")
        } catch {
            XCTAssertEqual(error.description, syntax)
        }
    }

    func testDefaults() throws {
        let manifest = try Manifest.parse("{ database: 'wharf.sqlite' }", filePath: "/srv/shop/wharf.json5")
        XCTAssertEqual(manifest.database, "/srv/shop/wharf.sqlite")
        XCTAssertEqual(manifest.listen, .default)
        XCTAssertEqual(manifest.listen.description, "127.0.0.1:8080")
        XCTAssertEqual(manifest.pluginFolder, "/srv/shop/plugins")
        XCTAssertEqual(manifest.log.format, .logfmt)
        XCTAssertEqual(manifest.log.level, .info)
        XCTAssertEqual(manifest.server.maxConnections, 4096)
        XCTAssertEqual(manifest.server.maxBodyBytes, 16 << 20)
        XCTAssertEqual(manifest.server.headerTimeout, .seconds(10))
        XCTAssertEqual(manifest.server.idleTimeout, .seconds(60))
        XCTAssertEqual(manifest.connectors, [])

        let connector = try Manifest.parse("{ database: 'w', connectors: [{ name: 'a', plugin: 'p' }] }", filePath: "/x/m.json5").connectors[0]
        XCTAssertEqual(connector, ConnectorConfig(name: "a", plugin: "p", enabled: true, config: .object([:]), mapping: .object([:]), schedule: nil, index: 0))
    }

    func testNullMeansDefaultForOptionalKeys() throws {
        let manifest = try Manifest.parse("""
            { database: "w", listen: null, pluginFolder: null, log: null, server: { maxConnections: null }, connectors: null }
            """, filePath: "/x/m.json5")
        XCTAssertEqual(manifest.listen, .default)
        XCTAssertEqual(manifest.pluginFolder, "/x/plugins")
        XCTAssertEqual(manifest.server.maxConnections, 4096)
        XCTAssertEqual(manifest.connectors, [])
    }

    func testSettingsAreRead() throws {
        let manifest = try Manifest.parse("""
            { database: "/var/lib/wharf/db.sqlite", listen: "[::1]:9090", pluginFolder: "../shared/plugins",
              log: { format: "json", level: "warning" },
              server: { maxConnections: 10, maxBodyBytes: 1e6, headerTimeoutSeconds: 0.5, idleTimeoutSeconds: 3600,
                        authThrottle: { maxFailures: 5, windowSeconds: 30, blockSeconds: 600 } } }
            """, filePath: "/srv/shop/wharf.json5")
        XCTAssertEqual(manifest.database, "/var/lib/wharf/db.sqlite", "absolute paths are kept")
        XCTAssertEqual(manifest.listen, ListenAddress(host: "::1", port: 9090))
        XCTAssertEqual(manifest.listen.description, "[::1]:9090")
        XCTAssertEqual(manifest.pluginFolder, "/srv/shared/plugins")
        XCTAssertEqual(manifest.log, LogSettings(format: .json, level: .warning))
        XCTAssertEqual(manifest.server.maxConnections, 10)
        XCTAssertEqual(manifest.server.maxBodyBytes, 1_000_000)
        XCTAssertEqual(manifest.server.headerTimeout, .milliseconds(500))
        XCTAssertEqual(manifest.server.idleTimeout, .seconds(3600))
        XCTAssertEqual(manifest.server.authMaxFailures, 5)
        XCTAssertEqual(manifest.server.authFailureWindow, .seconds(30))
        XCTAssertEqual(manifest.server.authBlockDuration, .seconds(600))
        XCTAssertTrue(LogSettings.Level.debug < .warning)
    }

    func testRelativePathsResolveAgainstTheManifestsFolder() throws {
        let folder = TemporaryDirectory(prefix: "wharf-manifest")
        let path = folder.write("a/b/wharf.json5", "{ database: '../data/./w.sqlite', pluginFolder: 'plugins/' }")
        let manifest = try Manifest.load(path: path)
        XCTAssertEqual(manifest.database, folder.path + "/a/data/w.sqlite")
        XCTAssertEqual(manifest.pluginFolder, folder.path + "/a/b/plugins")
        XCTAssertEqual(manifest.resolvePath("samples/stock.csv"), folder.path + "/a/b/samples/stock.csv")
        XCTAssertEqual(manifest.resolvePath("/etc/x"), "/etc/x")

        // A relative manifest path is taken from the working directory.
        let relative = try Manifest.parse("{ database: 'w.sqlite' }", filePath: "deploy/wharf.json5")
        XCTAssertEqual(relative.filePath, FileManager.default.currentDirectoryPath + "/deploy/wharf.json5")
        XCTAssertEqual(relative.database, FileManager.default.currentDirectoryPath + "/deploy/w.sqlite")
    }

    func testMissingFolderAndNonUTF8Files() throws {
        let folder = TemporaryDirectory(prefix: "wharf-manifest")
        for (path, expected) in [
            (folder.file("nope.json5"), "no manifest at \(folder.path)/nope.json5"),
            (folder.path, "\(folder.path) is a folder"),
        ] {
            do {
                _ = try Manifest.load(path: path)
                XCTFail("loaded \(path)")
            } catch {
                XCTAssertEqual(error.issues.map(\.kind), [.unreadable])
                XCTAssertTrue(error.description.hasPrefix("\(path): \(expected)"), error.description)
            }
        }
        let binary = folder.file("binary.json5")
        try Data([0x7B, 0x0A, 0x20, 0x61, 0x3A, 0x20, 0x27, 0xC3, 0x28, 0x27, 0x7D]).write(to: URL(fileURLWithPath: binary))
        do {
            _ = try Manifest.load(path: binary)
            XCTFail("loaded invalid UTF-8")
        } catch {
            XCTAssertEqual(error.description, "\(binary): line 2, column 6: the file is not valid UTF-8 (byte 0xC3); save it as UTF-8")
        }
    }

    // MARK: Errors

    func testSyntaxErrorGivesFileLineAndColumn() throws {
        let folder = TemporaryDirectory(prefix: "wharf-manifest")
        let path = folder.write("wharf.json5", "{\n  database: \"w\",\n  connectors: [\n    { name: \"a\" plugin: \"p\" },\n  ],\n}\n")
        do {
            _ = try Manifest.load(path: path)
            XCTFail("loaded a manifest with a syntax error")
        } catch {
            XCTAssertEqual(error.file, path)
            XCTAssertEqual(error.issues.count, 1)
            XCTAssertEqual(error.issues[0].kind, .syntax)
            XCTAssertEqual(error.issues[0].line, 4)
            XCTAssertEqual(error.issues[0].column, 17)
            XCTAssertEqual(error.description, "\(path): line 4, column 17: expected ',' or '}' after the value of \"name\", found 'p'")
        }
    }

    func testWrongTypes() {
        let found = lines("""
            {
              database: 3,
              listen: true,
              pluginFolder: [],
              log: "json",
              server: { maxConnections: "10", idleTimeoutSeconds: "60" },
              connectors: [
                "erp",
                { name: 7, plugin: 3, enabled: "yes", schedule: 5, config: [], mapping: 1 },
              ],
            }
            """)
        XCTAssertEqual(found, [
            "database: expected a path to the SQLite database file, such as \"data/wharf.sqlite\", found the number 3",
            "listen: expected \"host:port\" such as \"127.0.0.1:8080\", found true",
            "pluginFolder: expected a folder path such as \"plugins\", found an empty array",
            "log: expected an object such as { format: \"logfmt\", level: \"info\" }, found the string \"json\"",
            "server.maxConnections: expected a whole number from 1 to 1000000, found the string \"10\"",
            "server.idleTimeoutSeconds: expected a number of seconds above 0 and at most 86400, found the string \"60\"",
            "connectors[0]: expected a connector object such as { name: \"erp-stock\", plugin: \"stock-csv\" }, found the string \"erp\"",
            "connectors[1].name: expected a connector name string such as \"erp-stock\", found the number 7",
            "connectors[1].plugin: expected a plugin id string such as \"stock-csv\", found the number 3",
            "connectors[1].enabled: expected true or false, found the string \"yes\"",
            "connectors[1].schedule: expected a cron expression such as \"0 3 * * *\" or an object such as { cron: \"0 3 * * *\", timeZone: \"Europe/Berlin\" } or { every: \"15m\" }, found the number 5",
            "connectors[1].config: expected an object of plugin settings such as { path: \"samples/stock.csv\" }, found an empty array",
            "connectors[1].mapping: expected an object mapping Wharf fields to source fields such as { sku: \"Item\" }, found the number 1",
        ])
        XCTAssertEqual(lines("{ database: 'w', connectors: { name: 'a' } }"), [
            "connectors: expected an array of connectors such as [{ name: \"erp-stock\", plugin: \"stock-csv\" }], found an object"
        ])
        XCTAssertEqual(lines("[1, 2]"), ["expected an object such as { database: \"data/wharf.sqlite\", connectors: [] } at the top level, found an array"])
    }

    func testMissingRequiredKeys() throws {
        let failure = try XCTUnwrap(error("{\n  connectors: [\n    {},\n    { name: 'b' },\n  ],\n}"))
        XCTAssertEqual(failure.issues.map(\.description), [
            "database: required key is missing; expected a path to the SQLite database file, such as \"data/wharf.sqlite\"",
            "connectors[0].name: required key is missing; expected a connector name such as \"erp-stock\"",
            "connectors[0].plugin: required key is missing; expected a plugin id such as \"stock-csv\"",
            "connectors[1].plugin: required key is missing; expected a plugin id such as \"stock-csv\"",
        ])
        XCTAssertEqual(Set(failure.issues.map(\.kind)), [.missing])
        XCTAssertEqual(failure.issues.map(\.line), [1, 3, 3, 4], "a missing key points at the object it is missing from")
        XCTAssertEqual(lines("{ database: '' }"), ["database: expected a path to the SQLite database file, such as \"data/wharf.sqlite\", found an empty string"])
        XCTAssertEqual(lines("{ database: null }"), ["database: expected a path to the SQLite database file, such as \"data/wharf.sqlite\", found null"])
    }

    func testUnknownKeysSuggestTheClosestKnownKey() throws {
        let failure = try XCTUnwrap(error("""
            {
              databse: "w",
              Listen: "127.0.0.1:1",
              log: { levle: "info" },
              server: { maxBodySize: 10 },
              colour: "blue",
              connectors: [{ name: "a", plugin: "p", shedule: "* * * * *", conifg: {} }],
            }
            """))
        XCTAssertEqual(failure.issues.map(\.description), [
            "database: required key is missing; expected a path to the SQLite database file, such as \"data/wharf.sqlite\"",
            "databse: unknown key; did you mean \"database\"?",
            "Listen: unknown key; did you mean \"listen\"?",
            "log.levle: unknown key; did you mean \"level\"?",
            "server.maxBodySize: unknown key; did you mean \"maxBodyBytes\"?",
            "colour: unknown key; the keys here are database, listen, pluginFolder, log, server, connectors",
            "connectors[0].shedule: unknown key; did you mean \"schedule\"?",
            "connectors[0].conifg: unknown key; did you mean \"config\"?",
        ])
        XCTAssertEqual(failure.issues.map(\.kind), [.missing] + Array(repeating: .unknownKey, count: 7))
    }

    func testDuplicateConnectorNamesAndDuplicateKeys() throws {
        let failure = try XCTUnwrap(error("""
            {
              database: "w",
              connectors: [
                { name: "erp-stock", plugin: "stock-csv" },
                { name: "pim", plugin: "catalog-file" },
                { name: "erp-stock", plugin: "stock-csv", config: { path: "a", path: "b" } },
              ],
              database: "again",
            }
            """))
        XCTAssertEqual(failure.issues.map(\.description), [
            "connectors[2].name: the name \"erp-stock\" is already used by connectors[0]; connector names must be unique",
            "connectors[2].config.path: this key is written twice in the same object (first on line 6); only the last value would count, so remove one",
            "database: this key is written twice in the same object (first on line 2); only the last value would count, so remove one",
        ])
        XCTAssertEqual(Set(failure.issues.map(\.kind)), [.duplicate])
    }

    func testListenAddresses() throws {
        let valid: [(String, String, Int)] = [
            ("127.0.0.1:8080", "127.0.0.1", 8080), ("[::1]:8080", "::1", 8080), ("0.0.0.0:0", "0.0.0.0", 0),
            ("localhost:9000", "localhost", 9000), ("api.example.com:443", "api.example.com", 443),
            ("[2001:db8::7]:65535", "2001:db8::7", 65535), ("[::]:80", "::", 80),
        ]
        for (text, host, port) in valid {
            let manifest = try Manifest.parse("{ database: 'w', listen: '\(text)' }", filePath: "/x/m.json5")
            XCTAssertEqual(manifest.listen, ListenAddress(host: host, port: port), text)
            XCTAssertEqual(manifest.listen.description, text)
            XCTAssertNil(ListenAddress.problem(in: text))
        }
        let invalid: [(String, String)] = [
            ("localhost", "expected \"host:port\" such as \"127.0.0.1:8080\" or \"[::1]:8080\""),
            ("::1:8080", "expected an IPv6 host in brackets, such as \"[::1]:8080\""),
            (":8080", "expected a host before the ':' (\"0.0.0.0:8080\" listens on every IPv4 interface)"),
            ("127.0.0.1:99999", "expected a port from 0 to 65535 after the ':'"),
            ("127.0.0.1:http", "expected a port from 0 to 65535 after the ':'"),
            ("127.0.0.1:", "expected a port from 0 to 65535 after the ':'"),
            ("host:-1", "expected a port from 0 to 65535 after the ':'"),
            ("300.1.1.1:80", "expected an IPv4 address, an [IPv6] address or a host name before the port"),
            ("bad host:80", "expected an IPv4 address, an [IPv6] address or a host name before the port"),
            ("-x.example:80", "expected an IPv4 address, an [IPv6] address or a host name before the port"),
            ("[zz::1]:80", "expected an IPv4 address, an [IPv6] address or a host name before the port"),
            ("[::1]", "expected \"host:port\" such as \"127.0.0.1:8080\" or \"[::1]:8080\""),
            ("[::1:80", "expected \"host:port\" such as \"127.0.0.1:8080\" or \"[::1]:8080\""),
        ]
        for (text, expected) in invalid {
            let found = lines("{ database: 'w', listen: '\(text)' }")
            XCTAssertEqual(found, ["listen: \(expected), found the string \(quoted(text))"], text)
            XCTAssertNil(ListenAddress(parsing: text), text)
            XCTAssertEqual(ListenAddress.problem(in: text), "\(expected), found \(quoted(text))")
        }
    }

    func testIdentifierSyntax() {
        let long = String(repeating: "a", count: 65)
        XCTAssertEqual(lines("""
            { database: "w", connectors: [
              { name: "ERP Stock", plugin: "-stock" },
              { name: "\(long)", plugin: "9csv" },
              { name: "\(long.dropLast())", plugin: "a" },
            ] }
            """), [
            "connectors[0].name: expected a connector name of lowercase letters, digits and '-', starting with a letter, at most 64 characters (such as \"erp-stock\"), found the string \"ERP Stock\"",
            "connectors[0].plugin: expected a plugin id of lowercase letters, digits and '-', starting with a letter, at most 64 characters (such as \"stock-csv\"), found the string \"-stock\"",
            "connectors[1].name: expected a connector name of lowercase letters, digits and '-', starting with a letter, at most 64 characters (such as \"erp-stock\"), found the string \"\(long.prefix(57))...\"",
            "connectors[1].plugin: expected a plugin id of lowercase letters, digits and '-', starting with a letter, at most 64 characters (such as \"stock-csv\"), found the string \"9csv\"",
        ])
    }

    func testServerRangesAndLogChoices() {
        XCTAssertEqual(lines("""
            { database: "w",
              server: { maxConnections: 0, maxBodyBytes: 10, headerTimeoutSeconds: 0, idleTimeoutSeconds: 1e9 },
              log: { format: "text", level: "warn" } }
            """), [
            "server.maxConnections: expected a whole number from 1 to 1000000, found the number 0",
            "server.maxBodyBytes: expected a whole number of bytes from 1024 to 1073741824, found the number 10",
            "server.headerTimeoutSeconds: expected a number of seconds above 0 and at most 600, found the number 0",
            "server.idleTimeoutSeconds: expected a number of seconds above 0 and at most 86400, found the number 1000000000",
            "log.format: expected one of logfmt, json, found the string \"text\"",
            "log.level: expected one of trace, debug, info, warning, error, found the string \"warn\"; did you mean \"warning\"?",
        ])
        XCTAssertEqual(lines("{ database: 'w', server: { authThrottle: { maxFailures: 0, windowSeconds: -1, blockSecs: 5 } } }"), [
            "server.authThrottle.maxFailures: expected a whole number from 1 to 1000000, found the number 0",
            "server.authThrottle.windowSeconds: expected a number of seconds above 0 and at most 86400, found the number -1",
            "server.authThrottle.blockSecs: unknown key; did you mean \"blockSeconds\"?",
        ])
        XCTAssertEqual(lines("{ database: 'w', server: { maxConnections: 1.5, headerTimeoutSeconds: NaN } }"), [
            "server.maxConnections: expected a whole number from 1 to 1000000, found the number 1.5",
            "server.headerTimeoutSeconds: expected a number of seconds above 0 and at most 600, found the number NaN",
        ])
    }

    func testLiteralSecretsAreFlaggedWithoutPrintingThem() throws {
        let secrets = ["hunter2-PASSWORD", "tok_live_abc", "AKIAEXAMPLEKEY", "cs_123", "Bearer xyz", "pk-nested"]
        let failure = try XCTUnwrap(error("""
            { database: "w", connectors: [
              { name: "erp-stock", plugin: "stock-csv", config: {
                  password: "\(secrets[0])", token: "\(secrets[1])", api_key: "\(secrets[2])",
                  clientSecret: "\(secrets[3])", headers: [{ Authorization: "\(secrets[4])" }],
                  auth: { "private-key": "\(secrets[5])" },
                  apiKey: "env:ERP_KEY", secretName: "erp", tokenUrl: "https://idp/token", passwordFile: "/run/pw",
                  token2: "", user: "wharf", count: 3,
              } },
            ] }
            """))
        let advice = "looks like a secret written into the manifest; put it in an environment variable and write \"env:NAME\""
        XCTAssertEqual(failure.issues.map(\.description), [
            "connectors[0].config.password: \(advice) (for example \"env:ERP_STOCK_PASSWORD\")",
            "connectors[0].config.token: \(advice) (for example \"env:ERP_STOCK_TOKEN\")",
            "connectors[0].config.api_key: \(advice) (for example \"env:ERP_STOCK_API_KEY\")",
            "connectors[0].config.clientSecret: \(advice) (for example \"env:ERP_STOCK_CLIENT_SECRET\")",
            "connectors[0].config.headers[0].Authorization: \(advice) (for example \"env:ERP_STOCK_AUTHORIZATION\")",
            "connectors[0].config.auth.private-key: \(advice) (for example \"env:ERP_STOCK_PRIVATE_KEY\")",
        ])
        XCTAssertEqual(Set(failure.issues.map(\.kind)), [.literalSecret])
        for secret in secrets {
            XCTAssertFalse(failure.description.contains(secret), "the error prints a secret")
            XCTAssertFalse(String(describing: failure).contains(secret))
            XCTAssertFalse(String(reflecting: failure).contains(secret))
        }
    }

    func testMalformedEnvReferencesAreFlaggedWithoutPrintingThem() {
        XCTAssertEqual(lines("{ database: 'w', connectors: [{ name: 'a', plugin: 'p', config: { user: 'env:1 not a name', list: ['env:'] } }] }"), [
            "connectors[0].config.user: expected \"env:\" followed by an environment variable name (letters, digits and _, not starting with a digit)",
            "connectors[0].config.list[0]: expected \"env:\" followed by an environment variable name (letters, digits and _, not starting with a digit)",
        ])
    }

    func testEveryProblemIsReportedAtOnceInFileOrder() throws {
        let failure = try XCTUnwrap(error("""
            {
              listen: "localhost",
              log: { level: "loud" },
              connectors: [
                { name: "a", plugin: "P" },
                { name: "a", plugin: "p", enabled: 1, config: { secret: "x" } },
              ],
              extra: 1,
            }
            """))
        XCTAssertEqual(failure.issues.map(\.path), [
            "database", "listen", "log.level", "connectors[0].plugin", "connectors[1].name", "connectors[1].enabled",
            "connectors[1].config.secret", "extra",
        ])
        XCTAssertEqual(failure.issues.map(\.line), [1, 2, 3, 5, 6, 6, 6, 8])
        XCTAssertEqual(failure.description.split(separator: "\n").count, 8)
        XCTAssertTrue(failure.description.split(separator: "\n").allSatisfy { $0.hasPrefix("/deploy/wharf.json5: ") })
    }

    func testScheduleIsCheckedAndKeptAsWritten() throws {
        let manifest = try Manifest.parse("{ database: 'w', connectors: [{ name: 'a', plugin: 'p', schedule: '*/15 * * * *', enabled: false }] }", filePath: "/x/m.json5")
        XCTAssertEqual(manifest.connectors[0].schedule, "*/15 * * * *")
        XCTAssertNotNil(manifest.connectors[0].timing)
        XCTAssertFalse(manifest.connectors[0].enabled)
        XCTAssertEqual(lines("{ database: 'w', connectors: [{ name: 'a', plugin: 'p', schedule: 'not a cron' }] }").count, 1)
    }

    func testSuggestions() {
        XCTAssertEqual(closestMatch(to: "conectors", in: ManifestChecker.topLevelKeys), "connectors")
        XCTAssertEqual(closestMatch(to: "pluginfolder", in: ManifestChecker.topLevelKeys), "pluginFolder")
        XCTAssertEqual(closestMatch(to: "lsiten", in: ManifestChecker.topLevelKeys), "listen", "a swap is one edit")
        XCTAssertNil(closestMatch(to: "x", in: ManifestChecker.topLevelKeys))
        XCTAssertNil(closestMatch(to: "colour", in: ManifestChecker.topLevelKeys))
    }
}

/// The per-connector run policies: `onError` and `inventory`.
final class ConnectorPolicyTests: XCTestCase {
    func testPoliciesAreReadWithDefaults() throws {
        let manifest = try Manifest.parse("""
            { database: "x.sqlite", connectors: [
              { name: "a", plugin: "p" },
              { name: "b", plugin: "p", onError: "fail", inventory: { mode: "full", absent: "keep" } },
              { name: "c", plugin: "p", inventory: { mode: "delta", delta: "relative" } },
            ] }
            """, filePath: "/tmp/m.json5")
        XCTAssertEqual(manifest.connectors[0].onError, .reject)
        XCTAssertEqual(manifest.connectors[0].inventory, InventoryPolicy(mode: .delta, absent: .zero, delta: .absolute))
        XCTAssertEqual(manifest.connectors[1].onError, .fail)
        XCTAssertEqual(manifest.connectors[1].inventory.mode, .full)
        XCTAssertEqual(manifest.connectors[1].inventory.absent, .keep)
        XCTAssertEqual(manifest.connectors[2].inventory.delta, .relative)
    }

    func testBadPoliciesAreReportedByPath() {
        XCTAssertThrowsError(try Manifest.parse("""
            { database: "x.sqlite", connectors: [
              { name: "a", plugin: "p", onError: "ignore", inventory: { mode: "snapshot", extra: 1 } },
              { name: "b", plugin: "p", inventory: { mode: "full", delta: "relative" } },
            ] }
            """, filePath: "/tmp/m.json5")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("connectors[0].onError"), text)
            XCTAssertTrue(text.contains("connectors[0].inventory.mode"), text)
            XCTAssertTrue(text.contains("connectors[0].inventory.extra"), text)
            XCTAssertTrue(text.contains("connectors[1].inventory.delta"), "delta without mode delta: \(text)")
        }
    }
}

/// Schedules in the manifest: cron (UTC or a zone), every-intervals, catch-up, and their errors by path.
final class ScheduleManifestTests: XCTestCase {
    func testScheduleForms() throws {
        let manifest = try Manifest.parse("""
            { database: "x.sqlite", connectors: [
              { name: "a", plugin: "p", schedule: "0 3 * * *" },
              { name: "b", plugin: "p", schedule: { cron: "30 2 * * MON-FRI", timeZone: "Europe/Berlin", catchUp: true } },
              { name: "c", plugin: "p", schedule: { every: "15m" } },
              { name: "d", plugin: "p" },
            ] }
            """, filePath: "/tmp/m.json5")
        XCTAssertEqual(manifest.connectors[0].schedule, "0 3 * * *")
        XCTAssertTrue(manifest.connectors[0].timing?.description.contains(#"cron "0 3 * * *""#) == true)
        XCTAssertEqual(manifest.connectors[1].catchUp, true)
        XCTAssertTrue(manifest.connectors[1].timing?.description.contains("Europe/Berlin") == true)
        XCTAssertEqual(manifest.connectors[2].schedule, "every 15m")
        XCTAssertNotNil(manifest.connectors[2].timing)
        XCTAssertNil(manifest.connectors[3].timing)
    }

    func testScheduleErrorsNameTheirPath() {
        XCTAssertThrowsError(try Manifest.parse("""
            { database: "x.sqlite", connectors: [
              { name: "a", plugin: "p", schedule: "0 24 * * *" },
              { name: "b", plugin: "p", schedule: { cron: "0 3 * * *", timeZone: "Mars/Olympus" } },
              { name: "c", plugin: "p", schedule: { every: "fortnightly" } },
              { name: "d", plugin: "p", schedule: { cron: "0 3 * * *", every: "1h" } },
              { name: "e", plugin: "p", schedule: 5 },
            ] }
            """, filePath: "/tmp/m.json5")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("connectors[0].schedule: field 2 (hour)"), text)
            XCTAssertTrue(text.contains("connectors[1].schedule.timeZone"), text)
            XCTAssertTrue(text.contains("Mars/Olympus"), text)
            XCTAssertTrue(text.contains("connectors[2].schedule.every"), text)
            XCTAssertTrue(text.contains("connectors[3].schedule: give either cron or every"), text)
            XCTAssertTrue(text.contains("connectors[4].schedule: expected a cron expression"), text)
        }
    }
}

import Foundation
import WharfAuth
import WharfHost
import WharfManifest
import WharfModel
import WharfPlugins
import WharfStore

/// Exit codes: 0 ok, 1 the command failed, 2 the command line was wrong.
enum ExitCode: Int32 {
    case ok = 0
    case failure = 1
    case usage = 2
}

/// A command failed; the message says what to do. Printed as `wharf: <message>`, exit code 1.
struct CommandFailure: Error {
    var message: String
}

/// One `wharf` command: its usage text and what it does.
struct Command: Sendable {
    var name: String
    var summary: String
    var usage: String
    var run: @Sendable (_ words: [String], _ context: CommandContext) throws -> ExitCode
}

/// What every command may use: where the manifest is.
struct CommandContext: Sendable {
    var manifestPath: String

    func loadManifest() throws -> Manifest {
        do {
            return try Manifest.load(path: manifestPath)
        } catch {
            throw CommandFailure(message: "\(error)")
        }
    }

    /// Opens the manifest's deployment; `readerMapBytes` as for `Deployment.init`.
    func openDeployment(readerMapBytes: Int = 0) throws -> Deployment {
        let manifest = try loadManifest()
        do {
            return try Deployment(manifest: manifest, readerMapBytes: readerMapBytes)
        } catch {
            throw CommandFailure(message: "\(error)")
        }
    }
}

func printOut(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

// MARK: - serve

let serveCommand = Command(
    name: "serve", summary: "Serve the REST API of the deployment until stopped (Ctrl-C or SIGTERM).",
    usage: """
        wharf serve [--manifest FILE]

        Opens (and creates or upgrades) the deployment's database, listens on the manifest's `listen` address,
        serves the REST API and runs every enabled connector on its schedule, until SIGINT or SIGTERM; then it
        finishes requests in flight, cancels runs in progress at their next batch boundary and exits.
        """
) { words, context in
    try Arguments(words).none()
    // The REST API's reads are random page look-ups: map the file rather than copy each page out of the OS cache.
    let deployment = try context.openDeployment(readerMapBytes: Deployment.servingReaderMapBytes)
    let server: WharfServer
    do {
        server = try WharfServer(deployment: deployment)
        try server.start()
    } catch {
        throw CommandFailure(message: "\(error)")
    }
    let listen = deployment.manifest.listen
    printOut("wharf serving http://\(listen.host.contains(":") ? "[\(listen.host)]" : listen.host):\(server.port) (manifest \(deployment.manifest.filePath))")
    let stop = DispatchSemaphore(value: 0)
    var sources: [DispatchSourceSignal] = []
    for signalNumber in [SIGINT, SIGTERM] {
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler { stop.signal() }
        source.resume()
        sources.append(source)
    }
    stop.wait()
    deployment.logger.log(.info, "shutting down")
    server.shutdown()
    return .ok
}

// MARK: - schedule

let scheduleCommand = Command(
    name: "schedule", summary: "Print the next run time of every scheduled connector.",
    usage: """
        wharf schedule [--manifest FILE]

        Lists every connector with a schedule: its schedule as written, whether it catches up missed runs, and
        the next time `wharf serve` will run it (UTC and the schedule's own time zone).
        """
) { words, context in
    try Arguments(words).none()
    let deployment = try context.openDeployment()
    let coordinator = try RunCoordinator(deployment: deployment)
    let upcoming = coordinator.scheduler.nextRuns()
    if upcoming.isEmpty {
        printOut("no connector has a schedule; add `schedule` to a connector in \(deployment.manifest.filePath)")
        return .ok
    }
    var rows = [["CONNECTOR", "SCHEDULE", "CATCH-UP", "NEXT RUN (UTC)"]]
    for job in upcoming {
        let connector = deployment.manifest.connector(named: job.jobID)
        rows.append([
            job.jobID, job.schedule.description, (connector?.catchUp ?? false) ? "yes" : "no",
            job.next.map { Timestamp($0).rfc3339 + (job.isCatchUp ? " (catch-up)" : "") } ?? "never",
        ])
    }
    printOut(table(rows))
    return .ok
}

// MARK: - run

let runCommand = Command(
    name: "run", summary: "Run one connector now and print its counts.",
    usage: """
        wharf run CONNECTOR [--manifest FILE]

        Runs the connector's plugin once (ingest), records the run, and prints what it read, inserted, updated,
        left unchanged and rejected. On a terminal a live line shows records, rate, elapsed time and, when the
        plugin reports its position in the source, the time left; otherwise a plain line every 5 seconds. Ctrl-C cancels at the next batch boundary; committed batches are kept.
        Exit code 0 when the run succeeded (even with rejected records), 1 when it failed or was cancelled.
        """
) { words, context in
    let name = try Arguments(words).single("CONNECTOR")
    let deployment = try context.openDeployment()
    let cancellation = CancellationFlag()
    signal(SIGINT, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    source.setEventHandler {
        printError("wharf: cancelling at the next batch boundary…")
        cancellation.cancel()
    }
    source.resume()
    let progress = RunProgress()
    let reporter = ProgressReporter(progress: progress, connector: name)
    reporter.start()
    let run: Run
    do {
        run = try ConnectorRunner(deployment: deployment).ingest(
            connector: name, trigger: .manual, cancellation: cancellation, progress: progress)
    } catch {
        reporter.stop()
        throw CommandFailure(message: "\(error)")
    }
    reporter.stop()
    source.cancel()
    let c = run.counts
    printOut("run \(run.id) of \(run.connector) \(run.state.rawValue): read \(c.read), inserted \(c.inserted), updated \(c.updated), unchanged \(c.unchanged), rejected \(c.rejected)")
    if c.rejected > 0 { printOut("rejected records: GET /v1/runs/\(run.id)/rejects") }
    if let error = run.error { printError("wharf: run \(run.id) \(run.state.rawValue): \(error)") }
    return run.state == .succeeded ? .ok : .failure
}

// MARK: - plugins

let pluginsCommand = Command(
    name: "plugins", summary: "Install, list and remove connector plugins.",
    usage: """
        wharf plugins install PATH.so [--replace] [--manifest FILE]
        wharf plugins list [--manifest FILE]
        wharf plugins remove ID [--manifest FILE]

        install  checks that PATH is a Wharf plugin this host can load (ELF shared object for this machine, entry
                 symbol, ABI version, descriptor) and copies it into the manifest's plugin folder as ID.so.
                 --replace installs over a plugin with the same id (an upgrade).
        list     shows every installed plugin: id, system, version, ABI, capabilities and path, and every file in
                 the folder that is not a valid plugin.
        remove   deletes the plugin with that id from the folder.
        """
) { words, context in
    guard let sub = words.first else { throw UsageError(message: "missing subcommand: install, list or remove") }
    let rest = Array(words.dropFirst())
    let manifest = try context.loadManifest()
    let folder = PluginFolder(path: manifest.pluginFolder)
    switch sub {
    case "install":
        let arguments = try Arguments(rest, flagOptions: ["--replace"])
        let path = try arguments.single("PATH.so")
        do {
            let info = try folder.install(from: path, replace: arguments.flags.contains("--replace"), host: HostServices.table)
            printOut("installed \(info.id) \(info.version) (\(info.systemKind), ABI \(info.abiMajor).\(info.abiMinor), \(info.capabilities.names.joined(separator: "+"))) at \(info.path)")
        } catch {
            throw CommandFailure(message: "\(error)")
        }
    case "list":
        try Arguments(rest).none()
        let listing = folder.list(host: HostServices.table)
        if listing.plugins.isEmpty && listing.problems.isEmpty {
            printOut("no plugins installed in \(folder.path); install one with `wharf plugins install PATH.so`")
        }
        if !listing.plugins.isEmpty {
            let rows = [["ID", "SYSTEM", "VERSION", "ABI", "CAPABILITIES", "PATH"]] + listing.plugins.map {
                [$0.id, $0.systemKind, $0.version, "\($0.abiMajor).\($0.abiMinor)", $0.capabilities.names.joined(separator: ","), $0.path]
            }
            printOut(table(rows))
        }
        for problem in listing.problems { printError("wharf: \(problem.description)") }
        return listing.problems.isEmpty ? .ok : .failure
    case "remove":
        let id = try Arguments(rest).single("ID")
        do {
            try folder.remove(id: id)
            printOut("removed \(id)")
        } catch {
            throw CommandFailure(message: "\(error)")
        }
    default:
        throw UsageError(message: "unknown subcommand '\(sub)': use install, list or remove")
    }
    return .ok
}

// MARK: - keys

let keysCommand = Command(
    name: "keys", summary: "Create, list and revoke API keys.",
    usage: """
        wharf keys create --name NAME --scopes SCOPE[,SCOPE...] [--expires WHEN] [--manifest FILE]
        wharf keys list [--manifest FILE]
        wharf keys revoke ID [--manifest FILE]

        create   makes a key and prints it ONCE; only its hash is stored, so copy it now. --expires makes it stop
                 working by itself: after a lifetime (12h, 30d, 8w), when a date begins (2027-01-31: at 00:00
                 UTC), or at an RFC 3339 time; an expired key gets 401 saying so. Without it the key works
                 until revoked.
        list     shows id, name, scopes, created and expiry times and state (never the key).
        revoke   stops a key from working (within a few seconds on a running server).

        Scopes: \(Scope.known.map(\.rawValue).joined(separator: ", ")) (admin grants every scope).
        """
) { words, context in
    guard let sub = words.first else { throw UsageError(message: "missing subcommand: create, list or revoke") }
    let rest = Array(words.dropFirst())
    switch sub {
    case "create":
        let arguments = try Arguments(rest, valueOptions: ["--name", "--scopes", "--expires"])
        try arguments.none()
        guard let name = arguments.options["--name"], !name.isEmpty else { throw UsageError(message: "--name is required") }
        guard let scopeText = arguments.options["--scopes"] else { throw UsageError(message: "--scopes is required") }
        let scopes: [String]
        do {
            scopes = try Scope.parse(list: scopeText).map(\.rawValue)
        } catch {
            throw UsageError(message: "\(error)")
        }
        let now = Timestamp.now()
        var expiresAt: Timestamp?
        if let expiry = arguments.options["--expires"] {
            do {
                expiresAt = try APIKeyExpiry.parse(expiry, now: now)
            } catch {
                throw UsageError(message: "--expires: \(error)")
            }
        }
        let deployment = try context.openDeployment()
        let (key, record) = APIKeys.generate(name: name, scopes: scopes, now: now, expiresAt: expiresAt)
        try deployment.store.insertAPIKey(record)
        printOut(key)
        printError("created key \(record.id) '\(name)' with scopes \(scopes.joined(separator: ","))"
            + (expiresAt.map { ", expiring at \($0.rfc3339)" } ?? "") + "; the line above is the key, shown only now")
    case "list":
        try Arguments(rest).none()
        let deployment = try context.openDeployment()
        let keys = try deployment.store.apiKeys()
        if keys.isEmpty {
            printOut("no API keys; create one with `wharf keys create --name NAME --scopes catalog:read`")
        } else {
            let now = Timestamp.now()
            printOut(table([["ID", "NAME", "SCOPES", "CREATED", "EXPIRES", "STATE"]] + keys.map {
                let state = $0.revokedAt.map { "revoked \($0.rfc3339)" } ?? ($0.isExpired(at: now) ? "expired" : "active")
                return [$0.id, $0.name, $0.scopes.joined(separator: ","), $0.createdAt.rfc3339, $0.expiresAt?.rfc3339 ?? "never", state]
            }))
        }
    case "revoke":
        let id = try Arguments(rest).single("ID")
        let deployment = try context.openDeployment()
        guard try deployment.store.revokeAPIKey(id: id) else {
            throw CommandFailure(message: "no API key with id '\(id)'; `wharf keys list` shows the ids")
        }
        printOut("revoked \(id)")
    default:
        throw UsageError(message: "unknown subcommand '\(sub)': use create, list or revoke")
    }
    return .ok
}

// MARK: - manifest

let manifestCommand = Command(
    name: "manifest", summary: "Check a deployment manifest.",
    usage: """
        wharf manifest check [FILE]

        Reads the manifest (FILE, or --manifest, or $WHARF_MANIFEST, or ./wharf.json5) and reports every problem
        with the file, the path inside it (connectors[1].plugin), what was expected and what was found. It also
        checks that every connector's plugin is installed in the plugin folder and lets each plugin check its
        connector's config and mapping (connectors[1].mapping...). Exit code 0 when it is valid.
        """
) { words, context in
    guard words.first == "check" else {
        throw UsageError(message: words.isEmpty ? "missing subcommand: check" : "unknown subcommand '\(words[0])': use check")
    }
    let arguments = try Arguments(Array(words.dropFirst()))
    guard arguments.positionals.count <= 1 else { throw UsageError(message: "expected at most one FILE") }
    let path = arguments.positionals.first ?? context.manifestPath
    let manifest: Manifest
    do {
        manifest = try Manifest.load(path: path)
    } catch {
        printError("\(error)")
        return .failure
    }
    let installed = Set(PluginFolder(path: manifest.pluginFolder).list(host: HostServices.table).plugins.map(\.id))
    var problems: [String] = []
    for connector in manifest.connectors where !installed.contains(connector.plugin) {
        problems.append("\(manifest.filePath): connectors[\(connector.index)].plugin: expected an installed plugin id, found '\(connector.plugin)', which is not in \(manifest.pluginFolder)"
            + (installed.isEmpty ? " (no plugins are installed)" : " (installed: \(installed.sorted().joined(separator: ", ")))")
            + "; install it with `wharf plugins install PATH.so`")
    }
    // Each installed plugin checks its own connectors' config and mapping (it is the only one that knows them).
    if problems.isEmpty {
        let folder = PluginFolder(path: manifest.pluginFolder)
        let logger = Logger(level: .warning)
        for connector in manifest.connectors {
            if let problem = ConnectorRunner.checkConfiguration(of: connector, manifest: manifest, plugins: folder, logger: logger) {
                problems.append(problem)
            }
        }
    }
    for problem in problems { printError(problem) }
    guard problems.isEmpty else { return .failure }
    printOut("\(manifest.filePath): ok (\(manifest.connectors.count) connector\(manifest.connectors.count == 1 ? "" : "s"))")
    return .ok
}

/// Aligns rows into columns separated by two spaces.
func table(_ rows: [[String]]) -> String {
    guard let width = rows.map(\.count).max() else { return "" }
    var widths = Array(repeating: 0, count: width)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }.joined(separator: "\n")
}

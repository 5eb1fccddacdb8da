import Foundation

// The `wharf` command: a commerce integration hub's CLI. Exit codes: 0 ok, 1 failure, 2 usage.

let commands = [serveCommand, runCommand, scheduleCommand, pluginsCommand, keysCommand, manifestCommand, workerCommand, backupCommand, restoreCommand]

let overview = """
    wharf — commerce integration hub

    Usage: wharf [--manifest FILE] COMMAND [ARGS...]

    Commands:
    \(commands.map { "  " + $0.name.padding(toLength: 10, withPad: " ", startingAt: 0) + $0.summary }.joined(separator: "\n"))
      version   Print the version.

    The manifest is FILE, or $WHARF_MANIFEST, or ./wharf.json5. `wharf COMMAND --help` explains a command.
    """

func main() -> Int32 {
    var words = Array(CommandLine.arguments.dropFirst())
    var manifestPath = ProcessInfo.processInfo.environment["WHARF_MANIFEST"] ?? "wharf.json5"
    // --manifest may stand anywhere on the line.
    var index = 0
    while index < words.count {
        let word = words[index]
        if word == "--manifest" || word == "-m" {
            guard index + 1 < words.count else {
                printError("wharf: \(word) needs a FILE\n\n\(overview)")
                return ExitCode.usage.rawValue
            }
            manifestPath = words[index + 1]
            words.removeSubrange(index...(index + 1))
        } else if word.hasPrefix("--manifest=") {
            manifestPath = String(word.dropFirst("--manifest=".count))
            words.remove(at: index)
        } else {
            index += 1
        }
    }
    guard let name = words.first else {
        printError(overview)
        return ExitCode.usage.rawValue
    }
    if name == "--help" || name == "-h" || name == "help" {
        if words.count > 1, let command = commands.first(where: { $0.name == words[1] }) {
            printOut(command.usage)
        } else {
            printOut(overview)
        }
        return ExitCode.ok.rawValue
    }
    if name == "version" || name == "--version" {
        printOut("wharf 0.1.0 (plugin ABI 1.0)")
        return ExitCode.ok.rawValue
    }
    guard let command = commands.first(where: { $0.name == name }) else {
        printError("wharf: unknown command '\(name)'\n\n\(overview)")
        return ExitCode.usage.rawValue
    }
    let rest = Array(words.dropFirst())
    if rest.contains("--help") || rest.contains("-h") {
        printOut(command.usage)
        return ExitCode.ok.rawValue
    }
    do {
        return try command.run(rest, CommandContext(manifestPath: manifestPath)).rawValue
    } catch let error as UsageError {  // thrown by the commands' argument parsing
        printError("wharf \(command.name): \(error.message)\n\nUsage:\n\(command.usage)")
        return ExitCode.usage.rawValue
    } catch let error as CommandFailure {
        printError("wharf \(command.name): \(error.message)")
        return ExitCode.failure.rawValue
    } catch {
        printError("wharf \(command.name): \(error)")
        return ExitCode.failure.rawValue
    }
}

exit(main())

import Foundation
import WharfHost

// MARK: - worker

/// `wharf worker`: the process a server starts for each run of a connector with `isolation: process`. Not meant to
/// be started by hand, so the main help leaves it out; `wharf worker --help` explains it.
let workerCommand = Command(
    name: "worker", summary: "(internal) The process a server runs a plugin in; started by serve and run.",
    usage: """
        wharf worker --channel-fd FD

        Started by `wharf serve` and `wharf run` for each run of a connector whose manifest entry says
        isolation: "process" (the default); not meant to be run by hand. It reads the run request from the socket
        FD (length-prefixed frames; see Core/WharfHost/Runtime/Worker/WorkerProtocol.swift), opens the deployment's
        database, caps its own memory (RLIMIT_AS) at its size plus the connector's memoryLimitMB, loads the ONE
        plugin the run needs, runs it, streams progress, log lines and the result back, and exits. The server
        records the run: if this process crashes, is killed or stops making progress, the server fails the run with
        the reason and keeps serving. Each run gets a fresh worker, so an upgraded plugin is used from the next run.
        A worker started for real-time calls instead keeps one plugin instance warm and answers calls one at a time;
        the server kills it when a call misses its deadline.
        Exit status: 0 after a result was sent, 2 when no valid request arrived, 75 when the server went away.
        """
) { words, _ in
    let arguments = try Arguments(words, valueOptions: ["--channel-fd"])
    try arguments.none()
    guard let text = arguments.options["--channel-fd"], let fd = Int32(text), fd >= 0 else {
        throw UsageError(message: "--channel-fd FD is required (the socket the server passes the worker)")
    }
    Worker.run(channel: fd)
}

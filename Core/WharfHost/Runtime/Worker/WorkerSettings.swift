import Foundation

/// How runs with `isolation: process` start and stop their `wharf worker` processes.
public struct WorkerSettings: Sendable {
    /// The `wharf` executable a worker runs as (`wharf worker`).
    public var executable: String
    /// How long a cancelled worker may take to stop at its next batch boundary before it is killed (SIGKILL).
    public var cancelGrace: Duration

    /// Settings; `executable` nil means `WorkerSettings.defaultExecutable()`.
    public init(executable: String? = nil, cancelGrace: Duration = .seconds(10)) {
        self.executable = executable ?? WorkerSettings.defaultExecutable()
        self.cancelGrace = cancelGrace
    }

    /// The `wharf` binary to start workers from: `$WHARF_WORKER_EXECUTABLE` when set; else this process's own
    /// executable when it is named `wharf`; else a `wharf` beside it (a test binary in the build folder); else this
    /// process's executable.
    public static func defaultExecutable(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit = environment["WHARF_WORKER_EXECUTABLE"], !explicit.isEmpty { return explicit }
        let own = ownExecutable()
        let url = URL(fileURLWithPath: own)
        if url.lastPathComponent == "wharf" { return own }
        let sibling = url.deletingLastPathComponent().appendingPathComponent("wharf").path
        return access(sibling, X_OK) == 0 ? sibling : own
    }

    // MARK: Not public

    /// The environment a worker starts with: this process's, plus two settings a worker needs unless the operator
    /// set them.
    func workerEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        // A crash must end the worker at once with its signal; the Swift backtracer would spend seconds first.
        if environment["SWIFT_BACKTRACE"] == nil { environment["SWIFT_BACKTRACE"] = "enable=no" }
        // A bounded number of glibc malloc arenas: each extra one reserves 64 MiB of address space, which the
        // worker adds to its RLIMIT_AS cap (see `Worker.arenaReservation`), so memoryLimitMB keeps meaning memory
        // the plugin uses. One arena would make the plugin's parser thread, the writer and the decoder contend for
        // one malloc lock (a 1M-product import took 30 % longer).
        if environment["MALLOC_ARENA_MAX"] == nil { environment["MALLOC_ARENA_MAX"] = String(Self.mallocArenas) }
        return environment
    }

    /// glibc malloc arenas a worker may use unless the operator sets MALLOC_ARENA_MAX: one per busy thread of an
    /// import (the plugin's parser, the writer, the decoder) plus the main arena.
    static let mallocArenas = 4

    /// This process's executable, from /proc/self/exe (independent of argv[0] and the working folder).
    static func ownExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments.first ?? "wharf" }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

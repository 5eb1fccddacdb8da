import Foundation

/// A `wharf worker` child process as the server sees it: its pid, its end of the frame socket, and the socket that
/// carries everything it writes to standard output and standard error.
final class WorkerProcess {
    /// The worker's process id.
    let pid: pid_t
    /// The server's end of the frame socket (the worker's is its descriptor 3).
    let channel: FrameChannel
    /// The server's end of the worker's standard output and standard error.
    let output: Int32
    private var reaped: Termination?

    /// How a worker process ended.
    struct Termination {
        /// Exit status, when it exited.
        var exitStatus: Int32?
        /// The signal that ended it, when one did.
        var signal: Int32?
        /// Its peak resident memory (bytes), from wait4.
        var peakResidentBytes: UInt64
    }

    /// Why a worker could not be started.
    struct StartError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    private init(pid: pid_t, channel: Int32, output: Int32) {
        self.pid = pid
        self.channel = FrameChannel(fd: channel)
        self.output = output
    }

    deinit {
        close(channel.fd)
        close(output)
        if reaped == nil {
            // Never leave a zombie or a stray plugin behind, whatever path got here.
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }

    /// Starts `executable worker --channel-fd 3` with the frame socket as descriptor 3 and standard output and
    /// error on a socket the server reads. Every other descriptor of this process stays closed in the child.
    static func spawn(executable: String, environment: [String: String]) throws(StartError) -> WorkerProcess {
        var channelPair: [Int32] = [-1, -1]
        var outputPair: [Int32] = [-1, -1]
        let streamType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        // Sockets, not pipes: socketpair sets close-on-exec atomically, so a worker spawned at the same moment by
        // another run's thread can never inherit this one's descriptors.
        guard socketpair(AF_UNIX, streamType, 0, &channelPair) == 0 else {
            throw StartError(message: "cannot create the worker's socket: \(String(cString: strerror(errno)))")
        }
        guard socketpair(AF_UNIX, streamType, 0, &outputPair) == 0 else {
            let error = errno
            close(channelPair[0])
            close(channelPair[1])
            throw StartError(message: "cannot create the worker's output socket: \(String(cString: strerror(error)))")
        }
        // The child's ends, moved above 9 so dup2 onto 1, 2 and 3 never meets one of them already in place.
        let childChannel = fcntl(channelPair[1], F_DUPFD_CLOEXEC, 10)
        let childOutput = fcntl(outputPair[1], F_DUPFD_CLOEXEC, 10)
        close(channelPair[1])
        close(outputPair[1])
        defer {
            close(childChannel)
            close(childOutput)
        }
        guard childChannel >= 0, childOutput >= 0 else {
            close(channelPair[0])
            close(outputPair[0])
            throw StartError(message: "cannot prepare the worker's descriptors: \(String(cString: strerror(errno)))")
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, childOutput, 1)
        posix_spawn_file_actions_adddup2(&actions, childOutput, 2)
        posix_spawn_file_actions_adddup2(&actions, childChannel, 3)
        if let closeFrom = closeFromAction {
            // Descriptors a trusted in-process plugin opened without close-on-exec stay out of workers too.
            _ = closeFrom(&actions, 4)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

        let arguments = [executable, "worker", "--channel-fd", "3"]
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            close(channelPair[0])
            close(outputPair[0])
            throw StartError(
                message: "cannot start a worker process from \(executable): \(String(cString: strerror(status))); "
                    + "set WHARF_WORKER_EXECUTABLE to the wharf binary, or set the connector's isolation to \"inprocess\"")
        }
        return WorkerProcess(pid: pid, channel: channelPair[0], output: outputPair[0])
    }

    /// Sends `signal` to the worker (nothing once it has been reaped, so a reused pid is never hit).
    func signal(_ signal: Int32) {
        guard reaped == nil else { return }
        kill(pid, signal)
    }

    /// Collects the worker's end: nil while it is still running (when `wait` is false).
    func reap(wait: Bool) -> Termination? {
        if let reaped { return reaped }
        var status: Int32 = 0
        var usage = rusage()
        var result: pid_t
        repeat {
            result = wait4(pid, &status, wait ? 0 : WNOHANG, &usage)
        } while result < 0 && errno == EINTR
        guard result == pid else { return nil }
        let peak = UInt64(max(usage.ru_maxrss, 0)) * 1024  // ru_maxrss is in KiB on Linux
        let termination =
            if status & 0x7f == 0 {
                Termination(exitStatus: (status >> 8) & 0xff, signal: nil, peakResidentBytes: peak)
            } else {
                Termination(exitStatus: nil, signal: status & 0x7f, peakResidentBytes: peak)
            }
        reaped = termination
        return termination
    }

    /// The worker's current address-space size in bytes (from /proc), nil once it is gone.
    func addressSpaceBytes() -> UInt64? {
        guard reaped == nil else { return nil }
        return WorkerProcess.addressSpaceBytes(of: "/proc/\(pid)/statm")
    }

    /// The size (first field of `statm`, in pages) of the process behind `path`, in bytes.
    static func addressSpaceBytes(of path: String) -> UInt64? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return nil }
        var pages: UInt64 = 0
        for byte in buffer.prefix(count) {
            guard byte >= 48, byte <= 57 else { break }
            pages = pages * 10 + UInt64(byte - 48)
        }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    // MARK: Not public

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32

    /// glibc 2.34+'s posix_spawn_file_actions_addclosefrom_np, looked up at run time (Swift does not import it).
    private static let closeFromAction: CloseFrom? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
    }()
}

/// The name of a signal as people know it: `SIGSEGV`.
func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGSEGV: "SIGSEGV"
    case SIGABRT: "SIGABRT"
    case SIGBUS: "SIGBUS"
    case SIGILL: "SIGILL"
    case SIGTRAP: "SIGTRAP"
    case SIGFPE: "SIGFPE"
    case SIGKILL: "SIGKILL"
    case SIGTERM: "SIGTERM"
    case SIGINT: "SIGINT"
    case SIGHUP: "SIGHUP"
    case SIGPIPE: "SIGPIPE"
    case SIGQUIT: "SIGQUIT"
    case SIGSYS: "SIGSYS"
    case SIGXCPU: "SIGXCPU"
    case SIGXFSZ: "SIGXFSZ"
    default: "signal \(signal)"
    }
}

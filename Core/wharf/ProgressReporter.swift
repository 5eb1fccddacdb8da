import Foundation
import Synchronization
import WharfHost

/// Shows a run's progress on standard error: a live line redrawn in place on a terminal, or a plain line every few
/// seconds when standard error is a file or a pipe (CI logs, systemd).
final class ProgressReporter: Sendable {
    private let progress: RunProgress
    private let connector: String
    private let done = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let interactive = isatty(STDERR_FILENO) == 1

    init(progress: RunProgress, connector: String) {
        self.progress = progress
        self.connector = connector
    }

    func start() {
        let thread = Thread { [self] in
            let interval: DispatchTimeInterval = interactive ? .milliseconds(250) : .seconds(5)
            var shown = false
            while done.wait(timeout: .now() + interval) == .timedOut {
                let line = progress.line(connector: connector)
                if interactive {
                    FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
                } else {
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                }
                shown = true
            }
            if interactive && shown { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            finished.signal()
        }
        thread.start()
    }

    func stop() {
        done.signal()
        finished.wait()
    }
}

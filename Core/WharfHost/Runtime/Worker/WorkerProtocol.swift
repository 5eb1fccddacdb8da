import Foundation
import Synchronization
import WharfModel

// MARK: - The worker protocol
//
// `wharf serve` (or `wharf run`) — the *server* — runs each connector run with `isolation: process` in a fresh
// `wharf worker` process. The two talk over one AF_UNIX stream socket (a socketpair; the worker's end is its file
// descriptor 3) in frames:
//
//     u32 length (little-endian)   bytes that follow: 1 + payload size, at least 1, at most `maxFrameBytes`
//     u8  type                     one of `FrameType`
//     ... payload                  integers little-endian and fixed width; a string is a u32 byte count and UTF-8
//
// A conversation, in order:
//
//     server -> worker  start     u32 protocol version, u16 n, n × (string key, string value): the run request
//                                 (`WorkerRequest`: run id, database, plugin folder, the connector as configured,
//                                 memory limit, log level, whether the run is already cancelled)
//     worker -> server  hello     u32 protocol version, i32 pid, u64 address-space limit set with RLIMIT_AS (bytes;
//                                 0 = none), u64 the worker's own size when it set it (bytes)
//     worker -> server  progress  5 × i64 counts (read, inserted, updated, unchanged, rejected), u64 position done,
//                                 u64 position total — after every batch the plugin emits (the batch is committed by
//                                 then) and at most every 200 ms while it only rejects or reports its position. Any
//                                 progress frame resets the deadline (`deadlineSeconds`).
//     worker -> server  log       u8 origin (0: a line for the run's log, 1: a line of the host's own log as rendered
//                                 JSON), u8 level (LogLevel raw value), string text — any time, from any thread
//     server -> worker  cancel    (no payload) — sets the run's CancellationFlag; may come any time
//     worker -> server  result    u8 state (0 succeeded, 1 failed, 2 cancelled), 5 × i64 counts, u8 has-error,
//                                 string error — the last frame; the worker exits 0 right after it
//
// A worker started for real-time calls (request key `mode` = `call`, see `CallPool`) stays up instead:
//
//     worker -> server  hello     as above
//     worker -> server  ready     string plugin id, string plugin version — the instance is created; calls may come
//                                 (a worker that cannot get there sends `result` with the reason and exits)
//     server -> worker  call      u64 call id, string operation, bytes request (u32 count + bytes)
//     worker -> server  response  u64 call id, u32 wharf_status, bytes response, u8 has-error, string error
//     worker -> server  log       any time, as above
//
// One call at a time per worker; the server kills a worker whose call outlives its deadline and starts another.
//
// Besides the frame socket, the worker's standard output and standard error share a second socket: the server logs
// what arrives there ("worker output", at most 200 lines a worker) and keeps the last line for the error of a
// worker that dies. A worker that crashes writes one last marked line there from its signal handler
// (`DeathReport`: signal, errno, address-space size), which tells a crash from running out of memory.
// Who writes what: the SERVER records the run (`beginRun` before the worker starts; `finishRun` and the run's log
// lines after it ends), so the run row is right even when the worker dies. The WORKER opens the same SQLite
// database (WAL: safe across processes) and writes what the run produces, exactly as an in-process run does:
// batches, rejects, the cursor and snapshot bookkeeping, each batch in its own transaction (or, with
// `onError: fail`, the whole run in one). A worker that dies mid-batch leaves nothing of that batch: SQLite rolls
// the open transaction back.
//
// The worker trusts nothing it did not write and the server trusts nothing the worker says beyond the counts:
// a frame that is too large, of an unknown type or cut short ends the worker (SIGKILL) and fails the run.

/// The protocol's version; a worker of another version is refused with a message.
let workerProtocolVersion: UInt32 = 1

/// The largest frame either side accepts (16 MiB): far above any real frame, small enough to never exhaust memory.
let maxFrameBytes = 16 << 20

/// What a frame is.
enum FrameType: UInt8 {
    /// Server to worker: the run request.
    case start = 1
    /// Server to worker: stop at the next batch boundary.
    case cancel = 2
    /// Server to worker: one real-time call.
    case call = 3
    /// Worker to server: set up, about to load the plugin.
    case hello = 0x81
    /// Worker to server: counts so far.
    case progress = 0x82
    /// Worker to server: a log line.
    case log = 0x83
    /// Worker to server: how the run ended (or why a call worker could not start).
    case result = 0x84
    /// Worker to server: the answer to a call.
    case response = 0x85
    /// Worker to server: a call worker is ready for calls.
    case ready = 0x86
}

/// A frame that breaks the protocol.
struct WorkerProtocolError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Builds one frame: the length is filled in by `bytes`.
struct FrameEncoder {
    private(set) var buffer: [UInt8]

    init(_ type: FrameType, capacity: Int = 64) {
        buffer = []
        buffer.reserveCapacity(capacity)
        buffer.append(contentsOf: [0, 0, 0, 0, type.rawValue])
    }

    mutating func u8(_ value: UInt8) { buffer.append(value) }
    mutating func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) } }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) } }
    mutating func i64(_ value: Int64) { u64(UInt64(bitPattern: value)) }
    mutating func i32(_ value: Int32) { u32(UInt32(bitPattern: value)) }

    /// A string, cut to fit in a frame (a log line of megabytes is a plugin bug, not a reason to fail).
    mutating func string(_ value: String) {
        var utf8 = Array(value.utf8)
        if utf8.count > maxFrameBytes / 2 { utf8 = Array(utf8.prefix(maxFrameBytes / 2)) }
        u32(UInt32(utf8.count))
        buffer.append(contentsOf: utf8)
    }

    /// Raw bytes: a u32 count and the bytes.
    mutating func data(_ value: [UInt8]) {
        u32(UInt32(value.count))
        buffer.append(contentsOf: value)
    }

    mutating func counts(_ counts: RunCounts) {
        for value in [counts.read, counts.inserted, counts.updated, counts.unchanged, counts.rejected] { i64(value) }
    }

    /// The finished frame.
    var bytes: [UInt8] {
        var out = buffer
        let length = UInt32(out.count - 4).littleEndian
        withUnsafeBytes(of: length) { raw in for i in 0..<4 { out[i] = raw[i] } }
        return out
    }
}

/// Reads the payload of one frame, refusing to read past its end.
struct PayloadReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private mutating func take(_ count: Int) throws(WorkerProtocolError) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - offset >= count else {
            throw WorkerProtocolError(message: "a frame ended early (wanted \(count) more bytes at offset \(offset) of \(bytes.count))")
        }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(WorkerProtocolError) -> T {
        let slice = try take(MemoryLayout<T>.size)
        var value: T = 0
        for (shift, byte) in slice.enumerated() { value |= T(truncatingIfNeeded: byte) << (shift * 8) }
        return value
    }

    mutating func u8() throws(WorkerProtocolError) -> UInt8 { try integer(UInt8.self) }
    mutating func u16() throws(WorkerProtocolError) -> UInt16 { try integer(UInt16.self) }
    mutating func u32() throws(WorkerProtocolError) -> UInt32 { try integer(UInt32.self) }
    mutating func u64() throws(WorkerProtocolError) -> UInt64 { try integer(UInt64.self) }
    mutating func i64() throws(WorkerProtocolError) -> Int64 { Int64(bitPattern: try u64()) }
    mutating func i32() throws(WorkerProtocolError) -> Int32 { Int32(bitPattern: try u32()) }

    mutating func string() throws(WorkerProtocolError) -> String {
        let count = Int(try u32())
        return String(decoding: try take(count), as: UTF8.self)
    }

    mutating func data() throws(WorkerProtocolError) -> [UInt8] {
        let count = Int(try u32())
        return Array(try take(count))
    }

    mutating func counts() throws(WorkerProtocolError) -> RunCounts {
        var counts = RunCounts()
        counts.read = try i64()
        counts.inserted = try i64()
        counts.updated = try i64()
        counts.unchanged = try i64()
        counts.rejected = try i64()
        return counts
    }
}

/// Collects bytes read from the socket and cuts them into frames.
struct FrameBuffer {
    private var bytes: [UInt8] = []
    private var start = 0

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        if start > 0 && start == bytes.count {
            bytes.removeAll(keepingCapacity: true)
            start = 0
        }
        bytes.append(contentsOf: chunk)
    }

    /// The next complete frame's type byte and payload, nil when more bytes are needed.
    mutating func next() throws(WorkerProtocolError) -> (type: UInt8, payload: [UInt8])? {
        guard bytes.count - start >= 4 else { return nil }
        var length = 0
        for i in 0..<4 { length |= Int(bytes[start + i]) << (8 * i) }
        guard length >= 1, length <= maxFrameBytes else {
            throw WorkerProtocolError(message: "a frame of \(length) bytes (the limit is \(maxFrameBytes))")
        }
        guard bytes.count - start >= 4 + length else { return nil }
        let type = bytes[start + 4]
        let payload = Array(bytes[(start + 5)..<(start + 4 + length)])
        start += 4 + length
        if start > 1 << 16 {
            bytes.removeFirst(start)
            start = 0
        }
        return (type, payload)
    }

    /// Bytes of a frame not yet complete.
    var pending: Int { bytes.count - start }
}

/// One end of the worker socket: whole frames out, from any thread.
final class FrameChannel: Sendable {
    /// The socket.
    let fd: Int32
    private let writeLock = Mutex(())

    init(fd: Int32) { self.fd = fd }

    /// Sends the whole frame (blocking while the peer's buffer is full). False when the peer is gone.
    @discardableResult
    func send(_ frame: FrameEncoder) -> Bool {
        let bytes = frame.bytes
        return writeLock.withLock { _ in
            bytes.withUnsafeBytes { raw -> Bool in
                var offset = 0
                while offset < raw.count {
                    let sent = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                    if sent < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    offset += sent
                }
                return true
            }
        }
    }

    /// Blocks until one whole frame arrives; nil at end of stream or on an error.
    func receive(into buffer: inout FrameBuffer) throws(WorkerProtocolError) -> (type: UInt8, payload: [UInt8])? {
        while true {
            if let frame = try buffer.next() { return frame }
            var chunk = [UInt8](repeating: 0, count: 16 << 10)
            let count = chunk.withUnsafeMutableBytes { raw in Glibc.recv(fd, raw.baseAddress, raw.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                if buffer.pending > 0 { throw WorkerProtocolError(message: "the stream ended inside a frame") }
                return nil
            }
            chunk.withUnsafeBytes { buffer.append(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }
}

// MARK: - Frames both sides build

extension RunState {
    /// The state's byte in a result frame.
    var frameCode: UInt8 {
        switch self {
        case .succeeded: 0
        case .failed: 1
        case .cancelled: 2
        case .running: 3
        }
    }

    init?(frameCode: UInt8) {
        switch frameCode {
        case 0: self = .succeeded
        case 1: self = .failed
        case 2: self = .cancelled
        default: return nil
        }
    }
}

/// How a run ended: what gets recorded with `finishRun`.
struct RunOutcome: Sendable {
    var state: RunState
    var counts: RunCounts
    var error: String?
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs a producer (parsing a feed, say) on a thread of its own while the calling thread consumes what it produces
/// (emitting to the host, which must happen on the operation's thread), so that reading and writing overlap on two
/// cores. At most `capacity` items wait between them, so memory stays bounded.
///
/// ```swift
/// let stats = try ProducerPipeline.run(capacity: 4, produce: { send in
///     try reader.read(path: path) { items in try send(items) }      // producer thread
/// }, consume: { items in
///     for item in items { try batcher.add(item) }                    // calling thread
/// })
/// ```
///
/// Order is kept. When the producer throws, everything it sent before is consumed first and then its error is
/// rethrown. When the consumer throws, `send` throws ``Stopped`` in the producer (which should let it propagate), the
/// producer thread is joined, and the consumer's error is rethrown. The producer must not use host services that
/// are bound to the operation's thread (`emit`, `reject`, …); `log` and `isCancelled` are allowed.
public enum ProducerPipeline {
    /// Thrown by `send` once the consumer has stopped: the producer should end.
    public struct Stopped: Error, Sendable {
        /// Creates the error (a producer may rethrow its own after cleaning up).
        public init() {}
    }

    /// Runs `produce` on a new thread and `consume` on this one; returns what `produce` returned.
    public static func run<Item, Result>(
        capacity: Int = 4,
        produce: (_ send: (Item) throws -> Void) throws -> Result,
        consume: (Item) throws -> Void
    ) throws -> Result {
        let queue = Queue<Item, Result>(capacity: max(1, capacity))
        return try withoutActuallyEscaping(produce) { produce in
            let job = Job {
                do {
                    let result = try produce { item throws in
                        guard queue.push(.item(item)) else { throw Stopped() }
                    }
                    _ = queue.push(.finished(result))
                } catch {
                    _ = queue.push(.failed(error))
                }
            }
            var thread = pthread_t()
            let retained = Unmanaged.passRetained(job)
            let status = pthread_create(&thread, nil, { argument in
                let job = Unmanaged<Job>.fromOpaque(argument!).takeRetainedValue()
                job.body()
                return nil
            }, retained.toOpaque())
            guard status == 0 else {
                retained.release()
                // No thread: run the producer here, unbounded by design of the fallback (rare: out of threads).
                return try produce { item in try consume(item) }
            }
            defer { pthread_join(thread, nil) }
            while true {
                let next = queue.pop()
                switch next {
                case .item(let item):
                    do {
                        try consume(item)
                    } catch {
                        queue.abandon()
                        throw error
                    }
                case .finished(let result):
                    return result
                case .failed(let error):
                    throw error
                }
            }
        }
    }

    // MARK: Not public

    enum Message<Item, Result> {
        case item(Item)
        case finished(Result)
        case failed(any Error)
    }

    /// The producer's work; `@unchecked Sendable` because the calling thread joins the thread before the closure's
    /// captures go out of scope.
    final class Job: @unchecked Sendable {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// A bounded blocking queue between one producer and one consumer.
    final class Queue<Item, Result>: @unchecked Sendable {
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        // Slots before `head` were popped and are nil, so a popped item is freed as soon as its consumer is done
        // with it, even while the producer keeps the queue from ever running empty.
        private var items: [Message<Item, Result>?] = []
        private var head = 0
        private let capacity: Int
        private var abandoned = false

        init(capacity: Int) {
            self.capacity = capacity
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(changed, nil)
        }

        deinit {
            pthread_cond_destroy(changed)
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
            changed.deallocate()
        }

        /// Adds a message, waiting while the queue is full; false once the consumer abandoned the queue (the
        /// message is dropped).
        func push(_ message: Message<Item, Result>) -> Bool {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            while !abandoned && items.count - head >= capacity { pthread_cond_wait(changed, mutex) }
            if abandoned { return false }
            items.append(message)
            pthread_cond_broadcast(changed)
            return true
        }

        /// Takes the oldest message, waiting while there is none.
        func pop() -> Message<Item, Result> {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            while items.count == head { pthread_cond_wait(changed, mutex) }
            let message = items[head].take()!
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64 {
                // Never drained: drop the popped slots now and then, so the array stays as small as the queue.
                items.removeFirst(head)
                head = 0
            }
            pthread_cond_broadcast(changed)
            return message
        }

        /// The consumer stops: pending and future messages are dropped and the producer is woken.
        func abandon() {
            pthread_mutex_lock(mutex)
            abandoned = true
            items.removeAll()
            head = 0
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
    }
}

import Synchronization
import WharfPluginKit
import XCTest

/// The producer thread / consumer thread hand-over used to overlap parsing with emitting.
final class ProducerPipelineTests: XCTestCase {
    struct Boom: Error, Equatable { var at: Int }

    func testItemsArriveInOrderAndTheResultComesBack() throws {
        var seen: [Int] = []
        let result = try ProducerPipeline.run(capacity: 2, produce: { send in
            for index in 0..<1000 { try send(index) }
            return "done"
        }, consume: { seen.append($0) })
        XCTAssertEqual(result, "done")
        XCTAssertEqual(seen, Array(0..<1000))
    }

    /// Counts its live instances, to see what the queue still holds.
    final class Tracked: Sendable {
        static let live = Atomic<Int>(0)
        init() { Self.live.add(1, ordering: .relaxed) }
        deinit { Self.live.subtract(1, ordering: .relaxed) }
    }

    func testConsumedItemsAreFreedEvenWhenTheQueueNeverRunsEmpty() throws {
        // A slow consumer and a fast producer: the queue is full at every pop, never empty. Each consumed item must
        // be freed then, not kept until the queue happens to drain (a 1M-product feed once grew to 500 MB so).
        var mostAlive = 0
        try ProducerPipeline.run(capacity: 4, produce: { send in
            for _ in 0..<300 { try send(Tracked()) }
        }, consume: { (_: Tracked) in
            usleep(500)
            mostAlive = max(mostAlive, Tracked.live.load(ordering: .relaxed))
        })
        XCTAssertLessThanOrEqual(mostAlive, 4 + 3, "at most the queue's capacity, the item in hand and one being made")
        XCTAssertEqual(Tracked.live.load(ordering: .relaxed), 0)
    }

    func testAProducerErrorComesAfterEverythingItSentBefore() {
        var seen: [Int] = []
        XCTAssertThrowsError(try ProducerPipeline.run(produce: { send in
            for index in 0..<10 { try send(index) }
            throw Boom(at: 10)
        }, consume: { seen.append($0) })) { XCTAssertEqual($0 as? Boom, Boom(at: 10)) }
        XCTAssertEqual(seen, Array(0..<10))
    }

    func testAConsumerErrorStopsTheProducerWithoutDeadlock() {
        let produced = Atomic<Int>(0)
        let stopped = Atomic<Bool>(false)
        XCTAssertThrowsError(try ProducerPipeline.run(capacity: 3, produce: { send in
            do {
                for index in 0..<1_000_000 {
                    try send(index)
                    produced.add(1, ordering: .relaxed)
                }
            } catch is ProducerPipeline.Stopped {
                stopped.store(true, ordering: .relaxed)
                throw ProducerPipeline.Stopped()
            }
            return 0
        }, consume: { (item: Int) in
            if item == 5 { throw Boom(at: 5) }
        })) { XCTAssertEqual($0 as? Boom, Boom(at: 5)) }
        XCTAssertTrue(stopped.load(ordering: .relaxed), "the producer learned that the consumer stopped")
        XCTAssertLessThan(produced.load(ordering: .relaxed), 5 + 3 + 2, "bounded: the producer never ran far ahead")
    }

    func testTheProducerRunsOnAnotherThread() throws {
        let consumerThread = pthread_self()
        let producerThread = try ProducerPipeline.run(produce: { _ in pthread_self() }, consume: { (_: Int) in })
        XCTAssertEqual(pthread_equal(consumerThread, producerThread), 0)
    }
}

import Glibc

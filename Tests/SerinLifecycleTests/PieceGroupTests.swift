import Logging
import SerinLifecycle
import Testing

/// The order pieces stopped in.
actor StopOrder {
    private(set) var names: [String] = []

    func stopped(_ name: String) { names.append(name) }
}

@Suite("PieceGroup")
struct PieceGroupTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// A listener stopped at once, a slow one, and a loop: listed in start order.
    static func pieces(_ order: StopOrder) -> [ServicePiece] {
        [
            .stopping("first") { await order.stopped("first") },
            .stopping("slow") {
                try? await Task.sleep(for: .milliseconds(100))
                await order.stopped("slow")
            },
            .loop("loop") {
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(10)) }
                await order.stopped("loop")
            },
        ]
    }

    @Test("stop stops the pieces last first, each finished before the next is told, and returns when all are")
    func stopsInReverse() async {
        let order = StopOrder()
        let group = PieceGroup(Self.pieces(order), logger: Self.quiet)
        await group.stop()
        #expect(await order.names == ["loop", "slow", "first"])
    }

    @Test("cancelling the task that runs them stops them in the same order, not all at once")
    func cancelStopsInReverse() async {
        let order = StopOrder()
        let running = Task { await PieceGroup(Self.pieces(order), logger: Self.quiet).runUntilCancelled() }
        try? await Task.sleep(for: .milliseconds(50))
        running.cancel()
        await running.value
        #expect(await order.names == ["loop", "slow", "first"])
    }
}

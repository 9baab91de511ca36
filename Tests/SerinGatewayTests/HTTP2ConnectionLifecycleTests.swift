@testable import SerinGateway
import Testing

/// The close decisions of one HTTP/2 client connection: idle timeout, and the drain's two GOAWAYs.
@Suite("HTTP/2 connection lifecycle")
struct HTTP2ConnectionLifecycleTests {
    typealias Action = HTTP2ConnectionLifecycle.Action

    @Test("a connection without streams arms the idle timer; a stream cancels it; the timeout closes with a GOAWAY")
    func idle() {
        var lifecycle = HTTP2ConnectionLifecycle()
        #expect(lifecycle.streamOpened(id: 1) == .cancelIdleTimer)
        #expect(lifecycle.streamOpened(id: 3) == .none)
        #expect(lifecycle.streamClosed() == .none)
        #expect(lifecycle.streamClosed() == .armIdleTimer)
        #expect(lifecycle.idleTimedOut() == .closeAfterGoAway(lastStreamID: 3))
        #expect(lifecycle.phase == .closed)
    }

    @Test("a timer that fires as a stream opens closes nothing")
    func idleRace() {
        var lifecycle = HTTP2ConnectionLifecycle()
        _ = lifecycle.streamOpened(id: 1)
        #expect(lifecycle.idleTimedOut() == .none)
        #expect(lifecycle.phase == .serving)
    }

    @Test("a drain announces itself, names the last stream taken after the PING's round trip, and closes when the last stream ends")
    func drainWithOpenStreams() {
        var lifecycle = HTTP2ConnectionLifecycle()
        _ = lifecycle.streamOpened(id: 1)
        _ = lifecycle.streamOpened(id: 3)
        #expect(lifecycle.drainBegan() == .announceDrain)
        #expect(lifecycle.drainBegan() == .none)
        // A stream the client opened before it read the first GOAWAY is still taken.
        #expect(lifecycle.streamOpened(id: 5) == .none)
        #expect(lifecycle.pingAcknowledged() == .sendFinalGoAway(lastStreamID: 5))
        #expect(lifecycle.pingAcknowledged() == .none)
        #expect(lifecycle.streamClosed() == .none)
        #expect(lifecycle.streamClosed() == .none)
        #expect(lifecycle.streamClosed() == .closeAfterGoAway(lastStreamID: 5))
        #expect(lifecycle.phase == .closed)
    }

    @Test("a drain of a connection whose streams are done closes at the PING's acknowledgement, with no idle timer in between")
    func drainWhenIdle() {
        var lifecycle = HTTP2ConnectionLifecycle()
        _ = lifecycle.streamOpened(id: 1)
        #expect(lifecycle.drainBegan() == .announceDrain)
        #expect(lifecycle.streamClosed() == .none)
        #expect(lifecycle.idleTimedOut() == .none)
        #expect(lifecycle.pingAcknowledged() == .closeAfterGoAway(lastStreamID: 1))
    }

    @Test("a client that never acknowledges the PING gets the final GOAWAY when the wait runs out")
    func drainWithoutAcknowledgement() {
        var lifecycle = HTTP2ConnectionLifecycle()
        #expect(lifecycle.drainBegan() == .announceDrain)
        #expect(lifecycle.announcementTimedOut() == .closeAfterGoAway(lastStreamID: 0))
    }

    @Test("a connection that closed on its own ignores a later drain")
    func closedIgnoresDrain() {
        var lifecycle = HTTP2ConnectionLifecycle()
        lifecycle.connectionClosed()
        #expect(lifecycle.drainBegan() == .none)
        #expect(lifecycle.pingAcknowledged() == .none)
    }
}

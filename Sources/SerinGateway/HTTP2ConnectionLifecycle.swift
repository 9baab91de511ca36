/// When one HTTP/2 client connection closes, decided apart from its IO: the idle timeout while no stream is open,
/// and the graceful close a drain starts (RFC 9113 §6.8, as Envoy and nghttp2 do it): a first GOAWAY naming the
/// highest stream id (2^31-1) and a PING, so the client stops opening streams without losing any it sent in the
/// meantime; after the PING's round trip, a second GOAWAY naming the last stream the gateway took, so the client
/// knows exactly which requests to send elsewhere; then, once the streams still open have finished, the close.
///
/// Events in, one `Action` out, as `ProxyStateMachine`; `HTTP2ServerConnection` runs the actions.
struct HTTP2ConnectionLifecycle: Equatable {
    enum Phase: Equatable {
        case serving
        /// The first GOAWAY and its PING went out; the PING's acknowledgement is awaited.
        case announced
        /// The final GOAWAY went out: the connection closes when its last stream does.
        case finishing
        case closed
    }

    enum Action: Equatable {
        case none
        /// No stream is open: close the connection after the idle timeout, unless a stream opens first.
        case armIdleTimer
        case cancelIdleTimer
        /// Send GOAWAY(2^31-1, NO_ERROR) and a PING, and report `pingAcknowledged()` when its ACK comes (or
        /// `announcementTimedOut()` if none does).
        case announceDrain
        /// Send GOAWAY(`lastStreamID`, NO_ERROR): streams above it were never taken.
        case sendFinalGoAway(lastStreamID: Int)
        /// Send GOAWAY(`lastStreamID`, NO_ERROR) — again, after a drain's — and close the connection once it, and
        /// so every answer before it, is written.
        case closeAfterGoAway(lastStreamID: Int)
    }

    private(set) var phase = Phase.serving
    private(set) var openStreams = 0
    /// The highest stream id the client opened: what the final GOAWAY names.
    private(set) var lastStreamID = 0

    /// A client stream opened.
    mutating func streamOpened(id: Int) -> Action {
        lastStreamID = max(lastStreamID, id)
        openStreams += 1
        return openStreams == 1 && phase == .serving ? .cancelIdleTimer : .none
    }

    /// A client stream closed (answered, reset or refused).
    mutating func streamClosed() -> Action {
        openStreams = max(0, openStreams - 1)
        guard openStreams == 0 else { return .none }
        switch phase {
        case .serving: return .armIdleTimer
        case .finishing:
            phase = .closed
            return .closeAfterGoAway(lastStreamID: lastStreamID)
        case .announced, .closed: return .none
        }
    }

    /// The idle timer fired: a connection still without streams closes, saying so with a GOAWAY.
    mutating func idleTimedOut() -> Action {
        guard phase == .serving, openStreams == 0 else { return .none }
        phase = .closed
        return .closeAfterGoAway(lastStreamID: lastStreamID)
    }

    /// The gateway began draining.
    mutating func drainBegan() -> Action {
        guard phase == .serving else { return .none }
        phase = .announced
        return .announceDrain
    }

    /// The client acknowledged the drain's PING: every stream it opened before reading the first GOAWAY has arrived.
    mutating func pingAcknowledged() -> Action {
        guard phase == .announced else { return .none }
        guard openStreams > 0 else {
            phase = .closed
            return .closeAfterGoAway(lastStreamID: lastStreamID)
        }
        phase = .finishing
        return .sendFinalGoAway(lastStreamID: lastStreamID)
    }

    /// No acknowledgement came in time: the final GOAWAY goes anyway.
    mutating func announcementTimedOut() -> Action { pingAcknowledged() }

    /// The connection closed, for whatever reason.
    mutating func connectionClosed() {
        phase = .closed
    }
}

import NIOCore

/// Pauses a listening socket for a moment after the kernel fails an accept, and reports the failure.
///
/// A failed accept (`EMFILE`: out of file descriptors) leaves the connection in the listen backlog, so the socket
/// stays readable. NIO keeps the socket registered for reads after a failed accept: `AcceptBackoffHandler`, which
/// only holds back the next `read`, does not stop the event loop from waking at once and failing again, in a busy
/// loop on a whole core. Turning `autoRead` off takes the socket out of the poll set; it goes back after `pause`.
/// Every listener Serin opens (the gateway's ports, the mesh listener, the admin endpoints) carries one.
public final class AcceptPause: ChannelInboundHandler {
    public typealias InboundIn = any Channel
    public typealias InboundOut = any Channel

    /// How long a listener stops accepting after a failed accept: ten retries a second while connections wait.
    public static let defaultPause: TimeAmount = .milliseconds(100)

    private let pause: TimeAmount
    private let failed: (IOError) -> Void
    private var paused = false

    /// - Parameter failed: told each failed accept, on the listener's event loop.
    public init(pause: TimeAmount = AcceptPause.defaultPause, failed: @escaping (IOError) -> Void = { _ in }) {
        self.pause = pause
        self.failed = failed
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? IOError else { return context.fireErrorCaught(error) }
        failed(error)
        guard !paused, let options = context.channel.syncOptions else { return }
        paused = true
        try? options.setOption(.autoRead, value: false)
        context.eventLoop.assumeIsolated().scheduleTask(in: pause) { [self] in
            paused = false
            // Back in the poll set: connections still waiting are accepted now, or the next failure pauses again.
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Pauses a listening socket for a moment after the kernel fails an accept, and reports the failure.
///
/// A failed accept (`EMFILE`: out of file descriptors) leaves the connection in the listen backlog, so the socket
/// stays readable. NIO keeps the socket registered for reads after a failed accept: `AcceptBackoffHandler`, which
/// only holds back the next `read`, does not stop the event loop from waking at once and failing again, in a busy
/// loop on a whole core. Turning `autoRead` off takes the socket out of the poll set; it goes back after `pause`.
/// Every listener Serin opens (the gateway's ports, the mesh listener, the admin endpoints) carries one.
///
/// With a `DescriptorReserve`, a listener pauses the same way after an accept that leaves fewer descriptors free than
/// the reserve, and goes back only once they are free: the gateway's ports and mesh listener keep one, so the process
/// never runs all the way out (see `DescriptorReserve` for what that would end).
public final class AcceptPause: ChannelInboundHandler {
    public typealias InboundIn = any Channel
    public typealias InboundOut = any Channel

    /// How long a listener stops accepting after a failed accept: ten retries a second while connections wait.
    public static let defaultPause: TimeAmount = .milliseconds(100)

    private let pause: TimeAmount
    private let reserve: DescriptorReserve?
    private let failed: (String) -> Void
    private var paused = false

    /// - Parameters:
    ///   - reserve: descriptors the listener leaves free; nil, it accepts until the kernel fails.
    ///   - failed: told, on the listener's event loop, why each accept failed or was held back
    ///     (`Too many open files (errno 24)`, or the reserve's `shortage`).
    public init(pause: TimeAmount = AcceptPause.defaultPause, reserve: DescriptorReserve? = nil, failed: @escaping (String) -> Void = { _ in }) {
        self.pause = pause
        self.reserve = reserve
        self.failed = failed
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
        guard let reserve, !paused, !reserve.isAvailable else { return }
        failed(reserve.shortage)
        pauseAccepting(context)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? IOError else { return context.fireErrorCaught(error) }
        failed(String(cString: strerror(error.errnoCode)) + " (errno \(error.errnoCode))")
        guard !paused else { return }
        pauseAccepting(context)
    }

    private func pauseAccepting(_ context: ChannelHandlerContext) {
        guard let options = context.channel.syncOptions else { return }
        paused = true
        try? options.setOption(.autoRead, value: false)
        context.eventLoop.assumeIsolated().scheduleTask(in: pause) { [self] in
            paused = false
            // Still short of the reserve: another pause, said as another failure, without taking a descriptor.
            if let reserve, !reserve.isAvailable {
                failed(reserve.shortage)
                return pauseAccepting(context)
            }
            // Back in the poll set: connections still waiting are accepted now, or the next failure pauses again.
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }
}

import Logging
import ServiceLifecycle

/// Pieces that run together from the moment they are listed and stop in reverse order when their owner says
/// so — `GatewayRuntime.shutdown()`, a leader whose Lease is gone — rather than on a signal.
///
/// Cancelling the task that runs a `ServiceGroup` cancels every service at once; owners that need the
/// order (the watcher before the controller it feeds, the controller before the gateway it steers) stop the
/// group gracefully instead.
public final class PieceGroup: Sendable {
    private let group: ServiceGroup
    private let running: Task<Void, Never>

    /// Starts every piece now.
    public init(_ pieces: [ServicePiece], logger: Logger) {
        let group = ServiceGroup(configuration: .init(services: pieces.map { .init(service: $0) }, logger: logger))
        self.group = group
        running = Task {
            do { try await group.run() } catch { logger.error("\(pieces) stopped: \(error)", error: error) }
        }
    }

    /// Stops the pieces last first, each one finished before the next is told, and returns when all are. Cancelling
    /// the caller (a second SIGTERM or Ctrl-C) cancels the pieces still stopping: each ends its stop at once.
    public func stop() async {
        await withTaskCancellationHandler {
            await group.triggerGracefulShutdown()
            await running.value
        } onCancel: {
            running.cancel()
        }
    }

    /// Waits while the pieces run; when the calling task is cancelled, stops them in order and returns then.
    public func runUntilCancelled() async {
        await withTaskCancellationHandler {
            await running.value
        } onCancel: {
            let group = self.group
            Task { await group.triggerGracefulShutdown() }
        }
    }
}

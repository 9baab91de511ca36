import ServiceLifecycle

/// One piece of a long-running command (a listener, a loop, a watcher) as a ServiceLifecycle `Service`, so a
/// command reads as the list of its pieces and a `ServiceGroup` stops them in reverse order on SIGTERM.
///
/// A piece is one of two shapes: a loop that runs until graceful shutdown and is then cancelled and awaited
/// (the controller, a watcher), or a thing already started that waits for graceful shutdown and then stops
/// (a listener that drains, an endpoint that closes).
public struct ServicePiece: Service, CustomStringConvertible {
    public let description: String
    private let body: @Sendable () async -> Void

    private init(_ name: String, body: @escaping @Sendable () async -> Void) {
        description = name
        self.body = body
    }

    /// Runs `work` until graceful shutdown, then cancels it and returns once it has wound down (a controller
    /// finishes the step it is in).
    public static func loop(_ name: String, _ work: @escaping @Sendable () async -> Void) -> ServicePiece {
        ServicePiece(name) { await cancelWhenGracefulShutdown(work) }
    }

    /// Waits for graceful shutdown (or cancellation), then runs `stop` to the end.
    public static func stopping(_ name: String, _ stop: @escaping @Sendable () async -> Void) -> ServicePiece {
        ServicePiece(name) {
            try? await gracefulShutdown()
            await stop()
        }
    }

    public func run() async throws { await body() }
}

import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import SerinSystem
import ServiceLifecycle

/// A Hummingbird responder serving on `host:port` in the background, for the commands and tests that start a
/// listener, need the port it bound (port 0 picks one) and close it later, without running a ServiceGroup.
///
/// Closing shuts the application down gracefully: it stops accepting, answers in flight get up to `gracePeriod`
/// to finish (an event stream ends at once, see `ControllerEventStream`) before the rest are cut, and `close()`
/// returns once every connection is gone, so none outlives the event loops its owner shuts down next.
public final class HTTPListener: Sendable {
    public let host: String
    /// The port actually bound.
    public let port: Int
    private let services: ServiceGroup
    private let running: Task<Void, any Error>

    private init(host: String, port: Int, services: ServiceGroup, running: Task<Void, any Error>) {
        self.host = host
        self.port = port
        self.services = services
        self.running = running
    }

    /// Binds `host:port` and serves `responder` until `close()`; throws what binding threw.
    public static func start<Responder: HTTPResponder>(
        _ responder: Responder, host: String, port: Int, group: any EventLoopGroup, gracePeriod: Duration = .seconds(5),
        logger: Logger = HTTPListener.quietLogger
    ) async throws -> HTTPListener where Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
        let (bound, reportBound) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            responder: responder, server: HTTPListener.server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                // First in the pipeline, ahead of NIO's AcceptBackoffHandler, which cannot stop the busy loop alone.
                try? await channel.pipeline.addHandler(AcceptPause(), position: .first)
                reportBound.yield(channel.localAddress?.port ?? port)
                reportBound.finish()
            },
            eventLoopGroupProvider: .shared(group), logger: logger
        )
        var configuration = ServiceGroupConfiguration(services: [application], logger: logger)
        // A slow answer (a webhook that takes a minute, a client that stopped reading) must not hold a close forever.
        configuration.maximumGracefulShutdownDuration = gracePeriod
        let services = ServiceGroup(configuration: configuration)
        let running = Task {
            defer { reportBound.finish() }
            try await services.run()
        }
        var ports = bound.makeAsyncIterator()
        guard let boundPort = await ports.next() else {
            // The application ended before it listened: binding failed.
            try await running.value
            throw NotListening(address: "\(host):\(port)")
        }
        return HTTPListener(host: host, port: boundPort, services: services, running: running)
    }

    /// Stops listening, lets the answers in flight finish (cutting those still running after the grace period), and
    /// waits until every connection is gone.
    public func close() async {
        await services.triggerGracefulShutdown()
        _ = await running.result
    }

    /// HTTP/1.1 as Hummingbird serves it, with HTTP/1.0's end of connection kept (`HTTP10ConnectionClose`): the
    /// server of every Serin listener built on Hummingbird.
    public static var server: HTTPServerBuilder { .http1(additionalChannelHandlers: [HTTP10ConnectionClose()]) }

    /// Warnings and errors only: Hummingbird's per-start and per-request lines are not Serin's output.
    public static var quietLogger: Logger {
        var logger = Logger(label: "serin.http")
        logger.logLevel = .warning
        return logger
    }

    struct NotListening: Error, CustomStringConvertible {
        var address: String
        var description: String { "the server for \(address) stopped before it listened" }
    }
}

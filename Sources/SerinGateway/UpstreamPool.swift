import NIOCore
import NIOHTTP1
import NIOPosix

/// Idle keep-alive connections to upstream endpoints, for one event loop.
///
/// Every method runs on `eventLoop`; connections are opened on the same loop as the client
/// connection that needs them, so an exchange never hops threads.
final class UpstreamPool {
    let eventLoop: any EventLoop
    private var idle: [EndpointAddress: [UpstreamConnection]] = [:]
    /// Idle connections kept per endpoint; more are closed when released.
    let maxIdlePerEndpoint: Int
    let connectTimeout: TimeAmount

    init(eventLoop: any EventLoop, maxIdlePerEndpoint: Int = 128, connectTimeout: TimeAmount = .seconds(3)) {
        self.eventLoop = eventLoop
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.connectTimeout = connectTimeout
    }

    /// Hands an idle connection to `endpoint`, or a new one, to `completion` (on this loop).
    func lease(_ endpoint: EndpointAddress, _ completion: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        eventLoop.assertInEventLoop()
        while let connection = idle[endpoint]?.popLast() {
            if connection.channel.isActive && !connection.isClosed {
                connection.onIdleClose = nil
                // A read held back for an earlier client must not leave this exchange waiting.
                connection.resumeReading()
                completion(.success(connection))
                return
            }
        }
        connect(endpoint, completion)
    }

    /// Returns a connection that finished its exchange cleanly.
    func release(_ connection: UpstreamConnection) {
        eventLoop.assertInEventLoop()
        connection.delegate = nil
        guard connection.channel.isActive, !connection.isClosed, !connection.closeAfterResponse,
            idle[connection.endpoint, default: []].count < maxIdlePerEndpoint
        else {
            connection.close()
            return
        }
        connection.onIdleClose = { [weak self] closed in self?.forget(closed) }
        // Reads held back while the last client was slow: idle connections must keep reading to see a close.
        connection.resumeReading()
        idle[connection.endpoint, default: []].append(connection)
    }

    /// Closes every idle connection (shutdown).
    func closeAll() {
        for connections in idle.values { for connection in connections { connection.close() } }
        idle.removeAll()
    }

    var idleCount: Int { idle.values.reduce(0) { $0 + $1.count } }

    private func forget(_ connection: UpstreamConnection) {
        idle[connection.endpoint]?.removeAll { $0 === connection }
    }

    private func connect(
        _ endpoint: EndpointAddress, _ completion: @escaping (Result<UpstreamConnection, any Error>) -> Void
    ) {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .assumeIsolated()
            .whenComplete { result in
                completion(
                    result.flatMap { channel in
                        Result {
                            let connection = UpstreamConnection(channel: channel, endpoint: endpoint)
                            try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self).connection = connection
                            return connection
                        }
                    }
                )
            }
    }
}

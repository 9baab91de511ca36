import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL

/// The HTTP/2 connections of one event loop to endpoints whose port speaks HTTP/2 or gRPC: one connection per
/// endpoint (and cluster, whose TLS it uses) carries every request of this loop to it, each on its own stream,
/// as Envoy multiplexes. A lease opens a stream and hands it over as an `UpstreamConnection` used once.
/// Streams do not count against a cluster's connection budget; the connection opens as any does (connect
/// timeout, TLS with ALPN h2) and is forgotten when it closes, so the next request opens a new one.
final class HTTP2UpstreamSessions {
    let eventLoop: any EventLoop
    let connectTimeout: TimeAmount
    private var sessions: [Key: Session] = [:]

    private struct Key: Hashable {
        let endpoint: EndpointAddress
        let cluster: ObjectIdentifier?
    }

    private final class Session {
        var multiplexer: NIOHTTP2Handler.StreamMultiplexer?
        var channel: (any Channel)?
        var waiting: [(Result<NIOHTTP2Handler.StreamMultiplexer, any Error>) -> Void] = []
        let overTLS: Bool

        init(overTLS: Bool) {
            self.overTLS = overTLS
        }
    }

    init(eventLoop: any EventLoop, connectTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.connectTimeout = connectTimeout
    }

    /// Open connections, for tests and metrics.
    var connectionCount: Int { sessions.values.filter { $0.channel != nil }.count }

    /// A new stream to `endpoint`, on the loop's connection to it (opened first when there is none).
    func lease(
        _ endpoint: EndpointAddress, cluster: UpstreamCluster?, _ completion: @escaping (Result<UpstreamConnection, any Error>) -> Void
    ) {
        eventLoop.assertInEventLoop()
        let key = Key(endpoint: endpoint, cluster: cluster.map(ObjectIdentifier.init))
        let session: Session
        if let existing = sessions[key] {
            session = existing
        } else {
            let tls: NIOSSLContext?
            switch cluster?.tls {
            case .failure(let error): return completion(.failure(error))
            case .success(let context): tls = context
            case nil: tls = nil
            }
            session = Session(overTLS: tls != nil)
            sessions[key] = session
            connect(key, session: session, tls: tls, sni: cluster?.sni, timeout: cluster?.connectTimeout ?? connectTimeout)
        }
        let overTLS = session.overTLS
        let openStream: (Result<NIOHTTP2Handler.StreamMultiplexer, any Error>) -> Void = { result in
            switch result {
            case .failure(let error):
                completion(.failure(error))
            case .success(let multiplexer):
                let promise = self.eventLoop.makePromise(of: (any Channel).self)
                multiplexer.createStreamChannel(promise: promise) { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.pipeline.syncOperations.addHandlers([HTTP2ClientStream(overTLS: overTLS), UpstreamHandler()])
                    }
                }
                promise.futureResult.assumeIsolated().whenComplete { result in
                    completion(
                        result.flatMap { stream in
                            Result {
                                let connection = UpstreamConnection(channel: stream, endpoint: endpoint)
                                // One request per stream: the pool closes it when the exchange is over.
                                connection.closeAfterResponse = true
                                connection.http2Stream = try stream.pipeline.syncOperations.handler(type: HTTP2ClientStream.self)
                                try stream.pipeline.syncOperations.handler(type: UpstreamHandler.self).connection = connection
                                return connection
                            }
                        }
                    )
                }
            }
        }
        if let multiplexer = session.multiplexer {
            openStream(.success(multiplexer))
        } else {
            session.waiting.append(openStream)
        }
    }

    private func connect(_ key: Key, session: Session, tls: NIOSSLContext?, sni: String?, timeout: TimeAmount) {
        let configuration = HTTP2Connection.configuration
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: sni)) }
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: configuration.connection, streamConfiguration: configuration.stream
                    ) { stream in stream.eventLoop.makeSucceededVoidFuture() }
                }
            }
            .connect(host: key.endpoint.host, port: key.endpoint.port)
            .assumeIsolated()
            .whenComplete { result in
                let waiting = session.waiting
                session.waiting = []
                switch result {
                case .failure(let error):
                    if self.sessions[key] === session { self.sessions[key] = nil }
                    for waiter in waiting { waiter(.failure(error)) }
                case .success(let channel):
                    let multiplexer: NIOHTTP2Handler.StreamMultiplexer
                    do {
                        multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
                    } catch {
                        channel.close(promise: nil)
                        for waiter in waiting { waiter(.failure(error)) }
                        return
                    }
                    session.channel = channel
                    session.multiplexer = multiplexer
                    channel.closeFuture.assumeIsolated().whenComplete { _ in
                        if self.sessions[key] === session { self.sessions[key] = nil }
                    }
                    for waiter in waiting { waiter(.success(multiplexer)) }
                }
            }
    }

    /// Closes every connection (shutdown).
    func closeAll() {
        for session in sessions.values { session.channel?.close(promise: nil) }
        sessions.removeAll()
    }
}

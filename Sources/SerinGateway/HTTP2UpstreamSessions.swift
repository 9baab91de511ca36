import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS
import SerinCore

/// The HTTP/2 connections of one event loop to endpoints whose port speaks HTTP/2 or gRPC: one connection per
/// endpoint (and cluster, whose TLS it uses) carries every request of this loop to it, each on its own stream,
/// as Envoy multiplexes — or, under a DestinationRule's `maxConcurrentStreams`, as many connections as it takes to
/// keep each at or under that many streams. A lease opens a stream and hands it over as an `UpstreamConnection`
/// used once. Each connection counts once against its cluster's `tcp.maxConnections`; with none left, a stream goes on
/// the least busy connection already open, beyond `maxConcurrentStreams` (NIOHTTP2 holds a stream the server's own
/// limit has no room for until one ends), and a loop with none to the endpoint opens its first anyway, as Envoy
/// gives each connection pool one. The connection opens as any does
/// (connect timeout, TLS with ALPN h2) and is forgotten when it closes, so the next request opens a new one.
final class HTTP2UpstreamSessions {
    let eventLoop: any EventLoop
    let connectTimeout: TimeAmount
    private var sessions: [Key: [Session]] = [:]
    /// Connections past `maxConnectionDuration` still carrying streams: out of `sessions`, so no new stream finds
    /// them, but closed with the rest at shutdown.
    private var retired: [ObjectIdentifier: Session] = [:]

    private struct Key: Hashable {
        let endpoint: EndpointAddress
        let cluster: ObjectIdentifier?
        /// The request host the connection's TLS named the server by, when its cluster names it per request.
        let serverHost: String?
    }

    private final class Session {
        var multiplexer: NIOHTTP2Handler.StreamMultiplexer?
        /// The server's GOAWAY, once it sends one: its streams above the last it names were never processed.
        let goAway = UpstreamGoAway()
        var channel: (any Channel)?
        var waiting: [(Result<NIOHTTP2Handler.StreamMultiplexer, any Error>) -> Void] = []
        /// Streams leased and not closed yet.
        var activeStreams = 0 {
            didSet { if retired && activeStreams == 0 { channel?.close(promise: nil) } }
        }
        /// Past its cluster's `maxConnectionDuration`: it takes no new stream, and closes when its last one ends.
        var retired = false
        let overTLS: Bool
        /// The cluster whose connection budget counts this connection, told once when it closes or fails to open.
        private var budgeted: UpstreamCluster?

        init(overTLS: Bool, cluster: UpstreamCluster?) {
            self.overTLS = overTLS
            self.budgeted = cluster
        }

        func releaseBudget() {
            budgeted?.connectionClosed()
            budgeted = nil
        }
    }

    init(eventLoop: any EventLoop, connectTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.connectTimeout = connectTimeout
    }

    /// Open connections, retired ones still carrying streams included, for tests and metrics.
    var connectionCount: Int { sessions.values.joined().filter { $0.channel != nil }.count + retired.count }

    /// Which of the connections to an endpoint, carrying `activeStreams` each, takes the next stream: the first below
    /// `maxConcurrentStreams` (any, without a cap); nil when every one is full, or there is none: open another.
    static func pick(activeStreams: [Int], maxConcurrentStreams: Int?) -> Int? {
        activeStreams.firstIndex { $0 < maxConcurrentStreams ?? .max }
    }

    /// A new stream to `endpoint`, on the loop's connection to it (opened first when there is none). `serverHost`:
    /// the request's host, when the cluster names the server by it. `proxyHeader`: the PROXY protocol header the
    /// cluster's `proxyProtocol` starts a connection with, which names one client: the stream gets a connection of its
    /// own, which no other stream shares and which closes when the stream ends.
    func lease(
        _ endpoint: EndpointAddress, cluster: UpstreamCluster?, serverHost: String? = nil, proxyHeader: ByteBuffer? = nil,
        _ completion: @escaping (Result<UpstreamConnection, any Error>) -> Void
    ) {
        eventLoop.assertInEventLoop()
        let key = Key(endpoint: endpoint, cluster: cluster.map(ObjectIdentifier.init), serverHost: serverHost)
        let open = proxyHeader == nil ? sessions[key] ?? [] : []
        let session: Session
        if let index = Self.pick(activeStreams: open.map(\.activeStreams), maxConcurrentStreams: cluster?.maxConcurrentStreams) {
            session = open[index]
        } else if let cluster, let leastBusy = open.min(by: { $0.activeStreams < $1.activeStreams }),
            !cluster.openMultiplexed(firstToItsEndpoint: false)
        {
            session = leastBusy
        } else {
            if open.isEmpty { _ = cluster?.openMultiplexed(firstToItsEndpoint: true) }
            let tls: NIOSSLContext?
            switch cluster?.tls {
            case .failure(let error):
                cluster?.connectionClosed()
                return completion(.failure(error))
            case .success(let context): tls = context
            case nil: tls = nil
            }
            session = Session(overTLS: tls != nil, cluster: cluster)
            if proxyHeader != nil {
                // Out of `sessions`, as a retired connection: no other stream finds it, and its one stream's end closes it.
                session.retired = true
                retired[ObjectIdentifier(session)] = session
            } else {
                sessions[key, default: []].append(session)
            }
            connect(key, session: session, cluster: cluster, tls: tls, proxyHeader: proxyHeader)
        }
        session.activeStreams += 1
        let overTLS = session.overTLS
        let goAway = session.goAway
        let openStream: (Result<NIOHTTP2Handler.StreamMultiplexer, any Error>) -> Void = { result in
            switch result {
            case .failure(let error):
                session.activeStreams -= 1
                completion(.failure(error))
            case .success(let multiplexer):
                let promise = self.eventLoop.makePromise(of: (any Channel).self)
                multiplexer.createStreamChannel(promise: promise) { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.pipeline.syncOperations.addHandlers([HTTP2ClientStream(overTLS: overTLS, goAway: goAway), UpstreamHandler()])
                    }
                }
                promise.futureResult.assumeIsolated().whenComplete { result in
                    switch result {
                    case .success(let stream): stream.closeFuture.assumeIsolated().whenComplete { _ in session.activeStreams -= 1 }
                    case .failure: session.activeStreams -= 1
                    }
                    completion(
                        result.mapError { error in
                            // The server went away before the stream was opened: it never left the gateway.
                            goAway.lastStreamID == nil ? error : UpstreamStreamRefused(refusal: goAway.refusal)
                        }.flatMap { stream in
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

    private func connect(_ key: Key, session: Session, cluster: UpstreamCluster?, tls: NIOSSLContext?, proxyHeader: ByteBuffer?) {
        let configuration = HTTP2Connection.configuration
        ClientBootstrap(group: eventLoop)
            .connectTimeout(cluster?.connectTimeout ?? connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .keepalive(cluster?.keepalive)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // The PROXY header goes out first, before a TLS ClientHello and the HTTP/2 preface.
                    if let proxyHeader { try channel.pipeline.syncOperations.addHandler(ProxyProtocolWriter(header: proxyHeader)) }
                    if let tls, let cluster {
                        try channel.pipeline.syncOperations.addHandler(cluster.clientHandler(tls, for: key.serverHost))
                        try channel.pipeline.syncOperations.addHandler(TLSHandshakeWatch())
                    }
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: configuration.connection, streamConfiguration: configuration.stream
                    ) { stream in stream.eventLoop.makeSucceededVoidFuture() }

                }
            }
            .connect(host: key.endpoint.host, port: key.endpoint.port)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    self.failed(session, at: key, channel: nil, error)
                case .success(let channel):
                    // Streams wait for TLS (those asked for meanwhile too): a handshake that fails fails them with its
                    // reason, a failure to connect (`UF`), where a stream opened at once would only see its
                    // connection close under it.
                    TLSHandshakeWatch.completion(on: channel).assumeIsolated().whenComplete { outcome in
                        switch outcome {
                        case .success: self.established(channel, session: session, at: key, lifetime: cluster?.maxConnectionDuration)
                        case .failure(let error): self.failed(session, at: key, channel: channel, error)
                        }
                    }
                }
            }
    }

    /// The connection is up (TLS included): the streams waiting for it open.
    private func established(_ channel: any Channel, session: Session, at key: Key, lifetime: TimeAmount?) {
        let multiplexer: NIOHTTP2Handler.StreamMultiplexer
        do {
            multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
        } catch {
            return failed(session, at: key, channel: channel, error)
        }
        // Behind the HTTP/2 handler, which passes on the connection's own frames.
        let watch = GoAwayWatch(session.goAway) { [weak self, weak session] in
            guard let self, let session else { return }
            self.serverWentAway(session, at: key)
        }
        do {
            try channel.pipeline.syncOperations.addHandler(watch)
        } catch {
            return failed(session, at: key, channel: channel, error)
        }
        let waiting = session.waiting
        session.waiting = []
        session.channel = channel
        session.multiplexer = multiplexer
        channel.closeFuture.assumeIsolated().whenComplete { _ in self.forget(session, at: key) }
        if let lifetime {
            eventLoop.assumeIsolated().scheduleTask(in: lifetime) { self.retire(session, at: key) }
        }
        for waiter in waiting { waiter(.success(multiplexer)) }
    }

    /// The connection reached its `maxConnectionDuration`: the next stream to its endpoint opens another, and it
    /// closes once the streams it carries end (at once without any), as Envoy drains an HTTP/2 connection. A GOAWAY
    /// tells the server first that no stream will open on it again (RFC 9113 §6.8; naming stream 0, as the server
    /// opened none), so it sees a graceful end rather than a connection gone without a word.
    private func retire(_ session: Session, at key: Key) {
        guard let channel = session.channel, channel.isActive else { return }
        let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .rootStream, errorCode: .noError, opaqueData: nil))
        guard session.activeStreams > 0 else {
            sessions[key]?.removeAll { $0 === session }
            if sessions[key]?.isEmpty == true { sessions[key] = nil }
            channel.writeAndFlush(goAway).assumeIsolated().whenComplete { _ in channel.close(promise: nil) }
            return
        }
        channel.writeAndFlush(goAway, promise: nil)
        takesNoNewStream(session, at: key)
    }

    /// Out of `sessions`, so no new stream finds it, and kept with the retired ones until its last stream ends.
    private func takesNoNewStream(_ session: Session, at key: Key) {
        sessions[key]?.removeAll { $0 === session }
        if sessions[key]?.isEmpty == true { sessions[key] = nil }
        session.retired = true
        retired[ObjectIdentifier(session)] = session
    }

    /// The server sent GOAWAY: no new stream goes on the connection (the next opens another, as Envoy's pool does),
    /// and it closes once the streams it still carries end.
    private func serverWentAway(_ session: Session, at key: Key) {
        guard !session.retired else { return }
        takesNoNewStream(session, at: key)
        if session.activeStreams == 0 { session.channel?.close(promise: nil) }
    }

    /// The connection never came up: it is forgotten and its waiting streams fail with `error`.
    private func failed(_ session: Session, at key: Key, channel: (any Channel)?, _ error: any Error) {
        let waiting = session.waiting
        session.waiting = []
        forget(session, at: key)
        channel?.close(promise: nil)
        for waiter in waiting { waiter(.failure(error)) }
    }

    private func forget(_ session: Session, at key: Key) {
        session.releaseBudget()
        sessions[key]?.removeAll { $0 === session }
        if sessions[key]?.isEmpty == true { sessions[key] = nil }
        retired[ObjectIdentifier(session)] = nil
    }

    /// Closes every connection, those retired and still carrying streams too (shutdown).
    func closeAll() {
        for session in Array(sessions.values.joined()) + Array(retired.values) {
            session.releaseBudget()
            session.channel?.close(promise: nil)
        }
        sessions.removeAll()
        retired.removeAll()
    }
}

/// Completes `completed` when the TLS handshake below it finishes, or fails it with the first error (a refused
/// certificate, a name that does not match) or the connection's end before then.
private final class TLSHandshakeWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private(set) var completed: EventLoopPromise<Void>!

    /// When `channel` may carry streams: once its handshake completes, or at once without TLS (no watch in its pipeline).
    static func completion(on channel: any Channel) -> EventLoopFuture<Void> {
        let watch = try? channel.pipeline.syncOperations.handler(type: TLSHandshakeWatch.self)
        return watch?.completed.futureResult ?? channel.eventLoop.makeSucceededVoidFuture()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        completed = context.eventLoop.makePromise()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { completed.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        completed.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        completed.fail(ChannelError.eof)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        completed.fail(ChannelError.ioOnClosedChannel)
    }
}

/// What a server's GOAWAY said of an upstream HTTP/2 connection: the last stream it processed, or may. Only the
/// connection's event loop reads and writes it (its streams' handlers share it).
final class UpstreamGoAway: @unchecked Sendable {
    private(set) var lastStreamID: HTTP2StreamID?

    /// Whether the server never processed `stream`: it is above the last stream a GOAWAY named.
    func refused(_ stream: HTTP2StreamID) -> Bool {
        guard let lastStreamID else { return false }
        return stream > lastStreamID
    }

    /// Why the server did not process a stream above the GOAWAY's last: it ended a connection that served
    /// earlier streams, or took none at all.
    var refusal: ProxyStateMachine.StreamRefusal { (lastStreamID ?? .rootStream) > .rootStream ? .connectionEnded : .refused }

    func received(lastStreamID: HTTP2StreamID) {
        self.lastStreamID = min(self.lastStreamID ?? lastStreamID, lastStreamID)
    }
}

/// Notes the server's GOAWAY frames on an upstream HTTP/2 connection, ahead of NIOHTTP2 closing the streams above
/// its last stream, and tells the sessions so the connection takes no new stream.
private final class GoAwayWatch: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    private let goAway: UpstreamGoAway
    private let wentAway: () -> Void

    init(_ goAway: UpstreamGoAway, wentAway: @escaping () -> Void) {
        self.goAway = goAway
        self.wentAway = wentAway
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway(let lastStreamID, _, _) = unwrapInboundIn(data).payload {
            goAway.received(lastStreamID: lastStreamID)
            wentAway()
        }
        context.fireChannelRead(data)
    }
}

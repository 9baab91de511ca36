import NIOCore
import NIOSSL
import NIOTLS
import SerinCore

/// One client connection on a PASSTHROUGH port: NIO's `SNIHandler` reads the ClientHello's server name, the live
/// table's tls routes pick a destination by weight, and once a connection to one of its endpoints is open the
/// buffered ClientHello goes first and bytes then pass both ways untouched — the destination terminates TLS. On a
/// TCP port there is no ClientHello: the connection is routed by its port as it opens, by the table's tcp routes,
/// and spliced the same way.
///
/// The splice is swift-nio-examples' GlueHandler shape over the gateway's `UpstreamConnection` in its tunnel phase
/// (the one WebSocket tunnels use): each side reads only while the other can take its bytes, a half-close is passed
/// on, and either side closing closes the other once what it was sent has gone out. Envoy's behaviour where it
/// decides: no server name or no route closes the connection (`NR`), a destination that cannot be reached closes it
/// (`UF`, or `UO` over the connection budget).
final class PassthroughHandler: ChannelDuplexHandler, RemovableChannelHandler, LoopConnection, UpstreamDelegate {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let port: PassthroughPort
    private let loop: LoopContext
    let deadlines: ConnectionDeadlines
    var context: ChannelHandlerContext?
    var client: ClientSide? {
        get { context.map { .connection($0) } }
        set { if case .connection(let context)? = newValue { self.context = context } else { context = nil } }
    }
    private var random = FastRandom()
    /// The destination's connection, once open.
    private var upstream: UpstreamConnection?
    /// The budget queue entry while the destination's cluster has no connection to spare.
    private var waiting: (id: UInt64, cluster: UpstreamCluster)?
    /// The series this connection counts in, once routed (or refused).
    private var key: TrafficKey?
    /// Bytes passed since they were last added to the telemetry, added once per read rather than per buffer.
    private var uncounted = TCPEvent()
    /// A client read held back while the destination cannot take more.
    private var readHeld = false
    /// Bytes handed over before the destination's connection was open.
    private var early: ByteBuffer?
    /// Whether routing began: the ClientHello was read, or was found not to be one, or (plain TCP) the connection opened.
    private var routing = false
    /// Whether the ClientHello the SNIHandler held went on to the destination.
    private var handedOver = false
    private var clientFinished = false
    private var upstreamFinished = false
    /// A cluster's `tunnel` asked its forward proxy to connect (`openTunnel`), and the answer has not come yet.
    private var tunnelOpening: OpeningTunnel?

    /// What splicing the client to a tunnel takes once the forward proxy agrees.
    private struct OpeningTunnel {
        let connection: UpstreamConnection
        let key: TrafficKey
        let tcp: ConnectionPoolSettings.TCPSettings?
        let promise: EventLoopPromise<Void>
        let endpoint: Int
        let cluster: UpstreamCluster?
    }

    private init(port: PassthroughPort, loop: LoopContext) {
        self.port = port
        self.loop = loop
        // The ClientHello must arrive within the header timeout, as a terminated handshake must finish in it.
        deadlines = ConnectionDeadlines(limits: port.limits, handshaking: true)
    }

    /// Sets a new connection on `channel` up to read its server name, then pass it through (or terminate it).
    static func install(on channel: any Channel, port: PassthroughPort, loop: LoopContext) throws {
        let handler = PassthroughHandler(port: port, loop: loop)
        // A client's half-close is passed on to the destination, not read as the end of the connection.
        try channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(handler)
        // Plain TCP is routed by port as it opens (`channelActive`): nothing to read first.
        if port.plainTCP { return }
        try sync.addHandler(serverNameReader(routing: handler), position: .before(handler))
    }

    /// NIO's `SNIHandler`, which holds the connection's bytes until its ClientHello names a server (or turns out not
    /// to be one), then lets `handler` route by it.
    private static func serverNameReader(routing handler: PassthroughHandler) -> ByteToMessageHandler<SNIHandler> {
        ByteToMessageHandler(
            SNIHandler { [unowned handler] result in
                switch result {
                case .hostname(let name): handler.route(serverName: name)
                case .fallback: handler.route(serverName: nil)
                }
            }
        )
    }

    /// Takes over a connection whose CONNECT the mesh's listener answered for a TCP or TLS port (`ProxyHandler`'s
    /// `openTunnel`): `proxy` leaves, and what the client sent after its CONNECT (`bytes`) is read first, as the
    /// connection's first bytes — a TLS port's ClientHello, or plain TCP routed by the port at once.
    static func serveTunnel(
        on context: ChannelHandlerContext, replacing proxy: ProxyHandler, port: PassthroughPort, loop: LoopContext, replaying bytes: ByteBuffer?
    ) {
        let handler = PassthroughHandler(port: port, loop: loop)
        do {
            try context.channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
            let sync = context.pipeline.syncOperations
            try sync.addHandler(handler, position: .after(proxy))
            if !port.plainTCP { try sync.addHandler(serverNameReader(routing: handler), position: .after(proxy)) }
        } catch {
            context.close(promise: nil)
            return
        }
        // The connection is open already: no `channelActive` will route plain TCP.
        if port.plainTCP { _ = handler.route(serverName: nil) }
        if let bytes { context.fireChannelRead(NIOAny(bytes)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        context.channel.read()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        join(loop, client: .connection(context))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        leave(loop)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if port.plainTCP { _ = route(serverName: nil) }
    }

    /// A drain began: a splice, or a connection still waiting for its ClientHello, runs on (the handshake timeout
    /// bounds the wait) — its client has sent nothing it could be told to resend elsewhere.
    func drainBegan() {}

    /// The drain's time is up: a connection still choosing its destination closes now; a splice runs until the cut.
    func closeIfIdle() {
        if upstream == nil { context?.close(promise: nil) }
    }

    // MARK: Choosing the destination

    /// Routes by the server name (on a TCP port, by the port alone); the returned future succeeds once the
    /// destination's connection is open, which lets the SNIHandler hand the buffered ClientHello on. A refused
    /// connection's future never succeeds: it closes.
    private func route(serverName: String?) -> EventLoopFuture<Void> {
        routing = true
        let promise = loop.eventLoop.makePromise(of: Void.self)
        let table = port.routes.table
        if let terminating = port.terminating, !table.passesThrough(serverName: serverName, port: port.declaredPort) {
            terminate(with: terminating.entry(forServerName: serverName), promise)
            return promise.futureResult
        }
        let resolution =
            port.plainTCP
            ? table.resolveTCP(port: port.declaredPort, inMesh: port.inMesh)
            : table.resolvePassthrough(serverName: serverName, port: port.declaredPort, inMesh: port.inMesh)
        guard case .route(let route) = resolution else {
            refuse(TrafficKey(destinationService: "unknown", responseCode: 0, responseFlags: .noRoute), promise)
            return promise.futureResult
        }
        guard let (target, shared, picked) = pick(route) else {
            refuse(TrafficKey(destinationService: "unknown", responseCode: 0, responseFlags: .noHealthyUpstream), promise)
            return promise.futureResult
        }
        guard let index = picked else {
            let cluster = target.cluster
            let namespace = cluster.service?.namespace ?? ResourceName.defaultNamespace
            refuse(
                TrafficKey(
                    destinationService: cluster.host, destinationNamespace: namespace, subset: cluster.subset, responseCode: 0,
                    responseFlags: .noHealthyUpstream
                ),
                promise
            )
            return promise.futureResult
        }
        let endpoint = target.cluster.endpoints[index]
        let key = TrafficKey(cluster: target.cluster, endpoint: endpoint, responseCode: 0, responseFlags: .noFlag)
        let address = EndpointAddress(endpoint)
        // With the cluster's `proxyProtocol`, the connection starts by naming the client, as Envoy's TCP proxy does.
        let proxyHeader = shared?.policy.proxyProtocol.flatMap { version in context.map { ConnectionEnds($0.channel).proxyHeader(version) } }
        let id = loop.pool.lease(address, cluster: shared, fresh: true, proxyHeader: proxyHeader) { [self] result in
            waiting = nil
            switch result {
            case .success(let connection):
                let tcp = target.cluster.trafficPolicy.connectionPool?.tcp
                if let tunnel = shared?.policy.tunnel {
                    let opening = OpeningTunnel(connection: connection, key: key, tcp: tcp, promise: promise, endpoint: index, cluster: shared)
                    return openTunnel(to: tunnel, opening)
                }
                shared?.record(endpoint: index, outcome: .response(status: 200), now: UpstreamCluster.now)
                splice(to: connection, key: key, tcp: tcp, promise)
            case .failure(let error):
                if !(error is UpstreamOverflow) {
                    shared?.record(endpoint: index, outcome: .connectFailure, now: UpstreamCluster.now)
                }
                var refused = key
                refused.responseFlags = error is UpstreamOverflow ? .upstreamOverflow : .upstreamConnectionFailure
                refuse(refused, promise)
            }
        }
        if let id, let shared { waiting = (id, shared) }
        return promise.futureResult
    }

    /// The destination by the route's weights and its endpoint by round robin, skipping what outlier detection
    /// ejected: nil when the route has no weight, a nil endpoint when the destination has none left (Envoy's `UH`).
    private func pick(_ route: RouteTable.Route) -> (target: RouteTable.Target, shared: UpstreamCluster?, endpoint: Int?)? {
        guard let target = route.target(forRoll: Int(random.next() % UInt64(max(route.totalWeight, 1)))) else { return nil }
        let shared = port.clusters.shared(for: target)
        return (target, shared, ProxyHandler.pickEndpoint(of: target, shared: shared, turn: Int(truncatingIfNeeded: random.next())))
    }

    /// Hands the connection to TLS termination and the HTTP proxy, as an HTTPS port's connection: the SNIHandler
    /// then replays the ClientHello to NIOSSL, and this handler leaves.
    private func terminate(with tls: PortTLS.Entry, _ promise: EventLoopPromise<Void>) {
        guard let context else { return promise.fail(ChannelError.ioOnClosedChannel) }
        let proxy = ProxyHandler(
            routes: port.routes, clusters: port.clusters, telemetry: port.telemetry, loop: loop, declaredPort: port.declaredPort,
            overTLS: true, limits: port.limits, deadlines: ConnectionDeadlines(limits: port.limits, handshaking: true)
        )
        proxy.handshake = tls.server
        do {
            // Over TLS the client's end is its close_notify: its FIN ends the connection, as on an HTTPS port.
            try context.channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: false)
            let sync = context.pipeline.syncOperations
            try sync.addHandler(proxy, position: .after(self))
            try sync.addHandler(NIOSSLServerHandler(context: tls.context), position: .before(proxy))
            sync.removeHandler(self, promise: nil)
            promise.succeed()
        } catch {
            promise.fail(error)
            context.close(promise: nil)
        }
    }

    /// Counts the connection in `key`'s series as opened and closed, and closes it.
    private func refuse(_ key: TrafficKey, _ promise: EventLoopPromise<Void>) {
        self.key = key
        uncounted.opened += 1
        promise.fail(ChannelError.ioOnClosedChannel)
        context?.close(promise: nil)
    }

    private func splice(
        to connection: UpstreamConnection, key: TrafficKey, tcp: ConnectionPoolSettings.TCPSettings?, _ promise: EventLoopPromise<Void>
    ) {
        guard let context, context.channel.isActive else {
            connection.close()
            promise.fail(ChannelError.ioOnClosedChannel)
            return
        }
        self.key = key
        uncounted.opened += 1
        countPassedBytes()
        upstream = connection
        connection.delegate = self
        connection.beginTunnel()
        connection.allowHalfClosure()
        deadlines.headReceived()
        deadlines.tunnelStarted(tcp)
        if let early {
            self.early = nil
            handedOver = true
            uncounted.received += early.readableBytes
            connection.write(early)
            connection.flush()
        }
        if clientFinished { connection.finishSending() }
        promise.succeed()
        if readHeld, connection.isWritable {
            readHeld = false
            context.read()
        }
    }

    /// Asks the forward proxy at the endpoint to connect to the tunnel's target, as Envoy's TCP proxy does under
    /// `tunneling_config`: its 2xx answer splices the client to the connection (`upstream(_:receivedHead:)`, any bytes
    /// behind the answer already the target's); any other answer, or a close, refuses the client as a failed connect.
    private func openTunnel(to tunnel: TunnelSettings, _ opening: OpeningTunnel) {
        let connection = opening.connection
        guard let context, context.channel.isActive else {
            connection.close()
            opening.promise.fail(ChannelError.ioOnClosedChannel)
            return
        }
        tunnelOpening = opening
        connection.delegate = self
        let authority = tunnel.authority
        var head = context.channel.allocator.buffer(capacity: 40 + 2 * authority.utf8.count)
        head.writeString("CONNECT \(authority) HTTP/1.1\r\nhost: \(authority)\r\n\r\n")
        connection.send(head: head, isHEAD: false, upgrade: true, connect: true)
        connection.flush()
    }

    /// The forward proxy would not connect (or closed first): the client is refused, counted as a failed connect.
    private func tunnelRefused(_ opening: OpeningTunnel, status: Int?) {
        tunnelOpening = nil
        let outcome: OutlierDetector.Outcome = status.map { .response(status: $0) } ?? .connectFailure
        opening.cluster?.record(endpoint: opening.endpoint, outcome: outcome, now: UpstreamCluster.now)
        opening.connection.delegate = nil
        opening.connection.close()
        var refused = opening.key
        refused.responseFlags = .upstreamConnectionFailure
        refuse(refused, opening.promise)
    }

    // MARK: Client → destination

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let upstream else {
            // The SNIHandler holds every byte until a destination is chosen, unless the client half-closes first:
            // then it hands them over at once, and they wait here.
            early.setOrWriteImmutableBuffer(bytes)
            return
        }
        deadlines.trafficPassed()
        uncounted.received += bytes.readableBytes
        upstream.write(bytes)
        // The SNIHandler hands the buffered ClientHello on as it leaves, outside any read: no read completes after it.
        if !handedOver {
            handedOver = true
            upstream.flush()
            countPassedBytes()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        upstream?.flush()
        countPassedBytes()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        // Plain TCP reads nothing until its destination can take it: what a client sends first waits in its socket.
        if port.plainTCP, upstream == nil {
            readHeld = true
            return
        }
        if let upstream, !upstream.isWritable {
            readHeld = true
            return
        }
        readHeld = false
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, event == .inputClosed else {
            return context.fireUserInboundEventTriggered(event)
        }
        clientFinished = true
        guard let upstream else {
            // Before a destination is chosen: the end is passed on once it is (`splice`), unless no ClientHello came.
            if !routing { context.close(promise: nil) }
            return
        }
        upstream.finishSending()
        if upstreamFinished { closeBoth() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let opening = tunnelOpening {
            // The client left before the forward proxy answered: the tunnel's connection goes too.
            tunnelOpening = nil
            opening.connection.delegate = nil
            opening.connection.close()
            opening.promise.fail(ChannelError.ioOnClosedChannel)
        }
        if let upstream {
            self.upstream = nil
            upstream.delegate = nil
            upstream.closeAfterWrites()
        }
        if let waiting {
            self.waiting = nil
            loop.pool.cancelWaiting(waiting.id, cluster: waiting.cluster)
        }
        if key != nil { uncounted.closed += 1 }
        countPassedBytes()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: Destination → client

    var downstreamIsWritable: Bool { context?.channel.isWritable ?? false }

    func upstream(_ connection: UpstreamConnection, receivedBody bytes: ByteBuffer, dataBytes: Int) {
        guard let context else { return }
        deadlines.trafficPassed()
        uncounted.sent += bytes.readableBytes
        context.write(wrapOutboundOut(bytes), promise: nil)
    }

    func upstreamReadComplete(_ connection: UpstreamConnection) {
        context?.flush()
        countPassedBytes()
    }

    func upstreamWritabilityChanged(_ connection: UpstreamConnection) {
        guard readHeld, connection.isWritable, let context else { return }
        readHeld = false
        context.read()
    }

    func upstreamFinishedSending(_ connection: UpstreamConnection) {
        upstreamFinished = true
        guard let context else { return }
        context.flush()
        context.close(mode: .output, promise: nil)
        if clientFinished { closeBoth() }
    }

    func upstreamClosed(_ connection: UpstreamConnection, error: (any Error)?) {
        if let opening = tunnelOpening { return tunnelRefused(opening, status: nil) }
        upstream = nil
        closeBoth()
    }

    /// The forward proxy's answer to a tunnel's CONNECT; a tunnel itself carries no HTTP, so no other head arrives.
    func upstream(_ connection: UpstreamConnection, receivedHead head: ResponseHead) {
        guard let opening = tunnelOpening, head.status >= 200 else { return }
        guard (200..<300).contains(head.status) else { return tunnelRefused(opening, status: head.status) }
        tunnelOpening = nil
        opening.cluster?.record(endpoint: opening.endpoint, outcome: .response(status: head.status), now: UpstreamCluster.now)
        splice(to: connection, key: opening.key, tcp: opening.tcp, opening.promise)
    }

    func upstreamEnded(_ connection: UpstreamConnection) {
        upstreamClosed(connection, error: nil)
    }

    /// Both connections close once what was written to them has gone out.
    private func closeBoth() {
        if let upstream {
            self.upstream = nil
            upstream.delegate = nil
            upstream.closeAfterWrites()
        }
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func countPassedBytes() {
        guard let key, uncounted.opened + uncounted.closed + uncounted.sent + uncounted.received > 0 else { return }
        port.telemetry.recordTCP(key, uncounted, shard: loop.shard)
        uncounted = TCPEvent()
    }
}

import NIOCore
import NIOPosix
import NIOSSL
import SerinCore

/// Idle keep-alive connections to upstream endpoints, for one event loop, and the requests on this loop
/// waiting for a connection their cluster's connection budget does not allow yet.
///
/// Every method runs on `eventLoop`; connections are opened on the same loop as the client
/// connection that needs them, so an exchange never hops threads. Connections of a cluster with a traffic
/// policy are pooled apart from the same endpoint's other connections, since they count against its budget.
final class UpstreamPool {
    let eventLoop: any EventLoop
    private var idle: [Key: IdleConnections] = [:]
    private var idleByServer: [ServerKey: IdleConnections] = [:]
    private var idleByClient: [ClientKey: IdleConnections] = [:]
    /// The last number `clientNumber()` gave.
    private var lastClient: UInt64 = 0
    /// The last two buckets requests took connections from, and their keys: most requests find theirs here by comparing
    /// keys, with no hash of the endpoint's address. Forgotten whenever a bucket leaves `idle`.
    private var newerKey: Key?
    private var newerBucket: IdleConnections?
    private var olderKey: Key?
    private var olderBucket: IdleConnections?
    private var waiting: [Waiting: (Grant) -> Void] = [:]
    /// The loop's context, which waiting requests are queued under.
    weak var loop: LoopContext?
    /// Idle connections kept per endpoint; more are closed when released.
    let maxIdlePerEndpoint: Int
    let connectTimeout: TimeAmount

    private struct Key: Hashable {
        let endpoint: EndpointAddress
        let cluster: ObjectIdentifier?
    }

    /// A bucket of a cluster whose TLS names the server by each request's host (`UpstreamConnection.serverHost`):
    /// kept in a map of their own, so the common request's key stays two fields.
    private struct ServerKey: Hashable {
        let key: Key
        let serverHost: String
    }

    /// A bucket of connections that began with one client's PROXY protocol header (`UpstreamConnection.client`).
    private struct ClientKey: Hashable {
        let key: Key
        let serverHost: String?
        let client: UInt64
    }

    /// One endpoint's idle connections, a class so taking and returning one changes it in place (a
    /// dictionary value array would be copied out and back). A connection keeps its bucket, so returning it
    /// needs no lookup.
    final class IdleConnections {
        var connections: [UpstreamConnection] = []

        /// Closes every connection waiting here; the bucket stays, since busy connections still hold it.
        func closeAll() {
            let closing = connections
            connections.removeAll()
            for connection in closing { connection.close() }
        }
    }

    private struct Waiting: Hashable {
        let cluster: ObjectIdentifier
        let id: UInt64
    }

    /// What a waiting request is woken with.
    enum Grant {
        /// A slot in the budget: open a connection.
        case open
        /// A connection another request on this loop just finished with.
        case connection(UpstreamConnection)
    }

    init(eventLoop: any EventLoop, maxIdlePerEndpoint: Int = 128, connectTimeout: TimeAmount = .seconds(3)) {
        self.eventLoop = eventLoop
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.connectTimeout = connectTimeout
    }

    /// Hands an idle connection to `endpoint`, or a new one, to `completion` (on this loop). With a `cluster`
    /// whose budget is spent, the request waits: the returned id lets it leave the queue (`cancelWaiting`); a
    /// full queue fails it with `UpstreamOverflow`. `fresh`: never an idle connection (a passed-through connection
    /// carries no HTTP, so it needs its own). `serverHost`: the request's host, when the cluster names the server by it.
    /// `proxyHeader`: the PROXY protocol header the cluster's `proxyProtocol` starts a connection with, which names one
    /// client: the connection is a new one, and serves this request alone.
    @discardableResult
    ///
    /// `proxyHeader` with `client` (a number from `clientNumber()`): the connection is that client's, for its later
    /// requests (`takeIdle(_:cluster:serverHost:client:)`) until it goes (`closeIdle(boundTo:)`); without `client`,
    /// it serves one request.
    func lease(
        _ endpoint: EndpointAddress, cluster: UpstreamCluster? = nil, serverHost: String? = nil, fresh: Bool = false,
        proxyHeader: ByteBuffer? = nil, client: UInt64? = nil, _ completion: @escaping (Result<UpstreamConnection, any Error>) -> Void
    ) -> UInt64? {
        let fresh = fresh || proxyHeader != nil
        if !fresh, let connection = takeIdle(endpoint, cluster: cluster, serverHost: serverHost) {
            completion(.success(connection))
            return nil
        }
        guard let cluster, let loop else {
            connect(endpoint, cluster: nil, serverHost: nil, proxyHeader: nil, client: nil, completion)
            return nil
        }
        switch cluster.requestConnection(on: loop, to: endpoint) {
        case .open:
            connect(endpoint, cluster: cluster, serverHost: serverHost, proxyHeader: proxyHeader, client: client, completion)
            return nil
        case .reject(let overflow):
            completion(.failure(UpstreamOverflow(cluster: cluster.name, overflow: overflow)))
            return nil
        case .wait(let id):
            waiting[Waiting(cluster: ObjectIdentifier(cluster), id: id)] = { [unowned self] grant in
                switch grant {
                case .open:
                    self.connect(endpoint, cluster: cluster, serverHost: serverHost, proxyHeader: proxyHeader, client: client, completion)
                case .connection(let connection)
                where connection.channel.isActive && !connection.isClosed && !fresh && connection.serverHost == serverHost:
                    completion(.success(connection))
                case .connection(let connection) where fresh || connection.serverHost != serverHost:
                    // A pooled HTTP connection is no use to a tunnel, nor one whose TLS named another server, nor (to a
                    // request with a PROXY header, which is fresh) one that may have named another client: its slot
                    // opens a new one.
                    connection.close()
                    self.lease(endpoint, cluster: cluster, serverHost: serverHost, fresh: true, proxyHeader: proxyHeader, client: client, completion)
                case .connection:
                    // It closed on its way over; its slot went back to the budget, so ask again.
                    self.lease(endpoint, cluster: cluster, serverHost: serverHost, fresh: fresh, proxyHeader: proxyHeader, client: client, completion)
                }
            }
            return id
        }
    }

    /// An idle connection to `endpoint` (pooled apart for `cluster`), if there is one: what most requests get,
    /// with no waiting and no callback. With `client`, only one that began with that client's PROXY header.
    func takeIdle(_ endpoint: EndpointAddress, cluster: UpstreamCluster?, serverHost: String? = nil, client: UInt64? = nil) -> UpstreamConnection? {
        eventLoop.assertInEventLoop()
        let key = Key(endpoint: endpoint, cluster: cluster.map(ObjectIdentifier.init))
        let bucket: IdleConnections
        if let client {
            guard let found = idleByClient[ClientKey(key: key, serverHost: serverHost, client: client)] else { return nil }
            bucket = found
        } else if let serverHost {
            guard let found = idleByServer[ServerKey(key: key, serverHost: serverHost)] else { return nil }
            bucket = found
        } else if newerKey == key, let newerBucket {
            bucket = newerBucket
        } else if olderKey == key, let olderBucket {
            bucket = olderBucket
        } else {
            guard let found = idle[key] else { return nil }
            bucket = found
            (olderKey, olderBucket) = (newerKey, newerBucket)
            (newerKey, newerBucket) = (key, found)
        }
        while let connection = bucket.connections.popLast() {
            if connection.channel.isActive && !connection.isClosed {
                connection.idleIn = nil
                connection.idleTimer?.cancel()
                connection.idleTimer = nil
                // A read held back for an earlier client must not leave this exchange waiting.
                connection.resumeReading()
                return connection
            }
        }
        return nil
    }

    /// A waiting request gave up. Unless it was woken already, it leaves the queue.
    func cancelWaiting(_ id: UInt64, cluster: UpstreamCluster) {
        if cluster.cancelWaiting(id) { waiting[Waiting(cluster: ObjectIdentifier(cluster), id: id)] = nil }
    }

    /// Wakes a waiting request of this loop.
    func wake(_ cluster: UpstreamCluster, waiter id: UInt64, with grant: Grant) {
        eventLoop.assertInEventLoop()
        guard let resume = waiting.removeValue(forKey: Waiting(cluster: ObjectIdentifier(cluster), id: id)) else {
            // Only a cancelled waiter has no entry, and a cancelled waiter is never woken: keep the budget whole.
            if case .connection(let connection) = grant { connection.close() } else { cluster.connectionClosed() }
            return
        }
        resume(grant)
    }

    /// Returns a connection that finished its exchange cleanly.
    func release(_ connection: UpstreamConnection) {
        eventLoop.assertInEventLoop()
        connection.delegate = nil
        let bucket = connection.bucket ?? bucket(for: connection)
        guard connection.channel.isActive, !connection.isClosed, !connection.closeAfterResponse,
            bucket.connections.count < maxIdlePerEndpoint
        else {
            connection.close()
            return
        }
        if let cluster = connection.cluster, let loop {
            switch cluster.reuse(connection, on: loop) {
            case .keep:
                break
            case .close:
                connection.close()
                return
            case .handOff(let id):
                // On the next turn of the loop: the releasing exchange finishes first.
                eventLoop.assumeIsolated().execute { self.wake(cluster, waiter: id, with: .connection(connection)) }
                return
            }
        }
        connection.idleIn = self
        // Reads held back while the last client was slow: idle connections must keep reading to see a close.
        connection.resumeReading()
        if let cluster = connection.cluster, let timeout = Self.idleLimit(of: connection, in: cluster) {
            connection.idleTimer = eventLoop.assumeIsolated().scheduleTask(in: timeout) { connection.close() }
        }
        bucket.connections.append(connection)
    }

    /// The bucket `connection` goes back to, found once and kept by the connection.
    private func bucket(for connection: UpstreamConnection) -> IdleConnections {
        let key = Key(endpoint: connection.endpoint, cluster: connection.cluster.map(ObjectIdentifier.init))
        let bucket: IdleConnections
        if let client = connection.client {
            let clientKey = ClientKey(key: key, serverHost: connection.serverHost, client: client)
            bucket = idleByClient[clientKey] ?? IdleConnections()
            idleByClient[clientKey] = bucket
        } else if let serverHost = connection.serverHost {
            let serverKey = ServerKey(key: key, serverHost: serverHost)
            bucket = idleByServer[serverKey] ?? IdleConnections()
            idleByServer[serverKey] = bucket
        } else if let existing = idle[key] {
            bucket = existing
        } else {
            bucket = IdleConnections()
            idle[key] = bucket
        }
        connection.bucket = bucket
        return bucket
    }

    /// Closes one idle connection of `cluster`, so a request waiting on another loop may open one.
    func closeOneIdle(of cluster: UpstreamCluster) {
        let id = ObjectIdentifier(cluster)
        guard let bucket = allBuckets.first(where: { $0.cluster == id && !$0.bucket.connections.isEmpty })?.bucket,
            let connection = bucket.connections.popLast()
        else { return }
        connection.close()
    }

    /// Closes every idle connection of `cluster` (a reconfiguration replaced it, so it is retired) and forgets its
    /// buckets: a retired cluster's connections close when released rather than wait in one, and a bucket left
    /// under its identifier would grow the pool with every replacement, and could serve a later cluster that
    /// happens to get the same address.
    func closeIdle(of cluster: UpstreamCluster) {
        let id = ObjectIdentifier(cluster)
        (newerKey, newerBucket, olderKey, olderBucket) = (nil, nil, nil, nil)
        for key in idle.keys where key.cluster == id { idle.removeValue(forKey: key)?.closeAll() }
        for key in idleByServer.keys where key.key.cluster == id { idleByServer.removeValue(forKey: key)?.closeAll() }
        for key in idleByClient.keys where key.key.cluster == id { idleByClient.removeValue(forKey: key)?.closeAll() }
    }

    /// A number for a client connection whose requests go upstream with its PROXY protocol header: unique on this
    /// loop for the pool's life, so a connection bound to one client can never be taken for another.
    func clientNumber() -> UInt64 {
        lastClient += 1
        return lastClient
    }

    /// The client connection numbered `client` went: the idle connections that began with its header close.
    func closeIdle(boundTo client: UInt64) {
        guard !idleByClient.isEmpty else { return }
        for key in idleByClient.keys where key.client == client { idleByClient.removeValue(forKey: key)?.closeAll() }
    }

    /// Every bucket, with the cluster it pools for.
    private var allBuckets: [(cluster: ObjectIdentifier?, bucket: IdleConnections)] {
        idle.map { ($0.key.cluster, $0.value) } + idleByServer.map { ($0.key.key.cluster, $0.value) }
            + idleByClient.map { ($0.key.key.cluster, $0.value) }
    }

    /// Endpoints (per cluster with a traffic policy, and per request host where its TLS names the server by it) the
    /// pool keeps idle connections for.
    var bucketCount: Int { idle.count + idleByServer.count + idleByClient.count }

    /// Closes every idle connection (shutdown).
    func closeAll() {
        for (_, bucket) in allBuckets { bucket.closeAll() }
    }

    var idleCount: Int { allBuckets.reduce(0) { $0 + $1.bucket.connections.count } }

    /// How long `connection` may stay idle: the cluster's idle timeout, or what is left of its `maxConnectionDuration`
    /// when that is sooner; nil when neither is set.
    static func idleLimit(of connection: UpstreamConnection, in cluster: UpstreamCluster) -> TimeAmount? {
        guard let lifetime = cluster.maxConnectionDuration else { return cluster.idleTimeout }
        let left = connection.opened + lifetime - .now()
        return min(left, cluster.idleTimeout ?? left)
    }

    /// An idle connection closed: it leaves its bucket.
    func forget(_ connection: UpstreamConnection) {
        connection.idleIn = nil
        connection.bucket?.connections.removeAll { $0 === connection }
    }

    private func connect(
        _ endpoint: EndpointAddress, cluster: UpstreamCluster?, serverHost: String?, proxyHeader: ByteBuffer?, client: UInt64?,
        _ completion: @escaping (Result<UpstreamConnection, any Error>) -> Void
    ) {
        let tls: NIOSSLContext?
        switch cluster?.tls {
        case .failure(let error):
            cluster?.connectionClosed()
            return completion(.failure(error))
        case .success(let context): tls = context
        case nil: tls = nil
        }
        ClientBootstrap(group: eventLoop)
            .connectTimeout(cluster?.connectTimeout ?? connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .keepalive(cluster?.keepalive)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // The PROXY header goes out first, before a TLS ClientHello.
                    if let proxyHeader { try channel.pipeline.syncOperations.addHandler(ProxyProtocolWriter(header: proxyHeader)) }
                    if let tls, let cluster { try channel.pipeline.syncOperations.addHandler(cluster.clientHandler(tls, for: serverHost)) }
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .assumeIsolated()
            .whenComplete { result in
                completion(
                    result.flatMap { channel in
                        Result {
                            let connection = UpstreamConnection(channel: channel, endpoint: endpoint, cluster: cluster, serverHost: serverHost)
                            // Its header named one client: only that client's requests reuse it, and only when it says
                            // which client it is; otherwise it serves this request alone.
                            if proxyHeader != nil {
                                if let client { connection.client = client } else { connection.closeAfterResponse = true }
                            }
                            try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self).connection = connection
                            // The budget counted this connection when it allowed it; it gets the slot back once.
                            if let cluster { channel.closeFuture.whenComplete { _ in cluster.connectionClosed() } }
                            return connection
                        }
                    }.mapError { error in
                        cluster?.connectionClosed()
                        return error
                    }
                )
            }
    }
}

/// A request turned away by its cluster's connection budget: every connection is busy and the queue is full.
struct UpstreamOverflow: Error, CustomStringConvertible {
    let cluster: String
    let overflow: ConnectionBudget.Overflow

    var description: String { "\(overflow) (\(cluster))" }
}

import NIOCore
import SerinCore

/// State the proxy keeps per event loop: the upstream pool, the telemetry shard index, and the client
/// connections open on the loop (so a drain can reach them).
///
/// Each instance is touched only from its own event loop, which is what makes the
/// `@unchecked Sendable` safe: it is created on the server's thread, then handed to the
/// loop's child channels and used there only (`pool` asserts it).
final class LoopContext: @unchecked Sendable {
    let pool: UpstreamPool
    /// The loop's HTTP/2 connections to endpoints whose port speaks HTTP/2 or gRPC.
    let http2: HTTP2UpstreamSessions
    let shard: Int
    let eventLoop: any EventLoop
    private var connections: [ObjectIdentifier: any LoopConnection] = [:]
    /// Set once a drain begins: every response from then on ends its connection.
    private(set) var draining = false

    /// The gateway's listener counters, which connections on this loop add to.
    let health: GatewayHealth

    init(eventLoop: any EventLoop, shard: Int, connectTimeout: TimeAmount, health: GatewayHealth = GatewayHealth()) {
        self.eventLoop = eventLoop
        self.health = health
        self.pool = UpstreamPool(eventLoop: eventLoop, connectTimeout: connectTimeout)
        self.http2 = HTTP2UpstreamSessions(eventLoop: eventLoop, connectTimeout: connectTimeout)
        self.shard = shard
        pool.loop = self
    }

    /// Round-robin over a destination's endpoints, for every request on this loop: started at a random turn, so
    /// the loops do not all begin with the same endpoint.
    private var endpointTurn = Int.random(in: 0..<(1 << 20))

    /// The turn of the loop's next request (`Cluster.endpoint(forTurn:)` and the pick that skips ejected endpoints).
    func nextEndpointTurn() -> Int {
        endpointTurn &+= 1
        return endpointTurn
    }

    /// Requests in flight per endpoint, by cluster name, for clusters balanced by load (`load(of:)`), since the
    /// loop's route table last changed.
    var loads: [String: EndpointLoad] = [:]
    /// The counts under the table before, which a cluster's first request under the new one takes over.
    var loadsBefore: [String: EndpointLoad] = [:]

    /// The route table this loop's requests last read: which box it came from, and its generation there.
    private var routes: LoopRouteTable?

    /// The table a request on this loop routes by: the loop's copy while `box` holds the same generation, so a
    /// request takes no lock that other loops take too; after a replacement, the new table.
    func routeTable(_ box: RouteTableBox) -> LoopRouteTable {
        if let routes, routes.box == ObjectIdentifier(box), routes.generation == box.generation { return routes }
        let current = box.versioned
        let installed = LoopRouteTable(table: current.table, generation: current.generation, box: ObjectIdentifier(box))
        routes = installed
        // The new table's counts start from these, cluster by cluster, as its requests come (`load(of:)`): those with
        // requests in flight, and still those of a table before that no request of the last one took over.
        loadsBefore.merge(loads) { _, newer in newer }
        loadsBefore = loadsBefore.filter { $0.value.hasRequestsInFlight }
        loads = [:]
        return installed
    }

    /// HTTP/2 client connections, each drained and swept as a whole (with its streams' proxies).
    private var http2Connections: [ObjectIdentifier: HTTP2ServerConnection] = [:]

    /// Client connections open on this loop: HTTP/1 ones, passthrough splices and HTTP/2 ones (not their streams).
    var connectionCount: Int { connections.count + http2Connections.count }

    func register(_ handler: any LoopConnection) {
        connections[ObjectIdentifier(handler)] = handler
        if draining { handler.drainBegan() }
    }

    func unregister(_ handler: any LoopConnection) {
        connections[ObjectIdentifier(handler)] = nil
    }

    func register(_ connection: HTTP2ServerConnection) { http2Connections[ObjectIdentifier(connection)] = connection }

    func unregister(_ connection: HTTP2ServerConnection) { http2Connections[ObjectIdentifier(connection)] = nil }

    /// Stops keep-alive: HTTP/1 connections close after their next answer, or once quiet for
    /// `ConnectionDeadlines.drainIdleGrace`; HTTP/2 connections send GOAWAY and close once their open streams are
    /// answered. Connections accepted from now on drain from the start. A second call changes nothing.
    func beginDrain() {
        guard !draining else { return }
        draining = true
        for connection in http2Connections.values { connection.beginDrain() }
        for handler in connections.values { handler.drainBegan() }
    }

    /// The drain's time is up: connections between requests close, as they would have within their grace.
    func closeIdleConnections() {
        for handler in connections.values { handler.closeIfIdle() }
    }

    /// Closes the connections whose idle or header time has run out (see `ConnectionDeadlines`).
    func sweep() {
        let now = NIODeadline.now()
        for handler in connections.values { handler.deadlines.expire(now: now) }
        for connection in http2Connections.values { connection.sweep(now: now) }
    }

    /// The drain timed out: whatever is still open is closed.
    func closeAllConnections() {
        for handler in connections.values { handler.closeNow() }
        for connection in http2Connections.values { connection.closeNow() }
    }
}

/// A client connection a loop keeps track of: its clocks are swept, and a drain closes it.
protocol LoopConnection: AnyObject {
    var deadlines: ConnectionDeadlines { get }
    /// The client end, while the connection (or stream) is open.
    var client: ClientSide? { get set }
    /// A drain began (or the connection was accepted during one).
    func drainBegan()
    /// The drain's time is up: close now if nothing is under way.
    func closeIfIdle()
}

extension LoopConnection {
    /// The handler joined its pipeline (or its stream opened): the loop sweeps its clocks and can drain it.
    func join(_ loop: LoopContext, client: ClientSide) {
        self.client = client
        deadlines.attach(client)
        loop.register(self)
    }

    /// The handler left its pipeline (or its stream closed).
    func leave(_ loop: LoopContext) {
        loop.unregister(self)
        deadlines.attach(nil)
        client = nil
    }

    /// The drain's time is up.
    func closeNow() {
        client?.close()
    }
}

/// A loop's copy of a route table, held by reference: a request reads the table where it is, where returning the
/// table itself would retain and release each of its maps for every request.
final class LoopRouteTable {
    let table: RouteTable
    let generation: Int
    let box: ObjectIdentifier

    init(table: RouteTable, generation: Int, box: ObjectIdentifier) {
        self.table = table
        self.generation = generation
        self.box = box
    }

    /// `table.resolve`, asked here so the table is borrowed in place: read from the caller, it was retained map by
    /// map for the call.
    func resolve(_ request: RequestAttributes, port: Int, handshake: RouteTable.ServerBinding? = nil) -> RouteTable.Resolution {
        table.resolve(request, port: port, handshake: handshake)
    }

    /// `table.resolveMesh`, borrowed in place as `resolve` is.
    func resolveMesh(_ request: RequestAttributes) -> RouteTable.Resolution { table.resolveMesh(request) }
}

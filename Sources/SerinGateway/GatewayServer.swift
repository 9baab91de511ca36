import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import SerinCore
import SerinSystem
import Synchronization

/// Serin's embedded data plane: listens on every Gateway server port and proxies by the live RouteTable.
public final class GatewayServer: Sendable {
    /// How declared Gateway ports map to the ports actually bound.
    public enum PortMapping: Sendable {
        /// `declared + offset` (`--port-offset 8000` turns 80 into 8080).
        case offset(Int)
        /// A free port per listener, chosen by the kernel (tests).
        case ephemeral
    }

    public let group: MultiThreadedEventLoopGroup
    public let telemetry: GatewayTelemetry
    public let routes: RouteTableBox
    /// Outlier detection and connection budgets of the clusters whose DestinationRules set a traffic policy.
    let clusters: UpstreamClusters
    /// The address every Gateway listener binds to.
    public let bindHost: String
    private let portMapping: PortMapping
    private let loops: [ObjectIdentifier: LoopContext]
    private let listeners = NIOLockedValueBox<[Int: any Channel]>([:])
    /// The shutdown, once begun: every call to `shutdown` waits for this one.
    private let stopping = NIOLockedValueBox<Task<Int, Never>?>(nil)
    /// Set when the task waiting on `shutdown` is cancelled (a second SIGTERM or Ctrl-C): the drain ends now and
    /// cuts what is left.
    private let drainCut = Atomic<Bool>(false)
    private let meshListener = NIOLockedValueBox<(any Channel)?>(nil)
    /// The mesh's TCP listeners by declared service port (`RouteTable.meshStreamPorts`: plain TCP, or TLS by server
    /// name), on the `--mesh` address once it is open; the ports follow the port mapping, as the Gateway ports do.
    private let meshTCPListeners = NIOLockedValueBox<[Int: any Channel]>([:])
    /// The `--mesh` address's host, once open: where the mesh's TCP listeners bind.
    private let meshHost = NIOLockedValueBox<String?>(nil)
    /// HTTPS ports' TLS contexts by declared port, read as each connection is accepted: a new table or a reloaded
    /// certificate serves new handshakes while open connections keep the context they began with.
    let certificates = CertificateStore()
    private let ownsGroup: Bool
    public let limits: GatewayLimits
    private let openConnections = ConnectionCount()
    /// Connections the listeners refused or could not accept.
    public let gatewayHealth = GatewayHealth()
    /// How long a listener stops accepting after the kernel failed an accept: a gateway out of file descriptors
    /// retries ten times a second, not in a busy loop, while connections wait in the listen backlog.
    public static let acceptPause = AcceptPause.defaultPause
    /// The file descriptors the gateway's listeners leave free, under the open-file limit as it was when the gateway
    /// was made (raised by then, `OpenFileLimit`): past them, they pause as when an accept fails, so the admin endpoint
    /// can still answer and the process is not ended by what the runtime could not open. Nil when the limit cannot be read.
    private let descriptorReserve: DescriptorReserve?
    /// Every loop's context, by shard: where synthetic requests take turns.
    let loopsInShardOrder: [LoopContext]
    /// The next synthetic request's turn (its loop and endpoint).
    let syntheticTurn = Atomic<Int>(0)

    /// - Parameters:
    ///   - threads: event-loop threads (the CLI's `--threads`, default the number of cores).
    ///   - bindHost: address every listener binds to.
    public convenience init(
        threads: Int, bindHost: String = "127.0.0.1", portMapping: PortMapping = .offset(0), limits: GatewayLimits = .default
    ) {
        self.init(
            group: MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads)), ownsGroup: true,
            bindHost: bindHost, portMapping: portMapping, limits: limits
        )
    }

    init(group: MultiThreadedEventLoopGroup, ownsGroup: Bool, bindHost: String, portMapping: PortMapping, limits: GatewayLimits) {
        self.group = group
        self.ownsGroup = ownsGroup
        self.bindHost = bindHost
        self.portMapping = portMapping
        self.limits = limits
        self.descriptorReserve = OpenFileLimit.current.map { DescriptorReserve(keeping: 16, under: $0) }
        var loops: [ObjectIdentifier: LoopContext] = [:]
        for (index, loop) in group.makeIterator().enumerated() {
            loops[ObjectIdentifier(loop)] = LoopContext(eventLoop: loop, shard: index, connectTimeout: limits.upstreamConnectTimeout, health: gatewayHealth)
        }
        self.loops = loops
        self.loopsInShardOrder = loops.values.sorted { $0.shard < $1.shard }
        self.clusters = UpstreamClusters(loops: loopsInShardOrder)
        self.telemetry = GatewayTelemetry(shardCount: loops.count)
        self.routes = RouteTableBox()
        let sweepInterval = ConnectionDeadlines.sweepInterval(for: limits)
        for (_, loop) in loops {
            loop.eventLoop.scheduleRepeatedTask(initialDelay: sweepInterval, delay: sweepInterval) { _ in loop.sweep() }
        }
    }

    /// Declared port → bound port, for every open listener.
    public var boundPorts: [Int: Int] {
        listeners.withLockedValue { $0.compactMapValues { $0.localAddress?.port } }
    }

    /// The `--mesh` listener's address, once open.
    public var meshAddress: SocketAddress? { meshListener.withLockedValue { $0?.localAddress } }

    /// The bound port for a declared Gateway port.
    public func boundPort(forDeclared port: Int) -> Int? { boundPorts[port] }

    /// Declared service port → bound port, for every open TCP listener of the mesh (TLS ports' too).
    public var boundMeshTCPPorts: [Int: Int] {
        meshTCPListeners.withLockedValue { $0.compactMapValues { $0.localAddress?.port } }
    }

    /// Installs `table`, opening listeners for new ports and closing those no Gateway declares any more.
    ///
    /// New listeners are bound before the table is swapped, so a bind failure (port in use) changes nothing.
    /// Closing a listener stops new connections only; connections already open finish their requests.
    public func install(_ table: RouteTable) async throws {
        // Certificates are read before anything changes, so one that cannot be read leaves the gateway as it was.
        let contexts = try certificates.load(for: table)
        try clusters.checkTLS(of: table)
        let wanted = Set(table.listeners.keys).union(table.passthrough.keys).union(table.tcp.keys)
        let open = Set(listeners.withLockedValue { $0.keys })
        let meshHost = meshHost.withLockedValue { $0 }
        let wantedInMesh = meshHost == nil ? [] : table.meshStreamPorts
        var opened: [Int: any Channel] = [:]
        var openedInMesh: [Int: any Channel] = [:]
        do {
            for port in wanted.subtracting(open).sorted() {
                opened[port] = try await bind(declaredPort: port)
            }
            if let meshHost {
                for port in wantedInMesh.subtracting(meshTCPListeners.withLockedValue { $0.keys }).sorted() {
                    openedInMesh[port] = try await bindMeshTCP(host: meshHost, declaredPort: port)
                }
            }
        } catch {
            for channel in Array(opened.values) + Array(openedInMesh.values) { try? await channel.close() }
            throw error
        }
        clusters.reconcile(with: table)
        certificates.install(contexts)
        routes.replace(with: table)
        let closing = Self.swap(listeners, opening: opened, keeping: wanted) + Self.swap(meshTCPListeners, opening: openedInMesh, keeping: wantedInMesh)
        // Only now, with the table, clusters and certificates that serve them in place, do the new ports accept:
        // before, their first connections could be answered by the table before (404, no server on the port).
        for channel in Array(opened.values) + Array(openedInMesh.values) { await Self.startAccepting(channel) }
        for channel in closing { try? await channel.close() }
    }

    /// Adds the listeners just opened to `listeners` and takes out those on ports no longer wanted, which it returns.
    private static func swap(
        _ listeners: NIOLockedValueBox<[Int: any Channel]>, opening opened: [Int: any Channel], keeping wanted: Set<Int>
    ) -> [any Channel] {
        listeners.withLockedValue { current -> [any Channel] in
            current.merge(opened) { $1 }
            let gone = current.keys.filter { !wanted.contains($0) }
            return gone.compactMap { current.removeValue(forKey: $0) }
        }
    }

    /// A listener is bound paused (connections wait in its backlog); this lets it accept.
    private static func startAccepting(_ channel: any Channel) async {
        try? await channel.setOption(ChannelOptions.autoRead, value: true).get()
    }

    /// Opens the mesh's outbound listener on `host:port` (0: a free port), the role a sidecar plays for its
    /// workload: clients reach services through it by `Host: reviews:9080`, or use it as their HTTP proxy, and it
    /// routes by the table's mesh routes. It stays open, whatever tables are installed, until shutdown. The mesh's
    /// TCP and TLS ports (`RouteTable.meshStreamPorts`) open on the same host, each on its service port as mapped, and
    /// follow the tables installed.
    public func openMesh(host: String, port: Int) async throws {
        let channel: any Channel
        do {
            channel = try await bind(host: host, port: port, declaredPort: port, role: .mesh)
        } catch GatewayError.portInUse {
            throw GatewayError.meshUnavailable(address: host, port: port, reason: "address already in use")
        } catch GatewayError.permissionDenied {
            throw GatewayError.meshUnavailable(address: host, port: port, reason: "permission denied (ports below 1024 need root)")
        } catch GatewayError.noSuchAddress {
            throw GatewayError.meshUnavailable(address: host, port: port, reason: "\(host) is not an address of this machine")
        }
        var openedInMesh: [Int: any Channel] = [:]
        do {
            for port in routes.table.meshStreamPorts.sorted() {
                openedInMesh[port] = try await bindMeshTCP(host: host, declaredPort: port)
            }
        } catch {
            for channel in [channel] + Array(openedInMesh.values) { try? await channel.close() }
            throw error
        }
        meshHost.withLockedValue { $0 = host }
        let previous = meshListener.withLockedValue { current -> (any Channel)? in
            defer { current = channel }
            return current
        }
        let closing = Self.swap(meshTCPListeners, opening: openedInMesh, keeping: Set(openedInMesh.keys))
        for listener in [channel] + Array(openedInMesh.values) { await Self.startAccepting(listener) }
        try? await previous?.close()
        for listener in closing { try? await listener.close() }
    }

    /// A TCP listener of the mesh, on `host` and the service port as the port mapping maps it.
    private func bindMeshTCP(host: String, declaredPort: Int) async throws -> any Channel {
        let port = try mapped(declaredPort)
        do {
            return try await bind(host: host, port: port, declaredPort: declaredPort, role: .meshTCP)
        } catch GatewayError.portInUse {
            throw GatewayError.meshTCPUnavailable(address: host, port: port, declared: declaredPort, reason: "address already in use")
        } catch GatewayError.permissionDenied {
            throw GatewayError.meshTCPUnavailable(
                address: host, port: port, declared: declaredPort, reason: "permission denied (ports below 1024 need root)")
        }
    }

    private func bind(declaredPort: Int) async throws -> any Channel {
        try await bind(host: bindHost, port: try mapped(declaredPort), declaredPort: declaredPort, role: .gateway)
    }

    /// The port a declared one listens on. A port mapped to 0 takes a free one the kernel picks, which the start-up
    /// log names (as `--admin HOST:0`).
    private func mapped(_ declaredPort: Int) throws -> Int {
        let port: Int
        switch portMapping {
        case .offset(let offset): port = declaredPort + offset
        case .ephemeral: port = 0
        }
        guard (0...65535).contains(port) else {
            throw GatewayError.invalidPort(declared: declaredPort, actual: port)
        }
        return port
    }

    /// What a listener serves: a Gateway port (its servers' protocol decides), the mesh's HTTP listener, or one of the
    /// mesh's TCP ports.
    private enum ListenerRole {
        case gateway, mesh, meshTCP
    }

    private func bind(host bindHost: String, port: Int, declaredPort: Int, role: ListenerRole) async throws -> any Channel {
        let routes = self.routes
        let clusters = self.clusters
        let telemetry = self.telemetry
        let loops = self.loops
        let limits = self.limits
        let openConnections = self.openConnections
        let certificates = self.certificates
        let health = self.gatewayHealth
        let reserve = self.descriptorReserve
        do {
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                // Paused until `startAccepting`: its caller first installs what serves the port.
                .serverChannelOption(.autoRead, value: false)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(AcceptPause(pause: Self.acceptPause, reserve: reserve) { health.acceptFailed($0) })
                    }
                }
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard let loop = loops[ObjectIdentifier(channel.eventLoop)] else {
                            preconditionFailure("channel accepted on an event loop outside the gateway's group")
                        }
                        // Over the cap, the connection is closed as it is accepted (the failed initializer closes it).
                        guard openConnections.acquire(limit: limits.maxConnections) else {
                            health.refusedOverLimit()
                            throw ConnectionLimitReached()
                        }
                        channel.closeFuture.whenComplete { _ in openConnections.release() }
                        let inMesh = role != .gateway
                        let tls = inMesh ? nil : certificates.port(declaredPort)
                        let table = routes.table
                        if role == .meshTCP || (!inMesh && (table.passthrough[declaredPort] != nil || table.tcp[declaredPort] != nil)) {
                            // A mesh port is plain TCP unless it routes by server name: a TLS port of the mesh's waits for
                            // the ClientHello, as a PASSTHROUGH port does.
                            let plainTCP = role == .meshTCP ? table.meshTLS[declaredPort] == nil : table.tcp[declaredPort] != nil
                            let passthroughPort = PassthroughPort(
                                routes: routes, clusters: clusters, telemetry: telemetry, declaredPort: declaredPort, limits: limits,
                                terminating: tls, plainTCP: plainTCP, inMesh: role == .meshTCP
                            )
                            return try PassthroughHandler.install(on: channel, port: passthroughPort, loop: loop)
                        }
                        let sync = channel.pipeline.syncOperations
                        let deadlines = ConnectionDeadlines(limits: limits, handshaking: tls != nil)
                        // The ProxyHandler reads HTTP/1 itself: heads parsed in place, bodies forwarded as they came.
                        let proxy = ProxyHandler(
                            routes: routes, clusters: clusters, telemetry: telemetry, loop: loop, declaredPort: declaredPort,
                            inMesh: inMesh, overTLS: tls != nil, limits: limits, deadlines: deadlines
                        )
                        try sync.addHandler(proxy)
                        if let tls { try GatewayTLS.terminate(on: channel, before: proxy, with: tls) }
                    }
                }
                .bind(host: bindHost, port: port)
                .get()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw GatewayError.portInUse(address: bindHost, port: port, declared: declaredPort)
        } catch let error as IOError where error.errnoCode == EACCES {
            throw GatewayError.permissionDenied(address: bindHost, port: port, declared: declaredPort)
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
            throw GatewayError.noSuchAddress(address: bindHost, port: port, declared: declaredPort)
        } catch let error where error is SocketAddressError.UnknownHost || error is SocketAddressError {
            throw GatewayError.noSuchAddress(address: bindHost, port: port, declared: declaredPort)
        }
    }

    /// Checks `gatewayHealth` every `interval` until cancelled, and tells `report` what changed since the last
    /// check: how many connections were refused over the limit and how many accepts failed, if any were.
    public func watchListeners(every interval: Duration, report: @Sendable (GatewayHealth.Counts) -> Void) async {
        var last = gatewayHealth.counts
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            let now = gatewayHealth.counts
            guard now.overflow != last.overflow || now.acceptFailures != last.acceptFailures else { continue }
            report(
                GatewayHealth.Counts(
                    overflow: now.overflow - last.overflow, acceptFailures: now.acceptFailures - last.acceptFailures,
                    lastFailure: now.lastFailure
                )
            )
            last = now
        }
    }

    /// Polls the certificate files every `interval` until cancelled — the HTTPS servers' and the DestinationRules'
    /// upstream `tls` files — reloading them when one changes (new handshakes use them; open connections keep
    /// theirs), and tells `report` each reload or failure.
    public func watchCertificates(every interval: Duration, report: @Sendable (CertificateReload) -> Void) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            let outcome = certificates.reloadIfChanged()
            if outcome != .unchanged { report(outcome) }
            for upstream in clusters.reloadClientCertificatesIfChanged() { report(upstream) }
        }
    }

    /// Idle keep-alive connections to upstream endpoints, across every event loop.
    public func idleUpstreamConnectionCount() async -> Int {
        var total = 0
        for (_, loop) in loops { total += (try? await loop.eventLoop.submit { loop.pool.idleCount }.get()) ?? 0 }
        return total
    }

    /// HTTP/2 connections open to upstream endpoints, across every event loop (each carries many streams).
    public func http2UpstreamConnectionCount() async -> Int {
        var total = 0
        for (_, loop) in loops { total += (try? await loop.eventLoop.submit { loop.http2.connectionCount }.get()) ?? 0 }
        return total
    }

    /// Client connections open right now, across every listener.
    public var openConnectionCount: Int { openConnections.current }

    /// Stops accepting, lets requests in flight finish for up to `drainTimeout` (new responses say
    /// `connection: close`; keep-alive connections close after their next answer, or once quiet for a second), closes
    /// whatever is left (an idle connection is not counted as cut), closes
    /// idle upstream connections, then stops the event loops. Returns how many client connections the
    /// drain had to cut.
    ///
    /// Once is enough: a second call, during the first or after it, waits for the first and returns its count (it
    /// used to wait forever on event loops already stopped).
    ///
    /// Cancelling the waiting task (a second SIGTERM or Ctrl-C) ends the drain at once: what is still open is cut.
    @discardableResult
    public func shutdown(drainTimeout: TimeAmount = .zero) async -> Int {
        let stop = stopping.withLockedValue { first in
            if let first { return first }
            let stop = Task { await self.stop(drainTimeout: drainTimeout) }
            first = stop
            return stop
        }
        return await withTaskCancellationHandler {
            await stop.value
        } onCancel: {
            drainCut.store(true, ordering: .relaxed)
        }
    }

    private func stop(drainTimeout: TimeAmount) async -> Int {
        let mesh = meshListener.withLockedValue { current -> (any Channel)? in
            defer { current = nil }
            return current
        }
        let channels = [listeners, meshTCPListeners].flatMap { box in
            box.withLockedValue { current -> [any Channel] in
                defer { current.removeAll() }
                return Array(current.values)
            }
        } + (mesh.map { [$0] } ?? [])
        for channel in channels { try? await channel.close() }
        let cut = await drain(timeout: drainTimeout)
        for (_, loop) in loops {
            try? await loop.pool.eventLoop.submit {
                loop.pool.closeAll()
                loop.http2.closeAll()
            }.get()
        }
        if ownsGroup { try? await group.shutdownGracefully() }
        return cut
    }

    /// Begins the drain with the listeners still open: every answer from now on says `connection: close` (HTTP/2
    /// connections get GOAWAY), and connections between requests close once quiet for a second. For the time a load
    /// balancer needs to see `/readyz` fail: what it still sends is served, each on a connection of its own.
    /// `shutdown` begins it too; a second call changes nothing.
    public func beginDrain() async {
        for (_, loop) in loops { try? await loop.eventLoop.submit { loop.beginDrain() }.get() }
    }

    private func drain(timeout: TimeAmount) async -> Int {
        await beginDrain()
        let deadline = NIODeadline.now() + timeout
        while await connectionsOnLoops() > 0, NIODeadline.now() < deadline, !drainCut.load(ordering: .relaxed) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for (_, loop) in loops { try? await loop.eventLoop.submit { loop.closeIdleConnections() }.get() }
        let remaining = await connectionsOnLoops()
        for (_, loop) in loops { try? await loop.eventLoop.submit { loop.closeAllConnections() }.get() }
        return remaining
    }

    private func connectionsOnLoops() async -> Int {
        var total = 0
        for (_, loop) in loops { total += (try? await loop.eventLoop.submit { loop.connectionCount }.get()) ?? 0 }
        return total
    }
}

/// Client connections open across the gateway's loops, checked against `GatewayLimits.maxConnections`.
final class ConnectionCount: Sendable {
    private let count = Atomic<Int>(0)

    var current: Int { count.load(ordering: .relaxed) }

    /// Takes a slot unless `limit` are taken already.
    func acquire(limit: Int) -> Bool {
        var seen = count.load(ordering: .relaxed)
        while seen < limit {
            let (exchanged, original) = count.compareExchange(expected: seen, desired: seen + 1, ordering: .relaxed)
            if exchanged { return true }
            seen = original
        }
        return false
    }

    func release() { count.subtract(1, ordering: .relaxed) }
}

/// Thrown from the connection initializer to refuse a connection over the cap.
struct ConnectionLimitReached: Error {}

/// Why the gateway could not start or reconfigure, in words for the person running it.
public enum GatewayError: Error, CustomStringConvertible, Equatable {
    case portInUse(address: String, port: Int, declared: Int)
    case permissionDenied(address: String, port: Int, declared: Int)
    /// `--address` names no address of this machine (or is not an address at all).
    case noSuchAddress(address: String, port: Int, declared: Int)
    case invalidPort(declared: Int, actual: Int)
    case meshUnavailable(address: String, port: Int, reason: String)
    /// A TCP port of the mesh (a service port a mesh-bound VirtualService's tcp routes serve) cannot be listened on.
    case meshTCPUnavailable(address: String, port: Int, declared: Int, reason: String)
    /// An HTTPS server's certificate, key or TLS settings cannot be used; the message names the server and file.
    case tls(String)

    public var description: String {
        switch self {
        case .portInUse(let address, let port, let declared):
            return "cannot listen on \(address):\(port) for Gateway port \(declared): address already in use"
        case .permissionDenied(let address, let port, let declared):
            return "cannot listen on \(address):\(port) for Gateway port \(declared): permission denied (ports below 1024 need root)"
        case .noSuchAddress(let address, let port, let declared):
            return "cannot listen on \(address):\(port) for Gateway port \(declared): \(address) is not an address of this machine "
                + "(--address takes one of its IP addresses, 127.0.0.1 for this machine only or 0.0.0.0 for every interface)"
        case .invalidPort(let declared, let actual):
            return "Gateway port \(declared) maps to \(actual), outside 0-65535 (check --port-offset)"
        case .meshUnavailable(let address, let port, let reason):
            return "cannot listen on \(address):\(port) for the mesh (--mesh): \(reason)"
        case .meshTCPUnavailable(let address, let port, let declared, let reason):
            return "cannot listen on \(address):\(port) for the mesh's TCP service port \(declared) (--mesh): \(reason); "
                + "a sidecar takes each TCP service port on the mesh's address, so nothing else there may listen on it (or set --port-offset)"
        case .tls(let message):
            return message
        }
    }
}

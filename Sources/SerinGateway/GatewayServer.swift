import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinCore

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
    private let bindHost: String
    private let portMapping: PortMapping
    private let loops: [ObjectIdentifier: LoopContext]
    private let listeners = NIOLockedValueBox<[Int: any Channel]>([:])
    private let ownsGroup: Bool

    /// - Parameters:
    ///   - threads: event-loop threads (the CLI's `--threads`, default the number of cores).
    ///   - bindHost: address every listener binds to.
    public convenience init(threads: Int, bindHost: String = "127.0.0.1", portMapping: PortMapping = .offset(0)) {
        self.init(
            group: MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads)), ownsGroup: true,
            bindHost: bindHost, portMapping: portMapping
        )
    }

    init(group: MultiThreadedEventLoopGroup, ownsGroup: Bool, bindHost: String, portMapping: PortMapping) {
        self.group = group
        self.ownsGroup = ownsGroup
        self.bindHost = bindHost
        self.portMapping = portMapping
        var loops: [ObjectIdentifier: LoopContext] = [:]
        for (index, loop) in group.makeIterator().enumerated() {
            loops[ObjectIdentifier(loop)] = LoopContext(eventLoop: loop, shard: index)
        }
        self.loops = loops
        self.telemetry = GatewayTelemetry(shardCount: loops.count)
        self.routes = RouteTableBox()
    }

    /// Declared port → bound port, for every open listener.
    public var boundPorts: [Int: Int] {
        listeners.withLockedValue { $0.compactMapValues { $0.localAddress?.port } }
    }

    /// The bound port for a declared Gateway port.
    public func boundPort(forDeclared port: Int) -> Int? { boundPorts[port] }

    /// Installs `table`, opening listeners for new ports and closing those no Gateway declares any more.
    ///
    /// New listeners are bound before the table is swapped, so a bind failure (port in use) changes nothing.
    /// Closing a listener stops new connections only; connections already open finish their requests.
    public func install(_ table: RouteTable) async throws {
        let wanted = Set(table.listeners.keys)
        let open = Set(listeners.withLockedValue { $0.keys })
        var opened: [Int: any Channel] = [:]
        do {
            for port in wanted.subtracting(open).sorted() {
                opened[port] = try await bind(declaredPort: port)
            }
        } catch {
            for channel in opened.values { try? await channel.close() }
            throw error
        }
        routes.replace(with: table)
        let closing = listeners.withLockedValue { current -> [any Channel] in
            current.merge(opened) { $1 }
            let gone = current.keys.filter { !wanted.contains($0) }
            return gone.compactMap { current.removeValue(forKey: $0) }
        }
        for channel in closing { try? await channel.close() }
    }

    private func bind(declaredPort: Int) async throws -> any Channel {
        let port: Int
        switch portMapping {
        case .offset(let offset): port = declaredPort + offset
        case .ephemeral: port = 0
        }
        guard (0...65535).contains(port) else {
            throw GatewayError.invalidPort(declared: declaredPort, actual: port)
        }
        let routes = self.routes
        let telemetry = self.telemetry
        let loops = self.loops
        do {
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard let loop = loops[ObjectIdentifier(channel.eventLoop)] else {
                            preconditionFailure("channel accepted on an event loop outside the gateway's group")
                        }
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            ProxyHandler(routes: routes, telemetry: telemetry, loop: loop, declaredPort: declaredPort)
                        )
                    }
                }
                .bind(host: bindHost, port: port)
                .get()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw GatewayError.portInUse(address: bindHost, port: port, declared: declaredPort)
        } catch let error as IOError where error.errnoCode == EACCES {
            throw GatewayError.permissionDenied(address: bindHost, port: port, declared: declaredPort)
        }
    }

    /// Closes every listener and idle upstream connection, then stops the event loops.
    public func shutdown() async {
        let channels = listeners.withLockedValue { current -> [any Channel] in
            defer { current.removeAll() }
            return Array(current.values)
        }
        for channel in channels { try? await channel.close() }
        for (_, loop) in loops {
            try? await loop.pool.eventLoop.submit { loop.pool.closeAll() }.get()
        }
        if ownsGroup { try? await group.shutdownGracefully() }
    }
}

/// Why the gateway could not start or reconfigure, in words for the person running it.
public enum GatewayError: Error, CustomStringConvertible, Equatable {
    case portInUse(address: String, port: Int, declared: Int)
    case permissionDenied(address: String, port: Int, declared: Int)
    case invalidPort(declared: Int, actual: Int)

    public var description: String {
        switch self {
        case .portInUse(let address, let port, let declared):
            return "cannot listen on \(address):\(port) for Gateway port \(declared): address already in use"
        case .permissionDenied(let address, let port, let declared):
            return "cannot listen on \(address):\(port) for Gateway port \(declared): permission denied (ports below 1024 need root)"
        case .invalidPort(let declared, let actual):
            return "Gateway port \(declared) maps to \(actual), outside 0-65535"
        }
    }
}

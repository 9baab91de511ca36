/// The compiled, immutable routing state of the gateway: listeners by port, their hosts and ordered routes.
///
/// It is a plain value: the gateway reads one snapshot per request and a reconfiguration swaps
/// in a new one, so a request in flight never sees half a change.
public struct RouteTable: Sendable {
    /// Listeners by the port their Gateway servers declare (before any `--port-offset`).
    public let listeners: [Int: Listener]
    /// The PASSTHROUGH servers' listeners by port: server names (SNI) and `tls` routes. A port may have one here
    /// and an HTTPS one in `listeners`: a connection whose server name no PASSTHROUGH server lists is terminated.
    public let passthrough: [Int: Listener]
    /// The mesh's outbound routes by service port, as a sidecar holds them: the VirtualServices bound to the mesh,
    /// and each known service's own port straight to its endpoints. Served by the `--mesh` listener.
    public let mesh: [Int: Listener]
    /// The TCP servers' listeners by port: one virtual host admitting every connection, holding the `tcp` routes of
    /// the VirtualServices bound to them in order. A TCP port has no other listener (validation refuses a mix).
    public let tcp: [Int: Listener]
    /// The mesh's plain TCP ports, as a sidecar's outbound TCP listeners: for each service port a mesh-bound
    /// VirtualService's `tcp` routes serve, those routes in order, then the services' own `tcp` ports straight to
    /// their endpoints. Served on the `--mesh` address, a listener per port.
    public let meshTCP: [Int: Listener]
    /// The mesh's TLS ports, routed by server name (SNI) as a sidecar's outbound TLS filter chains: mesh-bound
    /// VirtualServices' `tls` routes, and the services' own `tls` ports by their names. Served on the `--mesh` address
    /// as `meshTCP` is; a port in both routes by server name first, then by its tcp routes.
    public let meshTLS: [Int: Listener]
    /// Whether a mesh route matches on a header (`headers` or `withoutHeaders`): where none does, the mesh routes a
    /// request by its method, target and authority alone.
    public let meshReadsRequestHeaders: Bool
    /// Whether a listener translates gRPC-Web (a `GRPC-WEB` server): where none does, a request's content type is not
    /// looked at for it.
    public let translatesGRPCWeb: Bool

    public init(
        listeners: [Int: Listener], mesh: [Int: Listener] = [:], passthrough: [Int: Listener] = [:], tcp: [Int: Listener] = [:],
        meshTCP: [Int: Listener] = [:], meshTLS: [Int: Listener] = [:]
    ) {
        self.listeners = listeners
        self.passthrough = passthrough
        self.tcp = tcp
        self.mesh = mesh
        self.meshTCP = meshTCP
        self.meshTLS = meshTLS
        meshReadsRequestHeaders = mesh.values.contains(where: \.readsRequestHeaders)
        translatesGRPCWeb = listeners.values.contains(where: \.translatesGRPCWeb)
    }

    /// The service ports the mesh carries as byte streams, each on a listener of its own: `meshTCP`'s and `meshTLS`'s.
    public var meshStreamPorts: Set<Int> { Set(meshTCP.keys).union(meshTLS.keys) }

    public static let empty = RouteTable(listeners: [:])

    /// One port: which gateways' servers listen there, and the virtual hosts bound to them.
    ///
    /// This and the types below are immutable classes, as `Route` is: every request reads its listener, servers and
    /// virtual hosts, and a reference costs one retain where a copy of a struct costs one per field.
    public final class Listener: Sendable {
        public let port: Int
        /// A mesh port's listener: its one server is `ResourceName.mesh`, admitting every host, and a match's
        /// `gateways` admits the request when it lists `mesh`.
        public var isMesh: Bool { servers.count == 1 && servers[0].gateway == .mesh }
        public let servers: [ServerBinding]
        /// Most specific host pattern first.
        public let virtualHosts: [VirtualHost]
        /// The exact host names' virtual hosts by `HostKey` of the name, so thousands of hosts cost one lookup, not
        /// a scan; a key shared by two names holds both, and the name is compared after. Nil for a handful of names
        /// and wildcards, where comparing them is cheaper than hashing the request's host: the resolver scans all in
        /// order. (An exact name sorts before every wildcard, so either way the exact one is tried first.)
        let exactHosts: [HostKey: [Int]]?
        /// The wildcard patterns' virtual hosts, most specific first.
        let wildcardHosts: [Int]
        /// The same by the length of their suffix, so thousands of wildcards cost a lookup per length, not a scan;
        /// nil where `exactHosts` is.
        let wildcardIndex: WildcardHostIndex?

        /// Whether the listener terminates TLS: its servers are HTTPS servers (validation refuses a port mixing
        /// HTTPS with plaintext).
        public let terminatesTLS: Bool
        /// Whether the listener passes TLS through: its servers are PASSTHROUGH servers, its virtual hosts are server
        /// names (SNI) and its routes a VirtualService's `tls` routes (`RouteTable.passthrough`).
        public let passesThrough: Bool
        /// The bits of the servers that redirect to https; a request admitted by one of them is redirected.
        let httpsRedirectMask: UInt64
        /// Whether the listener's first server is a `GRPC-WEB` one: a gRPC-Web request (`application/grpc-web…`) on it
        /// goes to an HTTP/2 upstream as gRPC, its answer back as gRPC-Web, as Istio's gateway adds Envoy's grpc_web
        /// filter there. Istio merges a port's servers under the first one's protocol, so a later one's does not count.
        public let translatesGRPCWeb: Bool
        /// Whether a route here matches on a header (`headers` or `withoutHeaders`): where none does, a request on a
        /// connection routes by its method, target and authority alone, so the gateway may route it as the last
        /// request with the same three, on the same table.
        public let readsRequestHeaders: Bool

        public init(port: Int, servers: [ServerBinding], virtualHosts: [VirtualHost]) {
            self.port = port
            self.servers = servers
            terminatesTLS = servers.contains { $0.tls != nil }
            passesThrough = servers.contains { $0.passesThrough }
            translatesGRPCWeb = servers.first?.grpcWeb ?? false
            httpsRedirectMask = servers.indices.reduce(0) { mask, index in servers[index].httpsRedirect == nil ? mask : mask | Self.bit(index) }
            self.virtualHosts = virtualHosts.map { $0.bound(to: servers) }
            let exact = virtualHosts.indices.filter { !virtualHosts[$0].pattern.isWildcard }
            wildcardHosts = virtualHosts.indices.filter { virtualHosts[$0].pattern.isWildcard }
            // Either index takes the other: a scan for the exact names would pass over every wildcard too.
            let indexed = exact.count > 8 || wildcardHosts.count > 8
            exactHosts = indexed ? Dictionary(grouping: exact) { HostKey(virtualHosts[$0].pattern.text) } : nil
            wildcardIndex = indexed ? WildcardHostIndex(wildcardHosts, of: virtualHosts) : nil
            readsRequestHeaders = virtualHosts.contains { host in
                host.routes.contains { route in route.rules.contains { !$0.headers.isEmpty || !$0.withoutHeaders.isEmpty } }
            }
        }

        /// Server `index`'s bit in an admission mask; servers past the 63rd share the top bit, which the
        /// resolver then checks by gateway name.
        static func bit(_ index: Int) -> UInt64 { 1 << UInt64(min(index, 63)) }
        static let sharedBit = bit(63)

        /// The servers whose requests a connection may carry when its handshake chose `chosen` (from this table or the
        /// one before an apply), as a mask of `bit(index)`: those with the same TLS settings, and `chosen` itself as
        /// this table has it — the same gateway and hosts — as long as it verifies clients as it did. So a new
        /// certificate or version range leaves open connections served, while a server that now asks for a client
        /// certificate turns away the requests of a connection that never gave one.
        func admission(ofHandshake chosen: ServerBinding) -> UInt64 {
            guard let tls = chosen.tls else { return 0 }
            var mask: UInt64 = 0
            for (index, server) in servers.enumerated() {
                guard let serverTLS = server.tls else { continue }
                if server === chosen || serverTLS == tls
                    || (server.gateway == chosen.gateway && server.hosts == chosen.hosts
                        && serverTLS.clientVerification == tls.clientVerification)
                {
                    mask |= Self.bit(index)
                }
            }
            return mask
        }

        /// The servers that admit `host`, as a mask of `bit(index)`.
        func admission<S: StringProtocol>(of host: S) -> UInt64 {
            var mask: UInt64 = 0
            for (index, server) in servers.enumerated() where server.hosts.contains(where: { $0.matches(host) }) {
                mask |= Self.bit(index)
            }
            return mask
        }

    }

    /// A Gateway server on a listener: the hosts it admits, and how it terminates TLS.
    public final class ServerBinding: Sendable {
        public let gateway: ResourceName
        public let hosts: [HostPattern]
        /// An HTTPS server's TLS settings; nil on a plaintext server.
        public let tls: ServerTLS?
        /// An HTTP server with `tls.httpsRedirect`: the route that answers every request it admits with a 301 to
        /// the same URL over https, on the protocol's default port.
        public let httpsRedirect: Route?
        /// A PASSTHROUGH server: its connections go on still encrypted, by server name.
        public let passesThrough: Bool
        /// A `GRPC-WEB` server: it translates gRPC-Web to gRPC (`Listener.translatesGRPCWeb`).
        public let grpcWeb: Bool

        public init(
            gateway: ResourceName, hosts: [HostPattern], tls: ServerTLS? = nil, httpsRedirect: Bool = false, passesThrough: Bool = false,
            grpcWeb: Bool = false
        ) {
            self.gateway = gateway
            self.hosts = hosts
            self.tls = tls
            self.passesThrough = passesThrough
            self.grpcWeb = grpcWeb
            self.httpsRedirect =
                httpsRedirect
                ? Route(
                    virtualService: gateway, index: 0, name: "tls.httpsRedirect", gateways: [gateway], matches: [], targets: [],
                    policy: RoutePolicy(redirect: HTTPRedirect(scheme: .https, derivePort: .fromProtocolDefault, redirectCode: 301))
                ) : nil
        }

        /// The index of the HTTPS server a ClientHello naming `name` gets among `servers`, as Envoy picks a filter
        /// chain: the first whose hosts name it exactly, else the first whose wildcard matches it; nil when none does
        /// (the gateway then serves the first server's certificate).
        public static func handshakeServer<S: StringProtocol>(forName name: S, among servers: [ServerBinding]) -> Int? {
            servers.indices.first { servers[$0].tls != nil && servers[$0].hosts.contains { !$0.isWildcard && $0.matches(name) } }
                ?? servers.indices.first { servers[$0].tls != nil && servers[$0].hosts.contains { $0.matches(name) } }
        }
    }

    /// All routes for one host pattern, from every VirtualService that declares it, in manifest order.
    public final class VirtualHost: Sendable {
        public let pattern: HostPattern
        public let routes: [Route]
        /// Per route, the bits of the listener's servers whose gateway the route is bound to: a request's
        /// admission mask is tested against it with one AND, no set built per request.
        let serverMasks: [UInt64]

        public convenience init(pattern: HostPattern, routes: [Route]) {
            self.init(pattern: pattern, routes: routes, serverMasks: [])
        }

        private init(pattern: HostPattern, routes: [Route], serverMasks: [UInt64]) {
            self.pattern = pattern
            self.routes = routes
            self.serverMasks = serverMasks
        }

        func bound(to servers: [ServerBinding]) -> VirtualHost {
            let masks = routes.map { route in
                servers.indices.reduce(UInt64(0)) { mask, index in
                    route.gateways.contains(servers[index].gateway) ? mask | Listener.bit(index) : mask
                }
            }
            return VirtualHost(pattern: pattern, routes: routes, serverMasks: masks)
        }

        /// Whether route `offset` is bound to a gateway that admitted the request.
        func isBound(_ offset: Int, admission: UInt64, admits: (ResourceName) -> Bool) -> Bool {
            guard offset < serverMasks.count else { return routes[offset].gateways.contains(where: admits) }
            let shared = serverMasks[offset] & admission
            if shared == 0 { return false }
            return shared != Listener.sharedBit || routes[offset].gateways.contains(where: admits)
        }
    }

    /// A VirtualService route, with its destinations resolved to clusters: an `http` route, on a passthrough
    /// listener one match of a `tls` route (its port and gateways as `matches`, its server name as the virtual host),
    /// or on a TCP listener a `tcp` route (its matches' ports and gateways as `matches`).
    ///
    /// A class, immutable: the resolver hands one out per request, and a reference costs one retain
    /// where copying this many fields would cost dozens.
    public final class Route: Sendable {
        public let virtualService: ResourceName
        /// The VirtualService's list the route comes from: `http`, `tls` or `tcp`.
        public let section: String
        /// Position in the VirtualService's `section` list.
        public let index: Int
        public let name: String?
        /// Gateways the VirtualService is bound to.
        public let gateways: Set<ResourceName>
        public let matches: [RequestMatch]
        /// `matches`, prepared for evaluation per request.
        let rules: [MatchRule]
        public let targets: [Target]
        /// Timeout, retries, faults, header changes, rewrite, redirect or direct response, mirror.
        public let policy: RoutePolicy
        /// Running totals of `targets` weights, for the weighted pick.
        let cumulativeWeights: [Int]
        /// The request key whose point picks the target (`target(forPoint:)`); nil: every request is drawn.
        public let stickiness: Stickiness?
        /// The lowest response status `policy.retries` could retry (`Int.max` when none): an answer below it is
        /// final, known without reading the retry policy (most answers, on every route Istio's default retries).
        public let lowestRetriedStatus: Int
        /// The policy changes the request on its way upstream (a rewrite, header edits) or copies it (a mirror): a
        /// flag read per request, where testing those optionals would copy them.
        public let changesRequest: Bool
        /// The policy has a `corsPolicy`: a flag read per request, where testing the optional would copy it.
        public let appliesCORS: Bool
        /// The policy edits the answer's fields (`headers.response`): a flag read per answer, where testing the
        /// optional would copy it.
        public let editsResponse: Bool
        /// The root route a delegate's route stands in for (`default/bookinfo http[0]`); nil for a route written where
        /// it serves.
        public let delegatedBy: String?

        public init(
            virtualService: ResourceName, index: Int, name: String?, gateways: Set<ResourceName>,
            matches: [RequestMatch], targets: [Target], policy: RoutePolicy = RoutePolicy(), stickiness: Stickiness? = nil,
            section: String = "http", delegatedBy: String? = nil
        ) {
            self.delegatedBy = delegatedBy
            self.stickiness = stickiness
            self.section = section
            self.virtualService = virtualService
            self.index = index
            self.name = name
            self.gateways = gateways
            self.matches = matches
            self.rules = matches.map(MatchRule.init)
            self.targets = targets
            self.policy = policy
            self.lowestRetriedStatus = policy.retries.map(\.lowestRetriedStatus) ?? .max
            self.changesRequest = policy.rewrite != nil || !(policy.headers?.request.isEmpty ?? true) || !policy.mirrors.isEmpty
            self.editsResponse = !(policy.headers?.response.isEmpty ?? true)
            self.appliesCORS = policy.cors != nil
            var total = 0
            // A lone destination takes all traffic whatever its weight says (Istio's rule).
            let weights = targets.count == 1 ? [100] : targets.map { max(0, $0.weight) }
            self.cumulativeWeights = weights.map { weight in
                total += weight
                return total
            }
        }

        /// The Host a request sent to `target` goes upstream with, as Istio turns them into Envoy's host rewrite: the
        /// route's `rewrite.authority`, else the `host` its `headers.request` sets or adds, else the one the
        /// destination's `headers.request` does (a route's rewrite wins over a destination's, with one destination or
        /// several). Nil keeps the request's own.
        public func authority(toward target: Target) -> String? {
            policy.rewrite?.authority ?? policy.headers?.request.authority ?? target.headers?.request.authority
        }

        /// Sum of the weights; the range a caller draws from for `target(forRoll:)`.
        public var totalWeight: Int { cumulativeWeights.last ?? 0 }

        /// The target for a draw uniform in `0..<totalWeight`. Pure: the caller supplies the randomness.
        public func target(forRoll roll: Int) -> Target? {
            guard totalWeight > 0 else { return nil }
            let roll = min(max(roll, 0), totalWeight - 1)
            // Routes have a handful of targets: a linear scan beats a binary search here.
            for (offset, bound) in cumulativeWeights.enumerated() where roll < bound {
                return targets[offset]
            }
            return nil
        }

        /// The target for a sticky key's point in `0..<StickyPoint.scale`: the last target takes the lowest points,
        /// as many as its share of the weight, the one before it the next, and so on. So the canary (last in a route
        /// a rollout owns) keeps every point it had as its weight rises: a key never moves back to the stable.
        public func target(forPoint point: Int) -> Target? {
            let total = totalWeight
            guard total > 0 else { return nil }
            let point = min(max(point, 0), StickyPoint.scale - 1)
            return target(forRoll: total - 1 - point * total / StickyPoint.scale)
        }

        /// Label for messages: `default/web-virtualservice http[0]` or the route's name.
        public var label: String {
            "\(virtualService) \(section)[\(index)]" + (name.map { " (\($0))" } ?? "")
        }
    }

    /// One weighted destination and the cluster it resolves to; a class for the same reason as `Route`.
    public final class Target: Sendable {
        public let destination: Destination
        public let weight: Int
        public let cluster: Cluster
        /// Istio's `route[].headers`: applied after the route's own when a request goes to this destination.
        public let headers: RouteHeaders?
        /// `headers` edits the request: a flag read per request, where testing the optional would copy it.
        public let editsRequest: Bool
        /// `headers` edits the answer, read per answer as `editsRequest` is.
        public let editsResponse: Bool

        public init(destination: Destination, weight: Int, cluster: Cluster, headers: RouteHeaders? = nil) {
            self.destination = destination
            self.weight = weight
            self.cluster = cluster
            self.headers = headers
            self.editsRequest = !(headers?.request.isEmpty ?? true)
            self.editsResponse = !(headers?.response.isEmpty ?? true)
        }
    }

    /// The outcome of routing one request.
    public enum Resolution: Sendable {
        case route(Route)
        /// Nothing matched; the reason says what was looked at, for the 404 body.
        case noRoute(reason: String)
        /// The request's host belongs to a server with other TLS settings than the one the connection's handshake
        /// chose (a client certificate it would have asked for, another certificate): answered 421, so a client that
        /// reused the connection for another host asks again on a connection of its own.
        case misdirected(reason: String)
    }

    /// Finds the route for a request arriving on the listener for `port`: first matching route wins.
    ///
    /// `handshake`: on a connection whose TLS the gateway terminated, the server its handshake chose (by the
    /// ClientHello's server name). Only servers with its settings admit its requests, as Istio gives each HTTPS server a
    /// route configuration of its own, and only for a host whose own server (the one a ClientHello naming it would
    /// get) verifies clients as it did: a `Host` naming a MUTUAL server's host, sent on a connection the handshake gave to
    /// a SIMPLE server, must not reach that host without a client certificate, even where the SIMPLE server's wildcard
    /// admits it.
    public func resolve(_ request: RequestAttributes, port: Int, handshake: ServerBinding? = nil) -> Resolution {
        guard let listener = listeners[port] else {
            return .noRoute(reason: "no gateway server listens on port \(port)")
        }
        let host = request.host
        var admission = listener.admission(of: host)
        if admission == 0 {
            return .noRoute(reason: "no gateway server on port \(port) accepts host \"\(host)\"")
        }
        if let handshake, listener.servers.count > 1 {
            let chosen = listener.admission(ofHandshake: handshake)
            // The server a ClientHello naming this host would have got must verify clients as the handshake did: a
            // wildcard SIMPLE server also admits a host a MUTUAL server names, whose requests need its client check.
            let owner = RouteTable.ServerBinding.handshakeServer(forName: host, among: listener.servers).map { listener.servers[$0] }
            guard admission & chosen != 0, owner?.tls?.clientVerification == handshake.tls?.clientVerification else {
                return .misdirected(reason: "host \"\(host)\" is served on port \(port) with other TLS settings than this connection's "
                    + "handshake chose: connect with its name as the server name (SNI)")
            }
            admission &= chosen
        }
        if admission & listener.httpsRedirectMask != 0,
            let redirect = listener.servers.indices.lazy.filter({ admission & Listener.bit($0) != 0 })
                .compactMap({ listener.servers[$0].httpsRedirect }).first
        {
            return .route(redirect)
        }
        if let found = listener.resolve(request, admission: admission) { return found }
        let admitting = Set(listener.servers.map(\.gateway).filter { listener.admits($0, host: host) })
        return .noRoute(reason: "no VirtualService bound to \(admitting.sorted().map(\.description).joined(separator: ", ")) serves host \"\(host)\"")
    }

    /// Finds the route for a request sent through the mesh, as a sidecar would: by the host and the port its
    /// authority names (80 when it names none), among the VirtualServices bound to the mesh, then the service itself.
    public func resolveMesh(_ request: RequestAttributes) -> Resolution {
        let port = request.port ?? 80
        guard let listener = mesh[port] else {
            return .noRoute(reason: "no service in the mesh has port \(port) (host \"\(request.authority)\")")
        }
        if let found = listener.resolve(request, admission: Listener.bit(0)) { return found }
        // An absolute name (`reviews.default.svc.cluster.local.`) is the name without its root dot, as Istio (1.27 on)
        // gives every service's virtual host both.
        if request.host.count > 1, request.host.hasSuffix(".") {
            let host = request.host.dropLast()
            let authority = request.port.map { "\(host):\($0)" } ?? String(host)
            let absolute = RequestAttributes(method: request.method, target: request.target, authority: authority, scheme: request.scheme, headers: request.headers)
            if let found = listener.resolve(absolute, admission: Listener.bit(0)) { return found }
        }
        return .noRoute(reason: "no VirtualService bound to the mesh and no service serves host \"\(request.host)\" on port \(port)")
    }
}

extension RouteTable.Listener {
    /// Whether `gateway` admitted a request for `host` here: exact, by name, needed only past 63 servers on a
    /// listener, or for a match's own `gateways` (where the mesh listener admits `mesh` in any namespace).
    func admits<S: StringProtocol>(_ gateway: ResourceName, host: S) -> Bool {
        if isMesh { return gateway.name == ResourceName.mesh.name }
        return servers.contains { $0.gateway == gateway && $0.hosts.contains(where: { $0.matches(host) }) }
    }

    /// The first matching route of the virtual hosts for the request's host: the exact name's routes, then each
    /// matching wildcard's, until one has a route bound to this listener. Nil when no virtual host has one.
    /// `admission` is `admission(of:)` the request's host, which the caller has checked.
    func resolve(_ request: RequestAttributes, admission: UInt64) -> RouteTable.Resolution? {
        let host = request.host
        func admitted(_ gateway: ResourceName) -> Bool { admits(gateway, host: host) }
        func attempt(_ virtualHost: RouteTable.VirtualHost) -> RouteTable.Resolution? {
            var anyBound = false
            for (offset, route) in virtualHost.routes.enumerated() where virtualHost.isBound(offset, admission: admission, admits: admitted) {
                anyBound = true
                if route.rules.isEmpty || route.rules.contains(where: { $0.matches(request, admits: admitted, port: port) }) {
                    return .route(route)
                }
            }
            guard anyBound else { return nil }
            let bound = virtualHost.routes.indices.filter { virtualHost.isBound($0, admission: admission, admits: admitted) }
            return .noRoute(
                reason: "no route of \(Set(bound.map { virtualHost.routes[$0].virtualService }).sorted().map(\.description).joined(separator: ", ")) "
                    + "matches \(request.method) \(request.path) on host \"\(host)\""
            )
        }
        if let exactHosts, let wildcardIndex {
            for index in exactHosts[HostKey(host)] ?? [] where virtualHosts[index].pattern.matches(host) {
                if let found = attempt(virtualHosts[index]) { return found }
            }
            var found: RouteTable.Resolution?
            wildcardIndex.forEachCandidate(for: host) { index in
                guard virtualHosts[index].pattern.matches(host) else { return true }
                found = attempt(virtualHosts[index])
                return found == nil
            }
            if let found { return found }
        } else {
            for virtualHost in virtualHosts where virtualHost.pattern.matches(host) {
                if let found = attempt(virtualHost) { return found }
            }
        }
        return nil
    }
}

/// A host name's hash with ASCII case folded, computed from its bytes (FNV-1a), so looking a request's host up
/// builds no lowercased copy of it.
struct HostKey: Hashable, Sendable {
    let hash: UInt64

    init<S: StringProtocol>(_ host: S) {
        self.init(utf8: host.utf8)
    }

    init<Bytes: Sequence<UInt8>>(utf8 bytes: Bytes) {
        hash = FNV1a.hash(bytes.lazy.map(ASCII.lower))
    }
}

/// Wildcard virtual hosts found as Envoy finds wildcard domains: grouped by the length of their suffix, longest
/// (most specific) first, each group by `HostKey` of the suffix. A host is looked up once per length it is longer
/// than, with its own last bytes of that length, so the cost follows the number of distinct lengths (a few dozen at
/// most), not the number of wildcards.
struct WildcardHostIndex: Sendable {
    struct Level: Sendable {
        /// The suffix's length in bytes: `.example.com` is 12; `*` is 0, and matches every host.
        let length: Int
        let hosts: [HostKey: [Int]]
    }

    let levels: [Level]

    /// `wildcards` are indices of `virtualHosts` whose patterns are wildcards.
    init(_ wildcards: [Int], of virtualHosts: [RouteTable.VirtualHost]) {
        let byLength = Dictionary(grouping: wildcards) { virtualHosts[$0].pattern.wildcardSuffix?.utf8.count ?? 0 }
        levels = byLength.keys.sorted(by: >).map { length in
            let indices = byLength[length] ?? []
            return Level(length: length, hosts: Dictionary(grouping: indices) { HostKey(virtualHosts[$0].pattern.wildcardSuffix ?? "") })
        }
    }

    /// Calls `body` with each virtual host whose suffix `host` ends with, by hash (so `body` compares the pattern), most
    /// specific first, until `body` returns false. A wildcard matches only a host longer than its suffix, as Envoy's.
    func forEachCandidate<S: StringProtocol>(for host: S, _ body: (Int) -> Bool) {
        let bytes = host.utf8
        let count = bytes.count
        for level in levels where count > level.length || level.length == 0 {
            for index in level.hosts[HostKey(utf8: bytes.suffix(level.length))] ?? [] where !body(index) { return }
        }
    }
}

extension RouteTable {
    /// Where the routes send `destination`'s traffic (host and subset, and port when it names one): the target of
    /// the first route, on any listener or in the mesh, with that destination. Synthetic load finds its endpoints
    /// this way, so it reaches exactly what live traffic to the same destination would. Nil when no route names it.
    public func target(for destination: Destination) -> Target? {
        for listener in listeners.keys.sorted().compactMap({ listeners[$0] }) + mesh.keys.sorted().compactMap({ mesh[$0] }) {
            for host in listener.virtualHosts {
                for route in host.routes {
                    if let target = route.targets.first(where: { $0.destination.host == destination.host
                        && $0.destination.subset == destination.subset
                        && (destination.port == nil || $0.cluster.port == destination.port) })
                    {
                        return target
                    }
                }
            }
        }
        return nil
    }
}

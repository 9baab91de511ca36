import SerinCore

/// The live routing table as JSON for `/config`: what a person debugging routing wants to see.
public struct RouteTableDocument: Codable, Sendable, Equatable {
    public var generation: Int
    public var listeners: [ListenerDocument]
    /// The mesh's listeners by service port, when the `--mesh` listener is open (its `boundPort` on each; a TCP or
    /// TLS port's is its own listener's).
    public var mesh: [ListenerDocument]?

    /// One listener: the declared port, where it is bound, and its virtual hosts in match order.
    public struct ListenerDocument: Codable, Sendable, Equatable {
        public var port: Int
        public var boundPort: Int?
        public var gateways: [String]
        /// True on a PASSTHROUGH port, whose virtual hosts are server names (SNI) and routes `tls` routes; absent
        /// elsewhere.
        public var passthrough: Bool?
        /// True on a TCP port, whose one virtual host `*` holds `tcp` routes; absent elsewhere.
        public var tcp: Bool?
        public var virtualHosts: [VirtualHostDocument]

        /// Where the listener sorts among those of its port: HTTP, then by server name, then plain TCP.
        var order: Int { passthrough == true ? 1 : tcp == true ? 2 : 0 }
    }

    /// A host pattern and its routes, in evaluation order.
    public struct VirtualHostDocument: Codable, Sendable, Equatable {
        public var host: String
        public var routes: [RouteDocument]
    }

    /// One route: where it came from, what it matches, where it sends traffic.
    public struct RouteDocument: Codable, Sendable, Equatable {
        public var virtualService: String
        /// `tls` or `tcp` for a VirtualService's tls or tcp route; absent for an http route.
        public var section: String?
        public var index: Int
        public var name: String?
        public var matches: [String]
        public var destinations: [DestinationDocument]
        /// The copies the route sends (`mirror`, `mirrors`): `50% to web-v2-service:80, 100% to audit`, their answers discarded;
        /// absent without one.
        public var mirror: String?
        /// The root route a delegate's route stands in for (`default/bookinfo http[0]`); absent for a route written
        /// where it serves.
        public var delegatedBy: String?
    }

    /// One weighted destination and the endpoints it resolved to.
    public struct DestinationDocument: Codable, Sendable, Equatable {
        public var host: String
        public var subset: String?
        public var port: Int
        public var weight: Int
        public var cluster: String
        public var endpoints: [String]
        /// How the gateway speaks to the endpoints when it is not plain HTTP/1.1 (the DestinationRule's `tls`, the
        /// port's or `h2UpgradePolicy`'s HTTP/2): `TLS SIMPLE, sni web.internal, CA /etc/ca.pem; HTTP/2`. Absent otherwise.
        public var upstream: String?
    }

    /// `meshTCPPorts`: where the mesh's TCP listeners are bound, by service port.
    public init(_ table: RouteTable, generation: Int, boundPorts: [Int: Int] = [:], meshPort: Int? = nil, meshTCPPorts: [Int: Int] = [:]) {
        self.generation = generation
        self.listeners = (Self.documents(table.listeners) { boundPorts[$0] } + Self.documents(table.passthrough) { boundPorts[$0] }
            + Self.documents(table.tcp, tcp: true) { boundPorts[$0] })
            .sorted { ($0.port, $0.order) < ($1.port, $1.order) }
        self.mesh = meshPort.map { bound in
            (Self.documents(table.mesh) { _ in bound } + Self.documents(table.meshTLS) { meshTCPPorts[$0] }
                + Self.documents(table.meshTCP, tcp: true) { meshTCPPorts[$0] })
                .sorted { ($0.port, $0.order) < ($1.port, $1.order) }
        }
    }

    /// What `DestinationDocument.upstream` says of `cluster`: its TLS and its HTTP version, when not plain HTTP/1.1, and
    /// its load balancing, when not in turn.
    static func upstream(of cluster: Cluster) -> String? {
        var parts: [String] = []
        if let tls = cluster.trafficPolicy.tls, tls.mode != .disable {
            var words = ["TLS \(tls.mode.rawValue)"]
            if let sni = tls.sni { words.append("sni \(sni)") }
            words.append(tls.insecureSkipVerify ? "certificate not verified" : tls.caCertificates.map { "CA \($0)" } ?? "the system's CAs")
            let requestHost = "the request's host"
            if tls.sni == nil { words.append("sni \(requestHost)") }
            if let names = tls.verifiedNames(host: requestHost) {
                words.append("certificate must name \(names.joined(separator: " or "))")
            } else if !tls.insecureSkipVerify {
                words.append("certificate names not checked (sni without subjectAltNames)")
            }
            if tls.mode == .mutual, let certificate = tls.clientCertificate { words.append("client certificate \(certificate)") }
            parts.append(words.joined(separator: ", "))
        }
        if cluster.usesClientProtocol {
            parts.append("the client's HTTP version")
        } else if cluster.speaksHTTP2 {
            parts.append("HTTP/2")
        }
        if let version = cluster.trafficPolicy.proxyProtocol { parts.append("PROXY protocol \(version.rawValue.lowercased())") }
        if let tunnel = cluster.trafficPolicy.tunnel { parts.append("tunnel: CONNECT \(tunnel.authority)") }
        if let balancing = balancing(of: cluster.trafficPolicy.loadBalancer) { parts.append(balancing) }
        if let pool = connectionPool(cluster.trafficPolicy.connectionPool, retryBudget: cluster.trafficPolicy.retryBudget) { parts.append(pool) }
        if let outliers = outlierDetection(cluster.trafficPolicy.outlierDetection) { parts.append(outliers) }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// The connection pool's limits and timers as they apply to the cluster (a port's own when `portLevelSettings` has
    /// one), with the retry budget in place of `maxRetries` when there is one: `at most 100 connections, 10 pending,
    /// keepalive after 30s`; nil when it sets none.
    static func connectionPool(_ pool: ConnectionPoolSettings?, retryBudget: RetryBudget? = nil) -> String? {
        var words: [String] = []
        if let count = pool?.tcp.maxConnections { words.append("at most \(count) connections") }
        if let count = pool?.http.http1MaxPendingRequests { words.append("\(count) pending") }
        if let count = pool?.http.http2MaxRequests { words.append("\(count) requests in flight") }
        if let retryBudget {
            let percent = Readable.trimmed(retryBudget.percent)
            words.append("\(retryBudget.minRetryConcurrency) retrying, or \(percent)% of requests in flight if more")
        } else if let count = pool?.http.maxRetries {
            words.append("\(count) retrying")
        }
        if let count = pool?.http.maxRequestsPerConnection { words.append("\(count) requests a connection") }
        if let time = pool?.tcp.connectTimeout { words.append("connect timeout \(Readable.duration(time))") }
        if let idle = pool?.httpIdleTimeout {
            words.append(idle > .zero ? "idle timeout \(Readable.duration(idle))" : "no idle timeout")
        }
        if let lifetime = pool?.tcp.maxConnectionDuration { words.append("connections live at most \(Readable.duration(lifetime))") }
        if let keepalive = pool?.tcp.tcpKeepalive {
            words.append("TCP keepalive" + (keepalive.time.map { " after \(Readable.duration($0))" } ?? ""))
        }
        return words.isEmpty ? nil : words.joined(separator: ", ")
    }

    /// When outlier detection ejects an endpoint: `ejected after 5 consecutive 5xx`.
    static func outlierDetection(_ detection: OutlierDetection?) -> String? {
        guard let detection else { return nil }
        var streaks: [String] = []
        if detection.consecutive5xxErrors > 0 {
            streaks.append("\(detection.consecutive5xxErrors) consecutive \(detection.splitExternalLocalOriginErrors ? "5xx answers" : "5xx")")
        }
        if detection.consecutiveGatewayErrors > 0 { streaks.append("\(detection.consecutiveGatewayErrors) consecutive gateway errors") }
        if detection.splitExternalLocalOriginErrors, detection.consecutiveLocalOriginFailures > 0 {
            streaks.append("\(detection.consecutiveLocalOriginFailures) consecutive local-origin failures")
        }
        guard !streaks.isEmpty else { return "outlier detection never ejects (every threshold 0)" }
        return "ejected after \(streaks.joined(separator: " or ")) for \(Readable.duration(detection.baseEjectionTime))"
    }

    /// The endpoints as `address:port`, each with its weight when the weights differ (`127.0.0.1:8080 weight 3`), and
    /// its locality and priority level when locality load balancing ranks them (`us-east1/b priority 1`).
    static func endpoints(of cluster: Cluster) -> [String] {
        let weighted = !cluster.schedule.order.isEmpty
        return cluster.endpoints.enumerated().map { index, endpoint in
            let level = cluster.priorities.indices.contains(index)
                ? " \(endpoint.locality.map(String.init(describing:)) ?? "no locality") priority \(cluster.priorities[index])" : ""
            return "\(endpoint.address):\(endpoint.port)" + (weighted ? " weight \(endpoint.weight)" : "") + level
        }
    }

    /// How `loadBalancer` picks an endpoint, when not in turn: `endpoint by hash of header x-user`, `endpoint at random`.
    static func balancing(of settings: LoadBalancerSettings?) -> String? {
        switch settings?.consistentHash {
        case .header(let name)?: return "endpoint by hash of header \(name)"
        case .cookie(let name, _, let ttl, _)?: return "endpoint by hash of cookie \(name)" + (ttl == nil ? "" : " (made by the gateway when absent)")
        case .sourceIP?: return "endpoint by hash of the client's address"
        case .queryParameter(let name)?: return "endpoint by hash of query parameter \(name)"
        case nil: return settings?.simple == .random ? "endpoint at random" : nil
        }
    }

    private static func documents(_ listeners: [Int: RouteTable.Listener], tcp: Bool = false, boundPort: (Int) -> Int?) -> [ListenerDocument] {
        listeners.values.sorted { $0.port < $1.port }.map { listener in
            ListenerDocument(
                port: listener.port, boundPort: boundPort(listener.port),
                gateways: Array(Set(listener.servers.map { $0.gateway == .mesh ? "mesh" : $0.gateway.description })).sorted(),
                passthrough: listener.passesThrough ? true : nil, tcp: tcp ? true : nil,
                virtualHosts: listener.virtualHosts.map { virtualHost in
                    VirtualHostDocument(
                        host: virtualHost.pattern.text,
                        routes: virtualHost.routes.map(RouteDocument.init)
                    )
                }
            )
        }
    }
}

extension RouteTableDocument.RouteDocument {
    public init(_ route: RouteTable.Route) {
        self.init(
            virtualService: route.virtualService.description, section: route.section == "http" ? nil : route.section,
            index: route.index, name: route.name,
            matches: route.matches.map(Self.describe),
            destinations: route.targets.map { target in
                RouteTableDocument.DestinationDocument(
                    host: target.destination.host, subset: target.destination.subset, port: target.cluster.port,
                    weight: route.targets.count == 1 ? 100 : target.weight, cluster: target.cluster.name,
                    endpoints: RouteTableDocument.endpoints(of: target.cluster),
                    upstream: RouteTableDocument.upstream(of: target.cluster)
                )
            },
            mirror: route.policy.mirrors.isEmpty ? nil : route.policy.mirrors.map { mirror in
                "\(RouteExplanation.percent(mirror.percentage)) to \(mirror.destination)"
            }.joined(separator: ", "),
            delegatedBy: route.delegatedBy
        )
    }

    /// `uri exact /, header x-user exact beta`: a match in one line.
    public static func describe(_ match: RequestMatch) -> String {
        var parts: [String] = []
        if let uri = match.uri { parts.append("uri \(uri)" + (match.ignoreUriCase ? " (ignore case)" : "")) }
        if let scheme = match.scheme { parts.append("scheme \(scheme)") }
        if let method = match.method { parts.append("method \(method)") }
        if let authority = match.authority { parts.append("authority \(authority)") }
        parts += match.headers.sorted { $0.key < $1.key }.map { "header \($0.key) \($0.value)" }
        parts += match.withoutHeaders.sorted { $0.key < $1.key }.map { "without header \($0.key) \($0.value)" }
        parts += match.queryParams.sorted { $0.key < $1.key }.map { "query \($0.key) \($0.value)" }
        // The mesh is no resource of a namespace: `mesh`, as written, not `default/mesh`.
        if !match.gateways.isEmpty {
            parts.append("gateways \(match.gateways.map { $0.name == ResourceName.mesh.name ? $0.name : $0.description }.joined(separator: ","))")
        }
        if let port = match.port { parts.append("port \(port)") }
        return parts.isEmpty ? "any request" : parts.joined(separator: ", ")
    }
}

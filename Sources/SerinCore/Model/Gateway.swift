/// Istio's Gateway: the ports and hosts at the edge that accept traffic.
public struct Gateway: Hashable, Sendable {
    public var name: ResourceName
    public var selector: [String: String]
    public var servers: [Server]

    /// One listening port of a gateway and the hosts it admits.
    public struct Server: Hashable, Sendable {
        public var port: Int
        public var portName: String?
        public var `protocol`: String
        public var hosts: [String]
        /// How an HTTPS server terminates TLS; nil on a plaintext server.
        public var tls: ServerTLS?
        /// An HTTP server's `tls.httpsRedirect`: every request it admits is answered 301 to `https://` the same
        /// host (without its port) and path.
        public var httpsRedirect: Bool
        /// `tls.mode: PASSTHROUGH` (protocol TLS or HTTPS): connections go on still encrypted, routed by the
        /// ClientHello's server name through VirtualService `tls` routes.
        public var passesThrough: Bool

        public init(
            port: Int, portName: String? = nil, protocol: String, hosts: [String], tls: ServerTLS? = nil, httpsRedirect: Bool = false,
            passesThrough: Bool = false
        ) {
            self.port = port
            self.portName = portName
            self.protocol = `protocol`
            self.hosts = hosts
            self.tls = tls
            self.httpsRedirect = httpsRedirect
            self.passesThrough = passesThrough
        }

        /// A `protocol: TCP` server: its connections go on as they came, routed by port through VirtualService `tcp`
        /// routes.
        public var forwardsTCP: Bool { `protocol`.uppercased() == "TCP" }

        /// Whether the gateway terminates TLS on this server.
        public var terminatesTLS: Bool { tls != nil && `protocol`.uppercased() == "HTTPS" }
    }

    public init(name: ResourceName, selector: [String: String] = [:], servers: [Server]) {
        self.name = name
        self.selector = selector
        self.servers = servers
    }
}

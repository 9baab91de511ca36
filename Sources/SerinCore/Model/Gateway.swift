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

        public init(port: Int, portName: String? = nil, protocol: String, hosts: [String]) {
            self.port = port
            self.portName = portName
            self.protocol = `protocol`
            self.hosts = hosts
        }
    }

    public init(name: ResourceName, selector: [String: String] = [:], servers: [Server]) {
        self.name = name
        self.selector = selector
        self.servers = servers
    }
}

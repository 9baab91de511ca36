import SerinCore

/// A Kubernetes `v1` Service: gives a host name (`web-v1-service`) and ports that routes can name.
public struct KubernetesService: Hashable, Sendable {
    public var name: ResourceName
    public var type: String?
    public var ports: [Port]
    public var selector: [String: String]

    /// One entry of `spec.ports`.
    public struct Port: Hashable, Sendable {
        public var name: String?
        public var port: Int
        public var targetPort: TargetPort?
        public var `protocol`: String
        /// Kubernetes' `appProtocol` (`kubernetes.io/h2c`, `grpc`…), which Istio reads first to pick the protocol.
        public var appProtocol: String?

        public init(name: String? = nil, port: Int, targetPort: TargetPort? = nil, protocol: String = "TCP", appProtocol: String? = nil) {
            self.name = name
            self.port = port
            self.targetPort = targetPort
            self.protocol = `protocol`
            self.appProtocol = appProtocol
        }
    }

    /// Kubernetes' int-or-string `targetPort`: a number, or the name of a container port.
    public enum TargetPort: Hashable, Sendable {
        case number(Int)
        case named(String)
    }

    public init(name: ResourceName, type: String? = nil, ports: [Port], selector: [String: String] = [:]) {
        self.name = name
        self.type = type
        self.ports = ports
        self.selector = selector
    }
}

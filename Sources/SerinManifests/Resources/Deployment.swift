import SerinCore

/// A Kubernetes Deployment, reduced to what a canary cares about: which pods (labels) run which image.
public struct Deployment: Hashable, Sendable {
    public var name: ResourceName
    public var replicas: Int
    public var selector: [String: String]
    public var templateLabels: [String: String]
    public var containers: [Container]

    /// One container of the pod template.
    public struct Container: Hashable, Sendable {
        public var name: String
        public var image: String
        public var ports: [Port]

        public init(name: String, image: String, ports: [Port] = []) {
            self.name = name
            self.image = image
            self.ports = ports
        }
    }

    /// One `containerPort` entry.
    public struct Port: Hashable, Sendable {
        public var containerPort: Int
        public var name: String?
        public var `protocol`: String

        public init(containerPort: Int, name: String? = nil, protocol: String = "TCP") {
            self.containerPort = containerPort
            self.name = name
            self.protocol = `protocol`
        }
    }

    public init(
        name: ResourceName, replicas: Int = 1, selector: [String: String], templateLabels: [String: String],
        containers: [Container]
    ) {
        self.name = name
        self.replicas = replicas
        self.selector = selector
        self.templateLabels = templateLabels
        self.containers = containers
    }
}

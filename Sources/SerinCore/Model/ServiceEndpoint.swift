/// A network address that serves a service, with labels that subsets select on.
public struct ServiceEndpoint: Hashable, Sendable, Codable {
    public var address: String
    /// Port name → port on this endpoint, overriding the service's target ports.
    public var ports: [String: Int]
    public var labels: [String: String]
    /// The workload (Deployment) serving here, for telemetry's `destination_workload`; nil when unknown.
    public var workload: String?

    public init(address: String, ports: [String: Int] = [:], labels: [String: String] = [:], workload: String? = nil) {
        self.address = address
        self.ports = ports
        self.labels = labels
        self.workload = workload
    }
}

/// A port a service exposes and where its endpoints listen for it.
public struct ServicePort: Hashable, Sendable, Codable {
    public var number: Int
    public var name: String?
    public var targetPort: Int?

    public init(number: Int, name: String? = nil, targetPort: Int? = nil) {
        self.number = number
        self.name = name
        self.targetPort = targetPort
    }
}

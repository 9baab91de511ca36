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
    /// Whether the port speaks HTTP/2 (plain h2c, gRPC): the gateway then sends its requests over HTTP/2.
    public var speaksHTTP2: Bool

    public init(number: Int, name: String? = nil, targetPort: Int? = nil, speaksHTTP2: Bool = false) {
        self.number = number
        self.name = name
        self.targetPort = targetPort
        self.speaksHTTP2 = speaksHTTP2
    }

    /// Istio's protocol selection for HTTP/2: a ServiceEntry port's `protocol` `HTTP2` or `GRPC`, a Kubernetes
    /// port's `appProtocol` `kubernetes.io/h2c`, `grpc` or `http2`, or a port name `grpc`, `http2`, `grpc-…` or
    /// `http2-…` when neither says.
    public static func selectsHTTP2(protocol: String?, appProtocol: String?, name: String?) -> Bool {
        if let appProtocol {
            return ["kubernetes.io/h2c", "grpc", "http2", "h2c"].contains(appProtocol.lowercased())
        }
        if let `protocol`, !["TCP", ""].contains(`protocol`.uppercased()) {
            return ["HTTP2", "GRPC"].contains(`protocol`.uppercased())
        }
        guard let name = name?.lowercased() else { return false }
        let prefix = name.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? name
        return prefix == "grpc" || prefix == "http2"
    }
}

/// A network address that serves a service, with labels that subsets select on.
public struct ServiceEndpoint: Hashable, Sendable, Codable {
    public var address: String
    /// Port name → port on this endpoint, overriding the service's target ports.
    public var ports: [String: Int]
    public var labels: [String: String]
    /// The workload (Deployment) serving here, for telemetry's `destination_workload`; nil when unknown.
    public var workload: String?
    /// A ServiceEntry endpoint's `weight`: its share of requests against the other endpoints'; 1 unless set.
    public var weight: Int
    /// A ServiceEntry endpoint's `locality`, for locality load balancing; nil when not given.
    public var locality: Locality?

    public init(
        address: String, ports: [String: Int] = [:], labels: [String: String] = [:], workload: String? = nil, weight: Int = 1,
        locality: Locality? = nil
    ) {
        self.address = address
        self.ports = ports
        self.labels = labels
        self.workload = workload
        self.weight = weight
        self.locality = locality
    }
}

/// A port a service exposes and where its endpoints listen for it.
public struct ServicePort: Hashable, Sendable, Codable {
    public var number: Int
    public var name: String?
    public var targetPort: Int?
    /// Whether the port speaks HTTP/2 (plain h2c, gRPC): the gateway then sends its requests over HTTP/2.
    public var speaksHTTP2: Bool
    /// What the port carries when it is not HTTP: a stream of bytes the mesh passes on unread, plain TCP or TLS.
    /// Nil: HTTP (Istio sniffs a port that declares nothing; Serin's mesh reads it as HTTP).
    public var opaque: OpaqueProtocol?

    /// A port's protocol when the mesh does not read it, as Istio's sidecars carry it: `tcp` by port alone, `tls` by
    /// the ClientHello's server name (SNI).
    public enum OpaqueProtocol: String, Hashable, Sendable, Codable {
        case tcp, tls
    }

    public init(number: Int, name: String? = nil, targetPort: Int? = nil, speaksHTTP2: Bool = false, opaque: OpaqueProtocol? = nil) {
        self.number = number
        self.name = name
        self.targetPort = targetPort
        self.speaksHTTP2 = speaksHTTP2
        self.opaque = opaque
    }

    /// Istio's protocol selection for the protocols it does not read, by the same rules as `selectsHTTP2`: `TLS` and
    /// `HTTPS` are TLS; `TCP`, `MONGO`, `MYSQL` and `REDIS` plain TCP — a ServiceEntry port's `protocol`, a Kubernetes
    /// port's `appProtocol`, or its name (`tcp`, `tls-…`, `https-…`) when neither says. A Kubernetes port's
    /// `protocol` is its transport, not this: pass nil for it.
    public static func selectsOpaque(protocol: String?, appProtocol: String?, name: String?) -> OpaqueProtocol? {
        func selected(_ word: String) -> OpaqueProtocol? {
            switch word.lowercased() {
            case "tls", "https": .tls
            case "tcp", "mongo", "mysql", "redis": .tcp
            default: nil
            }
        }
        if let appProtocol { return selected(appProtocol) }
        if let `protocol`, !`protocol`.isEmpty { return selected(`protocol`) }
        guard let name else { return nil }
        return selected(name.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? name)
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

import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SerinCore

/// `analysis.load` in a cluster: each synthetic request goes as plain HTTP to the destination's Service
/// (`http://web-v2-service.shop.svc.cluster.local:80/path`), which the mesh routes and counts like any other call;
/// Istio labels these with the controller as `source_workload`. Answers are read and dropped.
public struct HTTPSyntheticRequests: SyntheticRequestSender {
    private let client: HTTPClient
    private let address: @Sendable (Destination, ResourceName) -> String

    /// - Parameters:
    ///   - address: the base URL (`http://host:port`) a destination of a Canary is reached at; the cluster's Service
    ///     DNS name unless a test maps it.
    public init(client: HTTPClient = .shared, address: @escaping @Sendable (Destination, ResourceName) -> String = Self.serviceAddress) {
        self.client = client
        self.address = address
    }

    /// A Service's cluster DNS name in the Canary's namespace (a host with a dot is taken as it is), and its port.
    public static func serviceAddress(_ destination: Destination, of canary: ResourceName) -> String {
        let host = destination.host.contains(".") ? destination.host : "\(destination.host).\(canary.namespace).svc.cluster.local"
        return "http://\(host):\(destination.port ?? 80)"
    }

    public func target(for destination: Destination, of canary: ResourceName) -> String? {
        address(destination, canary)
    }

    public func send(to base: String, path: String, headers: [(String, String)]) {
        var request = HTTPClientRequest(url: base + path)
        request.headers.add(name: "user-agent", value: "serin-load")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let client = self.client
        Task {
            guard let response = try? await client.execute(request, timeout: .seconds(10)) else { return }
            _ = try? await response.body.collect(upTo: 1 << 20)
        }
    }
}

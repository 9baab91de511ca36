import Foundation
import SerinManifests

extension SeedManifests {
    /// `examples/mesh` pointed at test backends (reviews-v1 on `v1`, reviews-v2 on `v2`), without its Canary unless
    /// `canary` gives its text edits: each `(of, with)` is replaced in the example's Canary (a test's faster interval).
    public static func mesh(v1: Int, v2: Int, canary: [(of: String, with: String)]? = nil) -> [ManifestSource] {
        example("mesh", ports: ["19081": v1, "19082": v2], canaryFile: "reviews-canary.yaml", canary: canary)
    }

    /// A VirtualService `reviews` bound to the mesh alone (no `gateways`), whose `http:` list is `http` (YAML, its
    /// entries at column 0: `- route: ...`).
    public static func meshReviews(http: String) -> String {
        let routes = http.split(separator: "\n", omittingEmptySubsequences: false).map { "  \($0)" }.joined(separator: "\n")
        return "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: reviews}\n"
            + "spec:\n  hosts: [reviews]\n  http:\n" + routes
    }

    /// `examples/grpc` pointed at gRPC servers (echo-v1 on `v1`, echo-v2 on `v2`), its Canary as for `mesh`.
    public static func grpc(v1: Int, v2: Int, canary: [(of: String, with: String)]? = nil) -> [ManifestSource] {
        example("grpc", ports: ["19091": v1, "19092": v2], canaryFile: "echo-canary.yaml", canary: canary)
    }

    /// `examples/delegation` pointed at reviews-v1 on `v1` and reviews-v2 on `v2`, its Canary as for `mesh`.
    public static func delegation(v1: Int, v2: Int, canary: [(of: String, with: String)]? = nil) -> [ManifestSource] {
        example("delegation", ports: ["19081": v1, "19082": v2], canaryFile: "reviews-canary.yaml", canary: canary)
    }

    /// An example directory's manifests with its ports replaced (`ports`: the example's → the test's), without its
    /// Canary unless `canary` gives its text edits.
    private static func example(
        _ name: String, ports: [String: Int], canaryFile: String, canary: [(of: String, with: String)]?
    ) -> [ManifestSource] {
        let directory = SerinProcess.repositoryRoot.appendingPathComponent("examples/\(name)").path
        return ManifestLoader.load(paths: [directory], recursive: false).sources.compactMap { source in
            var source = source
            if source.path.hasSuffix(canaryFile) {
                guard let canary else { return nil }
                for (of, with) in canary { source.text = source.text.replacingOccurrences(of: of, with: with) }
            }
            for (example, port) in ports { source.text = source.text.replacingOccurrences(of: example, with: String(port)) }
            return source
        }
    }

    /// The example's Canary made fast for a test: checks every 400ms on at least 5 requests, latency limit loose.
    public static let fastMeshCanary: [(of: String, with: String)] = [
        ("interval: 8s", "interval: 400ms"), ("minRequests: 10", "minRequests: 5"), ("max: 250", "max: 5000"),
        ("stepWeight: 20", "stepWeight: 40"), ("progressDeadlineSeconds: 60", "progressDeadlineSeconds: 30"),
    ]
}

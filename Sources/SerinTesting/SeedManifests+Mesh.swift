import Foundation
import SerinManifests

extension SeedManifests {
    /// `examples/mesh` pointed at test backends (reviews-v1 on `v1`, reviews-v2 on `v2`), without its Canary unless
    /// `canary` gives its text edits: each `(of, with)` is replaced in the example's Canary (a test's faster interval).
    public static func mesh(v1: Int, v2: Int, canary: [(of: String, with: String)]? = nil) -> [ManifestSource] {
        let directory = SerinProcess.repositoryRoot.appendingPathComponent("examples/mesh").path
        return ManifestLoader.load(paths: [directory], recursive: false).sources.compactMap { source in
            var source = source
            let isCanary = source.path.hasSuffix("reviews-canary.yaml")
            if isCanary {
                guard let canary else { return nil }
                for (of, with) in canary { source.text = source.text.replacingOccurrences(of: of, with: with) }
            }
            source.text = source.text.replacingOccurrences(of: "19081", with: String(v1))
                .replacingOccurrences(of: "19082", with: String(v2))
            return source
        }
    }

    /// The example's Canary made fast for a test: checks every 400ms on at least 5 requests, latency limit loose.
    public static let fastMeshCanary: [(of: String, with: String)] = [
        ("interval: 8s", "interval: 400ms"), ("minRequests: 10", "minRequests: 5"), ("max: 250", "max: 5000"),
        ("stepWeight: 20", "stepWeight: 40"), ("progressDeadlineSeconds: 60", "progressDeadlineSeconds: 30"),
    ]
}

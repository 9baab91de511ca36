import Foundation
import SerinManifests

/// The seed's manifests from `examples/seed`, pointed at test backends, plus Canary YAML written for a test.
public enum SeedManifests {
    /// The seed directory's files with the ServiceEntry ports replaced by `v1` and `v2`.
    public static func sources(v1: Int, v2: Int) -> [ManifestSource] {
        let seed = SerinProcess.repositoryRoot.appendingPathComponent("examples/seed").path
        return ManifestLoader.load(paths: [seed], recursive: false).sources.map { source in
            var source = source
            source.text = source.text.replacingOccurrences(of: "18081", with: String(v1))
                .replacingOccurrences(of: "18082", with: String(v2))
            return source
        }
    }

    /// `sources` without the ServiceEntry for `host`: its Service is left with no endpoints, as files are that lost an
    /// entry added with `serin apply`.
    public static func dropping(serviceEntry host: String, from sources: [ManifestSource]) -> [ManifestSource] {
        sources.map { source in
            var source = source
            if source.path.hasSuffix("web-serviceentry.yaml") {
                source.text = source.text.components(separatedBy: "\n---\n").filter { !$0.contains("name: \(host)\n") }.joined(separator: "\n---\n")
            }
            return source
        }
    }

    /// A Canary `web` over the seed, with fast analysis for tests; `stableHost` nil leaves `stable` out. The latency
    /// limit is loose by default: a healthy backend's p99 passes a second on a busy 2-core test machine.
    public static func canary(
        interval: String = "400ms", threshold: Int = 2, stepWeights: [Int] = [20, 50], minRequests: Int = 5,
        successRateMin: Double = 99, durationMax: Double = 5_000, canaryHost: String = "web-v2-service",
        stableHost: String? = "web-v1-service", webhooks: String = "", progressDeadline: String = "30s", judge: String = ""
    ) -> ManifestSource {
        let stable = stableHost.map { "stable: {host: \($0), port: 80}" } ?? "# no stable: Serin releases from what serves"
        return ManifestSource(path: "test-canary.yaml", text: """
            apiVersion: serin.dev/v1alpha1
            kind: Canary
            metadata:
              name: web
            spec:
              targetRef:
                kind: VirtualService
                name: web-virtualservice
              \(stable)
              canary: {host: \(canaryHost), port: 80}
              progressDeadline: \(progressDeadline)
              analysis:
                interval: \(interval)
                threshold: \(threshold)\(judge.isEmpty ? "" : "\n    " + judge)
                stepWeights: [\(stepWeights.map(String.init).joined(separator: ", "))]
                metrics:
                - name: request-success-rate
                  thresholdRange: {min: \(successRateMin)}
                  interval: \(interval)
                  minRequests: \(minRequests)
                - name: request-duration
                  thresholdRange: {max: \(durationMax)}
                  interval: \(interval)
                  minRequests: \(minRequests)
            \(webhooks)
            """)
    }

    /// A ServiceEntry `name` for a version of the web page served on 127.0.0.1:`port`.
    public static func serviceEntry(_ name: String, port: Int, version: String) -> ManifestSource {
        ManifestSource(path: "\(name).yaml", text: """
            apiVersion: networking.istio.io/v1beta1
            kind: ServiceEntry
            metadata:
              name: \(name)
            spec:
              hosts: [\(name)]
              location: MESH_INTERNAL
              resolution: STATIC
              ports:
              - {number: 80, name: http, protocol: HTTP}
              endpoints:
              - address: 127.0.0.1
                ports: {http: \(port)}
                labels: {app: web, version: \(version)}
            """)
    }

    /// Decoded and validated resources; fails the caller's expectations through the returned errors.
    public static func resources(_ sources: [ManifestSource]) -> (resources: [LocatedResource], errors: [String]) {
        let set = ManifestSet(sources: sources)
        return (set.resources, set.errors.map(\.description))
    }
}

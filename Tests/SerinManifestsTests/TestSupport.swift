import Foundation
import SerinCore
import SerinManifests

/// Shared fixtures: inline manifests decode under a fixed path so messages can be compared whole.
enum Fixture {
    static let path = "test.yaml"

    static func decode(_ yaml: String, path: String = Fixture.path) -> (resources: [LocatedResource], diagnostics: [Diagnostic]) {
        let decoded = ManifestDecoder.decode([ManifestSource(path: path, text: yaml)])
        return (decoded.resources, decoded.diagnostics)
    }

    static func set(_ yaml: String, path: String = Fixture.path) -> ManifestSet {
        ManifestSet(sources: [ManifestSource(path: path, text: yaml)])
    }

    /// Descriptions of the diagnostics, the form a user reads.
    static func messages(_ diagnostics: [Diagnostic]) -> [String] {
        diagnostics.map(\.description)
    }

    /// The repository root, found from this file: Tests/SerinManifestsTests/TestSupport.swift.
    /// Symlinks are resolved first, so a scratch package linking the tests in still finds the real examples.
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let seedDirectory = repositoryRoot.appendingPathComponent("examples/seed").path

    static let canaryDirectory = repositoryRoot.appendingPathComponent("examples/canary").path

    /// The seed's Gateway, the web-v1/web-v2 Services and their ServiceEntries: a world routes can resolve in.
    static let world = """
        apiVersion: networking.istio.io/v1beta1
        kind: Gateway
        metadata:
          name: web-gateway
        spec:
          servers:
          - port:
              number: 80
              name: http
              protocol: HTTP
            hosts:
            - "*"
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web-v1-service
        spec:
          ports:
          - name: http
            port: 80
        ---
        apiVersion: networking.istio.io/v1beta1
        kind: ServiceEntry
        metadata:
          name: web-v1-service
        spec:
          hosts:
          - web-v1-service
          location: MESH_INTERNAL
          resolution: STATIC
          ports:
          - number: 80
            name: http
          endpoints:
          - address: 127.0.0.1
            ports:
              http: 18081
            labels:
              version: v1
        ---
        apiVersion: networking.istio.io/v1beta1
        kind: ServiceEntry
        metadata:
          name: web-v2-service
        spec:
          hosts:
          - web-v2-service
          location: MESH_INTERNAL
          resolution: STATIC
          ports:
          - number: 80
            name: http
          endpoints:
          - address: 127.0.0.1
            ports:
              http: 18082
            labels:
              version: v2
        ---

        """

    /// The seed's VirtualService, to append to `world`: one route, all traffic to web-v1-service on port 80.
    static let virtualService = """
        apiVersion: networking.istio.io/v1alpha3
        kind: VirtualService
        metadata: {name: web-virtualservice}
        spec:
          hosts: ["*"]
          gateways: [web-gateway]
          http:
          - route:
            - destination: {host: web-v1-service, port: {number: 80}}
        ---

        """

    /// Number of lines `world` takes, so tests can state the line of a field in text appended to it.
    static let worldLines = world.split(separator: "\n", omittingEmptySubsequences: false).count - 1
}

extension Fixture {
    /// `CanaryDecodingTests.minimal` with `lines` added to its analysis after `interval: 30s`: the Canary decoded
    /// (nil when refused) and the messages a user reads.
    static func canary(analysis lines: String) -> (spec: CanarySpec?, messages: [String]) {
        decodeCanary(CanaryDecodingTests.minimal.replacingOccurrences(of: "    interval: 30s\n", with: "    interval: 30s\n" + lines))
    }

    /// The Canary `yaml` holds, decoded (nil when refused), and the messages a user reads.
    static func decodeCanary(_ yaml: String) -> (spec: CanarySpec?, messages: [String]) {
        let (resources, diagnostics) = decode(yaml)
        let spec = resources.first.flatMap { located -> CanarySpec? in
            guard case .canary(let spec) = located.resource else { return nil }
            return spec
        }
        return (spec, messages(diagnostics))
    }
}

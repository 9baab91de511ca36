import Foundation
import SerinDemoApp
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinManifests
import SerinServer
import SerinTesting
import Testing

/// `serin apply` against a running gateway runtime, the seed's "edit the weights and apply" loop.
@Suite("serin apply", .timeLimit(.minutes(2)))
struct ApplyCommandTests {
    /// Seed manifests with the ServiceEntry pointed at real demo apps on ephemeral ports.
    static func seedResources(v1: Int, v2: Int) throws -> [LocatedResource] {
        let seed = SerinProcess.repositoryRoot.appendingPathComponent("examples/seed").path
        let loaded = ManifestLoader.load(paths: [seed], recursive: false)
        let sources = loaded.sources.map { source in
            var source = source
            source.text = source.text.replacingOccurrences(of: "18081", with: String(v1))
                .replacingOccurrences(of: "18082", with: String(v2))
            return source
        }
        let set = ManifestSet(sources: sources)
        #expect(!set.hasErrors, "\(set.errors)")
        return set.resources
    }

    static func withRuntime(_ body: (GatewayRuntime, TestBackends) async throws -> Void) async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let runtime = try await GatewayRuntime.start(
            resources: try seedResources(v1: v1.port, v2: v2.port), threads: 2, bindHost: "127.0.0.1",
            portMapping: .ephemeral, adminHost: "127.0.0.1", adminPort: 0
        )
        do {
            try await body(runtime, backends)
        } catch {
            await runtime.shutdown()
            throw error
        }
        await runtime.shutdown()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("answers like kubectl and moves traffic to the new weights")
    func appliesStep() async throws {
        try await Self.withRuntime { runtime, backends in
            let port = try #require(runtime.gateway.boundPort(forDeclared: 80))
            let before = try await DemoTraffic.run(port: port, connections: 2, requestsPerConnection: 50, group: backends.group)
            #expect(before.counts == ["v1": 100])

            let result = try await SerinProcess.run([
                "apply", "-f", "examples/seed/steps/web-gateway-virtualservice-0-100.yaml", "--server", runtime.adminURL,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "gateway/web-gateway unchanged\nvirtualservice/web-virtualservice configured\n")

            let after = try await DemoTraffic.run(port: port, connections: 2, requestsPerConnection: 50, group: backends.group)
            #expect(after.counts == ["v2": 100])

            let again = try await SerinProcess.run([
                "apply", "-f", "examples/seed/steps/web-gateway-virtualservice-0-100.yaml", "--server", runtime.adminURL,
            ])
            #expect(again.stdout.contains("virtualservice/web-virtualservice unchanged"))
        }
    }

    @Test("a Canary applied to `serin gateway`, which runs no rollouts, is said to run nowhere; status asked of it says why it has none")
    func canaryOnGatewaySaysItRunsNowhere() async throws {
        try await Self.withRuntime { runtime, _ in
            let applied = try await SerinProcess.run(["apply", "-f", "examples/canary/web-canary.yaml", "--server", runtime.adminURL])
            #expect(applied.status == 0, "\(applied.stderr)")
            #expect(applied.stdout.contains("canary/web created"))
            #expect(applied.stderr.contains(
                "examples/canary/web-canary.yaml:31:9: warning: Canary web: this server is `serin gateway`, which runs no rollouts"), "\(applied.stderr)")
            for command in [["status"], ["status", "web"], ["history", "web"]] {
                let asked = try await SerinProcess.run(command + ["--server", runtime.adminURL])
                #expect(asked.status == 1)
                #expect(asked.stderr.contains("runs no rollouts (it is `serin gateway`, which only serves routes)"), "\(command): \(asked.stderr)")
            }
        }
    }

    @Test("rejects an invalid change whole, with its location, and keeps serving the old routes")
    func rejectsInvalid() async throws {
        try await Self.withRuntime { runtime, backends in
            let port = try #require(runtime.gateway.boundPort(forDeclared: 80))
            let directory = try SerinProcess.temporaryDirectory()
            let file = directory.appendingPathComponent("bad.yaml")
            let seedStep = SerinProcess.repositoryRoot
                .appendingPathComponent("examples/seed/steps/web-gateway-virtualservice-90-10.yaml")
            let text = try String(contentsOf: seedStep, encoding: .utf8).replacingOccurrences(of: "weight: 10", with: "weight: 0")
                .replacingOccurrences(of: "weight: 90", with: "weight: 0")
            try text.write(to: file, atomically: true, encoding: .utf8)

            let result = try await SerinProcess.run(["apply", "-f", file.path, "--server", runtime.adminURL])
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(file.path):"))
            #expect(result.stderr.contains("weights sum to 0"))
            #expect(result.stderr.contains("nothing applied"))

            let tally = try await DemoTraffic.run(port: port, connections: 2, requestsPerConnection: 50, group: backends.group)
            #expect(tally.counts == ["v1": 100])
        }
    }

    @Test("a path inside an applied manifest is relative to the manifest where the command runs, not to the gateway's working directory; messages name the file as written")
    func relativePathsFromTheClient() async throws {
        try await Self.withRuntime { runtime, _ in
            let directory = try SerinProcess.temporaryDirectory()
            let gateway = """
                apiVersion: networking.istio.io/v1beta1
                kind: Gateway
                metadata: {name: tls-gateway}
                spec:
                  selector: {istio: ingressgateway}
                  servers:
                  - port: {number: 443, name: https, protocol: HTTPS}
                    hosts: ["*"]
                    tls: {mode: SIMPLE, serverCertificate: certs/missing.crt, privateKey: certs/missing.key}
                """
            try gateway.write(to: directory.appendingPathComponent("tls.yaml"), atomically: true, encoding: .utf8)
            let result = try await SerinProcess.run(["apply", "-f", "tls.yaml", "--server", runtime.adminURL], in: directory)
            #expect(result.status == 1)
            let expected = "(\(directory.standardizedFileURL.path)/certs/missing.crt, relative to the manifest's directory)"
            #expect(result.stderr.contains("tls.yaml:9:"), "\(result.stderr)")
            #expect(result.stderr.contains(expected), "\(result.stderr)")
        }
    }

    @Test("loses no request while steps are applied back and forth under load")
    func applyUnderLoad() async throws {
        try await Self.withRuntime { runtime, backends in
            let port = try #require(runtime.gateway.boundPort(forDeclared: 80))
            let root = SerinProcess.repositoryRoot.appendingPathComponent("examples/seed").path
            let steps = [
                "\(root)/steps/web-gateway-virtualservice-90-10.yaml", "\(root)/steps/web-gateway-virtualservice-0-100.yaml",
                "\(root)/web-gateway-virtualservice.yaml",
            ].map { ManifestLoader.load(paths: [$0], recursive: false).sources }
            async let load = DemoTraffic.run(port: port, connections: 8, requestsPerConnection: 300, group: backends.group)
            var applied = 0
            for round in 0..<90 {
                let report = await runtime.live.apply(steps[round % steps.count])
                if report.applied { applied += 1 }
                try await Task.sleep(for: .milliseconds(3))
            }
            let tally = try await load
            #expect(applied == 90)
            #expect(tally.failures.isEmpty, "\(tally.failures.count) failed: \(tally.failures.prefix(3))")
            #expect(tally.total == 8 * 300)
        }
    }

    @Test("says how to reach the gateway when nothing listens at --server")
    func unreachableServer() async throws {
        let refusing = try RefusingPort()
        let port = refusing.port
        let result = try await SerinProcess.run([
            "apply", "-f", "examples/seed/steps/web-gateway-virtualservice-90-10.yaml", "--server", "http://127.0.0.1:\(port)",
        ])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(
                "no Serin answering at http://127.0.0.1:\(port): is `serin up` (or `serin gateway`) running? pass --server URL or set SERIN_SERVER"
            ), "\(result.stderr)"
        )
        withExtendedLifetime(refusing) {}
    }
}

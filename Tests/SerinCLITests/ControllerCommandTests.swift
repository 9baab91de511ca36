import Foundation
import NIOPosix
import SerinKubernetes
import SerinTesting
import Testing

/// `serin controller` as a process against the Kubernetes API-server double: what a user runs in a cluster.
@Suite("serin controller", .timeLimit(.minutes(2)))
struct ControllerCommandTests {
    @Test("runs a Canary on the cluster: the VirtualService reaches 0/100 and the status Succeeded; SIGTERM hands the Lease back, exit 0")
    func runsCanary() async throws {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton)
        let directory = try SerinProcess.temporaryDirectory()
        let vs = KubernetesAPIServer.ObjectKey(
            groupVersion: "networking.istio.io/v1beta1", resource: "virtualservices", namespace: "default", name: "web-virtualservice"
        )
        server.put(
            [
                "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService", "metadata": ["name": "web-virtualservice"],
                "spec": ["hosts": ["*"], "http": [["route": [["destination": ["host": "web-v1-service", "port": ["number": 80]]]]]]],
            ],
            at: vs
        )
        let canary = KubernetesAPIServer.ObjectKey(groupVersion: "serin.dev/v1alpha1", resource: "canaries", namespace: "default", name: "web")
        server.put(
            [
                "apiVersion": "serin.dev/v1alpha1", "kind": "Canary", "metadata": ["name": "web", "namespace": "default"],
                "spec": [
                    "targetRef": ["name": "web-virtualservice"], "stable": ["host": "web-v1-service"], "canary": ["host": "web-v2-service"],
                    "skipAnalysis": true, "analysis": ["interval": "1s", "threshold": 2, "stepWeights": [50]],
                ],
            ],
            at: canary
        )
        let backends = TestBackends()
        let adminPort = try await backends.freePort()
        let controller = try SerinProcess.launch([
            "controller", "--kubeconfig", try server.writeKubeconfig(in: directory), "--admin", "127.0.0.1:\(adminPort)",
            "--prometheus", "http://127.0.0.1:9", "--leader-elect", "--identity", "serin-test",
        ])
        let weights = {
            server.object(vs)?["spec"]?["http"]?[0]?["route"]?.arrayValue?.compactMap { $0["weight"]?.intValue } ?? []
        }
        let promoted = await eventually(.seconds(60)) { weights() == [0, 100] }
        let early = promoted ? "" : await controller.outputText()
        #expect(promoted, "\(early)")
        #expect(server.object(canary)?["status"]?["phase"] == "Succeeded")
        let lease = KubernetesAPIServer.ObjectKey(
            groupVersion: "coordination.k8s.io/v1", resource: "leases", namespace: "default", name: "serin-controller"
        )
        #expect(server.object(lease)?["spec"]?["holderIdentity"] == "serin-test")
        controller.signal(SIGTERM)
        #expect(await controller.waitForExit() == 0, "\(controller.printed)")
        let output = await controller.outputText()
        #expect(output.contains("serin controller: \(server.url.absoluteString) (context double), watching Canaries in every namespace"), "\(output)")
        #expect(output.contains("web: promotion completed"), "\(output)")
        #expect(output.contains("serin-test released the Lease"), "\(output)")
        #expect(server.object(lease)?["spec"]?["holderIdentity"] == .null)
        await server.close()
        await backends.shutdown()
    }

    @Test("an API server that fails its first requests is waited for, with backoff: the controller keeps running and answers once it does")
    func apiServerDownAtStart() async throws {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton)
        let directory = try SerinProcess.temporaryDirectory()
        server.failNext(3, status: 503, reason: "ServiceUnavailable")
        let backends = TestBackends()
        let adminPort = try await backends.freePort()
        let controller = try SerinProcess.launch([
            "controller", "--kubeconfig", try server.writeKubeconfig(in: directory), "--admin", "127.0.0.1:\(adminPort)",
            "--prometheus", "http://127.0.0.1:9",
        ])
        #expect(await controller.waitForOutput("cannot read the rollouts from Canary status", timeout: .seconds(30)), "\(controller.printed)")
        // Watching Canaries once the API answers: the Canaries and both groups' MetricTemplates.
        #expect(await eventually(.seconds(60)) { server.watchCount >= 3 }, "\(controller.printed)")
        #expect(controller.printed.contains("trying again in 4s"), "\(controller.printed)")
        controller.signal(SIGTERM)
        #expect(await controller.waitForExit() == 0, "\(controller.printed)")
        await server.close()
        await backends.shutdown()
    }

    @Test("a kubeconfig context that does not exist is refused with the contexts there are; exit 1")
    func unknownContext() async throws {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton)
        let directory = try SerinProcess.temporaryDirectory()
        let path = try server.writeKubeconfig(in: directory)
        let controller = try SerinProcess.launch(["controller", "--kubeconfig", path, "--context", "prod"])
        #expect(await controller.waitForExit() == 1)
        let output = await controller.outputText()
        #expect(output.contains("serin controller: \(path): context \"prod\" not found; contexts: double"), "\(output)")
        await server.close()
    }

    @Test("--prometheus takes an https:// address with a path prefix; another scheme is refused naming the option")
    func prometheusAddress() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton)
        let path = try server.writeKubeconfig(in: directory)
        // A context that does not exist stops it right after the options are accepted.
        let https = try await SerinProcess.run(
            ["controller", "--kubeconfig", path, "--context", "prod", "--prometheus", "https://prometheus.example/prometheus"]
        )
        let ftp = try await SerinProcess.run(["controller", "--kubeconfig", path, "--prometheus", "ftp://prometheus:9090"])
        await server.close()
        #expect(https.status == 1)
        #expect((https.stdout + https.stderr).contains("context \"prod\" not found"), "\(https.stderr)")
        #expect(ftp.status != 0 && ftp.status != 1)
        #expect(ftp.stderr.contains(#"--prometheus: expected an http:// or https:// URL like http://127.0.0.1:9090, got "ftp://prometheus:9090""#), "\(ftp.stderr)")
    }
}

import Foundation
import NIOHTTP1
import NIOPosix
import SerinKubernetes
import SerinTesting
import Testing

/// `serin status|pause|resume|promote|abort|history --kubeconfig`: people steering Canaries in a cluster, with
/// `serin controller` running against the Kubernetes API-server double — processes end to end, as a user runs them.
@Suite("serin status and commands on a cluster", .timeLimit(.minutes(3)))
struct ClusterSteeringTests {
    static let vsKey = KubernetesAPIServer.ObjectKey(
        groupVersion: "networking.istio.io/v1beta1", resource: "virtualservices", namespace: "default", name: "web-virtualservice"
    )
    static let canaryKey = KubernetesAPIServer.ObjectKey(groupVersion: "serin.dev/v1alpha1", resource: "canaries", namespace: "default", name: "web")

    /// The seed's VirtualService and a Canary whose first analysis is an hour away: it holds at its first step
    /// until someone steers it.
    static func putSeed(_ server: KubernetesAPIServer) {
        server.put(
            [
                "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService", "metadata": ["name": "web-virtualservice"],
                "spec": ["hosts": ["*"], "http": [["route": [["destination": ["host": "web-v1-service", "port": ["number": 80]]]]]]],
            ],
            at: vsKey
        )
        server.put(
            [
                "apiVersion": "serin.dev/v1alpha1", "kind": "Canary", "metadata": ["name": "web", "namespace": "default"],
                "spec": [
                    "targetRef": ["name": "web-virtualservice"], "stable": ["host": "web-v1-service"], "canary": ["host": "web-v2-service"],
                    "progressDeadlineSeconds": 7200, "analysis": ["interval": "1h", "threshold": 2, "stepWeights": [20, 50]],
                ],
            ],
            at: canaryKey
        )
    }

    static func weights(_ server: KubernetesAPIServer) -> [Int] {
        server.object(vsKey)?["spec"]?["http"]?[0]?["route"]?.arrayValue?.compactMap { $0["weight"]?.intValue } ?? []
    }

    /// The double with the seed, a kubeconfig for it and `serin controller` running against it, the Canary at
    /// its first step.
    static func withCluster(
        _ body: (KubernetesAPIServer, _ kubeconfig: String, SerinProcess.Running) async throws -> Void
    ) async throws {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton)
        putSeed(server)
        let kubeconfig = try server.writeKubeconfig(in: try SerinProcess.temporaryDirectory())
        let backends = TestBackends()
        let controller = try SerinProcess.launch([
            "controller", "--kubeconfig", kubeconfig, "--admin", "127.0.0.1:\(try await backends.freePort())",
            "--prometheus", "http://127.0.0.1:9",
        ])
        do {
            let started = await eventually(.seconds(60)) { Self.weights(server) == [80, 20] }
            let early = started ? "" : await controller.outputText()
            #expect(started, "\(early)")
            try await body(server, kubeconfig, controller)
        } catch {
            await controller.kill()
            await server.close()
            await backends.shutdown()
            throw error
        }
        await controller.kill()
        await server.close()
        await backends.shutdown()
    }

    @Test("status reads the cluster; pause, resume and promote are carried out by the controller and answered; a refused command says why")
    func steersThroughTheCluster() async throws {
        try await Self.withCluster { server, kubeconfig, _ in
            let status = try await SerinProcess.run(["status", "--kubeconfig", kubeconfig])
            #expect(status.status == 0, "\(status.stderr)")
            let row = status.stdout.split(separator: "\n").first { $0.hasPrefix("web ") }.map(String.init) ?? ""
            #expect(row.contains("Progressing") && row.contains("80/20") && row.contains("1/2"), "\(status.stdout)")
            // -A alone takes the cluster kubectl would: $KUBECONFIG's.
            let every = try await SerinProcess.run(["status", "-A"], environment: ["KUBECONFIG": kubeconfig])
            #expect(every.status == 0, "\(every.stderr)")
            #expect(every.stdout.hasPrefix("NAMESPACE"), "\(every.stdout)")
            #expect(every.stdout.split(separator: "\n").contains { $0.hasPrefix("default ") && $0.contains(" web ") }, "\(every.stdout)")

            let pause = try await SerinProcess.run(["pause", "web", "--kubeconfig", kubeconfig])
            #expect(pause.status == 0, "\(pause.stderr)")
            #expect(pause.stdout.contains("canary/web paused: Paused, 80/20"), "\(pause.stdout)")
            let annotations = server.object(Self.canaryKey)?["metadata"]?["annotations"]
            #expect(annotations?[CanaryCommandChannel.commandAnnotation] == "pause")
            #expect(
                server.object(Self.canaryKey)?["status"]?["lastCommand"]?["id"] == annotations?[CanaryCommandChannel.idAnnotation],
                "the answer carries the request's id"
            )

            // -n picks the namespace (and the cluster, with the current kubeconfig); -o json gives the same fields.
            let json = try await SerinProcess.run(["status", "web", "-n", "default", "--kubeconfig", kubeconfig, "-o", "json"])
            #expect(json.stdout.contains("\"phase\" : \"Paused\""), "\(json.stdout)")

            let resume = try await SerinProcess.run(["resume", "web", "--kubeconfig", kubeconfig])
            #expect(resume.status == 0, "\(resume.stderr)")
            let promote = try await SerinProcess.run(["promote", "web", "--kubeconfig", kubeconfig])
            #expect(promote.status == 0, "\(promote.stderr)")
            // Promoting, or already promoted when nothing was left to run by the time the answer came.
            #expect(promote.stdout.contains("canary/web promoting: ") || promote.stdout.contains("canary/web promoted: Succeeded"), "\(promote.stdout)")
            #expect(await eventually(.seconds(30)) { Self.weights(server) == [0, 100] }, "\(Self.weights(server))")
            #expect(await eventually(.seconds(30)) { server.object(Self.canaryKey)?["status"]?["phase"] == "Succeeded" })

            let abort = try await SerinProcess.run(["abort", "web", "--kubeconfig", kubeconfig])
            #expect(abort.status == 1)
            #expect(abort.stderr.contains("web: ") && abort.stderr.contains("Succeeded"), "the refusal says why: \(abort.stderr)")
            #expect(Self.weights(server) == [0, 100], "a refused command changes nothing")

            let history = try await SerinProcess.run(["history", "web", "--kubeconfig", kubeconfig])
            #expect(history.status == 0, "\(history.stderr)")
            for line in ["rollout started", "paused", "promotion completed"] {
                #expect(history.stdout.contains(line), "history tells \"\(line)\": \(history.stdout)")
            }
        }
    }

    @Test("serin controller serves the documented API embedded mode serves: /readyz, /openapi.json without the gateway's paths, /canaries, /metrics")
    func sameAdminSurfaceAsEmbedded() async throws {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton)
        Self.putSeed(server)
        let kubeconfig = try server.writeKubeconfig(in: try SerinProcess.temporaryDirectory())
        let backends = TestBackends()
        let port = try await backends.freePort()
        let controller = try SerinProcess.launch([
            "controller", "--kubeconfig", kubeconfig, "--admin", "127.0.0.1:\(port)", "--prometheus", "http://127.0.0.1:9",
        ])
        defer { Task { await controller.kill(); await server.close(); await backends.shutdown() } }
        #expect(await eventually(.seconds(60)) { Self.weights(server) == [80, 20] })
        let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
        let ready = try await client.send(.GET, "/readyz")
        #expect(ready.status == 200, "\(ready.bodyText)")
        let document = try await client.send(.GET, "/openapi.json")
        let paths = try #require(try JSONSerialization.jsonObject(with: Data(document.body)) as? [String: Any])["paths"] as? [String: Any]
        #expect(paths?["/canaries/{name}/promote"] != nil)
        #expect(paths?["/apply"] == nil && paths?["/config"] == nil, "the gateway's paths are not documented where they are not served")
        let canaries = try await client.send(.GET, "/canaries")
        #expect(canaries.status == 200 && canaries.bodyText.contains("\"web\""), "\(canaries.bodyText)")
        let metrics = try await client.send(.GET, "/metrics")
        #expect(metrics.bodyText.contains("serin_canary_weight{name=\"web\",namespace=\"default\"} 20"), "\(metrics.bodyText)")
        await client.close()
    }

    @Test("a command no controller answers fails after --timeout and says where it waits; one already answered is not run again after a restart")
    func unansweredAndRestarted() async throws {
        try await Self.withCluster { server, kubeconfig, controller in
            let pause = try await SerinProcess.run(["pause", "web", "--kubeconfig", kubeconfig])
            #expect(pause.status == 0, "\(pause.stderr)")
            await controller.kill()

            let unanswered = try await SerinProcess.run(["resume", "web", "--kubeconfig", kubeconfig, "--timeout", "1s"])
            #expect(unanswered.status == 1)
            #expect(unanswered.stderr.contains("resume is written on canary/web in namespace default, but no controller answered within 1s"), "\(unanswered.stderr)")
            // A second command while the resume waits would replace it: refused, and the resume stays.
            let over = try await SerinProcess.run(["abort", "web", "--kubeconfig", kubeconfig, "--timeout", "1s"])
            #expect(over.status == 1)
            #expect(over.stderr.contains("canary/web in namespace default already has resume waiting for a controller to answer; nothing was written"),
                    "\(over.stderr)")
            // The drop hint names the Canary by its group, which kubectl resolves whatever else defines canary.
            #expect(over.stderr.contains("kubectl -n default annotate canaries.serin.dev/web serin.dev/command- serin.dev/command-id-"), "\(over.stderr)")
            #expect(server.object(Self.canaryKey)?["metadata"]?["annotations"]?["serin.dev/command"] == "resume")

            // A new controller answers the waiting resume once, and does not pause again.
            let second = try SerinProcess.launch([
                "controller", "--kubeconfig", kubeconfig, "--admin", "127.0.0.1:\(try await TestBackends().freePort())",
                "--prometheus", "http://127.0.0.1:9",
            ])
            let answered = await eventually(.seconds(60)) {
                server.object(Self.canaryKey)?["status"]?["lastCommand"]?["command"] == "resume"
            }
            #expect(answered, "\(second.printed)")
            // The answer is written as the command is taken; the rollout's new phase follows with its next save.
            #expect(await eventually(.seconds(10)) { server.object(Self.canaryKey)?["status"]?["phase"] == "Progressing" })
            await second.kill()
            let output = await second.outputText()
            #expect(!output.contains("command pause"), "the answered pause is not carried out again: \(output)")
        }
    }

    @Test("an unknown Canary names the ones there are; --server and --kubeconfig together are refused")
    func clearErrors() async throws {
        try await Self.withCluster { _, kubeconfig, _ in
            let missing = try await SerinProcess.run(["promote", "nosuch", "--kubeconfig", kubeconfig])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("no Canary nosuch in namespace default (it has: web)"), "\(missing.stderr)")
            let both = try await SerinProcess.run(["status", "--server", "http://127.0.0.1:9900", "--kubeconfig", kubeconfig])
            #expect(both.status != 0)
            #expect(both.stderr.contains("give one or the other"), "\(both.stderr)")
            let badConfig = try await SerinProcess.run(["status", "--kubeconfig", "/nonexistent/kubeconfig"])
            #expect(badConfig.status == 1)
            #expect(badConfig.stderr.contains("/nonexistent/kubeconfig"), "\(badConfig.stderr)")
        }
    }

    @Test("an API server that is gone: the error says connection refused, in words, not NIO's error text, and at once (the pool's 10 s of retries are the controller's)")
    func apiServerGone() async throws {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton)
        let kubeconfig = try server.writeKubeconfig(in: try SerinProcess.temporaryDirectory())
        await server.close()
        // Well under the 10 s a retried connection takes: the command is not waiting on a closed port.
        let status = try await SerinProcess.run(["status", "--kubeconfig", kubeconfig], timeout: .seconds(8))
        #expect(status.status == 1)
        #expect(status.stderr.contains("cannot reach the Kubernetes API at http://127.0.0.1:"), "\(status.stderr)")
        #expect(status.stderr.contains("): connection refused\n"), "\(status.stderr)")
        #expect(!status.stderr.contains("errno"), "\(status.stderr)")
    }

    @Test("serin status shows why a Canary is refused: one it cannot read is an error naming the problem, one whose change was refused shows the refusal over its last state")
    func statusShowsRefusals() async throws {
        try await Self.withCluster { server, kubeconfig, _ in
            let typoKey = KubernetesAPIServer.ObjectKey(groupVersion: "serin.dev/v1alpha1", resource: "canaries", namespace: "default", name: "typo")
            server.put(
                [
                    "apiVersion": "serin.dev/v1alpha1", "kind": "Canary", "metadata": ["name": "typo", "namespace": "default"],
                    "spec": [
                        "targetRef": ["name": "web-virtualservice"], "canary": ["host": "web-v2-service"],
                        "analysis": ["interval": "1h", "threshold": 2, "stepWeights": [150]],
                    ],
                ],
                at: typoKey
            )
            let unreadable = try await SerinProcess.run(["status", "typo", "--kubeconfig", kubeconfig])
            #expect(unreadable.status == 1, "\(unreadable.stdout)")
            #expect(unreadable.stderr.contains("error: Canary default/typo is not valid: spec.analysis.stepWeights[0] is 150"), "\(unreadable.stderr)")
            #expect(!unreadable.stdout.contains("no Canaries"), "\(unreadable.stdout)")
            // The running Canary now says a stable that does not serve: refused, and the weights stay.
            server.edit(Self.canaryKey) { object in
                object = (try? object.applying([.replace(path: ["spec", "stable", "host"], value: "web-v3-service")])) ?? object
            }
            #expect(await eventually(.seconds(30)) { server.object(Self.canaryKey).flatMap(KubernetesRolloutStore.refusal(in:)) != nil })
            let refused = try await SerinProcess.run(["status", "web", "--kubeconfig", kubeconfig])
            #expect(refused.status == 0, "\(refused.stderr)")
            #expect(refused.stdout.contains("web: refused: ") && refused.stdout.contains("web-v3-service"), "\(refused.stdout)")
            #expect(Self.weights(server) == [80, 20])
        }
    }
}

/// `serin controller --flagger-canaries`: a Flagger user's Canary on a Deployment, unchanged, run by Serin,
/// steered with Serin's commands, and continued by a restarted controller — processes end to end.
@Suite("Flagger's Canaries under serin controller", .timeLimit(.minutes(3)))
struct FlaggerCanaryControllerTests {
    static let canaryKey = PodinfoKeys.flaggerCanary
    static let target = PodinfoKeys.target
    static let primary = PodinfoKeys.primary
    static let virtualService = PodinfoKeys.virtualService

    static func weights(_ server: KubernetesAPIServer) -> [Int] {
        server.object(virtualService)?["spec"]?["http"]?[0]?["route"]?.arrayValue?.compactMap { $0["weight"]?.intValue } ?? []
    }

    static func status(_ server: KubernetesAPIServer) -> JSONValue? { server.object(canaryKey)?["status"] }

    static func image(_ server: KubernetesAPIServer, _ key: KubernetesAPIServer.ObjectKey) -> String? {
        server.object(key)?["spec"]?["template"]?["spec"]?["containers"]?[0]?["image"]?.stringValue
    }

    static func launchController(_ kubeconfig: String) async throws -> SerinProcess.Running {
        try SerinProcess.launch([
            "controller", "--kubeconfig", kubeconfig, "--admin", "127.0.0.1:\(try await TestBackends().freePort())",
            "--prometheus", "http://127.0.0.1:9", "--flagger-canaries",
        ])
    }

    @Test("Flagger's status fields, Serin's commands answered in an annotation, a serin.dev namesake left waiting, and a restarted controller continues from it")
    func flaggerCanaryRunsAndIsSteered() async throws {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton)
        defer { Task { await server.close() } }
        server.put([
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "podinfo"],
            "spec": [
                "replicas": 2, "selector": ["matchLabels": ["app": "podinfo"]],
                "template": ["metadata": ["labels": ["app": "podinfo"]], "spec": ["containers": [["name": "podinfod", "image": "podinfo:6.0.0"]]]],
            ],
        ], at: Self.target)
        let kubeconfig = try server.writeKubeconfig(in: try SerinProcess.temporaryDirectory())
        var controller = try await Self.launchController(kubeconfig)
        server.put([
            "apiVersion": "flagger.app/v1beta1", "kind": "Canary", "metadata": ["name": "podinfo", "namespace": "default"],
            "spec": [
                "provider": "istio", "targetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"],
                "progressDeadlineSeconds": 7200, "service": ["port": 9898],
                // The first analysis is an hour away: the release holds at its first step until someone steers it.
                "analysis": ["interval": "1h", "threshold": 2, "maxWeight": 40, "stepWeight": 20],
            ],
        ], at: Self.canaryKey)
        let initialized = await eventually(.seconds(60)) { Self.status(server)?["phase"] == "Initialized" }
        let early = initialized ? "" : await controller.outputText()
        #expect(initialized, "\(early)")
        server.edit(Self.target) { object in
            object = (try? object.applying([
                .replace(path: ["spec", "template", "spec", "containers", "0", "image"], value: "podinfo:6.0.1"),
            ])) ?? object
        }
        let stepped = await eventually(.seconds(30)) { Self.weights(server) == [80, 20] }
        let steppedOutput = stepped ? "" : await controller.outputText()
        #expect(stepped, "\(steppedOutput)")
        // What Flagger's CRD keeps, in Flagger's words; Serin's rollout in its annotation.
        #expect(await eventually(.seconds(10)) { Self.status(server)?["phase"] == "Progressing" && Self.status(server)?["canaryWeight"] == 20 })
        #expect(server.object(Self.canaryKey)?["metadata"]?["annotations"]?[CanaryGroup.stateAnnotation] != nil)

        // A serin.dev Canary of the same name: the release in flight stays the Flagger one's, for the controller and
        // for every command below, which read and steer the one that runs.
        let namesakeKey = KubernetesAPIServer.ObjectKey(groupVersion: "serin.dev/v1alpha1", resource: "canaries", namespace: "default", name: "podinfo")
        server.put([
            "apiVersion": "serin.dev/v1alpha1", "kind": "Canary", "metadata": ["name": "podinfo", "namespace": "default"],
            "spec": [
                "targetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"], "service": ["port": 9898],
                "analysis": ["interval": "1h", "threshold": 2, "stepWeights": [20, 40]],
            ],
        ], at: namesakeKey)
        #expect(await eventually(.seconds(10)) {
            server.object(namesakeKey).flatMap(KubernetesRolloutStore.refusal(in:))?.contains("Serin runs the canaries.flagger.app one") == true
        })

        let status = try await SerinProcess.run(["status", "--kubeconfig", kubeconfig])
        let row = status.stdout.split(separator: "\n").first { $0.hasPrefix("podinfo ") }.map(String.init) ?? ""
        #expect(row.contains("Progressing") && row.contains("80/20"), "\(status.stdout) \(status.stderr)")

        let pause = try await SerinProcess.run(["pause", "podinfo", "--kubeconfig", kubeconfig])
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(await eventually(.seconds(10)) { Self.status(server)?["phase"] == "Waiting" })
        let answer = server.object(Self.canaryKey).flatMap(CanaryCommandChannel.answer(in:))
        #expect(answer?.command == "pause" && answer?.accepted == true)

        // Another controller takes over from the annotation: the release goes on where it was, not from the start.
        await controller.kill()
        controller = try await Self.launchController(kubeconfig)
        let resume = try await SerinProcess.run(["resume", "podinfo", "--kubeconfig", kubeconfig, "--timeout", "60s"])
        #expect(resume.status == 0, "\(resume.stderr) \(controller.printed)")
        #expect(await eventually(.seconds(10)) { Self.status(server)?["phase"] == "Progressing" })
        #expect(Self.weights(server) == [80, 20])
        let promote = try await SerinProcess.run(["promote", "podinfo", "--kubeconfig", kubeconfig])
        #expect(promote.status == 0, "\(promote.stderr) \(controller.printed)")
        let succeeded = await eventually(.seconds(30)) { Self.status(server)?["phase"] == "Succeeded" }
        let succeededOutput = succeeded ? "" : await controller.outputText()
        #expect(succeeded, "\(succeededOutput)")
        #expect(Self.image(server, Self.primary) == "podinfo:6.0.1")
        #expect(await eventually(.seconds(10)) { Self.weights(server) == [100, 0] })
        await controller.kill()
    }
}

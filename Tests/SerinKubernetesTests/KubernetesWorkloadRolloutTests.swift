import Foundation
import NIOConcurrencyHelpers
import SerinController
import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// Flagger's shape on Kubernetes, end to end against the API-server double: a Canary on a Deployment, released
/// by changing the Deployment's image, with the primary, Services, VirtualService and HPA Serin creates.
@Suite("Workload rollouts on Kubernetes", .timeLimit(.minutes(2)))
struct KubernetesWorkloadRolloutTests {
    static let key = PodinfoKeys.key
    static let target = PodinfoKeys.target
    static let primary = PodinfoKeys.primary
    static let virtualService = PodinfoKeys.virtualService
    static let canaryKey = PodinfoKeys.serinCanary
    static let flaggerCanaryKey = PodinfoKeys.flaggerCanary
    static let services = ["podinfo", "podinfo-primary", "podinfo-canary"].map { key("v1", "services", $0) }
    static let primaryHPA = key("autoscaling/v2", "horizontalpodautoscalers", "podinfo-primary")

    /// Flagger's podinfo: a Deployment reading a ConfigMap and a Secret, scaled by an HPA.
    static func putWorkload(_ server: KubernetesAPIServer, image: String = "ghcr.io/stefanprodan/podinfo:6.0.0") {
        server.put([
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "podinfo"],
            "spec": [
                "replicas": 2, "selector": ["matchLabels": ["app": "podinfo"]],
                "template": [
                    "metadata": ["labels": ["app": "podinfo"]],
                    "spec": [
                        "containers": [[
                            "name": "podinfod", "image": .string(image), "envFrom": [["configMapRef": ["name": "podinfo-config"]]],
                        ]],
                        "volumes": [["name": "tls", "secret": ["secretName": "podinfo-tls"]]],
                    ],
                ],
            ],
        ], at: target)
        server.put(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "podinfo-config"], "data": ["color": "blue"]],
                   at: key("v1", "configmaps", "podinfo-config"))
        server.put(["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "podinfo-tls"], "data": ["tls.crt": "Y2VydA=="]],
                   at: key("v1", "secrets", "podinfo-tls"))
        server.put([
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": ["name": "podinfo"],
            "spec": ["scaleTargetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"], "minReplicas": 2, "maxReplicas": 4],
        ], at: key("autoscaling/v2", "horizontalpodautoscalers", "podinfo"))
    }

    /// The Canary as a Flagger user writes it (Serin's group; the same fields), with the mesh and its own host
    /// listed as Flagger's FAQ lists them.
    static let canary: JSONValue = [
        "apiVersion": "serin.dev/v1alpha1", "kind": "Canary", "metadata": ["name": "podinfo", "namespace": "default"],
        "spec": [
            "targetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"],
            "autoscalerRef": ["apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "podinfo"],
            "service": [
                "port": 9898, "targetPort": 9898, "gateways": ["public-gateway", "mesh"], "hosts": ["podinfo", "app.example.com"],
            ],
            "analysis": [
                "interval": "300ms", "threshold": 2, "stepWeights": [20, 50],
                "metrics": [["name": "request-success-rate", "thresholdRange": ["min": 99], "interval": "1m"]],
            ],
        ],
    ]

    /// Flagger's own Canary for podinfo, as its docs write it: read unchanged.
    static let flaggerCanary: JSONValue = [
        "apiVersion": "flagger.app/v1beta1", "kind": "Canary", "metadata": ["name": "podinfo", "namespace": "default"],
        "spec": [
            "provider": "istio",
            "targetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"],
            "autoscalerRef": ["apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "podinfo"],
            "progressDeadlineSeconds": 60,
            "service": ["port": 9898, "targetPort": 9898, "gateways": ["public-gateway"], "hosts": ["app.example.com"]],
            "analysis": [
                "interval": "300ms", "threshold": 2, "maxWeight": 50, "stepWeight": 30,
                "metrics": [["name": "request-success-rate", "thresholdRange": ["min": 99], "interval": "1m"]],
            ],
        ],
    ]

    static func image(_ server: KubernetesAPIServer, _ key: KubernetesAPIServer.ObjectKey) -> String? {
        server.object(key)?["spec"]?["template"]?["spec"]?["containers"]?[0]?["image"]?.stringValue
    }

    static func replicas(_ server: KubernetesAPIServer, _ key: KubernetesAPIServer.ObjectKey) -> Int? {
        server.object(key)?["spec"]?["replicas"]?.intValue
    }

    static func weights(_ server: KubernetesAPIServer) -> [Int] {
        server.object(virtualService)?["spec"]?["http"]?[0]?["route"]?.arrayValue?.compactMap { $0["weight"]?.intValue } ?? []
    }

    static func phase(_ server: KubernetesAPIServer, _ key: KubernetesAPIServer.ObjectKey = canaryKey) -> String? {
        server.object(key)?["status"]?["phase"]?.stringValue
    }

    static func setImage(_ server: KubernetesAPIServer, _ image: String) {
        server.edit(target) { object in
            object = (try? object.applying([
                .replace(path: ["spec", "template", "spec", "containers", "0", "image"], value: .string(image)),
            ])) ?? object
        }
    }

    /// - Parameter metrics: every check passes until a test tells them to fail, with plenty of requests either way.
    static func withWorkloadController(
        metrics: ScriptedMetrics = ScriptedMetrics(), prepare: (KubernetesAPIServer) -> Void = { putWorkload($0) },
        _ body: (KubernetesAPIServer, LogRecorder) async throws -> Void
    ) async throws {
        try await KubernetesRolloutTests.withController(
            prepare: prepare, metrics: { _ in metrics }, workloads: true, groups: [.serin, .flagger], body
        )
    }

    @Test(
        "two releases by image change: the first promoted into the primary, the second rolled back; deleting the Canary removes what Serin created",
        arguments: [CanaryGroup.serin, .flagger])
    func twoReleasesByImageChange(group: CanaryGroup) async throws {
        let metrics = ScriptedMetrics()
        let canaryKey = group == .serin ? Self.canaryKey : Self.flaggerCanaryKey
        func phase(_ server: KubernetesAPIServer) -> String? { Self.phase(server, canaryKey) }
        try await Self.withWorkloadController(metrics: metrics) { server, lines in
            server.put(group == .serin ? Self.canary : Self.flaggerCanary, at: canaryKey)
            // First sight: the primary serves the target's template, the target is scaled to zero.
            #expect(await eventually(.seconds(20)) { Self.replicas(server, Self.target) == 0 }, "\(lines.messages)")
            let uid = try #require(server.object(canaryKey)?["metadata"]?["uid"]?.stringValue)
            for owned in [Self.primary, Self.virtualService, Self.primaryHPA] + Self.services {
                let object = try #require(server.object(owned), "\(owned) was not created")
                #expect(WorkloadObjects.isOwned(object, byCanaryWithUID: uid), "\(owned) has no owner reference to the Canary")
            }
            #expect(Self.image(server, Self.primary) == "ghcr.io/stefanprodan/podinfo:6.0.0")
            #expect(server.object(Self.primary)?["spec"]?["template"]?["metadata"]?["labels"]?["app"] == "podinfo-primary")
            #expect(server.object(Self.services[2])?["spec"]?["selector"] == ["app": "podinfo"])
            #expect(server.object(Self.services[0])?["spec"]?["selector"] == ["app": "podinfo-primary"])
            #expect(server.object(Self.primaryHPA)?["spec"]?["scaleTargetRef"]?["name"] == "podinfo-primary")
            #expect(server.object(Self.virtualService)?["spec"]?["hosts"] == ["podinfo", "app.example.com"])
            // As Flagger writes them: the gateways as listed (the mesh only when listed), the Canary's own host once.
            #expect(server.object(Self.virtualService)?["spec"]?["gateways"] == (group == .serin ? ["public-gateway", "mesh"] : ["public-gateway"]))
            #expect(Self.weights(server) == [100, 0])
            #expect(phase(server) == "Initialized")

            // Release 1: a new image. The target is scaled up to the primary's size, weight moves, then promotion.
            Self.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.1")
            #expect(await eventually(.seconds(20)) { phase(server) == "Progressing" })
            #expect(await eventually(.seconds(20)) { Self.replicas(server, Self.target) == 2 })
            #expect(await eventually(.seconds(30)) { phase(server) == "Succeeded" }, "\(lines.messages)")
            #expect(Self.image(server, Self.primary) == "ghcr.io/stefanprodan/podinfo:6.0.1")
            // The status is saved before the weights move: the route follows a moment later.
            #expect(await eventually(.seconds(10)) { Self.weights(server) == [100, 0] })
            #expect(await eventually(.seconds(10)) { Self.replicas(server, Self.target) == 0 })

            // Release 2: another image, failing its checks: rolled back, the primary keeps 6.0.1.
            metrics.answer(ScriptedMetrics.failing)
            Self.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.2")
            #expect(await eventually(.seconds(30)) { phase(server) == "Failed" }, "\(lines.messages)")
            #expect(Self.image(server, Self.primary) == "ghcr.io/stefanprodan/podinfo:6.0.1")
            #expect(await eventually(.seconds(10)) { Self.weights(server) == [100, 0] })
            #expect(await eventually(.seconds(10)) { Self.replicas(server, Self.target) == 0 })
            let canary = try #require(server.object(canaryKey))
            let state = try #require(group.state(in: canary))
            let rollout = try JSONDecoder().decode(Rollout.self, from: Data(state.utf8))
            #expect(rollout.status.releases.map(\.outcome) == [.promoted, .rolledBack])
            // Flagger's status, in Flagger's words: the condition carries the reason.
            #expect(canary["status"]?["canaryWeight"] == 0)
            #expect(canary["status"]?["conditions"]?[0]?["type"] == "Promoted")
            #expect(canary["status"]?["conditions"]?[0]?["status"] == "False")
            #expect(canary["status"]?["conditions"]?[0]?["message"]?.stringValue?.isEmpty == false)

            // Deleting the Canary deletes what Serin created for it; the target stays.
            _ = server.delete(canaryKey)
            for owned in [Self.primary, Self.virtualService, Self.primaryHPA] + Self.services {
                #expect(server.object(owned) == nil, "\(owned) outlived its Canary")
            }
            #expect(server.object(Self.target) != nil)
        }
    }

    @Test("service.name names the Services and VirtualService, as in Flagger: frontend, frontend-primary, frontend-canary route to podinfo-primary's and podinfo's pods, and a release moves frontend's weights")
    func serviceNameNamesTheRoutes() async throws {
        guard case .object(var canary) = Self.flaggerCanary, case .object(var spec)? = canary["spec"], case .object(var service)? = spec["service"] else {
            Issue.record("the fixture is not an object"); return
        }
        service["name"] = "frontend"
        spec["service"] = .object(service)
        canary["spec"] = .object(spec)
        let frontend = Self.key("networking.istio.io/v1beta1", "virtualservices", "frontend")
        func weights(_ server: KubernetesAPIServer) -> [Int] {
            server.object(frontend)?["spec"]?["http"]?[0]?["route"]?.arrayValue?.compactMap { $0["weight"]?.intValue } ?? []
        }
        let metrics = ScriptedMetrics()
        try await Self.withWorkloadController(metrics: metrics) { server, lines in
            server.put(.object(canary), at: Self.flaggerCanaryKey)
            #expect(await eventually(.seconds(20)) { Self.replicas(server, Self.target) == 0 }, "\(lines.messages)")
            let services = ["frontend", "frontend-primary", "frontend-canary"].map { Self.key("v1", "services", $0) }
            #expect(server.object(services[0])?["spec"]?["selector"] == ["app": "podinfo-primary"])
            #expect(server.object(services[1])?["spec"]?["selector"] == ["app": "podinfo-primary"])
            #expect(server.object(services[2])?["spec"]?["selector"] == ["app": "podinfo"])
            // The Deployment's names stay the Deployment's; nothing is named podinfo but the primary and its HPA.
            #expect(server.object(Self.primary) != nil && server.object(Self.primaryHPA) != nil)
            #expect((Self.services + [Self.virtualService]).allSatisfy { server.object($0) == nil })
            let route = server.object(frontend)?["spec"]?["http"]?[0]?["route"]
            #expect(route?[0]?["destination"]?["host"] == "frontend-primary" && route?[1]?["destination"]?["host"] == "frontend-canary")
            #expect(server.object(frontend)?["spec"]?["hosts"] == ["frontend", "app.example.com"])
            #expect(weights(server) == [100, 0])

            metrics.answer(ScriptedMetrics.failing)
            Self.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.1")
            #expect(await eventually(.seconds(20)) { weights(server) == [70, 30] }, "\(lines.messages)")
            #expect(await eventually(.seconds(30)) { Self.phase(server, Self.flaggerCanaryKey) == "Failed" }, "\(lines.messages)")
            #expect(await eventually(.seconds(10)) { weights(server) == [100, 0] })

            // Renamed under a running Canary: refused, saying how to get either name, and nothing named after it.
            server.edit(Self.flaggerCanaryKey) { object in
                object = (try? object.applying([.replace(path: ["spec", "service", "name"], value: "shop")])) ?? object
            }
            let refusal = "Canary default/podinfo: spec.service.name is shop, but its Services and VirtualService are frontend, "
                + "frontend-primary and frontend-canary: Serin does not rename what a running Canary routes through, which clients "
                + "call by name; write service.name: frontend again, or delete the Canary and apply it with the new name"
            #expect(await eventually(.seconds(20)) { server.object(Self.flaggerCanaryKey).flatMap(KubernetesRolloutStore.refusal(in:)) == refusal },
                    "\(lines.messages)")
            #expect(["shop", "shop-primary", "shop-canary"].allSatisfy { server.object(Self.key("v1", "services", $0)) == nil })
            #expect(server.object(Self.key("networking.istio.io/v1beta1", "virtualservices", "shop")) == nil)
            #expect(weights(server) == [100, 0])
        }
    }

    @Test("with an autoscaler, traffic returns to the primary only once it has as many ready replicas as primary and canary served together")
    func promotionWaitsForPrimaryCapacity() async throws {
        try await Self.withWorkloadController { server, lines in
            server.put(Self.canary, at: Self.canaryKey)
            #expect(await eventually(.seconds(20)) { Self.replicas(server, Self.target) == 0 }, "\(lines.messages)")
            Self.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.1")
            // The canary (2 replicas, like the primary) takes its first step; then no new pod becomes ready.
            #expect(await eventually(.seconds(20)) { Self.weights(server) == [80, 20] }, "\(lines.messages)")
            server.holdDeploymentRollouts()
            #expect(await eventually(.seconds(30)) { Self.image(server, Self.primary) == "ghcr.io/stefanprodan/podinfo:6.0.1" })
            // 2 + 2 replicas served; the primary's autoscaler (max 4) may not scale it below that now.
            #expect(server.object(Self.primaryHPA)?["spec"]?["minReplicas"] == 4)
            #expect(Self.replicas(server, Self.primary) == 4)
            // Held for three intervals: the canary keeps its share, nothing is routed to pods that are not there.
            for _ in 0..<3 {
                try await Task.sleep(for: .milliseconds(300))
                #expect(Self.weights(server) == [50, 50])
                #expect(Self.phase(server) == "Promoting")
            }
            #expect(server.object(Self.canaryKey)?["status"]?["message"]?.stringValue?.contains("waiting for podinfo-primary") == true)
            server.completeDeploymentRollouts()
            #expect(await eventually(.seconds(20)) { Self.phase(server) == "Succeeded" }, "\(lines.messages)")
            #expect(await eventually(.seconds(10)) { Self.weights(server) == [100, 0] })
            #expect(await eventually(.seconds(10)) { Self.replicas(server, Self.target) == 0 })
            // The release is over: the autoscaler has its own floor back and the primary forgets the count.
            #expect(await eventually(.seconds(10)) { server.object(Self.primaryHPA)?["spec"]?["minReplicas"] == 2 })
            #expect(server.object(Self.primaryHPA)?["metadata"]?["annotations"]?["serin.dev/min-replicas"] == nil)
            #expect(server.object(Self.primary)?["metadata"]?["annotations"]?["serin.dev/promotion-ready-replicas"] == nil)
        }
    }

    @Test("new content in a ConfigMap the target reads is a new release, though the Deployment did not change; promoted, the primary's pods roll to read it")
    func configMapChangeReleases() async throws {
        try await Self.withWorkloadController { server, lines in
            server.put(Self.canary, at: Self.canaryKey)
            #expect(await eventually(.seconds(20)) { server.object(Self.target)?["status"]?["replicas"] == 0 }, "\(lines.messages)")
            let before = server.object(Self.primary)?["spec"]?["template"]
            // Settled: no watch event is on its way that would make the controller look again anyway.
            try await Task.sleep(for: .milliseconds(500))
            server.edit(Self.key("v1", "configmaps", "podinfo-config")) { $0 = (try? $0.applying([.replace(path: ["data", "color"], value: "green")])) ?? $0 }
            #expect(await eventually(.seconds(20)) { Self.phase(server) == "Progressing" }, "\(lines.messages)")
            #expect(await eventually(.seconds(30)) { Self.phase(server) == "Succeeded" }, "\(lines.messages)")
            // The same template but for the revision promoted: a new template, so the primary rolls its pods, which
            // read the ConfigMap's new content (envFrom is read only when a pod starts).
            let after = server.object(Self.primary)?["spec"]?["template"]
            #expect(after != before)
            #expect(after?["metadata"]?["annotations"]?["serin.dev/revision"]?.stringValue?.isEmpty == false, "\(String(describing: after))")
            #expect(after?["spec"] == before?["spec"], "the pods' spec is the target's, as before")
        }
    }

    @Test("a serin.dev Canary applied beside the Flagger Canary Serin runs under the same name waits, told why; the running one goes on, and once it is deleted the new one takes over")
    func namesakeWaitsForTheRunningOne() async throws {
        let metrics = ScriptedMetrics()
        func refusal(_ server: KubernetesAPIServer, _ key: KubernetesAPIServer.ObjectKey) -> String? {
            server.object(key).flatMap(KubernetesRolloutStore.refusal(in:))
        }
        try await Self.withWorkloadController(metrics: metrics) { server, lines in
            server.put(Self.flaggerCanary, at: Self.flaggerCanaryKey)
            #expect(await eventually(.seconds(20)) { Self.phase(server, Self.flaggerCanaryKey) == "Initialized" }, "\(lines.messages)")
            let flaggerUID = try #require(server.object(Self.flaggerCanaryKey)?["metadata"]?["uid"]?.stringValue)

            // The namesake in Serin's own group: it is told it waits, and is not run on the Flagger one's objects.
            server.put(Self.canary, at: Self.canaryKey)
            let expected = "Canary default/podinfo exists as both canaries.serin.dev and canaries.flagger.app; Serin runs the "
                + "canaries.flagger.app one, whose release it holds, not this one (delete one of them)"
            #expect(await eventually(.seconds(20)) { refusal(server, Self.canaryKey) == expected }, "\(lines.messages)")
            #expect(refusal(server, Self.flaggerCanaryKey) == nil)
            #expect(Self.phase(server, Self.canaryKey) == nil, "the waiting Canary holds no rollout")

            // The Flagger Canary's next release runs as before, on the objects it owns.
            Self.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.1")
            #expect(await eventually(.seconds(30)) { Self.phase(server, Self.flaggerCanaryKey) == "Succeeded" }, "\(lines.messages)")
            #expect(Self.image(server, Self.primary) == "ghcr.io/stefanprodan/podinfo:6.0.1")
            #expect(WorkloadObjects.isOwned(try #require(server.object(Self.primary)), byCanaryWithUID: flaggerUID))
            #expect(refusal(server, Self.canaryKey) == expected)

            // Deleted, it takes its objects with it; the serin.dev Canary runs now, on objects of its own.
            _ = server.delete(Self.flaggerCanaryKey)
            let serinUID = try #require(server.object(Self.canaryKey)?["metadata"]?["uid"]?.stringValue)
            #expect(await eventually(.seconds(20)) {
                server.object(Self.primary).map { WorkloadObjects.isOwned($0, byCanaryWithUID: serinUID) } == true
            }, "\(lines.messages)")
            #expect(await eventually(.seconds(20)) { refusal(server, Self.canaryKey) == nil && Self.phase(server, Self.canaryKey) != nil },
                    "\(lines.messages)")
            #expect(await eventually(.seconds(20)) { Self.weights(server) == [100, 0] })
            Self.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.2")
            #expect(await eventually(.seconds(30)) { Self.phase(server, Self.canaryKey) == "Succeeded" && Self.image(server, Self.primary) == "ghcr.io/stefanprodan/podinfo:6.0.2" }, "\(lines.messages)")
        }
    }

    @Test("an object of the same name Serin did not create is never overwritten: the Canary is refused, naming it, and creates nothing of its own first")
    func foreignObjectRefused() async throws {
        let usersService: JSONValue = [
            "apiVersion": "v1", "kind": "Service", "metadata": ["name": "podinfo"],
            "spec": ["selector": ["app": "podinfo"], "ports": [["port": 80]]],
        ]
        try await Self.withWorkloadController(prepare: { server in
            Self.putWorkload(server)
            server.put(usersService, at: Self.services[0])
        }) { server, lines in
            server.put(Self.canary, at: Self.canaryKey)
            let expected = "Canary default/podinfo: Service default/podinfo exists and was not created by Serin for this Canary; "
                + "Serin never overwrites it (delete or rename it)"
            #expect(await eventually(.seconds(20)) { lines.messages.contains(expected) }, "\(lines.messages)")
            #expect(server.object(Self.services[0])?["spec"]?["selector"] == ["app": "podinfo"])
            #expect(server.object(Self.services[0])?["metadata"]?["ownerReferences"] == nil)
            #expect(Self.replicas(server, Self.target) == 2, "the target must keep serving while the Canary is refused")
            // The primary comes before the Services in creation order; a refused Canary leaves none of it behind.
            #expect(server.object(Self.primary) == nil)
            #expect(server.object(Self.services[1]) == nil && server.object(Self.services[2]) == nil)
            #expect(server.object(Self.virtualService) == nil)
        }
    }

    static let destinationRules = ["podinfo-canary", "podinfo-primary"].map { key("networking.istio.io/v1beta1", "destinationrules", $0) }

    /// Flagger's Canary with `service.trafficPolicy` set to `policy` (removed when nil).
    static func flaggerCanary(trafficPolicy policy: JSONValue?) -> JSONValue {
        guard case .object(var canary) = flaggerCanary, case .object(var spec)? = canary["spec"], case .object(var service)? = spec["service"] else {
            return flaggerCanary
        }
        service["trafficPolicy"] = policy
        spec["service"] = .object(service)
        canary["spec"] = .object(spec)
        return .object(canary)
    }

    @Test("Flagger's service.trafficPolicy is written into DestinationRules podinfo-canary and podinfo-primary that the Canary owns; an edit reaches them, and once removed they keep only their host")
    func trafficPolicyDestinationRules() async throws {
        let mutual: JSONValue = ["tls": ["mode": "ISTIO_MUTUAL"]]
        let pooled: JSONValue = ["tls": ["mode": "DISABLE"], "connectionPool": ["http": ["http1MaxPendingRequests": 10]]]
        func rules(_ server: KubernetesAPIServer) -> [JSONValue?] { Self.destinationRules.map { server.object($0)?["spec"] } }
        try await Self.withWorkloadController { server, lines in
            server.put(Self.flaggerCanary(trafficPolicy: mutual), at: Self.flaggerCanaryKey)
            #expect(await eventually(.seconds(20)) {
                rules(server) == [["host": "podinfo-canary", "trafficPolicy": mutual], ["host": "podinfo-primary", "trafficPolicy": mutual]]
            }, "\(lines.messages)")
            let uid = try #require(server.object(Self.flaggerCanaryKey)?["metadata"]?["uid"]?.stringValue)
            for rule in Self.destinationRules {
                #expect(server.object(rule).map { WorkloadObjects.isOwned($0, byCanaryWithUID: uid) } == true, "\(rule)")
            }
            server.put(Self.flaggerCanary(trafficPolicy: pooled), at: Self.flaggerCanaryKey)
            #expect(await eventually(.seconds(20)) {
                rules(server) == [["host": "podinfo-canary", "trafficPolicy": pooled], ["host": "podinfo-primary", "trafficPolicy": pooled]]
            }, "\(lines.messages)")
            server.put(Self.flaggerCanary(trafficPolicy: nil), at: Self.flaggerCanaryKey)
            #expect(await eventually(.seconds(20)) { rules(server) == [["host": "podinfo-canary"], ["host": "podinfo-primary"]] }, "\(lines.messages)")
            // Still the Canary's: deleting it deletes them.
            _ = server.delete(Self.flaggerCanaryKey)
            #expect(Self.destinationRules.allSatisfy { server.object($0) == nil })
        }
    }

    @Test("Flagger's service.rewrite, corsPolicy, appProtocol and the apex, primary and canary labels and annotations reach the VirtualService and Services as Flagger writes them, and an edit reaches them")
    func flaggerServiceFields() async throws {
        let cors: JSONValue = ["allowOrigins": [["exact": "https://app.example.com"]], "allowMethods": ["GET", "POST"], "maxAge": "24h"]
        func canary(rewrite: String) -> JSONValue {
            var fields: [String: JSONValue] = [
                "rewrite": ["uri": .string(rewrite)], "corsPolicy": cors, "appProtocol": "http",
                "apex": ["labels": ["team": "shop"], "annotations": ["owner": "shop@example.com"]],
                "primary": ["labels": ["side": "primary"]], "canary": ["annotations": ["side": "canary"]],
            ]
            guard case .object(var object) = Self.flaggerCanary, case .object(var spec)? = object["spec"], case .object(let service)? = spec["service"] else {
                return Self.flaggerCanary
            }
            fields.merge(service) { mine, _ in mine }
            spec["service"] = .object(fields)
            object["spec"] = .object(spec)
            return .object(object)
        }
        func route(_ server: KubernetesAPIServer) -> JSONValue? { server.object(Self.virtualService)?["spec"]?["http"]?[0] }
        try await Self.withWorkloadController { server, lines in
            server.put(canary(rewrite: "/"), at: Self.flaggerCanaryKey)
            #expect(await eventually(.seconds(20)) { route(server)?["rewrite"] == ["uri": "/"] }, "\(lines.messages)")
            #expect(route(server)?["corsPolicy"] == cors)
            let virtualService = server.object(Self.virtualService)?["metadata"]
            #expect(virtualService?["labels"]?["team"] == "shop" && virtualService?["annotations"]?["owner"] == "shop@example.com")
            let (apex, primary, canaryService) = (server.object(Self.services[0]), server.object(Self.services[1]), server.object(Self.services[2]))
            #expect([apex, primary, canaryService].allSatisfy { $0?["spec"]?["ports"]?[0]?["appProtocol"] == "http" })
            #expect(apex?["metadata"]?["labels"]?["team"] == "shop")
            #expect(primary?["metadata"]?["labels"]?["side"] == "primary" && primary?["metadata"]?["labels"]?["team"] == nil)
            #expect(canaryService?["metadata"]?["annotations"]?["side"] == "canary")
            // Edited, the route takes the new rewrite; a label a person set on the VirtualService stays.
            server.edit(Self.virtualService) { object in
                object = (try? object.applying([.add(path: ["metadata", "labels", "by-hand"], value: "yes")])) ?? object
            }
            server.put(canary(rewrite: "/v2"), at: Self.flaggerCanaryKey)
            #expect(await eventually(.seconds(20)) { route(server)?["rewrite"] == ["uri": "/v2"] }, "\(lines.messages)")
            #expect(server.object(Self.virtualService)?["metadata"]?["labels"] == ["team": "shop", "by-hand": "yes"])
        }
    }

    @Test("a DestinationRule of the name service.trafficPolicy needs that Serin did not create refuses the Canary, which changes it not; without a trafficPolicy the Canary leaves it alone")
    func foreignDestinationRuleRefused() async throws {
        let users: JSONValue = [
            "apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule", "metadata": ["name": "podinfo-canary"],
            "spec": ["host": "podinfo-canary", "trafficPolicy": ["tls": ["mode": "SIMPLE"]]],
        ]
        try await Self.withWorkloadController(prepare: { server in
            Self.putWorkload(server)
            server.put(users, at: Self.destinationRules[0])
        }) { server, lines in
            // The Canary without a policy runs, and the user's rule is as written.
            server.put(Self.flaggerCanary, at: Self.flaggerCanaryKey)
            #expect(await eventually(.seconds(20)) { Self.phase(server, Self.flaggerCanaryKey) == "Initialized" }, "\(lines.messages)")
            #expect(server.object(Self.destinationRules[0])?["spec"] == users["spec"])
            // With one, it is refused, naming the rule.
            server.put(Self.flaggerCanary(trafficPolicy: ["tls": ["mode": "ISTIO_MUTUAL"]]), at: Self.flaggerCanaryKey)
            let expected = "Canary default/podinfo: DestinationRule default/podinfo-canary exists and was not created by Serin for this Canary; "
                + "Serin never overwrites it (delete or rename it)"
            #expect(await eventually(.seconds(20)) { lines.messages.contains(expected) }, "\(lines.messages)")
            #expect(server.object(Self.destinationRules[0])?["spec"] == users["spec"])
            #expect(server.object(Self.destinationRules[0])?["metadata"]?["ownerReferences"] == nil)
            #expect(server.object(Self.destinationRules[1]) == nil)
        }
    }

    @Test("Flagger's service.portDiscovery on a cluster: the target's metrics port reaches podinfo, podinfo-primary and podinfo-canary beside the routed one")
    func portDiscoveryOnACluster() async throws {
        guard case .object(var canary) = Self.flaggerCanary, case .object(var spec)? = canary["spec"] else { return }
        spec["service"] = ["port": 9898, "targetPort": 9898, "portDiscovery": true]
        canary["spec"] = .object(spec)
        let withPorts: (KubernetesAPIServer) -> Void = { server in
            Self.putWorkload(server)
            server.edit(Self.target) { object in
                object = (try? object.applying([
                    .add(
                        path: ["spec", "template", "spec", "containers", "0", "ports"],
                        value: [["name": "http", "containerPort": 9898], ["name": "http-metrics", "containerPort": 9797]])
                ])) ?? object
            }
        }
        try await Self.withWorkloadController(prepare: withPorts) { server, lines in
            server.put(.object(canary), at: Self.flaggerCanaryKey)
            for name in ["podinfo", "podinfo-primary", "podinfo-canary"] {
                let key = PodinfoKeys.key("v1", "services", name)
                #expect(await eventually(.seconds(20)) {
                    server.object(key)?["spec"]?["ports"]?.arrayValue?.compactMap { $0["port"]?.intValue } == [9898, 9797]
                }, "\(name): \(String(describing: server.object(key)?["spec"]?["ports"])) \(lines.messages)")
            }
        }
    }

    @Test("Flagger's service.delegation: the VirtualService Serin writes is a delegate (no hosts or gateways), and a release moves its weights to promotion")
    func delegationRelease() async throws {
        guard case .object(var canary) = Self.flaggerCanary, case .object(var spec)? = canary["spec"] else { return }
        spec["service"] = ["port": 9898, "targetPort": 9898, "delegation": true]
        spec["autoscalerRef"] = nil
        canary["spec"] = .object(spec)
        try await Self.withWorkloadController { server, lines in
            server.put(.object(canary), at: Self.flaggerCanaryKey)
            #expect(await eventually(.seconds(20)) { Self.replicas(server, Self.target) == 0 }, "\(lines.messages)")
            let delegate = try #require(server.object(Self.virtualService))
            #expect(delegate["spec"]?["hosts"] == [] && delegate["spec"]?["gateways"] == nil, "\(delegate)")
            Self.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.1")
            #expect(await eventually(.seconds(20)) { Self.weights(server) == [70, 30] }, "\(lines.messages)")
            #expect(await eventually(.seconds(20)) { Self.phase(server, Self.flaggerCanaryKey) == "Succeeded" }, "\(lines.messages)")
            #expect(Self.image(server, Self.primary) == "ghcr.io/stefanprodan/podinfo:6.0.1")
            #expect(server.object(Self.virtualService)?["spec"]?["hosts"] == [])
        }
    }
}

@Suite("Workload objects")
struct WorkloadObjectsTests {
    @Test("a workload's revision changes with its pod template and with the data of a ConfigMap or Secret it reads")
    func revisionFollowsConfig() {
        let target: JSONValue = ["spec": ["template": ["spec": ["containers": [["image": "a:1", "envFrom": [["configMapRef": ["name": "c"]]]]]]]]]
        #expect(WorkloadObjects.referencedConfigs(of: target).configMaps == ["c"])
        let blue = WorkloadObjects.revision(of: target, configs: ["ConfigMap/c": .some(["data": ["color": "blue"]])])
        let green = WorkloadObjects.revision(of: target, configs: ["ConfigMap/c": .some(["data": ["color": "green"]])])
        let missing = WorkloadObjects.revision(of: target, configs: ["ConfigMap/c": .some(nil)])
        #expect(Set([blue, green, missing]).count == 3)
        #expect(blue == WorkloadObjects.revision(of: target, configs: ["ConfigMap/c": .some(["data": ["color": "blue"]])]))
        let otherImage = (try? target.applying([.replace(path: ["spec", "template", "spec", "containers", "0", "image"], value: "a:2")])) ?? target
        #expect(WorkloadObjects.revision(of: otherImage, configs: ["ConfigMap/c": .some(["data": ["color": "blue"]])]) != blue)
    }
    static func virtualService(service: JSONValue) -> JSONValue? {
        let canary: JSONValue = ["apiVersion": "flagger.app/v1beta1", "kind": "Canary", "metadata": ["name": "podinfo", "uid": "u1"]]
        let target: JSONValue = ["spec": ["selector": ["matchLabels": ["app": "podinfo"]], "template": ["metadata": ["labels": ["app": "podinfo"]]]]]
        let objects = WorkloadObjects.desired(
            canary: canary, workload: CanaryWorkload(deployment: "podinfo", port: 9898), target: target, service: service, autoscaler: nil)
        return objects.first { $0.path.resource == "virtualservices" }?.object
    }

    @Test("gateways are written as listed, as Flagger writes them: the mesh only when listed, none listed leaving Istio's default; a repeated host or gateway once")
    func gatewaysAsFlaggerWritesThem() throws {
        let listed = try #require(Self.virtualService(service: ["port": 9898, "gateways": ["public-gateway"], "hosts": ["app.example.com"]]))
        #expect(listed["spec"]?["gateways"] == ["public-gateway"])
        #expect(listed["spec"]?["hosts"] == ["podinfo", "app.example.com"])
        let repeated = try #require(Self.virtualService(service: [
            "port": 9898, "gateways": ["istio-system/public-gateway", "mesh", "mesh"], "hosts": ["podinfo", "app.example.com"],
        ]))
        #expect(repeated["spec"]?["gateways"] == ["istio-system/public-gateway", "mesh"])
        #expect(repeated["spec"]?["hosts"] == ["podinfo", "app.example.com"])
        let none = try #require(Self.virtualService(service: ["port": 9898]))
        #expect(none["spec"]?["gateways"] == nil)
    }

    @Test("Flagger's service.portDiscovery adds the target's other container ports to the three Services, named as written or tcp-CONTAINER-INDEX; a mesh proxy's and the routed port stay out")
    func portDiscovery() throws {
        let canary: JSONValue = ["apiVersion": "flagger.app/v1beta1", "kind": "Canary", "metadata": ["name": "podinfo", "uid": "u1"]]
        let target: JSONValue = ["spec": [
            "selector": ["matchLabels": ["app": "podinfo"]],
            "template": ["metadata": ["labels": ["app": "podinfo"]], "spec": ["containers": [
                ["name": "podinfo", "ports": [["name": "http", "containerPort": 9898], ["name": "http-metrics", "containerPort": 9797], ["containerPort": 9999]]],
                ["name": "istio-proxy", "ports": [["name": "http-envoy-prom", "containerPort": 15090]]],
            ]]],
        ]]
        let objects = WorkloadObjects.desired(
            canary: canary, workload: CanaryWorkload(deployment: "podinfo", port: 9898), target: target,
            service: ["port": 9898, "portDiscovery": true], autoscaler: nil)
        let services = objects.filter { $0.path.resource == "services" }
        #expect(services.count == 3)
        for service in services {
            let ports = service.object["spec"]?["ports"]?.arrayValue ?? []
            #expect(ports.map { $0["name"]?.stringValue ?? "" } == ["http", "http-metrics", "tcp-podinfo-2"], "\(ports)")
            #expect(ports.map { $0["port"]?.intValue ?? 0 } == [9898, 9797, 9999])
            #expect(ports.dropFirst().allSatisfy { $0["targetPort"] == $0["port"] })
        }
        let without = WorkloadObjects.desired(
            canary: canary, workload: CanaryWorkload(deployment: "podinfo", port: 9898), target: target, service: ["port": 9898], autoscaler: nil)
        #expect(without.first { $0.path.resource == "services" }?.object["spec"]?["ports"]?.arrayValue?.count == 1)
    }

    @Test("Flagger's service.delegation writes the VirtualService as a delegate: no hosts, no gateways, the same split route")
    func delegationWritesADelegate() throws {
        let delegate = try #require(Self.virtualService(service: ["port": 9898, "delegation": true]))
        #expect(delegate["spec"]?["hosts"] == [])
        #expect(delegate["spec"]?["gateways"] == nil)
        let weights = delegate["spec"]?["http"]?[0]?["route"]?.arrayValue?.map { $0["weight"] }
        #expect(weights == [100, 0])
        let plain = try #require(Self.virtualService(service: ["port": 9898, "delegation": false]))
        #expect(plain["spec"]?["hosts"] == ["podinfo"])
    }
}

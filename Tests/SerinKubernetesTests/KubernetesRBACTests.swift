import NIOConcurrencyHelpers
import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// `deploy/kubernetes/rbac.yaml` grants exactly what the controller calls: every call a rollout, its history
/// and leader election make against the API-server double is allowed, and every rule is used.
@Suite("Controller RBAC", .timeLimit(.minutes(2)))
struct KubernetesRBACTests {
    /// `group/resource verb` (the core group written as empty) for an API call in the double's log, parsed by
    /// the double's own router.
    static func permission(_ call: String) -> String? {
        let parts = call.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        let watch = parts[1].hasSuffix("?watch")
        guard let route = KubernetesAPIServer.Route(watch ? String(parts[1].dropLast("?watch".count)) : parts[1]) else { return nil }
        let resource = route.subresource.map { "\(route.resource)/\($0)" } ?? route.resource
        let verb: String
        switch parts[0] {
        case "GET": verb = route.name != nil ? "get" : (watch ? "watch" : "list")
        case "POST": verb = "create"
        case "PUT": verb = "update"
        case "PATCH": verb = "patch"
        case "DELETE": verb = "delete"
        default: return nil
        }
        return "\(route.group)/\(resource) \(verb)"
    }

    /// The grants of the roles in `file` (only the role named `role`, when given).
    static func granted(file: String = "deploy/kubernetes/rbac.yaml", role: String? = nil) throws -> Set<String> {
        var granted: Set<String> = []
        for document in try KubernetesManifestTests.documents(file)
        where ["ClusterRole", "Role"].contains(document["kind"]?.stringValue) && (role == nil || document["metadata"]?["name"]?.stringValue == role) {
            for rule in document["rules"]?.arrayValue ?? [] {
                for group in rule["apiGroups"]?.arrayValue ?? [] {
                    for resource in rule["resources"]?.arrayValue ?? [] {
                        for verb in rule["verbs"]?.arrayValue ?? [] {
                            granted.insert("\(group.stringValue ?? "")/\(resource.stringValue ?? "") \(verb.stringValue ?? "")")
                        }
                    }
                }
            }
        }
        return granted
    }

    @Test("every call of a rollout, its history and leader election is granted, and every grant is used")
    func exactlyWhatIsUsed() async throws {
        let calls = NIOLockedValueBox<[String]>([])
        try await KubernetesRolloutTests.withController { server, _ in
            // An alert whose provider is looked up in Serin's group, then Flagger's, with its Secret.
            let alerts: JSONValue = [["name": "team", "providerRef": ["name": "team-chat"]]]
            KubernetesAlertTests.putProvider(server, type: "webhook", address: "http://127.0.0.1:9/unused")
            // With revertOnDeletion: the finalizer is added, and taken off once the deleted Canary is reverted.
            let canary = KubernetesRolloutTests.canary(["interval": "500ms", "threshold": 2, "stepWeights": [50], "alerts": alerts], skipAnalysis: true)
            server.put(try canary.applying([.add(path: ["spec", "revertOnDeletion"], value: true)]), at: KubernetesRolloutTests.canaryKey)
            #expect(await eventually(.seconds(30)) { KubernetesRolloutTests.weights(server) == [0, 100] })
            #expect(await eventually(.seconds(10)) { server.requestLog.contains { $0.hasPrefix("GET /api/v1/namespaces/default/secrets/team-chat-url") } })
            #expect(await eventually(.seconds(10)) { server.object(KubernetesRolloutTests.canaryKey)?["metadata"]?["finalizers"] != nil })
            server.delete(KubernetesRolloutTests.canaryKey)
            #expect(await eventually(.seconds(10)) { server.object(KubernetesRolloutTests.canaryKey) == nil })
            let api = try HTTPKubernetesAPI(connection: KubeConfig.Connection(contextName: "t", server: server.url, credential: .bearerToken("test-token")))
            // History (the API's and `serin history`'s), and a leader election round with its release.
            _ = try await KubernetesRolloutStore(api: api).events(for: ResourceName(name: "web"), limit: nil)
            // The readiness check a Canary naming its canary Deployment makes before each step.
            _ = await KubernetesWorkloadReadiness(api: api).readiness(of: ResourceName(name: "web-v2"))
            let elector = LeaderElector(
                api: api, election: LeaderElection(identity: "a", leaseDuration: 30, renewDeadline: 20, retryPeriod: 0.1),
                namespace: "serin-system", name: "serin-controller", logger: .discarding
            )
            // ... whose leader labels its pod for the Service, and unlabels it when it stops.
            server.put(
                ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "serin-a", "labels": ["app": "serin-controller"]]],
                at: KubernetesAPIServer.ObjectKey(groupVersion: "v1", resource: "pods", namespace: "serin-system", name: "serin-a")
            )
            let label = LeaderPodLabel(api: api, namespace: "serin-system", name: "serin-a", logger: .discarding)
            let leading = NIOLockedValueBox(false)
            let election = Task {
                await elector.run(lead: label.whileLeading {
                    leading.withLockedValue { $0 = true }
                    while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
                })
            }
            #expect(await eventually(.seconds(20)) { leading.withLockedValue { $0 } })
            try await Task.sleep(for: .milliseconds(300))  // a few renewals: get + update
            election.cancel()
            await election.value
            await api.shutdown()
            calls.withLockedValue { $0 = server.requestLog }
        }
        // Flagger's own Canary on a Deployment: first sight creates the primary, Services, VirtualService, HPA and the
        // DestinationRules of its trafficPolicy; a new image is released into the primary; an edited spec.service
        // reaches the Services, the VirtualService and the DestinationRules.
        try await KubernetesWorkloadRolloutTests.withWorkloadController() { server, _ in
            typealias Workloads = KubernetesWorkloadRolloutTests
            let key = Workloads.flaggerCanaryKey
            server.put(Workloads.flaggerCanary(trafficPolicy: ["tls": ["mode": "ISTIO_MUTUAL"]]), at: key)
            #expect(await eventually(.seconds(20)) { Workloads.phase(server, key) == "Initialized" })
            Workloads.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.1")
            #expect(await eventually(.seconds(30)) { Workloads.phase(server, key) == "Succeeded" })
            server.edit(key) { object in
                object = (try? object.applying([
                    .replace(path: ["spec", "service", "port"], value: 9899),
                    .replace(path: ["spec", "service", "trafficPolicy"], value: ["tls": ["mode": "DISABLE"]]),
                ])) ?? object
            }
            #expect(await eventually(.seconds(20)) {
                server.object(Workloads.services[2])?["spec"]?["ports"]?[0]?["port"] == 9899
                    && server.object(Workloads.virtualService)?["spec"]?["http"]?[0]?["route"]?[0]?["destination"]?["port"]?["number"] == 9899
                    && server.object(Workloads.destinationRules[0])?["spec"]?["trafficPolicy"] == ["tls": ["mode": "DISABLE"]]
            })
            // Its watch starts after the list, which may be all this short release needed.
            #expect(await eventually(.seconds(10)) { server.requestLog.contains("GET /apis/flagger.app/v1beta1/canaries?watch") })
            calls.withLockedValue { $0 += server.requestLog }
        }
        let used = Set(calls.withLockedValue { $0 }.compactMap(Self.permission))
        let granted = try Self.granted()
        #expect(used.subtracting(granted).isEmpty, "called without a grant: \(used.subtracting(granted).sorted())")
        #expect(granted.subtracting(used).isEmpty, "granted but never called: \(granted.subtracting(used).sorted())")
    }

    @Test("people's roles grant exactly what serin status and history (viewer) and the steering commands (operator) call")
    func peopleRoles() async throws {
        try await KubernetesAPIClientTests.withServer { server, _ in
            server.put(KubernetesRolloutTests.canary(["interval": "1m", "threshold": 2, "stepWeights": [50]]), at: KubernetesRolloutTests.canaryKey)
            server.put(KubernetesWorkloadRolloutTests.flaggerCanary, at: KubernetesWorkloadRolloutTests.flaggerCanaryKey)
            let kubeconfig = try server.writeKubeconfig(in: try SerinProcess.temporaryDirectory())
            func calls(_ arguments: [String]) async throws -> Set<String> {
                let before = server.requestLog.count
                let result = try await SerinProcess.run(arguments + ["--kubeconfig", kubeconfig])
                #expect(result.status == (arguments[0] == "pause" ? 1 : 0), "\(arguments): \(result.stderr)")
                return Set(server.requestLog.dropFirst(before).compactMap(Self.permission))
            }
            var reading = try await calls(["status"]).union(try await calls(["status", "web"])).union(try await calls(["history", "web"]))
            // Flagger's Canary, run by serin controller --flagger-canaries.
            reading.formUnion(try await calls(["status", "podinfo"]).union(try await calls(["history", "podinfo"])))
            // No controller runs: the command is written, and the wait for an answer ends after --timeout.
            let steering = try await calls(["pause", "web", "--timeout", "500ms"]).union(try await calls(["pause", "podinfo", "--timeout", "500ms"]))
            let file = "deploy/kubernetes/people-rbac.yaml"
            #expect(reading == (try Self.granted(file: file, role: "serin-canary-viewer")))
            #expect(reading.union(steering) == (try Self.granted(file: file, role: "serin-canary-operator")))
        }
    }
}

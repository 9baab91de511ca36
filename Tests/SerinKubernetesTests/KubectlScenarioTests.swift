import Foundation
import NIOPosix
import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// The real kubectl against the Kubernetes API double: what a user types, answered as a real API server answers
/// it. Installing Serin, watching a rollout run by the controller with its service account, steering it with
/// `kubectl annotate`, editing the VirtualService beside it, and a Deployment-driven release. Skipped locally
/// without kubectl; required in CI.
@Suite("kubectl against the API double", .enabled(if: Kubectl.shouldRun, "kubectl is not installed"), .timeLimit(.minutes(3)))
struct KubectlScenarioTests {
    /// A double with no CRDs installed yet (as a new cluster with Istio), kubectl configured for it, and the
    /// repository's install manifests applied with `kubectl apply --server-side -k deploy/kubernetes`.
    static func withInstalledCluster(_ body: (KubernetesAPIServer, Kubectl, URL) async throws -> Void) async throws {
        try await withCluster(assumingCRDs: false) { server, kubectl, directory in
            let installed = try await kubectl.run(["apply", "--server-side", "-k", "deploy/kubernetes"])
            #expect(installed.status == 0, "\(installed.stderr)")
            try await body(server, kubectl, directory)
        }
    }

    /// A double over TLS (kubectl sends no credentials to an http:// server) and kubectl configured for it.
    static func withCluster(assumingCRDs: Bool, _ body: (KubernetesAPIServer, Kubectl, URL) async throws -> Void) async throws {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton, assumingCRDs: assumingCRDs, tls: true)
        do {
            let directory = try SerinProcess.temporaryDirectory()
            try await body(server, try Kubectl(kubeconfig: try server.writeKubeconfig(in: directory)), directory)
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

    /// The controller (with `workloads`: Deployment-driven Canaries of both groups) calling as `token`, while `body` runs.
    static func withController(
        _ server: KubernetesAPIServer, token: String? = nil, workloads: Bool = false, _ body: (LogRecorder) async throws -> Void
    ) async throws {
        let api = try HTTPKubernetesAPI(connection: server.connection(token: token))
        let lines = LogRecorder()
        let stop = try await KubernetesRolloutTests.startController(
            api: api, metrics: { _ in ScriptedMetrics() }, workloads: workloads, groups: workloads ? [.serin, .flagger] : [.serin], logger: lines.logger())
        do {
            try await body(lines)
        } catch {
            await stop()
            await api.shutdown()
            throw error
        }
        await stop()
        await api.shutdown()
    }

    /// Runs kubectl and expects it to succeed; its stdout.
    @discardableResult
    static func succeeds(_ kubectl: Kubectl, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let result = try await kubectl.run(arguments)
        #expect(result.status == 0, "kubectl \(arguments.joined(separator: " ")): \(result.stderr)", sourceLocation: sourceLocation)
        return result.stdout
    }

    @Test("kubectl apply --server-side installs deploy/kubernetes and the example: the CRDs are discovered once created, get prints their columns, managers are recorded")
    func install() async throws {
        try await Self.withInstalledCluster { server, kubectl, _ in
            let crds = try await Self.succeeds(kubectl, ["get", "crd"])
            #expect(crds.contains("canaries.serin.dev") && crds.contains("metrictemplates.serin.dev"), "\(crds)")
            let resources = try await Self.succeeds(kubectl, ["api-resources", "--api-group=serin.dev"])
            #expect(resources.contains("canaries") && resources.contains("Canary"), "\(resources)")
            let applied = try await Self.succeeds(kubectl, ["apply", "--server-side", "-f", "examples/kubernetes/"])
            #expect(applied.contains("canary.serin.dev/web serverside-applied"), "\(applied)")
            #expect(applied.contains("virtualservice.networking.istio.io/web-virtualservice serverside-applied"), "\(applied)")

            let canaries = try await Self.succeeds(kubectl, ["get", "canaries"])
            let header = canaries.split(separator: "\n").first.map(String.init) ?? ""
            #expect(header.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "PHASE", "STABLE", "CANARY", "WEIGHT", "STEP", "LASTTRANSITIONTIME"], "\(canaries)")
            #expect(canaries.contains("web"))
            // -o wide adds Flagger's wide columns, under its names, read from the spec as the API server types them.
            let wide = try await Self.succeeds(kubectl, ["get", "canaries", "-o", "wide"])
            let wideLines = wide.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
            #expect(wideLines.first == [
                "NAME", "PHASE", "STABLE", "CANARY", "WEIGHT", "STEP", "SUSPENDED", "FAILEDCHECKS", "INTERVAL", "MIRROR", "STEPWEIGHT",
                "STEPWEIGHTS", "MAXWEIGHT", "LASTTRANSITIONTIME",
            ], "\(wide)")
            let row = wideLines.dropFirst().first ?? []
            #expect(row.first == "web" && row.contains("1m") && row.contains("10") && row.contains("50"), "\(wide)")
            let controller = try await Self.succeeds(kubectl, ["get", "deploy", "-n", "serin-system"])
            #expect(controller.contains("serin-controller"), "\(controller)")
            #expect(try await Self.succeeds(kubectl, ["get", "canary", "web", "-o", "jsonpath={.metadata.managedFields[*].manager}"]) == "kubectl")

            // A field another manager changed is a conflict for the next apply, until it is forced back.
            let vs = "examples/kubernetes/web-gateway-virtualservice.yaml"
            try await Self.succeeds(kubectl, ["patch", "vs", "web-virtualservice", "--type=merge", "-p", #"{"spec":{"http":[]}}"#])
            let conflicting = try await kubectl.run(["apply", "--server-side", "-f", vs])
            #expect(conflicting.stderr.contains(#"conflict with "kubectl-patch" using networking.istio.io/v1: .spec.http"#), "\(conflicting.stderr)")
            try await Self.succeeds(kubectl, ["apply", "--server-side", "--force-conflicts", "-f", vs])
            let route = try await Self.succeeds(kubectl, ["get", "vs", "web-virtualservice", "-o", "jsonpath={.spec.http[0].route[0].destination.host}"])
            #expect(route == "web-v1-service")

            // Applying again changes nothing; a kind the cluster does not serve is kubectl's own error.
            let again = try await Self.succeeds(kubectl, ["apply", "--server-side", "-k", "deploy/kubernetes"])
            #expect(again.contains("serverside-applied"))
            let unknown = try await kubectl.run(["get", "rollouts"])
            #expect(unknown.status != 0 && unknown.stderr.contains("the server doesn't have a resource type \"rollouts\""), "\(unknown.stderr)")
            #expect(server.object(KubernetesRolloutTests.canaryKey)?["spec"]?["analysis"]?["stepWeight"] == 10)
        }
    }

    @Test("kubectl create secret, sent as protobuf as kubectl sends built-in kinds, stores the Secret the README's steps create: its data reads back, base64, through JSON")
    func createSecret() async throws {
        try await Self.withInstalledCluster { server, kubectl, _ in
            let created = try await Self.succeeds(kubectl, [
                "-n", "serin-system", "create", "secret", "generic", "serin-admin-token", "--from-literal=token=0123abcd",
            ])
            #expect(created.contains("secret/serin-admin-token created"), "\(created)")
            let token = try #require(server.object(.init(groupVersion: "v1", resource: "secrets", namespace: "serin-system", name: "serin-admin-token")))
            #expect(token["data"]?["token"]?.stringValue == Data("0123abcd".utf8).base64EncodedString())
            #expect(token["type"]?.stringValue == "Opaque")
            #expect(try await Self.succeeds(kubectl, ["-n", "serin-system", "get", "secret", "serin-admin-token", "-o", "jsonpath={.data.token}"])
                    == Data("0123abcd".utf8).base64EncodedString())
            // A second create of the same name is refused as a real server refuses it (409 AlreadyExists).
            let again = try await kubectl.run(["-n", "serin-system", "create", "secret", "generic", "serin-admin-token", "--from-literal=token=x"])
            #expect(again.status != 0 && again.stderr.contains(#"secrets "serin-admin-token" already exists"#), "\(again.stderr)")
            // A TLS Secret from files, as a Gateway's credentialName reads one, and a ConfigMap with a label.
            let certificates = try await TestCertificates.make()
            defer { certificates.remove() }
            let pair = try await certificates.server("web", hosts: ["web.example.com"])
            try await Self.succeeds(kubectl, ["create", "secret", "tls", "web-cert", "--cert", pair.certificate, "--key", pair.key])
            let stored = try #require(server.object(.init(groupVersion: "v1", resource: "secrets", namespace: "default", name: "web-cert")))
            #expect(stored["type"]?.stringValue == "kubernetes.io/tls")
            #expect(stored["data"]?["tls.crt"]?.stringValue == Data(try pair.pem().certificate.utf8).base64EncodedString())
            try await Self.succeeds(kubectl, ["create", "configmap", "settings", "--from-literal=mode=fast"])
            try await Self.succeeds(kubectl, ["label", "configmap", "settings", "team=web"])
            #expect(try await Self.succeeds(kubectl, ["get", "configmap", "settings", "-o", "jsonpath={.data.mode}/{.metadata.labels.team}"]) == "fast/web")
        }
    }

    @Test("the status subresource takes only status; a path the API does not serve is a 404 and a verb it does not allow a 405, as kubectl reports them")
    func subresourcesAndRefusals() async throws {
        try await Self.withInstalledCluster { _, kubectl, directory in
            try await Self.succeeds(kubectl, ["apply", "--server-side", "-f", "examples/kubernetes/web-canary.yaml"])
            // The CRD's schema holds: a phase outside its enum is refused, naming the field, and changes nothing.
            let invalid = try await kubectl.run([
                "patch", "canary", "web", "--subresource=status", "--type=merge", "-p", #"{"status":{"phase":"Waiting"}}"#,
            ])
            #expect(invalid.status != 0 && invalid.stderr.contains("status.phase: \"Waiting\" is not one of"), "\(invalid.stderr)")
            try await Self.succeeds(kubectl, [
                "patch", "canary", "web", "--subresource=status", "--type=merge", "-p", #"{"status":{"phase":"Paused"},"spec":{"skipAnalysis":true}}"#,
            ])
            #expect(try await Self.succeeds(kubectl, ["get", "canary", "web", "-o", "jsonpath={.status.phase}/{.spec.skipAnalysis}"]) == "Paused/")
            #expect(try await Self.succeeds(kubectl, ["get", "canary", "web", "--subresource=status", "-o", "jsonpath={.status.phase}"]) == "Paused")
            // The object's own writes leave status alone.
            try await Self.succeeds(kubectl, ["patch", "canary", "web", "--type=merge", "-p", #"{"status":{"phase":"Failed"},"spec":{"skipAnalysis":true}}"#])
            #expect(try await Self.succeeds(kubectl, ["get", "canary", "web", "-o", "jsonpath={.status.phase}/{.spec.skipAnalysis}"]) == "Paused/true")
            // ... and a field the CRD does not name is pruned, as a real API server prunes it.
            try await Self.succeeds(kubectl, ["patch", "canary", "web", "--type=merge", "-p", #"{"spec":{"replicas":3}}"#])
            #expect(try await Self.succeeds(kubectl, ["get", "canary", "web", "-o", "jsonpath={.spec.replicas}/{.spec.skipAnalysis}"]) == "/true")

            let scale = try await kubectl.run(["get", "--raw", "/apis/serin.dev/v1alpha1/namespaces/default/canaries/web/scale"])
            #expect(scale.status != 0 && scale.stderr.contains("Error from server (NotFound)"), "\(scale.stderr)")
            let body = directory.appendingPathComponent("body.json")
            try #"{"apiVersion":"serin.dev/v1alpha1","kind":"Canary","metadata":{"name":"web"}}"#.write(to: body, atomically: true, encoding: .utf8)
            let posted = try await kubectl.run(["create", "--raw", "/apis/serin.dev/v1alpha1/namespaces/default/canaries/web", "-f", body.path])
            #expect(posted.status != 0 && posted.stderr.contains("Error from server (MethodNotAllowed)"), "\(posted.stderr)")
            // Strategic merge is for built-in kinds only; a custom resource refuses it as the API server does.
            let strategic = try await kubectl.run(["patch", "canary", "web", "--type=strategic", "-p", #"{"spec":{"skipAnalysis":false}}"#])
            #expect(strategic.status != 0 && strategic.stderr.contains("is not supported by serin.dev/v1alpha1, Kind=Canary"), "\(strategic.stderr)")
        }
    }

    @Test("RBAC from rbac.yaml for the controller's service account: its Role grants leases in serin-system only, and only the verbs named; the rest is Kubernetes' 403")
    func serviceAccountRoles() async throws {
        try await Self.withInstalledCluster { server, kubectl, directory in
            let controller = try Kubectl(kubeconfig: try server.writeKubeconfig(in: directory, asServiceAccount: "serin-system", "serin-controller"))
            let lease = directory.appendingPathComponent("lease.yaml")
            try """
                apiVersion: coordination.k8s.io/v1
                kind: Lease
                metadata: {name: serin-controller}
                spec: {holderIdentity: a, leaseDurationSeconds: 15}
                """.write(to: lease, atomically: true, encoding: .utf8)
            try await Self.succeeds(controller, ["create", "-n", "serin-system", "-f", lease.path])
            #expect(try await Self.succeeds(controller, ["get", "lease", "serin-controller", "-n", "serin-system", "-o", "jsonpath={.spec.holderIdentity}"]) == "a")
            let elsewhere = try await controller.run(["create", "-n", "default", "-f", lease.path])
            #expect(elsewhere.stderr.contains(
                #"User "system:serviceaccount:serin-system:serin-controller" cannot create resource "leases" in API group "coordination.k8s.io" in the namespace "default""#),
                "\(elsewhere.stderr)")
            let listed = try await controller.run(["get", "leases", "-n", "serin-system"])
            #expect(listed.stderr.contains(#"cannot list resource "leases" in API group "coordination.k8s.io" in the namespace "serin-system""#), "\(listed.stderr)")
            let crds = try await controller.run(["get", "crd"])
            #expect(crds.stderr.contains(#"cannot list resource "customresourcedefinitions" in API group "apiextensions.k8s.io" at the cluster scope"#), "\(crds.stderr)")
            #expect(server.forbiddenCalls.count == 3, "\(server.forbiddenCalls)")
            // The admin's token can do everything.
            try await Self.succeeds(kubectl, ["get", "leases", "-A"])
        }
    }

    /// Steps 6s apart, three of them: the pause kubectl sends once the first step shows lands inside the release (at
    /// its first step or a later one) even when kubectl takes more than a step's 6s to start on a loaded machine.
    static let canaryManifest = """
        apiVersion: serin.dev/v1alpha1
        kind: Canary
        metadata: {name: web, namespace: default}
        spec:
          targetRef: {apiVersion: networking.istio.io/v1alpha3, kind: VirtualService, name: web-virtualservice}
          stable: {host: web-v1-service, port: 80}
          canary: {host: web-v2-service, port: 80}
          analysis: {interval: 6s, threshold: 2, stepWeights: [20, 40, 60]}
        """

    @Test("a rollout run with the controller's service account (no call outside rbac.yaml), watched, paused and resumed with kubectl, described with its Events, beside another client's patch to the VirtualService")
    func rollout() async throws {
        try await Self.withInstalledCluster { server, kubectl, directory in
            for file in ["web-gateway-virtualservice.yaml", "web-v1-service.yaml", "web-v2-service.yaml", "web-v1-deployment.yaml", "web-v2-deployment.yaml"] {
                try await Self.succeeds(kubectl, ["apply", "--server-side", "-f", "examples/kubernetes/\(file)"])
            }
            // The controller calls with its service account's token: RBAC as rbac.yaml grants it.
            let token = server.serviceAccountToken(namespace: "serin-system", name: "serin-controller")
            let watch = try kubectl.launch(["get", "canaries", "-w"])
            do {
                try await Self.withController(server, token: token) { lines in
                    let manifest = directory.appendingPathComponent("canary.yaml")
                    try Self.canaryManifest.write(to: manifest, atomically: true, encoding: .utf8)
                    try await Self.succeeds(kubectl, ["apply", "--server-side", "-f", manifest.path])
                    #expect(await eventually(.seconds(30)) { KubernetesRolloutTests.weights(server) == [80, 20] }, "\(lines.messages)")

                    // Paused as the README says: the answer in status.lastCommand.
                    try await Self.succeeds(kubectl, ["annotate", "canary", "web", "serin.dev/command=pause", "serin.dev/command-id=k1"])
                    #expect(await eventually(.seconds(30)) { KubernetesRolloutTests.phase(server) == "Paused" }, "\(lines.messages)")
                    // The answer is its own status write, just after the phase's.
                    var answer = ""
                    let answered = await eventually(.seconds(30)) {
                        answer = (try? await kubectl.run(["get", "canary", "web", "-o", "jsonpath={.status.lastCommand.id} {.status.lastCommand.accepted}"]))?.stdout ?? ""
                        return answer == "k1 true"
                    }
                    #expect(answered, "\(answer)")

                    // Another client's edit of the route Serin moves: kept through every later step.
                    try await Self.succeeds(kubectl, [
                        "patch", "virtualservice", "web-virtualservice", "--type=json",
                        "-p", #"[{"op":"add","path":"/spec/http/0/timeout","value":"5s"},{"op":"add","path":"/metadata/labels","value":{"team":"web"}}]"#,
                    ])
                    try await Self.succeeds(kubectl, [
                        "annotate", "--overwrite", "canary", "web", "serin.dev/command=resume", "serin.dev/command-id=k2",
                    ])
                    #expect(await eventually(.seconds(60)) { KubernetesRolloutTests.phase(server) == "Succeeded" }, "\(lines.messages)")
                    #expect(await eventually(.seconds(30)) { KubernetesRolloutTests.weights(server) == [0, 100] })
                    let route = try await Self.succeeds(kubectl, [
                        "get", "vs", "web-virtualservice", "-o", "jsonpath={.spec.http[0].timeout} {.spec.http[0].route[*].weight} {.metadata.labels.team}",
                    ])
                    #expect(route == "5s 0 100 web", "both changes: \(route)")

                    // Serin's weights are its own field now: applying the example again is a conflict that names it.
                    let reapplied = try await kubectl.run(["apply", "--server-side", "-f", "examples/kubernetes/web-gateway-virtualservice.yaml"])
                    #expect(reapplied.status != 0, "\(reapplied.stdout)")
                    #expect(reapplied.stderr.contains(#"conflict with "serin" using networking.istio.io/v1beta1: .spec.http"#), "\(reapplied.stderr)")
                    let events = try await Self.succeeds(kubectl, ["get", "events", "--field-selector", "involvedObject.name=web"])
                    #expect(events.hasPrefix("LAST SEEN") && events.contains("canary/web"), "\(events)")

                    let yaml = try await Self.succeeds(kubectl, ["get", "canary", "web", "-o", "yaml"])
                    #expect(yaml.contains("phase: Succeeded") && yaml.contains("canaryWeight: 0"), "\(yaml)")
                    let described = try await Self.succeeds(kubectl, ["describe", "canary", "web"])
                    let story = described.components(separatedBy: "Events:").last ?? ""
                    #expect(story.contains("Synced") && story.contains("serin"), "\(described)")
                    #expect(story.split(separator: "\n").count > 3, "\(described)")

                    // The watch printed each step's phase and weight, in the CRD's columns.
                    let watched = watch.printed
                    for row in [
                        #"web\s+Progressing\s+web-v1-service:80\s+web-v2-service:80\s+20"#,
                        #"web\s+Paused\s+web-v1-service:80\s+web-v2-service:80\s+(20|40|60)\s"#,
                        #"web\s+Succeeded\s+web-v2-service:80\s+web-v2-service:80\s+0\s"#,
                    ] {
                        #expect(watched.contains(try Regex(row)), "\(row) in \(watched)")
                    }

                    // Beyond its grants the service account gets Kubernetes' 403; the rollout made no such call.
                    #expect(server.forbiddenCalls.isEmpty, "\(server.forbiddenCalls)")
                    let outsider = try Kubectl(kubeconfig: try server.writeKubeconfig(in: directory, asServiceAccount: "serin-system", "serin-controller"))
                    let refused = try await outsider.run(["delete", "canary", "web"])
                    #expect(refused.status != 0)
                    #expect(
                        refused.stderr.contains(#"Error from server (Forbidden): canaries.serin.dev "web" is forbidden: User "system:serviceaccount:serin-system:serin-controller" cannot delete resource "canaries" in API group "serin.dev" in the namespace "default""#),
                        "\(refused.stderr)")
                }
            } catch {
                await watch.kill(SIGTERM)
                throw error
            }
            await watch.kill(SIGTERM)
        }
    }

    /// `NAME READY` of each Deployment `kubectl get deploy` prints.
    static func readiness(_ kubectl: Kubectl) async throws -> [String: String] {
        let printed = try await succeeds(kubectl, ["get", "deploy", "--no-headers"])
        var ready: [String: String] = [:]
        for line in printed.split(separator: "\n") {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if columns.count > 1 { ready[columns[0]] = columns[1] }
        }
        return ready
    }

    static func expectReadiness(_ kubectl: Kubectl, _ expected: [String: String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let ready = try await readiness(kubectl)
        #expect(ready == expected, "kubectl get deploy: \(ready)", sourceLocation: sourceLocation)
    }

    @Test("kubectl set image on a Canary's Deployment starts a release run with the controller's service account (no call outside rbac.yaml): kubectl get deploy shows the canary scaled up beside the primary, then the primary on the new image with both shares' replicas and the canary at zero")
    func deploymentWorkflow() async throws {
        typealias Workloads = KubernetesWorkloadRolloutTests
        try await Self.withInstalledCluster { server, kubectl, _ in
          Workloads.putWorkload(server)
          let token = server.serviceAccountToken(namespace: "serin-system", name: "serin-controller")
          try await Self.withController(server, token: token, workloads: true) { lines in
            // Steps of 3 s: long enough to read the Deployments mid-release on a loaded machine.
            server.put(try Workloads.canary.applying([.replace(path: ["spec", "analysis", "interval"], value: "3s")]), at: Workloads.canaryKey)
            #expect(await eventually(.seconds(20)) { Workloads.phase(server) == "Initialized" }, "\(lines.messages)")
            #expect(await eventually(.seconds(20)) { Workloads.replicas(server, Workloads.target) == 0 }, "\(lines.messages)")
            try await Self.expectReadiness(kubectl, ["podinfo": "0/0", "podinfo-primary": "2/2"])

            server.holdDeploymentRollouts()
            try await Self.succeeds(kubectl, ["set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1"])
            // The canary scales up for the release while its pods come up; the primary serves meanwhile.
            #expect(await eventually(.seconds(20)) { Workloads.replicas(server, Workloads.target) == 2 }, "\(lines.messages)")
            try await Self.expectReadiness(kubectl, ["podinfo": "0/2", "podinfo-primary": "2/2"])
            server.completeDeploymentRollouts()
            #expect(await eventually(.seconds(30)) { Workloads.phase(server) == "Progressing" }, "\(lines.messages)")
            try await Self.expectReadiness(kubectl, ["podinfo": "2/2", "podinfo-primary": "2/2"])
            #expect(await eventually(.seconds(30)) { Workloads.phase(server) == "Succeeded" }, "\(lines.messages)")
            #expect(await eventually(.seconds(10)) { Workloads.replicas(server, Workloads.target) == 0 })
            // The primary took both shares' replicas before traffic came back to it (its HPA's floor raised to
            // 2 + 2); no autoscaler runs in the double to shrink it again.
            try await Self.expectReadiness(kubectl, ["podinfo": "0/0", "podinfo-primary": "4/4"])
            let wide = try await Self.succeeds(kubectl, ["get", "deploy", "podinfo-primary", "-o", "wide", "--no-headers"])
            #expect(wide.contains("ghcr.io/stefanprodan/podinfo:6.0.1"), "\(wide)")
            #expect(server.forbiddenCalls.isEmpty, "RBAC refused: \(server.forbiddenCalls)")
          }
        }
    }
}

import Foundation
import SerinCore
import SerinKubernetes
import SerinManifests
import SerinTesting
import Testing
import Yams

/// The manifests a Kubernetes user applies — `deploy/kubernetes/` and `examples/kubernetes/` — checked against
/// each other and against the code: they decode, the CRD's schema accepts the example Canary and every field
/// the decoder reads, and refuses what it should.
@Suite("Kubernetes manifests")
struct KubernetesManifestTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    static func documents(_ relativePath: String) throws -> [JSONValue] {
        let text = try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
        return try Yams.load_all(yaml: text).map { try JSONValue(yaml: $0) }
    }

    static func canarySchema() throws -> StructuralSchema {
        let crd = try #require(try documents("deploy/kubernetes/crd.yaml").first)
        let version = try #require(crd["spec"]?["versions"]?[0])
        return StructuralSchema(schema: try #require(version["schema"]?["openAPIV3Schema"]))
    }

    /// A Canary that sets every field Serin reads.
    static let everyField = """
        apiVersion: serin.dev/v1alpha1
        kind: Canary
        metadata: {name: web, namespace: default}
        spec:
          targetRef: {apiVersion: networking.istio.io/v1beta1, kind: VirtualService, name: web-virtualservice}
          stable: {host: web-v1-service, subset: v1, port: 80}
          canary: {host: web-v2-service, subset: v2, port: 80}
          progressDeadline: 10m
          skipAnalysis: false
          suspend: false
          revertOnDeletion: false
          canaryDeployment: web-v2
          analysis:
            interval: 30s
            threshold: 3
            judge: statistical
            statistical: {confidence: 99.5, errorRateIncrease: 0.5, latencyIncrease: 20, minStepDuration: 30s, maxStepDuration: 20m}
            stepWeights: [5, {weight: 10, pause: 10m}, 25, {weight: 50, pause: promote}]
            stepWeightPromotion: 25
            primaryReadyThreshold: 50
            canaryReadyThreshold: 75
            sessionAffinity: {cookieName: flagger-cookie, maxAge: 21600, primaryCookieName: flagger-primary-cookie, domain: example.com, httpOnly: true, partitioned: true, path: /shop, sameSite: Strict, secure: true}
            metrics:
            - name: request-success-rate
              provider: {type: prometheus, address: "http://prometheus.istio-system:9090"}
              thresholdRange: {min: 99}
              interval: 1m
              minRequests: 20
            - name: not-found-percentage
              templateRef: {name: not-found-percentage, namespace: default}
              templateVariables: {route: web}
              thresholdRange: {max: 5}
              interval: 1m
            webhooks:
            - name: load-test
              type: rollout
              url: "http://tester.default/"
              timeout: 5s
              metadata: {cmd: "hey -z 1m http://web/"}
              retries: 3
              disableTLS: false
              muteAlert: false
            alerts:
            - {name: on-call, severity: error, providerRef: {name: on-call, namespace: default}}
        """

    /// The fields A/B testing adds, which replace the weight steps (and the sticky canary's cookie, which A/B
    /// testing refuses): `iterations` with `match`.
    static let everyABField = everyField.replacingOccurrences(of: "    sessionAffinity: {cookieName: flagger-cookie, maxAge: 21600, primaryCookieName: flagger-primary-cookie, domain: example.com, httpOnly: true, partitioned: true, path: /shop, sameSite: Strict, secure: true}\n", with: "")
        .replacingOccurrences(of: "    stepWeights: [5, {weight: 10, pause: 10m}, 25, {weight: 50, pause: promote}]\n", with: """
            iterations: 10
            match:
            - name: insiders
              headers:
                x-canary: {exact: insider}
                cookie: {regex: "^(.*?;)?(canary=always)(;.*)?$"}
              withoutHeaders: {x-bot: {prefix: "yes"}}
              queryParams: {variant: {exact: b}}
              uri: {prefix: /shop}
              method: {exact: GET}
              authority: {exact: web.example.com}
              scheme: {exact: https}
              ignoreUriCase: true
              gateways: [default/web-gateway]
              port: 80

        """)

    /// The fields blue/green with mirroring adds, which replace the weight steps: `iterations` with `mirror` and
    /// `mirrorWeight` (its `sessionAffinity` is left out with a warning, as Flagger leaves it).
    static let everyMirrorField = everyField.replacingOccurrences(
        of: "    stepWeights: [5, {weight: 10, pause: 10m}, 25, {weight: 50, pause: promote}]\n",
        with: "    iterations: 10\n    mirror: true\n    mirrorWeight: 50\n")

    /// A Canary of a Deployment, in Flagger's shape, that sets every `service` field Serin reads and copies into the
    /// objects it creates: a field the CRD does not list is pruned by the API server before Serin ever sees it.
    static let everyDeploymentField = """
        apiVersion: serin.dev/v1alpha1
        kind: Canary
        metadata: {name: podinfo, namespace: default}
        spec:
          targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
          autoscalerRef: {apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, name: podinfo}
          service:
            name: podinfo
            port: 9898
            targetPort: http
            portName: http
            appProtocol: http
            portDiscovery: false
            delegation: false
            headless: false
            trafficDistribution: PreferClose
            backendTimeout: 10s
            unmanagedMetadata: {labels: [team], annotations: [note]}
            hosts: [podinfo.example.com]
            gateways: [public-gateway.istio-system.svc.cluster.local, mesh]
            match: [{uri: {prefix: /}}]
            rewrite: {uri: /, authority: podinfo.internal}
            retries: {attempts: 3, perTryTimeout: 1s, retryOn: "gateway-error,connect-failure,refused-stream"}
            timeout: 30s
            headers: {request: {add: {x-envoy-upstream-rq-timeout-ms: "15000"}}, response: {remove: [x-powered-by]}}
            corsPolicy: {allowOrigins: [{exact: "https://example.com"}], allowMethods: [GET], allowCredentials: false, maxAge: 24h}
            trafficPolicy: {tls: {mode: DISABLE}}
            apex: {labels: {team: web}, annotations: {note: apex}}
            primary: {labels: {role: primary}}
            canary: {annotations: {note: canary}}
          analysis:
            interval: 30s
            threshold: 3
            stepWeight: 10
            maxWeight: 50
            metrics: []
        """

    @Test("the CRD's schema keeps every service field of a Canary of a Deployment, and the decoder reads each of them")
    func schemaKeepsDeploymentServiceFields() throws {
        let schema = try Self.canarySchema()
        let canary = try JSONValue(yaml: try Yams.load(yaml: Self.everyDeploymentField))
        #expect(schema.problems(in: canary).isEmpty, "\(schema.problems(in: canary))")
        let set = ManifestSet(sources: [ManifestSource(path: "canary.yaml", text: Self.everyDeploymentField)])
        let fieldProblems = set.diagnostics.filter { diagnostic in
            ["unknown field", "is not read", "not supported", "not applied", "expected"].contains { "\(diagnostic)".contains($0) }
        }
        #expect(fieldProblems.isEmpty, "\(fieldProblems)")
        #expect(set.canaries.count == 1, "\(set.diagnostics)")
    }

    @Test("every manifest in examples/kubernetes decodes with no error")
    func examplesDecode() throws {
        let directory = Self.root.appendingPathComponent("examples/kubernetes")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 6)
        let sources = try files.map { name in
            ManifestSource(path: name, text: try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8))
        }
        let set = ManifestSet(sources: sources)
        #expect(set.errors.isEmpty, "\(set.errors)")
        #expect(set.canaries.map(\.name.name) == ["web"])
        // The apps/v1 Deployments draw no legacy-API warning; only embedded-mode endpoint hints remain.
        #expect(set.warnings.allSatisfy { "\($0)".contains("no endpoints in embedded mode") }, "\(set.warnings)")
    }

    @Test("the CRD's schema accepts the example Canary and a Canary with every field Serin reads")
    func schemaAcceptsCanaries() throws {
        let schema = try Self.canarySchema()
        let example = try #require(try Self.documents("examples/kubernetes/web-canary.yaml").first)
        #expect(schema.problems(in: example).isEmpty, "\(schema.problems(in: example))")
        let full = try JSONValue(yaml: try Yams.load(yaml: Self.everyField))
        #expect(schema.problems(in: full).isEmpty, "\(schema.problems(in: full))")
        let abTesting = try JSONValue(yaml: try Yams.load(yaml: Self.everyABField))
        #expect(Self.everyABField.contains("match:") && schema.problems(in: abTesting).isEmpty, "\(schema.problems(in: abTesting))")
        let mirroring = try JSONValue(yaml: try Yams.load(yaml: Self.everyMirrorField))
        #expect(Self.everyMirrorField.contains("mirrorWeight:") && schema.problems(in: mirroring).isEmpty, "\(schema.problems(in: mirroring))")
        // ... and the decoder reads all of it: no field unknown to one side.
        let template = """
            apiVersion: serin.dev/v1alpha1
            kind: MetricTemplate
            metadata: {name: not-found-percentage, namespace: default}
            spec:
              provider: {type: prometheus, address: "http://prometheus.istio-system:9090"}
              query: "sum(rate(istio_requests_total{destination_workload='{{ target }}'}[{{ interval }}]))"
            ---
            apiVersion: serin.dev/v1alpha1
            kind: AlertProvider
            metadata: {name: on-call, namespace: default}
            spec: {type: slack, address: "https://hooks.slack.com/services/T/B/X"}
            """
        for canary in [Self.everyField, Self.everyABField, Self.everyMirrorField] {
            let set = ManifestSet(sources: [ManifestSource(path: "canary.yaml", text: canary + "\n---\n" + template)])
            // (Hosts and subsets resolve against Services and DestinationRules this set leaves out.)
            // (primaryReadyThreshold is the Deployment shape's: beside a VirtualService target it is read and said not to apply.)
            let fieldProblems = set.diagnostics.filter { diagnostic in
                ["unknown field", "is not read", "not supported", "not applied", "expected"].contains { "\(diagnostic)".contains($0) }
                    && !"\(diagnostic)".contains("primaryReadyThreshold is not applied")
            }
            #expect(fieldProblems.isEmpty, "\(fieldProblems)")
            #expect(set.canaries.count == 1)
        }
        let ab = ManifestSet(sources: [ManifestSource(path: "canary.yaml", text: Self.everyABField)])
        #expect(ab.canaries.first?.analysis.match.first?.queryParams == ["variant": .exact("b")])
        let mirror = ManifestSet(sources: [ManifestSource(path: "canary.yaml", text: Self.everyMirrorField)])
        #expect(mirror.canaries.first?.analysis.mirror == Percent(50))
        let analysis = try #require(ManifestSet(sources: [ManifestSource(path: "canary.yaml", text: Self.everyField)]).canaries.first?.analysis)
        #expect(analysis.primaryReadyThreshold == 50 && analysis.canaryReadyThreshold == 75)
        #expect(analysis.webhooks.first?.retries == 3)
        #expect(
            analysis.sessionAffinity?.attributes
                == CookieAttributes(domain: "example.com", httpOnly: true, partitioned: true, path: "/shop", sameSite: .strict, secure: true))
    }

    @Test(
        "the CRD's schema refuses a Canary the decoder would refuse, at the field",
        arguments: [
            ("threshold: 3", "threshold: three", ".spec.analysis.threshold: expected integer, got a string"),
            ("port: 80}", "port: 70000}", ".spec.stable.port: 70000 is more than the maximum 65535"),
            ("minRequests: 20", "minRequests: -1", ".spec.analysis.metrics[0].minRequests: -1 is less than the minimum 0"),
            ("type: rollout", "type: sometimes", ".spec.analysis.webhooks[0].type: \"sometimes\" is not one of"),
            ("skipAnalysis: false", "skipAnalysis: false\n  replicas: 3", ".spec.replicas: unknown field"),
            ("canaryReadyThreshold: 75", "canaryReadyThreshold: 150", ".spec.analysis.canaryReadyThreshold: 150 is more than the maximum 100"),
            ("sameSite: Strict", "sameSite: Sometimes", ".spec.analysis.sessionAffinity.sameSite: \"Sometimes\" is not one of"),
        ]
    )
    func schemaRefuses(original: String, replacement: String, problem: String) throws {
        let schema = try Self.canarySchema()
        let text = Self.everyField.replacingOccurrences(of: original, with: replacement)
        #expect(text != Self.everyField)
        let problems = schema.problems(in: try JSONValue(yaml: try Yams.load(yaml: text)))
        #expect(problems.contains { $0.hasPrefix(problem) }, "\(problems)")
    }

    @Test("the MetricTemplate CRD's schema accepts the example template and refuses a provider that cannot run its query")
    func metricTemplateSchema() throws {
        let crd = try #require(try Self.documents("deploy/kubernetes/metrictemplate-crd.yaml").first)
        #expect(crd["metadata"]?["name"] == "metrictemplates.serin.dev")
        let version = try #require(crd["spec"]?["versions"]?[0])
        #expect(version["name"] == "v1alpha1")
        let schema = StructuralSchema(schema: try #require(version["schema"]?["openAPIV3Schema"]))
        let example = try #require(try Self.documents("examples/kubernetes/web-metric-template.yaml").first)
        #expect(example["apiVersion"] == "serin.dev/v1alpha1")
        #expect(schema.problems(in: example).isEmpty, "\(schema.problems(in: example))")
        let gateway = try example.applying([.replace(path: ["spec", "provider"], value: ["type": "gateway"])])
        #expect(schema.problems(in: gateway).contains { $0.hasPrefix(".spec.provider.type: \"gateway\" is not one of") }, "\(schema.problems(in: gateway))")
        let noQuery = try example.applying([.remove(path: ["spec", "query"])])
        #expect(schema.problems(in: noQuery).contains(".spec: query is required"))
    }

    @Test("the AlertProvider CRD's schema accepts the example's providers and every field the decoder reads, and refuses an unknown type")
    func alertProviderSchema() throws {
        let crd = try #require(try Self.documents("deploy/kubernetes/alertprovider-crd.yaml").first)
        #expect(crd["metadata"]?["name"] == "alertproviders.serin.dev")
        let version = try #require(crd["spec"]?["versions"]?[0])
        let schema = StructuralSchema(schema: try #require(version["schema"]?["openAPIV3Schema"]))
        let providers = try Self.documents("examples/alerts/providers.yaml").filter { $0["kind"] == "AlertProvider" }
        #expect(providers.count == 2)
        for provider in providers {
            #expect(schema.problems(in: provider).isEmpty, "\(schema.problems(in: provider))")
        }
        let every = """
            apiVersion: serin.dev/v1alpha1
            kind: AlertProvider
            metadata: {name: on-call, namespace: default}
            spec: {type: rocket, channel: ops, username: serin, address: "https://chat.example/hooks/x", proxy: "http://proxy:3128", secretRef: {name: url}}
            """
        let full = try JSONValue(yaml: try Yams.load(yaml: every))
        #expect(schema.problems(in: full).isEmpty, "\(schema.problems(in: full))")
        let decoded = ManifestSet(sources: [ManifestSource(path: "provider.yaml", text: every)])
        #expect(decoded.errors.isEmpty && decoded.resources.alertProviders.count == 1, "\(decoded.diagnostics)")
        let unknown = try full.applying([.replace(path: ["spec", "type"], value: "pagerduty")])
        #expect(schema.problems(in: unknown).contains { $0.hasPrefix(".spec.type: \"pagerduty\" is not one of") }, "\(schema.problems(in: unknown))")
    }

    @Test("the CRD's status phases and printer columns are the rollout's, with Flagger's Terminating for a revert on deletion")
    func statusMatchesRollout() throws {
        let crd = try #require(try Self.documents("deploy/kubernetes/crd.yaml").first)
        let version = try #require(crd["spec"]?["versions"]?[0])
        let phases = version["schema"]?["openAPIV3Schema"]?["properties"]?["status"]?["properties"]?["phase"]?["enum"]
        #expect(phases == .array((RolloutPhase.allCases.map(\.rawValue) + ["Terminating"]).map(JSONValue.string)))
        #expect(version["subresources"]?["status"] == [:])
        let columns = version["additionalPrinterColumns"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(columns == [
            "Phase", "Stable", "Canary", "Weight", "Step", "Suspended", "FailedChecks", "Interval", "Mirror", "StepWeight", "StepWeights",
            "MaxWeight", "LastTransitionTime",
        ])
        #expect(crd["metadata"]?["name"] == "canaries.serin.dev")
    }
}

import SerinCore
import SerinManifests
import Testing

@Suite("Kubernetes decoding")
struct KubernetesDecodingTests {
    @Test("decodes a Service with string port names and int-or-string target ports")
    func service() {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata:
              name: web-v1-service
              namespace: shop
            spec:
              type: ClusterIP
              ports:
              - name: "80"
                port: 80
              - name: admin
                port: 9090
                targetPort: 19090
                protocol: TCP
              - port: 8443
                targetPort: https
              selector:
                app: web
                version: v1
            """
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(diagnostics.isEmpty)
        let expected = KubernetesService(
            name: ResourceName(namespace: "shop", name: "web-v1-service"), type: "ClusterIP",
            ports: [
                .init(name: "80", port: 80),
                .init(name: "admin", port: 9090, targetPort: .number(19090)),
                .init(port: 8443, targetPort: .named("https")),
            ],
            selector: ["app": "web", "version": "v1"]
        )
        #expect(resources.map(\.resource) == [.service(expected)])
    }

    @Test("an unquoted numeric port name is a type error, as kubectl says")
    func numericPortName() {
        let (_, diagnostics) = Fixture.decode("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports:\n  - name: 80\n    port: 80\n")
        #expect(Fixture.messages(diagnostics) == ["test.yaml:6:11: error: spec.ports[0].name: expected a string, got integer 80"])
    }

    private func deployment(apiVersion: String, selector: Bool) -> String {
        """
        apiVersion: \(apiVersion)
        kind: Deployment
        metadata:
          name: web-v2
        spec:
          replicas: 3
        """ + (selector ? "\n  selector:\n    matchLabels: {app: web, version: v2}" : "") + """

          template:
            metadata:
              labels: {app: web, version: v2}
            spec:
              containers:
              - image: gardnera/canarytester:v2
                name: web-v2
                ports:
                - containerPort: 80
                imagePullPolicy: Always
              restartPolicy: Always
        """
    }

    @Test("decodes an apps/v1 Deployment's replicas, labels and containers")
    func appsV1() {
        let (resources, diagnostics) = Fixture.decode(deployment(apiVersion: "apps/v1", selector: true))
        #expect(diagnostics.isEmpty)
        let expected = Deployment(
            name: ResourceName(name: "web-v2"), replicas: 3, selector: ["app": "web", "version": "v2"],
            templateLabels: ["app": "web", "version": "v2"],
            containers: [.init(name: "web-v2", image: "gardnera/canarytester:v2", ports: [.init(containerPort: 80)])]
        )
        #expect(resources.map(\.resource) == [.deployment(expected)])
    }

    @Test("an apps/v1 Deployment without a selector is an error")
    func selectorRequired() {
        let (resources, diagnostics) = Fixture.decode(deployment(apiVersion: "apps/v1", selector: false))
        #expect(Fixture.messages(diagnostics) == ["test.yaml:6:3: error: spec.selector is required"])
        #expect(resources.isEmpty)
    }

    @Test(
        "accepts a legacy Deployment API with a warning naming apps/v1",
        arguments: ["extensions/v1beta1", "apps/v1beta1", "apps/v1beta2"]
    )
    func legacy(apiVersion: String) {
        let (resources, diagnostics) = Fixture.decode(deployment(apiVersion: apiVersion, selector: false))
        #expect(
            Fixture.messages(diagnostics) == [
                "test.yaml:1:1: warning: Deployment web-v2 uses \(apiVersion), which Kubernetes removed in 1.16; use apps/v1"
            ]
        )
        guard case .deployment(let value)? = resources.first?.resource else {
            Issue.record("no Deployment decoded")
            return
        }
        #expect(value.selector == ["app": "web", "version": "v2"])
    }
}

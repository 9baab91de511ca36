import Foundation
import SerinCore
import SerinManifests
import Testing
import Yams

@Suite("ManifestDecoder")
struct ManifestDecoderTests {
    private static func istioDocuments(apiVersion: String) -> String {
        """
        apiVersion: \(apiVersion)
        kind: Gateway
        metadata:
          name: gw
        spec:
          servers:
          - port: {number: 80, name: http, protocol: HTTP}
            hosts: ["*"]
        ---
        apiVersion: \(apiVersion)
        kind: VirtualService
        metadata:
          name: vs
        spec:
          hosts: ["*"]
          gateways: [gw]
          http:
          - route:
            - destination: {host: web}
        ---
        apiVersion: \(apiVersion)
        kind: DestinationRule
        metadata:
          name: dr
        spec:
          host: web
          subsets:
          - name: v1
            labels: {version: v1}
        ---
        apiVersion: \(apiVersion)
        kind: ServiceEntry
        metadata:
          name: se
        spec:
          hosts: [web]
          resolution: STATIC
          ports:
          - {number: 80, name: http}
          endpoints:
          - address: 127.0.0.1
        """
    }

    @Test(
        "decodes every Istio kind in each Istio API version",
        arguments: ["networking.istio.io/v1alpha3", "networking.istio.io/v1beta1", "networking.istio.io/v1"]
    )
    func istioVersions(apiVersion: String) {
        let (resources, diagnostics) = Fixture.decode(Self.istioDocuments(apiVersion: apiVersion))
        #expect(diagnostics.isEmpty, "\(Fixture.messages(diagnostics))")
        #expect(resources.map(\.kind) == [.gateway, .virtualService, .destinationRule, .serviceEntry])
        #expect(resources.allSatisfy { $0.apiVersion == apiVersion })
    }

    @Test("gives each document of a multi-document file its own start location")
    func multiDocument() {
        let (resources, _) = Fixture.decode(Self.istioDocuments(apiVersion: "networking.istio.io/v1"))
        #expect(resources.map(\.location.line) == [1, 10, 21, 31])
        #expect(resources.map(\.location.column) == [1, 1, 1, 1])
        #expect(resources.map(\.name.name) == ["gw", "vs", "dr", "se"])
    }

    @Test(
        "refuses a name or namespace Kubernetes would refuse, at its place, and decodes nothing of that document",
        arguments: [
            ("{name: \"we b\"}", "metadata.name \"we b\" is not a name Kubernetes accepts"),
            ("{name: Web}", "metadata.name \"Web\" is not a name Kubernetes accepts"),
            ("{name: \"web?x=1\"}", "metadata.name \"web?x=1\" is not a name Kubernetes accepts"),
            ("{name: web-, namespace: shop}", "metadata.name \"web-\" is not a name Kubernetes accepts"),
            ("{name: web, namespace: shop.eu}", "metadata.namespace \"shop.eu\" is not a namespace Kubernetes accepts"),
        ]
    )
    func invalidNames(metadata: String, message: String) {
        let (resources, diagnostics) = Fixture.decode("apiVersion: v1\nkind: Service\nmetadata: \(metadata)\nspec: {ports: [{port: 80}]}\n")
        #expect(resources.isEmpty)
        #expect(diagnostics.count == 1, "\(Fixture.messages(diagnostics))")
        #expect(diagnostics.first?.message.hasPrefix(message) == true, "\(Fixture.messages(diagnostics))")
        #expect(diagnostics.first?.location?.line == 3)
    }

    @Test("an integer past 64 bits is said to be too large, at its place")
    func integerTooLarge() {
        let (resources, diagnostics) = Fixture.decode("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 99999999999999999999}]}\n")
        #expect(resources.isEmpty)
        #expect(Fixture.messages(diagnostics) == [
            "test.yaml:4:23: error: spec.ports[0].port: 99999999999999999999 is too large, expected an integer of at most 9223372036854775807",
        ])
    }

    @Test("accepts the names Kubernetes does: dots, digits first, 253 characters")
    func validNames() {
        let long = String(repeating: "a", count: 253)
        for name in ["web.v2", "1web", "web-v1-service", long] {
            let (resources, diagnostics) = Fixture.decode("apiVersion: v1\nkind: Service\nmetadata: {name: \(name), namespace: shop-1}\nspec: {ports: [{port: 80}]}\n")
            #expect(diagnostics.isEmpty, "\(name): \(Fixture.messages(diagnostics))")
            #expect(resources.first?.name == ResourceName(namespace: "shop-1", name: name))
        }
        #expect(!Fixture.decode("apiVersion: v1\nkind: Service\nmetadata: {name: a\(long)}\nspec: {ports: [{port: 80}]}\n").diagnostics.isEmpty)
    }

    @Test("skips empty documents and comment-only documents")
    func emptyDocuments() {
        let yaml = """
            ---
            # nothing here
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec: {ports: [{port: 80}]}
            ---
            """
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(diagnostics.isEmpty)
        #expect(resources.map(\.name) == [ResourceName(name: "web")])
    }

    @Test("reads JSON manifests")
    func json() {
        let text = #"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"ports": [{"port": 8080, "targetPort": 80}]}}"#
        let (resources, diagnostics) = Fixture.decode(text, path: "svc.json")
        #expect(diagnostics.isEmpty)
        let expected = KubernetesService(
            name: ResourceName(namespace: "shop", name: "web"), ports: [.init(port: 8080, targetPort: .number(80))]
        )
        #expect(resources.map(\.resource) == [.service(expected)])
    }

    @Test("a missing namespace is the default namespace")
    func defaultNamespace() {
        let (resources, _) = Fixture.decode("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {}\n")
        #expect(resources.first?.name == ResourceName(namespace: "default", name: "web"))
    }

    @Test(
        "skips kinds it does not understand with a warning",
        arguments: [
            ("example.com/v1", "Foo", "skipped: kind Foo (example.com/v1) is not understood by Serin"),
            (
                "serin.dev/v1", "Canary",
                "skipped: kind Canary (serin.dev/v1) is not understood by Serin (it reads Canary from serin.dev/v1alpha1, flagger.app/v1beta1)"
            ),
            (
                "networking.istio.io/v2", "Gateway",
                "skipped: kind Gateway (networking.istio.io/v2) is not understood by Serin (it reads Gateway from "
                    + "networking.istio.io/v1alpha3, networking.istio.io/v1beta1, networking.istio.io/v1)"
            ),
        ]
    )
    func unknownKinds(apiVersion: String, kind: String, message: String) {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec: {}
            ---
            apiVersion: \(apiVersion)
            kind: \(kind)
            metadata: {name: x}
            spec: {}
            """
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(Fixture.messages(diagnostics) == ["test.yaml:6:1: warning: \(message)"])
        #expect(resources.map(\.kind) == [.service])
    }

    @Test("warns about an unknown field at its key, naming its path")
    func unknownField() {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: vs}
            spec:
              hosts: ["*"]
              http:
              - rout:
                - destination: {host: web}
                route:
                - destination: {host: web}
            """
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(Fixture.messages(diagnostics) == ["test.yaml:7:5: warning: unknown field spec.http[0].rout (did you mean route?)"])
        #expect(resources.count == 1)
    }

    @Test("a name a slip away from one known says which: a field, a kind; a name near none, or near two alike, suggests nothing")
    func didYouMean() {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: vs}
            spec:
              hosts: ["*"]
              gatways: [gw]
              htpt:
              - route:
                - destination: {host: web}
              colour: blue
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualServce
            metadata: {name: other}
            """
        let (_, diagnostics) = Fixture.decode(yaml)
        #expect(Fixture.messages(diagnostics) == [
            "test.yaml:6:3: warning: unknown field spec.gatways (did you mean gateways?)",
            "test.yaml:7:3: warning: unknown field spec.htpt (did you mean http?)",
            "test.yaml:10:3: warning: unknown field spec.colour",
            "test.yaml:5:3: error: spec.http, spec.tls or spec.tcp is required",
            "test.yaml:12:1: warning: skipped: kind VirtualServce (networking.istio.io/v1) is not understood by Serin (did you mean VirtualService?)",
        ])
        #expect(Spelling.suggestion(for: "tcp", among: ["tls", "udp"]) == nil, "two names one edit away: neither is suggested")
        #expect(Spelling.suggestion(for: "treshold", among: ["threshold", "interval"]) == "threshold")
        #expect(Spelling.suggestion(for: "intervall", among: ["interval", "iterations"]) == "interval")
        #expect(Spelling.suggestion(for: "xyz", among: ["interval"]) == nil)
    }

    /// A VirtualService whose one destination carries `weightLine` on line 9, column 15 onwards.
    static func virtualService(weightLine: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: vs}
        spec:
          hosts: ["*"]
          http:
          - route:
            - destination: {host: web}
              \(weightLine)
        """
    }

    @Test(
        "reports a value of the wrong type with expected and got, and produces no resource",
        arguments: [
            ("weight: ten", "test.yaml:9:15: error: spec.http[0].route[0].weight: expected an integer, got string \"ten\""),
            ("weight: \"10\"", "test.yaml:9:15: error: spec.http[0].route[0].weight: expected an integer, got string \"10\""),
            ("weight: [10]", "test.yaml:9:15: error: spec.http[0].route[0].weight: expected an integer, got a list"),
            ("weight: 10.5", "test.yaml:9:15: error: spec.http[0].route[0].weight: expected an integer, got number 10.5"),
        ]
    )
    func wrongType(weightLine: String, message: String) {
        let (resources, diagnostics) = Fixture.decode(Self.virtualService(weightLine: weightLine))
        #expect(Fixture.messages(diagnostics) == [message])
        #expect(resources.isEmpty)
    }

    @Test(
        "a plain scalar's type is Yams' default resolver's: integers in every YAML 1.1 spelling are read, and anything else is named as that resolver types it",
        arguments: [
            "5", "+7", "0x1F", "0o17", "017", "1_0", "0b101", "1:30", "10.5", "1e3", ".5", ".inf", "-.Inf", ".NaN", "true", "False",
            "yes", "No", "on", "OFF", "null", "Null", "~", "<<", "=", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "ten", "5a",
            "0x", "1.2.3", "web-v1", "truely", "nullable",
        ]
    )
    func plainScalarTypes(text: String) {
        let (resources, diagnostics) = Fixture.decode(Self.virtualService(weightLine: "weight: \(text)"))
        // The oracle: the tag Yams' default resolver gives this scalar.
        let tag = Resolver.default.resolveTag(of: Node.scalar(Node.Scalar(text)))
        guard tag != .int else {
            let weight = resources.first.flatMap { if case .virtualService(let vs) = $0.resource { vs.http.first?.destinations.first?.weight } else { nil } }
            #expect(weight == Node.scalar(Node.Scalar(text)).int, "\(Fixture.messages(diagnostics))")
            return
        }
        let described = switch tag {
        case .str: "string \"\(text)\""
        case .float: "number \(text)"
        case .bool: "boolean \(text)"
        case .null: "null"
        default: "\"\(text)\""
        }
        #expect(Fixture.messages(diagnostics) == ["test.yaml:9:15: error: spec.http[0].route[0].weight: expected an integer, got \(described)"])
    }

    @Test(
        "reports a missing required field at the mapping that should hold it",
        arguments: [
            ("apiVersion: v1\nkind: Service\nspec: {}\n", "test.yaml:1:1: error: metadata is required"),
            ("apiVersion: v1\nkind: Service\nmetadata:\n  namespace: x\nspec: {}\n", "test.yaml:4:3: error: metadata.name is required"),
            ("kind: Service\nmetadata: {name: a}\n", "test.yaml:1:1: error: apiVersion is required"),
            ("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n", "test.yaml:1:1: error: spec is required"),
            (
                "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - delegate: {namespace: x}\n",
                "test.yaml:7:15: error: spec.http[0].delegate.name is required"
            ),
            (
                "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - route:\n    - destination: {port: {number: 80}}\n",
                "test.yaml:8:20: error: spec.http[0].route[0].destination.host is required"
            ),
        ]
    )
    func requiredFields(yaml: String, message: String) {
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(Fixture.messages(diagnostics) == [message])
        #expect(resources.isEmpty)
    }

    @Test("turns a YAML syntax error into a located error and keeps the documents before it")
    func syntaxError() {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec: {}
            ---
            apiVersion: v1
            kind: Service
              metadata: {name: broken}
            """
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(resources.map(\.name.name) == ["web"])
        #expect(diagnostics.count == 1)
        let diagnostic = diagnostics.first
        #expect(diagnostic?.severity == .error)
        #expect(diagnostic?.location == SourceLocation(file: "test.yaml", line: 8, column: 11))
        #expect(diagnostic?.message.hasPrefix("YAML syntax error: ") == true)
    }

    @Test(
        "a YAML syntax error says its usual cause in the file's terms: a tab, a key indented too far, a line lining up with no key, an unclosed bracket, an unquoted \": \"",
        arguments: [
            ("metadata:\n\tname: web\n", "found character that cannot start any token (line 2 is indented with a tab: YAML indents with spaces only)"),
            ("metadata:\n  name: web\n    namespace: x\n",
             "mapping values are not allowed in this context (line 3 is indented more than line 2; a mapping's keys start in one column, "
                + "and a value that is itself a mapping starts on the line after its key)"),
            ("spec:\n  ports:\n  - port: 80\n   targetPort: 8080\n",
             "did not find expected key (line 4 starts at column 4, lining up with no key above it: line 3's key is at column 5, "
                + "and the keys of the mapping at line 2 start at column 3)"),
            ("metadata: {name: web\nspec: {}\n",
             "did not find expected ',' or '}' (the { at line 1, column 11 is not closed, or two of its items lack a comma between them)"),
            ("data:\n  cmd: echo a: b\n", "mapping values are not allowed in this context (a value holding \": \" is read as a key; quote it)"),
        ])
    func syntaxHints(yaml: String, ending: String) {
        let (_, diagnostics) = Fixture.decode(yaml)
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.message.hasSuffix(ending) == true, "\(diagnostics.first?.message ?? "")")
    }

    @Test("reports a duplicated key as a located syntax error, at the key written again, at any depth and in a list item")
    func duplicateKey() {
        let (_, diagnostics) = Fixture.decode("apiVersion: v1\nkind: Service\nkind: Service\n")
        #expect(Fixture.messages(diagnostics) == ["test.yaml:3:1: error: YAML syntax error: duplicate key \"kind\" in a mapping"])
        let nested = "spec:\n  analysis:\n    interval: 30s\n    # a comment\n\n    threshold: 2\n    interval: 10s\n"
        #expect(Fixture.messages(Fixture.decode(nested).1) == ["test.yaml:7:5: error: YAML syntax error: duplicate key \"interval\" in a mapping"])
        let item = "spec:\n  ports:\n  - name: http\n    port: 80\n    name: web\n  - name: admin\n"
        #expect(Fixture.messages(Fixture.decode(item).1) == ["test.yaml:5:5: error: YAML syntax error: duplicate key \"name\" in a mapping"])
    }

    @Test("a document that is not a mapping is an error")
    func notAMapping() {
        let (_, diagnostics) = Fixture.decode("- a\n- b\n")
        #expect(
            Fixture.messages(diagnostics)
                == ["test.yaml:1:1: error: expected a resource (a mapping with apiVersion and kind), got a list"]
        )
    }

    @Test("equal specs decode to equal resources whatever their location")
    func equalityIgnoresLocation() {
        let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n"
        let first = Fixture.decode(service, path: "a.yaml").resources
        let second = Fixture.decode("# moved down\n\n" + service, path: "b.yaml").resources
        #expect(first.first?.resource == second.first?.resource)
        #expect(first.first?.location != second.first?.location)
        let changed = Fixture.decode(service.replacingOccurrences(of: "80", with: "81")).resources
        #expect(first.first?.resource != changed.first?.resource)
    }
}

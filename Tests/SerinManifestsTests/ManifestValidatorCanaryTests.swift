import Foundation
import SerinCore
import SerinManifests
import Testing

@Suite("ManifestValidator: Canaries")
struct ManifestValidatorCanaryTests {
    private static let virtualService = Fixture.virtualService

    private static func canary(
        name: String = "web", namespace: String = "default", target: String = "web-virtualservice",
        stable: String = "{host: web-v1-service, port: 80}", canary: String = "{host: web-v2-service, port: 80}"
    ) -> String {
        """
        apiVersion: serin.dev/v1alpha1
        kind: Canary
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          targetRef: {name: \(target)}
          stable: \(stable)
          canary: \(canary)
          analysis: {stepWeight: 10, maxWeight: 50}

        """
    }

    /// Validation messages for the world, then `virtualService`, then `canaries`; decoding must be clean.
    private func validate(virtualService: String = Self.virtualService, _ canaries: String...) -> [String] {
        let yaml = Fixture.world + virtualService + canaries.joined(separator: "---\n")
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(diagnostics.isEmpty, "decoding: \(Fixture.messages(diagnostics))")
        return Fixture.messages(ManifestValidator.validate(resources))
    }

    /// `test.yaml:L:C` for line `line` of the first Canary (after the world and the VirtualService).
    private func at(_ line: Int, _ column: Int) -> String {
        "test.yaml:\(Fixture.worldLines + 10 + line):\(column)"
    }

    @Test("a Canary whose VirtualService routes to its stable destination validates cleanly")
    func clean() {
        #expect(validate(Self.canary()) == [])
    }

    @Test("the stable host may be any name of the service the route sends to")
    func stableByFullName() {
        #expect(validate(Self.canary(stable: "{host: web-v1-service.default.svc.cluster.local, port: 80}")) == [])
    }

    @Test("the targetRef VirtualService must exist")
    func missingVirtualService() {
        #expect(
            validate(Self.canary(target: "web-vs")) == [
                "\(at(5, 21)): error: VirtualService default/web-vs does not exist (VirtualServices: default/web-virtualservice)"
            ]
        )
    }

    @Test("the targetRef is looked up in the Canary's namespace unless qualified")
    func targetNamespace() {
        #expect(
            validate(Self.canary(namespace: "shop")) == [
                "\(at(5, 21)): error: VirtualService shop/web-virtualservice does not exist (VirtualServices: default/web-virtualservice)"
            ]
        )
        #expect(validate(Self.canary(namespace: "shop", target: "default/web-virtualservice")) == [])
    }

    @Test("blue/green with mirroring is refused on a route that already mirrors to another host, whose mirror it would replace for good; a mirror to the canary, or on a route the Canary does not own, is no conflict")
    func mirroringOverAUsersMirror() {
        let audit = """
            apiVersion: networking.istio.io/v1beta1
            kind: ServiceEntry
            metadata: {name: audit}
            spec:
              hosts: [audit-service]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 80, name: http, protocol: HTTP}]
              endpoints: [{address: 127.0.0.1}]
            ---

            """
        func mirroring(_ canary: String) -> String {
            canary.replacingOccurrences(of: "analysis: {stepWeight: 10, maxWeight: 50}", with: "analysis: {iterations: 3, mirror: true}")
        }
        let mirrored = Self.virtualService.replacingOccurrences(
            of: "    - destination: {host: web-v1-service, port: {number: 80}}\n",
            with: "    - destination: {host: web-v1-service, port: {number: 80}}\n    mirror: {host: audit-service, port: {number: 80}}\n")
        #expect(mirrored != Self.virtualService)
        let messages = validate(virtualService: audit + mirrored, mirroring(Self.canary()))
        #expect(messages.count == 1 && messages[0].contains("error: spec.analysis.mirror cannot run on VirtualService web-virtualservice: its http[0] already mirrors to audit-service:80"), "\(messages)")
        // Said at the Canary's mirror: the audit ServiceEntry's 11 lines and the mirror's line come before the Canary.
        #expect(messages.first?.hasPrefix("test.yaml:\(Fixture.worldLines + 10 + 11 + 1 + 7):37: ") == true, "\(messages)")
        // The same route and mirror with a Canary that does not mirror, and a mirroring Canary over a route whose
        // mirror is the canary's own (a rollout's, left by a restart): nothing to refuse.
        #expect(validate(virtualService: audit + mirrored, Self.canary()) == [])
        // Written in mirrors, the same copy stays beside the release's: nothing to refuse.
        let listed = Self.virtualService.replacingOccurrences(
            of: "    - destination: {host: web-v1-service, port: {number: 80}}\n",
            with: "    - destination: {host: web-v1-service, port: {number: 80}}\n    mirrors: [{destination: {host: audit-service, port: {number: 80}}}]\n")
        #expect(listed != Self.virtualService)
        #expect(validate(virtualService: audit + listed, mirroring(Self.canary())) == [])
        let toCanary = Self.virtualService.replacingOccurrences(
            of: "    - destination: {host: web-v1-service, port: {number: 80}}\n",
            with: "    - destination: {host: web-v1-service, port: {number: 80}}\n    mirror: {host: web-v2-service, port: {number: 80}}\n")
        #expect(validate(virtualService: toCanary, mirroring(Self.canary())) == [])
        // A route of the same VirtualService that does not send to the stable is not the Canary's: its mirror stays.
        let elsewhere = Self.virtualService.replacingOccurrences(
            of: "  http:\n",
            with: "  http:\n  - match: [{uri: {prefix: /audit}}]\n    route:\n    - destination: {host: audit-service, port: {number: 80}}\n    mirror: {host: audit-service, port: {number: 80}}\n")
        #expect(elsewhere != Self.virtualService)
        #expect(validate(virtualService: audit + elsewhere, mirroring(Self.canary())) == [])
        // Without a written stable, the stable is what serves now (web-v1-service), and the same holds.
        let unwritten = mirroring(Self.canary()).replacingOccurrences(of: "  stable: {host: web-v1-service, port: 80}\n", with: "")
        #expect(unwritten != mirroring(Self.canary()))
        #expect(validate(virtualService: audit + elsewhere, unwritten) == [])
        #expect(validate(virtualService: audit + mirrored, unwritten).count == 1)
    }

    @Test("the VirtualService must have a route to the stable destination")
    func noRouteToStable() {
        let virtualService = Self.virtualService.replacingOccurrences(of: "host: web-v1-service", with: "host: web-v2-service")
        #expect(
            validate(virtualService: virtualService, Self.canary())
                == ["\(at(6, 18)): error: VirtualService web-virtualservice has no route to web-v1-service"]
        )
    }

    @Test("a route to another port of the stable host is not the stable route")
    func otherPort() {
        let entry = Fixture.world.replacingOccurrences(of: "  - number: 80\n    name: http", with: "  - number: 80\n    name: http\n  - number: 81\n    name: admin")
        let yaml = entry + Self.virtualService + Self.canary(stable: "{host: web-v1-service, port: 81}")
        let messages = Fixture.messages(ManifestValidator.validate(Fixture.decode(yaml).resources))
        #expect(messages.contains { $0.hasSuffix("error: VirtualService web-virtualservice has no route to web-v1-service") })
    }

    @Test("the canary host must resolve to a Service or ServiceEntry; a slip of a known host says which, a name as near two says neither")
    func unresolvableCanary() {
        #expect(
            validate(Self.canary(canary: "{host: web-v3-service, port: 80}")) == [
                "\(at(7, 18)): error: spec.canary.host: web-v3-service does not resolve to a Service or ServiceEntry"
            ]
        )
        #expect(
            validate(Self.canary(canary: "{host: web-v2-servce, port: 80}")) == [
                "\(at(7, 18)): error: spec.canary.host: web-v2-servce does not resolve to a Service or ServiceEntry (did you mean web-v2-service?)"
            ]
        )
    }

    @Test("a Canary with a field error still has its targetRef and hosts checked in the same pass, where those were read without error")
    func referencesBesideFieldErrors() {
        func messages(_ canary: String) -> [String] {
            let written = canary.replacingOccurrences(of: "maxWeight: 50}", with: "maxWeight: 50, interval: 1x}")
            #expect(written != canary)
            return Fixture.messages(Fixture.set(Fixture.world + Self.virtualService + written).diagnostics)
        }
        let both = messages(Self.canary(target: "web-vs", canary: "{host: web-v2-servce, port: 80}"))
        #expect(
            both == [
                "\(at(8, 55)): error: spec.analysis.interval: expected a duration like 30s or 1m, got \"1x\"",
                "\(at(7, 18)): error: spec.canary.host: web-v2-servce does not resolve to a Service or ServiceEntry (did you mean web-v2-service?)",
                "\(at(5, 21)): error: VirtualService default/web-vs does not exist (VirtualServices: default/web-virtualservice)",
            ]
        )
        // References read fine and right: the field error alone.
        #expect(messages(Self.canary()).count == 1)
        // A part read with an error of its own is not checked further (its error says what is wrong with it); the others are.
        let unreadPort = messages(Self.canary(target: "web-vs", canary: "{host: web-v2-servce, port: eighty}"))
        #expect(
            unreadPort == [
                "\(at(7, 39)): error: spec.canary.port: expected an integer, got string \"eighty\"",
                "\(at(8, 55)): error: spec.analysis.interval: expected a duration like 30s or 1m, got \"1x\"",
                "\(at(5, 21)): error: VirtualService default/web-vs does not exist (VirtualServices: default/web-virtualservice)",
            ]
        )
        // A targetRef read with an error: nothing checked against the other resources.
        let unreadTarget = messages(Self.canary(target: "web-vs, kind: Gateway", canary: "{host: web-v2-servce, port: 80}"))
        #expect(unreadTarget.count == 2 && !unreadTarget.contains { $0.contains("does not resolve") }, "\(unreadTarget)")
    }

    @Test("a stable subset must be defined by a DestinationRule, and be the subset the route sends to")
    func missingSubset() {
        #expect(
            validate(Self.canary(stable: "{host: web-v1-service, subset: v1, port: 80}")) == [
                "\(at(6, 42)): error: spec.stable.subset: subset v1 of web-v1-service is not defined by any DestinationRule for that host",
                "\(at(6, 18)): error: VirtualService web-virtualservice has no route to web-v1-service subset v1",
            ]
        )
    }

    @Test("a port the canary's service does not expose is an error at the port")
    func wrongPort() {
        #expect(
            validate(Self.canary(canary: "{host: web-v2-service, port: 8080}"))
                == ["\(at(7, 40)): error: spec.canary.port: port 8080 is not exposed by web-v2-service (it exposes 80)"]
        )
    }

    @Test("two Canaries driving one VirtualService are an error at the second")
    func twoCanaries() {
        let second = Self.canary(name: "web-again")
        #expect(
            validate(Self.canary(), second) == [
                "\(at(14, 21)): error: VirtualService default/web-virtualservice is already driven by "
                    + "Canary default/web at \(at(1, 1))"
            ]
        )
    }

    @Test("two Canaries with one name are duplicates")
    func duplicateCanary() {
        let messages = validate(Self.canary(), Self.canary())
        #expect(messages.first == "\(at(10, 1)): error: duplicate Canary default/web: already defined at \(at(1, 1))")
    }

    @Test("routing ignores Canary resources")
    func meshConfigIgnoresCanaries() {
        let withCanary = Fixture.decode(Fixture.world + Self.virtualService + Self.canary()).resources
        let without = Fixture.decode(Fixture.world + Self.virtualService).resources
        #expect(withCanary.count == without.count + 1)
        #expect(MeshConfig(resources: withCanary) == MeshConfig(resources: without))
    }
}

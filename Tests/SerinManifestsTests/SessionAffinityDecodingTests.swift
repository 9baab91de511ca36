import Foundation
import SerinCore
import SerinManifests
import Testing

/// `analysis.sessionAffinity` as Flagger writes it, and per-destination `headers` in a VirtualService route (where
/// a sticky canary's `Set-Cookie` lives in Istio).
@Suite("Session affinity decoding")
struct SessionAffinityDecodingTests {
    private func decodeCanary(adding line: String, to yaml: String = CanaryDecodingTests.minimal) -> (spec: CanarySpec?, messages: [String]) {
        let (resources, diagnostics) = Fixture.decode(yaml.replacingOccurrences(of: "    interval: 30s\n", with: "    interval: 30s\n" + line))
        let spec = resources.first.flatMap { located -> CanarySpec? in
            guard case .canary(let spec) = located.resource else { return nil }
            return spec
        }
        return (spec, Fixture.messages(diagnostics))
    }

    @Test("sessionAffinity reads Flagger's cookieName, maxAge and primaryCookieName; maxAge defaults to a day")
    func decodes() {
        let full = decodeCanary(adding: "    sessionAffinity: {cookieName: flagger-cookie, maxAge: 21600, primaryCookieName: flagger-primary-cookie}\n")
        #expect(full.messages.isEmpty, "\(full.messages)")
        #expect(full.spec?.analysis.sessionAffinity
            == SessionAffinity(cookieName: "flagger-cookie", maxAge: 21_600, primaryCookieName: "flagger-primary-cookie"))
        let short = decodeCanary(adding: "    sessionAffinity:\n      cookieName: Canary\n")
        #expect(short.messages.isEmpty, "\(short.messages)")
        #expect(short.spec?.analysis.sessionAffinity == SessionAffinity(cookieName: "Canary", maxAge: 86_400))
        #expect(decodeCanary(adding: "").spec?.analysis.sessionAffinity == nil)
    }

    @Test("sessionAffinity reads Flagger's cookie attributes domain, httpOnly, partitioned, path, sameSite and secure; an empty domain or path is left out, as Flagger leaves it")
    func decodesAttributes() {
        let full = decodeCanary(adding: """
                sessionAffinity:
                  cookieName: flagger-cookie
                  domain: .example.com
                  httpOnly: true
                  partitioned: true
                  path: /shop
                  sameSite: Lax
                  secure: true

            """)
        #expect(full.messages.isEmpty, "\(full.messages)")
        let attributes = CookieAttributes(domain: ".example.com", httpOnly: true, partitioned: true, path: "/shop", sameSite: .lax, secure: true)
        #expect(full.spec?.analysis.sessionAffinity == SessionAffinity(cookieName: "flagger-cookie", attributes: attributes))
        #expect(attributes.text == "; Domain=.example.com; HttpOnly; Partitioned; Path=/shop; SameSite=Lax; Secure")
        let empty = decodeCanary(adding: "    sessionAffinity: {cookieName: c, domain: \"\", path: \"\", httpOnly: false}\n")
        #expect(empty.messages.isEmpty, "\(empty.messages)")
        #expect(empty.spec?.analysis.sessionAffinity?.attributes == CookieAttributes())
        #expect(CookieAttributes().text == "; Path=/")
    }

    @Test("sameSite: None without secure: true is a warning: browsers refuse such a cookie")
    func sameSiteNoneNeedsSecure() {
        let (spec, messages) = decodeCanary(adding: "    sessionAffinity: {cookieName: c, sameSite: None}\n")
        #expect(spec?.analysis.sessionAffinity?.attributes.sameSite == CookieAttributes.SameSite.none)
        #expect(messages == [
            "test.yaml:10:48: warning: spec.analysis.sessionAffinity.sameSite is None without spec.analysis.sessionAffinity.secure: true: browsers refuse such a cookie, so no client is kept",
        ])
    }

    @Test("a sessionAffinity Serin cannot keep is refused at its field, saying why", arguments: [
        ("    sessionAffinity: {cookieName: c, sameSite: Sometimes}\n",
         "test.yaml:10:48: error: spec.analysis.sessionAffinity.sameSite is \"Sometimes\", expected one of Strict, Lax, None (as Flagger allows)"),
        ("    sessionAffinity: {cookieName: c, domain: \"example.com; Secure\"}\n",
         "test.yaml:10:46: error: spec.analysis.sessionAffinity.domain is \"example.com; Secure\", expected a host name like example.com (letters, digits, . and -)"),
        ("    sessionAffinity: {cookieName: c, path: shop}\n",
         "test.yaml:10:44: error: spec.analysis.sessionAffinity.path is \"shop\", expected a path starting with / (like /app)"),
        ("    sessionAffinity: {cookieName: c, path: \"/a;b\"}\n",
         "test.yaml:10:44: error: spec.analysis.sessionAffinity.path is \"/a;b\", expected a path like /app, without ; or control characters"),
        ("    sessionAffinity: {cookieName: c, secure: 1}\n",
         "test.yaml:10:46: error: spec.analysis.sessionAffinity.secure: expected a boolean, got integer 1"),
        ("    sessionAffinity: {maxAge: 60}\n",
         "test.yaml:10:22: error: spec.analysis.sessionAffinity.cookieName is required"),
        ("    sessionAffinity: {cookieName: \"my cookie\"}\n",
         "test.yaml:10:35: error: spec.analysis.sessionAffinity.cookieName is \"my cookie\", expected a cookie name (letters, digits and -._~!#$%&'*+^`|)"),
        ("    sessionAffinity: {cookieName: c, maxAge: 0}\n",
         "test.yaml:10:46: error: spec.analysis.sessionAffinity.maxAge is 0, expected seconds a client keeps the cookie (above 0; default 86400)"),
        ("    sessionAffinity: {cookieName: c, primaryCookieName: c}\n",
         "test.yaml:10:57: error: spec.analysis.sessionAffinity.primaryCookieName is \"c\", the same as cookieName: the stable's cookie needs a name of its own"),
        ("    sessionAffinity: {cookieName: c}\n    stickiness: {header: x-user-id}\n",
         "test.yaml:10:22: error: spec.analysis.sessionAffinity cannot be combined with spec.analysis.stickiness: stickiness pins clients by a key they already send, sessionAffinity by a cookie the gateway sets; keep one"),
    ])
    func refused(line: String, expected: String) {
        let (spec, messages) = decodeCanary(adding: line)
        #expect(spec == nil)
        #expect(messages == [expected])
    }

    @Test("beside iterations, sessionAffinity is left out with a warning, as Flagger leaves it (blue/green keeps no cohort), and stickiness is a warning unless stepWeightPromotion promotes in steps")
    func blueGreenHasNoCohort() {
        let blueGreen = CanaryDecodingTests.minimal.replacingOccurrences(of: "    stepWeight: 10\n    maxWeight: 50", with: "    iterations: 3")
        let affinity = decodeCanary(adding: "    sessionAffinity: {cookieName: c}\n", to: blueGreen)
        #expect(affinity.spec != nil && affinity.spec?.analysis.sessionAffinity == nil)
        #expect(affinity.messages == [
            "test.yaml:10:22: warning: spec.analysis.sessionAffinity is left out beside spec.analysis.iterations, as Flagger leaves it: blue/green keeps all live traffic on stable until its switch to the canary, so there is no cohort to keep",
        ])
        let sticky = decodeCanary(adding: "    stickiness: {header: x-user-id}\n", to: blueGreen)
        #expect(sticky.spec != nil)
        #expect(sticky.messages == [
            "test.yaml:10:17: warning: spec.analysis.stickiness splits nothing here: with iterations no weight moves step by step (blue/green's switch is 0 → 100); it applies with stepWeightPromotion, which promotes in steps",
        ])
        let stepped = decodeCanary(adding: "    stickiness: {header: x-user-id}\n    stepWeightPromotion: 25\n", to: blueGreen)
        #expect(stepped.spec != nil && stepped.messages.isEmpty, "\(stepped.messages)")
    }

    @Test("a VirtualService route entry's headers are read (no longer reported as not applied)")
    func destinationHeaders() throws {
        let yaml = """
            apiVersion: networking.istio.io/v1beta1
            kind: VirtualService
            metadata: {name: web}
            spec:
              hosts: [web.example.com]
              gateways: [web-gateway]
              http:
              - route:
                - {destination: {host: web-v1-service}, weight: 90}
                - destination: {host: web-v2-service}
                  weight: 10
                  headers: {response: {add: {Set-Cookie: "canary=1; Max-Age=60"}}, request: {set: {x-version: v2}}}
            """
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(Fixture.messages(diagnostics).isEmpty, "\(Fixture.messages(diagnostics))")
        guard case .virtualService(let service)? = resources.first?.resource else {
            Issue.record("no VirtualService decoded")
            return
        }
        let entries = try #require(service.http.first?.destinations)
        #expect(entries[0].headers == nil)
        #expect(entries[1].headers?.response.add == ["set-cookie": "canary=1; Max-Age=60"])
        #expect(entries[1].headers?.request.set == ["x-version": "v2"])
    }
}

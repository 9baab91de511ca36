import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// The sticky canary on Kubernetes against the API-server double, in Flagger's Istio shape: while analysed, the
/// canary's route entry adds `Set-Cookie` to its responses (the stable's its own cookie) and a route ahead of the
/// weighted one sends requests carrying a cookie to its version; promotion and rollback turn those routes into ones
/// that follow the weights and expire the cookies.
@Suite("Sticky canary on Kubernetes", .timeLimit(.minutes(2)))
struct KubernetesSessionAffinityTests {
    typealias Rollouts = KubernetesRolloutTests

    static let affinity: JSONValue = ["cookieName": "flagger-cookie", "maxAge": 21600, "primaryCookieName": "flagger-primary-cookie"]

    static func rollOut(
        _ script: @escaping ScriptedMetrics.Script, until final: String, affinity: JSONValue = affinity,
        _ check: ([[JSONValue]], KubernetesAPIServer) async -> Void
    ) async throws {
        let analysis: JSONValue = ["interval": "300ms", "threshold": 2, "stepWeights": [20, 60], "sessionAffinity": affinity]
        try await KubernetesBlueGreenTests.rollOut(analysis, observing: KubernetesABTestingTests.routes, script, until: final) { seen, _, server in
            await check(seen, server)
        }
    }

    /// The release's cookie value, read from the canary entry's `Set-Cookie`.
    static func value(in routes: [JSONValue]) -> String? {
        let entry = routes.last?["route"]?[1]
        let setCookie = entry?["headers"]?["response"]?["add"]?["Set-Cookie"]?.stringValue
        return setCookie?.split(separator: ";").first?.split(separator: "=").last.map(String.init)
    }

    static func entry(_ host: String, weight: Int, setCookie: String? = nil) -> JSONValue {
        var fields: [String: JSONValue] = ["destination": ["host": .string(host), "port": ["number": 80]], "weight": .number(Double(weight))]
        if let setCookie { fields["headers"] = ["response": ["add": ["Set-Cookie": .string(setCookie)]]] }
        return .object(fields)
    }

    static func affinityRoute(_ name: String, cookie: String, value: String, to route: [JSONValue]) -> JSONValue {
        [
            "name": .string(name),
            "match": [["uri": ["exact": "/"], "headers": ["cookie": ["regex": .string("(.*;\\s*)?flagger-\(cookie)=\(value)(\\s*;.*)?")]]]],
            "route": .array(route),
        ]
    }

    static func owned(_ entries: [JSONValue]) -> JSONValue {
        ["match": [["uri": ["exact": "/"]]], "route": .array(entries)]
    }

    /// What the routes are while the release is analysed at `canary` percent, the cookies set with `attributes`.
    static func pinned(canary weight: Int, value: String, attributes: String = "Path=/") -> [JSONValue] {
        let canaryCookie = "flagger-cookie=\(value); Max-Age=21600; \(attributes)"
        let primaryCookie = "flagger-primary-cookie=\(value); Max-Age=21600; \(attributes)"
        return [
            affinityRoute("web-canary-affinity", cookie: "cookie", value: value, to: [entry("web-v2-service", weight: 100, setCookie: canaryCookie)]),
            affinityRoute("web-primary-affinity", cookie: "primary-cookie", value: value, to: [entry("web-v1-service", weight: 100, setCookie: primaryCookie)]),
            owned([entry("web-v1-service", weight: 100 - weight, setCookie: primaryCookie), entry("web-v2-service", weight: weight, setCookie: canaryCookie)]),
        ]
    }

    /// What the routes are once the release ended with the canary at `canary` percent: the cookies expire.
    static func expired(canary weight: Int, value: String, attributes: String = "Path=/") -> [JSONValue] {
        let expire = { (cookie: String) in
            [entry("web-v1-service", weight: 100 - weight, setCookie: "\(cookie)=\(value); Max-Age=-1; \(attributes)"),
             entry("web-v2-service", weight: weight, setCookie: "\(cookie)=\(value); Max-Age=-1; \(attributes)")]
        }
        return [
            affinityRoute("web-canary-affinity", cookie: "cookie", value: value, to: expire("flagger-cookie")),
            affinityRoute("web-primary-affinity", cookie: "primary-cookie", value: value, to: expire("flagger-primary-cookie")),
            owned([entry("web-v1-service", weight: 100 - weight), entry("web-v2-service", weight: weight)]),
        ]
    }

    @Test("each step's routes pin both cookies' holders; promotion turns the affinity routes to the canary and expires both cookies")
    func pinsThenPromotion() async throws {
        try await Self.rollOut(ScriptedMetrics.healthy, until: "Succeeded") { analysed, server in
            guard let value = analysed.first.flatMap(Self.value) else {
                Issue.record("no affinity cookie in \(analysed)")
                return
            }
            #expect(analysed.count == 2)
            #expect(analysed == [Self.pinned(canary: 20, value: value), Self.pinned(canary: 60, value: value)], "\(analysed)")
            #expect(await eventually(.seconds(10)) { KubernetesABTestingTests.routes(server) == Self.expired(canary: 100, value: value) },
                    "\(KubernetesABTestingTests.routes(server))")
        }
    }

    @Test("sessionAffinity's domain, httpOnly, partitioned, path, sameSite and secure are written into the VirtualService's Set-Cookie headers as Flagger writes them, set and expired")
    func cookieAttributes() async throws {
        guard case .object(var affinity) = Self.affinity else { return }
        for (key, value) in [("domain", "example.com"), ("path", "/shop"), ("sameSite", "Lax")] as [(String, JSONValue)] { affinity[key] = value }
        for key in ["httpOnly", "partitioned", "secure"] { affinity[key] = true }
        let attributes = "Domain=example.com; HttpOnly; Partitioned; Path=/shop; SameSite=Lax; Secure"
        try await Self.rollOut(ScriptedMetrics.failing, until: "Failed", affinity: .object(affinity)) { analysed, server in
            guard let value = analysed.first.flatMap(Self.value) else {
                Issue.record("no affinity cookie in \(analysed)")
                return
            }
            #expect(!analysed.isEmpty && analysed.allSatisfy { $0 == Self.pinned(canary: 20, value: value, attributes: attributes) }, "\(analysed)")
            #expect(await eventually(.seconds(10)) {
                KubernetesABTestingTests.routes(server) == Self.expired(canary: 0, value: value, attributes: attributes)
            }, "\(KubernetesABTestingTests.routes(server))")
        }
    }

    @Test("a rollback sends the canary cookie's holders to stable and expires the cookie")
    func rollbackExpires() async throws {
        try await Self.rollOut(ScriptedMetrics.failing, until: "Failed") { analysed, server in
            guard let value = analysed.first.flatMap(Self.value) else {
                Issue.record("no affinity cookie in \(analysed)")
                return
            }
            #expect(analysed.allSatisfy { $0 == Self.pinned(canary: 20, value: value) }, "\(analysed)")
            #expect(await eventually(.seconds(10)) { KubernetesABTestingTests.routes(server) == Self.expired(canary: 0, value: value) },
                    "\(KubernetesABTestingTests.routes(server))")
        }
    }

    @Test("a VirtualService entry adding its own Set-Cookie is read with it, so a sticky canary on that route is refused before anything changes")
    func ownSetCookieRead() throws {
        let virtualService: JSONValue = ["spec": ["http": [Self.owned([Self.entry("web-v1-service", weight: 100, setCookie: "session=abc"), Self.entry("web-v2-service", weight: 0)])]]]
        let name = ResourceName(name: "web-virtualservice")
        let serving = try VirtualServiceWeightPatch.servingRoutes(of: virtualService, name: name)
        var spec = CanarySpec(
            name: ResourceName(name: "web"), targetRef: name, stable: nil, canary: Destination(host: "web-v2-service", port: 80),
            analysis: AnalysisSpec(schedule: try WeightSchedule(stepWeights: [20, 60])))
        spec.analysis.sessionAffinity = SessionAffinity(cookieName: "flagger-cookie")
        #expect(serving.stable(for: spec) == .failure(.setCookieInUse(Destination(host: "web-v1-service", port: 80), virtualService: name)))
    }

    @Test("status carries Flagger's sessionAffinityCookie while the canary pins clients, and previousSessionAffinityCookie once the release ended")
    func statusCookies() async throws {
        let analysis: JSONValue = ["interval": "300ms", "threshold": 2, "stepWeights": [20, 60], "sessionAffinity": Self.affinity]
        let observe: @Sendable (KubernetesAPIServer) -> [String?] = { server in
            let status = server.object(Rollouts.canaryKey)?["status"]
            return [status?["sessionAffinityCookie"]?.stringValue, status?["previousSessionAffinityCookie"]?.stringValue]
        }
        try await KubernetesBlueGreenTests.rollOut(analysis, observing: observe, ScriptedMetrics.failing, until: "Failed") { seen, _, server in
            let pinning = seen.compactMap { $0.first ?? nil }
            #expect(!pinning.isEmpty && pinning.allSatisfy { $0.hasPrefix("flagger-cookie=") } && Set(pinning).count == 1, "\(seen)")
            #expect(await eventually(.seconds(10)) { observe(server) == [nil, pinning.first] }, "\(observe(server))")
        }
    }
}

import SerinCore
import Testing

@Suite("CORS policy")
struct CorsPolicyTests {
    private static let policy = CorsPolicy(
        allowOrigins: [.exact("https://shop.example"), .prefix("https://preview-"), .regex(try! RegexPattern("https://[a-z]+\\.example\\.org"))],
        allowMethods: ["GET", "POST"], allowHeaders: ["content-type", "x-token"], exposeHeaders: ["x-version", "x-trace"],
        maxAge: .seconds(600), allowCredentials: true
    )

    private static func fields(_ pairs: [(String, String)]) -> [CorsPolicy.Field] {
        pairs.map { CorsPolicy.Field(name: $0.0, value: $0.1) }
    }

    @Test("a request without an origin, or from an origin not allowed, passes untouched", arguments: [nil, "", "https://evil.example", "http://shop.example"])
    func passes(origin: String?) {
        #expect(Self.policy.answer(method: "GET", origin: origin, requestMethod: nil, requestHeaders: nil) == .pass)
    }

    @Test("an allowed origin's request is routed and its answer names the origin, credentials and exposed headers", arguments: [
        "https://shop.example", "https://preview-42.shop.example", "https://blog.example.org",
    ])
    func allowsOrigin(origin: String) {
        #expect(
            Self.policy.answer(method: "POST", origin: origin, requestMethod: nil, requestHeaders: nil)
                == .allow(Self.fields([
                    ("access-control-allow-origin", origin), ("access-control-allow-credentials", "true"),
                    ("access-control-expose-headers", "x-version,x-trace"),
                ]))
        )
    }

    @Test("an allowed origin's preflight is answered with the methods, headers and max age the policy allows")
    func answersPreflight() {
        let answer = Self.policy.answer(method: "OPTIONS", origin: "https://shop.example", requestMethod: "POST", requestHeaders: "x-token")
        #expect(answer == .preflight(Self.fields([
            ("access-control-allow-origin", "https://shop.example"), ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", "GET,POST"), ("access-control-allow-headers", "content-type,x-token"),
            ("access-control-max-age", "600"),
        ])))
    }

    @Test("an OPTIONS without a requested method is no preflight: it is routed like any request")
    func optionsWithoutRequestedMethod() {
        let answer = Self.policy.answer(method: "OPTIONS", origin: "https://shop.example", requestMethod: "", requestHeaders: nil)
        guard case .allow = answer else {
            Issue.record("expected the request to be routed with CORS fields, got \(answer)")
            return
        }
    }

    @Test("a preflight from another origin is routed to the service, or with IGNORE answered without allowing the origin")
    func unmatchedPreflights() {
        #expect(Self.policy.answer(method: "OPTIONS", origin: "https://evil.example", requestMethod: "GET", requestHeaders: nil) == .pass)
        var ignoring = Self.policy
        ignoring.unmatchedPreflights = .ignore
        ignoring.allowCredentials = nil
        #expect(
            ignoring.answer(method: "OPTIONS", origin: "https://evil.example", requestMethod: "GET", requestHeaders: nil)
                == .preflight(Self.fields([
                    ("access-control-allow-methods", "GET,POST"), ("access-control-allow-headers", "content-type,x-token"),
                    ("access-control-max-age", "600"),
                ]))
        )
    }

    @Test("a match of * allows every origin, and * alone as methods or headers grants what the preflight asks for")
    func wildcards() {
        let open = CorsPolicy(allowOrigins: [.exact("*")], allowMethods: ["*"], allowHeaders: ["*"])
        #expect(
            open.answer(method: "OPTIONS", origin: "https://anywhere.example", requestMethod: "DELETE", requestHeaders: "x-a,x-b")
                == .preflight(Self.fields([
                    ("access-control-allow-origin", "https://anywhere.example"), ("access-control-allow-methods", "DELETE"),
                    ("access-control-allow-headers", "x-a,x-b"),
                ]))
        )
        let none = CorsPolicy(allowOrigins: [.exact("https://shop.example")])
        #expect(none.answer(method: "GET", origin: "https://anywhere.example", requestMethod: nil, requestHeaders: nil) == .pass)
    }

    @Test("a delegate's route keeps its own corsPolicy, and takes its root's when it has none, as Istio merges them")
    func delegateMerge() {
        let rootPolicy = CorsPolicy(allowOrigins: [.exact("https://root.example")])
        let leafPolicy = CorsPolicy(allowOrigins: [.exact("https://leaf.example")])
        let root = HTTPRoute(destinations: [], corsPolicy: rootPolicy)
        let plain = HTTPRoute(destinations: [WeightedDestination(destination: Destination(host: "a"), weight: 100)])
        var own = plain
        own.corsPolicy = leafPolicy
        #expect(plain.merged(into: root)?.corsPolicy == rootPolicy)
        #expect(own.merged(into: root)?.corsPolicy == leafPolicy)
    }
}

import NIOHTTP1
import SerinCore
import SerinListener
import SerinGateway
import SerinTesting
import Testing

/// A DestinationRule's `loadBalancer` on the real gateway, in front of three real endpoints of one service on
/// 127.0.0.1, each answering with its own name.
@Suite("DestinationRule load balancer on the gateway", .timeLimit(.minutes(2)))
struct LoadBalancerTests {
    /// Serves one service of three endpoints (v1, v2, v3) with `loadBalancer` as `policy`, and hands `body` a client
    /// that returns the endpoint each request reached, with the answer.
    static func withEndpoints(
        _ policy: String, _ body: (_ send: ([(name: String, value: String)]) async throws -> (String, SimpleHTTPClient.Response)) async throws -> Void
    ) async throws {
        let backends = TestBackends()
        var endpoints: [HTTPListener] = []
        for name in ["v1", "v2", "v3"] { endpoints.append(try await backends.start(name)) }
        let table = try RoutePolicyTests.table(
            routes: TrafficPolicyTests.route, services: ["web-v1-service": endpoints.map(\.port)],
            more: TrafficPolicyTests.rule("    loadBalancer: \(policy)")
        )
        try await RoutePolicyTests.withGateway(table, group: backends) { _, client in
            try await body { headers in
                let response = try await client.send(.GET, "/", headers: headers)
                return (response.header("x-serin-demo-version") ?? "none", response)
            }
        }
        for endpoint in endpoints { await endpoint.close() }
        await backends.shutdown()
    }

    @Test("consistentHash on a header keeps each user on one endpoint, and spreads the users over the endpoints")
    func hashOnHeader() async throws {
        try await Self.withEndpoints("{consistentHash: {httpHeaderName: x-user}}") { send in
            var endpointOf: [String: String] = [:]
            for round in 0..<3 {
                for user in (0..<24).map({ "user-\($0)" }) {
                    let (endpoint, _) = try await send([("X-User", user)])
                    if round == 0 { endpointOf[user] = endpoint }
                    #expect(endpointOf[user] == endpoint, "\(user) moved from \(endpointOf[user] ?? "-") to \(endpoint)")
                }
            }
            #expect(Set(endpointOf.values) == ["v1", "v2", "v3"], "\(endpointOf)")
            // Without the header, requests are served in turn.
            var seen: Set<String> = []
            for _ in 0..<3 { seen.insert(try await send([]).0) }
            #expect(seen == ["v1", "v2", "v3"])
        }
    }

    @Test("consistentHash on a cookie with a ttl: the gateway makes the cookie for a client without one, and the cookie keeps the client on its endpoint")
    func hashOnCookie() async throws {
        try await Self.withEndpoints("{consistentHash: {httpCookie: {name: affinity, path: /, ttl: 600s}}}") { send in
            let (first, answer) = try await send([])
            let setCookie = try #require(answer.header("set-cookie"), "the answer sets the cookie")
            #expect(setCookie.hasPrefix("affinity=") && setCookie.hasSuffix("; Max-Age=600; Path=/; HttpOnly"), "\(setCookie)")
            let cookie = String(setCookie.prefix { $0 != ";" })
            for _ in 0..<6 {
                let (endpoint, again) = try await send([("cookie", "theme=dark; \(cookie)")])
                #expect(endpoint == first, "the cookie's endpoint is the one that made it")
                #expect(again.header("set-cookie") == nil, "a client with the cookie gets no new one")
            }
            // Clients with cookies of their own are spread too.
            var endpoints: Set<String> = []
            for client in 0..<24 { endpoints.insert(try await send([("cookie", "affinity=client-\(client)")]).0) }
            #expect(endpoints == ["v1", "v2", "v3"])
        }
    }

    @Test("useSourceIp keeps a client address on one endpoint; RANDOM reaches every endpoint")
    func sourceAddressAndRandom() async throws {
        try await Self.withEndpoints("{consistentHash: {useSourceIp: true}}") { send in
            var endpoints: Set<String> = []
            for _ in 0..<12 { endpoints.insert(try await send([]).0) }
            #expect(endpoints.count == 1, "every request comes from 127.0.0.1: \(endpoints)")
        }
        try await Self.withEndpoints("{simple: RANDOM}") { send in
            var counts: [String: Int] = [:]
            for _ in 0..<90 { counts[try await send([]).0, default: 0] += 1 }
            #expect(Set(counts.keys) == ["v1", "v2", "v3"] && counts.values.allSatisfy { $0 >= 10 }, "\(counts)")
        }
    }
}

import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SerinCore
import SerinGateway
import SerinListener
import SerinTesting
import Testing

/// How the gateway stops without losing a request: a drain answers what keep-alive clients still send, each answer
/// ending its connection, rather than closing connections under requests already on their way.
@Suite("Gateway drain", .timeLimit(.minutes(2)))
struct GatewayDrainTests {
    @Test("once a drain begins, the next request on an idle keep-alive connection is answered with connection: close, a new connection is still served, and a quiet one closes within seconds, not cut")
    func idleConnectionsAreAnsweredNotClosed() async throws {
        try await GatewayProxyTests.withSeedGateway { gateway, port, backends in
            let next = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
            let quiet = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
            for client in [next, quiet] {
                let response = try await client.send(.GET, "/", headers: [("host", "web")], timeout: .seconds(10))
                #expect(response.status == 200)
                #expect(response.header("connection") != "close")
            }
            await gateway.beginDrain()
            // Closed as the drain began, this connection would fail the request the client has just sent.
            let answered = try await next.send(.GET, "/", headers: [("host", "web")], timeout: .seconds(10))
            #expect(answered.status == 200)
            #expect(answered.header("connection") == "close")
            #expect(await eventually(.seconds(5)) { !next.isActive })
            // The listeners still take connections, for a load balancer that has not yet seen /readyz fail.
            let late = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
            let lateAnswer = try await late.send(.GET, "/", headers: [("host", "web")], timeout: .seconds(10))
            #expect(lateAnswer.status == 200)
            #expect(lateAnswer.header("connection") == "close")
            // A second between requests is the grace: then the quiet connection closes while its client is quiet.
            #expect(await eventually(.seconds(5)) { !quiet.isActive })
            #expect(await gateway.shutdown(drainTimeout: .seconds(10)) == 0)
            for client in [next, quiet, late] { await client.close() }
        }
    }

    @Test("once a drain begins, an HTTP/2 connection opened with the listeners still open is served: its first request is answered, then GOAWAY tells the client to go elsewhere")
    func newHTTP2ConnectionIsServed() async throws {
        try await GatewayProxyTests.withSeedGateway { gateway, port, backends in
            await gateway.beginDrain()
            let client = try await HTTP2StreamClient.connect(port: port, group: backends.group)
            let response = try await client.request(authority: "web", path: "/")
            #expect(response.status == 200, "\(response)")
            #expect(await eventually(.seconds(10)) { !client.goAways.isEmpty }, "the client is told to open no more streams here")
            await client.close()
            #expect(await gateway.shutdown(drainTimeout: .seconds(10)) == 0)
        }
    }

    @Test("a drain under a keep-alive load loses no request: every request sent is answered, the last on each connection with connection: close")
    func drainUnderLoadLosesNoRequest() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let gateway = GatewayServer(threads: 2, portMapping: .ephemeral)
        try await gateway.install(RouteTable(compiling: SeedMesh.config(endpoints: ["web-v1-service": v1.port], uriMatch: nil)))
        let port = try #require(gateway.boundPort(forDeclared: 80))
        let answered = NIOLockedValueBox(0)
        let clients = 8
        let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
                    defer { Task { await client.close() } }
                    // Bounded: the drain surely begins within these.
                    for _ in 0..<20_000 {
                        let response: SimpleHTTPClient.Response
                        do {
                            response = try await client.send(.GET, "/", headers: [("host", "web")], timeout: .seconds(10))
                        } catch {
                            return "lost: \(error)"
                        }
                        guard response.status == 200 else { return "answered \(response.status)" }
                        answered.withLockedValue { $0 += 1 }
                        if response.header("connection") == "close" { return "told to close" }
                    }
                    return "never told to close"
                }
            }
            // The load runs on every connection before the drain begins.
            #expect(await eventually(.seconds(20)) { answered.withLockedValue { $0 } >= 400 })
            let cut = await gateway.shutdown(drainTimeout: .seconds(10))
            #expect(cut == 0)
            var outcomes: [String] = []
            for try await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        #expect(outcomes == Array(repeating: "told to close", count: clients), "\(outcomes)")
        await v1.close()
        await backends.shutdown()
    }
}

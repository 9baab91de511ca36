import Foundation
import SerinCore
import SerinGateway
import SerinListener
import SerinTesting
import Testing

/// A port the gateway opens accepts connections only once everything that serves it is in place.
@Suite("Gateway listener opening", .timeLimit(.minutes(2)))
struct GatewayListenerOpeningTests {
    @Test("a port a new table opens is served by that table from its first connection, never by the table before (404)")
    func newPortServesFromItsFirstConnection() async throws {
        let backends = TestBackends()
        let v1 = try await backends.start("v1")
        // 3,000 destinations besides the seed's: installing them takes a moment after the port is bound.
        let count = 3000
        var config = SeedMesh.config(
            endpoints: ["web-v1-service": v1.port],
            extraRoutes: (0..<count).map { index in
                HTTPRoute(
                    matches: [RequestMatch(uri: .prefix("/svc-\(index)/"))],
                    destinations: [WeightedDestination(destination: Destination(host: "svc-\(index)", port: 80), weight: 100)])
            })
        config.services += (0..<count).map { index in
            MeshService(
                name: ResourceName(name: "svc-\(index)"), hosts: ["svc-\(index)"], ports: [ServicePort(number: 80, name: "http")],
                endpoints: [ServiceEndpoint(address: "127.0.0.1", ports: ["http": v1.port])])
        }
        let table = RouteTable(compiling: config)

        for _ in 0..<3 {
            let port = try await backends.freePort()
            let gateway = GatewayServer(threads: 1, bindHost: "127.0.0.1", portMapping: .offset(port - 80))
            // A client that connects the moment the port listens, as a waiting client or a health check would.
            let group = backends.group
            let firstAnswer = Task { () -> String in
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline {
                    guard let connection = try? await RawConnection.connect(port: port, group: group) else { continue }
                    try await connection.send("GET / HTTP/1.1\r\nhost: web\r\nconnection: close\r\n\r\n")
                    _ = await connection.waitForClose()
                    await connection.close()
                    return connection.received
                }
                return "no connection within 20 s"
            }
            try await Task.sleep(for: .milliseconds(20))
            try await gateway.install(table)
            let answer = try await firstAnswer.value
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(answer.prefix(200))")
            await gateway.shutdown()
        }
        await v1.close()
        await backends.shutdown()
    }
}

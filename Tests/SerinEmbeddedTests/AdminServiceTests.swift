import NIOCore
import NIOHTTP1
import NIOPosix
import SerinListener
import SerinServer
import SerinTesting
import ServiceLifecycle
import Testing

/// The admin listener as the composition roots run it: a ServiceLifecycle service in a ServiceGroup.
@Suite("Admin listener as a service", .timeLimit(.minutes(1)))
struct AdminServiceTests {
    @Test("the admin routes run in a ServiceGroup: probes answer, another method gets 405 with Allow, a graceful shutdown ends them")
    func runsInServiceGroup() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let routes = AdminRoutes(access: .open)
        AdminSurface.registerProbes(readiness: Readiness(), on: routes)
        let (bound, reportBound) = AsyncStream.makeStream(of: Int.self)
        let application = routes.application(host: "127.0.0.1", port: 0, group: group) { channel in
            reportBound.yield(channel.localAddress?.port ?? 0)
        }
        let services = ServiceGroup(configuration: ServiceGroupConfiguration(services: [application], logger: HTTPListener.quietLogger))
        let running = Task { try await services.run() }
        var ports = bound.makeAsyncIterator()
        let port = try #require(await ports.next())
        let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: group)
        #expect(try await client.send(.GET, "/healthz", timeout: .seconds(20)).bodyText == "ok\n")
        let starting = try await client.send(.GET, "/readyz", timeout: .seconds(20))
        #expect(starting.status == 503)
        #expect(starting.header("content-type") == "application/json")
        let posted = try await client.send(.POST, "/healthz", timeout: .seconds(20))
        #expect(posted.status == 405)
        #expect(posted.header("allow") == "GET")
        await client.close()
        // HTTP/1.0 without keep-alive: answered, then the connection ends, as the version says; with keep-alive,
        // and HTTP/1.1, it stays for the next request.
        let once = try await RawConnection.connect(port: port, group: group)
        try await once.send("GET /healthz HTTP/1.0\r\n\r\n")
        #expect(await once.waitFor("ok\n"))
        #expect(await once.waitForClose(timeout: .seconds(5)), "an HTTP/1.0 connection stayed open after its answer: \(once.received)")
        for (version, keepAlive) in [("1.0", "connection: keep-alive\r\n"), ("1.1", "")] {
            let kept = try await RawConnection.connect(port: port, group: group)
            try await kept.send("GET /healthz HTTP/\(version)\r\nhost: x\r\n\(keepAlive)\r\n")
            #expect(await kept.waitFor("ok\n"))
            try await kept.send("GET /readyz HTTP/\(version)\r\nhost: x\r\n\(keepAlive)\r\n")
            #expect(await kept.waitFor("503"), "HTTP/\(version): \(kept.received)")
            await kept.close()
        }
        await services.triggerGracefulShutdown()
        try await running.value
        await #expect(throws: (any Error).self) {
            try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: group)
        }
    }
}

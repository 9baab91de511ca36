import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// `serin gateway` as a process: what a user sees when they stop it.
@Suite("serin gateway", .timeLimit(.minutes(2)))
struct GatewayCommandTests {
    @Test("an admin address another process holds is refused in words, with the flag that fixes it, exit 1")
    func adminAddressTaken() async throws {
        let holder = try await TestHTTPServer.start(group: MultiThreadedEventLoopGroup.singleton) { _ in .text("mine") }
        let backends = TestBackends(threads: 1)
        let gatewayPort = try await backends.freePort()
        await backends.shutdown()
        let result = try await SerinProcess.run([
            "gateway", "-f", "examples/seed", "--port-offset", "\(gatewayPort - 80)", "--admin", "127.0.0.1:\(holder.port)",
        ])
        await holder.close()
        #expect(result.status == 1, "\(result.stdout)")
        #expect(result.stderr.contains("error: cannot serve the admin endpoint on 127.0.0.1:\(holder.port): address already in use; pick another with --admin HOST:PORT"),
                "\(result.stderr)")
        #expect(!result.stderr.contains("errno"), "\(result.stderr)")
    }

    @Test("started on files with no Gateway, it says nothing listens for traffic, how to give one, and still serves its admin listener")
    func noGatewaySaysNothingListens() async throws {
        let backends = TestBackends(threads: 1)
        let adminPort = try await backends.freePort()
        await backends.shutdown()
        let gateway = try SerinProcess.launch(["gateway", "-f", "examples/seed/web-v1-service.yaml", "--admin", "127.0.0.1:\(adminPort)", "--threads", "1"])
        let warned = await gateway.waitForOutput("no Gateway in examples/seed/web-v1-service.yaml, so no port listens for traffic until one is applied")
        let ready = await gateway.waitForOutput("serin gateway: admin on")
        await gateway.kill()
        let output = await gateway.outputText()
        #expect(warned && ready, "\(output)")
        #expect(output.contains("(serin apply -f FILE); or give it with -f (for example: -f examples/seed), or serve the mesh with --mesh HOST:PORT"), "\(output)")
    }

    @Test("an --address that is no address of this machine (not an IP, or another machine's) is an error naming it and saying what it takes; nothing listens", arguments: ["999.1.1.1", "192.0.2.7"])
    func addressNotOfThisMachine(address: String) async throws {
        let result = try await SerinProcess.run(
            ["gateway", "-f", "examples/seed", "--address", address, "--port-offset", "-80", "--admin", "127.0.0.1:0", "--threads", "1"],
            timeout: .seconds(30))
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("\(address) is not an address of this machine (--address takes one of its IP addresses"), "\(result.stderr)")
        #expect(!result.stderr.contains("SocketAddressError") && !result.stderr.contains("IOError"), "\(result.stderr)")
    }

    @Test("a mesh listener beyond loopback is warned of (it proxies to every service with no token), and its HTTP_PROXY hint names an address a client can use")
    func meshBeyondLoopbackIsWarnedOf() async throws {
        let backends = TestBackends(threads: 1)
        let adminPort = try await backends.freePort()
        await backends.shutdown()
        // Bound on every interface for the second it takes to start; no request is sent to it.
        let gateway = try SerinProcess.launch(["gateway", "-f", "examples/mesh", "--mesh", "0.0.0.0:0", "--admin", "127.0.0.1:\(adminPort)", "--threads", "1"])
        let warned = await gateway.waitForOutput("takes requests to every service from anyone who can reach it")
        await gateway.kill()
        let output = await gateway.outputText()
        #expect(warned, "\(output)")
        #expect(output.contains("HTTP_PROXY=http://127.0.0.1:"), "\(output)")
        #expect(!output.contains("HTTP_PROXY=http://0.0.0.0"), "\(output)")
    }

    /// `serin gateway` on one thread over the seed's manifests pointed at `v1` and `v2`, on free ports, with `options`.
    static func launchSeedGateway(
        v1: HTTPListener, v2: HTTPListener, backends: TestBackends, _ options: [String]
    ) async throws -> (process: SerinProcess.Running, gatewayPort: Int, adminPort: Int) {
        let directory = try SerinProcess.temporaryDirectory(holding: SeedManifests.sources(v1: v1.port, v2: v2.port))
        let gatewayPort = try await backends.freePort()
        let adminPort = try await backends.freePort()
        let gateway = try SerinProcess.launch([
            "gateway", "-f", directory.path, "--port-offset", String(gatewayPort - 80), "--admin", "127.0.0.1:\(adminPort)",
            "--threads", "1",
        ] + options)
        return (gateway, gatewayPort, adminPort)
    }

    /// The first connection `connect` opens within 30 s of tries: nil if the process never listened.
    static func whenListening<Connection>(_ connect: () async throws -> Connection) async -> Connection? {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let connection = try? await connect() { return connection }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    @Test("SIGTERM drains: the request in flight gets its whole answer, new connections are refused, exit status 0")
    func sigtermDrains() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1", latency: .milliseconds(800))
        let v2 = try await backends.start("v2")
        let (gateway, gatewayPort, _) = try await Self.launchSeedGateway(v1: v1, v2: v2, backends: backends, ["--drain-timeout", "10"])
        let busy = try #require(
            await Self.whenListening { try await RawConnection.connect(port: gatewayPort, group: backends.group) },
            "serin gateway did not listen on \(gatewayPort)")
        try await busy.send("GET / HTTP/1.1\r\nhost: web\r\n\r\n")
        try await Task.sleep(for: .milliseconds(200))
        gateway.signal(SIGTERM)
        let status = await gateway.waitForExit()
        #expect(status == 0)
        #expect(await busy.waitForClose())
        #expect(busy.received.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(busy.received.prefix(200))")
        #expect(busy.received.contains("This is v1"))
        let output = await gateway.outputText()
        #expect(output.contains("draining for up to 10.0s"), "\(output)")
        #expect(output.contains("serin gateway: stopped\n"), "\(output)")
        #expect((try? await RawConnection.connect(port: gatewayPort, group: backends.group)) == nil)
        await busy.close()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("a second SIGTERM during a drain ends it at once: the request still waiting is cut, and the command exits 0 long before --drain-timeout")
    func secondSignalEndsTheDrain() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1", latency: .seconds(20))
        let v2 = try await backends.start("v2")
        let (gateway, gatewayPort, _) = try await Self.launchSeedGateway(v1: v1, v2: v2, backends: backends, ["--drain-timeout", "60s"])
        let busy = try #require(
            await Self.whenListening { try await RawConnection.connect(port: gatewayPort, group: backends.group) },
            "serin gateway did not listen on \(gatewayPort)")
        #expect(await gateway.waitForOutput("serin gateway: admin on"))
        try await busy.send("GET / HTTP/1.1\r\nhost: web\r\n\r\n")
        try await Task.sleep(for: .milliseconds(300))
        let signalled = ContinuousClock.now
        gateway.signal(SIGTERM)
        #expect(await gateway.waitForOutput("draining for up to 60.0s"))
        gateway.signal(SIGTERM)
        let status = await gateway.waitForExit()
        #expect(status == 0)
        #expect(ContinuousClock.now - signalled < .seconds(15), "it waited for the request rather than ending the drain")
        #expect(await busy.waitForClose())
        let output = await gateway.outputText()
        #expect(output.contains("1 connection(s) cut when a second signal ended the drain"), "\(output)")
        await busy.close()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("SIGTERM with --min-drain-duration: /readyz answers 503 at once while the listeners still serve, each answer with connection: close; then the listeners close and it exits 0")
    func sigtermWithMinimumDrain() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let (gateway, gatewayPort, adminPort) = try await Self.launchSeedGateway(
            v1: v1, v2: v2, backends: backends, ["--min-drain-duration", "3s"])
        let keptAlive = try #require(
            await Self.whenListening { try await SimpleHTTPClient.connect(host: "127.0.0.1", port: gatewayPort, group: backends.group) },
            "serin gateway did not listen on \(gatewayPort)")
        #expect(try await keptAlive.send(.GET, "/", headers: [("host", "web")], timeout: .seconds(10)).header("connection") != "close")
        #expect(await gateway.waitForOutput("serin gateway: admin on"))
        gateway.signal(SIGTERM)
        let notReady = await eventually(.seconds(3)) {
            guard let admin = try? await SimpleHTTPClient.connect(host: "127.0.0.1", port: adminPort, group: backends.group) else { return false }
            defer { Task { await admin.close() } }
            return (try? await admin.send(.GET, "/readyz", timeout: .seconds(2)))?.status == 503
        }
        #expect(notReady)
        let late = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: gatewayPort, group: backends.group)
        for client in [keptAlive, late] {
            let response = try await client.send(.GET, "/", headers: [("host", "web")], timeout: .seconds(10))
            #expect(response.status == 200)
            #expect(response.header("connection") == "close")
        }
        #expect(await gateway.waitForExit() == 0)
        let output = await gateway.outputText()
        #expect(output.contains("taking requests with connection: close for 3.0s (/readyz answers 503), then draining for up to 15.0s"), "\(output)")
        #expect((try? await RawConnection.connect(port: gatewayPort, group: backends.group)) == nil)
        for client in [keptAlive, late] { await client.close() }
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("run as a user that is not root (as most people run it, and the image), it proxies the seed's requests")
    func servesWithoutRoot() async throws {
        let runuser = URL(fileURLWithPath: "/usr/sbin/runuser")
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: runuser.path), getpwnam("nobody") != nil else {
            let reason = "needs root, /usr/sbin/runuser and the user nobody to run serin as another user"
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("CI: \(reason)") } else { print("skipped: \(reason)") }
            return
        }
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        // A directory nobody may read, holding the manifests and a copy of serin (the build directory's parents
        // need not be open to other users).
        let directory = try SerinProcess.temporaryDirectory(holding: SeedManifests.sources(v1: v1.port, v2: v2.port))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        let binary = directory.appendingPathComponent("serin")
        try FileManager.default.copyItem(at: SerinProcess.executable, to: binary)
        let gatewayPort = try await backends.freePort()
        let adminPort = try await backends.freePort()
        let gateway = try SerinProcess.launch(
            ["-u", "nobody", "--", binary.path, "gateway", "-f", directory.path, "--port-offset", String(gatewayPort - 80),
             "--admin", "127.0.0.1:\(adminPort)", "--threads", "1"],
            program: runuser
        )
        #expect(await gateway.waitForOutput("listening on 127.0.0.1:\(gatewayPort)", timeout: .seconds(30)), "\(gateway.printed)")
        // Before, every connection was reset: the gateway set SO_DEBUG, which only root may.
        for _ in 0..<3 {
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: gatewayPort, group: backends.group)
            let page = try await client.send(.GET, "/", headers: [("host", "web")])
            #expect(page.status == 200)
            #expect(page.bodyText.contains("This is v"))
            await client.close()
        }
        await gateway.kill(SIGTERM)
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }
}

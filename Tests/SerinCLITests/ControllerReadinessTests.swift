import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinKubernetes
import SerinTesting
import Testing

/// `serin controller`'s probes while its API server cannot be reached: alive, but not ready, and saying why.
@Suite("serin controller readiness", .timeLimit(.minutes(2)))
struct ControllerReadinessTests {
    /// One GET on the controller's admin port, on a connection of its own; nil while nothing answers there yet.
    static func get(_ path: String, port: Int) async -> SimpleHTTPClient.Response? {
        guard let client = try? await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton)
        else { return nil }
        defer { Task { await client.close() } }
        return try? await client.send(.GET, path, timeout: .seconds(5))
    }

    /// `serin controller` (with `extra` arguments, `--unready-after 1`) against an API double that fails every call
    /// with 503 until told to answer again.
    /// Waits for `/readyz` to answer 503 while `/healthz` stays 200, then lets the API server answer again and waits
    /// for `/readyz` to answer 200; returns the 503's body.
    static func unreadyUntilAnswered(
        _ server: KubernetesAPIServer, adminPort: Int, controller: SerinProcess.Running
    ) async -> String? {
        var failing: SimpleHTTPClient.Response?
        #expect(await eventually(.seconds(30)) {
            failing = await get("/readyz", port: adminPort)
            return failing?.status == 503
        }, "\(String(describing: failing?.bodyText)) \(controller.printed)")
        #expect(await get("/healthz", port: adminPort)?.status == 200)
        server.answerAgain()
        #expect(await eventually(.seconds(30)) { await get("/readyz", port: adminPort)?.status == 200 }, "\(controller.printed)")
        return failing?.bodyText
    }

    static func controllerOfFailingAPI(
        _ extra: [String] = []
    ) async throws -> (KubernetesAPIServer, TestBackends, Int, SerinProcess.Running) {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton)
        let directory = try SerinProcess.temporaryDirectory()
        server.failEverything(status: 503, reason: "ServiceUnavailable")
        let backends = TestBackends()
        let adminPort = try await backends.freePort()
        let controller = try SerinProcess.launch([
            "controller", "--kubeconfig", try server.writeKubeconfig(in: directory), "--admin", "127.0.0.1:\(adminPort)",
            "--prometheus", "http://127.0.0.1:9", "--unready-after", "1",
        ] + extra)
        return (server, backends, adminPort, controller)
    }

    @Test("/readyz answers 503 with the reason while the API server fails, 200 once the Canaries are read, 503 again once the watches have failed for --unready-after; /healthz stays 200")
    func readyOnlyWhileTheAPIAnswers() async throws {
        let (server, backends, adminPort, controller) = try await Self.controllerOfFailingAPI()
        var starting: SimpleHTTPClient.Response?
        #expect(await eventually(.seconds(30)) {
            starting = await Self.get("/readyz", port: adminPort)
            return starting?.bodyText.contains("ServiceUnavailable") == true
        }, "\(String(describing: starting?.bodyText)) \(controller.printed)")
        #expect(starting?.status == 503)
        #expect(starting?.bodyText.contains("the Canaries have not been read from the Kubernetes API yet") == true, "\(starting?.bodyText ?? "")")
        #expect(await Self.get("/healthz", port: adminPort)?.status == 200)

        server.answerAgain()
        var ready: SimpleHTTPClient.Response?
        #expect(await eventually(.seconds(30)) {
            ready = await Self.get("/readyz", port: adminPort)
            return ready?.status == 200
        }, "\(String(describing: ready?.bodyText)) \(controller.printed)")

        // The API server goes away with the watches open: ready for --unready-after, then not, naming the watch.
        server.failEverything(status: 503, reason: "ServiceUnavailable")
        server.dropWatches()
        let failing = await Self.unreadyUntilAnswered(server, adminPort: adminPort, controller: controller)
        #expect(failing?.contains("has failed for") == true, "\(failing ?? "")")

        controller.signal(SIGTERM)
        #expect(await controller.waitForExit() == 0, "\(controller.printed)")
        await server.close()
        await backends.shutdown()
    }

    @Test("with --leader-elect, a replica that cannot reach its Lease is not ready once that has lasted --unready-after, naming the Lease; once the API answers it leads and is ready")
    func standbyWithoutItsLeaseIsNotReady() async throws {
        let (server, backends, adminPort, controller) = try await Self.controllerOfFailingAPI(["--leader-elect", "--identity", "replica-a"])
        let failing = await Self.unreadyUntilAnswered(server, adminPort: adminPort, controller: controller)
        #expect(failing?.contains("the Lease ") == true && failing?.contains("has failed for") == true, "\(failing ?? "")")
        #expect(controller.printed.contains("replica-a leads"), "\(controller.printed)")
        controller.signal(SIGTERM)
        #expect(await controller.waitForExit() == 0, "\(controller.printed)")
        await server.close()
        await backends.shutdown()
    }

    @Test("an API address that refuses connections: each attempt waits --api-connect-timeout, and the log says how long it took and the wait that follows")
    func refusedAddressSaysTheTruth() async throws {
        let refusing = try RefusingPort()
        let directory = try SerinProcess.temporaryDirectory()
        let kubeconfig = try KubernetesAPIServer.writeKubeconfig(
            in: directory, server: try #require(URL(string: "http://127.0.0.1:\(refusing.port)")), token: "none")
        let backends = TestBackends()
        let adminPort = try await backends.freePort()
        let controller = try SerinProcess.launch([
            "controller", "--kubeconfig", kubeconfig, "--admin", "127.0.0.1:\(adminPort)", "--prometheus", "http://127.0.0.1:9",
            "--api-connect-timeout", "1",
        ])
        #expect(await controller.waitForOutput("trying again in 2s", timeout: .seconds(30)), "\(controller.printed)")
        let lines = controller.printed.split(separator: "\n").filter { $0.contains("cannot read the rollouts from Canary status") }
        #expect(lines.first?.contains("cannot reach the Kubernetes API at http://127.0.0.1:\(refusing.port)") == true, "\(lines)")
        #expect(lines.first?.contains("(the attempt gave up after 1") == true, "\(lines)")
        #expect(lines.first?.contains("trying again in 1s") == true, "\(lines)")
        let readyz = await Self.get("/readyz", port: adminPort)
        #expect(readyz?.status == 503)
        #expect(readyz?.bodyText.contains("cannot reach the Kubernetes API") == true, "\(readyz?.bodyText ?? "")")
        controller.signal(SIGTERM)
        #expect(await controller.waitForExit() == 0, "\(controller.printed)")
        await backends.shutdown()
    }
}

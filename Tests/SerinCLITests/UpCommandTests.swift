import Foundation
import NIOCore
import NIOHTTP1
import SerinController
import SerinCore
import SerinDemoApp
import SerinListener
import SerinManifests
import SerinStore
import SerinTesting
import Testing

/// `serin up` as a process: killed mid-rollout with SIGKILL and started again, it resumes where it was.
@Suite("serin up", .timeLimit(.minutes(3)))
struct UpCommandTests {
    static func status(adminPort: Int, group: TestBackends) async -> CanaryStatus? {
        guard let client = try? await SimpleHTTPClient.connect(host: "127.0.0.1", port: adminPort, group: group.group) else { return nil }
        defer { Task { await client.close() } }
        guard let response = try? await client.send(.GET, "/canaries/web"), response.status == 200 else { return nil }
        return try? JSONDecoder().decode(CanaryStatus.self, from: Data(response.body))
    }

    static func waitForStatus(
        adminPort: Int, group: TestBackends, timeout: Duration = .seconds(30), _ condition: (CanaryStatus) -> Bool
    ) async throws -> CanaryStatus {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = await status(adminPort: adminPort, group: group), condition(status) { return status }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CancellationError()
    }

    /// Demo-app backends answering as v1 and v2, and the seed's manifests pointed at them with `canary`, in a fresh
    /// directory.
    static func seedWithBackends(canary: ManifestSource) async throws -> (backends: TestBackends, v1: HTTPListener, v2: HTTPListener, directory: URL) {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        return (backends, v1, v2, try manifestDirectory(v1: v1.port, v2: v2.port, canary: canary))
    }

    /// `serin up` serving `directory` on ports picked in advance (so the same arguments start it again after a kill),
    /// with the demo's steady load on its gateway.
    static func launchUnderLoad(
        _ directory: URL, state: String, backends: TestBackends
    ) async throws -> (arguments: [String], adminPort: Int, up: SerinProcess.Running, load: SerinDemoLoad) {
        let adminPort = try await backends.freePort()
        let gatewayPort = try await backends.freePort()
        let arguments = upArguments(directory, gatewayPort: gatewayPort, adminPort: adminPort, state: state)
        let up = try SerinProcess.launch(arguments)
        return (arguments, adminPort, up, SerinDemoLoad(port: gatewayPort, backends: backends))
    }

    /// The seed's manifests (pointed at `v1`/`v2`) and `canary` written to a fresh directory.
    static func manifestDirectory(v1: Int, v2: Int, canary: ManifestSource) throws -> URL {
        try SerinProcess.temporaryDirectory(holding: SeedManifests.sources(v1: v1, v2: v2) + [canary])
    }

    /// `serin up` arguments serving `directory` with the gateway's port 80 on `gatewayPort`.
    static func upArguments(_ directory: URL, gatewayPort: Int, adminPort: Int, state: String) -> [String] {
        [
            "up", "-f", directory.path, "--port-offset", String(gatewayPort - 80), "--admin", "127.0.0.1:\(adminPort)",
            "--state", state, "--threads", "1",
        ]
    }

    /// Starts `serin up` on ports the system picks (admin `127.0.0.1:0`, the Gateway's port 80 moved to 0)
    /// and reads the ports it bound from what it prints, so no other test can take a port chosen in advance.
    static func launchOnFreePorts(
        _ directory: URL, state: String, extra: [String] = []
    ) async throws -> (up: SerinProcess.Running, admin: Int, gateway: Int) {
        let up = try SerinProcess.launch(
            ["up", "-f", directory.path, "--port-offset=-80", "--admin", "127.0.0.1:0", "--state", state, "--threads", "1"] + extra
        )
        let started = await eventually(.seconds(60)) { up.printed.contains("serin up: dashboard on") || !up.isRunning }
        func port(after marker: String) -> Int? {
            guard let range = up.printed.range(of: marker) else { return nil }
            return Int(up.printed[range.upperBound...].prefix { $0.isNumber })
        }
        guard started, let admin = port(after: "serin up: dashboard on http://127.0.0.1:"),
            let gateway = port(after: "serin up: Gateway port 80 listening on 127.0.0.1:")
        else {
            await up.kill(SIGKILL)
            struct NotStarted: Error, CustomStringConvertible { let description: String }
            throw NotStarted(description: "serin up did not start:\n\(await up.outputText())")
        }
        return (up, admin, gateway)
    }

    @Test("SIGTERM the moment its gateway port accepts, before it says it is ready: it stops gracefully, status 0, each of five times; a SIGHUP then is a reload, not the end")
    func signalsWhileStarting() async throws {
        try await LogFormatTests.withSeed { directory, backends in
            for round in 1...5 {
                let up = try await Self.launchAccepting(directory, backends: backends, state: "state-\(round).sqlite")
                up.signal(SIGTERM)
                let status = await up.waitForExit()
                let output = await up.outputText()
                #expect(status == 0, "round \(round): \(output)")
            }
            // SIGHUP's default action would end it on the spot (status 129); it reads its manifests again instead.
            let up = try await Self.launchAccepting(directory, backends: backends, state: "state-hup.sqlite")
            up.signal(SIGHUP)
            #expect(await up.waitForOutput("serin up: SIGHUP: applied", timeout: .seconds(30)), "\(up.printed)")
            #expect(up.isRunning)
            up.signal(SIGTERM)
            let status = await up.waitForExit()
            #expect(status == 0, "\(up.printed)")
        }
    }

    /// `serin up` on `directory`, on free ports of `backends` and with its state in the file `state` there, once its
    /// gateway port accepts connections: the first moment a signal could reach a serving process.
    /// `serin up` launched, returned the moment its gateway port accepts. A free port another test's listener took
    /// meanwhile accepts too, before this one has even started: then it is launched again on other ports (three times
    /// at most), so the signal the test sends always reaches a `serin up` that listens.
    static func launchAccepting(_ directory: URL, backends: TestBackends, state: String) async throws -> SerinProcess.Running {
        var attempts: [String] = []
        for attempt in 1...3 {
            let gatewayPort = try await backends.freePort()
            let adminPort = try await backends.freePort()
            let up = try SerinProcess.launch(
                upArguments(directory, gatewayPort: gatewayPort, adminPort: adminPort, state: directory.appendingPathComponent(state).path)
            )
            #expect(await accepts(port: gatewayPort, within: .seconds(30)), "\(up.printed)")
            if listens(pid: up.pid, port: gatewayPort) { return up }
            // Said in full if every attempt fails: whether serin up had ended (and what it printed), or ran while
            // another process held the port.
            let running = up.isRunning
            await up.kill(SIGKILL)
            attempts.append(
                "attempt \(attempt), gateway port \(gatewayPort), admin port \(adminPort): serin up "
                    + (running ? "was running, the port another listener's" : "had ended") + "; it printed:\n\(await up.outputText())"
            )
        }
        struct PortsTaken: Error, CustomStringConvertible { let description: String }
        throw PortsTaken(description: "serin up never held the port that accepted, in three attempts:\n" + attempts.joined(separator: "\n"))
    }

    /// Whether process `pid` holds the socket listening on 127.0.0.1's TCP `port` (/proc/net/tcp's LISTEN entry, by
    /// its inode among the process's descriptors).
    static func listens(pid: Int32, port: Int) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return false }
        let hexPort = String(format: ":%04X", port)
        let inodes = table.split(separator: "\n").dropFirst().compactMap { line -> String? in
            let fields = line.split(separator: " ")
            // sl, local address, remote address, state (0A: LISTEN), ..., inode (the tenth field).
            guard fields.count > 9, fields[1].hasSuffix(hexPort), fields[3] == "0A" else { return nil }
            return String(fields[9])
        }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        let sockets = Set(descriptors.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)") })
        return inodes.contains { sockets.contains("socket:[\($0)]") }
    }

    /// Whether 127.0.0.1:`port` accepts a connection within `timeout`, tried every 0.2 ms or so (a plain socket
    /// connect: a refusal on loopback comes back at once), so the caller learns of the listener as it opens.
    static func accepts(port: Int, within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        while ContinuousClock.now < deadline {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(descriptor)
            if connected == 0 { return true }
            try? await Task.sleep(for: .microseconds(200))
        }
        return false
    }

    @Test("kill -9 mid-rollout, start again: same step, same weights, no event lost")
    func resumesAfterCrash() async throws {
        let (backends, v1, v2, directory) = try await Self.seedWithBackends(canary: SeedManifests.canary(interval: "3s", stepWeights: [20, 40, 60, 80], progressDeadline: "2m"))
        let state = directory.appendingPathComponent("state/state.sqlite").path
        let (arguments, adminPort, first, load) = try await Self.launchUnderLoad(directory, state: state, backends: backends)
        _ = try await Self.waitForStatus(adminPort: adminPort, group: backends) { $0.step == 2 }
        // The status shows a step as soon as it is decided; the step's line is printed once the step is saved, and
        // what is saved is what a crash leaves behind.
        #expect(await first.waitForOutput("advance canary weight to 40%", timeout: .seconds(30)), "\(first.printed)")
        await first.kill(SIGKILL)
        let firstOutput = await first.outputText()

        // What the crashed process last committed is the truth to resume from.
        let store = try SQLiteRolloutStore(path: state)
        let stored = try #require(try store.loadRollouts()[ResourceName(name: "web")])
        let storedEvents = try store.events(for: ResourceName(name: "web"), limit: nil)
        #expect(stored.status.phase == .progressing, "\(firstOutput)")
        #expect(stored.status.canaryWeight == 40)
        // One Serin per state file: the test lets go of it before the next serin takes it.
        store.close()

        let second = try SerinProcess.launch(arguments)
        let resumed = try await Self.waitForStatus(adminPort: adminPort, group: backends) { _ in true }
        #expect(resumed.phase == .progressing)
        #expect(resumed.step == 2, "resumed at step \(String(describing: resumed.step)), weight \(resumed.canaryWeight)")
        #expect(resumed.canaryWeight == 40)
        await second.kill(SIGTERM)
        let reopened = try SQLiteRolloutStore(path: state)
        let afterEvents = try reopened.events(for: ResourceName(name: "web"), limit: nil)
        #expect(Array(afterEvents.prefix(storedEvents.count)) == storedEvents)
        await load.stop()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }
}

extension UpCommandTests {
    @Test("serin status -w outlives a restart of serin up: the lost connection is said, tried again until Serin answers, and the watch ends with the rollout")
    func watchOutlivesRestart() async throws {
        // Steps long enough that the watch, however slowly it starts on a busy machine, joins while the rollout runs.
        let (backends, v1, v2, directory) = try await Self.seedWithBackends(canary: SeedManifests.canary(interval: "5s", stepWeights: [20, 40, 60], progressDeadline: "2m"))
        let (arguments, adminPort, first, load) = try await Self.launchUnderLoad(
            directory, state: directory.appendingPathComponent("state/state.sqlite").path, backends: backends)
        _ = try await Self.waitForStatus(adminPort: adminPort, group: backends) { $0.step == 1 }
        let watch = try SerinProcess.launch(["status", "web", "-w", "--server", "http://127.0.0.1:\(adminPort)"])
        #expect(await watch.waitForOutput("· Progressing step ", timeout: .seconds(30)), "\(watch.printed)")
        await first.kill(SIGKILL)
        #expect(await watch.waitForOutput("connection to Serin at http://127.0.0.1:\(adminPort) lost", timeout: .seconds(10)), "\(watch.printed)")
        #expect(watch.isRunning)
        let second = try SerinProcess.launch(arguments)
        #expect(await watch.waitForOutput("connected to Serin at http://127.0.0.1:\(adminPort) again", timeout: .seconds(30)), "\(watch.printed)")
        let ended = await watch.waitForExit(timeout: .seconds(90))
        let printed = await watch.outputText()
        #expect(ended == 0, "\(printed)")
        #expect(printed.contains("promoted: web-v2-service:80 is the stable, 100% · Succeeded"), "\(printed)")
        await second.kill(SIGTERM)
        await load.stop()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("a Canary serin up refuses at start is listed by serin status with why, not as 'no Canaries'; steering it says why too")
    func refusedCanaryInStatus() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        // The canary named is the version that serves everything now: there is nothing to release.
        let directory = try Self.manifestDirectory(
            v1: v1.port, v2: v2.port, canary: SeedManifests.canary(canaryHost: "web-v1-service", stableHost: nil))
        let (up, adminPort, _) = try await Self.launchOnFreePorts(directory, state: directory.appendingPathComponent("state.sqlite").path)
        let server = "http://127.0.0.1:\(adminPort)"
        let refused = try await Self.waitForStatus(adminPort: adminPort, group: backends) { _ in true }
        #expect(refused.message?.hasPrefix("refused: spec.canary web-v1-service:80 is the version that serves now") == true, "\(refused)")
        let status = try await SerinProcess.run(["status", "--server", server])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(!status.stdout.contains("no Canaries"), "\(status.stdout)")
        // It drives no weights: the routes serve the VirtualService's own 100/0, which is not the Canary's to show.
        #expect(refused.refusedBeforeStart == true)
        let row = status.stdout.split(separator: "\n").first { $0.hasPrefix("web") }.map(String.init) ?? ""
        #expect(row.contains(" - ") && !row.contains("100/0"), "\(status.stdout)")
        #expect(status.stdout.contains("refused: spec.canary web-v1-service:80 is the version that serves now"), "\(status.stdout)")
        let promote = try await SerinProcess.run(["promote", "web", "--server", server])
        #expect(promote.status != 0)
        #expect(promote.stderr.contains("web was refused, so nothing runs it: spec.canary web-v1-service:80"), "\(promote.stdout)\(promote.stderr)")
        await up.kill(SIGTERM)
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("a Canary with a Deployment target, which only serin controller runs, is refused at start with its file and line, and serin status lists it refused, with why")
    func deploymentTargetRefusedAtItsLine() async throws {
        let backends = TestBackends(threads: 2)
        let podinfo = ManifestSource(path: "podinfo.yaml", text: """
            apiVersion: flagger.app/v1beta1
            kind: Canary
            metadata: {name: podinfo}
            spec:
              targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
              service: {port: 9898}
              analysis: {interval: 1m, threshold: 5, stepWeight: 10, maxWeight: 50}
            """)
        let directory = try Self.manifestDirectory(v1: 9, v2: 9, canary: podinfo)
        let (up, adminPort, _) = try await Self.launchOnFreePorts(directory, state: directory.appendingPathComponent("state.sqlite").path)
        let refusal = "\(directory.appendingPathComponent("podinfo.yaml").path):5:"
        #expect(await eventually(.seconds(20)) { up.printed.contains(refusal) }, "\(up.printed)")
        #expect(up.printed.contains("podinfo: targetRef is Deployment podinfo: Serin creates and scales Deployments only on Kubernetes"), "\(up.printed)")
        // Listed, not gone: the Canary was given, and the status says why nothing runs it.
        let status = try await SerinProcess.run(["status", "podinfo", "-o", "json", "--server", "http://127.0.0.1:\(adminPort)"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("refused: targetRef is Deployment podinfo"), "\(status.stdout)")
        await up.kill(SIGTERM)
        await backends.shutdown()
    }

    @Test("a state file this process may not write is refused at start, naming the file and why, before any rollout moves: SQLite would open it for reading and no save would land")
    func readOnlyStateFile() async throws {
        let directory = try Self.manifestDirectory(v1: 9, v2: 9, canary: SeedManifests.canary(interval: "30s", stepWeights: [25, 50], progressDeadline: "2m"))
        let stateDirectory = directory.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        let state = stateDirectory.appendingPathComponent("state.sqlite").path
        #expect(FileManager.default.createFile(atPath: state, contents: nil, attributes: [.posixPermissions: 0o444]))
        let arguments = ["up", "-f", directory.path, "--port-offset=-80", "--admin", "127.0.0.1:0", "--state", state]
        let refused: SerinProcess.Result
        if getuid() == 0 {
            // Root writes any file: run as nobody, who may write the directory (its lock file) but not the state file.
            try FileManager.default.setAttributes([.ownerAccountID: 65534], ofItemAtPath: stateDirectory.path)
            refused = try await SerinProcess.run(
                ["--reuid=65534", "--regid=65534", "--clear-groups", SerinProcess.executable.path] + arguments,
                program: URL(fileURLWithPath: "/usr/bin/setpriv")
            )
        } else {
            refused = try await SerinProcess.run(arguments)
        }
        #expect(refused.status == 1, "\(refused.stdout) \(refused.stderr)")
        #expect(refused.stderr.contains("cannot open state file \(state): it is read-only to this process"), "\(refused.stderr)")
        #expect(!refused.stdout.contains("advance canary weight") && !refused.stderr.contains("advance canary weight"))
    }

    @Test("a restart whose files leave out a stored rollout's Canary is refused, deleting nothing, until the Canary's file is given again or --forget names it")
    func restartWithoutTheCanary() async throws {
        let (backends, v1, v2, directory) = try await Self.seedWithBackends(canary: SeedManifests.canary(interval: "30s", stepWeights: [25, 50], progressDeadline: "2m"))
        let state = directory.appendingPathComponent("state.sqlite").path
        let (up, adminPort, _) = try await Self.launchOnFreePorts(directory, state: state)
        _ = try await Self.waitForStatus(adminPort: adminPort, group: backends) { $0.canaryWeight == 25 }
        #expect(up.printed.contains("state file \(state) is new: nothing stored, each Canary starts from its files"), "\(up.printed)")
        up.signal(SIGTERM)
        #expect(await up.waitForExit() == 0)

        // The Canary's file left out, as a restart with one -f forgotten would.
        let canaryFile = directory.appendingPathComponent("test-canary.yaml")
        let aside = directory.deletingLastPathComponent().appendingPathComponent("aside-\(UUID().uuidString).yaml")
        try FileManager.default.moveItem(at: canaryFile, to: aside)
        let refused = try await SerinProcess.run(["up", "-f", directory.path, "--port-offset=-80", "--admin", "127.0.0.1:0", "--state", state])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(
            "\(state) holds the rollout of Canary web (Progressing, 75/25 between web-v1-service:80 and web-v2-service:80), which none of these files gives"
        ), "\(refused.stderr)")
        #expect(refused.stderr.contains("start with --forget web") && refused.stderr.contains("nothing was deleted"), "\(refused.stderr)")

        // Given again, it resumes where it was.
        try FileManager.default.moveItem(at: aside, to: canaryFile)
        let (again, againAdmin, _) = try await Self.launchOnFreePorts(directory, state: state)
        #expect(again.printed.contains("resumed from stored state") && !again.printed.contains("is new"), "\(again.printed)")
        #expect(try await Self.waitForStatus(adminPort: againAdmin, group: backends) { _ in true }.canaryWeight == 25)
        again.signal(SIGTERM)
        #expect(await again.waitForExit() == 0)

        // --forget deletes it: the next start without the file has nothing stored to refuse.
        try FileManager.default.moveItem(at: canaryFile, to: aside)
        let (forgot, _, _) = try await Self.launchOnFreePorts(directory, state: state, extra: ["--forget", "web"])
        #expect(await forgot.waitForOutput("its Canary is no longer given", timeout: .seconds(30)), "\(forgot.printed)")
        forgot.signal(SIGTERM)
        #expect(await forgot.waitForExit() == 0)
        let (bare, _, _) = try await Self.launchOnFreePorts(directory, state: state)
        bare.signal(SIGTERM)
        #expect(await bare.waitForExit() == 0, "\(bare.printed)")
        #expect(try await SerinProcess.run(["up", "--forget", "a/b/c", "-f", directory.path]).stderr.contains("--forget: a Canary is named NAME or NAMESPACE/NAME"))
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("a --prometheus that answers no query is said at start, as Flagger checks its metrics server, and the start goes on")
    func prometheusCheckedAtStart() async throws {
        let (backends, v1, v2, directory) = try await Self.seedWithBackends(canary: SeedManifests.canary(interval: "30s", progressDeadline: "2m"))
        let refusing = try RefusingPort()
        let (up, _, _) = try await Self.launchOnFreePorts(
            directory, state: directory.appendingPathComponent("state.sqlite").path, extra: ["--prometheus", "http://127.0.0.1:\(refusing.port)"]
        )
        let said = "serin up: Prometheus at http://127.0.0.1:\(refusing.port) does not answer queries: "
        #expect(await up.waitForOutput(said, timeout: .seconds(30)), "\(up.printed)")
        #expect(up.isRunning)
        up.signal(SIGTERM)
        #expect(await up.waitForExit() == 0)
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("status, pause, resume, promote and history steer a running rollout from the command line")
    func steersFromTheCommandLine() async throws {
        // The first step stays for the status checks below, however slowly each command starts on a busy machine.
        let (backends, v1, v2, directory) = try await Self.seedWithBackends(canary: SeedManifests.canary(interval: "30s", stepWeights: [25, 50, 75], progressDeadline: "2m"))
        let (up, adminPort, gatewayPort) = try await Self.launchOnFreePorts(directory, state: directory.appendingPathComponent("state.sqlite").path)
        let server = "http://127.0.0.1:\(adminPort)"
        let load = SerinDemoLoad(port: gatewayPort, backends: backends)
        _ = try await Self.waitForStatus(adminPort: adminPort, group: backends) { $0.canaryWeight == 25 }

        let status = try await SerinProcess.run(["status", "--server", server])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("NAME"))
        #expect(status.stdout.split(separator: "\n").contains { $0.hasPrefix("web") && $0.contains("Progressing") && $0.contains("75/25") && $0.contains("1/3") },
                "\(status.stdout)")

        let json = try await SerinProcess.run(["status", "web", "-o", "json", "--server", server])
        let decoded = try JSONDecoder().decode(CanaryStatus.self, from: Data(json.stdout.utf8))
        #expect(decoded.canaryWeight == 25)

        let pause = try await SerinProcess.run(["pause", "web", "--server", server])
        #expect(pause.stdout.contains("canary/web paused: Paused, 75/25 (stable web-v1-service:80, canary web-v2-service:80)"), "\(pause.stdout)\(pause.stderr)")
        let pausedAgain = try await SerinProcess.run(["pause", "web", "--server", server])
        #expect(pausedAgain.status == 1)
        #expect(pausedAgain.stderr.contains("already paused"))
        let resume = try await SerinProcess.run(["resume", "web", "--server", server])
        #expect(resume.status == 0, "\(resume.stderr)")

        let promote = try await SerinProcess.run(["promote", "web", "--server", server])
        #expect(promote.status == 0, "\(promote.stderr)")
        let done = try await Self.waitForStatus(adminPort: adminPort, group: backends) { $0.phase == .succeeded }
        #expect(done.promoted == true && done.stable == "web-v2-service:80" && done.weightsLabel == "100/0")

        let history = try await SerinProcess.run(["history", "web", "--server", server])
        #expect(history.stdout.contains("web: advance canary weight to 25%"), "\(history.stdout)")
        #expect(history.stdout.lowercased().contains("promot"))

        let missing = try await SerinProcess.run(["abort", "nope", "--server", server])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no Canary named nope"))

        await up.kill(SIGTERM)
        await load.stop()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }
}

/// Steady traffic through the subprocess's gateway so analysis has requests to judge.
struct SerinDemoLoad {
    let load = SerinDemoApp.SteadyLoad()

    init(port: Int, backends: TestBackends) {
        load.start(port: port, rate: 200, connections: 2, group: backends.group)
    }

    func stop() async { await load.stop() }
}

extension UpCommandTests {
    @Test("on a terminal, serin up draws the rollout's live line under its log, and clears it when it stops")
    func liveLineOnATerminal() async throws {
        let backends = TestBackends(threads: 1)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let directory = try Self.manifestDirectory(
            v1: v1.port, v2: v2.port, canary: SeedManifests.canary(interval: "30s", stepWeights: [20], progressDeadline: "2m"))
        let state = directory.appendingPathComponent("state.sqlite").path
        let up = [SerinProcess.executable.path, "up", "-f", directory.path, "--port-offset=-80", "--admin", "127.0.0.1:0",
                  "--state", state, "--threads", "1"].joined(separator: " ")
        // `script` gives serin up a terminal; SIGINT after a few seconds stops it as Ctrl-C would.
        let result = try await SerinProcess.run(
            ["-qfec", "timeout -s INT 6 \(up)", "/dev/null"], program: URL(fileURLWithPath: "/usr/bin/script"), timeout: .seconds(60))
        for server in [v1, v2] { await server.close() }
        await backends.shutdown()
        #expect(result.stdout.contains("\r\u{1B}[2K[####................] canary 20% · Progressing step 1/1"), "\(result.stdout.debugDescription)")
        #expect(result.stdout.contains("web: advance canary weight to 20%"), "log lines still go above it")
    }

    @Test("serin up --mesh serves a mesh of services alone: no Gateway, a client reaches reviews:9080 through the mesh port")
    func servesMeshWithoutGateway() async throws {
        let backends = TestBackends(threads: 1)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let directory = try SerinProcess.temporaryDirectory(holding: SeedManifests.mesh(v1: v1.port, v2: v2.port))
        let up = try SerinProcess.launch([
            "up", "-f", directory.path, "--mesh", "127.0.0.1:0", "--admin", "127.0.0.1:0",
            "--state", directory.appendingPathComponent("state.sqlite").path, "--threads", "1",
        ])
        let marker = "serin up: mesh listening on 127.0.0.1:"
        let started = await up.waitForOutput(marker)
        let printed = up.printed
        let port = printed.range(of: marker).flatMap { Int(printed[$0.upperBound...].prefix { $0.isNumber }) }
        #expect(started, "\(printed)")
        if let port {
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
            let response = try await client.send(.GET, "/", headers: [("host", "reviews:9080")], timeout: .seconds(10))
            #expect(response.header(DemoApp.versionHeader) == "v1")
            await client.close()
        }
        #expect(!printed.contains("Gateway port"), "\(printed)")
        await up.kill(SIGTERM)
        _ = await up.outputText()
        for server in [v1, v2] { await server.close() }
        await backends.shutdown()
    }

    @Test("with no Gateway to serve, serin up refuses to start, naming what it read and what it skipped, and writes no state")
    func refusesWithNothingToServe() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let file = directory.appendingPathComponent("only.yaml")
        try "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n".write(to: file, atomically: true, encoding: .utf8)
        let state = directory.appendingPathComponent("state/state.sqlite").path
        let result = try await SerinProcess.run(["up", "-f", file.path, "--admin", "127.0.0.1:0", "--state", state], timeout: .seconds(30))
        #expect(result.status == 1)
        #expect(result.stderr.contains(
            "error: nothing to serve: \(file.path) holds nothing Serin reads and no Gateway; skipped 1 document Serin does not read "
                + "(kind ConfigMap at \(file.path):1:1); give the Gateway with -f (for example: -f examples/seed), "
                + "or serve the mesh with --mesh HOST:PORT"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state))
    }

    @Test("--prometheus is checked as a metric's provider.address is: https and a path prefix are taken; a space or another scheme is refused naming the flag, in provider.address's words")
    func prometheusFlagCheckedAsProviderAddress() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let state = directory.appendingPathComponent("state.sqlite").path
        // A file with no Gateway: once the flags are taken, serin up stops at "nothing to serve".
        let nothing = directory.appendingPathComponent("only.yaml")
        try "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n".write(to: nothing, atomically: true, encoding: .utf8)
        let behindProxy = try await SerinProcess.run(
            ["up", "-f", nothing.path, "--admin", "127.0.0.1:0", "--state", state, "--prometheus", "https://prometheus.example/prometheus"],
            timeout: .seconds(30))
        #expect(behindProxy.status == 1)
        #expect(behindProxy.stderr.contains("error: nothing to serve: "), "\(behindProxy.stderr)")
        #expect(!behindProxy.stderr.contains("--prometheus"), "\(behindProxy.stderr)")

        for (address, problem) in [
            ("http://127.0.0.1:9 090", #"expected an http:// or https:// URL like http://127.0.0.1:9090, got "http://127.0.0.1:9 090" (a URL has no spaces or control characters)"#),
            ("ftp://prometheus:9090", #"expected an http:// or https:// URL like http://127.0.0.1:9090, got "ftp://prometheus:9090""#),
            // A query's URL, copied from a browser: every check would fail with a 404.
            ("http://127.0.0.1:9090/api/v1/query", #"expected the Prometheus server's URL, which Serin adds /api/v1/query to, got "http://127.0.0.1:9090/api/v1/query": give "http://127.0.0.1:9090""#),
        ] {
            let flag = try await SerinProcess.run(["up", "-f", "examples/seed", "--admin", "127.0.0.1:0", "--state", state, "--prometheus", address])
            #expect(flag.status != 0 && flag.status != 1, "a usage error: \(flag.status)")
            #expect(flag.stderr.contains("Error: --prometheus: \(problem)\n"), "\(flag.stderr)")
            // The same address as a metric's provider.address: the same words, at the field.
            let canary = directory.appendingPathComponent("canary.yaml")
            let example = try String(contentsOf: SerinProcess.repositoryRoot.appendingPathComponent("examples/canary/web-canary.yaml"), encoding: .utf8)
            try example.replacingOccurrences(
                of: "    - name: request-success-rate\n",
                with: "    - name: request-success-rate\n      provider: {type: prometheus, address: \"\(address)\"}\n"
            ).write(to: canary, atomically: true, encoding: .utf8)
            let field = try await SerinProcess.run(["validate", "-f", canary.path])
            #expect(field.status == 1)
            #expect(field.stderr.contains("error: spec.analysis.metrics[0].provider.address: \(problem)\n"), "\(field.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: state))
    }

    @Test("a second serin up on the same state file is refused at once, naming the first; after kill -9 the file is free")
    func oneSerinPerStateFile() async throws {
        let backends = TestBackends(threads: 1)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let directory = try Self.manifestDirectory(
            v1: v1.port, v2: v2.port, canary: SeedManifests.canary(interval: "30s", stepWeights: [20], progressDeadline: "2m"))
        let state = directory.appendingPathComponent("state/state.sqlite").path
        let first = try await Self.launchOnFreePorts(directory, state: state)
        // It says what it serves.
        let said = await first.up.waitForOutput("serin up: loaded 1 Gateway, 1 VirtualService, 2 ServiceEntries, 2 Services, 2 Deployments, 1 Canary", timeout: .seconds(10))
        #expect(said, "\(first.up.printed)")
        let second = try await SerinProcess.run(
            ["up", "-f", directory.path, "--port-offset=-80", "--admin", "127.0.0.1:0", "--state", state, "--threads", "1"],
            timeout: .seconds(30))
        #expect(second.status == 1)
        #expect(second.stderr.contains("another serin (pid \(first.up.pid)) is using \(state); stop it or pass --state PATH"), "\(second.stderr)")
        #expect(try await Self.waitForStatus(adminPort: first.admin, group: backends) { _ in true }.phase == .progressing,
                "the first one goes on")
        await first.up.kill(SIGKILL)
        let third = try await Self.launchOnFreePorts(directory, state: state)
        #expect(try await Self.waitForStatus(adminPort: third.admin, group: backends) { _ in true }.canaryWeight == 20)
        await third.up.kill(SIGTERM)
        for server in [v1, v2] { await server.close() }
        await backends.shutdown()
    }

    @Test("kill -9 at the handover, start again from the same files: no request reaches the version the promotion retired")
    func handoverSurvivesCrash() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let v3 = try await backends.start("v3")
        // A post-rollout hook that answers only after a minute holds the rollout at the handover: Promoting, v2 at 100%.
        let slowHook = try await backends.start("hook", latency: .seconds(60))
        let hooks = """
                webhooks:
                - {name: notify, type: post-rollout, url: "http://127.0.0.1:\(slowHook.port)/", timeout: 90s}
            """
        let directory = try Self.manifestDirectory(
            v1: v1.port, v2: v2.port,
            canary: SeedManifests.canary(interval: "400ms", stepWeights: [50], stableHost: nil, webhooks: hooks, progressDeadline: "2m")
        )
        let entry = SeedManifests.serviceEntry("web-v3-service", port: v3.port, version: "v3")
        try entry.text.write(to: directory.appendingPathComponent(entry.path), atomically: true, encoding: .utf8)
        let state = directory.appendingPathComponent("state/state.sqlite").path
        let first = try await Self.launchOnFreePorts(directory, state: state)
        let load = SerinDemoLoad(port: first.gateway, backends: backends)
        let handover = try await Self.waitForStatus(adminPort: first.admin, group: backends) { $0.phase == .promoting }
        #expect(handover.stable == "web-v2-service:80")
        // The status is the controller's decision; the handover is done once the gateway carries it (the state is
        // stored before the weights go out), which a loaded machine may take a moment longer to reach.
        let deadline = ContinuousClock.now + .seconds(20)
        while try await DemoTraffic.run(port: first.gateway, connections: 1, requestsPerConnection: 10, group: backends.group).counts != ["v2": 10],
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(50))
        }
        await first.up.kill(SIGKILL)
        await load.stop()

        // The files still route everything to v1; the state says v2 serves. Traffic from the first moment the
        // gateway listens, before the controller has run, reaches only v2.
        let second = try await Self.launchOnFreePorts(directory, state: state)
        let afterRestart = try await DemoTraffic.run(port: second.gateway, connections: 2, requestsPerConnection: 40, group: backends.group)
        #expect(afterRestart.counts == ["v2": 80], "\(afterRestart.counts) \(afterRestart.failures.prefix(3))")
        let resumed = try await Self.waitForStatus(adminPort: second.admin, group: backends) { _ in true }
        #expect(resumed.phase == .promoting)

        // The next release, written as a user would: no stable, the new canary.
        let next = SeedManifests.canary(interval: "400ms", stepWeights: [50], canaryHost: "web-v3-service", stableHost: nil)
        let file = directory.appendingPathComponent("next-canary.yaml")
        try next.text.write(to: file, atomically: true, encoding: .utf8)
        let applied = try await SerinProcess.run(["apply", "-f", file.path, "--server", "http://127.0.0.1:\(second.admin)"])
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        _ = try await Self.waitForStatus(adminPort: second.admin, group: backends) { $0.canary == "web-v3-service:80" && $0.canaryWeight == 50 }
        let during = try await DemoTraffic.run(port: second.gateway, connections: 2, requestsPerConnection: 40, group: backends.group)
        #expect(during.counts["v1"] == nil, "\(during.counts)")
        #expect(Set(during.counts.keys).isSubset(of: ["v2", "v3"]), "\(during.counts)")
        await second.up.kill(SIGTERM)
        for server in [v1, v2, v3, slowHook] { await server.close() }
        await backends.shutdown()
    }
}

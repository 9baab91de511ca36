import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinTesting
import Testing

/// `serin gateway` at the process's open-file limit, as it is run under shells and service managers that start
/// processes with a low soft limit: it raises what it may, caps its client connections to fit (said where the cap
/// bites), and when descriptors still run out it pauses accepting, short of the last few, instead of retrying in a
/// busy loop.
@Suite("serin gateway at the open-file limit", .timeLimit(.minutes(2)))
struct GatewayOpenFilesTests {
    private static let prlimit = URL(fileURLWithPath: "/usr/bin/prlimit")

    /// Launches `serin gateway` under `prlimit --nofile=SOFT:HARD`, through bash when `heldFiles` descriptors are
    /// to be open already (as files another part of a process would hold), and waits until it listens.
    private static func launch(
        soft: Int, hard: Int, heldFiles: Int = 0, options: [String] = [], backends: TestBackends
    ) async throws -> (gateway: SerinProcess.Running, port: Int, admin: Int)? {
        guard FileManager.default.isExecutableFile(atPath: prlimit.path) else {
            let reason = "needs /usr/bin/prlimit (util-linux) to start serin with a low open-file limit"
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("CI: \(reason)") } else { print("skipped: \(reason)") }
            return nil
        }
        let directory = try SerinProcess.temporaryDirectory()
        try DirectAnswerGateway.manifests(answer: "served").write(to: directory.appendingPathComponent("gateway.yaml"), atomically: true, encoding: .utf8)
        let port = try await backends.freePort()
        let admin = try await backends.freePort()
        let serin = [
            SerinProcess.executable.path, "gateway", "-f", directory.path, "--port-offset", String(port - 80),
            "--admin", "127.0.0.1:\(admin)", "--threads", "1",
        ] + options
        var arguments = ["--nofile=\(soft):\(hard)"]
        if heldFiles > 0 {
            // Descriptors 20 and up, opened on /dev/null and inherited across exec.
            let open = "for fd in $(seq 20 \(19 + heldFiles)); do eval \"exec $fd</dev/null\"; done; exec \"$@\""
            arguments += ["/bin/bash", "-c", open, "bash"] + serin
        } else {
            arguments += serin
        }
        let gateway = try SerinProcess.launch(arguments, program: prlimit)
        #expect(await gateway.waitForOutput("listening on 127.0.0.1:\(port)", timeout: .seconds(30)), "\(gateway.printed)")
        return (gateway, port, admin)
    }

    /// User plus system CPU time `pid` has used, in clock ticks (`/proc/PID/stat` fields 14 and 15).
    private static func cpuTicks(of pid: Int32) throws -> Int {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command name, which is in parentheses and may hold spaces: state is field 3.
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        return Int(fields[11])! + Int(fields[12])!
    }

    /// The connections the log's once-a-second lines say were refused, added up.
    private static func refusedInLog(_ printed: String) -> Int {
        printed.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: " connection(s) refused in the last second") else { return nil }
            return Int(line[..<range.lowerBound].split(separator: " ").last ?? "")
        }.reduce(0, +)
    }

    private static func metric(_ name: String, admin: Int) async throws -> Int? {
        let page = try await Curl.get("http://127.0.0.1:\(admin)/metrics")
        let line = page.body.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Int($0.split(separator: " ")[1]) }
    }

    @Test("with the soft limit under the hard one, it raises it; with too few for --max-connections, it caps client connections to fit and refuses the rest as it accepts them")
    func raisesAndCaps() async throws {
        let backends = TestBackends(threads: 1)
        let group = backends.group
        guard let raised = try await Self.launch(soft: 64, hard: 4096, backends: backends) else { return }
        let limits = try String(contentsOfFile: "/proc/\(raised.gateway.pid)/limits", encoding: .utf8)
        let openFiles = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
        #expect(openFiles.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).prefix(2) == ["4096", "4096"], "\(openFiles)")
        await raised.gateway.kill(SIGTERM)

        // 200 descriptors: 50 kept back, two per connection for the rest.
        guard let capped = try await Self.launch(soft: 200, hard: 200, backends: backends) else { return }
        #expect(capped.gateway.printed.contains("client connections capped at 75 by the open-file limit of 200"), "\(capped.gateway.printed)")
        var clients: [RawConnection] = []
        for _ in 0..<90 { clients.append(try await RawConnection.connect(port: capped.port, group: group)) }
        #expect(await eventually(.seconds(10)) { clients.filter(\.isClosed).count == 15 }, "\(clients.filter(\.isClosed).count) closed")
        #expect(try await Self.metric("serin_gateway_downstream_connections_overflow_total", admin: capped.admin) == 15)
        #expect(try await Self.metric("serin_gateway_downstream_connections_active", admin: capped.admin) == 75)
        // Once a second the log says how many were refused in it: the 15 may span two of its lines.
        #expect(await eventually(.seconds(5)) { Self.refusedInLog(capped.gateway.printed) == 15 }, "\(capped.gateway.printed)")
        // The cap was the open-file limit's, not --max-connections' (the default, 16,384): the line says which.
        #expect(capped.gateway.printed.contains(
            "75 client connections were open, the most allowed as the open-file limit allows (--max-connections 16384 needs a higher one)"),
            "\(capped.gateway.printed)")
        for client in clients { await client.close() }
        await capped.gateway.kill(SIGTERM)
        await backends.shutdown()
    }

    @Test("a cap under the default --max-connections is not said at start unless it is low (under 512); under a --max-connections written, it is a warning that names it")
    func capSaidWhereItBites() async throws {
        let backends = TestBackends(threads: 1)
        // 4,096 descriptors hold 1,920 connections, under the default 16,384: nothing a user asked for is cut.
        guard let quiet = try await Self.launch(soft: 4096, hard: 4096, backends: backends) else { return }
        try await Task.sleep(for: .milliseconds(200))
        #expect(!quiet.gateway.printed.contains("capped"), "\(quiet.gateway.printed)")
        await quiet.gateway.kill(SIGTERM)
        // It is there at debug level.
        let json = ["--log-format", "json"]
        guard let debug = try await Self.launch(soft: 4096, hard: 4096, options: json + ["--log-level", "debug"], backends: backends) else { return }
        let said = debug.gateway.printed.split(separator: "\n").filter { $0.contains("client connections capped at 1920") }
        #expect(said.count == 1 && said[0].contains(#""level":"debug""#), "\(debug.gateway.printed)")
        await debug.gateway.kill(SIGTERM)
        // The same limit under --max-connections 5000, written: a warning, as nginx warns of worker_connections over the limit.
        guard let written = try await Self.launch(soft: 4096, hard: 4096, options: json + ["--max-connections", "5000"], backends: backends) else { return }
        let warned = written.gateway.printed.split(separator: "\n").filter { $0.contains("client connections capped at 1920") }
        #expect(warned.count == 1 && warned[0].contains(#""level":"warning""#), "\(written.gateway.printed)")
        #expect(warned.first?.contains(
            "client connections capped at 1920 by the open-file limit of 4096 (each takes two descriptors, its own and its upstream's): "
                + "--max-connections 5000 needs a higher one; raise the hard limit") == true, "\(written.gateway.printed)")
        await written.gateway.kill(SIGTERM)
        await backends.shutdown()
    }

    @Test("out of file descriptors, it stops accepting for a moment instead of retrying in a busy loop, says why, keeps a few free so its admin endpoint still answers, and serves again once descriptors are free")
    func pausesAcceptingWhenOutOfDescriptors() async throws {
        let backends = TestBackends(threads: 1)
        let group = backends.group
        // 128 descriptors, 80 of them held from the start: the cap (48 connections) is more than what is left.
        guard let started = try await Self.launch(soft: 128, hard: 128, heldFiles: 80, backends: backends) else { return }
        let (gateway, port, admin) = started
        var clients: [RawConnection] = []
        for _ in 0..<60 { clients.append(try await RawConnection.connect(port: port, group: group)) }
        // It stops short of the last 16 (an eighth of 128), as it stops when the kernel fails an accept.
        #expect(await gateway.waitForOutput("fewer than 16 file descriptors free, kept for the admin endpoint and the runtime", timeout: .seconds(5)), "\(gateway.printed)")
        #expect(gateway.printed.contains("accept(s) failed in the last second"))
        // What it keeps lets the admin endpoint answer meanwhile: how an operator sees why the gateway's port waits.
        #expect(try await Self.metric("serin_gateway_accept_failures_total", admin: admin) ?? 0 > 0, "\(gateway.printed)")
        #expect(try await Self.metric("serin_gateway_downstream_connections_active", admin: admin) ?? 60 < 60, "\(gateway.printed)")
        // Retrying accept in a loop takes a whole core (100 ticks a second); pausing takes next to nothing.
        let before = try Self.cpuTicks(of: gateway.pid)
        try await Task.sleep(for: .seconds(1))
        let spent = try Self.cpuTicks(of: gateway.pid) - before
        #expect(spent < 30, "\(spent) ticks of CPU in one second while out of file descriptors")
        for client in clients { await client.close() }
        let served = await eventually(.seconds(10)) {
            guard let client = try? await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: group) else { return false }
            defer { Task { await client.close() } }
            return (try? await client.send(.GET, "/", headers: [("host", "web")]))?.bodyText == "served"
        }
        #expect(served, "\(gateway.printed)")
        await gateway.kill(SIGTERM)
        await backends.shutdown()
    }
}

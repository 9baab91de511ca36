import ArgumentParser
import Foundation
@testable import SerinCLI
import NIOPosix
import SerinListener
import SerinTesting
import Testing

/// Where the steering commands find a running Serin: `--server`, else `SERIN_SERVER`, else the default
/// address; and what they say when nothing answers there.
@Suite("--server and SERIN_SERVER")
struct ServerOptionTests {
    @Test(
        "says no Serin is answering, and how to point at one, when nothing listens at the address",
        arguments: [["status"], ["promote", "web"], ["history", "web"]]
    )
    func nothingListening(command: [String]) async throws {
        let refusing = try RefusingPort()
        let server = "http://127.0.0.1:\(refusing.port)"
        let result = try await SerinProcess.run(command + ["--server", server])
        withExtendedLifetime(refusing) {}
        #expect(result.status == 1)
        #expect(
            result.stderr == "error: no Serin answering at \(server): is `serin up` (or `serin gateway`) running? pass --server URL or set SERIN_SERVER\n",
            "\(result.stderr)"
        )
    }

    @Test(
        "an admin API that accepts the connection and never answers is given up on after --timeout, saying so, not after half a minute",
        arguments: [["status"], ["status", "web"], ["promote", "web"], ["history", "web"]]
    )
    func acceptsButNeverAnswers(command: [String]) async throws {
        let silent = try await StalledBackend.start(group: MultiThreadedEventLoopGroup.singleton)
        let started = ContinuousClock.now
        let result = try await SerinProcess.run(command + ["--server", "http://127.0.0.1:\(silent.port)", "--timeout", "1500ms"], timeout: .seconds(30))
        let took = ContinuousClock.now - started
        await silent.close()
        #expect(silent.acceptedConnections >= 1, "the connection was accepted")
        #expect(result.status == 1)
        #expect(result.stderr == "error: the admin API at 127.0.0.1:\(silent.port) accepted the connection but did not answer within 1.5 s\n",
                "\(result.stderr)")
        #expect(took < .seconds(10), "gave up after \(took)")
    }

    @Test("the admin API's answer is awaited 10 s unless --timeout says otherwise (seconds, or 2s, 500ms); a cluster command's stays 30 s")
    func defaultTimeout() throws {
        #expect(try StatusCommand.parse([]).endpoint.server.client.timeout == .seconds(10))
        #expect(try StatusCommand.parse(["--timeout", "2s"]).endpoint.server.client.timeout == .seconds(2))
        #expect(try ApplyCommand.parse(["-f", "x.yaml", "--timeout", "3s"]).server.client.timeout == .seconds(3))
        #expect(ServerOption.clusterCommandTimeout == .seconds(30))
        #expect(throws: (any Error).self) { try StatusCommand.parse(["--timeout", "0s"]) }
        // A connect that hangs gives up within the deadline, so it is said as nothing answering, not as no answer.
        #expect(AdminClient.connectTimeout(within: .seconds(2)) == .milliseconds(1600))
        #expect(AdminClient.connectTimeout(within: .seconds(30)) == .seconds(5))
        // A bare number is seconds, as --drain-timeout takes it.
        #expect(try StatusCommand.parse(["--timeout", "3"]).endpoint.server.client.timeout == .seconds(3))
        #expect(try StatusCommand.parse(["--timeout", "0.5"]).endpoint.server.client.timeout == .milliseconds(500))
    }

    @Test("reads SERIN_SERVER when --server is not given, and --server wins over it")
    func environment() async throws {
        let answering = try await TestHTTPServer.start(group: MultiThreadedEventLoopGroup.singleton) { request in
            request.path == "/canaries" ? .content("[]", contentType: "application/json") : .text("not found", status: 404)
        }
        let refusing = try RefusingPort()
        let fromEnvironment = try await SerinProcess.run(["status"], environment: ["SERIN_SERVER": "http://127.0.0.1:\(answering.port)/"])
        let overridden = try await SerinProcess.run(
            ["status", "--server", "http://127.0.0.1:\(refusing.port)"], environment: ["SERIN_SERVER": "http://127.0.0.1:\(answering.port)"]
        )
        await answering.close()
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
        #expect(fromEnvironment.stdout.hasPrefix("no Canaries"), "\(fromEnvironment.stdout)")
        #expect(overridden.status == 1)
        #expect(overridden.stderr.contains("no Serin answering at http://127.0.0.1:\(refusing.port):"), "\(overridden.stderr)")
        // An address nothing on the command line named is said to come from the variable.
        let unnamed = try await SerinProcess.run(["status"], environment: ["SERIN_SERVER": "http://127.0.0.1:\(refusing.port)"])
        #expect(unnamed.stderr == "error: no Serin answering at http://127.0.0.1:\(refusing.port) (from SERIN_SERVER): is `serin up` (or `serin gateway`) running? "
            + "pass --server URL or change SERIN_SERVER\n", "\(unnamed.stderr)")
        withExtendedLifetime(refusing) {}
    }

    @Test("-n alone with no kubeconfig to read says it picks a cluster's namespace, and to leave it out for serin up")
    func namespaceWithoutCluster() async throws {
        let missing = try SerinProcess.temporaryDirectory().appendingPathComponent("no-kubeconfig").path
        let result = try await SerinProcess.run(["status", "-n", "default"], environment: ["KUBECONFIG": missing])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: \(missing): cannot read the kubeconfig"), "\(result.stderr)")
        #expect(result.stderr.hasSuffix(" (-n picks a namespace in a Kubernetes cluster; for `serin up`'s Canaries, leave it out)\n"), "\(result.stderr)")
        let every = try await SerinProcess.run(["status", "-A"], environment: ["KUBECONFIG": missing])
        #expect(every.status == 1)
        #expect(every.stderr.hasSuffix(
            " (-A lists every namespace of a Kubernetes cluster; `serin status` alone lists all of `serin up`'s Canaries, whatever their namespace)\n"),
            "\(every.stderr)")
    }

    @Test("a reader that goes away (serin status | head) ends the command quietly, as SIGPIPE ends any tool, not with a crash")
    func readerGone() async throws {
        let answering = try await TestHTTPServer.start(group: MultiThreadedEventLoopGroup.singleton) { request in
            request.path == "/canaries" ? .content("[]", contentType: "application/json") : .text("not found", status: 404)
        }
        let result = try await SerinProcess.run(["status", "--server", "http://127.0.0.1:\(answering.port)"], stdoutReaderGone: true)
        await answering.close()
        // Its connection to the server had made the process ignore SIGPIPE (SwiftNIO does), and Foundation's write
        // then stopped it with "Fatal error: ... Broken pipe" and a stack trace.
        #expect(result.status == 128 + SIGPIPE, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
    }

    @Test("refuses a SERIN_SERVER that is not a URL, naming the variable")
    func badEnvironment() async throws {
        let result = try await SerinProcess.run(["status"], environment: ["SERIN_SERVER": "ftp://serin:9900"])
        #expect(result.status != 0)
        #expect(result.stderr.contains(#"SERIN_SERVER takes http://HOST:PORT, got "ftp://serin:9900""#), "\(result.stderr)")
    }
}

import ArgumentParser
import NIOPosix
import Logging
import SerinCore
import SerinDemoApp
import SerinLifecycle
import SerinListener
import SerinSystem

/// `serin demo-app`: one version of the seed's canary-tester page, to put behind the gateway.
struct DemoAppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-app",
        abstract: "Serve the seed's canary-tester page as one version, optionally failing or slow.",
        discussion: "Example: serin demo-app --app-version v2 --port 18082 --error-rate 0.2 --latency 150ms"
    )

    @Option(name: .customLong("app-version"), help: "The version the page shows and the x-serin-demo-version header carries.")
    var version: String = "v1"

    @Option(parsing: .unconditional, help: "The port to listen on.")
    var port: Int = 18081

    @Option(help: "The address to listen on.")
    var address: String = "127.0.0.1"

    @Option(parsing: .unconditional, help: "Share of requests answered with 500, from 0 to 1.")
    var errorRate: Double = 0

    @Option(parsing: .unconditional, help: ArgumentHelp("Added to every answer, e.g. 150ms or 1s.", valueName: "duration"))
    var latency: DurationArgument = DurationArgument(.zero)

    @OptionGroup var logging: LogOptions

    func validate() throws {
        if !(0...1).contains(errorRate) { throw ValidationError("--error-rate must be between 0 and 1, got \(errorRate)") }
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535, got \(port)") }
    }

    func run() async throws {
        await SignalledGroup.trapSignals()
        let app = DemoApp(.init(version: version, errorRate: errorRate, latency: latency.duration))
        let logger = logging.logger("demo-app")
        let server: HTTPListener
        do {
            server = try await app.serve(group: MultiThreadedEventLoopGroup.singleton, host: address, port: port)
        } catch {
            logging.reporter(logger).error("cannot listen on \(address):\(port): \(TransportErrorText.describe(error)); pick another with --port N")
            throw ExitCode(1)
        }
        try await SignalledGroup.run(
            [ServicePiece.stopping("demo app") { await server.close() }], label: "serin demo-app", logger: logger,
            ready: "serin demo-app: \(version) on http://\(address):\(server.port) (error rate \(errorRate), latency \(latency))"
        )
    }
}

/// A duration written the way operators write them: `150ms`, `2s`, `1m`, `1h`.
struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var duration: Duration
    var text: String

    init(_ duration: Duration) {
        self.duration = duration
        self.text = Readable.duration(duration)
    }

    init?(argument: String) {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, milliseconds) in units where argument.hasSuffix(suffix) {
            let number = argument.dropLast(suffix.count)
            // "ms" also ends in "s": a number part that still ends in "m" belongs to "ms".
            // Up to about 30,000 years: Int64 milliseconds, with room; more (or 1e300s) is refused, not a crash.
            guard let value = Double(number), value >= 0, value * Double(milliseconds) < 1e15 else { continue }
            duration = .milliseconds(Int64(value * Double(milliseconds)))
            text = argument
            return
        }
        return nil
    }

    var description: String { text }
}

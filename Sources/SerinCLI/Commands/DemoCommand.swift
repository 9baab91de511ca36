import ArgumentParser
import NIOCore
import Foundation
import NIOPosix
import SerinCore
import SerinDemoApp
import SerinGateway
import SerinHTTP
import SerinManifests

/// `serin demo`: the seed's canary release, end to end, on this machine.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the seed's canary release on this machine: v1, then 90/10, then all traffic on v2.",
        discussion: """
            Starts the demo app as v1 and v2 where examples/seed/web-serviceentry.yaml says they live,
            Serin's gateway with the seed's Gateway and VirtualService, then applies the seed's edits
            (examples/seed/steps/) one by one, sending traffic after each and printing the split it observed.
            """
    )

    @Option(help: ArgumentHelp("The directory holding the seed's manifests.", valueName: "dir"))
    var manifests: String = "examples/seed"

    @Option(help: "Added to every Gateway server port: the seed's port 80 listens on 80 + this.")
    var portOffset: Int = 8000

    @Option(help: "Added to every ServiceEntry endpoint port the demo apps listen on (18081, 18082).")
    var appPortOffset: Int = 0

    @Option(help: ArgumentHelp("The admin endpoint's address.", valueName: "host:port"))
    var admin: HostPort = HostPort(host: "127.0.0.1", port: 9900)

    @Option(help: "Requests sent through the gateway after each step.")
    var requests: Int = 1000

    @Option(help: "Event-loop threads for the gateway (default: the number of cores).")
    var threads: Int = System.coreCount

    func validate() throws {
        if requests < 4 { throw ValidationError("--requests must be at least 4, got \(requests)") }
        if threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    /// The seed's story: its first VirtualService, then its two edits.
    static let story: [(title: String, file: String?)] = [
        ("all traffic on v1 (the seed's first VirtualService)", nil),
        ("90/10 (the seed's first edit)", "steps/web-gateway-virtualservice-90-10.yaml"),
        ("0/100 (the seed's last edit: fully migrated)", "steps/web-gateway-virtualservice-0-100.yaml"),
    ]

    func run() async throws {
        guard FileManager.default.fileExists(atPath: manifests) else {
            Terminal.err("error: \(manifests) not found: run from the repository root or pass --manifests DIR")
            throw ExitCode(1)
        }
        let (set, _, loadFailed) = ManifestReading.read(paths: [manifests], recursive: false)
        if set.hasErrors || loadFailed { throw ExitCode(1) }
        let resources = set.resources.map { $0.shiftingEndpointPorts(by: appPortOffset) }
        let config = MeshConfig(resources: resources)

        let apps = try await startApps(for: config)
        defer { Task { for app in apps { await app.close() } } }
        let runtime: GatewayRuntime
        do {
            runtime = try await GatewayRuntime.start(
                resources: resources, threads: threads, bindHost: "127.0.0.1", portMapping: .offset(portOffset),
                adminHost: admin.host, adminPort: admin.port
            )
        } catch let error as GatewayRuntime.StartError {
            Terminal.err("error: \(error)")
            for app in apps { await app.close() }
            throw ExitCode(1)
        }
        guard let port = runtime.gateway.boundPort(forDeclared: 80) else {
            Terminal.err("error: the seed's Gateway has no port 80 server in \(manifests)")
            await runtime.shutdown()
            throw ExitCode(1)
        }
        Terminal.out("serin demo: gateway on http://127.0.0.1:\(port)/ (admin \(runtime.adminURL)); try it in a browser")

        var failures = 0
        var lastSplit: [String: Int] = [:]
        for (index, step) in Self.story.enumerated() {
            Terminal.out("")
            Terminal.out("step \(index + 1)/\(Self.story.count): \(step.title)")
            if let file = step.file {
                let path = (manifests as NSString).appendingPathComponent(file)
                let loaded = ManifestLoader.load(paths: [path], recursive: false)
                for diagnostic in loaded.diagnostics { Terminal.err(diagnostic.description) }
                Terminal.out("  $ serin apply -f \(path)")
                let report = await runtime.live.apply(loaded.sources)
                for line in report.results { Terminal.out("  \(line)") }
                for line in report.diagnostics { Terminal.err("  \(line)") }
                if !report.applied {
                    await runtime.shutdown()
                    throw ExitCode(1)
                }
            }
            let weights = await Self.weights(in: runtime.live.config)
            Terminal.out("  VirtualService weights: " + weights.map { "\($0.host) \($0.weight)%" }.joined(separator: ", "))
            let perConnection = max(1, requests / 4)
            let tally = try await DemoTraffic.run(
                port: port, connections: 4, requestsPerConnection: perConnection, group: runtime.gateway.group
            )
            failures += tally.failures.count
            lastSplit = tally.counts
            Terminal.out("  observed over \(tally.total) requests: \(Self.describe(tally))")
        }
        Terminal.out("")
        let allOnV2 = lastSplit.keys.sorted() == ["v2"]
        if failures == 0 && allOnV2 {
            Terminal.out("serin demo: done — every request answered, all traffic now on v2")
        } else {
            Terminal.out("serin demo: finished with \(failures) failed request(s)\(allOnV2 ? "" : ", traffic not fully on v2")")
        }
        await runtime.shutdown()
        for app in apps { await app.close() }
        if failures > 0 || !allOnV2 { throw ExitCode(1) }
    }

    /// One demo app per ServiceEntry endpoint, answering as the endpoint's `version` label.
    private func startApps(for config: MeshConfig) async throws -> [SimpleHTTPServer] {
        var apps: [SimpleHTTPServer] = []
        for service in config.services {
            for endpoint in service.endpoints {
                let version = endpoint.labels["version"] ?? service.name.name
                for port in Set(endpoint.ports.values) {
                    do {
                        let app = try await DemoApp(.init(version: version))
                            .serve(group: MultiThreadedEventLoopGroup.singleton, host: endpoint.address, port: port)
                        apps.append(app)
                        Terminal.out("serin demo: \(version) of the demo app on http://\(endpoint.address):\(port) (\(service.hosts[0]))")
                    } catch {
                        for app in apps { await app.close() }
                        Terminal.err(
                            "error: cannot start the \(version) demo app on \(endpoint.address):\(port): \(error); "
                                + "pick other ports with --app-port-offset N"
                        )
                        throw ExitCode(1)
                    }
                }
            }
        }
        return apps
    }

    /// The destinations and weights of the seed's route (the first route of web-virtualservice).
    static func weights(in config: MeshConfig) -> [(host: String, weight: Int)] {
        guard let route = config.virtualServices.first(where: { $0.name.name == "web-virtualservice" })?.http.first else {
            return []
        }
        let single = route.destinations.count == 1
        return route.destinations.map { ($0.destination.host, single ? 100 : $0.weight) }
    }

    static func describe(_ tally: VersionTally) -> String {
        let total = max(tally.total, 1)
        var parts = ["v1", "v2"].map { version -> String in
            let count = tally.counts[version] ?? 0
            return "\(version) \(count) (\(String(format: "%.1f", Double(count) * 100 / Double(total)))%)"
        }
        parts.append("failed \(tally.failures.count)")
        return parts.joined(separator: ", ")
    }
}

extension LocatedResource {
    /// The same resource with every ServiceEntry endpoint port moved by `offset` (`--app-port-offset`).
    func shiftingEndpointPorts(by offset: Int) -> LocatedResource {
        guard offset != 0, case .serviceEntry(var entry) = resource else { return self }
        entry.endpoints = entry.endpoints.map { endpoint in
            var endpoint = endpoint
            endpoint.ports = endpoint.ports.mapValues { $0 + offset }
            return endpoint
        }
        var copy = self
        copy.resource = .serviceEntry(entry)
        return copy
    }
}

import ArgumentParser
import SerinCore
import SerinGateway
import SerinManifests

/// `serin route`: which VirtualService route a request would take, and where it could go — nothing is sent.
struct RouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Explain which route a request would take and what the gateway would do with it, without sending it.",
        discussion: """
            Prints the route and the match that took the request; then what the route does besides forwarding: a \
            direct response or redirect (nothing forwarded), a fault (abort or delay), a rewrite, header changes, \
            the timeout, the retries, the mirror and stickiness; then the weighted destinations and their endpoints.
            """
    )

    @OptionGroup var manifests: ManifestOptions

    @Option(help: "The request's Host (authority).")
    var host: String = "localhost"

    @Option(help: "The request target: path and optional ?query.")
    var path: String = "/"

    @Option(name: .customLong("header"), help: ArgumentHelp("A request header (repeatable).", valueName: "name=value"))
    var headers: [String] = []

    @Option(help: "The request method.")
    var method: String = "GET"

    @Option(help: "The Gateway server port the request arrives on.")
    var port: Int = 80

    func validate() throws {
        for header in headers where !header.contains("=") {
            throw ValidationError("--header takes name=value, got \"\(header)\"")
        }
    }

    func run() throws {
        let (set, _, loadFailed) = manifests.load()
        if set.hasErrors || loadFailed { throw ExitCode(1) }
        let headerList = HeaderList(headers.map { header in
            let parts = header.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]).lowercased(), String(parts[1]))
        })
        let request = RequestAttributes(method: method.uppercased(), target: path, authority: host, headers: headerList)
        let table = RouteTable(compiling: set.config)
        Terminal.out("request: \(request.method) \(path) host \"\(host)\" port \(port)")
        switch table.resolve(request, port: port) {
        case .noRoute(let reason):
            Terminal.out("result:  404, \(reason)")
            throw ExitCode(1)
        case .route(let route):
            Terminal.out("route:   \(route.label)")
            let admitting = Set(table.listeners[port]?.servers.map(\.gateway) ?? [])
            if let matched = route.matches.firstIndex(where: { $0.matches(request, gateways: admitting, port: port) }) {
                Terminal.out("match:   [\(matched)] \(RouteTableDocument.RouteDocument.describe(route.matches[matched]))")
            } else {
                Terminal.out("match:   any request (the route has no match conditions)")
            }
            if let answer = RouteExplanation.localAnswer(route.policy) {
                Terminal.out("result:  \(answer)")
                return
            }
            for (label, text) in RouteExplanation.steps(route.policy, stickiness: route.stickiness) {
                Terminal.out("\(label + ":")\(String(repeating: " ", count: max(1, 9 - label.count - 1)))\(text)")
            }
            Terminal.out("destinations:")
            for destination in RouteTableDocument.RouteDocument(route).destinations {
                let endpoints = destination.endpoints.isEmpty ? "no endpoints: 503" : destination.endpoints.joined(separator: ", ")
                let subset = destination.subset.map { " subset \($0)" } ?? ""
                Terminal.out("  \(String(destination.weight).leftPadded(to: 3))%  \(destination.host)\(subset):\(destination.port) → \(endpoints)")
            }
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

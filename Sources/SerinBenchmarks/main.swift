import Foundation
import SerinCore

// Micro-benchmarks for the gateway's per-request decisions, without sockets: route matching in a table of
// 100 routes, host lookup among 2,000 VirtualServices, and the weighted choice of a destination. Run in release mode:
//
//     swift run -c release serin-bench [--iterations N] [--rounds R]
//
// Prints nanoseconds per operation, the median of R rounds of N operations each.

struct Options {
    var iterations = 200_000
    var rounds = 7

    init(_ arguments: [String]) {
        var remaining = arguments.dropFirst()
        while let flag = remaining.popFirst() {
            switch flag {
            case "--iterations": iterations = remaining.popFirst().flatMap(Int.init) ?? iterations
            case "--rounds": rounds = remaining.popFirst().flatMap(Int.init) ?? rounds
            case "-h", "--help":
                print("usage: serin-bench [--iterations N] [--rounds R]")
                exit(0)
            default:
                print("serin-bench: unknown argument \(flag); try --help")
                exit(2)
            }
        }
    }
}

/// A table like a real ingress: 100 routes on one host, each a URI prefix, every fifth also needing a header.
func hundredRouteTable() -> RouteTable {
    let gatewayName = ResourceName(name: "web-gateway")
    let gateway = Gateway(
        name: gatewayName, selector: ["istio": "ingressgateway"],
        servers: [Gateway.Server(port: 80, portName: "http", protocol: "HTTP", hosts: ["*.example.com", "web"])]
    )
    let routes = (0..<100).map { index -> HTTPRoute in
        var match = RequestMatch(uri: .prefix("/svc\(index)/"))
        if index % 5 == 0 { match.headers = ["x-tenant": .exact("tenant-\(index)")] }
        return HTTPRoute(
            name: "r\(index)", matches: [match],
            destinations: [
                WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 90),
                WeightedDestination(destination: Destination(host: "web-v2-service", port: 80), weight: 10),
            ]
        )
    }
    let virtualService = VirtualService(
        name: ResourceName(name: "web"), hosts: ["web", "*.example.com"], gateways: [gatewayName], http: routes
    )
    let services = ["web-v1-service", "web-v2-service"].map { name in
        MeshService(
            name: ResourceName(name: name), hosts: MeshService.kubernetesHosts(name: name, namespace: "default"),
            ports: [ServicePort(number: 80, name: "http")],
            endpoints: [ServiceEndpoint(address: "127.0.0.1", ports: ["http": 8080])]
        )
    }
    return RouteTable(compiling: MeshConfig(gateways: [gateway], virtualServices: [virtualService], services: services))
}

/// Many tenants on one gateway: 2,000 VirtualServices, each for its own host, and one wildcard.
func thousandsOfHostsTable() -> RouteTable {
    let gatewayName = ResourceName(name: "edge")
    let gateway = Gateway(
        name: gatewayName, selector: ["istio": "ingressgateway"],
        servers: [Gateway.Server(port: 80, portName: "http", protocol: "HTTP", hosts: ["*"])]
    )
    let destination = WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 100)
    var virtualServices = (0..<2_000).map { index in
        VirtualService(
            name: ResourceName(name: "tenant\(index)"), hosts: ["tenant\(index).example.com"], gateways: [gatewayName],
            http: [HTTPRoute(name: "t\(index)", matches: [], destinations: [destination])])
    }
    virtualServices.append(VirtualService(
        name: ResourceName(name: "catch-all"), hosts: ["*.example.org"], gateways: [gatewayName],
        http: [HTTPRoute(name: "catch-all", matches: [], destinations: [destination])]))
    return RouteTable(compiling: MeshConfig(gateways: [gateway], virtualServices: virtualServices, services: []))
}

/// Nanoseconds per call of `body`, the median over rounds.
func measure(_ options: Options, _ body: () -> Int) -> (nanoseconds: Double, checksum: Int) {
    var samples: [Double] = []
    var checksum = 0
    for _ in 0..<options.rounds {
        let start = ContinuousClock.now
        for _ in 0..<options.iterations { checksum &+= body() }
        let elapsed = ContinuousClock.now - start
        let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        samples.append(nanoseconds / Double(options.iterations))
    }
    return (samples.sorted()[samples.count / 2], checksum)
}

let options = Options(CommandLine.arguments)
let table = hundredRouteTable()

func request(_ path: String, host: String = "web", headers: [(name: String, value: String)] = []) -> RequestAttributes {
    RequestAttributes(method: "GET", target: path, authority: host, headers: HeaderList(headers))
}

let cases: [(String, RequestAttributes)] = [
    ("first route (/svc1/)", request("/svc1/index.html")),
    ("middle route (/svc50/, header)", request("/svc50/a?b=c", host: "shop.example.com:80", headers: [("x-tenant", "tenant-50")])),
    ("last route (/svc99/)", request("/svc99/x")),
    ("no route (404 after 100)", request("/nowhere")),
]

print("serin-bench: \(options.rounds) rounds x \(options.iterations) operations, median ns/op")
print("route matching, 100 routes:")
for (label, attributes) in cases {
    let (nanoseconds, checksum) = measure(options) {
        if case .route(let route) = table.resolve(attributes, port: 80) { return route.index }
        return -1
    }
    print("  \(label.padding(toLength: 34, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", nanoseconds)) ns  (\(checksum / options.rounds / options.iterations))")
}

let hosts = thousandsOfHostsTable()
print("host lookup, 2,000 VirtualServices of distinct hosts:")
for (label, host) in [
    ("first host", "tenant0.example.com"), ("last host", "tenant1999.example.com"),
    ("last host, upper case", "TENANT1999.example.com"), ("wildcard after all", "shop.example.org"),
] {
    let attributes = request("/", host: host)
    let (nanoseconds, checksum) = measure(options) {
        if case .route(let route) = hosts.resolve(attributes, port: 80) { return route.name?.utf8.count ?? 0 }
        return -1
    }
    print("  \(label.padding(toLength: 34, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", nanoseconds)) ns  (\(checksum / options.rounds / options.iterations))")
}

guard case .route(let route) = table.resolve(cases[0].1, port: 80) else { fatalError("the first route must match") }
var state: UInt64 = 0x1234_5678
let (choice, picks) = measure(options) {
    state &+= 0x9E37_79B9_7F4A_7C15
    let roll = Int(state >> 33) % route.totalWeight
    return route.target(forRoll: roll)?.weight ?? 0
}
print("weighted choice, 90/10:")
print("  \("pick a destination".padding(toLength: 34, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", choice)) ns  (mean weight \(picks / options.rounds / options.iterations))")

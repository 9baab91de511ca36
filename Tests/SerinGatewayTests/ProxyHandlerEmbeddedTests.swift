import NIOCore
import NIOEmbedded
import SerinCore
@testable import SerinGateway
import SerinTesting
import Testing

/// The proxy handler with bytes in and bytes out on NIO's `EmbeddedChannel`: the answers the gateway gives
/// itself, which need no upstream.
@Suite("Proxy handler on an embedded channel")
struct ProxyHandlerEmbeddedTests {
    /// A client connection to a handler serving `table`.
    final class Client {
        let channel = EmbeddedChannel()
        let telemetry = GatewayTelemetry(shardCount: 1)
        /// The proxy, for as long as something holds it.
        weak var handler: ProxyHandler?
        /// The live table the handler routes by, as `serin apply` replaces it.
        let routes: RouteTableBox

        init(_ table: RouteTable, limits: GatewayLimits = .default) throws {
            let loop = LoopContext(eventLoop: channel.embeddedEventLoop, shard: 0, connectTimeout: .seconds(1))
            routes = RouteTableBox(table)
            let handler = ProxyHandler(
                routes: routes, clusters: UpstreamClusters(loops: [loop]), telemetry: telemetry, loop: loop,
                declaredPort: 80, limits: limits, deadlines: ConnectionDeadlines(limits: limits)
            )
            try channel.pipeline.syncOperations.addHandler(handler)
            self.handler = handler
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40_000)).wait()
        }

        func send(_ text: String) throws {
            try channel.writeInbound(ByteBuffer(string: text))
        }

        /// Every byte the handler wrote to the client so far.
        func received() throws -> String {
            var text = ""
            while let bytes = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: bytes) }
            return text
        }

        var flags: Set<String> {
            Set(telemetry.snapshot().series.keys.map { "\($0.responseCode) \($0.responseFlags)" })
        }
    }

    static func table() throws -> RouteTable {
        try RoutePolicyTests.table(
            routes: """
                  - match: [{uri: {prefix: /old}}]
                    redirect: {uri: /new, redirectCode: 302}
                  - match: [{uri: {exact: /maintenance}}]
                    directResponse: {status: 503, body: {string: "down for maintenance"}}
                """,
            services: [:]
        )
    }

    @Test("a table replaced between two requests on one connection answers the second: the loop's copy follows each replacement")
    func replacedTable() throws {
        let client = try Client(try Self.table())
        let back = try RoutePolicyTests.table(
            routes: """
                  - match: [{uri: {exact: /maintenance}}]
                    directResponse: {status: 200, body: {string: "back again"}}
                """,
            services: [:]
        )
        let request = "GET /maintenance HTTP/1.1\r\nHost: shop\r\n\r\n"
        try client.send(request)
        #expect(try client.received().hasPrefix("HTTP/1.1 503 "))
        client.routes.replace(with: back)
        try client.send(request)
        let second = try client.received()
        #expect(second.hasPrefix("HTTP/1.1 200 ") && second.hasSuffix("back again"), "\(second)")
        client.routes.replace(with: try Self.table())
        try client.send(request)
        #expect(try client.received().hasPrefix("HTTP/1.1 503 "))
    }

    @Test("each request on a connection is routed by its own host, whichever host the request before it named")
    func hostPerRequest() throws {
        let table = try RoutePolicyTests.table(
            routes: """
                  - directResponse: {status: 200, body: {string: "any host"}}
                """,
            services: [:],
            more: """
                apiVersion: networking.istio.io/v1beta1
                kind: VirtualService
                metadata: {name: admin}
                spec:
                  hosts: [admin.example.com]
                  gateways: [web-gateway]
                  http:
                  - directResponse: {status: 200, body: {string: "admin host"}}
                """
        )
        let client = try Client(table)
        for (host, expected) in [
            ("shop", "any host"), ("admin.example.com", "admin host"), ("admin.example.com", "admin host"), ("shop", "any host"),
            ("admin.example.co", "any host"), ("ADMIN.example.com", "admin host"), ("shop", "any host"),
        ] {
            try client.send("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
            let answer = try client.received()
            #expect(answer.hasSuffix(expected), "host \(host): \(answer)")
        }
    }

    @Test("a request no route matches is answered 404, counted NR, and the connection stays open")
    func noRoute() throws {
        let client = try Client(try Self.table())
        try client.send("GET /nowhere HTTP/1.1\r\nHost: shop\r\n\r\n")
        let answer = try client.received()
        #expect(answer.hasPrefix("HTTP/1.1 404 Not Found\r\n"), "\(answer)")
        #expect(answer.contains("\r\n\r\nno route: "), "\(answer)")
        #expect(client.flags == ["404 NR"])
        #expect(client.channel.isActive)
    }

    @Test("pipelined requests sent in one write are answered in order, each in full")
    func pipelined() throws {
        let client = try Client(try Self.table())
        try client.send(
            "GET /old HTTP/1.1\r\nHost: shop\r\n\r\nGET /maintenance HTTP/1.1\r\nHost: shop\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: shop\r\n\r\n"
        )
        let answer = try client.received()
        let statuses = answer.split(separator: "HTTP/1.1 ").map { String($0.prefix(3)) }
        #expect(statuses == ["302", "503", "404"], "\(answer)")
        #expect(answer.contains("location: http://shop/new\r\n"))
        #expect(answer.contains("down for maintenance"))
        #expect(client.channel.isActive)
    }

    @Test(
        "a request that ends its connection gets its answer, then the connection closes and the request behind it is not read",
        arguments: [
            // Connection: close.
            ("GET /nowhere HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"),
            // HTTP/1.0 without keep-alive.
            ("GET /maintenance HTTP/1.0\r\nHost: shop\r\n\r\n", "HTTP/1.0 503 Service Unavailable\r\n"),
            // A body the gateway does not read: closing is simpler than draining it.
            ("POST /nowhere HTTP/1.1\r\nHost: shop\r\nContent-Length: 100\r\n\r\nabc", "HTTP/1.1 404 Not Found\r\n"),
        ])
    func answeredThenClosed(request: String, statusLine: String) throws {
        let client = try Client(try Self.table())
        try client.send(request + "GET /old HTTP/1.1\r\nHost: shop\r\n\r\n")
        let answer = try client.received()
        #expect(answer.hasPrefix(statusLine), "\(answer)")
        #expect(answer.contains("connection: close\r\n") || statusLine.hasPrefix("HTTP/1.0"), "\(answer)")
        #expect(!answer.contains("302"), "the request behind is never answered")
        #expect(!client.channel.isActive)
    }

    @Test("a route whose service has no endpoints is answered 503 UH")
    func noHealthyUpstream() throws {
        let client = try Client(RouteTable(compiling: SeedMesh.config(endpoints: [:], uriMatch: nil)))
        try client.send("GET / HTTP/1.1\r\nHost: shop\r\n\r\n")
        let answer = try client.received()
        #expect(answer.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), "\(answer)")
        #expect(answer.contains("no healthy upstream: web-v1-service has no endpoints"))
        #expect(client.flags == ["503 UH"])
        #expect(client.channel.isActive)
    }

    @Test(
        "a malformed or oversized head is answered with its status, counted DPE, and closed",
        arguments: [
            ("GET / HTTP/1.1\r\nHost shop\r\n\r\n", 400),
            ("GET /\(String(repeating: "a", count: 300)) HTTP/1.1\r\nHost: shop\r\n\r\n", 414),
            ("GET / HTTP/1.1\r\nHost: shop\r\nx-big: \(String(repeating: "b", count: 300))\r\n\r\n", 431),
        ])
    func rejected(request: String, status: Int) throws {
        let client = try Client(try Self.table(), limits: GatewayLimits(maxURIBytes: 200, maxHeaderBytes: 200))
        try client.send(request)
        let answer = try client.received()
        #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "\(answer)")
        #expect(answer.contains("connection: close\r\n"))
        #expect(client.flags == ["\(status) DPE"])
        #expect(!client.channel.isActive)
    }

    @Test(
        "a client that leaves during a fault's injected delay frees its proxy at once, not when the delay ends",
        arguments: ["fault: {delay: {fixedDelay: 30s, percentage: {value: 100}}}", "timeout: 30s\n    fault: {delay: {fixedDelay: 20s, percentage: {value: 100}}}"])
    func leavingDuringAnInjectedDelay(policy: String) throws {
        // The endpoint's port is never dialled: the delay comes before the connection.
        let table = try RoutePolicyTests.table(routes: "  - \(policy)\n    route: [{destination: {host: web}}]", services: ["web": [1]])
        let client = try Client(table)
        try client.send("GET / HTTP/1.1\r\nHost: shop\r\n\r\n")
        #expect(try client.received().isEmpty, "the request waits out its delay")
        try client.channel.close().wait()
        client.channel.embeddedEventLoop.run()
        #expect(client.handler == nil, "a timer of the abandoned exchange still holds the proxy handler")
        // Counted as Envoy counts a client gone before its answer, once: the end of the delay adds nothing.
        #expect(client.flags == ["0 DC"])
        client.channel.embeddedEventLoop.advanceTime(by: .seconds(40))
        #expect(client.flags == ["0 DC"])
        #expect(client.telemetry.snapshot().series.values.map(\.requests) == [1])
    }

    @Test("a head that arrives in pieces is answered once it is complete")
    func headInPieces() throws {
        let client = try Client(try Self.table())
        try client.send("GET /mainten")
        try client.send("ance HTTP/1.1\r\nHo")
        #expect(try client.received().isEmpty)
        try client.send("st: shop\r\n\r\n")
        #expect(try client.received().hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
    }
}

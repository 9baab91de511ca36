import NIOCore
import NIOHTTP1
import SerinCore

// MARK: Upgraded connections (WebSocket)
//
// As Envoy's `upgrade_configs`: a request with `Connection: upgrade` is routed like any other and sent on with
// its `Upgrade`; an upstream that answers `101 Switching Protocols` turns both connections into one byte tunnel
// until either side closes. The request is counted once, as `101`, when the tunnel starts (its duration is the
// time to the upgrade), and the route's `timeout` covers the wait for that answer only: a live tunnel is ended by
// the gateway's idle timeout (no bytes either way), a drain's deadline, or either side closing.

extension RequestHead {
    /// The protocols an HTTP/1.1 request asks to switch to, when the gateway passes the switch on: `Connection:
    /// upgrade` with an `Upgrade` field. `h2c` is never tunnelled (as Envoy refuses it): that request goes on as
    /// plain HTTP/1.1 without the fields.
    var passedUpgrade: String? {
        guard let value = askedUpgrade, Self.isWebSocket(value) else { return nil }
        return value
    }

    /// The protocol switch a request asks for that the gateway refuses (`403`), as Envoy refuses an upgrade its
    /// `upgrade_configs` do not list and Istio lists `websocket` alone; nil when it asks for none, for a WebSocket,
    /// or for `h2c` (which goes on as plain HTTP/1.1).
    var refusedUpgrade: String? {
        guard let value = askedUpgrade, !Self.isWebSocket(value) else { return nil }
        let protocols = value.split(separator: ",").map { $0.trimmingCharacters(in: " \t").lowercased() }
        return protocols.contains(where: { $0 == "h2c" || $0.hasPrefix("h2c/") }) ? nil : value
    }

    /// `Upgrade`'s value, when the request asks to switch protocols: `Connection: upgrade` beside it, over HTTP/1.1.
    private var askedUpgrade: String? {
        guard fields.contains(.upgrade), version == .http1_1, fields.connectionOptions.upgrade else { return nil }
        return fields.first(.upgrade)
    }

    private static func isWebSocket(_ value: String) -> Bool {
        ASCII.equal(value.utf8.lazy.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }, "websocket".utf8, ignoringCase: true)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in blanks: String) -> Substring {
        var text = self
        while let first = text.first, blanks.contains(first) { text = text.dropFirst() }
        while let last = text.last, blanks.contains(last) { text = text.dropLast() }
        return text
    }
}

extension ProxyHandler {
    /// The upstream switched protocols: the request is counted, its timers stop, the `101` goes to the client,
    /// and bytes the client sent early follow the request upstream.
    func startTunnel(_ exchange: ProxyExchange, on connection: UpstreamConnection, head: ResponseHead, flag: ResponseFlag, client: ClientSide) {
        exchange.cancelTimers()
        exchange.observe(.response(status: 101))
        exchange.mirrors = []
        record(exchange, code: servesHTTP2Stream ? 200 : 101, flag: flag)
        deadlines.tunnelStarted()
        body = nil
        // A half-close from either side is passed on rather than ending the tunnel. Over TLS the client's end is
        // its close_notify, which ends the tunnel; on an HTTP/2 stream it is END_STREAM, which the stream passes on.
        if !overTLS, case .connection(let context) = client { try? context.channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true) }
        connection.allowHalfClosure()
        if case .stream(let stream) = client {
            stream.switched(head)
        } else {
            var bytes = reuse(&responseHeadBuffer, capacity: 384)
            ProxyHeaders.writeSwitchingProtocols(head, to: &bytes)
            client.write(bytes)
        }
        unflushedToClient = true
        if let early = inbound {
            inbound = nil
            connection.write(early)
            connection.flush()
        }
        resumeHeldRead()
    }

    /// Client bytes on an upgraded connection: straight to the upstream (flushed when the read completes).
    func tunnel(_ bytes: ByteBuffer) {
        deadlines.trafficPassed()
        exchange?.upstream?.write(bytes)
    }

    /// One side finished sending: the other is told once what it was sent has gone out.
    func finishSending(toUpstream: Bool) {
        if toUpstream {
            exchange?.upstream?.finishSending()
        } else {
            client?.finishSending()
        }
    }

    /// The tunnel is over: both connections close once what was written to them has gone out.
    func endTunnel() {
        if let exchange {
            self.exchange = nil
            exchange.cancelTimers()
            exchange.finishRequest()
            if let upstream = exchange.upstream {
                exchange.upstream = nil
                upstream.delegate = nil
                upstream.closeAfterWrites()
            }
        }
        client?.closeAfterWrites()
    }

    func upstreamFinishedSending(_ connection: UpstreamConnection) {
        guard let exchange, exchange.upstream === connection else { return }
        run(machine.tunnelSideFinished(fromClient: false), for: exchange)
    }
}

import NIOCore
import NIOHTTP2

/// A client connection that speaks HTTP/2 — chosen by ALPN on TLS, or by the client's preface on a plaintext
/// port (h2c with prior knowledge) — served by NIOHTTP2's frame handler and an `HTTP2ServerConnection`, with one
/// `ProxyHandler` per stream behind an `HTTP2ServerStream`. HTTP/1 connections never reach this: the proxy hands a connection over only when its
/// first bytes fail to parse as HTTP/1 and are the preface, so the HTTP/1 path costs nothing more.
enum HTTP2Connection {
    /// RFC 9113 §3.4: the client connection preface's first line, which HTTP/1 parses as method `PRI`.
    static let prefaceStart = Array("PRI * HTTP/2.0\r\n\r\n".utf8)

    /// Whether `head` (a complete HTTP/1 head as the proxy found it) is the preface's first part.
    static func beginsWithPreface(_ head: ByteBuffer) -> Bool {
        head.readableBytes >= prefaceStart.count && head.readableBytesView.prefix(prefaceStart.count).elementsEqual(prefaceStart)
    }

    /// Windows as Envoy opens them by default (256 MiB is Envoy's; 1 MiB per stream keeps a slow client's
    /// stream from holding much), and streams per connection as Envoy's default allows.
    static var configuration: NIOHTTP2Handler.Configuration {
        var configuration = NIOHTTP2Handler.Configuration()
        configuration.connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 1024),
            HTTP2Setting(parameter: .initialWindowSize, value: HTTP2ServerStream.window),
            // Room for the HTTP/1 limits (60 KiB of fields, 100 of them) and the 32 bytes RFC 9113 counts per field, so a head
            // over them is answered 431 on its stream by the parser, as HTTP/1 is, rather than ending the connection.
            HTTP2Setting(parameter: .maxHeaderListSize, value: 96 * 1024),
        ]
        configuration.connection.targetWindowSize = 1 << 24
        configuration.stream.targetWindowSize = 1 << 20
        configuration.stream.outboundBufferSizeHighWatermark = 64 * 1024
        configuration.stream.outboundBufferSizeLowWatermark = 16 * 1024
        return configuration
    }

    /// Puts NIOHTTP2 where `proxy` was on its connection (the pipeline's last handler), and hands it `bytes` already read (the preface's
    /// start); every stream the client opens gets its own proxy with the connection's settings.
    static func serve(on context: ChannelHandlerContext, replacing proxy: ProxyHandler, replaying bytes: ByteBuffer?) {
        var settings = Self.configuration.connection.initialSettings
        // RFC 8441: a client may open a WebSocket on a stream with an extended CONNECT (`HTTP2ExtendedConnect`).
        settings.append(HTTP2Setting(parameter: .enableConnectProtocol, value: 1))
        do {
            let connection = HTTP2ServerConnection(channel: context.channel, idleTimeout: proxy.limits.idleTimeout, loop: proxy.loop) {
                proxy.forStream()
            }
            try context.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .server, initialSettings: settings), position: .last)
            try context.pipeline.syncOperations.addHandler(connection, position: .last)
        } catch {
            context.close(promise: nil)
            return
        }
        if let bytes { context.fireChannelRead(NIOAny(bytes)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// A connection that turns out to speak HTTP/2 takes its proxy out of the pipeline.
extension ProxyHandler: RemovableChannelHandler {
    /// A proxy for one HTTP/2 stream of this connection: the same listener, routes and limits, its own deadlines.
    func forStream() -> ProxyHandler {
        let stream = ProxyHandler(
            routes: routes, clusters: clusters, telemetry: telemetry, loop: loop, declaredPort: declaredPort, inMesh: inMesh,
            overTLS: overTLS, servesHTTP2Stream: true, limits: limits, deadlines: ConnectionDeadlines(limits: limits),
            // Seeded from the connection's generator: a stream costs no `getrandom` call.
            random: FastRandom(seed: random.next())
        )
        stream.handshake = handshake
        stream.clientCertificate = clientCertificate
        return stream
    }
}

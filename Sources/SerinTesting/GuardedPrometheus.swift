import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SerinSpawn

/// A stand-in Prometheus on 127.0.0.1 behind credentials, over plain HTTP or TLS: what a real Prometheus
/// behind an authenticating proxy looks like to a client. A query carrying the expected `Authorization` is
/// answered with one sample; any other gets 401. It records each request's target and `Authorization`, and
/// counts connections, so a test sees what was sent and whether connections were reused.
///
/// For TLS it makes a self-signed certificate for 127.0.0.1 with `openssl` at start; `certificatePEM` is what a
/// client must trust.
public final class GuardedPrometheus: Sendable {
    /// One request as received.
    public struct Received: Sendable, Equatable {
        public var uri: String
        public var authorization: String?
    }

    public let port: Int
    /// The server's certificate (PEM) when it speaks TLS.
    public let certificatePEM: String?
    private let channel: any Channel
    private let state: NIOLockedValueBox<(requests: [Received], connections: Int)>

    private init(port: Int, certificatePEM: String?, channel: any Channel, state: NIOLockedValueBox<(requests: [Received], connections: Int)>) {
        self.port = port
        self.certificatePEM = certificatePEM
        self.channel = channel
        self.state = state
    }

    /// Starts answering queries that carry `authorization` (the whole header value, e.g. `Bearer s3cret`) with
    /// `value`; over TLS when `tls` is true.
    public static func start(
        authorization: String, value: String = "1", tls: Bool = false, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> GuardedPrometheus {
        let state = NIOLockedValueBox<(requests: [Received], connections: Int)>(([], 0))
        let certificate = tls ? try SelfSignedCertificate.make() : nil
        let context = try certificate.map { certificate in
            try NIOSSLContext(configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.certificatePEM.utf8)).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.keyPEM.utf8), format: .pem))
            ))
        }
        let answer = #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795714724.5,"\#(value)"]}]}}"#
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                state.withLockedValue { $0.connections += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    if let context { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Answering(expected: authorization, answer: answer, state: state))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return GuardedPrometheus(port: channel.localAddress?.port ?? 0, certificatePEM: certificate?.certificatePEM, channel: channel, state: state)
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    public var address: String { "\(certificatePEM == nil ? "http" : "https")://127.0.0.1:\(port)" }

    /// Every request so far, in order.
    public var requests: [Received] { state.withLockedValue { $0.requests } }

    /// Connections accepted so far.
    public var connections: Int { state.withLockedValue { $0.connections } }

    public func close() async {
        try? await channel.close()
    }

    private final class Answering: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let expected: String
        let answer: String
        let state: NIOLockedValueBox<(requests: [Received], connections: Int)>
        var authorized = false

        init(expected: String, answer: String, state: NIOLockedValueBox<(requests: [Received], connections: Int)>) {
            self.expected = expected
            self.answer = answer
            self.state = state
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                let authorization = head.headers.first(name: "authorization")
                state.withLockedValue { $0.requests.append(Received(uri: head.uri, authorization: authorization)) }
                authorized = authorization == expected
            case .body:
                break
            case .end:
                let (status, body) = authorized
                    ? (HTTPResponseStatus.ok, answer)
                    : (.unauthorized, #"{"status":"error","errorType":"unauthorized","error":"credentials required"}"#)
                var headers = HTTPHeaders([("content-type", "application/json"), ("content-length", "\(body.utf8.count)")])
                if !authorized { headers.add(name: "www-authenticate", value: "Basic realm=\"prometheus\"") }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

/// A self-signed certificate for 127.0.0.1 and its key, made by `openssl` in a temporary directory.
enum SelfSignedCertificate {
    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    static func make() throws -> (certificatePEM: String, keyPEM: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serin-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let openssl = try ChildProcess.spawn("/usr/bin/openssl", arguments: [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate,
        ])
        let ended = openssl.waitUntilExit()
        guard ended.status == 0 else { throw Failed(description: "openssl could not make a self-signed certificate (\(ended))") }
        return (try String(contentsOfFile: certificate, encoding: .utf8), try String(contentsOfFile: key, encoding: .utf8))
    }
}

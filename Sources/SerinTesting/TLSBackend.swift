import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A TLS server on 127.0.0.1 that answers HTTP/1.1 itself, one request per connection: the destination of a
/// passed-through connection, which must present its own certificate (curl checks it) and say who it is.
///
/// `GET /` answers `backend NAME`; `GET /bytes/N` answers N bytes of `x`; a request with a body answers
/// `NAME received N bytes`, after reading it all.
public final class TLSBackend: Sendable {
    public let name: String
    public let port: Int
    private let channel: any Channel
    private let accepted: NIOLockedValueBox<Int>

    private init(name: String, channel: any Channel, accepted: NIOLockedValueBox<Int>) {
        self.name = name
        self.port = channel.localAddress?.port ?? 0
        self.channel = channel
        self.accepted = accepted
    }

    /// Connections accepted so far.
    public var connections: Int { accepted.withLockedValue { $0 } }

    /// Serves with `certificate` and `key` (PEM files) on a free port.
    public static func start(
        name: String, certificate: String, key: String, group: any EventLoopGroup
    ) async throws -> TLSBackend {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        )
        let context = try NIOSSLContext(configuration: configuration)
        let accepted = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    accepted.withLockedValue { $0 += 1 }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(OneRequestHandler(name: name))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TLSBackend(name: name, channel: channel, accepted: accepted)
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Reads one request head (and its body, by content-length) and answers it, then closes.
private final class OneRequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let name: String
    private var pending: ByteBuffer?
    /// Body bytes still to read, once the head is in.
    private var bodyLeft: Int?
    private var bodyRead = 0
    private var target = ""
    private var answered = false

    init(name: String) { self.name = name }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !answered else { return }
        if let left = bodyLeft {
            bodyRead += bytes.readableBytes
            bodyLeft = left - bytes.readableBytes
        } else {
            pending.setOrWriteBuffer(&bytes)
            let view = Array(pending!.readableBytesView)
            guard let end = Self.headEnd(in: view) else { return }
            let head = String(decoding: view[..<end], as: UTF8.self)
            let lines = head.split(separator: "\r\n")
            target = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
            let length = lines.dropFirst().compactMap { line -> Int? in
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                return Int(parts[1].trimmingCharacters(in: .whitespaces))
            }.first ?? 0
            bodyRead = view.count - end - 4
            bodyLeft = length - bodyRead
            pending = nil
        }
        if let left = bodyLeft, left <= 0 {
            answered = true
            answer(context: context)
        }
    }

    private static func headEnd(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    private func answer(context: ChannelHandlerContext) {
        var body = context.channel.allocator.buffer(capacity: 64)
        if bodyRead > 0 {
            body.writeString("\(name) received \(bodyRead) bytes")
        } else if target.hasPrefix("/bytes/"), let count = Int(target.dropFirst("/bytes/".count)) {
            body.writeRepeatingByte(UInt8(ascii: "x"), count: count)
        } else {
            body.writeString("backend \(name)")
        }
        var response = context.channel.allocator.buffer(string: "HTTP/1.1 200 OK\r\ncontent-length: \(body.readableBytes)\r\nconnection: close\r\n\r\n")
        response.writeBuffer(&body)
        context.writeAndFlush(wrapOutboundOut(response)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

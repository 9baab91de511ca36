import NIOCore
import SerinCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The PROXY protocol header (HAProxy's, versions 1 and 2) a connection to an endpoint begins with when its
/// DestinationRule sets `proxyProtocol`: the client's address and the address it connected to, as Envoy's upstream
/// proxy protocol writes them, so a backend that reads it (nginx's `proxy_protocol`, HAProxy's `accept-proxy`) logs
/// and answers the real client rather than the gateway.
enum ProxyProtocolHeader {
    /// Version 2's twelve-byte signature.
    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// The header for a connection from `client` to `gateway` (the downstream connection's two ends). Addresses of
    /// two families, or not IP at all, say so as the protocol allows: `PROXY UNKNOWN` (v1), the LOCAL command (v2).
    static func bytes(_ version: ProxyProtocolVersion, client: SocketAddress?, gateway: SocketAddress?) -> ByteBuffer {
        var buffer = ByteBuffer()
        switch version {
        case .v1: writeVersion1(client: client, gateway: gateway, to: &buffer)
        case .v2: writeVersion2(client: client, gateway: gateway, to: &buffer)
        }
        return buffer
    }

    /// The address family both ends share, as each version names it; nil when they differ or are not IP.
    private enum Family {
        case tcp4, tcp6

        init?(_ client: SocketAddress?, _ gateway: SocketAddress?) {
            switch (client, gateway) {
            case (.v4?, .v4?): self = .tcp4
            case (.v6?, .v6?): self = .tcp6
            default: return nil
            }
        }

        var text: String { self == .tcp4 ? "TCP4" : "TCP6" }
        /// Version 2's address family and protocol byte: TCP over IPv4 or IPv6.
        var code: UInt8 { self == .tcp4 ? 0x11 : 0x21 }
        var addressBytes: Int { self == .tcp4 ? 4 : 16 }
    }

    private static func writeVersion1(client: SocketAddress?, gateway: SocketAddress?, to buffer: inout ByteBuffer) {
        guard let family = Family(client, gateway), let client, let gateway, let source = client.ipAddress,
            let destination = gateway.ipAddress, let sourcePort = client.port, let destinationPort = gateway.port
        else {
            buffer.writeString("PROXY UNKNOWN\r\n")
            return
        }
        buffer.writeString("PROXY \(family.text) \(source) \(destination) \(sourcePort) \(destinationPort)\r\n")
    }

    private static func writeVersion2(client: SocketAddress?, gateway: SocketAddress?, to buffer: inout ByteBuffer) {
        buffer.writeBytes(signature)
        guard let family = Family(client, gateway), let client, let gateway,
            let source = binary(client, family.addressBytes), let destination = binary(gateway, family.addressBytes)
        else {
            buffer.writeBytes([0x20, 0x00])  // version 2, LOCAL: no addresses to tell
            buffer.writeInteger(UInt16(0))
            return
        }
        buffer.writeBytes([0x21, family.code])  // version 2, PROXY
        buffer.writeInteger(UInt16(family.addressBytes * 2 + 4))
        buffer.writeBytes(source)
        buffer.writeBytes(destination)
        buffer.writeInteger(UInt16(truncatingIfNeeded: client.port ?? 0))
        buffer.writeInteger(UInt16(truncatingIfNeeded: gateway.port ?? 0))
    }

    /// An IP address's `count` bytes in network order, from its text.
    private static func binary(_ address: SocketAddress, _ count: Int) -> [UInt8]? {
        guard let text = address.ipAddress else { return nil }
        var bytes = [UInt8](repeating: 0, count: 16)
        let parsed = bytes.withUnsafeMutableBytes { inet_pton(count == 4 ? AF_INET : AF_INET6, text, $0.baseAddress) }
        return parsed == 1 ? Array(bytes.prefix(count)) : nil
    }
}

/// Writes a connection's PROXY protocol header before anything else goes out on it: as the connection opens, or
/// before the first write if that comes sooner (a connect's promise completes before the pipeline hears the channel
/// is active, so a request may be written first). It sits nearest the socket, so a TLS ClientHello follows it too.
final class ProxyProtocolWriter: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    private var header: ByteBuffer?

    init(header: ByteBuffer) {
        self.header = header
    }

    func channelActive(context: ChannelHandlerContext) {
        if let header = header.take() { context.writeAndFlush(NIOAny(header), promise: nil) }
        context.fireChannelActive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if let header = header.take() { context.write(NIOAny(header), promise: nil) }
        context.write(data, promise: promise)
    }
}

/// A client connection's two ends, kept by its proxy: the client's address and the gateway's, which a cluster's
/// `proxyProtocol` header names.
struct ConnectionEnds {
    let client: SocketAddress?
    let gateway: SocketAddress?

    init(_ channel: any Channel) {
        client = channel.remoteAddress
        gateway = channel.localAddress
    }

    /// The header, in `version`, a connection to a cluster whose DestinationRule sets `proxyProtocol` starts with.
    /// Asked of the proxy's stored ends only for such a cluster, so the common request copies no address out.
    func proxyHeader(_ version: ProxyProtocolVersion) -> ByteBuffer {
        ProxyProtocolHeader.bytes(version, client: client, gateway: gateway)
    }
}

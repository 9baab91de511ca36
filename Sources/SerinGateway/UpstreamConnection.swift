import NIOCore
import NIOHTTP1

/// Receives what happens on an upstream connection while it carries one exchange.
protocol UpstreamDelegate: AnyObject {
    func upstream(_ connection: UpstreamConnection, received part: HTTPClientResponsePart)
    func upstreamClosed(_ connection: UpstreamConnection, error: (any Error)?)
    func upstreamWritabilityChanged(_ connection: UpstreamConnection)
    /// The upstream delivered all it had for now: the moment to flush what went to the client.
    func upstreamReadComplete(_ connection: UpstreamConnection)
    /// Whether the client side can take more bytes; the upstream stops reading while it cannot.
    var downstreamIsWritable: Bool { get }
}

/// One pooled HTTP/1.1 connection to an endpoint. Used only on its channel's event loop.
final class UpstreamConnection {
    let channel: any Channel
    let endpoint: EndpointAddress
    /// The exchange currently using this connection; nil while idle in the pool.
    weak var delegate: (any UpstreamDelegate)?
    /// How many requests this connection has carried; a reused connection may have been closed by the
    /// server while idle, which makes a failure before any response byte safe to retry.
    var requestsServed = 0
    fileprivate(set) var isClosed = false
    /// Whether the server said it will close after this response.
    var closeAfterResponse = false
    /// Called when the connection closes while idle, so the pool forgets it.
    var onIdleClose: ((UpstreamConnection) -> Void)?
    /// The cluster whose traffic policy this connection counts against; nil for clusters without one.
    let cluster: UpstreamCluster?
    /// Closes the connection once it has been idle for the cluster's `idleTimeout`.
    var idleTimer: Scheduled<Void>?

    init(channel: any Channel, endpoint: EndpointAddress, cluster: UpstreamCluster? = nil) {
        self.channel = channel
        self.endpoint = endpoint
        self.cluster = cluster
    }

    var isWritable: Bool { channel.isWritable }

    func write(_ part: HTTPClientRequestPart) {
        channel.write(part, promise: nil)
    }

    func flush() {
        channel.flush()
    }

    /// Asks for more response bytes after the client caught up.
    func resumeReading() {
        channel.read()
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        channel.close(promise: nil)
    }

    fileprivate func markClosed() {
        isClosed = true
    }
}

/// `address:port` of an endpoint: the key upstream pools are kept under.
struct EndpointAddress: Hashable, Sendable, CustomStringConvertible {
    let host: String
    let port: Int
    var description: String { "\(host):\(port)" }
}

/// The last handler on an upstream channel: hands response parts to the exchange and holds reads
/// while the client cannot keep up (backpressure, as swift-nio-examples' GlueHandler does).
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    // Strong: the pipeline is torn down when the channel closes, which breaks the cycle.
    var connection: UpstreamConnection!
    private var pendingRead = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head(let head) = part, !head.isKeepAlive {
            connection.closeAfterResponse = true
        }
        if let delegate = connection.delegate {
            delegate.upstream(connection, received: part)
        } else {
            // Bytes on an idle connection mean the server broke HTTP framing; it cannot be reused.
            connection.close()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection.delegate?.upstreamReadComplete(connection)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.markClosed()
        if let delegate = connection.delegate {
            connection.delegate = nil
            delegate.upstreamClosed(connection, error: nil)
        } else {
            connection.onIdleClose?(connection)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.markClosed()
        if let delegate = connection.delegate {
            connection.delegate = nil
            delegate.upstreamClosed(connection, error: error)
        }
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection.delegate?.upstreamWritabilityChanged(connection)
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let delegate = connection?.delegate, !delegate.downstreamIsWritable {
            pendingRead = true
            return
        }
        pendingRead = false
        context.read()
    }
}

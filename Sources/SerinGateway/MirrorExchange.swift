import NIOCore
import SerinCore

/// A shadow copy of one request sent to a VirtualService's `mirror`: its answer is read and dropped, and
/// it never slows the real request — a mirror that cannot keep up is abandoned, not waited for. Serin's synthetic
/// load (`analysis.load`) is sent the same way: a request no client waits for.
final class MirrorExchange {
    private let pool: UpstreamPool
    private let head: ByteBuffer
    private let isHEAD: Bool
    private let endpoint: EndpointAddress
    private let onEnd: (_ status: Int, _ flags: ResponseFlag) -> Void
    private var upstream: UpstreamConnection?
    private var pending: [ByteBuffer] = []
    private var pendingBytes = 0
    private var requestEnded = false
    private var status = 0
    private var finished = false
    /// The mirror holds itself until it finishes: the real exchange lets go of it as soon as its client has its
    /// answer, and an upstream connection holds it only once one is leased, so a copy slower than the real
    /// request would otherwise vanish mid-flight, uncounted.
    private var inFlight: MirrorExchange?

    /// The most request body a mirror buffers while its connection opens.
    static let maxPendingBytes = 64 * 1024

    /// Starts mirroring `original` (already rewritten for the upstream) to `endpoint`; Envoy's convention
    /// marks the copy by appending `-shadow` to its Host (`marksShadow`; a synthetic request is no copy). To a
    /// cluster that speaks HTTP/2 (`http2`, e.g. gRPC) the copy goes as a stream of the loop's connection to it.
    init(
        original: RequestHead, clientAddress: String?, overTLS: Bool, clientCertificate: String? = nil, endpoint: Cluster.Endpoint,
        loop: LoopContext,
        http2: Bool, cluster: UpstreamCluster? = nil, proxyHeader: ByteBuffer? = nil, marksShadow: Bool = true,
        onEnd: @escaping (_ status: Int, _ flags: ResponseFlag) -> Void
    ) {
        var head = original
        if marksShadow, let host = head.fields.first(.host) { head.fields.replaceOrAdd(name: "host", value: Self.shadowHost(host)) }
        var encoded = ByteBuffer()
        var random = FastRandom()
        ProxyHeaders.writeUpstreamRequest(
            head, clientAddress: clientAddress, overTLS: overTLS, clientCertificate: clientCertificate, random: &random, to: &encoded
        )
        self.head = encoded
        self.isHEAD = head.isHEAD
        self.pool = loop.pool
        self.endpoint = EndpointAddress(endpoint)
        self.onEnd = onEnd
        inFlight = self
        // With the cluster's shared state, its connection budget and upstream TLS apply.
        if http2 {
            loop.http2.lease(self.endpoint, cluster: cluster, proxyHeader: proxyHeader) { result in self.connected(result) }
        } else {
            pool.lease(self.endpoint, cluster: cluster, proxyHeader: proxyHeader) { result in self.connected(result) }
        }
    }

    /// Body bytes of the real request, copied; dropped with the whole mirror when it falls behind.
    func send(body: ByteBuffer) {
        guard !finished else { return }
        guard let upstream else {
            pendingBytes += body.readableBytes
            guard pendingBytes <= Self.maxPendingBytes else { return abandon() }
            pending.append(body)
            return
        }
        guard upstream.isWritable else { return abandon() }
        upstream.write(body)
        upstream.flush()
    }

    /// The real request is complete.
    func endRequest() {
        requestEnded = true
    }

    private func connected(_ result: Result<UpstreamConnection, any Error>) {
        guard !finished else {
            if case .success(let connection) = result { pool.release(connection) }
            return
        }
        switch result {
        case .failure:
            finish(status: 0, flags: .upstreamConnectionFailure)
        case .success(let connection):
            connection.delegate = self
            connection.requestsServed += 1
            upstream = connection
            connection.send(head: head, isHEAD: isHEAD)
            for part in pending { connection.write(part) }
            pending = []
            connection.flush()
        }
    }

    private func abandon() {
        upstream?.delegate = nil
        upstream?.close()
        upstream = nil
        finish(status: status, flags: .downstreamConnectionTermination)
    }

    private func finish(status: Int, flags: ResponseFlag) {
        guard !finished else { return }
        finished = true
        pending = []
        onEnd(status, flags)
        inFlight = nil
    }
}

extension MirrorExchange: UpstreamDelegate {
    // The answer goes nowhere, so it is always read as fast as it comes.
    var downstreamIsWritable: Bool { true }

    func upstream(_ connection: UpstreamConnection, receivedHead head: ResponseHead) {
        if !head.isInformational { status = head.status }
    }

    func upstream(_ connection: UpstreamConnection, receivedBody bytes: ByteBuffer, dataBytes: Int) {}

    func upstreamEnded(_ connection: UpstreamConnection) {
        upstream = nil
        if requestEnded { pool.release(connection) } else {
            connection.delegate = nil
            connection.close()
        }
        finish(status: status, flags: .noFlag)
    }

    func upstreamClosed(_ connection: UpstreamConnection, error: (any Error)?) {
        upstream = nil
        finish(status: status, flags: .upstreamConnectionTermination)
    }

    func upstreamWritabilityChanged(_ connection: UpstreamConnection) {}

    func upstreamReadComplete(_ connection: UpstreamConnection) {}
}

extension MirrorExchange {
    /// The copy's Host as Envoy writes it: `-shadow` on the host name, before any port (`shop.example.com-shadow:8080`,
    /// `[::1]-shadow:80`), so the copy's Host is still a host and port.
    static func shadowHost(_ host: String) -> String {
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            return host[...close] + "-shadow" + host[host.index(after: close)...]
        }
        if let colon = host.lastIndex(of: ":"), host[host.index(after: colon)...].allSatisfy(\.isNumber) {
            return host[..<colon] + "-shadow" + host[colon...]
        }
        return host + "-shadow"
    }
}

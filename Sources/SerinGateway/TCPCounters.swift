/// What the gateway counts for one series of passed-through TLS connections, as Istio's TCP metrics do:
/// connections opened and closed, bytes sent to the client and received from it.
public struct TCPCounters: Hashable, Sendable, Codable {
    public var connectionsOpened = 0
    public var connectionsClosed = 0
    /// Bytes the destination sent, written to the client (`istio_tcp_sent_bytes_total`).
    public var sentBytes = 0
    /// Bytes the client sent, written to the destination (`istio_tcp_received_bytes_total`).
    public var receivedBytes = 0

    public init() {}

    public mutating func merge(_ other: TCPCounters) {
        connectionsOpened += other.connectionsOpened
        connectionsClosed += other.connectionsClosed
        sentBytes += other.sentBytes
        receivedBytes += other.receivedBytes
    }
}

/// A change to one TCP series: a connection opened or closed, bytes passed.
struct TCPEvent {
    var opened = 0
    var closed = 0
    var sent = 0
    var received = 0
}

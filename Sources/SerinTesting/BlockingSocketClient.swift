#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A client on a plain blocking socket, for what an event-loop client hides: it sends, reads only when the test says,
/// and tells whether the server ended the stream with a close (FIN) or a reset (RST).
public final class BlockingSocketClient {
    public enum Ending: Equatable, Sendable {
        case closed, reset, timedOut
    }

    private let descriptor: Int32

    /// Connects to 127.0.0.1:`port`; no read waits longer than `timeout` seconds.
    public init(port: Int, timeout: Int = 5) throws {
        descriptor = try LoopbackSocket.connected(to: port)
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// Writes all of `bytes`.
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Self.sendBytes(descriptor, $0) }
            guard sent > 0 else { throw LoopbackSocket.Failure(message: "send failed: errno \(errno)") }
            offset += sent
        }
    }

    private static func sendBytes(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, waiting: Bool = true) -> Int {
        #if canImport(Glibc)
        Glibc.send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | (waiting ? 0 : Int32(MSG_DONTWAIT)))
        #else
        Darwin.send(descriptor, bytes.baseAddress, bytes.count, waiting ? 0 : MSG_DONTWAIT)
        #endif
    }

    /// Sends zero bytes for as long as the server takes them, without waiting on a full socket: stops at `limit` bytes,
    /// or once the socket has taken nothing for `stall` milliseconds. How many bytes it took: what a server that reads
    /// nothing lets a client send is what the two sockets' buffers hold, where one that reads ahead takes everything.
    public func sendUntilStalled(limit: Int, stall: Int32 = 500) throws -> Int {
        let chunk = [UInt8](repeating: 0, count: 65_536)
        var sent = 0
        while sent < limit {
            let count = chunk[..<min(chunk.count, limit - sent)].withUnsafeBytes { Self.sendBytes(descriptor, $0, waiting: false) }
            if count > 0 {
                sent += count
                continue
            }
            guard count < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                throw LoopbackSocket.Failure(message: "send failed: errno \(errno)")
            }
            var entry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            if poll(&entry, 1, stall) == 0 { break }
        }
        return sent
    }

    /// Ends the client's side of the stream (a FIN after what it sent), keeping its reading side open.
    public func finishSending() {
        shutdown(descriptor, Int32(SHUT_WR))
    }

    /// Waits, without reading, until the server has ended its side of the stream (a FIN or a reset arrived) or
    /// `milliseconds` passed; whether it ended.
    public func waitForServerEnd(milliseconds: Int32 = 5_000) -> Bool {
        // POLLRDHUP (Linux): the peer shut down its writing side; a reset raises POLLHUP or POLLERR.
        let peerClosed: Int16 = 0x2000
        var entry = pollfd(fd: descriptor, events: peerClosed, revents: 0)
        return poll(&entry, 1, milliseconds) == 1 && entry.revents & (peerClosed | Int16(POLLHUP) | Int16(POLLERR)) != 0
    }

    /// Everything the server sent, read to the end of the stream, and how the stream ended.
    public func readToEnd() -> (bytes: [UInt8], ending: Ending) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += buffer[..<count]
                continue
            }
            if count == 0 { return (received, .closed) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return (received, .timedOut)
            default: return (received, .reset)
            }
        }
    }
}

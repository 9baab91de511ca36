import Foundation

/// How much a path of loopback sockets may hold by itself, for the tests that prove the gateway stops reading one
/// side while the other takes nothing: a bound of a fixed few MB fails on a machine whose kernel lets a buffer grow
/// to 32 MB, though the gateway held back as it should.
enum SocketBuffers {
    /// What the kernel alone may hold between a sender and a receiver that reads nothing, through the gateway: the
    /// sender's send buffer, the gateway's receive and send buffers and the receiver's receive buffer, each at its
    /// autotuning ceiling (`tcp_wmem`, `tcp_rmem`), plus 8 MB for the gateway's own buffers.
    static var ceiling: Int {
        2 * autotuningCeiling("tcp_rmem", default: 6 << 20) + 2 * autotuningCeiling("tcp_wmem", default: 4 << 20) + (8 << 20)
    }

    /// A flood several times `ceiling`, and at least 256 MB: stopping short of it is the gateway holding back.
    static var floodBytes: Int { max(256 << 20, 3 * ceiling) }

    /// The largest size the kernel grows a TCP buffer to: the third number of `/proc/sys/net/ipv4/NAME`.
    private static func autotuningCeiling(_ name: String, default value: Int) -> Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/\(name)", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isWhitespace).last.flatMap { Int($0) } ?? value
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A 127.0.0.1 port that refuses every connection for as long as this value is open: a TCP socket bound
/// but never listening. Unlike "bind, note the port, close", no other test can take the port meanwhile.
public final class RefusingPort: Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        (descriptor, port) = try LoopbackSocket.bound()
    }

    deinit { close(descriptor) }
}

/// A 127.0.0.1 port where a connect never completes: it listens with a backlog of one that a connection of its
/// own already fills, and never accepts, so the kernel drops every further SYN. An upstream unreachable on the
/// network, for connect timeouts, without leaving 127.0.0.1.
public final class SilentPort: Sendable {
    public let port: Int
    private let listener: Int32
    private let filler: Int32

    public init() throws {
        (listener, port) = try LoopbackSocket.bound()
        guard listen(listener, 0) == 0 else {
            close(listener)
            throw LoopbackSocket.Failure(message: "listen() failed: errno \(errno)")
        }
        do {
            filler = try LoopbackSocket.connected(to: port)
        } catch {
            close(listener)
            throw error
        }
    }

    deinit {
        close(filler)
        close(listener)
    }
}

/// Plain sockets on 127.0.0.1 for the ports above.
enum LoopbackSocket {
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func make() throws -> Int32 {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(message: "socket() failed: errno \(errno)") }
        return fd
    }

    static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// A socket bound to a free port of 127.0.0.1, and the port.
    static func bound() throws -> (Int32, Int) {
        let fd = try make()
        var address = address(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw Failure(message: "bind(127.0.0.1:0) failed: errno \(errno)")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A socket connected to 127.0.0.1:`port` (a blocking connect).
    static func connected(to port: Int) throws -> Int32 {
        let fd = try make()
        var address = address(port: port)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                connect(fd, generic, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            close(fd)
            throw Failure(message: "connect(127.0.0.1:\(port)) failed: errno \(errno)")
        }
        return fd
    }
}

#if canImport(Glibc)
import Glibc
#endif
import NIOHTTP1
import SerinCore
import SerinGateway
import SerinListener
import SerinTesting
import Testing

/// The options the gateway sets on its sockets. The image runs Serin as a user that is not root, and there a
/// socket option only root may set fails, and NIO then drops every connection it accepts or opens.
@Suite("Gateway socket options", .timeLimit(.minutes(1)))
struct GatewaySocketOptionTests {
    @Test("a client's connection and the upstream connection have Nagle's delay off, and no option only root may set (SO_DEBUG)")
    func socketsServeWithoutRoot() async throws {
        let backends = TestBackends()
        let v1 = try await backends.start("v1")
        try await GatewayProxyTests.withGateway(SeedMesh.config(endpoints: ["web-v1-service": v1.port], uriMatch: nil)) { _, port in
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
            #expect(try await client.send(.GET, "/").status == 200)
            let clientPort = try #require(client.localPort)
            let sockets = OpenSocket.inThisProcess()
            // The gateway's end of the client's connection, and its connections to v1 (v1's own ends have v1's port as
            // their local port, not their peer's).
            let accepted = sockets.filter { $0.localPort == port && $0.peerPort == clientPort }
            let upstream = sockets.filter { $0.peerPort == v1.port }
            #expect(accepted.count == 1)
            #expect(!upstream.isEmpty)
            for socket in accepted + upstream {
                #expect(socket.option(level: SOL_SOCKET, SO_DEBUG) == 0, "SO_DEBUG needs CAP_NET_ADMIN: set on fd \(socket.descriptor)")
                #expect(socket.option(level: Int32(IPPROTO_TCP), TCP_NODELAY) == 1, "TCP_NODELAY is off on fd \(socket.descriptor)")
            }
            await client.close()
        }
        await v1.close()
        await backends.shutdown()
    }
}

/// A TCP socket open in this process, found through /proc/self/fd.
struct OpenSocket {
    let descriptor: Int32
    let localPort: Int
    let peerPort: Int

    static func inThisProcess() -> [OpenSocket] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        defer { closedir(directory) }
        var sockets: [OpenSocket] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let descriptor = Int32(name), let local = port(of: descriptor, getsockname), let peer = port(of: descriptor, getpeername) else {
                continue
            }
            sockets.append(OpenSocket(descriptor: descriptor, localPort: local, peerPort: peer))
        }
        return sockets
    }

    /// The IPv4 port `read` (getsockname or getpeername) gives for `descriptor`; nil for anything else.
    private static func port(
        of descriptor: Int32, _ read: (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?) -> Int32
    ) -> Int? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { read(descriptor, $0, &length) }
        }
        guard result == 0, address.sin_family == sa_family_t(AF_INET) else { return nil }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// An integer socket option's value; nil when it cannot be read.
    func option(level: Int32, _ name: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(descriptor, level, name, &value, &length) == 0 ? value : nil
    }
}

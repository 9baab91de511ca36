/// The first bytes of a TLS connection: a ClientHello naming `serverName` (SNI), and nothing else of TLS. What a
/// passthrough gateway routes by, so a raw TCP client can open a passed-through connection and then speak bytes
/// of its own choosing (to watch half-closes and timeouts without a TLS library in between).
public enum ClientHello {
    public static func bytes(serverName: String) -> [UInt8] {
        let name = Array(serverName.utf8)
        let serverNameList = [0x00] + u16(name.count) + name
        let serverNameExtension = [0x00, 0x00] + u16(serverNameList.count + 2) + u16(serverNameList.count) + serverNameList
        var hello: [UInt8] = [0x03, 0x03] + [UInt8](repeating: 0x2a, count: 32)
        hello += [0x00]  // no session id
        hello += u16(2) + [0x00, 0x2f]  // one cipher suite: TLS_RSA_WITH_AES_128_CBC_SHA
        hello += [0x01, 0x00]  // null compression
        hello += u16(serverNameExtension.count) + serverNameExtension
        let handshake: [UInt8] = [0x01, 0x00] + u16(hello.count) + hello
        return [0x16, 0x03, 0x01] + u16(handshake.count) + handshake
    }

    private static func u16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
}

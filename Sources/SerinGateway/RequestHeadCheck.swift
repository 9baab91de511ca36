import NIOCore
import NIOHTTP1

/// Whether the gateway would refuse a request's head before routing it (a method that is not a token, a target
/// that is not origin-form, a control byte in a field), asked of the parser the gateway itself runs: `serin route`
/// explains no route for a request the gateway answers 400, and its rules are the gateway's, not a copy.
public enum RequestHeadCheck {
    /// The status and reason the gateway answers `method target` on HTTP/1.1 with `authority` and `fields`; nil when
    /// it reads the head and goes on to route it.
    public static func refusal(method: String, target: String, authority: String, fields: [(String, String)]) -> (status: Int, reason: String)? {
        // A space or a control byte in the target would end it early, and the parser would blame what follows
        // (the version): said of the target itself, as a client must percent-encode it (RFC 9112 §3.2).
        if let byte = target.utf8.first(where: { $0 <= 0x20 || $0 == 0x7F }) {
            let named = byte == 0x20 ? "a space" : "the control byte 0x\(String(byte, radix: 16, uppercase: true))"
            return (400, "malformed request: the target \(target.debugDescription) holds \(named); a request target has none (RFC 9112 §3.2: percent-encode it, %20 for a space)")
        }
        var head = "\(method) \(target) HTTP/1.1\r\nhost: \(authority)\r\n"
        for (name, value) in fields { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        do {
            // The head, then what it says of the body (one length, a transfer coding the gateway reads), as the
            // gateway reads a request before routing it.
            _ = try BodyFraming.ofRequest(try HTTP1HeadParser.parseRequest(ByteBuffer(string: head), limits: .default))
            return nil
        } catch {
            return (Int(error.status.code), error.reason)
        }
    }
}

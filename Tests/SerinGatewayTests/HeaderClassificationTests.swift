@testable import SerinGateway
import Testing

/// The byte-level questions the HTTP/1 parser asks of every head: which fields the proxy treats specially, and which
/// bytes may be in a method, a field name or a host.
@Suite("Header classification")
struct HeaderClassificationTests {
    static func classify(_ name: String) -> KnownField { KnownField.classify(name) }

    @Test("every field the proxy treats specially is known by its name in any case, and names of the same length are not")
    func knownFields() {
        for field in KnownField.allCases where field != .other {
            #expect(Self.classify(field.name) == field, "\(field.name)")
            #expect(Self.classify(field.name.uppercased()) == field, "\(field.name.uppercased())")
            let capitalised = field.name.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: "-")
            #expect(Self.classify(capitalised) == field, "\(capitalised)")
            // The same length, one letter off: an ordinary field.
            var near = Array(field.name.utf8)
            near[near.count - 1] = near[near.count - 1] == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
            #expect(Self.classify(String(decoding: near, as: UTF8.self)) == .other, "\(String(decoding: near, as: UTF8.self))")
        }
        for other in ["", "x", "content-type", "accept", "hosts", "connections", "x-forwarded-host", "transfer-encodings"] {
            #expect(Self.classify(other) == .other, "\(other)")
        }
    }

    /// `isMember` holds for exactly the ASCII letters, digits and `punctuation` among the 256 byte values.
    static func expectLettersDigitsAnd(_ punctuation: String, _ isMember: (UInt8) -> Bool) {
        let allowed = Set(punctuation.utf8)
        for value in 0...255 {
            let byte = UInt8(value)
            let expected = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                || allowed.contains(byte)
            #expect(isMember(byte) == expected, "byte \(value)")
        }
    }

    @Test("token bytes are RFC 9110's tchar: letters, digits and !#$%&'*+-.^_`|~, nothing else of the 256")
    func tokenBytes() {
        Self.expectLettersDigitsAnd("!#$%&'*+-.^_`|~", HTTP1HeadParser.isTokenByte)
    }

    @Test("host bytes are RFC 3986's for uri-host and port: letters, digits and -._~%!$&'()*+,;=:[], nothing else of the 256")
    func authorityBytes() {
        Self.expectLettersDigitsAnd("-._~%!$&'()*+,;=:[]", HTTP1HeadParser.isAuthorityByte)
    }
}

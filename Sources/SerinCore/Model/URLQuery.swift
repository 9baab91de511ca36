/// A URL's query as Serin's clients write it: every byte but RFC 3986's unreserved ones percent-encoded (`+` and
/// `&` too, which a server would read as a space or the next parameter).
public enum URLQuery {
    /// `text` percent-encoded for a query parameter's name or value.
    public static func encoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%\(hex[Int(byte >> 4)])\(hex[Int(byte & 0x0F)])"
            }
        }
        return out
    }

    private static let hex = Array("0123456789ABCDEF")

    /// `name=value&…`, each value encoded.
    public static func string(_ items: [(name: String, value: String)]) -> String {
        items.map { "\($0.name)=\(encoded($0.value))" }.joined(separator: "&")
    }
}

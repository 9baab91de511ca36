/// The Prometheus text exposition format's one rule every writer of it shares, for the gateway's and the
/// controller's `/metrics`.
public enum PrometheusText {
    /// Label values escaped as the text format requires: backslash, double quote, newline.
    public static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}

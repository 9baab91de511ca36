/// The Prometheus text format's escaping, for the gateway's hand-written `/metrics` (the controller's families go
/// through swift-prometheus, which escapes its own).
enum PrometheusText {
    /// Label values escaped as the text format requires: backslash, double quote, newline.
    static func escape(_ value: String) -> String {
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

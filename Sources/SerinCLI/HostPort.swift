import ArgumentParser

/// `HOST:PORT`, as `--admin` takes it.
struct HostPort: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(argument[..<colon])
        // An IPv6 address is written in brackets before its port ([::1]:9900), and bound without them.
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "127.0.0.1" : host
        self.port = port
    }

    /// `argument` as an option's value, or an error that says what was expected: ArgumentParser's own says only
    /// that the value is invalid.
    static func parse(_ argument: String) throws -> HostPort {
        if let parsed = HostPort(argument: argument) { return parsed }
        let portText = argument.lastIndex(of: ":").map { String(argument[argument.index(after: $0)...]) }
        if let portText, Int(portText) != nil {
            throw ValidationError("expected a port from 0 to 65535 after the colon in HOST:PORT, got \(portText)")
        }
        if Int(argument) != nil {
            throw ValidationError("expected HOST:PORT, got a port alone: \(argument); say 127.0.0.1:\(argument) (or :\(argument) for 127.0.0.1)")
        }
        throw ValidationError("expected HOST:PORT (e.g. 127.0.0.1:15001), got \"\(argument)\"")
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    var url: String { "http://\(description)" }
}

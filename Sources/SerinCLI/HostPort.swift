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
        let host = String(argument[..<colon])
        self.host = host.isEmpty ? "127.0.0.1" : host
        self.port = port
    }

    var description: String { "\(host):\(port)" }
    var url: String { "http://\(host):\(port)" }
}

/// A request `serin route` asks about, as the command line gives it: nothing is sent, the gateway's table answers.
public struct RouteQuestion: Codable, Sendable, Equatable {
    /// One request header, as `--header name=value` gives it.
    public struct Header: Codable, Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var method: String
    /// The request target: path and optional `?query`.
    public var path: String
    /// The request's Host (authority); with `mesh`, the service port is added unless it names one.
    public var host: String
    /// The Gateway server port the request arrives on; with `mesh`, the service port.
    public var port: Int
    public var headers: [Header]
    /// Routed as the mesh's sidecars route: by host and service port, with the VirtualServices bound to the mesh.
    public var mesh: Bool
    /// The ClientHello's server name, for a TLS connection to a PASSTHROUGH port.
    public var sni: String?

    public init(method: String, path: String, host: String, port: Int, headers: [Header] = [], mesh: Bool = false, sni: String? = nil) {
        self.method = method
        self.path = path
        self.host = host
        self.port = port
        self.headers = headers
        self.mesh = mesh
        self.sni = sni
    }
}

/// What the table does with a `RouteQuestion`: the lines `serin route` prints, and whether a route took it.
public struct RouteAnswer: Codable, Sendable, Equatable {
    public var lines: [String]
    public var routed: Bool

    public init(lines: [String], routed: Bool) {
        self.lines = lines
        self.routed = routed
    }
}

extension RouteQuestion {
    /// The query parameters `GET /route` takes, each once but `header` (repeatable, `name=value`).
    public static let parameters = ["method", "path", "host", "port", "header", "mesh", "sni"]

    /// The question as `GET /route`'s query parameters, in order, not yet percent-encoded.
    public var queryItems: [(name: String, value: String)] {
        var items = [("method", method), ("path", path), ("host", host), ("port", String(port))]
        items += headers.map { ("header", "\($0.name)=\($0.value)") }
        if mesh { items.append(("mesh", "true")) }
        if let sni { items.append(("sni", sni)) }
        return items
    }

    /// The question `GET /route`'s query parameters ask, with `serin route`'s defaults for those not given
    /// (GET / on host localhost, port 80); why not, naming the parameter, when they cannot be one.
    public static func parse(query items: [(name: String, value: String)]) -> Result<RouteQuestion, RouteQuestionError> {
        var question = RouteQuestion(method: "GET", path: "/", host: "localhost", port: 80)
        var seen: Set<String> = []
        for (name, value) in items {
            guard parameters.contains(name) else {
                return .failure(RouteQuestionError("unknown parameter \(name); /route takes \(parameters.joined(separator: ", "))"))
            }
            guard name == "header" || seen.insert(name).inserted else {
                return .failure(RouteQuestionError("\(name) is given twice"))
            }
            switch name {
            case "method": question.method = value
            case "path": question.path = value
            case "host": question.host = value
            case "port":
                guard let port = Int(value), (1...65535).contains(port) else {
                    return .failure(RouteQuestionError("port takes a number from 1 to 65535, got \"\(value)\""))
                }
                question.port = port
            case "header":
                let parts = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty else {
                    return .failure(RouteQuestionError("header takes name=value, got \"\(value)\""))
                }
                question.headers.append(Header(name: String(parts[0]), value: String(parts[1])))
            case "mesh":
                guard let mesh = Bool(value) else { return .failure(RouteQuestionError("mesh takes true or false, got \"\(value)\"")) }
                question.mesh = mesh
            default: question.sni = value
            }
        }
        return .success(question)
    }
}

/// Why query parameters are not a `RouteQuestion`.
public struct RouteQuestionError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

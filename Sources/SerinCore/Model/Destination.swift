/// Where a route sends traffic: a service host, optionally one subset of it and one port.
public struct Destination: Hashable, Sendable, Codable, CustomStringConvertible {
    public var host: String
    public var subset: String?
    public var port: Int?

    public init(host: String, subset: String? = nil, port: Int? = nil) {
        self.host = host
        self.subset = subset
        self.port = port
    }

    /// Same host, and same subset when `other` names one: how a Canary's destination finds the routes it owns.
    public func sameService(as other: Destination) -> Bool {
        host == other.host && (other.subset == nil || subset == other.subset)
    }

    /// Same host and same subset: the same version of a service, whichever port a route names.
    public func isSameVersion(as other: Destination) -> Bool {
        host.lowercased() == other.host.lowercased() && subset == other.subset
    }

    public var description: String {
        var text = host
        if let subset { text += " subset \(subset)" }
        if let port { text += ":\(port)" }
        return text
    }
}

/// A destination with its share of a route's traffic, in percent, and the header changes Istio applies when a
/// request goes there (`route[].headers`: a sticky canary's `Set-Cookie` lives here).
public struct WeightedDestination: Hashable, Sendable {
    public var destination: Destination
    public var weight: Int
    /// Header changes for requests sent to this destination and their responses; nil: none.
    public var headers: RouteHeaders?

    public init(destination: Destination, weight: Int, headers: RouteHeaders? = nil) {
        self.destination = destination
        self.weight = weight
        self.headers = headers
    }
}

extension RequestMatch {
    /// Whether every condition of this match holds for the request (Istio: AND within one match).
    public func matches(_ request: RequestAttributes, gateways admitting: Set<ResourceName>, port: Int) -> Bool {
        MatchRule(self).matches(request, admits: admitting.contains, port: port)
    }
}

/// A `RequestMatch` prepared for the per-request path: conditions in flat arrays, read through one
/// reference, so evaluating a route never copies the whole match value.
final class MatchRule: Sendable {
    let port: Int?
    let gateways: [ResourceName]
    let uri: StringMatch?
    let ignoreUriCase: Bool
    let scheme: StringMatch?
    let method: StringMatch?
    let authority: StringMatch?
    let headers: [HeaderCondition]
    let withoutHeaders: [HeaderCondition]
    let queryParams: [HeaderCondition]

    /// One named condition: a header (by lower-case name) or a query parameter.
    struct HeaderCondition: Sendable {
        let name: String
        let match: StringMatch
    }

    init(_ match: RequestMatch) {
        port = match.port
        gateways = match.gateways
        uri = match.uri
        ignoreUriCase = match.ignoreUriCase
        scheme = match.scheme
        method = match.method
        authority = match.authority
        // Sorted so evaluation order (and so cost) does not depend on dictionary order.
        headers = match.headers.sorted { $0.key < $1.key }.map { HeaderCondition(name: $0.key, match: $0.value) }
        withoutHeaders = match.withoutHeaders.sorted { $0.key < $1.key }.map { HeaderCondition(name: $0.key, match: $0.value) }
        queryParams = match.queryParams.sorted { $0.key < $1.key }.map { HeaderCondition(name: $0.key, match: $0.value) }
    }

    /// Whether every condition holds; `admits` says whether a gateway admitted the request.
    func matches(_ request: RequestAttributes, admits: (ResourceName) -> Bool, port: Int) -> Bool {
        if let wanted = self.port, wanted != port { return false }
        if !gateways.isEmpty && !gateways.contains(where: admits) { return false }
        if let uri, !uri.matches(request.path, ignoreCase: ignoreUriCase) { return false }
        if let scheme, !scheme.matches(request.scheme) { return false }
        if let method, !method.matches(request.method) { return false }
        if let authority, !authority.matches(request.authority) { return false }
        for condition in headers {
            guard let value = request.headers.firstValue(forHeader: condition.name), condition.match.matches(value) else { return false }
        }
        for condition in withoutHeaders {
            if let value = request.headers.firstValue(forHeader: condition.name), condition.match.matches(value) { return false }
        }
        for condition in queryParams {
            guard let value = request.queryValue(condition.name), condition.match.matches(value) else { return false }
        }
        return true
    }
}

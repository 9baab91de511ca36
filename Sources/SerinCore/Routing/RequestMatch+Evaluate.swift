extension RequestMatch {
    /// Whether every condition of this match holds for the request (Istio: AND within one match).
    public func matches<H>(_ request: RequestAttributes<H>, gateways admitting: Set<ResourceName>, port: Int) -> Bool {
        matches(request, admits: admitting.contains, port: port)
    }

    /// The same, asking `admits` whether a gateway admitted the request: the hot path needs no set.
    func matches<H>(_ request: RequestAttributes<H>, admits: (ResourceName) -> Bool, port: Int) -> Bool {
        if let wanted = self.port, wanted != port { return false }
        if !gateways.isEmpty && !gateways.contains(where: admits) { return false }
        if let uri, !uri.matches(request.path, ignoreCase: ignoreUriCase) { return false }
        if let scheme, !scheme.matches(request.scheme) { return false }
        if let method, !method.matches(request.method) { return false }
        if let authority, !authority.matches(request.authority) { return false }
        for (name, match) in headers {
            guard let value = request.headers.firstValue(forHeader: name), match.matches(value) else { return false }
        }
        for (name, match) in withoutHeaders {
            if let value = request.headers.firstValue(forHeader: name), match.matches(value) { return false }
        }
        for (name, match) in queryParams {
            guard let value = request.queryValue(name), match.matches(value) else { return false }
        }
        return true
    }
}

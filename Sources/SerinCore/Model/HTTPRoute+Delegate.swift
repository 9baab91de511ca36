/// Istio's VirtualService delegation: a root route that names a `delegate` is replaced by the delegate's routes,
/// each merged with it. A delegate route's match must lie within one of the root's (a prefix under the root's
/// prefix, the same exact value, no other port or gateways); one that does not is dropped, as Istio drops it. What
/// the delegate route leaves unset it takes from the root: match conditions, name, timeout, retries, fault, headers,
/// rewrite, mirror, direct response.
extension HTTPRoute {
    /// This delegate route as it stands in for `root`, or nil when its matches conflict with the root's.
    public func merged(into root: HTTPRoute) -> HTTPRoute? {
        guard let matches = Self.mergedMatches(root: root.matches, delegate: matches) else { return nil }
        var merged = self
        merged.matches = matches
        merged.name = [root.name, name].compactMap { $0 }.joined(separator: "-").nilIfEmpty
        merged.timeout = timeout ?? root.timeout
        merged.retries = retries ?? root.retries
        merged.fault = fault ?? root.fault
        merged.headers = headers ?? root.headers
        merged.rewrite = rewrite ?? root.rewrite
        merged.mirror = mirror ?? root.mirror
        merged.mirrors = mirrors.isEmpty ? root.mirrors : mirrors
        merged.corsPolicy = corsPolicy ?? root.corsPolicy
        merged.directResponse = directResponse ?? root.directResponse
        merged.delegate = nil
        return merged
    }

    /// Each delegate match merged with every root match it does not conflict with; nil when one of the delegate's
    /// matches fits none of the root's. Either side empty: the other's, as they are.
    static func mergedMatches(root: [RequestMatch], delegate: [RequestMatch]) -> [RequestMatch]? {
        if root.isEmpty { return delegate }
        if delegate.isEmpty { return root }
        var merged: [RequestMatch] = []
        for leaf in delegate {
            let fitting = root.filter { !$0.conflicts(with: leaf) }
            guard !fitting.isEmpty else { return nil }
            merged += fitting.map { leaf.filled(from: $0) }
        }
        return merged
    }
}

extension RequestMatch {
    /// Whether `leaf`, a delegate's match, asks for something this root match cannot give: a path or value outside
    /// the root's, a header, query parameter or port the root pins to another value, gateways the root does not list.
    func conflicts(with leaf: RequestMatch) -> Bool {
        let pairs = [(uri, leaf.uri), (scheme, leaf.scheme), (method, leaf.method), (authority, leaf.authority)]
        if pairs.contains(where: { StringMatch.conflict(root: $0.0, leaf: $0.1) }) { return true }
        for (name, value) in leaf.headers where StringMatch.conflict(root: headers[name], leaf: value) { return true }
        for (name, value) in leaf.withoutHeaders where StringMatch.conflict(root: withoutHeaders[name], leaf: value) { return true }
        for (name, value) in leaf.queryParams where StringMatch.conflict(root: queryParams[name], leaf: value) { return true }
        if ignoreUriCase != leaf.ignoreUriCase { return true }
        if let port, let leafPort = leaf.port, port != leafPort { return true }
        if !gateways.isEmpty, !leaf.gateways.isEmpty, !Set(leaf.gateways).isSubset(of: Set(gateways)) { return true }
        return false
    }

    /// This match with what it leaves unset taken from `root`; headers, absent headers and query parameters joined.
    func filled(from root: RequestMatch) -> RequestMatch {
        var merged = self
        merged.name = [root.name, name].compactMap { $0 }.joined(separator: "-").nilIfEmpty
        merged.uri = uri ?? root.uri
        merged.scheme = scheme ?? root.scheme
        merged.method = method ?? root.method
        merged.authority = authority ?? root.authority
        merged.headers = root.headers.merging(headers) { $1 }
        merged.withoutHeaders = root.withoutHeaders.merging(withoutHeaders) { $1 }
        merged.queryParams = root.queryParams.merging(queryParams) { $1 }
        merged.port = port ?? root.port
        merged.gateways = gateways.isEmpty ? root.gateways : gateways
        return merged
    }
}

extension StringMatch {
    /// Whether a delegate's `leaf` condition can match what the root's cannot: neither set is no conflict; a regex
    /// beside anything else is one (its language cannot be compared); under an exact root only the same exact value
    /// fits, under a prefix only a prefix or exact value that starts with it.
    static func conflict(root: StringMatch?, leaf: StringMatch?) -> Bool {
        guard let root, let leaf else { return false }
        switch (root, leaf) {
        case (.exact(let wanted), .exact(let value)): return wanted != value
        case (.prefix(let prefix), .prefix(let value)), (.prefix(let prefix), .exact(let value)): return !value.hasPrefix(prefix)
        default: return true
        }
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}

// Blue/green with mirroring's part of the one rule for the routes a Canary owns: while the iterations are
// analysed, each owned route keeps 100% of its live traffic on stable and copies `mirror` of its requests to the
// canary (Istio's `mirror` + `mirrorPercentage`); promotion and rollback take the copy away. A route's mirror to
// any other host is the user's and stays as written.
extension TrafficSplit {
    /// What an owned route's mirror becomes: the canary (`canary`, with the port the route gives it) while the
    /// split mirrors; else none if the route's mirror was the Canary's, or the user's own mirror untouched.
    public func mirrorPolicy(replacing current: HTTPMirrorPolicy?, canary: Destination) -> HTTPMirrorPolicy? {
        if let mirror { return HTTPMirrorPolicy(destination: canary, percentage: mirror) }
        guard let current, !isCanarysMirror(current.destination) else { return nil }
        return current
    }

    /// Whether a route's mirror to `destination` is one the Canary sets: a copy to the canary's service.
    public func isCanarysMirror(_ destination: Destination) -> Bool {
        destination.sameService(as: canary.destination)
    }
}

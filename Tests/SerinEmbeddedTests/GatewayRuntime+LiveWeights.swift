import SerinCore
import SerinEmbedded

extension GatewayRuntime {
    /// The weights the live VirtualService `virtualService` gives each destination host on its weighted route (a sticky
    /// canary's affinity routes go ahead of it).
    func liveWeights(of virtualService: String) async -> [String: Int] {
        let config = await live.config
        let route = config.virtualServices.first { $0.name.name == virtualService }?.http.first { $0.name?.hasSuffix("-affinity") != true }
        var weights: [String: Int] = [:]
        for destination in route?.destinations ?? [] { weights[destination.destination.host] = destination.weight }
        return weights
    }

    /// The live weights once they equal `expected`, or the last seen after 5 s: the controller saves its decision
    /// before it moves traffic, so a rollout's status can run a moment ahead of the route.
    func liveWeights(of virtualService: String, settlingOn expected: [String: Int]) async -> [String: Int] {
        let deadline = ContinuousClock.now + .seconds(5)
        var weights = await liveWeights(of: virtualService)
        while weights != expected, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            weights = await liveWeights(of: virtualService)
        }
        return weights
    }
}

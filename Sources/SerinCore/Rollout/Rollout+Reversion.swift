/// Flagger's `spec.revertOnDeletion`: what a Canary deleted from a cluster puts back before it goes. Every request
/// goes to what serves as the stable, as a rollback or a finished rollout leaves the routes (no A/B route, no mirror,
/// cookies that pin nobody), and on a Deployment the target is scaled back up like the primary, which goes with the
/// Canary.
public struct Reversion: Hashable, Sendable {
    /// The routes once reverted: the stable (or the version a promotion handed the traffic to) at 100%.
    public var split: TrafficSplit
    /// Flagger's shape: the target scaled to the primary's size (`WorkloadScaling.Size.likePrimary`).
    public var scaling: WorkloadScaling?
}

extension Rollout {
    /// What deleting the Canary with `revertOnDeletion` puts back; nil when the rollout never took the routes over
    /// (`ownsRoutes`), which are then as the user wrote them.
    public var reversion: Reversion? {
        guard ownsRoutes else { return nil }
        var reverted = split
        // A promotion handed the traffic to the canary: it serves, and keeps serving (the primary, on a Deployment,
        // runs the promoted template already).
        let promoted = status.isPromoted
        reverted.stable.weight = promoted ? 0 : 100
        reverted.canary.weight = promoted ? 100 : 0
        reverted.canaryMatch = []
        reverted.mirror = nil
        reverted.affinity?.pins = false
        return Reversion(split: reverted, scaling: spec.workload.map { scaling($0, to: .likePrimary) })
    }
}

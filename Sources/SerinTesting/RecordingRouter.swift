import NIOConcurrencyHelpers
import SerinCore

/// A `TrafficRouter` over VirtualServices held in memory: it serves the routes a test set, applies each split to
/// the routes it owns (`TrafficSplit.owns`, as the real routers do) and keeps every split it was given. A test
/// can make it refuse weight changes, or hold one Canary's changes at a gate (a slow API server).
public final class RecordingRouter: TrafficRouter {
    private struct State {
        var virtualServices: [ResourceName: [[WeightedDestination]]]
        var splits: [ResourceName: [TrafficSplit]] = [:]
        var failure: (any Error)?
        var gates: [ResourceName: AsyncGate] = [:]
    }

    /// Why a weight change was refused.
    public struct Refusal: Error, CustomStringConvertible, Equatable {
        public var description: String

        public init(_ description: String) {
            self.description = description
        }

        static func missing(_ virtualService: ResourceName) -> Refusal {
            Refusal("VirtualService \(virtualService.name) does not exist")
        }
    }

    private let state: NIOLockedValueBox<State>
    private let log: CallLog?

    /// - Parameters:
    ///   - virtualServices: each VirtualService's HTTP routes, each route its destinations with their weights.
    ///   - log: where `setWeights CANARY: STABLE/CANARY` lines go, beside other fakes' calls.
    public init(serving virtualServices: [ResourceName: [[WeightedDestination]]], log: CallLog? = nil) {
        state = NIOLockedValueBox(State(virtualServices: virtualServices))
        self.log = log
    }

    /// The VirtualService's routes as they stand now: as set, with every split applied since.
    public func routes(of virtualService: ResourceName) -> [[WeightedDestination]]? {
        state.withLockedValue { $0.virtualServices[virtualService] }
    }

    /// Replaces the VirtualService's routes, as a person applying its file again would.
    public func serve(_ routes: [[WeightedDestination]], in virtualService: ResourceName) {
        state.withLockedValue { $0.virtualServices[virtualService] = routes }
    }

    /// Every split applied for the Canary, in order.
    public func splits(of canary: ResourceName) -> [TrafficSplit] {
        state.withLockedValue { $0.splits[canary] ?? [] }
    }

    /// The canary weights applied for the Canary, in order.
    public func canaryWeights(of canary: ResourceName) -> [Int] {
        splits(of: canary).map(\.canary.weight)
    }

    /// Refuses every weight change with `error` from now on; nil takes them again.
    public func failWeights(with error: (any Error)?) {
        state.withLockedValue { $0.failure = error }
    }

    /// The Canary's weight changes wait at `gate` until it opens.
    public func hold(_ canary: ResourceName, at gate: AsyncGate) {
        state.withLockedValue { $0.gates[canary] = gate }
    }

    public func setWeights(for canary: CanarySpec, _ split: TrafficSplit) async throws {
        if let gate = state.withLockedValue({ $0.gates[canary.name] }) { await gate.wait() }
        try state.withLockedValue { state in
            if let failure = state.failure { throw failure }
            guard let routes = state.virtualServices[canary.targetRef] else { throw Refusal.missing(canary.targetRef) }
            let owned = split.ownedRoutes(routes.map { $0.map(\.destination) })
            guard owned.contains(true) else {
                throw Refusal("VirtualService \(canary.targetRef.name) has no route to \(split.stable.destination)")
            }
            state.virtualServices[canary.targetRef] = zip(routes, owned).map { route, owned in owned ? split.destinations(replacing: route) : route }
            state.splits[canary.name, default: []].append(split)
            log?.record("setWeights \(canary.name.name): \(split.stable.weight)/\(split.canary.weight)")
        }
    }

    public func servingRoutes(for canary: CanarySpec) async throws -> ServingRoutes {
        guard let routes = routes(of: canary.targetRef) else { throw Refusal.missing(canary.targetRef) }
        return ServingRoutes(virtualService: canary.targetRef, routes: routes)
    }
}

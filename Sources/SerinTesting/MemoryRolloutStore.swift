import NIOConcurrencyHelpers
import SerinCore

/// A `RolloutStore` in memory: rollouts, events and measurements as a save left them, readable at once by a
/// test, and shared by a second controller to stand in for a restart. It can be told to refuse the next save
/// (a full disk, an API server that said no), or to hold saves at a gate (a slow API server).
public final class MemoryRolloutStore: RolloutStore {
    private struct State {
        var rollouts: [ResourceName: Rollout] = [:]
        var events: [ResourceName: [RolloutEvent]] = [:]
        var measurements: [ResourceName: [RecordedMeasurement]] = [:]
        var saves = 0
        var failNextSave: (any Error)?
        var deleted: [ResourceName] = []
        var gate: AsyncGate?
    }

    private let state = NIOLockedValueBox(State())
    private let log: CallLog?

    /// - Parameter log: where `save CANARY: PHASE at WEIGHT%` and `delete CANARY` lines go, beside other fakes' calls.
    public init(log: CallLog? = nil) {
        self.log = log
    }

    /// The Canary's rollout as last saved.
    public func rollout(_ canary: ResourceName) -> Rollout? {
        state.withLockedValue { $0.rollouts[canary] }
    }

    /// How many saves went through.
    public var saves: Int { state.withLockedValue { $0.saves } }

    /// The Canaries forgotten, in order.
    public var deleted: [ResourceName] { state.withLockedValue { $0.deleted } }

    /// The next save throws `error` and keeps nothing; the ones after go through.
    public func failNextSave(with error: any Error) {
        state.withLockedValue { $0.failNextSave = error }
    }

    /// Saves from now on wait at `gate` until it opens; nil lets them through at once.
    public func holdSaves(at gate: AsyncGate?) {
        state.withLockedValue { $0.gate = gate }
    }

    public func loadRollouts() async throws -> [ResourceName: Rollout] {
        state.withLockedValue { $0.rollouts }
    }

    public func save(_ rollout: Rollout, events: [RolloutEvent], measurements: [RecordedMeasurement]) async throws {
        let name = rollout.spec.name
        if let gate = state.withLockedValue({ $0.gate }) { await gate.wait() }
        try state.withLockedValue { state in
            if let failure = state.failNextSave {
                state.failNextSave = nil
                throw failure
            }
            state.rollouts[name] = rollout
            state.events[name, default: []] += events
            state.measurements[name, default: []] += measurements
            state.saves += 1
            log?.record("save \(name.name): \(rollout.status.phase) at \(rollout.status.canaryWeight)%")
        }
    }

    public func events(for canary: ResourceName, limit: Int?) async throws -> [RolloutEvent] {
        let events = state.withLockedValue { $0.events[canary] ?? [] }
        return limit.map { Array(events.suffix($0)) } ?? events
    }

    public func measurements(for canary: ResourceName, limit: Int?) async throws -> [RecordedMeasurement] {
        let measurements = state.withLockedValue { $0.measurements[canary] ?? [] }
        return limit.map { Array(measurements.suffix($0)) } ?? measurements
    }

    public func delete(_ canary: ResourceName) async throws {
        state.withLockedValue { state in
            state.rollouts[canary] = nil
            state.events[canary] = nil
            state.measurements[canary] = nil
            state.deleted.append(canary)
            log?.record("delete \(canary.name)")
        }
    }
}

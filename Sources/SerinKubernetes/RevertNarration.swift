import SerinCore

/// What a revert on deletion has told on its Canary as Events, so each step, and each distinct failure, is told once
/// though the revert is tried again every few seconds until it is done. Flagger's own words open and close it
/// (`Terminating canary NAME.NAMESPACE`, `Terminated canary NAME.NAMESPACE`), so what reads Flagger's Events reads
/// Serin's; the steps between say what was put back.
struct RevertNarration: Equatable {
    /// The Canary the story is about.
    let canary: ResourceName
    private var told: Set<String> = []

    init(canary: ResourceName) {
        self.canary = canary
    }

    /// The Events for an attempt that did `steps` and then, unless nil, failed as `failure` says; each only the first
    /// time it is told.
    mutating func events(for steps: [DeletionRevert.Step], failure: String?, at now: RolloutInstant) -> [RolloutEvent] {
        var events = steps.map { RolloutEvent(instant: now, severity: severity(of: $0), message: message(of: $0)) }
        if let failure { events.append(RolloutEvent(instant: now, severity: .warning, message: failure)) }
        return events.filter { told.insert($0.message).inserted }
    }

    private func severity(of step: DeletionRevert.Step) -> RolloutEvent.Severity {
        switch step {
        case .targetWithoutPrimary: .warning
        case .terminating, .routes, .target, .finalized: .normal
        }
    }

    private func message(of step: DeletionRevert.Step) -> String {
        let flaggerName = "\(canary.name).\(canary.namespace)"
        return switch step {
        case .terminating:
            "Terminating canary \(flaggerName): deleted with spec.revertOnDeletion, it is kept until Serin has put back what it changed"
        case .routes(let said): "routes reverted: \(said)"
        case .target(let said): "target reverted: \(said)"
        case .targetWithoutPrimary(let said): "target reverted without its primary: \(said)"
        case .finalized(let finalizer): "Terminated canary \(flaggerName): reverted, finalizer \(finalizer) removed"
        }
    }
}

/// Flagger's `spec.revertOnDeletion`, decided from one Canary object: a Canary that asks for it carries its group's
/// finalizer (`CanaryGroup.finalizer`), so once deleted the API server keeps it until Serin has put back what it
/// changed (`DeletionRevert`) and taken the finalizer off; one that no longer asks has it taken off, as Flagger does.
enum RevertOnDeletion: Equatable {
    case addFinalizer
    case removeFinalizer
    /// Deleted while it carries the finalizer and asks for the revert: revert, then take the finalizer off.
    case revert

    /// Flagger's `status.phase` while a deleted Canary is reverted, written once as the revert starts, so
    /// `kubectl get canary` shows it. Flagger writes no phase after it: the Canary goes once its finalizer is off.
    static let terminatingPhase = "Terminating"

    /// The step, as a message says it cannot be done.
    var doing: String {
        switch self {
        case .addFinalizer: "add its finalizer for spec.revertOnDeletion"
        case .removeFinalizer: "take its finalizer off, as spec.revertOnDeletion is not true"
        case .revert: "revert it on deletion, as spec.revertOnDeletion asks"
        }
    }

    /// What to do for `canary`; nil for nothing. `runs`: it is the Canary Serin runs under its name — a namesake that
    /// waits (`CanaryGroup.runner`) gets no finalizer, and has nothing to revert.
    static func step(for canary: JSONValue, runs: Bool) -> RevertOnDeletion? {
        let held = finalizers(of: canary).contains(CanaryGroup.of(canary).finalizer)
        let wanted = canary["spec"]?["revertOnDeletion"] == true
        if isDeleted(canary) {
            guard held else { return nil }
            return wanted && runs ? .revert : .removeFinalizer
        }
        if wanted, runs, !held { return .addFinalizer }
        if !wanted, held { return .removeFinalizer }
        return nil
    }

    /// Whether the Canary was deleted and waits for its finalizers (`metadata.deletionTimestamp`): it runs no more.
    static func isDeleted(_ canary: JSONValue) -> Bool {
        canary["metadata"]?["deletionTimestamp"].map { $0 != .null } ?? false
    }

    /// A Canary's `fields` with its group's finalizer added (`held`) or taken off, the others kept; false when they
    /// are so already, and nothing is to be written.
    static func setFinalizer(_ held: Bool, in fields: inout [String: JSONValue]) -> Bool {
        let finalizer = CanaryGroup.of(.object(fields)).finalizer
        var metadata = fields["metadata"]?.objectValue ?? [:]
        let present = finalizers(of: .object(fields))
        guard present.contains(finalizer) != held else { return false }
        let kept = held ? present + [finalizer] : present.filter { $0 != finalizer }
        metadata["finalizers"] = kept.isEmpty ? nil : .array(kept.map(JSONValue.string))
        fields["metadata"] = .object(metadata)
        return true
    }

    private static func finalizers(of canary: JSONValue) -> [String] {
        (canary["metadata"]?["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
    }
}

import SerinKubernetes

/// Kubernetes' background cascading deletion: an object goes at once, then the garbage collector deletes what it
/// owned (objects whose `metadata.ownerReferences` name its uid), and what those owned, each a delete of its
/// own. A dependent that still has an owner alive stays; the collector only drops its reference to the gone one.
/// An object created naming only owners that no longer exist is collected as it is created.
extension KubernetesAPIServer {
    /// Deletes the object at `key` — as `last` when a write deletes it (its last finalizer taken off), else as stored —
    /// and collects its dependents; returns the object as it was, nil if absent.
    static func remove(_ key: ObjectKey, as last: JSONValue? = nil, in state: inout State) -> JSONValue? {
        guard let stored = state.objects[key] else { return nil }
        let deleted = store(last ?? stored, at: key, type: "DELETED", in: &state)
        state.heldRollouts.remove(key)
        var gone = [deleted["metadata"]?["uid"]?.stringValue].compactMap { $0 }
        while !gone.isEmpty {
            let owner = gone.removeFirst()
            let dependents = state.objects.filter { ownerUIDs(of: $0.value).contains(owner) }.sorted { ObjectKey.ordered($0.key, $1.key) }
            for (dependentKey, _) in dependents {
                // Read again: collecting an earlier dependent may have changed or removed this one.
                guard let dependent = state.objects[dependentKey] else { continue }
                let living = Set(state.objects.values.compactMap { $0["metadata"]?["uid"]?.stringValue })
                let references = dependent["metadata"]?["ownerReferences"]?.arrayValue ?? []
                let remaining = references.filter { reference in reference["uid"]?.stringValue.map(living.contains) ?? false }
                if remaining.isEmpty {
                    _ = store(dependent, at: dependentKey, type: "DELETED", in: &state)
                    state.heldRollouts.remove(dependentKey)
                    if let uid = dependent["metadata"]?["uid"]?.stringValue { gone.append(uid) }
                } else if case .object(var fields) = dependent, case .object(var metadata)? = fields["metadata"] {
                    metadata["ownerReferences"] = .array(remaining)
                    fields["metadata"] = .object(metadata)
                    _ = store(.object(fields), at: dependentKey, type: "MODIFIED", in: &state)
                }
            }
        }
        return deleted
    }

    /// Whether the collector deletes `object` as soon as it sees it: it names owners and none of them exists (one
    /// created for an owner deleted a moment before; the API server accepts it, the collector removes it).
    static func collectsOrphan(_ object: JSONValue, in state: State) -> Bool {
        let owners = ownerUIDs(of: object)
        guard !owners.isEmpty else { return false }
        let living = Set(state.objects.values.compactMap { $0["metadata"]?["uid"]?.stringValue })
        return !owners.contains(where: living.contains)
    }

    /// The uids `object`'s owner references name.
    static func ownerUIDs(of object: JSONValue) -> [String] {
        (object["metadata"]?["ownerReferences"]?.arrayValue ?? []).compactMap { $0["uid"]?.stringValue }
    }
}

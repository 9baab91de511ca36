import Foundation
import SerinKubernetes

/// Finalizers, as the API server keeps them: a DELETE of an object whose `metadata.finalizers` is not empty only
/// marks it — `deletionTimestamp` set, a MODIFIED — and it stays, readable and writable, until a write takes its
/// last finalizer off; then it goes (DELETED, and its dependents are collected). Once marked, `deletionTimestamp`
/// cannot be taken back by a write, and no finalizer may be added (422). A second DELETE changes nothing. The write
/// that takes the last finalizer off deletes the object: watchers see DELETED, not MODIFIED.
extension KubernetesAPIServer {
    /// Deletes the object at `key`, or marks it for deletion while finalizers hold it; returns the object as it is
    /// now (deleted, or marked), nil if absent.
    static func delete(_ key: ObjectKey, in state: inout State) -> JSONValue? {
        guard let object = state.objects[key] else { return nil }
        guard !finalizers(of: object).isEmpty else { return remove(key, in: &state) }
        guard object["metadata"]?["deletionTimestamp"] == nil, case .object(var fields) = object,
            case .object(var metadata)? = fields["metadata"]
        else { return object }
        metadata["deletionTimestamp"] = .string(ISO8601DateFormatter().string(from: Date()))
        metadata["deletionGracePeriodSeconds"] = 0
        fields["metadata"] = .object(metadata)
        return store(.object(fields), at: key, type: "MODIFIED", in: &state)
    }

    /// Throws the API server's 422 when a write adds a finalizer to an object marked for deletion.
    static func admittingFinalizers(_ written: JSONValue, current: JSONValue?) throws(ReplyError) {
        guard let current, current["metadata"]?["deletionTimestamp"] != nil else { return }
        let added = finalizers(of: written).filter { !finalizers(of: current).contains($0) }
        guard !added.isEmpty else { return }
        throw ReplyError(reply: status(
            422, "Invalid",
            "\(current["metadata"]?["name"]?.stringValue ?? "") is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers \(added)"))
    }

    /// `written` as a write to an object marked for deletion stores it: the mark stays, whatever the write says.
    static func keepingDeletionMark(_ written: JSONValue, of current: JSONValue?) -> JSONValue {
        guard let marked = current?["metadata"]?["deletionTimestamp"], case .object(var fields) = written else { return written }
        var metadata = fields["metadata"]?.objectValue ?? [:]
        metadata["deletionTimestamp"] = marked
        fields["metadata"] = .object(metadata)
        return .object(fields)
    }

    /// Whether a stored object is marked for deletion with no finalizer left, so it goes now.
    static func isFinalized(_ object: JSONValue) -> Bool {
        object["metadata"]?["deletionTimestamp"] != nil && finalizers(of: object).isEmpty
    }

    static func finalizers(of object: JSONValue) -> [String] {
        (object["metadata"]?["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
    }
}

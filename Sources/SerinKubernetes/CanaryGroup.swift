import Foundation
import SerinCore

/// The two Canary resources `serin controller` runs: its own (`canaries.serin.dev`) and Flagger's
/// (`canaries.flagger.app`), read unchanged so a Flagger user switches controllers without editing YAML.
/// Flagger's CRD keeps only Flagger's status fields (the API server prunes the rest), so on a Flagger Canary the
/// status says what Flagger's would, in Flagger's words, and Serin's own state and command answers live in
/// annotations.
public enum CanaryGroup: String, CaseIterable, Sendable {
    case serin = "serin.dev/v1alpha1"
    case flagger = "flagger.app/v1beta1"

    /// On a Flagger Canary: the whole rollout, as `status.state` holds it on Serin's.
    public static let stateAnnotation = "serin.dev/state"
    /// On a Flagger Canary: the answer to the last command, as `status.lastCommand` holds it on Serin's.
    public static let answerAnnotation = "serin.dev/last-command"

    public var groupVersion: String { rawValue }

    /// The finalizer that keeps a deleted Canary with `spec.revertOnDeletion` until Serin has reverted it
    /// (`RevertOnDeletion`): on Flagger's Canary, Flagger's own, so one Flagger put there is answered by Serin once it
    /// runs the Canary, rather than holding its deletion for good.
    public var finalizer: String {
        switch self {
        case .serin: "serin.dev/revert-on-deletion"
        case .flagger: "finalizer.flagger.app"
        }
    }

    /// `canaries.serin.dev`: how RBAC and people name the resource.
    public var resourceName: String { "canaries.\(groupVersion.split(separator: "/")[0])" }

    public func path(namespace: String?, name: String? = nil) -> ResourcePath {
        ResourcePath(groupVersion: groupVersion, resource: "canaries", namespace: namespace, name: name)
    }

    /// The group a Canary object belongs to, by its apiVersion (Serin's when it has none).
    public static func of(_ canary: JSONValue) -> CanaryGroup {
        canary["apiVersion"]?.stringValue.flatMap(CanaryGroup.init(rawValue:)) ?? .serin
    }

    /// Which of one name's Canaries runs when both resources hold it: the one Serin has stored a rollout on (it was
    /// running first; the other is the newcomer, and its objects are the first one's), else the first of `groups`.
    /// The watcher, the store and the CLI each ask this, so they agree on which object the rollout lives on.
    public static func runner(of namesakes: [CanaryGroup: JSONValue], in groups: [CanaryGroup]) -> CanaryGroup? {
        let present = groups.filter { namesakes[$0] != nil }
        return present.first { group in namesakes[group].flatMap(group.state(in:)) != nil } ?? present.first
    }

    /// What is written on a Canary that does not run because its namesake in `runner` does.
    static func namesakeRefusal(_ name: ResourceName, runner: CanaryGroup, other: CanaryGroup) -> String {
        "Canary \(name) exists as both \(other.resourceName) and \(runner.resourceName); Serin runs the \(runner.resourceName) one"
            + (runner == .serin ? "" : ", whose release it holds") + ", not this one (delete one of them)"
    }

    /// `canary` as listed from this group: a list's items may come without apiVersion, and this group's is theirs.
    public func stamped(_ canary: JSONValue) -> JSONValue {
        guard canary["apiVersion"] == nil, case .object(var fields) = canary else { return canary }
        fields["apiVersion"] = .string(groupVersion)
        return .object(fields)
    }

    /// Where the rollout is stored on the Canary, for messages.
    public var stateLocation: String {
        switch self {
        case .serin: "status.state"
        case .flagger: "the \(Self.stateAnnotation) annotation"
        }
    }

    /// The rollout Serin stored on the Canary, as JSON text.
    public func state(in canary: JSONValue) -> String? {
        switch self {
        case .serin: canary["status"]?["state"]?.stringValue
        case .flagger: canary["metadata"]?["annotations"]?[Self.stateAnnotation]?.stringValue
        }
    }

    /// The controller's answer to the last command written on the Canary.
    public func answer(in canary: JSONValue) -> JSONValue? {
        switch self {
        case .serin:
            return canary["status"]?["lastCommand"]
        case .flagger:
            guard let text = canary["metadata"]?["annotations"]?[Self.answerAnnotation]?.stringValue else { return nil }
            return try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        }
    }
}

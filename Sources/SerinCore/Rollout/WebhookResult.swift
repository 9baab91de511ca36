/// A webhook run's answer as the runner reports it back to the rollout.
///
/// `passed` is the hook saying yes (HTTP 2xx): a gate opens, a check holds, a `rollback` hook asks for
/// a rollback. `failed` is no, an error or a timeout, with the reason a person reads.
public enum WebhookResult: Hashable, Sendable, Codable {
    case passed
    case failed(reason: String)
}

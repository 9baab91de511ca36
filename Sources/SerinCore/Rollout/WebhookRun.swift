/// Every webhook of one type the rollout wants called now and whose combined answer it waits for,
/// reported back with `Rollout.webhookCompleted(_:result:now:)` and this run's ticket.
public struct WebhookRun: Hashable, Sendable {
    public var ticket: RolloutTicket
    public var type: WebhookType
    /// In spec order.
    public var calls: [WebhookCall]

    public init(ticket: RolloutTicket, type: WebhookType, calls: [WebhookCall]) {
        self.ticket = ticket
        self.type = type
        self.calls = calls
    }

    /// Combines the answers of the calls into the run's result, as Flagger does: gates and checks pass
    /// only when every call passes (the first failure is the reason); a `rollback` run passes — asks for
    /// a rollback — when any call says yes.
    public func result(of results: [WebhookResult]) -> WebhookResult {
        let reasons = results.compactMap { result -> String? in
            if case .failed(let reason) = result { return reason }
            return nil
        }
        if type == .rollback {
            if results.contains(.passed) { return .passed }
            return .failed(reason: reasons.first ?? "no rollback webhook answered")
        }
        if let reason = reasons.first { return .failed(reason: reason) }
        return .passed
    }

    /// Whether the call whose failure is the run's reason (the first that failed, in spec order) has `muteAlert`,
    /// as Flagger decides a closed gate's alert by the first hook that keeps it closed.
    public func mutesAlert(_ results: [WebhookResult]) -> Bool {
        guard let index = results.firstIndex(where: { $0 != .passed }), calls.indices.contains(index) else { return false }
        return calls[index].webhook.muteAlert
    }
}

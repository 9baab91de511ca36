/// Work the caller performs for the rollout, in order; the state machine itself does no IO.
public enum RolloutAction: Hashable, Sendable {
    /// Give the target VirtualService's routes that the split owns these two destinations (weights sum to 100).
    /// The events recorded after it in the same outcome say what these weights do (`advance canary weight to 20%`,
    /// `promotion: canary weight 60%`): the log says them once the router applied the split. A finished rollout's
    /// last word, `… all traffic on stable` or `promotion completed: all traffic on …`, waits for the router's
    /// answer in the rollout itself (`weightsApplied`).
    case setWeights(TrafficSplit)
    /// Call these webhooks and report the combined result with `webhookCompleted`.
    case runWebhooks(WebhookRun)
    /// Call these `event` webhooks; fire and forget, no result is expected.
    case notifyWebhooks([WebhookCall])
    /// Post these alerts (`analysis.alerts` whose severity admits the event); fire and forget, like event webhooks.
    case sendAlerts([AlertCall])
    /// Collect the readings the request lists, judge them, and report with `analysisCompleted`.
    case analyze(AnalysisRequest)
    /// Check that the canary Deployment is fully rolled out and available; report with `workloadChecked`.
    case checkWorkload(WorkloadCheck)
    /// Scale the target Deployment (Flagger's shape); fire and forget, a failure is logged.
    case scaleWorkload(WorkloadScaling)
    /// Copy the target's template to the primary and report its rollout with `primaryUpdated`.
    case promoteWorkload(WorkloadPromotion)
    /// Send this interval's synthetic load (`analysis.load`), replacing the Canary's earlier plan; fire and forget.
    case sendLoad(LoadPlan)
    /// Stop the Canary's synthetic load: the canary is no longer analysed.
    case stopLoad(ResourceName)
    /// Store and show this event.
    case record(RolloutEvent)
    case phaseChanged(to: RolloutPhase)
    /// The rollout ended in Succeeded or Failed.
    case finished(RolloutPhase)
}

/// Posts one alert to its provider and says how that went; the controller retries failures with backoff, in
/// order per Canary, without holding up the rollout. A failure's reason names the provider, never its address.
public protocol AlertSender: Sendable {
    func send(_ alert: AlertCall) async -> WebhookResult
}

/// Where the providers' addresses come from: the files given with `-f` (their AlertProviders and Secrets), or the
/// cluster, read when an alert is sent so a rotated Secret is used from the next one.
public protocol AlertEndpoints: Sendable {
    func endpoint(for provider: ResourceName) async -> Result<AlertEndpoint, AlertEndpointUnavailable>
}

/// No alerts: for controllers and tests that configure none.
public struct NoAlerts: AlertSender {
    public init() {}

    public func send(_ alert: AlertCall) async -> WebhookResult {
        .failed(reason: "alert \(alert.alert.name): no alert sender is configured")
    }
}

/// The kinds of resource Serin reads, with the API versions it accepts for each.
public enum ResourceKind: String, Sendable, Hashable, CaseIterable {
    case gateway = "Gateway"
    case virtualService = "VirtualService"
    case destinationRule = "DestinationRule"
    case serviceEntry = "ServiceEntry"
    case service = "Service"
    case deployment = "Deployment"
    case canary = "Canary"
    case metricTemplate = "MetricTemplate"
    case secret = "Secret"
    case alertProvider = "AlertProvider"

    /// The name kubectl prints in `virtualservice/web-virtualservice configured`.
    public var kubectlName: String { rawValue.lowercased() }

    /// The API group, empty for the core group (`Service`).
    public var apiGroup: String {
        switch self {
        case .gateway, .virtualService, .destinationRule, .serviceEntry: return "networking.istio.io"
        case .service, .secret: return ""
        case .deployment: return "apps"
        case .canary, .metricTemplate, .alertProvider: return "serin.dev"
        }
    }

    /// The group-qualified name kubectl prints for custom resources: `gateway.networking.istio.io`.
    public var kubectlQualifiedName: String {
        apiGroup.isEmpty ? kubectlName : "\(kubectlName).\(apiGroup)"
    }

    /// API versions decoded without complaint.
    public var currentAPIVersions: [String] {
        switch self {
        case .gateway, .virtualService, .destinationRule, .serviceEntry:
            return ["networking.istio.io/v1alpha3", "networking.istio.io/v1beta1", "networking.istio.io/v1"]
        case .service, .secret: return ["v1"]
        case .deployment: return ["apps/v1"]
        // Flagger's Canary is read unchanged too, so a Flagger user can switch controllers without editing YAML.
        case .canary: return ["serin.dev/v1alpha1", "flagger.app/v1beta1"]
        // Flagger's MetricTemplate is read unchanged, so a Flagger user's custom metrics need no rewrite.
        case .metricTemplate: return ["serin.dev/v1alpha1", "flagger.app/v1beta1"]
        // Flagger's AlertProvider is read unchanged, so a Flagger user's alerts need no rewrite.
        case .alertProvider: return ["serin.dev/v1alpha1", "flagger.app/v1beta1"]
        }
    }

    /// API versions Kubernetes no longer serves but whose shape Serin still reads, with a warning.
    public var legacyAPIVersions: [String] {
        switch self {
        case .deployment: return ["extensions/v1beta1", "apps/v1beta1", "apps/v1beta2"]
        default: return []
        }
    }

    /// Whether Serin decodes this kind under `apiVersion`.
    public func accepts(apiVersion: String) -> Bool {
        currentAPIVersions.contains(apiVersion) || legacyAPIVersions.contains(apiVersion)
    }
}

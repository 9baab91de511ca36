import SerinCore

/// One decoded resource as a plain value: equal values mean the same spec, so re-applying an
/// unchanged file can be reported as `unchanged` rather than `configured`. Locations live beside it
/// in `LocatedResource`, never inside.
public enum Resource: Sendable, Hashable {
    case gateway(Gateway)
    case virtualService(VirtualService)
    case destinationRule(DestinationRule)
    case serviceEntry(ServiceEntryResource)
    case service(KubernetesService)
    case deployment(Deployment)
    case canary(CanarySpec)
    case metricTemplate(MetricTemplateSpec)
    case secret(KubernetesSecret)
    case alertProvider(AlertProvider)

    public var kind: ResourceKind {
        switch self {
        case .gateway: return .gateway
        case .virtualService: return .virtualService
        case .destinationRule: return .destinationRule
        case .serviceEntry: return .serviceEntry
        case .service: return .service
        case .deployment: return .deployment
        case .canary: return .canary
        case .metricTemplate: return .metricTemplate
        case .secret: return .secret
        case .alertProvider: return .alertProvider
        }
    }

    public var name: ResourceName {
        switch self {
        case .gateway(let value): return value.name
        case .virtualService(let value): return value.name
        case .destinationRule(let value): return value.name
        case .serviceEntry(let value): return value.name
        case .service(let value): return value.name
        case .deployment(let value): return value.name
        case .canary(let value): return value.name
        case .metricTemplate(let value): return value.name
        case .secret(let value): return value.name
        case .alertProvider(let value): return value.name
        }
    }
}

import SerinCore

/// The values a `QueryTemplate` may use, named as in Flagger's MetricTemplates.
public struct QueryContext: Hashable, Sendable {
    /// `{{ name }}`: the Canary's name, in a MetricTemplate (`IstioQueries.templateContext`); nil for the built-in
    /// queries, which measure one destination and use no name.
    public var name: String?
    /// `{{ namespace }}`: the namespace of the measured service.
    public var namespace: String
    /// `{{ target }}`: the canary's workload, as Flagger fills it (`web-v2`, Istio's `destination_workload`), or
    /// its service name (`web-v2-service`) when the workload is not known.
    public var target: String
    /// `{{ service }}`: the measured destination's service name; in a MetricTemplate, Flagger's apex Service where
    /// the Canary has Flagger's shape (`IstioQueries.templateContext`).
    public var service: String
    /// `{{ interval }}`: the check's window, rendered as a Prometheus duration (`1m30s`).
    public var interval: Duration
    /// `{{ variables.NAME }}`: user values (Flagger's `templateVariables`).
    public var variables: [String: String]

    public init(
        name: String? = nil, namespace: String, target: String, service: String, interval: Duration, variables: [String: String] = [:]
    ) {
        self.name = name
        self.namespace = namespace
        self.target = target
        self.service = service
        self.interval = interval
        self.variables = variables
    }

    /// `{{ ingress }}`: Flagger's `ingressRef` name, else the target's; Serin routes with no ingress object, so
    /// always `target`.
    public var ingress: String { target }
    /// `{{ route }}`: Flagger's `routeRef` name (a Gateway API or APISIX route), else the target's; Serin has no
    /// `routeRef`, so always `target`.
    public var route: String { target }

    /// Every name a template may use here, for error messages, in the order of Flagger's `MetricTemplateModel`:
    /// fixed names (`name` where a Canary is named), then `variables.*` sorted.
    public var knownNames: [String] {
        MetricTemplateSpec.builtInVariables.filter { $0 != "name" || name != nil } + variables.keys.sorted().map { "variables.\($0)" }
    }

    /// The rendered value of `name`, or nil when the context has no such variable.
    func value(of name: String) -> String? {
        switch name {
        case "name": return self.name
        case "namespace": return namespace
        case "target": return target
        case "service": return service
        case "ingress": return ingress
        case "route": return route
        case "interval": return PrometheusDuration.format(interval)
        default:
            guard name.hasPrefix("variables.") else { return nil }
            return variables[String(name.dropFirst("variables.".count))]
        }
    }
}

import SerinCore

extension Array where Element == LocatedResource {
    /// The MetricTemplates among decoded resources, in file order: the queries custom metrics run.
    public var metricTemplates: [MetricTemplateSpec] {
        compactMap { located in
            guard case .metricTemplate(let spec) = located.resource else { return nil }
            return spec
        }
    }
}

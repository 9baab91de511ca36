import SerinCore

extension MetricTemplateSpec {
    /// The `NAME`s of the query's `{{ variables.NAME }}`, sorted: what a referencing metric's
    /// `templateVariables` must set.
    var variableNames: [String] {
        let names = QueryPlaceholder.all(in: query).compactMap { placeholder -> String? in
            guard case .variable(let name) = placeholder else { return nil }
            return name
        }
        return Set(names).sorted()
    }
}

import SerinCore

extension ManifestDecoder {
    /// A MetricTemplate (`serin.dev/v1alpha1`, or Flagger's `flagger.app/v1beta1` read unchanged): a query
    /// and the Prometheus server that runs it (with the Secret holding its credentials), named by Canary metrics'
    /// `templateRef`.
    static func metricTemplate(_ spec: Field, name: ResourceName, reader: DocumentReader) -> MetricTemplateSpec? {
        guard let fields = reader.mapping(spec, Schema(known: ["provider", "query"])) else { return nil }
        let provider = reader.required("provider", in: fields).flatMap { self.provider($0, for: .template, reader: reader) }
        let query = reader.required("query", in: fields).flatMap { templateQuery($0, reader: reader) }
        guard let provider, let query else { return nil }
        return MetricTemplateSpec(name: name, source: provider.source, query: query, secretRef: provider.secretRef)
    }

    /// A non-empty query whose `{{ ... }}` all name something a check can fill in.
    private static func templateQuery(_ field: Field, reader: DocumentReader) -> String? {
        guard let query = reader.string(field) else { return nil }
        guard !query.allSatisfy(\.isWhitespace) else {
            reader.error("\(field.path) is empty, expected a PromQL query", at: field.node)
            return nil
        }
        var reported = Set<QueryPlaceholder>()
        for (placeholder, index) in QueryPlaceholder.located(in: query) where reported.insert(placeholder).inserted {
            // Kept as values, like other queries Serin cannot run, so references do not cascade. Each is reported
            // at its own line of a `|` block, where most queries are written.
            let at = reader.location(of: field.node, at: index, in: query)
            switch placeholder {
            case .builtIn, .variable:
                continue
            case .unknown(let name):
                reader.unsupported("\(field.path): unknown variable {{ \(name) }}; expected \(QueryPlaceholder.validNames)", at: at)
            case .unclosed:
                reader.unsupported("\(field.path): a {{ is not closed by }}", at: at)
            }
        }
        return query
    }
}

import CoreMetrics
import Prometheus
import SerinController

/// Where `/metrics` gets the controller's families: a swift-prometheus registry, filled through the swift-metrics
/// factory the controller records with.
///
/// swift-prometheus's own factory gives no family a HELP line (and refuses one registered later), and
/// `promtool check metrics` flags a family without one; this factory registers Serin's families with their
/// help and leaves anything else to swift-prometheus's.
public struct ControllerMetricsRegistry: Sendable {
    public let registry = PrometheusCollectorRegistry()

    /// With Flagger's `flagger_info` set, as Flagger sets it at start: Serin's version, and the mesh it routes for.
    public init() {
        Gauge(
            label: ControllerMetricFamily.flaggerInfo.rawValue, dimensions: [("version", SerinVersion.number), ("mesh_provider", "istio")],
            factory: factory
        ).record(1)
    }

    /// The factory to hand to `CanaryController`.
    public var factory: any MetricsFactory { DescribedFactory(registry: registry) }

    /// The families in Prometheus's text format.
    public func exposition() -> String { registry.emitToString() }
}

/// swift-prometheus's factory, with HELP text for the controller's families.
private struct DescribedFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    var plain: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: registry) }

    func descriptor(_ label: String) -> MetricNameDescriptor? {
        ControllerMetricFamily(rawValue: label).map { MetricNameDescriptor(metricName: $0.rawValue, unitName: "", helpText: $0.help) }
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard let descriptor = descriptor(label) else { return plain.makeCounter(label: label, dimensions: dimensions) }
        return registry.makeCounter(descriptor: descriptor, labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        plain.makeFloatingPointCounter(label: label, dimensions: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard !aggregate, let descriptor = descriptor(label) else {
            return plain.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
        }
        return registry.makeGauge(descriptor: descriptor, labels: dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        plain.makeMeter(label: label, dimensions: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let plain = self.plain
        guard let descriptor = descriptor(label) else { return plain.makeTimer(label: label, dimensions: dimensions) }
        return registry.makeDurationHistogram(descriptor: descriptor, labels: dimensions, buckets: plain.defaultDurationHistogramBuckets)
    }

    func destroyCounter(_ handler: any CounterHandler) { plain.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { plain.destroyFloatingPointCounter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { plain.destroyRecorder(handler) }
    func destroyMeter(_ handler: any MeterHandler) { plain.destroyMeter(handler) }
    func destroyTimer(_ handler: any TimerHandler) { plain.destroyTimer(handler) }
}

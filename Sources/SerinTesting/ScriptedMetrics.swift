import NIOConcurrencyHelpers
import SerinCore

/// A `MetricProvider` whose readings a test writes: each analysis request is answered by the current script, and
/// every request is kept, so a test can say which analyses ran, at which weight.
public final class ScriptedMetrics: MetricProvider {
    public typealias Script = @Sendable (AnalysisRequest) -> AnalysisSamples

    private struct State {
        var script: Script
        var requests: [AnalysisRequest] = []
    }

    private let state: NIOLockedValueBox<State>

    public init(_ script: @escaping Script = ScriptedMetrics.healthy) {
        state = NIOLockedValueBox(State(script: script))
    }

    /// Answers the requests from now on with `script`.
    public func answer(_ script: @escaping Script) {
        state.withLockedValue { $0.script = script }
    }

    /// Every request so far, oldest first.
    public var requests: [AnalysisRequest] { state.withLockedValue { $0.requests } }

    public func samples(for request: AnalysisRequest) async -> AnalysisSamples {
        let script = state.withLockedValue { state in
            state.requests.append(request)
            return state.script
        }
        return script(request)
    }
}

extension ScriptedMetrics {
    /// Every check reads `requests` canary requests of which `failures` failed, with a p99 of `p99Milliseconds`,
    /// beside 400 stable requests that all succeeded.
    public static func traffic(failures: Int, requests: Int = 100, p99Milliseconds: Double = 20) -> Script {
        { request in
            var samples = AnalysisSamples()
            for check in request.metrics {
                samples[metric: check.name] = .traffic(
                    canary: MetricSample(requests: requests, failures: failures, p99Milliseconds: p99Milliseconds, window: check.interval),
                    stable: MetricSample(requests: 400, failures: 0, p99Milliseconds: p99Milliseconds, window: check.interval))
            }
            return samples
        }
    }

    /// Plenty of requests, none failed, all fast: every built-in check passes.
    public static let healthy: Script = traffic(failures: 0)
    /// 40 of 100 canary requests failed: the success rate check fails.
    public static let failing: Script = traffic(failures: 40)
    /// Nothing measured yet (Prometheus before its first scrape): every check is inconclusive.
    public static let noData: Script = { _ in AnalysisSamples() }
}

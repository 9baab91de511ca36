import NIOCore
import SerinCore
import Synchronization

/// The gateway's `UpstreamCluster`s by cluster name: one for each cluster a DestinationRule gives a traffic
/// policy. A reconfiguration keeps a cluster whose policy and endpoints did not change (with its ejections and
/// open connections) and replaces the others.
final class UpstreamClusters: Sendable {
    private let clusters = Mutex<[String: UpstreamCluster]>([:])
    private let loops: [LoopContext]

    init(loops: [LoopContext]) {
        self.loops = loops
    }

    /// The shared state for `cluster`, or nil when it has no traffic policy. A request that resolved its route
    /// in the table a reconfiguration just replaced may name a cluster whose endpoints changed: it gets no shared
    /// state rather than one whose endpoint indices do not match its own.
    func shared(for target: RouteTable.Target) -> UpstreamCluster? {
        shared(for: target.cluster)
    }

    func shared(for cluster: Cluster) -> UpstreamCluster? {
        guard cluster.hasTrafficPolicy, let shared = clusters.withLock({ $0[cluster.name] }),
            shared.endpointCount == cluster.endpoints.count
        else { return nil }
        return shared
    }

    /// The clusters with a traffic policy that `table` routes to, by name.
    static func wanted(in table: RouteTable) -> [String: Cluster] {
        var wanted: [String: Cluster] = [:]
        for listener in Array(table.listeners.values) + Array(table.mesh.values) + Array(table.passthrough.values) + Array(table.tcp.values) {
            for host in listener.virtualHosts {
                for route in host.routes {
                    // Mirrors' clusters too: their copies honour the same TLS and connection budget.
                    for cluster in route.targets.map(\.cluster) + route.policy.mirrors.map(\.cluster)
                    where cluster.hasTrafficPolicy {
                        wanted[cluster.name] = cluster
                    }
                }
            }
        }
        return wanted
    }

    /// Whether `kept` serves `cluster` as it is now: a reconfiguration keeps it, with its connections and ejections.
    private static func keeps(_ kept: UpstreamCluster?, _ cluster: Cluster) -> Bool {
        guard let kept else { return false }
        return kept.policy == cluster.trafficPolicy && kept.endpoints == cluster.endpoints
    }

    /// When each of `cluster`'s endpoints joined it, going on from `previous`, the cluster of that name it replaces: an
    /// endpoint `previous` had (by address and port) keeps its time, a new one joins now (and warms up, with `warmup`).
    private static func joined(_ cluster: Cluster, after previous: UpstreamCluster) -> [Duration] {
        let now = UpstreamCluster.now
        let known = EndpointAddress.indices(in: previous.endpoints)
        return cluster.endpoints.map { known[EndpointAddress($0)].map { previous.joined[$0] } ?? now }
    }

    /// Throws what would stop a cluster `table` adds or changes from setting up its `tls` (a file that cannot be read,
    /// a key that is not its certificate's), so the install is refused and changes nothing, as a server certificate's
    /// would be. Clusters kept as they are were checked when they came.
    func checkTLS(of table: RouteTable) throws(GatewayError) {
        let current = clusters.withLock { $0 }
        let changed = Self.wanted(in: table).filter { name, cluster in !Self.keeps(current[name], cluster) }
        if let first = GatewayTLS.clientTLSErrors(of: changed).first { throw first }
    }

    /// Brings the set in line with `table`, before the table goes live.
    func reconcile(with table: RouteTable) {
        let wanted = Self.wanted(in: table)
        let loops = self.loops
        let replaced = clusters.withLock { current -> [UpstreamCluster] in
            var next: [String: UpstreamCluster] = [:]
            for (name, cluster) in wanted {
                if let kept = current[name], Self.keeps(kept, cluster) {
                    next[name] = kept
                } else {
                    next[name] = UpstreamCluster(cluster, loops: loops, joined: current[name].map { Self.joined(cluster, after: $0) })
                }
            }
            let gone = current.values.filter { next[$0.name] !== $0 }
            current = next
            return gone
        }
        for cluster in replaced {
            cluster.retire()
            for loop in loops {
                loop.eventLoop.execute { loop.pool.closeIdle(of: cluster) }
            }
        }
    }

    /// Reloads every cluster's client TLS whose files changed; only what was reloaded or failed is returned.
    func reloadClientCertificatesIfChanged() -> [CertificateReload] {
        clusters.withLock { Array($0.values) }.map { $0.reloadTLSIfChanged() }.filter { $0 != .unchanged }
    }

    /// Per cluster with a traffic policy: its connections and waiting requests, with outlier detection its ejections,
    /// and with a retry limit the retries it refused, as Prometheus text.
    func exposition() -> String {
        let now = UpstreamCluster.now
        let all = clusters.withLock { Array($0.values) }.sorted { $0.name < $1.name }
        var families: [(name: String, type: String, help: String, lines: String)] = [
            ("serin_gateway_upstream_connections_active", "gauge", "Upstream connections open or opening, per cluster with a traffic policy.", ""),
            ("serin_gateway_upstream_pending_requests", "gauge", "Requests waiting for a connection the cluster's connectionPool allows.", ""),
            ("serin_gateway_outlier_ejections_total", "counter", "Endpoints ejected by outlier detection.", ""),
            ("serin_gateway_outlier_ejections_active", "gauge", "Endpoints ejected right now.", ""),
            (
                "serin_gateway_upstream_retry_overflow_total", "counter",
                "Retries not made because the cluster's maxRetries or retryBudget were all taken (Envoy's upstream_rq_retry_overflow).", ""
            ),
        ]
        for cluster in all {
            let label = "{cluster_name=\"\(PrometheusText.escape(cluster.name))\"}"
            let budget = cluster.budgetCounts
            families[0].lines += "\(families[0].name)\(label) \(budget.open)\n"
            families[1].lines += "\(families[1].name)\(label) \(budget.pending)\n"
            if cluster.hasRetryLimit { families[4].lines += "\(families[4].name)\(label) \(cluster.retryOverflows)\n" }
            guard cluster.hasOutlierDetection else { continue }
            let ejections = cluster.ejectionCounts(now: now)
            families[2].lines += "\(families[2].name)\(label) \(ejections.total)\n"
            families[3].lines += "\(families[3].name)\(label) \(ejections.active)\n"
        }
        return families.map { "# HELP \($0.name) \($0.help)\n# TYPE \($0.name) \($0.type)\n\($0.lines)" }.joined()
    }
}

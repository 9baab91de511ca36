import NIOCore
import NIOHTTP1
import SerinCore
import Synchronization

extension GatewayServer {
    /// Sends one synthetic request (`analysis.load`) for `path` to `target`'s endpoints, the way its live traffic
    /// goes (round robin, outlier ejections honoured), and counts it as `request_kind="synthetic"`. Its answer is
    /// read and dropped. The caller paces the requests; this only sends one.
    public func sendSynthetic(to target: RouteTable.Target, path: String, headers: [(String, String)]) {
        let turn = syntheticTurn.add(1, ordering: .relaxed).newValue
        let loops = loopsInShardOrder
        let loop = loops[turn % loops.count]
        let shared = clusters.shared(for: target)
        let telemetry = self.telemetry
        loop.eventLoop.execute {
            let index = ProxyHandler.pickEndpoint(of: target, shared: shared, turn: turn)
            let cluster = target.cluster
            let started = NIODeadline.now()
            guard let index, index < cluster.endpoints.count else {
                telemetry.record(
                    TrafficKey(destinationService: cluster.host, subset: cluster.subset, responseCode: 503, responseFlags: .noHealthyUpstream,
                               kind: .synthetic),
                    milliseconds: 0, requestBytes: 0, responseBytes: 0, shard: loop.shard)
                return
            }
            let endpoint = cluster.endpoints[index]
            var fields = HeaderFields()
            fields.add(name: "host", value: cluster.port == 80 ? cluster.host : "\(cluster.host):\(cluster.port)")
            fields.add(name: "user-agent", value: "serin-load")
            for (name, value) in headers { fields.add(name: name, value: value) }
            let head = RequestHead(method: "GET", target: path, version: .http1_1, fields: fields, isKeepAlive: true)
            let exchange = MirrorExchange(
                original: head, clientAddress: nil, overTLS: false, endpoint: endpoint, loop: loop, http2: cluster.speaksHTTP2,
                cluster: shared,
                marksShadow: false
            ) { status, flag in
                telemetry.record(
                    TrafficKey(cluster: cluster, endpoint: endpoint, responseCode: status, responseFlags: flag, kind: .synthetic),
                    milliseconds: ProxyHandler.milliseconds(since: started), requestBytes: 0, responseBytes: 0, shard: loop.shard
                )
            }
            exchange.endRequest()
        }
    }
}

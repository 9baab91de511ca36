import SerinCore
import SerinManifests
import Testing

@Suite("MeshConfig from resources")
struct MeshConfigResourcesTests {
    @Test("merges a Service and the ServiceEntry for its host into one service with endpoints")
    func mergesServiceAndEntry() {
        let config = MeshConfig(resources: Fixture.decode(Fixture.world).resources)
        #expect(config.services.count == 2)
        let web = config.service(forHost: "web-v1-service")
        #expect(web?.name == ResourceName(name: "web-v1-service"))
        #expect(web?.hosts == MeshService.kubernetesHosts(name: "web-v1-service", namespace: "default"))
        #expect(web?.ports == [ServicePort(number: 80, name: "http")])
        #expect(web?.endpoints == [ServiceEndpoint(address: "127.0.0.1", ports: ["http": 18081], labels: ["version": "v1"])])
        #expect(config.service(forHost: "web-v1-service.default.svc.cluster.local") == web)
        #expect(config.services.filter { $0.hosts.contains("web-v1-service") }.count == 1)
    }

    @Test("a Service's bare name is its own namespace's alone, unless a ServiceEntry declares that name too, which makes it everyone's")
    func bareNameVisibility() throws {
        let service = "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\nspec: {ports: [{name: http, port: 80}]}"
        let alone = try #require(MeshConfig(resources: Fixture.decode(service).resources).services.first)
        #expect(alone.namespaceLocalHosts == ["api"])
        #expect(alone.hosts(visibleFrom: "shop") == MeshService.kubernetesHosts(name: "api", namespace: "shop"))
        #expect(alone.hosts(visibleFrom: "default") == ["api.shop", "api.shop.svc", "api.shop.svc.cluster.local"])
        let entry = """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api, namespace: shop}
            spec: {hosts: [api], resolution: STATIC, ports: [{number: 80, name: http}], endpoints: [{address: 10.0.0.7}]}
            """
        let declared = try #require(MeshConfig(resources: Fixture.decode(service + "\n---\n" + entry).resources).services.first)
        #expect(declared.namespaceLocalHosts.isEmpty)
        #expect(declared.hosts(visibleFrom: "default").contains("api"))
    }

    @Test("a ServiceEntry naming the Service's full name merges too, adding its hosts")
    func mergesByFullName() {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: api, namespace: shop}
            spec: {ports: [{name: http, port: 80}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api-endpoints, namespace: shop}
            spec:
              hosts: [api.shop.svc.cluster.local, api.example.com]
              resolution: STATIC
              ports: [{number: 80, name: http, targetPort: 8080}]
              endpoints: [{address: 10.0.0.7}]
            """
        let config = MeshConfig(resources: Fixture.decode(yaml).resources)
        #expect(config.services.count == 1)
        let api = config.services.first
        #expect(api?.hosts == MeshService.kubernetesHosts(name: "api", namespace: "shop") + ["api.example.com"])
        #expect(api?.ports == [ServicePort(number: 80, name: "http", targetPort: 8080)])
        #expect(api?.endpoints.map(\.address) == ["10.0.0.7"])
    }

    @Test("a ServiceEntry naming hosts of two Services folds them into one; entries after it find the folded service by any of its hosts")
    func entryFoldsServices() {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: cart}
            spec: {ports: [{name: http, port: 80}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: orders}
            spec: {ports: [{name: http, port: 80}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: search}
            spec: {ports: [{name: http, port: 80}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: shop}
            spec:
              hosts: [cart, orders, shop.example.com]
              resolution: STATIC
              ports: [{number: 80, name: http}]
              endpoints: [{address: 10.0.0.1}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: more-orders}
            spec:
              hosts: [orders.default.svc.cluster.local]
              resolution: STATIC
              ports: [{number: 80, name: http}]
              endpoints: [{address: 10.0.0.2}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: search-endpoints}
            spec:
              hosts: [search]
              resolution: STATIC
              ports: [{number: 80, name: http}]
              endpoints: [{address: 10.0.0.3}]
            """
        let config = MeshConfig(resources: Fixture.decode(yaml).resources)
        #expect(config.services.count == 2, "\(config.services.map(\.hosts))")
        let shop = config.service(forHost: "shop.example.com")
        #expect(shop?.name == ResourceName(name: "cart"))
        #expect(shop?.endpoints.map(\.address) == ["10.0.0.1", "10.0.0.2"])
        for host in ["cart", "orders", "ORDERS.default.svc.cluster.local", "cart.default"] {
            #expect(config.service(forHost: host) == shop, "\(host)")
        }
        #expect(config.service(forHost: "search")?.endpoints.map(\.address) == ["10.0.0.3"])
        #expect(config.service(forHost: "nowhere") == nil)
    }

    @Test("DestinationRules are found by any name of their service, in the order declared: the first defining a subset gives it")
    func destinationRulesByAnyName() {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: reviews}
            spec: {ports: [{name: http, port: 9080}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews-full}
            spec:
              host: reviews.default.svc.cluster.local
              trafficPolicy: {connectionPool: {tcp: {maxConnections: 7}}}
              subsets: [{name: v1, labels: {version: v1}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: ratings}
            spec:
              host: ratings
              subsets: [{name: v2, labels: {version: ratings-v2}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews-short}
            spec:
              host: reviews
              trafficPolicy: {connectionPool: {tcp: {maxConnections: 9}}}
              subsets: [{name: v1, labels: {version: other}}, {name: v2, labels: {version: v2}}]
            """
        let config = MeshConfig(resources: Fixture.decode(yaml).resources)
        #expect(config.destinationRules(forHost: "reviews").map(\.name.name) == ["reviews-full", "reviews-short"])
        #expect(config.destinationRules(forHost: "reviews.default").map(\.name.name) == ["reviews-full", "reviews-short"])
        #expect(config.subset(named: "v1", ofHost: "reviews")?.labels == ["version": "v1"])
        #expect(config.subset(named: "v2", ofHost: "reviews")?.labels == ["version": "v2"])
        #expect(config.trafficPolicy(forHost: "reviews", subset: nil, port: nil).connectionPool?.tcp.maxConnections == 7)
        #expect(config.trafficPolicy(forHost: "reviews", subset: "v2", port: nil).connectionPool?.tcp.maxConnections == 9)
        #expect(config.subset(named: "v2", ofHost: "ratings")?.labels == ["version": "ratings-v2"])
        #expect(config.subset(named: "v1", ofHost: "ratings") == nil)
        #expect(config.destinationRules(forHost: "details").isEmpty)
    }

    @Test("a ServiceEntry's hosts are services of their own: each takes its own DestinationRule, and a host with none takes no other's")
    func serviceEntryHostsTakeTheirOwnRules() {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: upstreams}
            spec:
              hosts: [good, bad, missing]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 80, name: http, protocol: HTTP}]
              endpoints: [{address: 127.0.0.1}]
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: good}
            spec: {host: good, trafficPolicy: {connectionPool: {tcp: {maxConnections: 3}}}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: bad}
            spec: {host: bad, trafficPolicy: {connectionPool: {tcp: {maxConnections: 5}}}}
            """
        let config = MeshConfig(resources: Fixture.decode(yaml).resources)
        #expect(config.destinationRules(forHost: "good").map(\.name.name) == ["good"])
        #expect(config.destinationRules(forHost: "bad").map(\.name.name) == ["bad"])
        #expect(config.trafficPolicy(forHost: "bad", subset: nil, port: nil).connectionPool?.tcp.maxConnections == 5)
        #expect(config.destinationRules(forHost: "missing").isEmpty)
    }

    @Test("a Service alone resolves its names and ports (a port named grpc speaks HTTP/2, as Istio selects) but has no endpoints")
    func serviceAlone() {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: api}
            spec:
              ports:
              - {name: http, port: 80, targetPort: 8080}
              - {name: grpc, port: 90, targetPort: grpc-port}
            """
        let config = MeshConfig(resources: Fixture.decode(yaml).resources)
        #expect(
            config.services == [
                MeshService(
                    name: ResourceName(name: "api"), hosts: MeshService.kubernetesHosts(name: "api", namespace: "default"),
                    ports: [ServicePort(number: 80, name: "http", targetPort: 8080), ServicePort(number: 90, name: "grpc", speaksHTTP2: true)],
                    endpoints: []
                )
            ]
        )
    }

    @Test("gateways, virtual services and destination rules pass straight through in order")
    func passThrough() {
        let yaml = Fixture.world + """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: web}
            spec: {host: web-v1-service}
            """
        let config = MeshConfig(resources: Fixture.decode(yaml).resources)
        #expect(config.gateways.map(\.name.name) == ["web-gateway"])
        #expect(config.destinationRules.map(\.host) == ["web-v1-service"])
        #expect(config.virtualServices.isEmpty)
    }
}

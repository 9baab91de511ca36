import SerinCore
import SerinManifests
import Testing

/// A bare destination host (`reviews`) names the Service of its VirtualService's namespace, as Istio expands it to
/// `reviews.NAMESPACE.svc.cluster.local`: two namespaces may each run a `reviews`, and a route in one must not reach
/// the other's because it was declared first.
@Suite("Bare destination hosts by namespace")
struct DestinationNamespaceTests {
    /// `reviews` in `default` (declared first) and in `shop`, each with endpoints of its own from a ServiceEntry naming
    /// its full name; a Gateway; and `documents` after them.
    static func world(_ documents: [String]) -> String {
        var all = [
            "kind: Gateway\nmetadata: {name: gw, namespace: shop}\n"
                + "spec: {servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*/*\"]}]}",
        ]
        for (namespace, address) in [("default", "10.0.0.1"), ("shop", "10.0.0.2")] {
            all.append(
                "apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: \(namespace)}\n"
                    + "spec: {ports: [{name: http, port: 9080}], selector: {app: reviews}}"
            )
            all.append(
                serviceEntry(
                    "reviews-endpoints", namespace: namespace, host: "reviews.\(namespace).svc.cluster.local", address: address,
                    labels: "{version: \(namespace)}"
                )
            )
        }
        return (all + documents).map { $0.hasPrefix("apiVersion") ? $0 : "apiVersion: networking.istio.io/v1\n" + $0 }
            .joined(separator: "\n---\n")
    }

    /// A ServiceEntry `name` of `namespace` declaring `host` on port 9080, its one endpoint at `address`.
    static func serviceEntry(_ name: String, namespace: String, host: String, address: String, labels: String = "{}") -> String {
        "kind: ServiceEntry\nmetadata: {name: \(name), namespace: \(namespace)}\n"
            + "spec: {hosts: [\(host)], location: MESH_INTERNAL, resolution: STATIC, "
            + "ports: [{number: 9080, name: http}], endpoints: [{address: \(address), labels: \(labels)}]}"
    }

    /// The endpoints and service the gateway's request for `host` reaches.
    static func reached(_ yaml: String, host: String = "reviews.example.com") throws -> (addresses: [String], service: ResourceName?) {
        let set = Fixture.set(yaml)
        #expect(set.errors.isEmpty, "\(set.errors)")
        let table = RouteTable(compiling: set.config)
        let request = RequestAttributes(method: "GET", target: "/", authority: host, headers: HeaderList())
        guard case .route(let route) = table.resolve(request, port: 80) else { throw UnexpectedRoute() }
        let cluster = try #require(route.targets.first).cluster
        return (cluster.endpoints.map(\.address), cluster.service)
    }

    struct UnexpectedRoute: Error {}

    static func virtualService(namespace: String, destination: String, extra: String = "") -> String {
        "kind: VirtualService\nmetadata: {name: reviews, namespace: \(namespace)}\n"
            + "spec: {hosts: [reviews.example.com], gateways: [shop/gw], http: [{route: [{destination: {host: \(destination)\(extra)}}]}]}"
    }

    @Test("a VirtualService in shop routing to the bare reviews reaches shop's reviews, though default's was declared first; one in default reaches default's")
    func bareHostTakesTheVirtualServicesNamespace() throws {
        let shop = try Self.reached(Self.world([Self.virtualService(namespace: "shop", destination: "reviews")]))
        #expect(shop.addresses == ["10.0.0.2"])
        #expect(shop.service == ResourceName(namespace: "shop", name: "reviews"))
        let home = try Self.reached(Self.world([Self.virtualService(namespace: "default", destination: "reviews")]))
        #expect(home.addresses == ["10.0.0.1"])
    }

    @Test("a longer name reaches the namespace it names, wherever the VirtualService lives")
    func qualifiedHostNamesItsNamespace() throws {
        let other = try Self.reached(Self.world([Self.virtualService(namespace: "shop", destination: "reviews.default")]))
        #expect(other.addresses == ["10.0.0.1"])
        let full = try Self.reached(Self.world([Self.virtualService(namespace: "default", destination: "reviews.shop.svc.cluster.local")]))
        #expect(full.addresses == ["10.0.0.2"])
    }

    @Test("a ServiceEntry declaring only the full name is reached by the bare name from a VirtualService of that namespace")
    func serviceEntryByFullName() throws {
        let entry = Self.serviceEntry("ratings", namespace: "shop", host: "ratings.shop.svc.cluster.local", address: "10.0.0.9")
        let reached = try Self.reached(Self.world([entry, Self.virtualService(namespace: "shop", destination: "ratings")]))
        #expect(reached.addresses == ["10.0.0.9"])
    }

    @Test("a bare reviews in a namespace with no reviews of its own reaches no other namespace's: the VirtualService is refused, naming where reviews lives and how to write it")
    func bareHostWithoutALocalServiceIsRefused() throws {
        let set = Fixture.set(Self.world([Self.virtualService(namespace: "books", destination: "reviews")]))
        let message = try #require(set.errors.first { $0.message.contains("route[0].destination.host") }).message
        #expect(message.contains("reviews in namespace books names reviews.books.svc.cluster.local"), "\(message)")
        #expect(message.contains("reviews.default or reviews.shop"), "\(message)")
        let qualified = try Self.reached(Self.world([Self.virtualService(namespace: "books", destination: "reviews.shop")]))
        #expect(qualified.addresses == ["10.0.0.2"])
    }

    @Test("a ServiceEntry declaring a bare name is everyone's: a VirtualService of another namespace reaches it by that name")
    func serviceEntryBareNameIsEveryones() throws {
        let entry = Self.serviceEntry("ratings", namespace: "default", host: "ratings", address: "10.0.0.9")
        let reached = try Self.reached(Self.world([entry, Self.virtualService(namespace: "shop", destination: "ratings")]))
        #expect(reached.addresses == ["10.0.0.9"])
    }

    @Test("a DestinationRule naming the bare reviews applies to its own namespace's reviews only, though another namespace's rule for that name was declared first")
    func bareRuleHostTakesTheRulesNamespace() throws {
        let rules = ["default", "shop"].map { namespace in
            "kind: DestinationRule\nmetadata: {name: reviews, namespace: \(namespace)}\n"
                + "spec: {host: reviews, subsets: [{name: mine, labels: {version: \(namespace)}}]}"
        }
        for (namespace, address) in [("shop", "10.0.0.2"), ("default", "10.0.0.1")] {
            let reached = try Self.reached(
                Self.world(rules + [Self.virtualService(namespace: namespace, destination: "reviews", extra: ", subset: mine")])
            )
            #expect(reached.addresses == [address], "from \(namespace)")
        }
    }

    @Test("a subset of the bare host takes its labels from the DestinationRule of the VirtualService's namespace's service")
    func subsetOfTheNamespacesService() throws {
        let rule = "kind: DestinationRule\nmetadata: {name: reviews, namespace: shop}\n"
            + "spec: {host: reviews.shop.svc.cluster.local, subsets: [{name: mine, labels: {version: shop}}]}"
        let reached = try Self.reached(
            Self.world([Self.virtualService(namespace: "shop", destination: "reviews", extra: ", subset: mine"), rule])
        )
        #expect(reached.addresses == ["10.0.0.2"])
    }
}

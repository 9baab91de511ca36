import SerinController
import SerinCore
import SerinGateway
import SerinManifests

/// The resources a running gateway serves, and `apply`: kubectl's upsert, validated as a whole
/// before anything changes. The controller changes weights through it too, so both paths swap
/// the routing table the same way.
///
/// Each change reads the resources, installs a new table (which waits) and writes them back; changes take
/// turns, so an apply and a weight change made meanwhile never start from the same resources and lose one
/// another's work (an actor alone would let the second in while the first waits on the install).
public actor LiveConfiguration {
    public private(set) var resources: [LocatedResource]
    private let gateway: GatewayServer
    private var onApplied: (@Sendable ([CanarySpec]) async -> Void)?
    private var admission: (@Sendable ([CanarySpec], [ResourceName: ServingRoutes]) async -> CanaryAdmission)?
    private var changing = false
    private var waitingToChange: [CheckedContinuation<Void, Never>] = []

    /// The workload whose sidecar the mesh listener is, for the `sourceLabels` of mesh routes.
    private let meshWorkload: SourceWorkload
    /// Where the gateway runs, for locality load balancing.
    private let gatewayLocality: Locality?

    public init(
        gateway: GatewayServer, resources: [LocatedResource], meshWorkload: SourceWorkload = SourceWorkload(), gatewayLocality: Locality? = nil
    ) {
        self.gateway = gateway
        self.resources = resources
        self.meshWorkload = meshWorkload
        self.gatewayLocality = gatewayLocality
    }

    /// The configuration `resources` make, served by a mesh listener of `meshWorkload`, at `gatewayLocality`.
    private func meshConfig(_ resources: [LocatedResource]) -> MeshConfig {
        var config = MeshConfig(resources: resources)
        config.meshWorkload = meshWorkload
        config.gatewayLocality = gatewayLocality
        return config
    }

    /// Called after each successful apply with every Canary now configured (the controller reconciles).
    public func onApply(_ handler: @escaping @Sendable ([CanarySpec]) async -> Void) {
        onApplied = handler
    }

    /// Asked before each apply with every Canary it would leave configured and the routes of every
    /// VirtualService as they would be; a Canary it refuses (with why) fails the apply, which then changes
    /// nothing, and the routes live rollouts own keep the rollouts' weights in the VirtualServices applied.
    public func admit(with check: @escaping @Sendable ([CanarySpec], [ResourceName: ServingRoutes]) async -> CanaryAdmission) {
        admission = check
    }

    /// Installs the current resources on the gateway (start-up).
    public func installCurrent() async throws {
        await beginChange()
        defer { endChange() }
        try await gateway.install(RouteTable(compiling: meshConfig(resources)))
    }

    /// Waits for this change's turn.
    private func beginChange() async {
        if changing {
            await withCheckedContinuation { waitingToChange.append($0) }
        } else {
            changing = true
        }
    }

    /// Hands the turn to the next change waiting, if any.
    private func endChange() {
        if waitingToChange.isEmpty {
            changing = false
        } else {
            waitingToChange.removeFirst().resume()
        }
    }

    public var config: MeshConfig { meshConfig(resources) }

    /// The Canary resources among the current ones.
    public var canaries: [CanarySpec] { resources.canaries }

    /// The MetricTemplate resources among the current ones.
    public var metricTemplates: [MetricTemplateSpec] { resources.metricTemplates }

    /// Creates or replaces the resources in `sources`, kubectl-style; others stay as they are.
    ///
    /// Nothing changes unless the whole resulting set validates and the gateway accepts it.
    public func apply(_ sources: [ManifestSource]) async -> ApplyReport {
        await beginChange()
        defer { endChange() }
        let decoded = ManifestDecoder.decode(sources)
        let appliedPaths = Set(sources.map(\.path))
        let appliedNames = Set(decoded.resources.filter { $0.kind == .virtualService }.map(\.name))
        // Two of one kind and name in what is applied: the second would silently replace the first, as `serin
        // validate` says of the same files.
        let problems = decoded.diagnostics + ManifestValidator.duplicates(in: decoded.resources)
        if problems.containsErrors {
            return ApplyReport(applied: false, results: [], diagnostics: problems.map(\.description))
        }
        if decoded.resources.isEmpty {
            // kubectl's answer to an empty apply: an error, so a script that applied the wrong file learns of it.
            let files = sources.isEmpty
                ? "no file was sent" : sources.map(\.path).joined(separator: ", ") + (sources.count == 1 ? " holds" : " hold") + " no resource Serin serves"
            let why = Diagnostic.error("no objects passed to apply: \(files)", at: nil)
            return ApplyReport(applied: false, results: [], diagnostics: (decoded.diagnostics + [why]).map(\.description))
        }
        var merged = resources
        var results: [String] = []
        // By kind and name, so applying thousands of resources beside thousands costs each one a lookup, not a scan.
        var places: [ResourceKey: Int] = [:]
        for (index, located) in merged.enumerated() { places[ResourceKey(located)] = index }
        // Each applied resource's line in `results`, found by kind and namespaced name when a rollout's weights
        // change what it says.
        var lines: [ResourceKey: Int] = [:]
        for resource in decoded.resources {
            let label = "\(resource.kind.kubectlName)/\(resource.name.name)"
            lines[ResourceKey(resource)] = results.count
            if let index = places[ResourceKey(resource)] {
                results.append(merged[index].resource == resource.resource ? "\(label) unchanged" : "\(label) configured")
                merged[index] = resource
            } else {
                results.append("\(label) created")
                places[ResourceKey(resource)] = merged.count
                merged.append(resource)
            }
        }
        var validation = ManifestValidator.validate(merged, unread: decoded.unread)
        // A gateway whose mesh listener is open serves mesh-only VirtualServices: no advice to open one.
        if gateway.meshAddress != nil { validation = validation.servingTheMesh }
        // Every error blocks; warnings are only worth repeating for the files just applied.
        let reported = decoded.diagnostics + validation.filter {
            $0.severity == .error || $0.location.map { appliedPaths.contains($0.file) } == true
        }
        if validation.containsErrors {
            return ApplyReport(applied: false, results: [], diagnostics: reported.map(\.description))
        }
        if let admission {
            let admitted = await admission(merged.canaries, Self.servingRoutes(in: merged))
            let refusals = merged.compactMap { located -> Diagnostic? in
                guard case .canary(let spec) = located.resource, let why = admitted.refused[spec.name] else { return nil }
                return Self.refusal(why, of: spec, at: located)
            }
            if !refusals.isEmpty {
                return ApplyReport(applied: false, results: [], diagnostics: (reported + refusals).map(\.description))
            }
            let written = merged
            merged = Self.routing(merged, keeping: admitted.routing, in: appliedNames)
            // Say it where the weights as written did not take: a rollout owns them, as it owned them before. A file
            // that only differs from what serves by those weights (the same file applied again) changed nothing.
            for (index, kept) in merged.enumerated() where kept.resource != written[index].resource {
                guard let split = admitted.routing[kept.name], let line = lines[ResourceKey(kept)] else { continue }
                // `merged` begins as `resources`, in order: the same index is the same resource as it served.
                if index < resources.count, resources[index].resource == kept.resource {
                    results[line] = "virtualservice/\(kept.name.name) unchanged"
                }
                results[line] += " (its weights stay \(split.stable.weight)/\(split.canary.weight): a rollout owns them)"
                if case .virtualService(let asWritten) = written[index].resource {
                    results[line] += Self.redirected(asWritten, by: split)
                }
            }
            // A finished rollout that a Canary now sets going again, written in these files or not (one refused
            // earlier becomes valid once what serves changes): said, never started in silence.
            for (name, canary) in admitted.starts.sorted(by: { $0.key < $1.key }) {
                results.append("canary/\(name.displayName) starts a release of \(canary)")
            }
        }
        let table = RouteTable(compiling: meshConfig(merged))
        let stranded = Self.stranded(
            by: decoded.resources, replacing: resources, in: table, before: gateway.routes.table, mesh: gateway.meshAddress != nil,
            canaries: merged.canaries)
        if !stranded.isEmpty {
            return ApplyReport(applied: false, results: [], diagnostics: (reported + stranded).map(\.description))
        }
        let portsBefore = gateway.boundPorts
        do {
            try await gateway.install(table)
        } catch {
            return ApplyReport(applied: false, results: [], diagnostics: ["error: \(error)"])
        }
        // Where traffic can now arrive, or no longer: a Gateway applied to a gateway that had none opens its port.
        results += Self.listenerChanges(from: portsBefore, to: gateway.boundPorts, host: gateway.bindHost)
        resources = merged
        await onApplied?(merged.canaries)
        // Without a controller (`serin gateway`) a Canary is kept with the routes but nothing runs it: said, as the
        // gateway says it of one given at start.
        let idle = admission == nil ? decoded.resources.compactMap { located -> Diagnostic? in
            guard case .canary(let spec) = located.resource else { return nil }
            return .warning(
                "Canary \(spec.name.displayName): this server is `serin gateway`, which runs no rollouts: nothing will run it (apply it to `serin up`)",
                at: located.location(of: "metadata.name"))
        } : []
        return ApplyReport(applied: true, results: results, diagnostics: (reported + idle).map(\.description))
    }

    /// `; http[1] (/api) sends to web-v1-service:80 as written, a version a release retired: it splits as the rollout
    /// does`, for each route of `written` the rollout takes over that names a version other than its canary and the
    /// stable it still sends to: said, since the apply's routes then differ from the file by more than weights.
    static func redirected(_ written: VirtualService, by split: TrafficSplit) -> String {
        let routes = written.http.map { $0.destinations.map(\.destination) }
        let owned = split.ownedRoutes(routes)
        // The stable at 0% is a version a promotion retired too: its requests go to the canary.
        let sides = [split.canary.destination] + (split.stable.weight > 0 ? [split.stable.destination] : [])
        var said = ""
        for (index, destinations) in routes.enumerated() where owned[index] {
            let others = destinations.filter { destination in !sides.contains { destination.sameService(as: $0) } }
            guard !others.isEmpty else { continue }
            let name = written.http[index].name.map { " (\($0))" } ?? ""
            said += "; http[\(index)]\(name) sends to \(others.map(\.description).joined(separator: " and ")) as written, "
                + "\(others.count == 1 ? "a version" : "versions") a release retired: it splits as the rollout does"
        }
        return said
    }

    /// What an apply would take away from requests that are answered today: each destination a VirtualService's route
    /// (on the gateway's listeners, and the mesh's when it is served) sends requests to now that
    /// could serve none of its requests in `table` (no endpoints left, or no Service or ServiceEntry), an error at the
    /// applied resource that names its host. Such an apply changes nothing, since those requests would be answered
    /// 503. A new route to a host with no endpoints stays the validator's warning: it takes no request that is served
    /// today.
    static func stranded(
        by applied: [LocatedResource], replacing current: [LocatedResource], in table: RouteTable, before: RouteTable, mesh: Bool,
        canaries: [CanarySpec]
    ) -> [Diagnostic] {
        let served = before.routedDestinations(mesh: mesh)
        let lost = table.routedDestinations(mesh: mesh).compactMap { routed, after -> (RouteTable.RoutedDestination, String, Int)? in
            guard let why = after.unservable, let now = served[routed], now.unservable == nil else { return nil }
            return (routed, why, now.share)
        }
        var previous: [ResourceKey: LocatedResource] = [:]
        for located in current { previous[ResourceKey(located)] = located }
        return lost.sorted { ($0.0.virtualService.description, $0.0.destination.description) < ($1.0.virtualService.description, $1.0.destination.description) }
            .map { routed, why, share in
                let host = routed.destination.host
                let blamed = applied.first { $0.names(host: host) || previous[ResourceKey($0)]?.names(host: host) == true }
                let owner = canaries.first { $0.targetRef == routed.virtualService }
                let fix = owner.map { "canary/\($0.name.displayName) drives that route's weights: let its rollout finish first" }
                    ?? "route those requests elsewhere first, in this apply or before it"
                let message = (blamed.map { "\($0.kind.kubectlName)/\($0.name.name): " } ?? "")
                    + "after this apply, \(routed.destination) \(why), yet virtualservice/\(routed.virtualService.name) "
                    + "sends it \(share)% of a route's requests now: they would be answered 503, so nothing was applied (\(fix))"
                return .error(message, at: blamed?.location(of: "metadata.name"))
            }
    }

    /// `gateway port 80 listening on 127.0.0.1:8080` for each port an apply opened, `gateway port 80 closed` for each
    /// it closed (a Gateway whose server moved to another port).
    static func listenerChanges(from before: [Int: Int], to after: [Int: Int], host: String) -> [String] {
        let opened = after.filter { before[$0.key] != $0.value }.sorted { $0.key < $1.key }
            .map { "gateway port \($0.key) listening on \(host):\($0.value)" }
        let closed = before.keys.filter { after[$0] == nil }.sorted().map { "gateway port \($0) closed" }
        return opened + closed
    }

    /// Applies a rollout's split to the routes of `target` that it owns.
    ///
    /// Splits asked for while another change has the turn wait together and go in with one routing table: each table
    /// compiles every VirtualService, so a thousand rollouts stepping at once would otherwise compile a thousand
    /// tables, one after the other (67 s with 1,000 Canaries, measured). Each split still succeeds or fails alone.
    public func setWeights(in target: ResourceName, _ split: TrafficSplit) async throws {
        let ticket = nextSplitTicket
        nextSplitTicket += 1
        waitingSplits.append(WaitingSplit(ticket: ticket, target: target, split: split))
        await beginChange()
        defer { endChange() }
        // A change that had the turn before this one may have installed this split with its own.
        if waitingSplits.contains(where: { $0.ticket == ticket }) {
            let batch = waitingSplits
            waitingSplits = []
            let outcomes = await install(batch)
            for (done, outcome) in outcomes where done != ticket { splitOutcomes[done] = .some(outcome) }
            if let failure = outcomes[ticket] ?? nil { throw failure }
            return
        }
        if let failure = splitOutcomes.removeValue(forKey: ticket) ?? nil { throw failure }
    }

    /// Applies each split of `splits` to the routes of its VirtualService with one routing table, in order; returns
    /// each one's outcome, nil when it went in. (What `setWeights` does with the splits asked for together.)
    func setWeights(_ splits: [(target: ResourceName, split: TrafficSplit)]) async -> [(any Error)?] {
        await beginChange()
        defer { endChange() }
        // Tickets of their own, below every caller's.
        let batch = splits.enumerated().map { WaitingSplit(ticket: -1 - $0.offset, target: $0.element.target, split: $0.element.split) }
        let outcomes = await install(batch)
        return batch.map { outcomes[$0.ticket] ?? nil }
    }

    /// A split waiting for its table.
    private struct WaitingSplit {
        let ticket: Int
        let target: ResourceName
        let split: TrafficSplit
    }

    private var waitingSplits: [WaitingSplit] = []
    private var nextSplitTicket = 0
    /// Splits installed by another's change, until their own caller has the turn: nil when it went in, else why not.
    private var splitOutcomes: [Int: (any Error)?] = [:]

    /// Installs `batch` with one routing table (two when a canary turns out to serve nothing: that split is left
    /// out and the rest compiled again), in order, so two splits of one VirtualService end as the later says.
    /// Returns each split's outcome: nil when it went in, else why it did not.
    private func install(_ batch: [WaitingSplit]) async -> [Int: (any Error)?] {
        var outcomes: [Int: (any Error)?] = [:]
        var candidates = batch
        var positions: [ResourceName: Int] = [:]
        for (index, resource) in resources.enumerated() where resource.kind == .virtualService { positions[resource.name] = positions[resource.name] ?? index }
        while !candidates.isEmpty {
            var updated = resources
            var applied: [WaitingSplit] = []
            for change in candidates {
                guard let index = positions[change.target], case .virtualService(var virtualService) = updated[index].resource else {
                    outcomes[change.ticket] = TrafficRouterError.noVirtualService(change.target)
                    continue
                }
                guard virtualService.apply(change.split) > 0 else {
                    outcomes[change.ticket] = TrafficRouterError.noRouteToStable(change.target, host: change.split.stable.destination.host)
                    continue
                }
                updated[index].resource = .virtualService(virtualService)
                applied.append(change)
            }
            guard !applied.isEmpty else { break }
            let table = RouteTable(compiling: meshConfig(updated))
            // Traffic for a version nothing serves would be answered 503: that split's routes stay as they are.
            let checked = applied.filter { $0.split.canary.weight > 0 }
            let reasons = table.unservable(checked.map { ($0.split.canary.destination, $0.target) })
            var refused: Set<Int> = []
            for (change, why) in zip(checked, reasons) {
                guard let why else { continue }
                outcomes[change.ticket] = TrafficRouterError.canaryUnservable(change.target, host: change.split.canary.destination.host, why: why)
                refused.insert(change.ticket)
            }
            if !refused.isEmpty {
                candidates = applied.filter { !refused.contains($0.ticket) }
                continue
            }
            do {
                try await gateway.install(table)
                resources = updated
                for change in applied { outcomes[change.ticket] = .some(nil) }
            } catch {
                for change in applied { outcomes[change.ticket] = error }
            }
            break
        }
        return outcomes
    }

    /// The routes of `target` as the gateway serves them now.
    public func servingRoutes(of target: ResourceName) throws -> ServingRoutes {
        guard let virtualService = Self.virtualService(target, in: resources) else {
            throw TrafficRouterError.noVirtualService(target)
        }
        return virtualService.servingRoutes
    }

    /// `resources` with the routes each live rollout owns as the rollout has them, for a VirtualService loaded
    /// again from its file (start-up after a crash): it may still send traffic to a version a promotion retired.
    public static func routing(_ resources: [LocatedResource], as rollouts: [Rollout]) -> [LocatedResource] {
        routingWithheld(resources, as: rollouts).resources
    }

    /// A stored rollout's split the first routing table does not serve as stored: its canary resolves to nothing
    /// that serves (a ServiceEntry added with `serin apply`, which the files do not have), so its share stays with
    /// the stable instead of being answered 503.
    public struct Withheld: Sendable {
        public let canary: ResourceName
        public let split: TrafficSplit
        public let reason: String
    }

    /// `routing(_:as:)`, and the splits it withheld because their canary could serve no request; and `strandedStables`:
    /// why a stored rollout cannot be served from these files at all. Its split sends its stable a share of requests, yet
    /// the stable resolves to nothing that serves (a ServiceEntry added with `serin apply` lives only as long as the
    /// process, so a restart from the files no longer has it). There is no version to hand that share to instead (the
    /// canary is not judged, the files' own route may name a version a release retired), so `serin up` refuses to start
    /// with these, one per rollout, rather than answer the share with 503. One routing table answers both.
    public static func routingWithheld(
        _ resources: [LocatedResource], as rollouts: [Rollout]
    ) -> (resources: [LocatedResource], withheld: [Withheld], strandedStables: [String]) {
        var splits: [ResourceName: TrafficSplit] = [:]
        var owners: [ResourceName: ResourceName] = [:]
        for rollout in rollouts where rollout.ownsRoutes {
            // Only while the Canary still drives the same VirtualService.
            guard resources.canaries.contains(where: { $0.name == rollout.spec.name && $0.targetRef == rollout.spec.targetRef }) else { continue }
            splits[rollout.spec.targetRef] = rollout.split
            owners[rollout.spec.targetRef] = rollout.spec.name
        }
        let routed = routing(resources, keeping: splits, in: Set(splits.keys))
        guard !splits.isEmpty else { return (routed, [], []) }
        let table = RouteTable(compiling: MeshConfig(resources: routed))
        var withheld: [Withheld] = []
        var stranded: [String] = []
        for (name, split) in splits.sorted(by: { $0.key.description < $1.key.description }) {
            guard let owner = owners[name] else { continue }
            if split.stable.weight > 0, let why = table.unservable(split.stable.destination, in: name) {
                stranded.append(
                    "Canary \(owner.displayName): its stored rollout sends \(split.stable.weight)% of VirtualService "
                        + "\(name.displayName)'s requests to its stable \(split.stable.destination), which \(why) in these "
                        + "files: a resource added with serin apply lasts only as long as the process; write it in the files serin up "
                        + "starts from, then start again")
            }
            guard split.canary.weight > 0, let why = table.unservable(split.canary.destination, in: name) else { continue }
            var served = split
            served.stable.weight += served.canary.weight
            served.canary.weight = 0
            served.canaryMatch = []
            served.mirror = nil
            splits[name] = served
            withheld.append(Withheld(canary: owner, split: split, reason: TrafficRouterError.canaryUnservable(name, host: split.canary.destination.host, why: why).description))
        }
        guard !withheld.isEmpty else { return (routed, [], stranded) }
        return (routing(resources, keeping: splits, in: Set(splits.keys)), withheld, stranded)
    }

    /// `resources` with `splits` applied to the VirtualServices named in `names`.
    static func routing(
        _ resources: [LocatedResource], keeping splits: [ResourceName: TrafficSplit], in names: Set<ResourceName>
    ) -> [LocatedResource] {
        var resources = resources
        for index in resources.indices where names.contains(resources[index].name) {
            guard case .virtualService(var virtualService) = resources[index].resource,
                let split = splits[virtualService.name], virtualService.apply(split) > 0
            else { continue }
            resources[index].resource = .virtualService(virtualService)
        }
        return resources
    }

    /// Why each Canary of `resources` could not start a release from the routes they hold, as a fresh start would
    /// find them (no rollout stored yet): `serin validate` says what `serin up` would refuse.
    public static func releaseProblems(in resources: [LocatedResource]) -> [Diagnostic] {
        let routes = servingRoutes(in: resources)
        return resources.compactMap { located -> Diagnostic? in
            guard case .canary(let spec) = located.resource, spec.workload == nil, let serving = routes[spec.targetRef],
                case .failure(let conflict) = serving.stable(for: spec)
            else { return nil }
            return refusal(conflict.description, of: spec, at: located)
        }
    }

    /// A Canary's refusal located at the field it is about (`refusalLocation`).
    public static func refusal(_ why: String, of spec: CanarySpec, at located: LocatedResource) -> Diagnostic {
        .error("Canary \(spec.name.displayName): \(why)", at: refusalLocation(why, of: spec, at: located))
    }

    /// Where a refusal of the Canary `located` points: `spec.stable` when the reason starts with it (as said, or as
    /// the controller words it, `refused: spec.stable …`), else `spec.canary`.
    public static func refusalLocation(_ why: String, of spec: CanarySpec, at located: LocatedResource) -> SourceLocation? {
        let aboutStable = why.hasPrefix("spec.stable") || why.hasPrefix(CanaryStatus.refusalMessage("spec.stable"))
        if spec.workload != nil, why.contains("targetRef is Deployment") { return located.location(of: "spec.targetRef.kind") }
        return located.location(of: spec.stable != nil && aboutStable ? "spec.stable.host" : "spec.canary.host")
    }

    static func servingRoutes(in resources: [LocatedResource]) -> [ResourceName: ServingRoutes] {
        var routes: [ResourceName: ServingRoutes] = [:]
        for located in resources {
            if case .virtualService(let virtualService) = located.resource { routes[virtualService.name] = virtualService.servingRoutes }
        }
        return routes
    }

    static func virtualService(_ name: ResourceName, in resources: [LocatedResource]) -> VirtualService? {
        for located in resources where located.kind == .virtualService && located.name == name {
            if case .virtualService(let virtualService) = located.resource { return virtualService }
        }
        return nil
    }
}

/// A resource's identity in a set: its kind and its namespaced name.
private struct ResourceKey: Hashable {
    let kind: ResourceKind
    let name: ResourceName

    init(_ located: LocatedResource) {
        kind = located.kind
        name = located.name
    }
}

/// What `serin apply` prints: one line per resource, like kubectl, and any diagnostics.
public struct ApplyReport: Codable, Sendable, Equatable {
    public var applied: Bool
    public var results: [String]
    public var diagnostics: [String]
}

/// The request body of `POST /apply`: the manifest files with the paths the client read them from.
public struct ApplyRequest: Codable, Sendable {
    public var sources: [ManifestSource]

    public init(sources: [ManifestSource]) {
        self.sources = sources
    }
}

extension LocatedResource {
    /// Whether this resource says where `host` lives or how it is reached: a ServiceEntry listing it, the Service of
    /// its name, a DestinationRule for it (whose subsets pick its endpoints).
    fileprivate func names(host: String) -> Bool {
        let short = host.split(separator: ".", maxSplits: 1).first.map(String.init) ?? host
        switch resource {
        case .serviceEntry(let entry): return entry.hosts.contains(host) || entry.hosts.contains(short)
        case .service(let service): return service.name.name == short
        case .destinationRule(let rule): return rule.host == host || rule.host == short || rule.host.hasPrefix(short + ".")
        default: return false
        }
    }
}

import Foundation
import SerinController
import SerinCore
import HTTPTypes
import Hummingbird
import SerinListener

/// The controller's HTTP API on the admin listener: list and inspect Canaries, read their history,
/// events and metric series, follow them live, and steer them (promote, abort, pause, resume, rollout).
public enum ControllerAdmin {
    /// What may follow `/canaries/NAME/`: the reads (GET) and the steering commands (POST).
    static let reads = ["history", "events", "metrics"]
    static let commands = RolloutCommand.allCases.filter { $0 != .start }

    public static func register(_ controller: CanaryController, on routes: AdminRoutes, keepAlive: Duration = .seconds(15)) {
        routes.add(.get, "/canaries") { _, _ in .json(await controller.statuses()) }
        routes.add(.get, "/events") { _, _ in ControllerEventStream.response(controller, keepAlive: keepAlive) }
        routes.add(.get, "/canaries/:name") { request, context in
            await answer(named: context, controller: controller) { try await read(nil, of: $0, request: request, controller: controller) }
        }
        for resource in reads {
            routes.add(.get, "/canaries/:name/\(resource)") { request, context in
                await answer(named: context, controller: controller) {
                    try await read(resource, of: $0, request: request, controller: controller)
                }
            }
        }
        for command in commands {
            routes.add(.post, "/canaries/:name/\(command.rawValue)") { _, context in
                await answer(named: context, controller: controller) { name in
                    switch await controller.execute(command, canary: name) {
                    case .accepted(let status): return .json(status)
                    case .rejected(let reason): return .json(APIError(error: reason), status: 409)
                    case .notFound(let reason): return .json(APIError(error: reason), status: 404)
                    }
                }
            }
        }
        routes.fallback(under: "/canaries/") { request in misrouted(method: request.method.rawValue, path: request.uri.path) }
    }

    /// The answer for the Canary the path names, or 404 when there is none.
    static func answer(
        named context: AdminRoutes.Context, controller: CanaryController, _ body: (ResourceName) async throws -> Response
    ) async -> Response {
        // `namespace/name` comes as one segment with its slash escaped (`shop%2Fweb`), as the CLI and dashboard send it.
        let raw = context.parameters.get("name") ?? ""
        let reference = raw.removingPercentEncoding ?? raw
        guard let name = await controller.resolve(reference) else {
            return .json(APIError(error: "no Canary named \(reference)"), status: 404)
        }
        do {
            return try await body(name)
        } catch {
            return .json(APIError(error: "cannot read the stored history of \(name.name): \(error)"), status: 500)
        }
    }

    /// `/canaries/...` that no route takes: an unknown resource (404 with the choices), or a method the
    /// resource does not take (405 with `Allow`).
    static func misrouted(method: String, path: String) -> Response {
        let parts = path.dropFirst("/canaries/".count).split(separator: "/").map(String.init)
        let resource = parts.count > 1 ? parts[1] : nil
        let isCommand = commands.contains { $0.rawValue == resource }
        guard parts.count <= 2, resource.map(reads.contains) ?? true || isCommand else {
            return .json(APIError(error: "\(path) is not part of the API; after /canaries/NAME/ comes history, events, "
                + "metrics, or (POST) promote, abort, pause, resume or rollout; a Canary in a namespace is NAMESPACE%2FNAME"), status: 404)
        }
        let allowed = isCommand ? "POST" : "GET"
        guard method == allowed else {
            return .json(APIError(error: "method \(method) not allowed on \(path); use \(allowed)"), status: 405, headers: [.allow: allowed])
        }
        return .json(APIError(error: "no Canary named \(parts.first ?? "")"), status: 404)
    }

    /// Why `?rollout=` names no release, and the status that says so.
    struct ReleaseRefusal: Error {
        var status: Int
        var error: APIError
    }

    /// The measurements of one release: `current` (the default) or nothing given, the newest; `N`, the one N
    /// releases back (0 is the current one); `all`, every one the state file still keeps.
    static func release(
        _ query: String?, of measurements: [RecordedMeasurement], releases: [Release]
    ) -> Result<[RecordedMeasurement], ReleaseRefusal> {
        let back: Int
        switch query {
        case nil, "current": back = 0
        case "all": return .success(measurements)
        case let text?:
            guard let number = Int(text), number >= 0 else {
                return .failure(ReleaseRefusal(status: 400, error: APIError(
                    error: "rollout=\(text): expected current, all, or how many releases back (0 is the current one)")))
            }
            back = number
        }
        guard !releases.isEmpty else { return .success(back == 0 ? measurements : []) }
        guard back < releases.count else {
            // A well-formed number past the releases kept names nothing there is: not found, not a bad request.
            return .failure(ReleaseRefusal(status: 404, error: APIError(
                error: "rollout=\(back): the Canary remembers \(releases.count) release\(releases.count == 1 ? "" : "s") (0 is the current one)")))
        }
        let index = releases.count - 1 - back
        let start = releases[index].startedAt
        let end = index + 1 < releases.count ? releases[index + 1].startedAt : nil
        return .success(measurements.filter { measurement in
            measurement.instant >= start && (end.map { measurement.instant < $0 } ?? true)
        })
    }

    /// The Canary's status, history, events or metric series.
    static func read(
        _ resource: String?, of name: ResourceName, request: Request, controller: CanaryController
    ) async throws -> Response {
        switch resource {
        case "history", "events":
            let limit: Int?
            switch Self.limit(of: request.uri.queryParameters.get("limit")) {
            case .success(let value): limit = value
            case .failure(let error): return .json(error, status: 400)
            }
            let events = try await controller.events(of: name, limit: limit).map(EventView.init)
            if resource == "events" { return .json(events) }
            let measurements = try await controller.measurements(of: name, limit: limit)
            let releases = await controller.status(of: name)?.releases ?? []
            return .json(CanaryHistory(releases: releases, events: events, measurements: measurements.map(MeasurementView.init)))
        case "metrics":
            let measurements = try await controller.measurements(of: name)
            guard let rollout = await controller.rollout(named: name), let status = await controller.status(of: name) else {
                return .json(APIError(error: "no Canary named \(name.name)"), status: 404)
            }
            switch Self.release(request.uri.queryParameters.get("rollout"), of: measurements, releases: rollout.status.releases) {
            case .success(let chosen): return .json(CanaryMetrics(spec: rollout.spec, status: status, measurements: chosen))
            case .failure(let refusal): return .json(refusal.error, status: refusal.status)
            }
        default:
            guard let status = await controller.status(of: name) else {
                return .json(APIError(error: "no Canary named \(name.name)"), status: 404)
            }
            return .json(status)
        }
    }

    /// `?limit=N`: absent, or a whole number from 1 to 1,000,000.
    static func limit(of text: String?) -> Result<Int?, APIError> {
        guard let text else { return .success(nil) }
        guard let limit = Int(text), (1...1_000_000).contains(limit) else {
            return .failure(APIError(error: "limit must be a whole number from 1 to 1000000, got \"\(text)\""))
        }
        return .success(limit)
    }
}

/// An API error body: `{"error": "..."}`.
public struct APIError: Codable, Sendable, Error {
    public var error: String

    public init(error: String) {
        self.error = error
    }
}

/// A Canary's train of releases, event history and measurements, as the API serves them.
public struct CanaryHistory: Codable, Sendable {
    /// The newest releases, oldest first: v1 → v2 promoted, v2 → v3 rolled back...
    public var releases: [ReleaseStatus]
    public var events: [EventView]
    public var measurements: [MeasurementView]

    public init(releases: [ReleaseStatus], events: [EventView], measurements: [MeasurementView]) {
        self.releases = releases
        self.events = events
        self.measurements = measurements
    }
}

/// One event with its time (RFC 3339 in JSON).
public struct EventView: Codable, Sendable, Equatable {
    @RFC3339Time public var time: Double
    public var severity: String
    public var message: String

    public init(_ event: RolloutEvent) {
        time = event.instant.unixSeconds
        severity = event.severity.rawValue
        message = event.message
    }
}

/// One measurement with its time (RFC 3339 in JSON).
public struct MeasurementView: Codable, Sendable, Equatable {
    @RFC3339Time public var time: Double
    public var metric: String
    public var canary: Double?
    public var stable: Double?
    /// Requests the values are based on; absent for a MetricTemplate's value, which counts none.
    public var canaryRequests: Int?
    public var stableRequests: Int?
    public var canaryWeight: Int
    /// Seconds the numbers cover (the check's window; with the statistical judge, the step so far).
    public var window: Double?
    public var verdict: Verdict.Outcome
    /// Why, for a fail or an inconclusive verdict.
    public var reason: String?
    /// The canary against the stable, when the statistical judge compared them.
    public var comparison: Comparison?
    /// True when the canary's numbers are of mirrored copies of requests, not live traffic; absent otherwise.
    public var mirrored: Bool?

    public init(_ measurement: RecordedMeasurement) {
        time = measurement.instant.unixSeconds
        metric = measurement.metric
        canary = measurement.canaryValue
        stable = measurement.stableValue
        canaryRequests = measurement.canaryRequests
        stableRequests = measurement.stableRequests
        canaryWeight = measurement.canaryWeight
        window = measurement.window?.inSeconds
        verdict = measurement.verdict.outcome
        reason = measurement.verdict.reason
        comparison = measurement.comparison
        mirrored = measurement.mirrored
    }
}

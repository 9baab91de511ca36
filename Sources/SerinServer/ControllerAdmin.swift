import Foundation
import SerinController
import SerinCore
import SerinHTTP

/// The controller's HTTP API on the admin listener: list and inspect Canaries, read their history,
/// events and metric series, follow them live, and steer them (promote, abort, pause, resume, rollout).
public enum ControllerAdmin {
    public static func register(_ controller: CanaryController, on router: inout SimpleRouter, keepAlive: Duration = .seconds(15)) {
        router.add("GET", "/canaries") { _ in
            .json(await controller.statuses())
        }
        router.add("GET", "/events") { _ in
            ControllerEventStream.response(controller, keepAlive: keepAlive)
        }
        router.addPrefix("/canaries/") { request in
            await canary(request, controller: controller)
        }
    }

    /// `/canaries/NAME[/RESOURCE]`: reads with GET, the steering commands with POST.
    static func canary(_ request: SimpleRequest, controller: CanaryController) async -> SimpleResponse {
        let parts = request.path.dropFirst("/canaries/".count).split(separator: "/").map(String.init)
        let resource = parts.count > 1 ? parts[1] : nil
        let command = resource.flatMap(RolloutCommand.init(rawValue:)).flatMap { $0 == .start ? nil : $0 }
        let reads: Set<String?> = [nil, "history", "events", "metrics"]
        guard parts.count <= 2, reads.contains(resource) || command != nil else {
            return .json(APIError(error: "\(request.path) is not part of the API; after /canaries/NAME/ comes history, events, "
                + "metrics, or (POST) promote, abort, pause, resume or rollout"), status: 404)
        }
        let allowed = command == nil ? "GET" : "POST"
        guard request.method == allowed else {
            return SimpleResponse.json(APIError(error: "method \(request.method) not allowed on \(request.path); use \(allowed)"), status: 405)
                .adding(header: "allow", allowed)
        }
        guard let reference = parts.first, let name = await controller.resolve(reference) else {
            return .json(APIError(error: "no Canary named \(parts.first ?? "")"), status: 404)
        }
        if let command {
            switch await controller.execute(command, canary: name) {
            case .accepted(let status): return .json(status)
            case .rejected(let reason): return .json(APIError(error: reason), status: 409)
            case .notFound(let reason): return .json(APIError(error: reason), status: 404)
            }
        }
        do {
            return try await read(resource, of: name, request: request, controller: controller)
        } catch {
            return .json(APIError(error: "cannot read the stored history of \(name.name): \(error)"), status: 500)
        }
    }

    /// The Canary's status, history, events or metric series.
    static func read(
        _ resource: String?, of name: ResourceName, request: SimpleRequest, controller: CanaryController
    ) async throws -> SimpleResponse {
        switch resource {
        case "history", "events":
            let limit: Int?
            switch Self.limit(of: request) {
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
            guard let spec = await controller.rollout(named: name)?.spec, let status = await controller.status(of: name) else {
                return .json(APIError(error: "no Canary named \(name.name)"), status: 404)
            }
            return .json(CanaryMetrics(spec: spec, status: status, measurements: measurements))
        default:
            guard let status = await controller.status(of: name) else {
                return .json(APIError(error: "no Canary named \(name.name)"), status: 404)
            }
            return .json(status)
        }
    }

    /// `?limit=N`: absent, or a whole number from 1 to 1,000,000.
    static func limit(of request: SimpleRequest) -> Result<Int?, APIError> {
        guard let text = request.query("limit") else { return .success(nil) }
        guard let limit = Int(text), (1...1_000_000).contains(limit) else {
            return .failure(APIError(error: "limit must be a whole number from 1 to 1000000, got \"\(text)\""))
        }
        return .success(limit)
    }
}

/// An API error body: `{"error": "..."}`.
public struct APIError: Codable, Sendable, Error {
    public var error: String
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

/// One event with a Unix timestamp.
public struct EventView: Codable, Sendable, Equatable {
    public var time: Double
    public var severity: String
    public var message: String

    public init(_ event: RolloutEvent) {
        time = event.instant.unixSeconds
        severity = event.severity.rawValue
        message = event.message
    }
}

/// One measurement with a Unix timestamp.
public struct MeasurementView: Codable, Sendable, Equatable {
    public var time: Double
    public var metric: String
    public var canary: Double?
    public var stable: Double?
    public var canaryRequests: Int
    public var stableRequests: Int
    public var canaryWeight: Int
    public var verdict: String

    public init(_ measurement: RecordedMeasurement) {
        time = measurement.instant.unixSeconds
        metric = measurement.metric
        canary = measurement.canaryValue
        stable = measurement.stableValue
        canaryRequests = measurement.canaryRequests
        stableRequests = measurement.stableRequests
        canaryWeight = measurement.canaryWeight
        verdict = measurement.verdict
    }
}

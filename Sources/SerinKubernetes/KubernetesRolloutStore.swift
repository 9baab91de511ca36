import Foundation
import SerinCore

/// `RolloutStore` on Kubernetes: a rollout's state lives in its Canary's status subresource, so a controller
/// that restarts (or a new leader) continues from the status; its events become Kubernetes Events on the
/// Canary (`kubectl describe canary`, `kubectl get events`). The status carries what people read — phase,
/// weight, step, failed checks, a `Promoted` condition — and, in `state`, the whole rollout for the next
/// controller.
///
/// Measurements are kept in memory for the API and dashboard (the newest few per metric also go to the
/// status); Kubernetes has no place for a time series, which is Prometheus's job.
public actor KubernetesRolloutStore: RolloutStore {
    private let api: any KubernetesAPI
    private let component: String
    private var measurementLog: [ResourceName: [RecordedMeasurement]] = [:]
    /// Each Canary as the last status write returned it: the next write starts from it instead of reading the
    /// Canary again; if someone changed it since, the write is refused (409) and the Canary is read afresh.
    private var lastWritten: [ResourceName: JSONValue] = [:]
    private let keptMeasurements = 500
    private let attempts = 5

    public init(api: any KubernetesAPI, component: String = "serin") {
        self.api = api
        self.component = component
    }

    public func loadRollouts() async throws -> [ResourceName: Rollout] {
        var rollouts: [ResourceName: Rollout] = [:]
        var failures: [String] = []
        for canary in try await api.list(.canaries(namespace: nil)).items {
            guard let name = canary["metadata"]?["name"]?.stringValue, let namespace = canary["metadata"]?["namespace"]?.stringValue,
                let state = canary["status"]?["state"]?.stringValue
            else { continue }
            let key = ResourceName(namespace: namespace, name: name)
            do {
                let rollout = try JSONDecoder().decode(Rollout.self, from: Data(state.utf8))
                guard rollout.spec.name == key else {
                    failures.append("\(key): its status.state belongs to \(rollout.spec.name)")
                    continue
                }
                rollouts[key] = rollout
            } catch {
                failures.append("\(key): status.state is not a rollout Serin can read: \(error)")
            }
        }
        guard failures.isEmpty else { throw Failure(message: failures.joined(separator: "; ")) }
        return rollouts
    }

    public func save(_ rollout: Rollout, events: [RolloutEvent], measurements: [RecordedMeasurement]) async throws {
        let name = rollout.spec.name
        if !measurements.isEmpty {
            var log = measurementLog[name, default: []] + measurements
            if log.count > keptMeasurements { log.removeFirst(log.count - keptMeasurements) }
            measurementLog[name] = log
        }
        let status = try Self.status(of: rollout, measurements: measurementLog[name] ?? [])
        let canary = try await writeStatus(of: name) { current in
            // The answer to the last command stays: it belongs to whoever sent it.
            var fields = status.objectValue ?? [:]
            if let answer = current?["lastCommand"] { fields["lastCommand"] = answer }
            return .object(fields)
        }
        for (index, event) in events.enumerated() {
            do {
                _ = try await api.create(
                    .events(namespace: name.namespace), Self.event(event, number: index, about: canary, component: component)
                )
            } catch let error as KubernetesAPIError where error.code == 409 {
                // Posted already by an earlier attempt at this save.
            }
        }
    }

    /// Writes the answer to a person's command (`CanaryCommandChannel`) into the Canary's status, keeping the rest.
    public func recordAnswer(_ answer: CanaryCommandChannel.Answer, for name: ResourceName) async throws {
        _ = try await writeStatus(of: name) { current in
            var fields = current?.objectValue ?? [:]
            fields["lastCommand"] = answer.json
            return .object(fields)
        }
    }

    /// Replaces the Canary's status with `change(current status)`, starting from the Canary as last written; a
    /// 409 (someone changed the Canary since) reads it again and recomputes. Returns the Canary as written.
    private func writeStatus(of name: ResourceName, _ change: (JSONValue?) throws -> JSONValue) async throws -> JSONValue {
        let path = ResourcePath.canaries(namespace: name.namespace, name: name.name)
        var canary: JSONValue
        if let known = lastWritten[name] { canary = known } else { canary = try await api.get(path) }
        for attempt in 1...attempts {
            guard case .object(var fields) = canary else { throw Failure(message: "Canary \(name) is not an object") }
            fields["status"] = try change(fields["status"])
            do {
                canary = try await api.replace(path.status, .object(fields))
                break
            } catch let error as KubernetesAPIError where error.isConflict && attempt < attempts {
                // The Canary changed (a spec edit, a label, a command): write onto the fresh object.
                canary = try await api.get(path)
            }
        }
        lastWritten[name] = canary
        return canary
    }

    public func events(for canary: ResourceName, limit: Int?) async throws -> [RolloutEvent] {
        let events = try await api.list(.events(namespace: canary.namespace)).items.filter {
            $0["involvedObject"]?["kind"] == "Canary" && $0["involvedObject"]?["name"]?.stringValue == canary.name
                && $0["source"]?["component"]?.stringValue == component
        }.compactMap(Self.rolloutEvent).sorted { ($0.instant, $0.number) < ($1.instant, $1.number) }.map(\.event)
        guard let limit else { return events }
        return Array(events.suffix(limit))
    }

    public func measurements(for canary: ResourceName, limit: Int?) async throws -> [RecordedMeasurement] {
        let log = measurementLog[canary] ?? []
        guard let limit else { return log }
        return Array(log.suffix(limit))
    }

    public func delete(_ canary: ResourceName) async throws {
        // Its status went with the Canary; its Events expire on the API server's own schedule.
        measurementLog[canary] = nil
        lastWritten[canary] = nil
    }

    /// Why a rollout could not be loaded or saved.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let message: String
        public var description: String { message }
    }

    // MARK: Wire format

    /// The Canary's status: what `kubectl get canaries` and people read, and the rollout itself in `state`.
    static func status(of rollout: Rollout, measurements: [RecordedMeasurement]) throws -> JSONValue {
        let status = rollout.status
        let steps = rollout.spec.analysis.schedule.steps
        var fields: [String: JSONValue] = [
            "phase": .string(status.phase.rawValue),
            "canaryWeight": .number(Double(status.canaryWeight)),
            "stable": .string(status.servingStable.description),
            "canary": .string(status.canary.description),
            "step": .string("\(status.stepIndex.map { $0 + 1 } ?? 0)/\(steps)"),
            "failedChecks": .number(Double(status.failedChecks)),
            "iterations": .number(Double(status.iteration)),
            "state": .string(String(decoding: try JSONEncoder().encode(rollout), as: UTF8.self)),
        ]
        if let message = status.message { fields["message"] = .string(message) }
        if let transition = status.lastTransitionAt {
            fields["lastTransitionTime"] = .string(Self.timestamp(transition))
        }
        let promoted: String
        switch status.phase {
        case .succeeded: promoted = "True"
        case .failed: promoted = "False"
        default: promoted = "Unknown"
        }
        var condition: [String: JSONValue] = [
            "type": "Promoted", "status": .string(promoted), "reason": .string(status.phase.rawValue),
            "message": .string(status.message ?? ""),
        ]
        if let transition = status.lastTransitionAt { condition["lastTransitionTime"] = .string(Self.timestamp(transition)) }
        fields["conditions"] = [.object(condition)]
        // The newest measurement of each metric, for `kubectl get canary -o yaml`.
        var latest: [String: RecordedMeasurement] = [:]
        for measurement in measurements { latest[measurement.metric] = measurement }
        if !latest.isEmpty {
            fields["lastMeasurements"] = .array(
                latest.values.sorted { $0.metric < $1.metric }.map { measurement in
                    var entry: [String: JSONValue] = [
                        "metric": .string(measurement.metric), "verdict": .string(measurement.verdict),
                        "time": .string(Self.timestamp(measurement.instant)),
                        "canaryRequests": .number(Double(measurement.canaryRequests)),
                        "stableRequests": .number(Double(measurement.stableRequests)),
                        "canaryWeight": .number(Double(measurement.canaryWeight)),
                    ]
                    if let value = measurement.canaryValue { entry["canary"] = .number(value) }
                    if let value = measurement.stableValue { entry["stable"] = .number(value) }
                    return .object(entry)
                }
            )
        }
        return .object(fields)
    }

    /// A core/v1 Event about the Canary, Normal or Warning as the rollout event is.
    /// Named `CANARY.NANOSECONDS-NUMBER` (hex nanoseconds, the event's place in its save), so names never collide
    /// and the order survives Events' whole-second timestamps.
    static func event(_ event: RolloutEvent, number: Int, about canary: JSONValue, component: String) -> JSONValue {
        let name = canary["metadata"]?["name"]?.stringValue ?? "canary"
        let namespace = canary["metadata"]?["namespace"]?.stringValue ?? "default"
        let time = timestamp(event.instant)
        let nanos = event.instant.sinceEpoch.components.seconds * 1_000_000_000
            + event.instant.sinceEpoch.components.attoseconds / 1_000_000_000
        return [
            "apiVersion": "v1", "kind": "Event",
            "metadata": ["name": .string("\(name).\(String(nanos, radix: 16))-\(number)"), "namespace": .string(namespace)],
            "involvedObject": [
                "apiVersion": "serin.dev/v1alpha1", "kind": "Canary", "name": .string(name), "namespace": .string(namespace),
                "uid": canary["metadata"]?["uid"] ?? .null, "resourceVersion": canary["metadata"]?["resourceVersion"] ?? .null,
            ],
            // Flagger's reason for every rollout event; the type tells warnings apart.
            "reason": "Synced",
            "message": .string(event.message),
            "type": .string(event.severity.rawValue),
            "source": ["component": .string(component)],
            "reportingComponent": .string(component),
            "firstTimestamp": .string(time), "lastTimestamp": .string(time), "count": 1,
        ]
    }

    static func rolloutEvent(_ event: JSONValue) -> (event: RolloutEvent, instant: RolloutInstant, number: Int)? {
        guard let message = event["message"]?.stringValue,
            var instant = event["firstTimestamp"]?.stringValue.flatMap(instant(ofTimestamp:))
        else { return nil }
        var number = 0
        if let name = event["metadata"]?["name"]?.stringValue, let suffix = name.split(separator: ".").last {
            let parts = suffix.split(separator: "-")
            if let nanos = parts.first.flatMap({ Int64($0, radix: 16) }) { instant = RolloutInstant(sinceEpoch: .nanoseconds(nanos)) }
            if parts.count > 1, let parsed = Int(parts[1]) { number = parsed }
        }
        let severity = event["type"]?.stringValue.flatMap(RolloutEvent.Severity.init(rawValue:)) ?? .normal
        return (RolloutEvent(instant: instant, severity: severity, message: message), instant, number)
    }

    /// The measurements `status.lastMeasurements` keeps, for readers of the status (`serin status --kubeconfig`).
    public static func lastMeasurements(in canary: JSONValue) -> [RecordedMeasurement] {
        guard let name = ResourceWatch.name(of: canary) else { return [] }
        return (canary["status"]?["lastMeasurements"]?.arrayValue ?? []).compactMap { entry in
            guard let metric = entry["metric"]?.stringValue, let verdict = entry["verdict"]?.stringValue else { return nil }
            return RecordedMeasurement(
                canary: name, instant: entry["time"]?.stringValue.flatMap(instant(ofTimestamp:)) ?? RolloutInstant(sinceEpoch: .zero),
                metric: metric, canaryValue: entry["canary"]?.numberValue, stableValue: entry["stable"]?.numberValue,
                canaryRequests: entry["canaryRequests"]?.intValue ?? 0,
                stableRequests: entry["stableRequests"]?.intValue ?? 0, canaryWeight: entry["canaryWeight"]?.intValue ?? 0, verdict: verdict
            )
        }
    }

    /// The whole second a `timestamp` names.
    static func instant(ofTimestamp text: String) -> RolloutInstant? {
        ISO8601DateFormatter().date(from: text).map { RolloutInstant(sinceEpoch: .seconds(Int64($0.timeIntervalSince1970))) }
    }

    static func timestamp(_ instant: RolloutInstant) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(instant.sinceEpoch.components.seconds)))
    }
}

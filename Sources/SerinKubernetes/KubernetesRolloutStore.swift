import Foundation
import SerinCore

/// `RolloutStore` on Kubernetes: a rollout's state lives in its Canary's status subresource, so a controller
/// that restarts (or a new leader) continues from the status; its events become Kubernetes Events on the
/// Canary (`kubectl describe canary`, `kubectl get events`). The status carries what people read — phase,
/// weight, step, failed checks, a `Promoted` condition — and, in `state`, the whole rollout for the next
/// controller. On Flagger's Canary, whose CRD keeps only Flagger's status fields, the status has those and the
/// rollout lives in an annotation (`CanaryGroup`).
///
/// Measurements are kept in memory for the API and dashboard (the newest few per metric also go to the
/// status); Kubernetes has no place for a time series, which is Prometheus's job.
public actor KubernetesRolloutStore: RolloutStore {
    private let api: any KubernetesAPI
    private let component: String
    private let groups: [CanaryGroup]
    private var measurementLog: [ResourceName: [RecordedMeasurement]] = [:]
    /// Each Canary as the last write returned it: the next write starts from it instead of reading the
    /// Canary again; if someone changed it since, the write is refused (409) and the Canary is read afresh.
    private var lastWritten: [ResourceName: JSONValue] = [:]
    /// Why the controller refused each Canary as now written (`recordRefusal`), kept in its status through saves.
    private var refusals: [ResourceName: String] = [:]
    private let keptMeasurements = 500

    /// - Parameter groups: the Canary resources the controller runs, in order of precedence when a namespace
    ///   has a Canary of the same name in both.
    public init(api: any KubernetesAPI, component: String = "serin", groups: [CanaryGroup] = [.serin]) {
        self.api = api
        self.component = component
        self.groups = groups
    }

    public func loadRollouts() async throws -> [ResourceName: Rollout] {
        var rollouts: [ResourceName: Rollout] = [:]
        var failures: [String] = []
        for group in groups {
            let canaries: [JSONValue]
            do {
                canaries = try await api.list(group.path(namespace: nil)).items
            } catch let error as KubernetesAPIError where error.isNotFound && group == .flagger {
                continue  // Flagger's CRD is not installed: no Flagger Canary to continue.
            }
            for canary in canaries {
                guard let key = ResourceWatch.name(of: canary), rollouts[key] == nil, let state = group.state(in: canary) else { continue }
                do {
                    let rollout = try JSONDecoder().decode(Rollout.self, from: Data(state.utf8))
                    guard rollout.spec.name == key else {
                        failures.append("\(key): its \(group.stateLocation) belongs to \(rollout.spec.name)")
                        continue
                    }
                    rollouts[key] = rollout
                } catch {
                    failures.append("\(key): \(group.stateLocation) is not a rollout Serin can read: \(error)")
                }
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
        // The refusal is read as the write is made (it may be cleared while this save awaits the API).
        let withRefusal = { [self] (status: JSONValue) in Self.status(status, refusal: refusals[name]) }
        let canary: JSONValue = try await inGroup(of: name) { group in
            switch group {
            case .serin:
                return try await write(name, in: group, status: true) { fields in
                    // The answer to the last command stays: it belongs to whoever sent it.
                    var written = withRefusal(status).objectValue ?? [:]
                    if let answer = fields["status"]?["lastCommand"] { written["lastCommand"] = answer }
                    fields["status"] = Self.keepingTerminating(.object(written), of: fields)
                }
            case .flagger:
                // The rollout first: it is what the next controller continues from; the status only tells people.
                let state = String(decoding: try JSONEncoder().encode(rollout), as: UTF8.self)
                _ = try await write(name, in: group, status: false) { fields in
                    fields["metadata"] = JSONValue.annotating(fields["metadata"], CanaryGroup.stateAnnotation, state)
                }
                return try await write(name, in: group, status: true) { fields in
                    fields["status"] = Self.keepingTerminating(Self.flaggerStatus(withRefusal(status), of: rollout), of: fields)
                }
            }
        }
        try await record(events, about: canary)
    }

    /// `status`, but with Flagger's `Terminating` phase kept on a Canary being reverted on deletion (`DeletionRevert`):
    /// a save that reaches the API after the revert marked it (the controller's last, retried after a 409) must not put
    /// the rollout's phase back while the revert runs.
    static func keepingTerminating(_ status: JSONValue, of canary: [String: JSONValue]) -> JSONValue {
        let terminating = JSONValue.string(RevertOnDeletion.terminatingPhase)
        guard canary["metadata"]?["deletionTimestamp"] != nil, canary["status"]?["phase"] == terminating,
              case .object(var fields) = status else { return status }
        fields["phase"] = terminating
        return .object(fields)
    }

    /// Posts `events` as core/v1 Events about `canary` (as read or written), in order: a save's, and those of a revert
    /// on deletion (`CanaryWatcher`), which may come after the Canary has gone. One an earlier attempt posted (409) is
    /// not posted twice.
    public func record(_ events: [RolloutEvent], about canary: JSONValue) async throws {
        let namespace = canary["metadata"]?["namespace"]?.stringValue ?? "default"
        for (index, event) in events.enumerated() {
            do {
                _ = try await api.create(.events(namespace: namespace), Self.event(event, number: index, about: canary, component: component))
            } catch let error as KubernetesAPIError where error.code == 409 {
                // Posted already by an earlier attempt.
            }
        }
    }

    /// Writes the answer to a person's command (`CanaryCommandChannel`) into the Canary, keeping the rest: in
    /// `status.lastCommand`, or on Flagger's Canary in an annotation.
    public func recordAnswer(_ answer: CanaryCommandChannel.Answer, for name: ResourceName) async throws {
        try await inGroup(of: name) { group in
            switch group {
            case .serin:
                _ = try await write(name, in: group, status: true) { fields in
                    var status = fields["status"]?.objectValue ?? [:]
                    status["lastCommand"] = answer.json
                    fields["status"] = .object(status)
                }
            case .flagger:
                let text = String(decoding: try JSONEncoder().encode(answer.json), as: UTF8.self)
                _ = try await write(name, in: group, status: false) { fields in
                    fields["metadata"] = JSONValue.annotating(fields["metadata"], CanaryGroup.answerAnnotation, text)
                }
            }
        }
    }

    /// Shows why the controller refused the Canary as written — condition `Accepted` False, reason `Refused`,
    /// with the message — so `kubectl describe` says it; nil clears it once the Canary is accepted.
    /// - Parameter namesake: the group of a Canary that does not run because its namesake does (`CanaryGroup.runner`);
    ///   nil for the one that runs, whose refusal stays in its status through later saves.
    public func recordRefusal(_ message: String?, for name: ResourceName, namesake: CanaryGroup? = nil) async throws {
        if let namesake {
            // Not the rollout's object: written as read now, and the running one's copy stays as it is.
            _ = try await api.update(namesake.path(namespace: name.namespace, name: name.name), status: true) { fields in
                fields["status"] = Self.status(fields["status"] ?? [:], refusal: message)
                return true
            }
            return
        }
        refusals[name] = message
        try await inGroup(of: name) { group in
            _ = try await write(name, in: group, status: true) { fields in fields["status"] = Self.status(fields["status"] ?? [:], refusal: message) }
        }
    }

    /// `status` with its `Accepted` condition saying `refusal` (False, reason Refused), or without one for nil.
    static func status(_ status: JSONValue, refusal: String?) -> JSONValue {
        var fields = status.objectValue ?? [:]
        var conditions = (fields["conditions"]?.arrayValue ?? []).filter { $0["type"] != "Accepted" }
        if let refusal {
            conditions.append([
                "type": "Accepted", "status": "False", "reason": "Refused", "message": .string(refusal),
                "lastTransitionTime": .string(RFC3339.format(seconds: Int64(Date().timeIntervalSince1970))),
            ])
        }
        fields["conditions"] = .array(conditions)
        return .object(fields)
    }

    /// The refusal written on a Canary, if the controller refused it as written.
    public static func refusal(in canary: JSONValue) -> String? {
        canary["status"]?["conditions"]?.arrayValue?.first { $0["type"] == "Accepted" && $0["status"] == "False" }?["message"]?.stringValue
    }

    /// Which group's Canary `name` is: where both hold the name, the one `CanaryGroup.runner` picks.
    private func group(of name: ResourceName) async throws -> CanaryGroup {
        if let known = lastWritten[name] { return CanaryGroup.of(known) }
        var namesakes: [CanaryGroup: JSONValue] = [:]
        for group in groups {
            do {
                namesakes[group] = group.stamped(try await api.get(group.path(namespace: name.namespace, name: name.name)))
            } catch let error as KubernetesAPIError where error.isNotFound {
                continue
            }
        }
        guard let runner = CanaryGroup.runner(of: namesakes, in: groups) else { throw Failure(message: "Canary \(name) does not exist") }
        lastWritten[name] = namesakes[runner]
        return runner
    }

    /// Runs `body` with the group of `name`'s Canary. When that object has gone while its namesake in the other
    /// group stays (the one that ran was deleted), the rollout goes on on the namesake: `body` runs again with it.
    private func inGroup<Value>(of name: ResourceName, _ body: (CanaryGroup) async throws -> Value) async throws -> Value {
        let group = try await group(of: name)
        do {
            return try await body(group)
        } catch let error as KubernetesAPIError where error.isNotFound && groups.count > 1 {
            lastWritten[name] = nil
            guard let namesake = try? await self.group(of: name), namesake != group else { throw error }
            return try await body(namesake)
        }
    }

    /// Replaces the Canary (or its status) after `change`, starting from the Canary as last written (see
    /// `KubernetesAPI.update`). Returns the Canary as written.
    private func write(
        _ name: ResourceName, in group: CanaryGroup, status: Bool, _ change: (inout [String: JSONValue]) throws -> Void
    ) async throws -> JSONValue {
        let canary = try await api.update(group.path(namespace: name.namespace, name: name.name), status: status, from: lastWritten[name]) {
            try change(&$0)
            return true
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
        refusals[canary] = nil
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
            // Beside the stable shown: 0 once the promoted canary is the stable, as Flagger's Succeeded canary reads.
            "canaryWeight": .number(Double(status.canaryWeightShown)),
            "stable": .string(status.stableShown.description),
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
        // Flagger's fields for the sticky canary's cookie, as its users' tooling reads them.
        if let cookie = rollout.sessionAffinityCookie { fields["sessionAffinityCookie"] = .string(cookie) }
        if let cookie = rollout.previousSessionAffinityCookie { fields["previousSessionAffinityCookie"] = .string(cookie) }
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
                        "metric": .string(measurement.metric), "verdict": .string(measurement.verdict.outcome.rawValue),
                        "time": .string(Self.timestamp(measurement.instant)),
                        "canaryWeight": .number(Double(measurement.canaryWeight)),
                    ]
                    // Left out for a MetricTemplate's value, which counts no requests.
                    if let requests = measurement.canaryRequests { entry["canaryRequests"] = .number(Double(requests)) }
                    if let requests = measurement.stableRequests { entry["stableRequests"] = .number(Double(requests)) }
                    if let reason = measurement.verdict.reason { entry["reason"] = .string(reason) }
                    if let value = measurement.canaryValue { entry["canary"] = .number(value) }
                    if let value = measurement.stableValue { entry["stable"] = .number(value) }
                    if measurement.mirrored == true { entry["mirrored"] = true }
                    return .object(entry)
                }
            )
        }
        return .object(fields)
    }

    /// The status Flagger's CRD keeps, from Serin's: Flagger's phase; the weight, counts, transition time, the
    /// sticky canary's cookies and the `Promoted` condition (which says RollingBack, and carries the message).
    static func flaggerStatus(_ status: JSONValue, of rollout: Rollout) -> JSONValue {
        var fields = (status.objectValue ?? [:]).filter {
            ["canaryWeight", "failedChecks", "iterations", "lastTransitionTime", "conditions", "sessionAffinityCookie",
             "previousSessionAffinityCookie"].contains($0.key)
        }
        fields["phase"] = .string(rollout.status.flaggerPhase)
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
                "apiVersion": .string(CanaryGroup.of(canary).groupVersion), "kind": "Canary", "name": .string(name),
                "namespace": .string(namespace),
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
            guard let metric = entry["metric"]?.stringValue, let written = entry["verdict"]?.stringValue else { return nil }
            let verdict: Verdict
            if let outcome = Verdict.Outcome(rawValue: written) {
                verdict = Verdict(outcome: outcome, reason: entry["reason"]?.stringValue)
            } else {
                // Written by a Serin before verdicts were data: "fail: REASON".
                let parts = written.split(separator: ": ", maxSplits: 1).map(String.init)
                verdict = Verdict(outcome: parts.first.flatMap(Verdict.Outcome.init(rawValue:)) ?? .inconclusive, reason: parts.count > 1 ? parts[1] : written)
            }
            return RecordedMeasurement(
                canary: name, instant: entry["time"]?.stringValue.flatMap(instant(ofTimestamp:)) ?? RolloutInstant(sinceEpoch: .zero),
                metric: metric, canaryValue: entry["canary"]?.numberValue, stableValue: entry["stable"]?.numberValue,
                canaryRequests: entry["canaryRequests"]?.intValue,
                stableRequests: entry["stableRequests"]?.intValue, canaryWeight: entry["canaryWeight"]?.intValue ?? 0, verdict: verdict,
                mirrored: entry["mirrored"] == true
            )
        }
    }

    /// The whole second a `timestamp` (RFC 3339, any offset) names.
    static func instant(ofTimestamp text: String) -> RolloutInstant? {
        RFC3339.parse(text).map { RolloutInstant(sinceEpoch: .seconds($0.seconds)) }
    }

    /// An instant as Kubernetes writes a `Time`: RFC 3339 in UTC, whole seconds.
    static func timestamp(_ instant: RolloutInstant) -> String {
        let (seconds, attoseconds) = instant.sinceEpoch.components
        return RFC3339.format(seconds: attoseconds < 0 ? seconds - 1 : seconds)
    }
}

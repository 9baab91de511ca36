import Foundation
import SerinController
import SerinCore
import SerinHTTP

/// `GET /events`: every Canary's rollout events, phase and weight changes and measurements as
/// server-sent events, so the dashboard and scripts follow a rollout without polling.
///
/// Each message has an `id:` (the controller's update sequence), an `event:` name (`rollout`, `phase`,
/// `weights`, `measurement`) and one JSON `data:` line; a comment line every `keepAlive` keeps proxies
/// from closing a quiet stream and finds clients that went away.
public enum ControllerEventStream {
    public static func response(_ controller: CanaryController, keepAlive: Duration) -> SimpleResponse {
        .streaming(headers: [("content-type", "text/event-stream"), ("cache-control", "no-cache")]) { writer in
            let updates = await controller.updates()
            // Whichever ends first (the client went away, the server closes) ends both.
            await withTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    do {
                        // Opens the stream at once, so a client knows it is subscribed before anything happens.
                        try writer.write(": serin events\nretry: 2000\n\n")
                        for await update in updates { try writer.write(message(update)) }
                    } catch {
                        return
                    }
                }
                tasks.addTask {
                    while (try? await Task.sleep(for: keepAlive)) != nil {
                        do { try writer.write(": keep-alive\n\n") } catch { return }
                    }
                }
                await tasks.next()
                tasks.cancelAll()
            }
        }
    }

    /// One update as a server-sent event.
    static func message(_ sequenced: SequencedUpdate) -> String {
        let (name, data): (String, String)
        switch sequenced.update {
        case .event(let canary, let event):
            (name, data) = ("rollout", json(RolloutEventMessage(canary: canary, event: event)))
        case .measured(let measurement):
            (name, data) = ("measurement", json(MeasurementMessage(measurement)))
        case .phase(let canary, let phase):
            (name, data) = ("phase", json(PhaseMessage(canary: canary.name, namespace: canary.namespace, phase: phase)))
        case .weights(let canary, let stableWeight, let canaryWeight):
            (name, data) = ("weights", json(WeightsMessage(
                canary: canary.name, namespace: canary.namespace, stableWeight: stableWeight, canaryWeight: canaryWeight
            )))
        }
        return "id: \(sequenced.sequence)\nevent: \(name)\ndata: \(data)\n\n"
    }

    /// Compact JSON: one `data:` line holds no newline.
    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    struct RolloutEventMessage: Encodable {
        var canary: String
        var namespace: String
        var time: Double
        var severity: String
        var message: String

        init(canary: ResourceName, event: RolloutEvent) {
            self.canary = canary.name
            namespace = canary.namespace
            time = event.instant.unixSeconds
            severity = event.severity.rawValue
            message = event.message
        }
    }

    struct MeasurementMessage: Encodable {
        var canary: String
        var namespace: String
        var measurement: MeasurementView

        init(_ measurement: RecordedMeasurement) {
            canary = measurement.canary.name
            namespace = measurement.canary.namespace
            self.measurement = MeasurementView(measurement)
        }
    }

    struct PhaseMessage: Encodable {
        var canary: String
        var namespace: String
        var phase: RolloutPhase
    }

    struct WeightsMessage: Encodable {
        var canary: String
        var namespace: String
        var stableWeight: Int
        var canaryWeight: Int
    }
}

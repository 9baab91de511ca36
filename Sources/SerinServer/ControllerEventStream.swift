import AsyncAlgorithms
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SerinController
import SerinCore
import ServiceLifecycle

/// `GET /events`: every Canary's rollout events, phase and weight changes and measurements as
/// server-sent events, so the dashboard and scripts follow a rollout without polling.
///
/// Each message has an `id:` (the controller's update sequence), an `event:` name (`rollout`, `phase`,
/// `weights`, `measurement`) and one JSON `data:` line; a comment line every `keepAlive` keeps proxies
/// from closing a quiet stream and finds clients that went away.
public enum ControllerEventStream {
    public static func response(_ controller: CanaryController, keepAlive: Duration) -> Response {
        let body = ResponseBody { writer in
            let updates = await controller.updates().map { Optional(message($0)) }
            let keepAlives = AsyncTimerSequence(interval: keepAlive, clock: .continuous).map { _ in Optional(": keep-alive\n\n") }
            // nil: the server is shutting down; the stream ends so the shutdown need not wait for the client.
            let (shutdown, shuttingDown) = AsyncStream.makeStream(of: String?.self)
            // Opens the stream at once, so a client knows it is subscribed before anything happens.
            try await writer.write(ByteBuffer(string: ": serin events\nretry: 2000\n\n"))
            // A write to a client that went away throws, which ends the stream and drops the subscription; the
            // keep-alive comments find such a client on a quiet stream.
            try await withGracefulShutdownHandler {
                for await text in merge(updates, keepAlives, shutdown) {
                    guard let text else { break }
                    try await writer.write(ByteBuffer(string: text))
                }
            } onGracefulShutdown: {
                shuttingDown.yield(nil)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
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
        case .weights(let canary, let stableWeight, let canaryWeight, let stable, let canaryDestination):
            (name, data) = ("weights", json(WeightsMessage(
                canary: canary.name, namespace: canary.namespace, stableWeight: stableWeight, canaryWeight: canaryWeight,
                stableDestination: stable.description, canaryDestination: canaryDestination.description
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
        @RFC3339Time var time: Double
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
        /// `host:port` of the versions the weights go to; `canary` is the Canary's name, as in every event.
        var stableDestination: String
        var canaryDestination: String
    }
}

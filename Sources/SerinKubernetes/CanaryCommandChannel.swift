import Logging
import Foundation
import SerinCore

/// How people steer a Canary in a cluster without reaching the controller's address: `serin promote web
/// --kubeconfig ...` (or `kubectl annotate`) writes the command and a fresh id into the Canary's annotations;
/// the leading controller sees it through its watch, carries it out once, and answers in
/// `status.lastCommand` (on Flagger's Canary, the `serin.dev/last-command` annotation) under the same id. A
/// person needs only `get` and `patch` on canaries.
public enum CanaryCommandChannel {
    /// The command: `promote`, `abort`, `pause`, `resume` or `rollout`.
    public static let commandAnnotation = "serin.dev/command"
    /// Tells one request from the next; the answer carries it back.
    public static let idAnnotation = "serin.dev/command-id"

    /// The commands a person may write (`start` is the controller's own).
    public static let commands: [RolloutCommand] = [.promote, .abort, .pause, .resume, .restart]

    /// A command written on a Canary and not answered yet.
    public struct Request: Sendable, Equatable {
        public var canary: ResourceName
        public var id: String
        /// As written; not necessarily a command Serin knows.
        public var command: String
    }

    /// The controller's answer to one request, kept in `status.lastCommand`.
    public struct Answer: Sendable, Equatable {
        public var id: String
        public var command: String
        public var accepted: Bool
        /// The refusal's reason, or the rollout's message after the command.
        public var message: String
        /// The rollout's phase and weight right after an accepted command.
        public var phase: String?
        public var canaryWeight: Int?
        public var time: String

        public var json: JSONValue {
            var fields: [String: JSONValue] = [
                "id": .string(id), "command": .string(command), "accepted": .bool(accepted), "message": .string(message),
                "time": .string(time),
            ]
            if let phase { fields["phase"] = .string(phase) }
            if let canaryWeight { fields["canaryWeight"] = .number(Double(canaryWeight)) }
            return .object(fields)
        }

        public init?(json: JSONValue) {
            guard let id = json["id"]?.stringValue, let command = json["command"]?.stringValue,
                case .bool(let accepted)? = json["accepted"]
            else { return nil }
            self.id = id
            self.command = command
            self.accepted = accepted
            message = json["message"]?.stringValue ?? ""
            phase = json["phase"]?.stringValue
            canaryWeight = json["canaryWeight"]?.intValue
            time = json["time"]?.stringValue ?? ""
        }

        /// What the controller says to `request` after `reply`.
        public init(to request: Request, reply: CommandReply, at date: Date = Date()) {
            id = request.id
            command = request.command
            time = RFC3339.format(seconds: Int64(date.timeIntervalSince1970.rounded(.down)))
            switch reply {
            case .accepted(let status):
                accepted = true
                message = status.message ?? ""
                phase = status.phase.rawValue
                canaryWeight = status.canaryWeight
            case .rejected(let reason), .notFound(let reason):
                accepted = false
                message = reason
            }
        }
    }

    /// The Canary's request when one is written and not yet answered.
    public static func pendingRequest(in canary: JSONValue) -> Request? {
        let annotations = canary["metadata"]?["annotations"]
        guard let name = ResourceWatch.name(of: canary), let id = annotations?[idAnnotation]?.stringValue, !id.isEmpty,
            answer(in: canary)?.id != id
        else { return nil }
        return Request(canary: name, id: id, command: annotations?[commandAnnotation]?.stringValue ?? "")
    }

    /// The answer written on the Canary (`status.lastCommand`; an annotation on Flagger's), if it has one.
    public static func answer(in canary: JSONValue) -> Answer? {
        CanaryGroup.of(canary).answer(in: canary).flatMap(Answer.init(json:))
    }

    /// The patch that writes `command` under `id` on the Canary as read: guarded by its resourceVersion, so a
    /// concurrent request is never silently replaced.
    public static func request(_ command: RolloutCommand, id: String, on canary: JSONValue) -> [JSONPatchOperation] {
        var operations: [JSONPatchOperation] = []
        if let version = canary["metadata"]?["resourceVersion"] {
            operations.append(.test(path: ["metadata", "resourceVersion"], value: version))
        }
        if case .object(var annotations)? = canary["metadata"]?["annotations"] {
            annotations[commandAnnotation] = .string(command.rawValue)
            annotations[idAnnotation] = .string(id)
            operations.append(.replace(path: ["metadata", "annotations"], value: .object(annotations)))
        } else {
            operations.append(
                .add(path: ["metadata", "annotations"], value: [commandAnnotation: .string(command.rawValue), idAnnotation: .string(id)])
            )
        }
        return operations
    }

    /// Carries out requests with `execute` (`CanaryController.execute`) and writes each answer into the Canary's status
    /// through `store`. A request is carried out once: an answer that cannot be written (the API server failing, or
    /// losing every conflict) is written again after `retryDelays`, so the person waiting for it is not left without
    /// one by a passing failure.
    public static func handler(
        execute: @escaping @Sendable (RolloutCommand, ResourceName) async -> CommandReply, store: KubernetesRolloutStore,
        logger: Logger, retryDelays: [Duration] = [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2)]
    ) -> @Sendable (Request) async -> Void {
        { request in
            let reply: CommandReply
            if let command = RolloutCommand(rawValue: request.command), commands.contains(command) {
                reply = await execute(command, request.canary)
            } else {
                let known = commands.map(\.rawValue).joined(separator: ", ")
                reply = .rejected("\(commandAnnotation) is \"\(request.command)\"; expected one of \(known)")
            }
            let answer = Answer(to: request, reply: reply)
            var logger = logger
            logger[metadataKey: "canary"] = "\(request.canary)"
            logger.log(level: answer.accepted ? .info : .warning, "\(request.canary.name): command \(request.command) (\(request.id)) \(answer.accepted ? "accepted" : "refused: \(answer.message)")")
            var delays = retryDelays[...]
            while true {
                do {
                    try await store.recordAnswer(answer, for: request.canary)
                    return
                } catch {
                    guard let delay = delays.popFirst(), (try? await Task.sleep(for: delay)) != nil else {
                        logger.error("\(request.canary.name): cannot write the answer to command \(request.id) into the status: \(error)", error: error)
                        return
                    }
                    logger.warning("\(request.canary.name): writing the answer to command \(request.id) failed (\(error)); trying again in \(delay)")
                }
            }
        }
    }
}

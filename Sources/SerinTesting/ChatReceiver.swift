import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import SerinListener

/// A real receiver on 127.0.0.1 for alerts, standing in for Slack, Teams, Discord, Google Chat, Rocket.Chat and a
/// plain webhook: each path (`/slack`, `/msteams`, `/discord/slack`, `/gchat`, `/rocket`, `/webhook`) checks the
/// body against that service's documented payload shape and answers 400 with what is wrong, as the services do,
/// or 200. Only messages that passed are kept.
public final class ChatReceiver: Sendable {
    /// One accepted message: the path it came to, its JSON and its headers.
    public struct Message: @unchecked Sendable {  // `json` holds only JSONSerialization's immutable value types.
        public var path: String
        public var json: [String: Any]
        public var authorization: String?
        public var text: String
    }

    private let server: HTTPListener
    private let accepted: NIOLockedValueBox<[Message]>
    private let refused: NIOLockedValueBox<[String]>
    private let failing: NIOLockedValueBox<Int>

    private init(server: HTTPListener, accepted: NIOLockedValueBox<[Message]>, refused: NIOLockedValueBox<[String]>, failing: NIOLockedValueBox<Int>) {
        self.server = server
        self.accepted = accepted
        self.refused = refused
        self.failing = failing
    }

    public static func start(group: any EventLoopGroup) async throws -> ChatReceiver {
        let accepted = NIOLockedValueBox<[Message]>([])
        let refused = NIOLockedValueBox<[String]>([])
        let failing = NIOLockedValueBox(0)
        let server = try await TestHTTPServer.start(group: group) { request in
            if failing.withLockedValue({ count in defer { count = max(0, count - 1) }; return count > 0 }) {
                return .text("unavailable\n", status: 503)
            }
            let path = String(request.path)
            guard request.method == "POST", request.header("content-type")?.hasPrefix("application/json") == true,
                let json = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any]
            else {
                refused.withLockedValue { $0.append("\(path): not a JSON object POSTed as application/json") }
                return .text("invalid_payload\n", status: 400)
            }
            let problems = Self.problems(in: json, at: path)
            guard problems.isEmpty else {
                refused.withLockedValue { $0.append("\(path): \(problems.joined(separator: "; "))") }
                return .text("invalid_payload: \(problems.joined(separator: "; "))\n", status: 400)
            }
            accepted.withLockedValue {
                $0.append(Message(path: path, json: json, authorization: request.header("authorization"), text: request.bodyText))
            }
            return .text("ok\n", status: 200)
        }
        return ChatReceiver(server: server, accepted: accepted, refused: refused, failing: failing)
    }

    /// `http://127.0.0.1:PORT/PATH`.
    public func url(_ path: String) -> String { "http://127.0.0.1:\(server.port)/\(path)" }

    public var messages: [Message] { accepted.withLockedValue { $0 } }

    /// What was refused and why: a test prints it when a message it expected is missing.
    public var refusals: [String] { refused.withLockedValue { $0 } }

    /// The next `count` posts are answered 503, whatever they carry.
    public func fail(next count: Int) { failing.withLockedValue { $0 = count } }

    public func close() async { await server.close() }

    // MARK: The documented shapes

    static func problems(in json: [String: Any], at path: String) -> [String] {
        switch path {
        case "/slack", "/discord/slack": slack(json, hexColors: false)
        case "/rocket": slack(json, hexColors: true)
        case "/msteams": messageCard(json)
        case "/gchat": googleChat(json)
        case "/webhook": generic(json)
        default: ["no service listens on \(path)"]
        }
    }

    /// Slack's incoming webhook with legacy attachments (api.slack.com/reference/messaging/attachments): a colour
    /// (good, warning, danger or #RRGGBB), text, and fields each with title, value and short.
    static func slack(_ json: [String: Any], hexColors: Bool) -> [String] {
        var problems: [String] = []
        for key in ["channel", "username"] where !(json[key] is String) { problems.append("\(key) is not a string") }
        guard let attachments = json["attachments"] as? [[String: Any]], !attachments.isEmpty else {
            return problems + ["attachments is not a non-empty list of objects"]
        }
        for attachment in attachments {
            let color = attachment["color"] as? String ?? ""
            let named = ["good", "warning", "danger"].contains(color)
            let hex = color.count == 7 && color.hasPrefix("#") && color.dropFirst().allSatisfy(\.isHexDigit)
            if hexColors ? !hex : !(named || hex) { problems.append("attachment color \"\(color)\" is not a colour") }
            if !(attachment["text"] is String) { problems.append("attachment text is not a string") }
            if let fields = attachment["fields"] {
                guard let fields = fields as? [[String: Any]] else { problems.append("attachment fields is not a list"); continue }
                for field in fields where !(field["title"] is String && field["value"] is String && field["short"] is Bool) {
                    problems.append("a field lacks title, value or short")
                }
            }
        }
        return problems
    }

    /// An Office 365 connector card (learn.microsoft.com, "Legacy actionable message card reference").
    static func messageCard(_ json: [String: Any]) -> [String] {
        var problems: [String] = []
        if json["@type"] as? String != "MessageCard" { problems.append("@type is not MessageCard") }
        if json["@context"] as? String != "http://schema.org/extensions" { problems.append("@context is not http://schema.org/extensions") }
        if !(json["summary"] is String || json["text"] is String) { problems.append("neither summary nor text is set") }
        for section in json["sections"] as? [[String: Any]] ?? [] {
            for fact in section["facts"] as? [[String: Any]] ?? [] where !(fact["name"] is String && fact["value"] is String) {
                problems.append("a fact lacks name or value")
            }
        }
        return problems
    }

    /// A Google Chat message (developers.google.com/workspace/chat/api/reference/rest/v1/spaces.messages): text,
    /// and cards v2 each with a cardId and a card of sections of widgets.
    static func googleChat(_ json: [String: Any]) -> [String] {
        var problems: [String] = []
        if !(json["text"] is String) && json["cardsV2"] == nil { problems.append("neither text nor cardsV2 is set") }
        for card in json["cardsV2"] as? [[String: Any]] ?? [] {
            if !(card["cardId"] is String) { problems.append("a cardsV2 entry has no cardId") }
            let sections = (card["card"] as? [String: Any])?["sections"] as? [[String: Any]]
            if sections == nil || sections?.contains(where: { !($0["widgets"] is [[String: Any]]) }) == true {
                problems.append("a card's sections are not lists of widgets")
            }
        }
        return problems
    }

    /// Serin's own webhook: the event's fields, the time in RFC 3339.
    static func generic(_ json: [String: Any]) -> [String] {
        var problems: [String] = []
        for key in ["alert", "name", "namespace", "severity", "phase", "message", "canary", "stable", "timestamp"] where !(json[key] is String) {
            problems.append("\(key) is not a string")
        }
        for key in ["canaryWeight", "stableWeight", "failedChecks", "threshold"] where !(json[key] is Int) {
            problems.append("\(key) is not a number")
        }
        if let timestamp = json["timestamp"] as? String, !(timestamp.hasSuffix("Z") && timestamp.contains("T")) {
            problems.append("timestamp \(timestamp) is not RFC 3339 in UTC")
        }
        return problems
    }
}

import Foundation
import SerinCore

/// The JSON each provider type documents, built from an alert: pure, so every shape is tested without a socket.
/// Slack, Rocket.Chat and Discord (through its Slack-compatible endpoint) take Slack's attachments with a colour and
/// fields; Microsoft Teams an Office 365 connector MessageCard; Google Chat a `text` with a card; Serin's `webhook`
/// a flat document of the event. Field names follow Flagger's notifiers, so a receiver built for Flagger reads them.
public enum AlertPayload {
    /// The request body for `alert` posted to `provider`.
    public static func body(for alert: AlertCall, to provider: AlertProvider) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        switch provider.type {
        case .slack, .discord, .rocket:
            return try encoder.encode(slack(alert, provider: provider))
        case .msteams:
            return try encoder.encode(teams(alert))
        case .gchat:
            return try encoder.encode(googleChat(alert))
        case .webhook:
            return try encoder.encode(Generic(alert))
        }
    }

    /// Where the body goes: Discord's Slack-compatible endpoint is its webhook URL followed by `/slack`.
    public static func url(for endpoint: AlertEndpoint) -> String {
        guard endpoint.provider.type == .discord else { return endpoint.address }
        let parts = endpoint.address.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts[0].hasSuffix("/") ? String(parts[0].dropLast()) : String(parts[0])
        guard !path.hasSuffix("/slack") else { return endpoint.address }
        return path + "/slack" + (parts.count > 1 ? "?" + parts[1] : "")
    }

    /// `web.default`: the Canary as Flagger's messages name it.
    static func subject(_ alert: AlertCall) -> String { "\(alert.canary.name).\(alert.canary.namespace)" }

    // MARK: Slack, Rocket.Chat, Discord

    struct SlackMessage: Encodable {
        var channel: String
        var username: String
        var iconEmoji = ":bird:"
        var attachments: [Attachment]

        enum CodingKeys: String, CodingKey {
            case channel, username, iconEmoji = "icon_emoji", attachments
        }

        struct Attachment: Encodable {
            var color: String
            var authorName: String
            var text: String
            var mrkdwnIn = ["text"]
            var fields: [Field]

            enum CodingKeys: String, CodingKey {
                case color, authorName = "author_name", text, mrkdwnIn = "mrkdwn_in", fields
            }
        }

        struct Field: Encodable {
            var title: String
            var value: String
            var short: Bool
        }
    }

    static func slack(_ alert: AlertCall, provider: AlertProvider) -> SlackMessage {
        // Slack names its colours; Rocket.Chat wants hex (Flagger's blue and red, and an amber for warnings).
        let color = switch (provider.type, alert.severity) {
        case (.rocket, .info): "#0076D7"
        case (.rocket, .warn): "#FFA500"
        case (.rocket, .error): "#FF0000"
        case (_, .info): "good"
        case (_, .warn): "warning"
        case (_, .error): "danger"
        }
        let fields = alert.facts.map { SlackMessage.Field(title: $0.name, value: $0.value, short: true) }
        return SlackMessage(
            channel: provider.channel, username: provider.username,
            attachments: [.init(color: color, authorName: subject(alert), text: alert.message, fields: fields)])
    }

    // MARK: Microsoft Teams

    struct MessageCard: Encodable {
        var type = "MessageCard"
        var context = "http://schema.org/extensions"
        var themeColor: String
        var summary: String
        var sections: [Section]

        struct Section: Encodable {
            var activityTitle: String
            var activitySubtitle: String
            var facts: [Fact]
        }

        struct Fact: Encodable {
            var name: String
            var value: String
        }

        enum CodingKeys: String, CodingKey {
            case type = "@type", context = "@context", themeColor, summary, sections
        }
    }

    static func teams(_ alert: AlertCall) -> MessageCard {
        let color = switch alert.severity {
        case .info: "0076D7"
        case .warn: "FFA500"
        case .error: "FF0000"
        }
        return MessageCard(
            themeColor: color, summary: alert.message,
            sections: [.init(
                activityTitle: alert.message, activitySubtitle: subject(alert),
                facts: alert.facts.map { MessageCard.Fact(name: $0.name, value: $0.value) })])
    }

    // MARK: Google Chat

    struct ChatMessage: Encodable {
        var text: String
        var cardsV2: [CardWithID]

        struct CardWithID: Encodable {
            var cardId: String
            var card: Card
        }

        struct Card: Encodable {
            var header: Header
            var sections: [Section]
        }

        struct Header: Encodable {
            var title: String
            var subtitle: String
        }

        struct Section: Encodable {
            var widgets: [Widget]
        }

        struct Widget: Encodable {
            var decoratedText: DecoratedText
        }

        struct DecoratedText: Encodable {
            var topLabel: String
            var text: String
        }
    }

    static func googleChat(_ alert: AlertCall) -> ChatMessage {
        let widgets = alert.facts.map { ChatMessage.Widget(decoratedText: .init(topLabel: $0.name, text: $0.value)) }
        let card = ChatMessage.Card(header: .init(title: "Serin", subtitle: subject(alert)), sections: [.init(widgets: widgets)])
        return ChatMessage(text: alert.message, cardsV2: [.init(cardId: "serin-\(alert.canary.name)", card: card)])
    }

    // MARK: Serin's webhook

    /// Everything an alert knows, flat, with the time in RFC 3339.
    struct Generic: Encodable {
        var alert: String
        var name: String
        var namespace: String
        var severity: AlertSeverity
        var phase: RolloutPhase
        var message: String
        var canary: String
        var stable: String
        var canaryWeight: Int
        var stableWeight: Int
        var failedChecks: Int
        var threshold: Int
        var timestamp: String

        init(_ call: AlertCall) {
            alert = call.alert.name
            name = call.canary.name
            namespace = call.canary.namespace
            severity = call.severity
            phase = call.phase
            message = call.message
            canary = call.canaryDestination.description
            stable = call.stableDestination.description
            canaryWeight = call.canaryWeight
            stableWeight = call.stableWeight
            failedChecks = call.failedChecks
            threshold = call.threshold
            timestamp = RFC3339.format(call.instant)
        }
    }
}

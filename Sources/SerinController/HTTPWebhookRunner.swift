import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinCore
import SerinHTTP

/// Calls webhooks as HTTP POSTs with the JSON payload, each bounded by its timeout; 2xx means yes.
public struct HTTPWebhookRunner: WebhookRunner {
    private let group: any EventLoopGroup

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.group = group
    }

    public func call(_ call: WebhookCall) async -> WebhookResult {
        let hook = call.webhook
        guard let target = WebhookURL(hook.url) else {
            return .failed(reason: "\(hook.name): url \(hook.url) is not http://host[:port][/path]")
        }
        let body: Data
        do {
            body = try JSONEncoder().encode(call.payload)
        } catch {
            return .failed(reason: "\(hook.name): cannot encode payload: \(error)")
        }
        let group = self.group
        do {
            let response = try await withThrowingTaskGroup(of: SimpleResponse?.self) { tasks in
                tasks.addTask {
                    let client = try await SimpleHTTPClient.connect(
                        host: target.host, port: target.port, group: group, timeout: .seconds(Int64(max(1, hook.timeout.components.seconds)))
                    )
                    defer { Task { await client.close() } }
                    return try await client.send(
                        .POST, target.path, headers: [("content-type", "application/json"), ("host", target.authority)],
                        body: Array(body)
                    )
                }
                tasks.addTask {
                    try await Task.sleep(for: hook.timeout)
                    return nil
                }
                let first = try await tasks.next() ?? nil
                tasks.cancelAll()
                return first
            }
            guard let response else {
                return .failed(reason: "\(hook.name): no answer within \(Readable.duration(hook.timeout))")
            }
            if (200..<300).contains(response.status) { return .passed }
            let text = response.bodyText.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)
            return .failed(reason: "\(hook.name) answered \(response.status)" + (text.isEmpty ? "" : ": \(text)"))
        } catch {
            return .failed(reason: "\(hook.name): \(error)")
        }
    }
}

/// `http://host[:port][/path]`, the webhook URLs Serin can call.
struct WebhookURL {
    var host: String
    var port: Int
    var path: String

    init?(_ url: String) {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        if let colon = authority.lastIndex(of: ":") {
            guard let port = Int(authority[authority.index(after: colon)...]) else { return nil }
            host = String(authority[..<colon])
            self.port = port
        } else {
            host = String(authority)
            port = 80
        }
        if host.isEmpty { return nil }
    }

    var authority: String { port == 80 ? host : "\(host):\(port)" }
}

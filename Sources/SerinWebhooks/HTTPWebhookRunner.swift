import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SerinCore
import SerinSystem

/// Calls webhooks as HTTP(S) POSTs with the JSON payload, each bounded by its timeout; 2xx means yes. On
/// AsyncHTTPClient: `https://` hooks, connections kept and reused between calls, redirects not followed (a
/// gate that moved should say so, not be guessed).
public struct HTTPWebhookRunner: WebhookRunner {
    private let client: HTTPClient

    /// - Parameter client: the client to call through; `WebhookClient.shared` unless a test brings its own.
    public init(client: HTTPClient = WebhookClient.shared) {
        self.client = client
    }

    public func call(_ call: WebhookCall) async -> WebhookResult {
        let hook = call.webhook
        guard let url = URL(string: hook.url), ["http", "https"].contains(url.scheme), url.host?.isEmpty == false else {
            return .failed(reason: "\(hook.name): url \(hook.url) is not http(s)://host[:port][/path]")
        }
        let body: Data
        do {
            body = try JSONEncoder().encode(call.payload)
        } catch {
            return .failed(reason: "\(hook.name): cannot encode payload: \(error)")
        }
        var request = HTTPClientRequest(url: hook.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: TimeAmount(hook.timeout))
            let answer = try await response.body.collect(upTo: 64 * 1024)
            if (200..<300).contains(response.status.code) { return .passed }
            let text = String(buffer: answer).trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)
            return .failed(reason: "\(hook.name) answered \(response.status.code)" + (text.isEmpty ? "" : ": \(text)"))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return .failed(reason: "\(hook.name): no answer within \(Readable.duration(hook.timeout))")
        } catch {
            return .failed(reason: "\(hook.name): \(TransportErrorText.describe(error))")
        }
    }
}

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SerinCore
import SerinSystem

/// Posts alerts over HTTP(S) in the shape their provider documents (`AlertPayload`), 2xx meaning delivered. The
/// provider's address is looked up for each alert (`AlertEndpoints`), so a rotated Secret is used from the next
/// one, and is never part of a reason: a failure reads `slack provider 'default/on-call' answered 503`.
public struct HTTPAlertSender: AlertSender {
    private let endpoints: any AlertEndpoints
    private let client: HTTPClient
    private let timeout: Duration

    /// - Parameters:
    ///   - client: the client to post through unless the provider names a `proxy`; `WebhookClient.shared` unless a
    ///     test brings its own.
    ///   - timeout: how long one post may take.
    public init(endpoints: any AlertEndpoints, client: HTTPClient = WebhookClient.shared, timeout: Duration = .seconds(10)) {
        self.endpoints = endpoints
        self.client = client
        self.timeout = timeout
    }

    public func send(_ alert: AlertCall) async -> WebhookResult {
        let endpoint: AlertEndpoint
        switch await endpoints.endpoint(for: alert.alert.provider) {
        case .success(let found): endpoint = found
        case .failure(let unavailable): return .failed(reason: unavailable.reason)
        }
        let label = endpoint.provider.label
        let url = AlertPayload.url(for: endpoint)
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme), parsed.host?.isEmpty == false else {
            return .failed(reason: "\(label): its address is not an http(s) URL")
        }
        let body: Data
        do {
            body = try AlertPayload.body(for: alert, to: endpoint.provider)
        } catch {
            return .failed(reason: "\(label): cannot encode the payload: \(error)")
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        if let token = endpoint.token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let status = try await post(request, proxy: endpoint.provider.proxy)
            return (200..<300).contains(status) ? .passed : .failed(reason: "\(label) answered \(status)")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return .failed(reason: "\(label): no answer within \(Readable.duration(timeout))")
        } catch {
            return .failed(reason: "\(label): \(Self.redacted(TransportErrorText.describe(error), endpoint: endpoint, url: parsed))")
        }
    }

    /// The answer's status; through a client of its own when the provider names a proxy.
    private func post(_ request: HTTPClientRequest, proxy: String?) async throws -> UInt {
        let deadline = TimeAmount(timeout)
        guard let proxy else {
            let response = try await client.execute(request, timeout: deadline)
            _ = try await response.body.collect(upTo: 64 * 1024)
            return response.status.code
        }
        guard let proxyURL = URL(string: proxy), let host = proxyURL.host, !host.isEmpty else {
            throw ProxyAddressError()
        }
        var configuration = WebhookClient.configuration()
        configuration.proxy = .server(host: host, port: proxyURL.port ?? (proxyURL.scheme == "https" ? 443 : 80))
        let proxied = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let response = try await proxied.execute(request, timeout: deadline)
            _ = try await response.body.collect(upTo: 64 * 1024)
            try await proxied.shutdown()
            return response.status.code
        } catch {
            try? await proxied.shutdown()
            throw error
        }
    }

    /// An error's text with the address, its host and any token cut out: errors of the HTTP stack may name them.
    static func redacted(_ text: String, endpoint: AlertEndpoint, url: URL) -> String {
        var text = text
        let secrets = [endpoint.address, AlertPayload.url(for: endpoint), endpoint.token, url.host].compactMap { $0 }.filter { !$0.isEmpty }
        for secret in secrets.sorted(by: { $0.count > $1.count }) {
            text = text.replacingOccurrences(of: secret, with: "<address>")
        }
        return text
    }

    private struct ProxyAddressError: Error, CustomStringConvertible {
        var description: String { "its proxy is not an http(s)://host[:port] URL" }
    }
}

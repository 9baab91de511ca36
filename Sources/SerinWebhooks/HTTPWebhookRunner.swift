import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import SerinCore
import SerinSystem

/// Calls webhooks as HTTP(S) POSTs with the JSON payload, each bounded by its timeout; 200, 201 or 202 means yes,
/// as in Flagger (any other answer, 204 too, is a no). On
/// AsyncHTTPClient: `https://` hooks, connections kept and reused between calls, redirects not followed (a
/// gate that moved should say so, not be guessed). A hook with `retries` is called again, with Flagger's backoff,
/// while it fails in a way that may pass later; one with `disableTLS` through a client that verifies no certificate.
public struct HTTPWebhookRunner: WebhookRunner {
    private let client: HTTPClient
    private let unverifiedClient: @Sendable () -> HTTPClient
    private let firstRetryDelay: Duration

    /// Flagger's wait before a hook's first retry (its HTTP client's): doubled after each, at most `maxRetryDelay`.
    public static let defaultFirstRetryDelay = Duration.seconds(1)
    /// The longest wait between two calls of a hook, unless it asked for longer (`Retry-After`).
    public static let maxRetryDelay = Duration.seconds(30)

    /// - Parameters:
    ///   - client: the client to call through; `WebhookClient.shared` unless a test brings its own.
    ///   - unverifiedClient: the client for hooks with `disableTLS`, made when one is first called.
    ///   - firstRetryDelay: the wait before a hook's first retry; tests shorten it.
    public init(
        client: HTTPClient = WebhookClient.shared, unverifiedClient: @escaping @Sendable () -> HTTPClient = { WebhookClient.unverified },
        firstRetryDelay: Duration = HTTPWebhookRunner.defaultFirstRetryDelay
    ) {
        self.client = client
        self.unverifiedClient = unverifiedClient
        self.firstRetryDelay = firstRetryDelay
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
        let client = hook.disableTLS ? unverifiedClient() : self.client
        var attempt = 0
        while true {
            let (result, retryAfter) = await Self.attempt(hook, body: body, on: client)
            guard case .failed(let reason) = result, let retryAfter, attempt < hook.retries else {
                if attempt > 0, case .failed(let reason) = result { return .failed(reason: "\(reason) (\(attempt + 1) calls)") }
                return result
            }
            // Flagger's backoff (go-retryablehttp's): 1s, 2s, 4s... at most 30s, or what a 429 or 503 asked for.
            let doubled = firstRetryDelay * (1 << min(attempt, 30))
            do {
                try await Task.sleep(for: retryAfter ?? min(doubled, Self.maxRetryDelay))
            } catch {
                return .failed(reason: "\(reason) (\(attempt + 1) calls; stopped before the next)")
            }
            attempt += 1
        }
    }

    /// How long a `Retry-After` asks to wait (RFC 9110 §10.2.3): seconds, or an HTTP date in any of the three forms a
    /// recipient reads (§5.6.7), a date already past asking for none; nil when the value is neither.
    public static func retryAfter(_ value: String, now: Date) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(text) { return seconds >= 0 ? .seconds(seconds) : nil }
        guard let date = httpDateFormats.lazy.compactMap({ Self.date(text, format: $0) }).first else { return nil }
        return .milliseconds(max(0, Int((date.timeIntervalSince(now) * 1000).rounded(.up))))
    }

    /// IMF-fixdate, the obsolete RFC 850 form, and asctime's.
    private static let httpDateFormats = ["EEE, dd MMM yyyy HH:mm:ss 'GMT'", "EEEE, dd-MMM-yy HH:mm:ss 'GMT'", "EEE MMM d HH:mm:ss yyyy"]

    private static func date(_ text: String, format: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = format
        return formatter.date(from: text)
    }

    /// The answers that pass a hook: Flagger's client takes any status above 202 as a failure.
    public static let passingCodes: ClosedRange<UInt> = 200...202

    /// One call of `hook`, and whether it may pass if made again: `.some(nil)` at the backoff's pace, `.some(wait)`
    /// after the wait its answer asked for, nil never. As Flagger's client retries: no answer or a broken connection,
    /// 429, and 5xx but 501 (not implemented); never a 4xx, nor a certificate or handshake refused.
    private static func attempt(_ hook: WebhookSpec, body: Data, on client: HTTPClient) async -> (WebhookResult, Duration??) {
        var request = HTTPClientRequest(url: hook.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: TimeAmount(hook.timeout))
            let answer = try await response.body.collect(upTo: 64 * 1024)
            let code = response.status.code
            if Self.passingCodes.contains(code) { return (.passed, nil) }
            let text = String(buffer: answer).trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)
            let why = (200..<300).contains(code) ? " (a hook passes with 200, 201 or 202, as in Flagger)" : ""
            let failed = WebhookResult.failed(reason: "\(hook.name) answered \(code)" + (text.isEmpty ? "" : ": \(text)") + why)
            guard code == 429 || (code >= 500 && code != 501) else { return (failed, nil) }
            let asked = (code == 429 || code == 503) ? response.headers.first(name: "retry-after").flatMap { Self.retryAfter($0, now: Date()) } : nil
            return (failed, .some(asked))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return (.failed(reason: "\(hook.name): no answer within \(Readable.duration(hook.timeout))"), .some(nil))
        } catch {
            let text = TransportErrorText.describe(error)
            guard error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError else {
                return (.failed(reason: "\(hook.name): \(text)"), .some(nil))
            }
            // BoringSSL's text names the file and line it failed at: the reason a person needs is shorter.
            guard text.contains("CERTIFICATE_VERIFY_FAILED") else { return (.failed(reason: "\(hook.name): \(text)"), nil) }
            let reason = "\(hook.name): its certificate is not trusted (CERTIFICATE_VERIFY_FAILED); Flagger's disableTLS: true calls it without verifying it"
            return (.failed(reason: reason), nil)
        }
    }
}

import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinCore

/// Talks to a running Serin's admin endpoint (`--server`), for `apply`, `status` and the commands.
struct AdminClient {
    /// The admin endpoint's base URL, `http[s]://host:port[/prefix]` without a trailing slash.
    let server: String
    let token: AdminTokenOption
    /// The address came from `SERIN_SERVER`, not `--server`: an error about it says so, since nothing on the command
    /// line named it.
    var fromEnvironment = false
    /// How long a call waits for its answer once connected (`--timeout`).
    var timeout = AdminClient.defaultTimeout

    /// How long a command waits for the admin API's answer unless `--timeout` says otherwise.
    static let defaultTimeout = Duration.seconds(10)

    /// Nothing answered at the address: no process listens there, or none could be reached.
    struct NoSerinAnswering: Error, CustomStringConvertible {
        let server: String
        var fromEnvironment = false
        var description: String {
            let variable = ServerOption.environmentVariable
            return fromEnvironment
                ? "no Serin answering at \(server) (from \(variable)): is `serin up` (or `serin gateway`) running? pass --server URL or change \(variable)"
                : "no Serin answering at \(server): is `serin up` (or `serin gateway`) running? pass --server URL or set \(variable)"
        }
    }

    /// Something listens but the exchange failed (it hung up, timed out, or TLS failed): said with the cause.
    struct ExchangeFailed: Error, CustomStringConvertible {
        let server: String
        let cause: String
        /// The status Serin answered with, when it answered but not as asked (a stream refused); nil when the
        /// exchange itself failed.
        var answered: Int?
        var description: String { "Serin at \(server) did not answer: \(cause)" }
    }

    /// Something accepted the connection and then said nothing until the deadline: a hung process, or something
    /// that is not Serin's admin API (which answers at once).
    struct NoAnswerInTime: Error, CustomStringConvertible {
        let server: String
        let timeout: Duration
        var description: String {
            let seconds = timeout.inSeconds
            let said = seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%g s", seconds)
            return "the admin API at \(AdminClient.address(of: server)) accepted the connection but did not answer within \(said)"
        }
    }

    /// `host:port` of a base URL, the port said even when the scheme implies it.
    static func address(of server: String) -> String {
        guard let url = URL(string: server), let host = url.host else { return server }
        return "\(host):\(url.port ?? (url.scheme == "https" ? 443 : 80))"
    }

    /// An answer, read whole: the admin API's are small.
    struct Response {
        var status: Int
        var body: Data
        var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    /// A request to `path` on the server, with the admin token when one is configured.
    func request(_ path: String) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: server + path)
        if let token = try token.resolve() { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        return request
    }

    /// The client a call waiting `timeout` uses: nothing listening is said at once, instead of connecting again until
    /// the deadline.
    static func configuration(timeout: Duration) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = TimeAmount(connectTimeout(within: timeout))
        return configuration
    }

    /// How long a connect may take within a call's `timeout`: 5 s, or four fifths of a shorter one, so a connect that
    /// hangs (a dropped SYN) is said as nothing answering, not as a connection accepted and left unanswered.
    static func connectTimeout(within timeout: Duration) -> Duration {
        min(.seconds(5), timeout / 5 * 4)
    }

    func send(_ method: HTTPMethod, _ path: String, json body: Data? = nil) async throws -> Response {
        var request = try request(path)
        request.method = method
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            return try await HTTPClient.withHTTPClient(configuration: Self.configuration(timeout: timeout)) { client in
                let response = try await client.execute(request, timeout: TimeAmount(timeout))
                let answer = try await response.body.collect(upTo: 64 * 1024 * 1024)
                return Response(status: Int(response.status.code), body: Data(answer.readableBytesView))
            }
        } catch {
            throw Self.explain(error, server: server, fromEnvironment: fromEnvironment, timeout: timeout)
        }
    }

    /// Connection failures (refused, unresolvable, no answer to connect) mean nothing is there; anything else
    /// happened after something answered and is said with its cause.
    static func explain(_ error: any Error, server: String, fromEnvironment: Bool = false, timeout: Duration) -> any Error {
        switch ExchangeFailure(error) {
        case .unreachable, .connectTimeout:
            return NoSerinAnswering(server: server, fromEnvironment: fromEnvironment)
        case .noAnswerInTime:
            return NoAnswerInTime(server: server, timeout: timeout)
        case .other(let cause):
            return ExchangeFailed(server: server, cause: cause)
        }
    }

    /// Sends and decodes a JSON answer; an `{"error": ...}` answer or an unreachable server becomes a
    /// printed error and exit status 1.
    func decode<T: Decodable>(_ type: T.Type, _ method: HTTPMethod, _ path: String) async throws -> T {
        let response: Response
        do {
            response = try await send(method, path)
        } catch {
            Terminal.err("error: \(error)")
            throw ExitCode(1)
        }
        if let value = try? JSONDecoder().decode(T.self, from: response.body), (200..<300).contains(response.status) {
            return value
        }
        Terminal.err(failure(response, path: path))
        throw ExitCode(1)
    }

    /// The line to print for an answer that is not what the command wanted: the API's own error when it
    /// sent one (with the way to pass a token after a 401), else the status and body.
    func failure(_ response: Response, path: String) -> String {
        if let apiError = try? JSONDecoder().decode(ErrorBody.self, from: response.body) {
            // The admin listener's answer for a path it does not serve at all: a server without rollouts.
            let route = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
            if response.status == 404, route.hasPrefix("/canaries"), apiError.error == "not found: \(route)" {
                return "error: \(server) runs no rollouts (it is `serin gateway`, which only serves routes); "
                    + "point --server at `serin up` or `serin controller`"
            }
            let hint = response.status != 401 ? ""
                : token.emptyVariable.map { " (\($0): set it to the token, or pass --admin-token-file PATH)" }
                ?? " (pass --admin-token-file PATH or set SERIN_ADMIN_TOKEN)"
            return "error: \(apiError.error)\(hint)"
        }
        return "error: \(server)\(path) answered \(response.status): \(response.bodyText)"
    }

    struct ErrorBody: Decodable { var error: String }
}

/// `--server URL` (else `SERIN_SERVER`), shared by every command that talks to a running Serin.
struct ServerOption: ParsableArguments {
    static let defaultURL = "http://127.0.0.1:9900"
    static let environmentVariable = "SERIN_SERVER"

    @Option(help: ArgumentHelp(
        "Serin's admin endpoint (its API; the dashboard is at the same address). Default: $\(ServerOption.environmentVariable), "
            + "else \(ServerOption.defaultURL).",
        valueName: "url"
    ))
    var server: String?

    @OptionGroup var adminToken: AdminTokenOption

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "How long to wait for the admin API's answer, in seconds or as 10s, 500ms, 1m (default \(Readable.duration(AdminClient.defaultTimeout))). "
            + "For promote, abort, pause, resume and rollout in cluster mode (--kubeconfig, --context), how long the command written "
            + "on the Canary waits for the controller's answer (default \(Readable.duration(ServerOption.clusterCommandTimeout))).",
        valueName: "duration"))
    var timeout: SecondsArgument?

    /// How long a command written on a cluster's Canary waits for the controller's answer unless `--timeout` says.
    static let clusterCommandTimeout = Duration.seconds(30)

    func validate() throws {
        if let timeout, timeout.duration <= .zero {
            throw ValidationError("--timeout must be more than 0, got \(Readable.duration(timeout.duration))")
        }
        if let server, Self.baseURL(server) == nil {
            throw ValidationError("--server takes http://HOST:PORT, got \"\(server)\"")
        }
        if server == nil, let fromEnvironment = Self.environment, Self.baseURL(fromEnvironment) == nil {
            throw ValidationError("\(Self.environmentVariable) takes http://HOST:PORT, got \"\(fromEnvironment)\"")
        }
    }

    private static var environment: String? {
        ProcessInfo.processInfo.environment[environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `http[s]://host[:port][/prefix]` without its trailing slashes; `host:port` alone is read as http. Nil when
    /// it is not such a URL.
    static func baseURL(_ text: String) -> String? {
        var url = text.contains("://") ? text : "http://" + text
        while url.hasSuffix("/") { url.removeLast() }
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme), parsed.host?.isEmpty == false,
            parsed.query == nil, parsed.fragment == nil, parsed.user == nil, (parsed.port ?? 80) <= 65535
        else { return nil }
        return url
    }

    var client: AdminClient {
        // validate() has checked what is given: the fallback never applies to a value given.
        let given = server ?? Self.environment ?? Self.defaultURL
        return AdminClient(server: Self.baseURL(given) ?? given, token: adminToken, fromEnvironment: server == nil && Self.environment != nil,
                           timeout: timeout?.duration ?? AdminClient.defaultTimeout)
    }
}

import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinHTTP

/// Talks to a running Serin's admin endpoint (`--server`), for `apply`, `status` and the commands.
struct AdminClient {
    let server: String
    let token: AdminTokenOption

    struct Unreachable: Error, CustomStringConvertible {
        let server: String
        let underlying: any Error
        var description: String {
            "cannot reach Serin's admin endpoint at \(server): \(underlying) (is `serin up` or `serin gateway` running? choose it with --server URL)"
        }
    }

    func send(_ method: HTTPMethod, _ path: String, json body: Data? = nil) async throws -> SimpleResponse {
        guard let target = HostPort.parse(url: server) else {
            throw ValidationError("--server takes http://HOST:PORT, got \"\(server)\"")
        }
        var headers: [(name: String, value: String)] = body == nil ? [] : [("content-type", "application/json")]
        if let token = try token.resolve() { headers.append(("authorization", "Bearer \(token)")) }
        do {
            let client = try await SimpleHTTPClient.connect(host: target.host, port: target.port, group: MultiThreadedEventLoopGroup.singleton)
            defer { Task { await client.close() } }
            return try await client.send(method, path, headers: headers, body: body.map(Array.init), timeout: .seconds(30))
        } catch {
            throw Unreachable(server: server, underlying: error)
        }
    }

    /// Sends and decodes a JSON answer; an `{"error": ...}` answer or an unreachable server becomes a
    /// printed error and exit status 1.
    func decode<T: Decodable>(_ type: T.Type, _ method: HTTPMethod, _ path: String) async throws -> T {
        let response: SimpleResponse
        do {
            response = try await send(method, path)
        } catch {
            Terminal.err("error: \(error)")
            throw ExitCode(1)
        }
        if let value = try? JSONDecoder().decode(T.self, from: Data(response.body)), (200..<300).contains(response.status) {
            return value
        }
        Terminal.err(failure(response, path: path))
        throw ExitCode(1)
    }

    /// The line to print for an answer that is not what the command wanted: the API's own error when it
    /// sent one (with the way to pass a token after a 401), else the status and body.
    func failure(_ response: SimpleResponse, path: String) -> String {
        if let apiError = try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body)) {
            let hint = response.status == 401 ? " (pass --admin-token-file PATH or set SERIN_ADMIN_TOKEN)" : ""
            return "error: \(apiError.error)\(hint)"
        }
        return "error: \(server)\(path) answered \(response.status): \(response.bodyText)"
    }

    struct ErrorBody: Decodable { var error: String }
}

/// `--server URL`, shared by every command that talks to a running Serin.
struct ServerOption: ParsableArguments {
    static let defaultURL = "http://127.0.0.1:9900"

    @Option(help: ArgumentHelp(
        "Serin's admin endpoint (its API; the dashboard is at the same address). Default: \(ServerOption.defaultURL).", valueName: "url"
    ))
    var server: String?

    @OptionGroup var adminToken: AdminTokenOption

    func validate() throws {
        if let server, HostPort.parse(url: server) == nil {
            throw ValidationError("--server takes http://HOST:PORT, got \"\(server)\"")
        }
    }

    var client: AdminClient { AdminClient(server: server ?? Self.defaultURL, token: adminToken) }
}

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import SerinManifests
import SerinSystem

/// `KubernetesAPI` over HTTPS with AsyncHTTPClient: the connection a kubeconfig context or a pod's service
/// account describes, its CA and client certificate in TLS, its token on every request (a token file read
/// again each time, an exec plugin's token until it expires or a 401 says it is stale).
public final class HTTPKubernetesAPI: KubernetesAPI {
    public let connection: KubeConfig.Connection
    private let client: HTTPClient
    private let plugin: ExecCredentialPlugin?
    private let timeout: TimeAmount
    private let watchTimeout: ClosedRange<Int>
    private let watchGrace: Duration
    /// How long a call waits for a connection (a refused one is tried again meanwhile, when retrying) before it fails.
    public let connectTimeout: Duration

    /// - Parameters:
    ///   - timeout: how long a call (not a watch) may take.
    ///   - watchTimeout: the `timeoutSeconds` each watch asks for, drawn from this range (as client-go draws 5 to 10
    ///     minutes), so the API server ends it and the watcher resumes on a fresh connection, and the watchers of
    ///     many replicas do not all come back at once.
    ///   - watchGrace: a watch still open this long after its `timeoutSeconds` is on a connection that died without
    ///     closing (a restarted API server, a load balancer that forgot it): it is ended here, and resumed.
    ///   - connectTimeout: how long a call waits for a connection before it fails.
    ///   - retryingConnections: whether a refused or failed connection is tried again, with backoff, for up to
    ///     `connectTimeout` before a request fails: the controller's choice (an API server restarting); a command a
    ///     person runs says at once that nothing listens.
    public init(
        connection: KubeConfig.Connection, timeout: TimeAmount = .seconds(30), watchTimeout: ClosedRange<Int> = 300...600,
        watchGrace: Duration = .seconds(30), connectTimeout: Duration = .seconds(10), retryingConnections: Bool = true
    ) throws {
        self.connection = connection
        self.timeout = timeout
        self.watchTimeout = watchTimeout
        self.watchGrace = watchGrace
        self.connectTimeout = connectTimeout
        var tls = TLSConfiguration.makeClientConfiguration()
        if connection.insecureSkipTLSVerify { tls.certificateVerification = .none }
        if let authority = connection.certificateAuthority {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(Self.read(authority, what: "certificate authority"))))
        }
        if case .clientCertificate(let certificate, let key)? = connection.credential {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(Self.read(certificate, what: "client certificate"))).map {
                .certificate($0)
            }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(Self.read(key, what: "client key")), format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: TimeAmount(connectTimeout), read: nil)
        configuration.connectionPool.retryConnectionEstablishment = retryingConnections
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        if case .exec(let exec)? = connection.credential { plugin = ExecCredentialPlugin(exec) } else { plugin = nil }
    }

    /// Closes the client's connections.
    public func shutdown() async {
        try? await client.shutdown()
    }

    private static func read(_ source: KubeConfig.Credential.Source, what: String) throws -> Data {
        switch source {
        case .data(let data):
            return data
        case .file(let path):
            do {
                return try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw KubeConfigError(path: path, line: nil, message: "cannot read the \(what): \(FileErrorText.reason(error))")
            }
        }
    }

    // MARK: KubernetesAPI

    public func get(_ path: ResourcePath) async throws -> JSONValue {
        try await call(.GET, path.description)
    }

    public func list(_ path: ResourcePath) async throws -> (items: [JSONValue], resourceVersion: String) {
        let list = try await call(.GET, path.description)
        return (list["items"]?.arrayValue ?? [], list["metadata"]?["resourceVersion"]?.stringValue ?? "")
    }

    public func create(_ path: ResourcePath, _ object: JSONValue) async throws -> JSONValue {
        try await call(.POST, path.description, body: try JSONEncoder().encode(object))
    }

    public func replace(_ path: ResourcePath, _ object: JSONValue) async throws -> JSONValue {
        try await call(.PUT, path.description, body: try JSONEncoder().encode(object))
    }

    public func patch(_ path: ResourcePath, _ operations: [JSONPatchOperation]) async throws -> JSONValue {
        try await call(.PATCH, path.description, body: try JSONEncoder().encode(operations), contentType: "application/json-patch+json")
    }

    public func watch(_ path: ResourcePath, from resourceVersion: String?) -> AsyncThrowingStream<WatchEvent, any Error> {
        let seconds = Int.random(in: watchTimeout)
        var query = "?watch=1&allowWatchBookmarks=true&timeoutSeconds=\(seconds)"
        if let resourceVersion, !resourceVersion.isEmpty { query += "&resourceVersion=\(resourceVersion)" }
        let target = path.description + query
        let grace = watchGrace
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let response = try await self.send(.GET, target, body: nil, contentType: nil, deadline: nil)
                    guard response.status == .ok else {
                        throw try await Self.failure(response)
                    }
                    var pending = Data()
                    for try await buffer in response.body {
                        pending.append(contentsOf: buffer.readableBytesView)
                        while let newline = pending.firstIndex(of: 0x0A) {
                            let line = pending[pending.startIndex..<newline]
                            pending.removeSubrange(pending.startIndex...newline)
                            guard !line.isEmpty else { continue }
                            continuation.yield(try WatchEvent(line: try JSONDecoder().decode(JSONValue.self, from: Data(line))))
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            // The API server ends the watch after `seconds`; one still open well after that will never end by itself.
            let overdue = Task {
                guard (try? await Task.sleep(for: .seconds(seconds) + grace)) != nil else { return }
                continuation.finish()
                task.cancel()
            }
            continuation.onTermination = { _ in
                task.cancel()
                overdue.cancel()
            }
        }
    }

    // MARK: HTTP

    private func call(_ method: HTTPMethod, _ target: String, body: Data? = nil, contentType: String? = nil) async throws -> JSONValue {
        let response = try await send(method, target, body: body, contentType: contentType, deadline: .now() + timeout)
        guard (200..<300).contains(response.status.code) else { throw try await Self.failure(response) }
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return try JSONDecoder().decode(JSONValue.self, from: Data(bytes.readableBytesView))
    }

    /// Sends with the credential; an exec plugin's token that draws a 401 is fetched again once.
    private func send(
        _ method: HTTPMethod, _ target: String, body: Data?, contentType: String?, deadline: NIODeadline?
    ) async throws -> HTTPClientResponse {
        var retried = false
        while true {
            var request = HTTPClientRequest(url: connection.server.absoluteString.trimmingSuffix("/") + target)
            request.method = method
            request.headers.add(name: "accept", value: "application/json")
            // The API server records Serin's writes in managedFields under the User-Agent's program: `serin`.
            request.headers.add(name: "user-agent", value: "serin")
            if let contentType { request.headers.add(name: "content-type", value: contentType) }
            if let token = try await bearerToken() { request.headers.add(name: "authorization", value: "Bearer \(token)") }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let response =
                if let deadline {
                    try await client.execute(request, deadline: deadline)
                } else {
                    try await client.execute(request, timeout: .hours(24 * 365))
                }
            if response.status == .unauthorized, let plugin, !retried {
                retried = true
                await plugin.invalidate()
                continue
            }
            return response
        }
    }

    private func bearerToken() async throws -> String? {
        switch connection.credential {
        case .bearerToken(let token)?:
            return token
        case .tokenFile(let path)?:
            do {
                return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw KubeConfigError(path: path, line: nil, message: "cannot read the token file: \(FileErrorText.reason(error))")
            }
        case .exec?:
            return try await plugin?.token()
        case .clientCertificate?, nil:
            return nil
        }
    }

    private static func failure(_ response: HTTPClientResponse) async throws -> KubernetesAPIError {
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let data = Data(bytes.readableBytesView)
        if let status = try? JSONDecoder().decode(JSONValue.self, from: data), status["kind"] == "Status" {
            return KubernetesAPIError(status: status, httpCode: Int(response.status.code))
        }
        return KubernetesAPIError(
            code: Int(response.status.code), reason: response.status.reasonPhrase, message: String(decoding: data.prefix(500), as: UTF8.self)
        )
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

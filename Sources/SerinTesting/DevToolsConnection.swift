import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// A Chrome DevTools Protocol client for one page, over a WebSocket on NIO: navigate, evaluate JavaScript,
/// take screenshots. JavaScript dialogs (`confirm()`) are accepted as they open, and their messages kept.
public final class DevToolsConnection: Sendable {
    private let channel: any Channel
    private let replies: PendingReplies
    private let nextID = Atomic<Int>(1)

    private init(channel: any Channel, replies: PendingReplies) {
        self.channel = channel
        self.replies = replies
    }

    /// What went wrong talking to the browser.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Connects to a DevTools WebSocket URL (`ws://127.0.0.1:PORT/devtools/page/ID`) and enables page events.
    public static func connect(to url: String, group: any EventLoopGroup) async throws -> DevToolsConnection {
        guard let components = URLComponents(string: url), components.scheme == "ws", let host = components.host,
            let port = components.port
        else { throw Failure(description: "not a DevTools WebSocket URL: \(url)") }
        let replies = PendingReplies()
        let upgraded: EventLoopFuture<Bool> = try await ClientBootstrap(group: group)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(maxFrameSize: 1 << 24) { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandlers([
                                NIOWebSocketFrameAggregator(
                                    minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 4096, maxAccumulatedFrameSize: 64 << 20
                                ),
                                DevToolsFrameHandler(replies: replies),
                            ])
                            return true
                        }
                    }
                    var headers = HTTPHeaders()
                    headers.add(name: "host", value: "\(host):\(port)")
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: components.path, headers: headers)
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(false) }
                    )
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration)
                    )
                }
            }
        guard try await upgraded.get() else { throw Failure(description: "\(url) refused the WebSocket upgrade") }
        // The channel is the one the upgrade ran on; find it through the handler's context.
        guard let channel = replies.channel else { throw Failure(description: "no channel after the upgrade to \(url)") }
        let connection = DevToolsConnection(channel: channel, replies: replies)
        _ = try await connection.call("Page.enable")
        return connection
    }

    /// Sends one command and waits for its result (the `result` object as JSON), or throws its error.
    @discardableResult
    public func call(_ method: String, _ params: [String: any Sendable] = [:], timeout: Duration = .seconds(60)) async throws -> [UInt8] {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let message = try JSONSerialization.data(withJSONObject: ["id": id, "method": method, "params": params])
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        replies.expect(id, promise)
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)) {
            promise.fail(Failure(description: "\(method): no answer within \(timeout)"))
        }
        defer { timer.cancel() }
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: channel.allocator.buffer(bytes: message))
        try await channel.writeAndFlush(frame)
        let reply = try await promise.futureResult.get()
        guard let object = try JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any] else {
            throw Failure(description: "\(method): the answer is not a JSON object")
        }
        if let error = object["error"] as? [String: Any] {
            throw Failure(description: "\(method) failed: \(error["message"] ?? error)")
        }
        return try Array(JSONSerialization.data(withJSONObject: object["result"] ?? [:]))
    }

    /// Loads `url` in the page.
    public func navigate(to url: String) async throws {
        let result = try await call("Page.navigate", ["url": url])
        if let object = try JSONSerialization.jsonObject(with: Data(result)) as? [String: Any], let error = object["errorText"] as? String {
            throw Failure(description: "cannot load \(url): \(error)")
        }
    }

    /// Sizes the page like a screen of `width`×`height` CSS pixels (a laptop, a phone).
    public func setViewport(width: Int, height: Int, mobile: Bool = false) async throws {
        try await call("Emulation.setDeviceMetricsOverride", ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile])
    }

    /// Evaluates `expression` (awaited when it is a promise) in the page and decodes its value from JSON.
    public func evaluate<Value: Decodable>(_ expression: String, as type: Value.Type) async throws -> Value {
        let wrapped = "(async () => JSON.stringify(await (\(expression))))()"
        let result = try await call("Runtime.evaluate", ["expression": wrapped, "awaitPromise": true, "returnByValue": true])
        guard let object = try JSONSerialization.jsonObject(with: Data(result)) as? [String: Any] else {
            throw Failure(description: "Runtime.evaluate gave no result for \(expression)")
        }
        if let exception = object["exceptionDetails"] as? [String: Any] {
            let detail = (exception["exception"] as? [String: Any])?["description"] ?? exception["text"] ?? "exception"
            throw Failure(description: "\(expression) threw: \(detail)")
        }
        guard let text = (object["result"] as? [String: Any])?["value"] as? String else {
            throw Failure(description: "\(expression) evaluated to undefined")
        }
        return try JSONDecoder().decode(Value.self, from: Data(text.utf8))
    }

    /// A PNG of what the page shows (the whole page when `fullPage`).
    public func screenshot(fullPage: Bool = true) async throws -> Data {
        let result = try await call("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": fullPage])
        guard let object = try JSONSerialization.jsonObject(with: Data(result)) as? [String: Any],
            let base64 = object["data"] as? String, let png = Data(base64Encoded: base64)
        else { throw Failure(description: "Page.captureScreenshot returned no image") }
        return png
    }

    /// The messages of the JavaScript dialogs accepted so far, oldest first.
    public var acceptedDialogs: [String] { replies.dialogs }

    /// What a person types into the page's `prompt()` dialogs from now on before clicking OK (nothing at first).
    public func answerPrompts(with text: String) { replies.promptAnswer = text }

    public func close() async {
        try? await channel.close()
    }
}

/// Requests waiting for their answers, and what the page asked in dialogs; shared by the connection and its handler.
final class PendingReplies: Sendable {
    private struct State {
        var waiting: [Int: EventLoopPromise<[UInt8]>] = [:]
        var dialogs: [String] = []
        var promptAnswer = ""
        var channel: (any Channel)?
    }

    private let state = Mutex(State())

    func expect(_ id: Int, _ promise: EventLoopPromise<[UInt8]>) { state.withLock { $0.waiting[id] = promise } }
    func take(_ id: Int) -> EventLoopPromise<[UInt8]>? { state.withLock { $0.waiting.removeValue(forKey: id) } }
    func dialogOpened(_ message: String) { state.withLock { $0.dialogs.append(message) } }
    var dialogs: [String] { state.withLock { $0.dialogs } }
    var promptAnswer: String {
        get { state.withLock { $0.promptAnswer } }
        set { state.withLock { $0.promptAnswer = newValue } }
    }
    func attach(_ channel: any Channel) { state.withLock { $0.channel = channel } }
    var channel: (any Channel)? { state.withLock { $0.channel } }

    func failAll(_ error: any Error) {
        let waiting = state.withLock { state in
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for promise in waiting { promise.fail(error) }
    }
}

/// Routes the browser's answers to the requests waiting for them and accepts dialogs as they open.
final class DevToolsFrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let replies: PendingReplies
    /// Ids for the handler's own commands, counting down so they never meet the connection's.
    private var ownID = -1

    init(replies: PendingReplies) {
        self.replies = replies
    }

    func handlerAdded(context: ChannelHandlerContext) {
        replies.attach(context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            let bytes = frame.unmaskedData.readableBytesView
            guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return }
            if let id = object["id"] as? Int {
                replies.take(id)?.succeed(Array(bytes))
            } else if object["method"] as? String == "Page.javascriptDialogOpening" {
                let params = object["params"] as? [String: Any]
                replies.dialogOpened(params?["message"] as? String ?? "")
                accept(context: context)
            }
        case .connectionClose:
            context.close(promise: nil)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        default:
            break
        }
    }

    /// Says yes to the open dialog, as a person clicking OK.
    private func accept(context: ChannelHandlerContext) {
        let answer = String(decoding: (try? JSONEncoder().encode(replies.promptAnswer)) ?? Data("\"\"".utf8), as: UTF8.self)
        let message = #"{"id":\#(ownID),"method":"Page.handleJavaScriptDialog","params":{"accept":true,"promptText":\#(answer)}}"#
        ownID -= 1
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: context.channel.allocator.buffer(string: message))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        replies.failAll(DevToolsConnection.Failure(description: "the browser closed the DevTools connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        replies.failAll(error)
        context.close(promise: nil)
    }
}

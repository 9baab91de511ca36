/// Istio's `HTTPDirectResponse`: the gateway answers a fixed status and body itself instead of forwarding.
public struct HTTPDirectResponse: Hashable, Sendable, Codable {
    /// From 200 to 599, as Istio requires.
    public var status: Int
    public var body: Body?

    public init(status: Int, body: Body? = nil) {
        self.status = status
        self.body = body
    }

    /// Istio's `HTTPBody`: text, or bytes written in base64.
    public enum Body: Hashable, Sendable, Codable {
        case string(String)
        case bytes([UInt8])

        /// The bytes to send: a string's UTF-8.
        public var contents: [UInt8] {
            switch self {
            case .string(let text): return Array(text.utf8)
            case .bytes(let bytes): return bytes
            }
        }
    }
}

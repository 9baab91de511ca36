import SerinCore

/// A Kubernetes `v1` Secret given with `-f`: where TLS credentials (`credentialName`) and alert provider
/// addresses (`secretRef`) come from when no cluster holds them. Its values never appear in a description, a
/// diagnostic or a log line; only its keys do.
public struct KubernetesSecret: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var name: ResourceName
    /// `kubernetes.io/tls`, `Opaque` (the default), …
    public var type: String
    /// `data` decoded from base64, with `stringData` merged over it as the API server does.
    public var data: [String: [UInt8]]

    public static let defaultType = "Opaque"

    public init(name: ResourceName, type: String = KubernetesSecret.defaultType, data: [String: [UInt8]]) {
        self.name = name
        self.type = type
        self.data = data
    }

    /// The value of `key` as UTF-8 text, or nil when it is missing or not text.
    public func text(_ key: String) -> String? {
        data[key].flatMap { String(validating: $0, as: UTF8.self) }
    }

    public var description: String {
        "Secret \(name) (\(type); keys: \(data.keys.sorted().joined(separator: ", ")))"
    }

    public var debugDescription: String { description }

    /// `dump` and the debugger see the keys only.
    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "type": type, "keys": data.keys.sorted()], displayStyle: .struct)
    }
}

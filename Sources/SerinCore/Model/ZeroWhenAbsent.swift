/// A count a newer field holds, read as 0 where the JSON has none (from a server older than the field), so a client
/// still reads the rest of what such a server says.
@propertyWrapper
public struct ZeroWhenAbsent: Codable, Hashable, Sendable {
    public var wrappedValue: Int

    public init(wrappedValue: Int) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws { wrappedValue = try decoder.singleValueContainer().decode(Int.self) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue)
    }
}

extension KeyedDecodingContainer {
    public func decode(_ type: ZeroWhenAbsent.Type, forKey key: Key) throws -> ZeroWhenAbsent {
        try decodeIfPresent(type, forKey: key) ?? ZeroWhenAbsent(wrappedValue: 0)
    }
}

import Foundation

extension SimpleResponse {
    /// A JSON response (sorted keys, pretty-printed: these are read by people as often as by programs).
    public static func json<T: Encodable>(_ value: T, status: Int = 200) -> SimpleResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            var data = try encoder.encode(value)
            data.append(0x0A)
            return SimpleResponse(status: status, headers: [("content-type", "application/json")], body: Array(data))
        } catch {
            return .text("could not encode response: \(error)\n", status: 500)
        }
    }
}

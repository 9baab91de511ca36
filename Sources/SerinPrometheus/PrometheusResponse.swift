import Foundation

/// Reads the JSON body of Prometheus' `/api/v1/query` into a `PrometheusQueryResult`: pure, so every
/// outcome is tested from recorded responses without a server.
public enum PrometheusResponse {
    /// Parses a whole response body (any HTTP status: error bodies carry `errorType` and `error`).
    public static func parse(_ body: [UInt8]) -> PrometheusQueryResult {
        parse(String(decoding: body, as: UTF8.self))
    }

    /// Parses a whole response body given as text.
    public static func parse(_ text: String) -> PrometheusQueryResult {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
              let root = object as? [String: Any], let status = root["status"] as? String
        else {
            return .failed("malformed response, expected Prometheus API JSON: \(excerpt(text))")
        }
        if status == "error" { return .failed(errorText(root)) }
        guard status == "success" else {
            return .failed("response status \"\(status)\", expected \"success\" or \"error\"")
        }
        guard let data = root["data"] as? [String: Any], let resultType = data["resultType"] as? String else {
            return .failed("response has no data.resultType: \(excerpt(text))")
        }
        switch resultType {
        case "vector":
            guard let elements = data["result"] as? [[String: Any]] else {
                return .failed("vector result is not a list of samples: \(excerpt(text))")
            }
            return vector(elements)
        case "scalar":
            return sample(data["result"])
        case "matrix":
            return .failed("query returned a range vector (matrix), expected an instant vector or scalar: aggregate the range, e.g. rate(...[1m])")
        default:
            return .failed("query returned a \(resultType), expected an instant vector or scalar")
        }
    }

    /// The message of an error body (`bad_data: invalid parameter ...`), else an excerpt of the body as text:
    /// for HTTP errors, where proxies in front of Prometheus answer in HTML or plain text.
    public static func errorDescription(_ body: [UInt8]) -> String {
        let text = String(decoding: body, as: UTF8.self)
        if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
           let root = object as? [String: Any], root["status"] as? String == "error" {
            return errorText(root)
        }
        let trimmed = excerpt(text)
        return trimmed.isEmpty ? "empty body" : trimmed
    }

    private static func vector(_ elements: [[String: Any]]) -> PrometheusQueryResult {
        switch elements.count {
        case 0: return .noData
        case 1: return sample(elements[0]["value"])
        default:
            return .multipleSeries(elements.map { element in
                (element["metric"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
            })
        }
    }

    /// One `[<unix time>, "<value>"]` pair; Prometheus writes values as strings so NaN and ±Inf survive JSON.
    private static func sample(_ pair: Any?) -> PrometheusQueryResult {
        guard let pair = pair as? [Any], pair.count == 2, let text = pair[1] as? String else {
            return .failed("sample is not [time, \"value\"]: \(String(describing: pair ?? "nothing"))")
        }
        switch text {
        case "NaN": return .notANumber
        case "+Inf": return .value(.infinity)
        case "-Inf": return .value(-.infinity)
        default:
            guard let value = Double(text), value.isFinite else {
                return .failed("sample value \"\(text)\" is not a number")
            }
            return .value(value)
        }
    }

    private static func errorText(_ root: [String: Any]) -> String {
        let type = root["errorType"] as? String ?? "error"
        let message = root["error"] as? String ?? "no error message"
        return "\(type): \(message)"
    }

    private static func excerpt(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.count > 200 ? String(trimmed.prefix(200)) + "..." : trimmed
    }
}

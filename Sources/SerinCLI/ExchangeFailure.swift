import AsyncHTTPClient
import SerinSystem

/// How a command's exchange with a server failed, decided once for every client the commands use (the admin API,
/// the Kubernetes API): nothing answered at the address, nothing came in time, or something else went wrong after
/// the server answered.
enum ExchangeFailure: Equatable {
    /// Refused, unresolvable: the system's reason.
    case unreachable(String)
    /// The connect itself ran out of time: nothing answers there, or it does not speak what the client speaks.
    case connectTimeout
    /// Connected, but the answer did not come within the request's deadline.
    case noAnswerInTime
    /// Anything else, with its description.
    case other(String)

    init(_ error: any Error) {
        switch error {
        case let error as HTTPClientError where error == .connectTimeout:
            self = .connectTimeout
        case let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout:
            self = .noAnswerInTime
        case _ where TransportErrorText.isUnreachable(error):
            self = .unreachable(TransportErrorText.describe(error))
        default:
            self = .other(TransportErrorText.describe(error))
        }
    }
}

/// Which gRPC statuses the success rate counts as failures, in one place for the gateway's own counters and the
/// Prometheus queries that read Istio's `grpc_response_status` label: those gRPC's HTTP mapping answers with a 5xx
/// (UNKNOWN 2, DEADLINE_EXCEEDED 4, UNIMPLEMENTED 12, INTERNAL 13, UNAVAILABLE 14, DATA_LOSS 15) — server faults,
/// as an HTTP 5xx is. A client's own mistakes (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED…) are answers, as a
/// 4xx is, and CANCELLED is the client's doing.
public enum GRPCStatusCodes {
    public static let serverFaults: Set<String> = ["2", "4", "12", "13", "14", "15"]

    /// `serverFaults` as a PromQL regular expression (`2|4|12|13|14|15`), which Prometheus anchors at both ends.
    public static let serverFaultPattern = serverFaults.sorted { Int($0)! < Int($1)! }.joined(separator: "|")

    /// The codes by the names Istio's `fault.abort.grpcStatus` takes (gRPC's own, in capitals).
    public static let named: [String: Int] = [
        "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5, "ALREADY_EXISTS": 6,
        "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11,
        "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
    ]
}

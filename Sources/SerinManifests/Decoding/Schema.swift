/// The keys a mapping may hold, and what happens to each kind of key.
struct Schema {
    /// Keys Serin decodes.
    var known: Set<String>
    /// Keys accepted without a word: Kubernetes bookkeeping and settings that cannot change routing.
    var ignored: Set<String> = []
    /// Keys Istio understands but the embedded gateway does not apply yet: warned about, never silently dropped.
    var notApplied: Set<String> = []
    /// Keys Istio understands that Serin's gateway does not support and has no plan to: warned about, ignored.
    var notSupported: Set<String> = []
    /// Keys from other tools' formats that Serin accepts but does not read, each with the reason the warning gives.
    var notRead: [String: String] = [:]
}

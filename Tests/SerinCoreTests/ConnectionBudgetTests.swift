import SerinCore
import Testing

@Suite("ConnectionBudget")
struct ConnectionBudgetTests {
    @Test("opens connections, then queues, then overflows with Envoy's UO")
    func openWaitReject() {
        var budget = ConnectionBudget(maxConnections: 2, maxPendingRequests: 1)
        let decisions = (0..<5).map { _ in budget.requestConnection() }
        let overflow = ConnectionBudget.Overflow(maxPendingRequests: 1)
        #expect(decisions == [.open, .open, .wait, .reject(overflow), .reject(overflow)])
        #expect(budget.openConnections == 2)
        #expect(budget.pendingRequests == 1)
        #expect(overflow.responseFlag == "UO")
        #expect(overflow.description == "upstream overflow: 1 request already waits for a connection")
    }

    @Test(
        "treats a limit left nil, 0 or negative as no limit",
        arguments: [nil, 0, -1] as [Int?]
    )
    func unsetIsUnlimited(limit: Int?) {
        var budget = ConnectionBudget(maxConnections: limit, maxPendingRequests: limit, maxRequestsPerConnection: limit)
        let decisions = (0..<10_000).map { _ in budget.requestConnection() }
        #expect(decisions.allSatisfy { $0 == .open })
        #expect(budget.openConnections == 10_000)
        #expect(!budget.shouldRetire(afterRequests: 1_000_000))
    }

    @Test("queues without limit when only connections are limited")
    func unlimitedQueue() {
        var budget = ConnectionBudget(maxConnections: 1)
        #expect(budget.requestConnection() == .open)
        let decisions = (0..<1000).map { _ in budget.requestConnection() }
        #expect(decisions.allSatisfy { $0 == .wait })
        #expect(budget.pendingRequests == 1000)
    }

    @Test("rejects every request that finds no idle connection once connections and queue are full")
    func noQueueWhenFull() {
        var budget = ConnectionBudget(maxConnections: 1, maxPendingRequests: 1)
        #expect(budget.requestConnection() == .open)
        #expect(budget.requestConnection() == .wait)
        budget.pendingServed()
        #expect(budget.requestConnection() == .wait)
        budget.pendingCancelled()
        #expect(budget.requestConnection() == .wait)
        #expect(budget.requestConnection() == .reject(.init(maxPendingRequests: 1)))
    }

    @Test("lets the first waiting request open the connection a closed one freed")
    func closedConnectionServesQueue() {
        var budget = ConnectionBudget(maxConnections: 1, maxPendingRequests: 2)
        #expect(budget.requestConnection() == .open)
        #expect(budget.requestConnection() == .wait)
        #expect(budget.requestConnection() == .wait)
        #expect(budget.openForPending() == false)
        budget.connectionClosed()
        #expect(budget.openConnections == 0)
        #expect(budget.openForPending() == true)
        #expect(budget.openConnections == 1)
        #expect(budget.pendingRequests == 1)
        #expect(budget.openForPending() == false)
        budget.connectionClosed()
        budget.pendingCancelled()
        #expect(budget.openForPending() == false)
        #expect(budget.requestConnection() == .open)
    }

    @Test("never counts below zero")
    func neverNegative() {
        var budget = ConnectionBudget(maxConnections: 1, maxPendingRequests: 1)
        budget.connectionClosed()
        budget.pendingServed()
        budget.pendingCancelled()
        #expect(budget.openConnections == 0)
        #expect(budget.pendingRequests == 0)
        #expect(budget.openForPending() == false)
        #expect(budget.requestConnection() == .open)
        #expect(budget.requestConnection() == .wait)
        for _ in 0..<3 {
            budget.pendingServed()
            budget.connectionClosed()
        }
        #expect(budget.openConnections == 0)
        #expect(budget.pendingRequests == 0)
    }

    @Test(
        "retires a connection after maxRequestsPerConnection requests",
        arguments: [
            (nil, 1_000, false), (0, 1_000, false), (1, 0, false), (1, 1, true), (3, 2, false), (3, 3, true),
            (3, 4, true),
        ] as [(Int?, Int, Bool)]
    )
    func retirement(maxRequests: Int?, served: Int, retire: Bool) {
        #expect(ConnectionBudget(maxRequestsPerConnection: maxRequests).shouldRetire(afterRequests: served) == retire)
    }

    @Test("reads its limits from a DestinationRule's connectionPool and retryBudget")
    func fromSettings() {
        let settings = ConnectionPoolSettings(
            tcp: .init(maxConnections: 10),
            http: .init(http1MaxPendingRequests: 0, maxRequestsPerConnection: 1)
        )
        let budget = ConnectionBudget(TrafficPolicy(connectionPool: settings))
        #expect(budget.maxConnections == 10)
        #expect(budget.maxPendingRequests == nil)
        #expect(budget.maxRequestsPerConnection == 1)
        #expect(!budget.limitsRetries)
        #expect(ConnectionBudget(TrafficPolicy()) == ConnectionBudget())
        let budgeted = ConnectionBudget(TrafficPolicy(retryBudget: RetryBudget(percent: 30, minRetryConcurrency: 5)))
        #expect(budgeted.retryBudget == RetryBudget(percent: 30, minRetryConcurrency: 5))
        #expect(budgeted.limitsRetries, "a retry budget alone limits retries")
    }

    @Test("http2MaxRequests admits that many requests in flight; the next overflows until one finishes")
    func maxRequests() {
        var budget = ConnectionBudget(maxConnections: 1, maxRequests: 2)
        #expect(budget.requestStarted() == nil)
        #expect(budget.requestStarted() == nil)
        let overflow = budget.requestStarted()
        #expect(overflow == ConnectionBudget.Overflow(maxRequests: 2))
        #expect(overflow?.responseFlag == "UO")
        #expect(overflow?.description == "upstream overflow: 2 requests are already in flight (http2MaxRequests)")
        #expect(budget.activeRequests == 2)
        budget.requestFinished()
        #expect(budget.requestStarted() == nil)
        // Connections are counted apart: the requests in flight do not use up maxConnections.
        #expect(budget.requestConnection() == .open)
    }

    @Test("without http2MaxRequests any number of requests are in flight")
    func noMaxRequests() {
        var budget = ConnectionBudget(TrafficPolicy(connectionPool: ConnectionPoolSettings(http: .init(http1MaxPendingRequests: 1))))
        for _ in 0..<1000 { #expect(budget.requestStarted() == nil) }
        #expect(budget.maxRequests == nil)
    }

    @Test("maxRetries: requests may retry while fewer than the limit are retrying; each counts once until it finishes")
    func retryLimit() {
        var budget = ConnectionBudget(maxRetries: 1)
        #expect(budget.mayRetry)
        budget.retryStarted()
        #expect(!budget.mayRetry, "a second request may not retry while the first is retrying")
        budget.retryFinished()
        #expect(budget.mayRetry)
        budget.retryFinished()
        #expect(budget.activeRetries == 0, "an extra finish does not go below zero")
        var unlimited = ConnectionBudget(maxRetries: 0)
        for _ in 0..<1000 { unlimited.retryStarted() }
        #expect(unlimited.mayRetry, "0, as Istio writes unset, is no limit")
    }

    @Test("retryBudget: requests may retry while fewer are retrying than percent of those in flight, never fewer than the minimum")
    func retryBudget() {
        var budget = ConnectionBudget(retryBudget: RetryBudget(percent: 25, minRetryConcurrency: 2))
        for _ in 0..<10 { #expect(budget.requestStarted() == nil) }
        // 25% of 10 in flight is 2.5, rounded down to 2, which is the minimum too.
        budget.retryStarted()
        #expect(budget.mayRetry)
        budget.retryStarted()
        #expect(!budget.mayRetry, "2 retrying of 10 in flight fill a 25% budget")
        for _ in 0..<2 { _ = budget.requestStarted() }
        #expect(budget.mayRetry, "12 in flight allow 3 retrying")
        budget.retryStarted()
        #expect(!budget.mayRetry)
        for _ in 0..<12 { budget.requestFinished() }
        #expect(!budget.mayRetry, "with nothing in flight, the minimum holds: 3 retrying are over 2")
        budget.retryFinished()
        #expect(!budget.mayRetry, "2 retrying is the minimum")
        budget.retryFinished()
        #expect(budget.mayRetry, "1 retrying is under it")
    }

    @Test("a retry budget takes the place of maxRetries, as Envoy's retry_budget overrides max_retries")
    func retryBudgetOverridesMaxRetries() {
        var budget = ConnectionBudget(maxRetries: 1, retryBudget: RetryBudget())
        budget.retryStarted()
        #expect(budget.mayRetry, "maxRetries 1 would refuse a second; the budget's minimum of 3 allows it")
        budget.retryStarted()
        budget.retryStarted()
        #expect(!budget.mayRetry, "3 retrying with nothing else in flight fill Istio's default budget (20%, at least 3)")
    }

    @Test("the limit a retry budget sets: the percentage of requests in flight rounded down, at least the minimum")
    func retryBudgetLimit() {
        #expect(RetryBudget().limit(inFlight: 0) == 3)
        #expect(RetryBudget().limit(inFlight: 19) == 3)
        #expect(RetryBudget().limit(inFlight: 24) == 4)
        #expect(RetryBudget(percent: 100, minRetryConcurrency: 1).limit(inFlight: 7) == 7)
        #expect(RetryBudget(percent: 0, minRetryConcurrency: 1).limit(inFlight: 1000) == 1)
        #expect(RetryBudget(percent: 12.5, minRetryConcurrency: 1).limit(inFlight: 16) == 2)
    }

    @Test("an HTTP/2 connection counts once; past maxConnections only a pool's first to its endpoint opens, as Envoy allows")
    func multiplexedConnections() {
        var budget = ConnectionBudget(maxConnections: 2)
        let opened = (0..<3).map { _ in budget.openMultiplexed(firstToItsEndpoint: false) }
        #expect(opened == [true, true, false], "the limit holds for a pool that has a connection")
        let first = budget.openMultiplexed(firstToItsEndpoint: true)
        #expect(first, "a pool's first connection opens over it")
        #expect(budget.openConnections == 3)
        budget.connectionClosed()
        budget.connectionClosed()
        let again = budget.openMultiplexed(firstToItsEndpoint: false)
        #expect(again, "room again once below the limit")
    }
}

import SerinCore
import Testing

@Suite("Endpoint schedule by weight")
struct EndpointScheduleTests {
    /// How many turns of one pass through the schedule each endpoint takes.
    static func turns(_ schedule: EndpointSchedule, count: Int) -> [Int] {
        var turns = Array(repeating: 0, count: count)
        for turn in 0..<max(schedule.order.count, count) { turns[schedule.endpoint(forTurn: turn, count: count)] += 1 }
        return turns
    }

    @Test("equal weights need no schedule: the endpoints take their turns in order")
    func equalWeights() {
        let schedule = EndpointSchedule(weights: [5, 5, 5])
        #expect(schedule.order.isEmpty)
        #expect((0..<6).map { schedule.endpoint(forTurn: $0, count: 3) } == [0, 1, 2, 0, 1, 2])
    }

    @Test(
        "each endpoint takes as many turns as its weight says, after dividing by their common divisor",
        arguments: [([3, 1], [3, 1]), ([30, 10], [3, 1]), ([1, 2, 3], [1, 2, 3]), ([0, 2], [1, 2])] as [([Int], [Int])]
    )
    func turnsFollowWeights(weights: [Int], expected: [Int]) {
        let schedule = EndpointSchedule(weights: weights)
        #expect(Self.turns(schedule, count: weights.count) == expected)
    }

    @Test("heavy and light endpoints interleave: weights 5 and 1 never give the light one two turns in a row, nor the heavy one more than five")
    func interleaves() {
        let schedule = EndpointSchedule(weights: [1, 5])
        let doubled = schedule.order + schedule.order
        #expect(!zip(doubled, doubled.dropFirst()).contains { $0 == 0 && $1 == 0 })
        let weightsThreeOne = EndpointSchedule(weights: [3, 1]).order
        #expect(weightsThreeOne == [0, 0, 1, 0] || weightsThreeOne == [0, 1, 0, 0], "\(weightsThreeOne)")
    }

    @Test("weights summing past the cap are scaled down to it, every endpoint keeping a turn")
    func capsLength() {
        let schedule = EndpointSchedule(weights: [100_000, 1, 50_000])
        #expect(schedule.order.count <= EndpointSchedule.maxLength + 3)
        let turns = Self.turns(schedule, count: 3)
        #expect(turns.allSatisfy { $0 >= 1 }, "\(turns)")
        #expect(abs(Double(turns[0]) / Double(turns[2]) - 2) < 0.05, "\(turns)")
    }

    @Test("an endpoint that is out gives its turn to the next in the schedule's order; none in gives nil")
    func skipsEndpointsThatAreOut() {
        let schedule = EndpointSchedule(weights: [3, 1])
        var turns = [0, 0]
        for turn in 0..<8 { turns[schedule.endpoint(forTurn: turn, count: 2) { $0 == 1 }!] += 1 }
        #expect(turns == [8, 0])
        #expect(schedule.endpoint(forTurn: 0, count: 2) { _ in true } == nil)
        #expect(EndpointSchedule(weights: []).endpoint(forTurn: 0, count: 0) { _ in false } == nil)
    }
}

import Foundation
import SerinCore
import Testing

@Suite("WeightSchedule")
struct WeightScheduleTests {
    @Test("stepWeight and maxWeight step up to maxWeight, capping an overshooting last step", arguments: [
        (10, 50, [10, 20, 30, 40, 50]),
        (20, 60, [20, 40, 60]),
        (10, 45, [10, 20, 30, 40, 45]),
        (25, 99, [25, 50, 75, 99]),
        (50, 50, [50]),
        (1, 3, [1, 2, 3]),
    ])
    func linear(stepWeight: Int, maxWeight: Int, expected: [Int]) throws {
        let schedule = try WeightSchedule(stepWeight: stepWeight, maxWeight: maxWeight)
        #expect(schedule.weights == expected)
        #expect(schedule.steps == expected.count)
        #expect(schedule.source == .linear(stepWeight: stepWeight, maxWeight: maxWeight))
    }

    @Test("stepWeights are used exactly as listed", arguments: [[5, 10, 25, 50], [1], [50, 99], [1, 2, 3, 98, 99]])
    func explicit(weights: [Int]) throws {
        let schedule = try WeightSchedule(stepWeights: weights)
        #expect(schedule.weights == weights)
        #expect(schedule.source == .explicit(weights))
    }

    @Test("invalid stepWeight and maxWeight are refused with the reason", arguments: [
        (0, 50, WeightScheduleError.stepWeightOutOfRange(0)),
        (100, 100, .stepWeightOutOfRange(100)),
        (-5, 50, .stepWeightOutOfRange(-5)),
        (10, 100, .maxWeightOutOfRange(100)),
        (10, 0, .maxWeightOutOfRange(0)),
        (30, 20, .maxWeightBelowStepWeight(maxWeight: 20, stepWeight: 30)),
    ])
    func invalidLinear(stepWeight: Int, maxWeight: Int, expected: WeightScheduleError) {
        #expect(throws: expected) { try WeightSchedule(stepWeight: stepWeight, maxWeight: maxWeight) }
    }

    @Test("invalid stepWeights are refused with the offending index", arguments: [
        ([], WeightScheduleError.noSteps),
        ([0, 10], .stepOutOfRange(index: 0, weight: 0)),
        ([10, 100], .stepOutOfRange(index: 1, weight: 100)),
        ([5, 10, 25, 20], .notAscending(index: 3, weight: 20, previous: 25)),
        ([10, 10], .notAscending(index: 1, weight: 10, previous: 10)),
    ])
    func invalidExplicit(weights: [Int], expected: WeightScheduleError) {
        #expect(throws: expected) { try WeightSchedule(stepWeights: weights) }
    }

    @Test("errors read as what was given and what was expected", arguments: [
        (WeightScheduleError.notAscending(index: 3, weight: 20, previous: 25),
         "stepWeights[3] is 20, expected more than 25 (weights must ascend)"),
        (.maxWeightOutOfRange(100), "maxWeight is 100, expected 1 to 99 (promotion sends 100%)"),
        (.maxWeightBelowStepWeight(maxWeight: 20, stepWeight: 30), "maxWeight is 20, expected at least stepWeight 30"),
        (.noSteps, "stepWeights is empty, expected at least one weight"),
    ])
    func errorDescriptions(error: WeightScheduleError, expected: String) {
        #expect(error.description == expected)
    }

    @Test("weight(atStep:) answers inside the schedule and nil outside it", arguments: [
        (-1, nil), (0, 5), (1, 10), (3, 50), (4, nil),
    ] as [(Int, Int?)])
    func weightAtStep(index: Int, expected: Int?) throws {
        let schedule = try WeightSchedule(stepWeights: [5, 10, 25, 50])
        #expect(schedule.weight(atStep: index) == expected)
    }

    @Test("steps are labelled n/m and only the final one is last", arguments: [(0, "1/4", false), (2, "3/4", false), (3, "4/4", true)])
    func labels(index: Int, label: String, isLast: Bool) throws {
        let schedule = try WeightSchedule(stepWeights: [5, 10, 25, 50])
        #expect(schedule.label(atStep: index) == label)
        #expect(schedule.isLastStep(index) == isLast)
    }
}

@Suite("WeightSchedule pauses")
struct WeightSchedulePauseTests {
    @Test("paced steps keep each step's pause; a list without pauses is the plain stepWeights list")
    func pacedSteps() throws {
        let schedule = try WeightSchedule(pacedSteps: [
            .init(weight: 10), .init(weight: 25, pause: .duration(.seconds(600))), .init(weight: 50, pause: .promote),
        ])
        #expect(schedule.weights == [10, 25, 50])
        #expect(schedule.pauses == [nil, .duration(.seconds(600)), .promote])
        #expect(schedule.pause(atStep: 2) == .promote)
        #expect(schedule.pause(atStep: 3) == nil)
        #expect(try WeightSchedule(pacedSteps: [.init(weight: 10), .init(weight: 50)]) == WeightSchedule(stepWeights: [10, 50]))
    }

    @Test("paced steps are refused like stepWeights, and a pause of zero is refused at its index")
    func invalidPacedSteps() {
        #expect(throws: WeightScheduleError.notAscending(index: 1, weight: 10, previous: 25)) {
            try WeightSchedule(pacedSteps: [.init(weight: 25, pause: .promote), .init(weight: 10)])
        }
        #expect(throws: WeightScheduleError.pauseNotPositive(index: 0, pause: .zero)) {
            try WeightSchedule(pacedSteps: [.init(weight: 25, pause: .duration(.zero))])
        }
        #expect(WeightScheduleError.pauseNotPositive(index: 0, pause: .zero).description
            == "stepWeights[0].pause is 0s, expected a duration above 0s, or promote")
    }

    @Test("a schedule stored before pauses existed still reads, with no pauses; a paced one round-trips")
    func storedSchedules() throws {
        let old = try JSONDecoder().decode(WeightSchedule.self, from: Data(#"{"explicit":{"_0":[10,50]}}"#.utf8))
        #expect(old == (try WeightSchedule(stepWeights: [10, 50])))
        #expect(old.pauses == [nil, nil])
        let paced = try WeightSchedule(pacedSteps: [.init(weight: 25, pause: .duration(.seconds(600))), .init(weight: 50, pause: .promote)])
        #expect(try JSONDecoder().decode(WeightSchedule.self, from: JSONEncoder().encode(paced)) == paced)
    }
}

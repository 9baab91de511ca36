/// Why a `stepWeight`/`maxWeight` pair, a `stepWeights` list or an `iterations` count cannot be a schedule, said the way a person fixes it.
public enum WeightScheduleError: Error, Hashable, Sendable, CustomStringConvertible {
    case stepWeightOutOfRange(Int)
    case maxWeightOutOfRange(Int)
    case maxWeightBelowStepWeight(maxWeight: Int, stepWeight: Int)
    case noSteps
    case stepOutOfRange(index: Int, weight: Int)
    case notAscending(index: Int, weight: Int, previous: Int)
    case iterationsOutOfRange(Int)
    case pauseNotPositive(index: Int, pause: Duration)
    case mirrorBeforeNoWeights

    public var description: String {
        switch self {
        case .stepWeightOutOfRange(let weight):
            return "stepWeight is \(weight), expected 1 to 99"
        case .maxWeightOutOfRange(let weight):
            return "maxWeight is \(weight), expected 1 to 99 (promotion sends 100%)"
        case .maxWeightBelowStepWeight(let maxWeight, let stepWeight):
            return "maxWeight is \(maxWeight), expected at least stepWeight \(stepWeight)"
        case .noSteps:
            return "stepWeights is empty, expected at least one weight"
        case .stepOutOfRange(let index, let weight):
            return "stepWeights[\(index)] is \(weight), expected 1 to 99 (promotion sends 100%)"
        case .notAscending(let index, let weight, let previous):
            return "stepWeights[\(index)] is \(weight), expected more than \(previous) (weights must ascend)"
        case .iterationsOutOfRange(let count):
            return "iterations is \(count), expected at least 1"
        case .pauseNotPositive(let index, let pause):
            return "stepWeights[\(index)].pause is \(Readable.duration(pause)), expected a duration above 0s, or promote"
        case .mirrorBeforeNoWeights:
            return "a mirrored first step goes before weight steps, expected stepWeight or stepWeights (blue/green's iterations mirror in each iteration)"
        }
    }
}

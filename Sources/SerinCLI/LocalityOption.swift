import ArgumentParser
import SerinCore

/// Where the gateway runs, for DestinationRules' locality load balancing: Istio reads it from the node's topology labels.
struct LocalityOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Where this gateway runs (us-east1/us-east1-b), as Istio reads a proxy's locality: destinations with outlier detection send requests to their endpoints nearest it (a ServiceEntry endpoint's locality) while enough of those are healthy, and fail over outward. None unless given.",
        valueName: "region[/zone[/subzone]]"
    ), transform: Self.parse)
    var locality: Locality?

    static func parse(_ argument: String) throws -> Locality {
        guard let locality = Locality(argument) else {
            throw ValidationError("expected region, region/zone or region/zone/subzone (us-east1/us-east1-b), got \"\(argument)\"")
        }
        return locality
    }
}

import SerinManifests
import Testing

@Suite("ResourceKind")
struct ResourceKindTests {
    @Test(
        "kubectl names match kubectl's output",
        arguments: [
            (ResourceKind.gateway, "gateway", "gateway.networking.istio.io"),
            (.virtualService, "virtualservice", "virtualservice.networking.istio.io"),
            (.destinationRule, "destinationrule", "destinationrule.networking.istio.io"),
            (.serviceEntry, "serviceentry", "serviceentry.networking.istio.io"),
            (.service, "service", "service"),
            (.deployment, "deployment", "deployment.apps"),
            (.canary, "canary", "canary.serin.dev"),
            (.metricTemplate, "metrictemplate", "metrictemplate.serin.dev"),
            (.alertProvider, "alertprovider", "alertprovider.serin.dev"),
        ]
    )
    func kubectlNames(kind: ResourceKind, name: String, qualified: String) {
        #expect(kind.kubectlName == name)
        #expect(kind.kubectlQualifiedName == qualified)
    }

    @Test(
        "accepts the API versions Serin reads and no others",
        arguments: [
            (ResourceKind.gateway, "networking.istio.io/v1alpha3", true),
            (.virtualService, "networking.istio.io/v1", true),
            (.virtualService, "networking.istio.io/v2", false),
            (.service, "v1", true),
            (.service, "apps/v1", false),
            (.deployment, "apps/v1", true),
            (.deployment, "extensions/v1beta1", true),
            (.deployment, "v1", false),
            (.canary, "serin.dev/v1alpha1", true),
            (.canary, "flagger.app/v1beta1", true),
            (.metricTemplate, "serin.dev/v1alpha1", true),
            (.metricTemplate, "flagger.app/v1beta1", true),
            (.metricTemplate, "flagger.app/v1alpha1", false),
            (.alertProvider, "serin.dev/v1alpha1", true),
            (.alertProvider, "flagger.app/v1beta1", true),
        ]
    )
    func acceptedVersions(kind: ResourceKind, apiVersion: String, accepted: Bool) {
        #expect(kind.accepts(apiVersion: apiVersion) == accepted)
    }
}

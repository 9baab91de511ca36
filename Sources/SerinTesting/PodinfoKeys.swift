/// Where the objects of Flagger's podinfo example live in the API-server double (namespace `default`): the
/// target Deployment, what Serin creates for it, and its Canary in either group.
public enum PodinfoKeys {
    public static func key(_ groupVersion: String, _ resource: String, _ name: String) -> KubernetesAPIServer.ObjectKey {
        KubernetesAPIServer.ObjectKey(groupVersion: groupVersion, resource: resource, namespace: "default", name: name)
    }

    public static let target = key("apps/v1", "deployments", "podinfo")
    public static let primary = key("apps/v1", "deployments", "podinfo-primary")
    public static let virtualService = key("networking.istio.io/v1beta1", "virtualservices", "podinfo")
    public static let serinCanary = key("serin.dev/v1alpha1", "canaries", "podinfo")
    public static let flaggerCanary = key("flagger.app/v1beta1", "canaries", "podinfo")
}

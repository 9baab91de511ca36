/// A Gateway on port 80 whose one route answers every request itself: for tests of `serin gateway` as a process
/// that need no backend.
enum DirectAnswerGateway {
    static func manifests(answer: String) -> String {
        """
        apiVersion: networking.istio.io/v1beta1
        kind: Gateway
        metadata: {name: edge}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 80, name: http, protocol: HTTP}
            hosts: ["*"]
        ---
        apiVersion: networking.istio.io/v1beta1
        kind: VirtualService
        metadata: {name: answer}
        spec:
          hosts: ["*"]
          gateways: [edge]
          http:
          - directResponse: {status: 200, body: {string: "\(answer)"}}
        """
    }
}

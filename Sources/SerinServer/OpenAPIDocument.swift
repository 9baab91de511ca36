/// The admin API's OpenAPI 3 document, served at `/openapi.json`: `docs/openapi.json`, embedded at build time
/// (the `EmbedText` plugin), so the document in the repository is the one every binary serves.
enum OpenAPIDocument {
    static let json = EmbeddedText.openAPI
}

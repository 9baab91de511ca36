import PackagePlugin

/// Builds `docs/openapi.json` and `Sources/SerinServer/dashboard.html` into SerinServer as Swift strings
/// (`EmbeddedText`), so the files people edit are the ones every binary serves, and the binary needs no
/// resource directory beside it.
@main
struct EmbedText: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let files = [
            ("openAPI", context.package.directoryURL.appending(path: "docs/openapi.json")),
            ("dashboard", context.package.directoryURL.appending(path: "Sources/SerinServer/dashboard.html")),
        ]
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedText.swift")
        return [
            .buildCommand(
                displayName: "Embedding the OpenAPI document and the dashboard page",
                executable: try context.tool(named: "serin-embed-text").url,
                arguments: [output.path()] + files.map { "\($0.0)=\($0.1.path())" },
                inputFiles: files.map(\.1),
                outputFiles: [output]
            ),
        ]
    }
}

import Foundation
import PackagePlugin

/// Builds files people edit into a module as Swift strings (`EmbeddedText`), so they are the ones every binary
/// serves and the binary needs no resource directory beside it: for SerinServer the OpenAPI document, the
/// dashboard page and the commit built, for SerinCLI the seed's manifests and the example Canary `serin demo` runs.
@main
struct EmbedText: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let root = context.package.directoryURL
        let files: [(String, URL)]
        switch target.name {
        case "SerinServer":
            files = [("openAPI", root.appending(path: "docs/openapi.json")), ("dashboard", root.appending(path: "Sources/SerinServer/dashboard.html"))]
        case "SerinCLI":
            files = [("seed", root.appending(path: "examples/seed")), ("canary", root.appending(path: "examples/canary"))]
        default:
            throw Failure(description: "EmbedText knows no files for target \(target.name)")
        }
        // A directory's files are inputs too, so editing one rebuilds.
        var inputs: [URL] = []
        for (_, url) in files {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path())) ?? []
            inputs += names.isEmpty ? [url] : names.filter { $0.hasSuffix(".yaml") }.map { url.appending(path: $0) }
        }
        var values: [String] = []
        if target.name == "SerinServer" {
            // The tool reads the commit when it runs, and runs again when a commit moves HEAD or its branch: SwiftPM
            // does not ask this plugin again for every build, so a commit read here went stale.
            values.append("build@=\(root.path())")
            inputs += Self.gitFiles(in: root)
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedText.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.map { $0.1.lastPathComponent }.joined(separator: ", ")) in \(target.name)",
                executable: try context.tool(named: "serin-embed-text").url,
                arguments: [output.path()] + files.map { "\($0.0)=\($0.1.path())" } + values,
                inputFiles: inputs,
                outputFiles: [output]
            ),
        ]
    }

    /// The files that say which commit `root`'s git repository (a worktree's too) has checked out: HEAD, the branch
    /// it names, and the packed refs; none outside a repository (a source archive, a container build without `.git`).
    static func gitFiles(in root: URL) -> [URL] {
        func text(_ url: URL) -> String? {
            (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var gitDirectory = root.appending(path: ".git")
        if let pointer = text(gitDirectory), pointer.hasPrefix("gitdir: ") {
            gitDirectory = URL(fileURLWithPath: String(pointer.dropFirst("gitdir: ".count)), relativeTo: root)
        }
        let head = gitDirectory.appending(path: "HEAD")
        guard let named = text(head) else { return [] }
        let common = text(gitDirectory.appending(path: "commondir")).map { URL(fileURLWithPath: $0, relativeTo: gitDirectory) } ?? gitDirectory
        var files = [head]
        if named.hasPrefix("ref: ") {
            let ref = String(named.dropFirst("ref: ".count))
            files += [gitDirectory.appending(path: ref), common.appending(path: ref)]
        }
        files.append(common.appending(path: "packed-refs"))
        return files.filter { FileManager.default.fileExists(atPath: $0.path()) }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }
}

import ArgumentParser
import Foundation
import SerinCore
import SerinEmbedded
import SerinGateway
import SerinManifests

/// `serin validate`: every problem in a set of manifests, located, before anything runs them.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check manifests and report every problem as path:line:column: error|warning: message.",
        discussion: """
            Exit status 0 when there is no error (warnings allowed), 1 otherwise. A document of a kind Serin does not \
            read is skipped with a warning, as is a field Serin does not know in Istio's and Kubernetes' kinds (in a \
            Canary, MetricTemplate or AlertProvider it is an error); --strict makes both errors, so a typo in a kind or \
            a field name cannot pass unnoticed.
            """
    )

    @Argument(help: ArgumentHelp("Manifest files or directories.", valueName: "path"))
    var paths: [String] = []

    /// `-f`, as every other command reads manifests (and kubectl), beside the positional paths.
    @Option(name: [.customShort("f"), .customLong("filename")], help: ArgumentHelp("A manifest file or directory, as the other commands take them (repeatable).", valueName: "path"))
    var files: [String] = []

    func validate() throws {
        if paths.isEmpty && files.isEmpty { throw ValidationError("name the manifests to check: serin validate PATH... or -f PATH") }
    }

    @Flag(name: [.customShort("R"), .long], help: "Read directories recursively.")
    var recursive = false

    @Flag(help: "Make a document of a kind Serin does not read, and a field it does not know, an error instead of a warning.")
    var strict = false

    /// Each HTTPS server's certificate problems at its `tls` (file:line), then each cluster's TLS problems.
    static func tlsProblems(in set: ManifestSet) -> [String] {
        located(in: set) { GatewayTLS.serverProblems(of: $0) }.map { Diagnostic.error($0.message, at: $0.at).description }
            + GatewayTLS.clientProblems(in: RouteTable(compiling: set.config)).map { "error: \($0)" }
    }

    /// Server certificates clients would refuse by their dates at `now`, each at its server's `tls` (file:line).
    static func certificateDateWarnings(in set: ManifestSet, now: Date = Date()) -> [String] {
        located(in: set) { GatewayTLS.certificateDateWarnings(of: $0, now: now) }.map { Diagnostic.warning($0.message, at: $0.at).description }
    }

    /// What `problems` says of each Gateway's servers (their `credentialName` resolved), located at the server's `tls`.
    private static func located(
        in set: ManifestSet, _ problems: (Gateway) -> [(server: Int, message: String)]
    ) -> [(message: String, at: SourceLocation?)] {
        set.resources.flatMap { located -> [(message: String, at: SourceLocation?)] in
            guard case .gateway(let written) = located.resource,
                let gateway = set.config.gateways.first(where: { $0.name == written.name })
            else { return [] }
            return problems(gateway).map { ($0.message, located.location(of: "spec.servers[\($0.server)].tls")) }
        }
    }

    func run() throws {
        let (set, _, loadErrors, loadWarnings) = ManifestReading.read(paths: files + paths, recursive: recursive, strict: strict)
        // What only loading the certificates tells (a key that is not the certificate's), as the gateway would refuse
        // it at start; asked only of manifests that are otherwise valid, whose files were all found.
        let tlsProblems = set.hasErrors || loadErrors > 0 ? [] : Self.tlsProblems(in: set)
        for problem in tlsProblems { Terminal.err(problem) }
        let dateWarnings = set.hasErrors || loadErrors > 0 ? [] : Self.certificateDateWarnings(in: set)
        for warning in dateWarnings { Terminal.err(warning) }
        // What `serin up` would refuse from these files at a fresh start: a Canary whose release cannot begin from
        // the routes they hold (no stable where two versions take traffic, a canary that serves already).
        let releaseProblems = set.hasErrors || loadErrors > 0 ? [] : LiveConfiguration.releaseProblems(in: set.resources)
        for problem in releaseProblems { Terminal.err(problem.description) }
        // Files with nothing in them (empty, only comments or `---`) are no error, but likely the wrong files: `serin
        // apply` refuses them as kubectl does, so validate says so rather than a bare "0 resources".
        let nothingRead = set.resources.isEmpty && loadErrors == 0 && set.diagnostics.isEmpty
        if nothingRead {
            let named = (files + paths).joined(separator: ", ")
            Terminal.err("warning: \(named) \(files.count + paths.count == 1 ? "holds" : "hold") no resource: serin apply would refuse it (no objects passed to apply)")
        }
        let errors = loadErrors + set.errors.count + tlsProblems.count + releaseProblems.count
        let warnings = loadWarnings + set.warnings.count + dateWarnings.count + (nothingRead ? 1 : 0)
        let summary = "\(set.resources.count) resource\(set.resources.count == 1 ? "" : "s"), "
            + "\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")"
        Terminal.out(summary)
        if errors > 0 { throw ExitCode(1) }
    }
}

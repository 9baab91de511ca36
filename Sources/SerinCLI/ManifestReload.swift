import Logging
import SerinEmbedded
import SerinLifecycle
import SerinManifests
import UnixSignals

/// `kill -HUP`: a running `serin gateway` or `serin up` reads its `-f` manifests again and applies them, as
/// `serin apply -f` would. Resources are created or replaced, and one no longer in the files stays. Nothing
/// changes unless the whole result validates; the log says what changed or why nothing did.
///
/// SIGHUP's default action ends a process on the spot, with no drain, while nginx users send it to reload. So the
/// signal is trapped when the command starts, before it binds anything (`trapHangups`); one that comes before the
/// reloading piece runs is kept for it.
enum ManifestReload {
    /// Traps SIGHUP from now on; hand the sequence to `piece`.
    static func trapHangups() async -> UnixSignalsSequence {
        await UnixSignalsSequence(trapping: .sighup)
    }

    /// The piece that reloads on each SIGHUP of `hangups`.
    static func piece(
        hangups: UnixSignalsSequence, manifests: ManifestOptions, live: LiveConfiguration, label: String, logger: Logger
    ) -> ServicePiece {
        .loop("reload on SIGHUP") {
            for await _ in hangups {
                await reload(manifests, into: live, label: label, logger: logger)
            }
        }
    }

    private static func reload(_ manifests: ManifestOptions, into live: LiveConfiguration, label: String, logger: Logger) async {
        let files = manifests.files.joined(separator: ", ")
        let loaded = ManifestLoader.load(paths: manifests.files, recursive: manifests.recursive)
        if loaded.diagnostics.containsErrors {
            let why = loaded.diagnostics.map(\.description).joined(separator: "\n")
            return logger.error("\(label): SIGHUP: could not read \(files); nothing changed\n\(why)")
        }
        let report = await live.apply(loaded.sources)
        let notes = report.diagnostics.isEmpty ? "" : "\n" + report.diagnostics.joined(separator: "\n")
        if report.applied {
            logger.info("\(label): SIGHUP: applied \(files): \(report.results.joined(separator: ", "))\(notes)")
        } else {
            logger.error("\(label): SIGHUP: \(files) refused; nothing changed\(notes)")
        }
    }
}

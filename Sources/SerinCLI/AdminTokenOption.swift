import ArgumentParser
import Foundation
import SerinManifests
import SerinServer
import SerinSystem

/// `--admin-token-file PATH` or `SERIN_ADMIN_TOKEN`: the admin API's bearer token, read the same way by
/// the server that demands it and the commands that send it.
struct AdminTokenOption: ParsableArguments {
    static let environmentVariable = "SERIN_ADMIN_TOKEN"

    @Option(help: ArgumentHelp(
        "A file holding the admin API's bearer token (its first line); SERIN_ADMIN_TOKEN is read when this is not given.",
        valueName: "path"
    ))
    var adminTokenFile: String?

    /// Why no token could be read from where the user pointed, or why the listener cannot do without one.
    struct Unreadable: Error, CustomStringConvertible {
        let description: String
    }

    /// `SERIN_ADMIN_TOKEN` with the spaces around it trimmed; nil when it is not set.
    private static var fromEnvironment: String? {
        ProcessInfo.processInfo.environment[environmentVariable]?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether a token is given: a file named, or `SERIN_ADMIN_TOKEN` holding one.
    var isGiven: Bool { adminTokenFile != nil || Self.fromEnvironment?.isEmpty == false }

    /// `SERIN_ADMIN_TOKEN is set but empty` when it is (and no file is named): where a token is missing, the reason
    /// is that, not that nothing was set.
    var emptyVariable: String? {
        adminTokenFile == nil && Self.fromEnvironment?.isEmpty == true ? "\(Self.environmentVariable) is set but empty" : nil
    }

    /// Who may use an admin listener on `address`, checked before anything starts or is said to be served: a
    /// listener reachable from other machines without a token is refused, with why there is none.
    func access(servingOn address: HostPort, readRequiresToken: Bool) throws(Unreadable) -> AdminAccess {
        let access = AdminAccess(token: try resolve(), readRequiresToken: readRequiresToken)
        guard let problem = access.problem(servingOn: address.host, port: address.port) else { return access }
        throw Unreadable(description: emptyVariable.map { "\($0), so there is no admin token, and \(problem)" } ?? problem)
    }

    /// The token from the file when one is named, else from `SERIN_ADMIN_TOKEN`; nil when neither is set.
    func resolve() throws(Unreadable) -> String? {
        guard let path = adminTokenFile else {
            let value = Self.fromEnvironment
            return value?.isEmpty == false ? value : nil
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Unreadable(description: "cannot read --admin-token-file \(path): \(FileErrorText.reason(error))")
        }
        let token = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        if token.isEmpty { throw Unreadable(description: "--admin-token-file \(path) is empty; expected the token on its first line") }
        return token
    }
}

import NIOConcurrencyHelpers
import SerinCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The TLS contexts every HTTPS port serves now, and the certificate files they came from.
///
/// `install` swaps them in with a new route table; `reloadIfChanged` rebuilds them when a file's modification time
/// changes (the gateway polls it every few seconds). Either way only new handshakes see the change: an open
/// connection keeps the context it was accepted with. A reload that fails (a key half written, a certificate
/// that does not match its key) keeps the contexts in use and is retried at the next poll.
final class CertificateStore: Sendable {
    private struct State {
        var ports: [Int: PortTLS] = [:]
        var table: RouteTable = .empty
        /// Modification time of every file the contexts were built from, when they were built.
        var stamps: [String: FileStamp] = [:]
        var lastFailure: String?
    }

    private let state = NIOLockedValueBox(State())

    /// What a new table's HTTPS ports would serve; nothing changes yet. When the table's TLS servers and their
    /// files are those in use (a rollout changed only weights), the contexts in use are kept, not read again.
    func load(for table: RouteTable) throws(GatewayError) -> Loaded {
        let stamps = Self.stamps(of: table)
        let current = state.withLockedValue { ($0.table, $0.stamps, $0.ports) }
        if current.1 == stamps, Self.servers(of: current.0) == Self.servers(of: table) {
            return Loaded(table: table, ports: current.2, stamps: stamps)
        }
        return Loaded(table: table, ports: try GatewayTLS.contexts(for: table), stamps: stamps)
    }

    /// What a table's contexts are built from: each HTTPS port's servers, their hosts and TLS settings.
    private static func servers(of table: RouteTable) -> [Int: [TLSServerKey]] {
        table.listeners.filter { $0.value.terminatesTLS }.mapValues { listener in
            listener.servers.map { TLSServerKey(gateway: $0.gateway, hosts: $0.hosts.map(\.text), tls: $0.tls) }
        }
    }

    private struct TLSServerKey: Equatable {
        let gateway: ResourceName
        let hosts: [String]
        let tls: ServerTLS?
    }

    /// Contexts read by `load`, waiting to be installed.
    struct Loaded: Sendable {
        fileprivate let table: RouteTable
        fileprivate let ports: [Int: PortTLS]
        fileprivate let stamps: [String: FileStamp]
    }

    func install(_ loaded: Loaded) {
        state.withLockedValue { state in
            state.ports = loaded.ports
            state.table = loaded.table
            state.stamps = loaded.stamps
            state.lastFailure = nil
        }
    }

    /// The contexts of HTTPS port `declared`, nil for a plaintext port.
    func port(_ declared: Int) -> PortTLS? {
        state.withLockedValue { $0.ports[declared] }
    }

    /// Rebuilds every HTTPS port's contexts when one of their files changed since they were built.
    func reloadIfChanged() -> CertificateReload {
        let (table, stamps, lastFailure) = state.withLockedValue { ($0.table, $0.stamps, $0.lastFailure) }
        guard !stamps.isEmpty, Self.stamps(of: table) != stamps else { return .unchanged }
        do {
            let loaded = try load(for: table)
            state.withLockedValue { state in
                // A table installed meanwhile wins over this reload of the old one.
                guard state.stamps == stamps else { return }
                state.ports = loaded.ports
                state.stamps = loaded.stamps
                state.lastFailure = nil
            }
            return .reloaded(Array(loaded.stamps.keys).sorted())
        } catch {
            guard error.description != lastFailure else { return .unchanged }
            state.withLockedValue { $0.lastFailure = error.description }
            return .failed(error)
        }
    }

    private static func stamps(of table: RouteTable) -> [String: FileStamp] {
        var stamps: [String: FileStamp] = [:]
        for listener in table.listeners.values {
            for server in listener.servers {
                for file in server.tls?.credential.files ?? [] {
                    stamps[file] = FileStamp(path: file)
                }
            }
        }
        return stamps
    }
}

/// What tells a changed file from the one read: modification time, size and inode (a file replaced by a rename,
/// as Kubernetes updates a mounted Secret, has a new inode). A missing file has a stamp of its own.
struct FileStamp: Hashable, Sendable {
    let seconds: Int
    let nanoseconds: Int
    let size: Int
    let inode: UInt64

    init(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            self.seconds = -1
            self.nanoseconds = 0
            self.size = -1
            self.inode = 0
            return
        }
        #if canImport(Darwin)
        self.seconds = Int(info.st_mtimespec.tv_sec)
        self.nanoseconds = Int(info.st_mtimespec.tv_nsec)
        #else
        self.seconds = Int(info.st_mtim.tv_sec)
        self.nanoseconds = Int(info.st_mtim.tv_nsec)
        #endif
        self.size = Int(info.st_size)
        self.inode = UInt64(info.st_ino)
    }
}

/// What one poll of the certificate files did.
public enum CertificateReload: Sendable, Equatable {
    case unchanged
    /// New handshakes use the files listed, read again.
    case reloaded([String])
    /// A changed file could not be used: the contexts in use stay (reported once per distinct failure).
    case failed(GatewayError)
}

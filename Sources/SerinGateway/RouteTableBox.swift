import NIOConcurrencyHelpers
import SerinCore
import Synchronization

/// The live routing table: read once per request, replaced whole on reconfiguration.
///
/// Replacing it never touches requests in flight: each holds the route it resolved. Requests read it through
/// their loop's copy (`LoopContext.routeTable(_:)`), which checks the generation, an atomic, and takes the lock
/// only after a replacement: event loops on many cores share no lock per request.
public final class RouteTableBox: Sendable {
    private let current: NIOLockedValueBox<Versioned>
    /// `current`'s generation, stored after the table (under the lock), read without it.
    private let installed = Atomic<Int>(1)

    /// A table and the generation number it was installed as.
    public struct Versioned: Sendable {
        public let table: RouteTable
        public let generation: Int
    }

    public init(_ table: RouteTable = .empty) {
        current = NIOLockedValueBox(Versioned(table: table, generation: 1))
    }

    public var table: RouteTable { current.withLockedValue { $0.table } }
    public var versioned: Versioned { current.withLockedValue { $0 } }
    /// The generation of the table installed last: once `replace` returns, every reader sees its number.
    public var generation: Int { installed.load(ordering: .acquiring) }

    /// Installs `table`; returns its generation.
    @discardableResult
    public func replace(with table: RouteTable) -> Int {
        current.withLockedValue { value in
            value = Versioned(table: table, generation: value.generation + 1)
            installed.store(value.generation, ordering: .releasing)
            return value.generation
        }
    }
}

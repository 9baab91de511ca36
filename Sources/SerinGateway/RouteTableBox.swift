import NIOConcurrencyHelpers
import SerinCore

/// The live routing table: read once per request, replaced whole on reconfiguration.
///
/// Replacing it never touches requests in flight: each holds the route it resolved.
public final class RouteTableBox: Sendable {
    private let current: NIOLockedValueBox<Versioned>

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

    /// Installs `table`; returns its generation.
    @discardableResult
    public func replace(with table: RouteTable) -> Int {
        current.withLockedValue { value in
            value = Versioned(table: table, generation: value.generation + 1)
            return value.generation
        }
    }
}

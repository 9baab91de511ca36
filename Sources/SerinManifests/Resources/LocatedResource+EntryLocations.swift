extension LocatedResource {
    /// Locations of the entries of the list at `path`, in order (`spec.gateways[0]`, `[1]`...).
    func entryLocations(of path: String) -> [SourceLocation] {
        let prefix = path + "["
        return fieldLocations
            .compactMap { key, location -> (Int, SourceLocation)? in
                guard key.hasPrefix(prefix), key.hasSuffix("]"),
                    let index = Int(key.dropFirst(prefix.count).dropLast())
                else { return nil }
                return (index, location)
            }
            .sorted { $0.0 < $1.0 }
            .map(\.1)
    }
}

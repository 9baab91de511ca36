/// The decoded children of one mapping, by key.
struct Fields {
    let owner: Field
    let children: [String: Field]

    subscript(key: String) -> Field? { children[key] }
}

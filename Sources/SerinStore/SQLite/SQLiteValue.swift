/// A value bound to a statement parameter, so callers bind typed values instead of calling `sqlite3_bind_*`.
enum SQLiteValue {
    case integer(Int64)
    case real(Double)
    case text(String)
    case null
}

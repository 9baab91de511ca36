/// Times as the API and `-o json` write them: RFC 3339 in UTC (`2026-12-02T03:04:05.25Z`), readable by people and
/// by every JSON consumer, instead of a number or Swift's `Duration` internals. Pure calendar arithmetic on the
/// proleptic Gregorian calendar, no clock and no Foundation.
public enum RFC3339 {
    /// `seconds` and `nanoseconds` since the Unix epoch as RFC 3339 in UTC; the fraction has only the digits it needs.
    public static func format(seconds: Int64, nanoseconds: Int = 0) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = civil(fromDays: days)
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
            + "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        if nanoseconds > 0 {
            var fraction = pad(nanoseconds, 9)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }

    /// Seconds since the Unix epoch as RFC 3339, to the microsecond.
    public static func format(unixSeconds: Double) -> String {
        let micros = (unixSeconds * 1_000_000).rounded()
        let seconds = Int64((micros / 1_000_000).rounded(.down))
        return format(seconds: seconds, nanoseconds: Int(micros - Double(seconds) * 1_000_000) * 1_000)
    }

    /// An instant taken by a Unix-epoch clock (`WallClock`) as RFC 3339, to the nanosecond.
    public static func format(_ instant: RolloutInstant) -> String {
        let (seconds, attoseconds) = instant.sinceEpoch.components
        let nanoseconds = attoseconds / 1_000_000_000
        return nanoseconds >= 0
            ? format(seconds: seconds, nanoseconds: Int(nanoseconds))
            : format(seconds: seconds - 1, nanoseconds: Int(1_000_000_000 + nanoseconds))
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` as seconds and nanoseconds since the Unix epoch; nil when the
    /// text is not RFC 3339.
    public static func parse(_ text: String) -> (seconds: Int64, nanoseconds: Int)? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + digits] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += digits
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2), expect("Tt "),
            let hour = number(2), expect(":"), let minute = number(2), expect(":"), let second = number(2),
            (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var nanoseconds = 0
        if expect(".") {
            var digits = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                if digits < 9 { nanoseconds = nanoseconds * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 9) { nanoseconds *= 10 }
        }
        var offset = 0
        if !expect("Zz") {
            guard index < bytes.count else { return nil }
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            guard expect("+-"), let hours = number(2), expect(":"), let minutes = number(2), hours < 24, minutes < 60 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        }
        guard index == bytes.count else { return nil }
        let seconds = days(fromYear: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second - offset)
        return (seconds, nanoseconds)
    }

    /// RFC 3339 text as seconds since the Unix epoch.
    public static func unixSeconds(_ text: String) -> Double? {
        parse(text).map { Double($0.seconds) + Double($0.nanoseconds) / 1e9 }
    }

    /// RFC 3339 text as an instant of a Unix-epoch clock.
    public static func instant(_ text: String) -> RolloutInstant? {
        parse(text).map { RolloutInstant(sinceEpoch: .seconds($0.seconds) + .nanoseconds($0.nanoseconds)) }
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a date: years counted from March, so the leap day ends each 4-year cycle.
    static func days(fromYear year: Int, month: Int, day: Int) -> Int64 {
        let shiftedYear = Int64(month <= 2 ? year - 1 : year)
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = Int64((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1)
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` after 1970-01-01: the inverse of `days(fromYear:month:day:)`.
    static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        return (Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0), month, day)
    }
}

/// A time field written as RFC 3339 in JSON and read back from RFC 3339 or, as servers before it wrote it, from
/// seconds since the Unix epoch; in Swift it stays seconds since the Unix epoch.
@propertyWrapper
public struct RFC3339Time: Codable, Hashable, Sendable {
    public var wrappedValue: Double

    public init(wrappedValue: Double) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let seconds = try? container.decode(Double.self) {
            wrappedValue = seconds
        } else {
            let text = try container.decode(String.self)
            guard let seconds = RFC3339.unixSeconds(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected an RFC 3339 time, got \"\(text)\"")
            }
            wrappedValue = seconds
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(RFC3339.format(unixSeconds: wrappedValue))
    }
}

/// `RFC3339Time` for a time that may be absent: left out of the JSON when nil.
@propertyWrapper
public struct OptionalRFC3339Time: Codable, Hashable, Sendable {
    public var wrappedValue: Double?

    public init(wrappedValue: Double?) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try RFC3339Time(from: decoder).wrappedValue
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(RFC3339Time(wrappedValue: wrappedValue)) } else { try container.encodeNil() }
    }
}

extension KeyedDecodingContainer {
    /// An absent optional time is nil, as an absent optional of any other type.
    public func decode(_ type: OptionalRFC3339Time.Type, forKey key: Key) throws -> OptionalRFC3339Time {
        try decodeIfPresent(type, forKey: key) ?? OptionalRFC3339Time(wrappedValue: nil)
    }
}

extension KeyedEncodingContainer {
    /// A nil optional time is left out, as a nil optional of any other type.
    public mutating func encode(_ value: OptionalRFC3339Time, forKey key: Key) throws {
        if value.wrappedValue != nil { try encodeIfPresent(value, forKey: key) }
    }
}

extension Duration {
    /// The duration in seconds, with its fraction: what JSON and arithmetic on rates want.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// The duration in whole milliseconds, the fraction dropped: what a message, a timestamp or a bucket counts.
    @inlinable public var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

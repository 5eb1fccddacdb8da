/// Writes compact JSON text straight into a byte buffer.
///
/// REST responses are built with this instead of `JSONEncoder`: it allocates one growing buffer per response and
/// no intermediate objects, which matters on the hot read paths. Commas are placed automatically; the caller only
/// opens and closes containers and writes keys and values in order.
public struct JSONWriter: Sendable {
    /// The JSON text written so far, as UTF-8.
    public private(set) var bytes: [UInt8]
    // True when the next element in the current container is its first (no comma before it).
    private var atFirst = true

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Opens an object (`{`).
    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        atFirst = true
    }

    /// Closes the current object (`}`).
    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        atFirst = false
    }

    /// Opens an array (`[`).
    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        atFirst = true
    }

    /// Closes the current array (`]`).
    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        atFirst = false
    }

    /// Writes an object key; the next value written belongs to it.
    public mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        atFirst = true
    }

    /// Writes a string value, or `null` for nil.
    public mutating func value(_ text: String?) {
        separate()
        if let text { appendQuoted(text) } else { appendRaw("null") }
    }

    /// Writes an integer value, or `null` for nil.
    public mutating func value(_ number: Int64?) {
        separate()
        if let number { appendRaw(String(number)) } else { appendRaw("null") }
    }

    /// Writes an integer value.
    public mutating func value(_ number: Int) { value(Int64(number)) }

    /// Writes a boolean value.
    public mutating func value(_ flag: Bool) {
        separate()
        appendRaw(flag ? "true" : "false")
    }

    /// Writes `null`.
    public mutating func null() {
        separate()
        appendRaw("null")
    }

    /// Writes already-serialized JSON text as one value (the caller guarantees it is valid JSON).
    public mutating func rawValue(_ json: String) {
        separate()
        appendRaw(json)
    }

    /// Writes `"name": value` for a string (null when nil).
    public mutating func field(_ name: String, _ text: String?) {
        key(name)
        value(text)
    }

    /// Writes `"name": value` for an integer (null when nil).
    public mutating func field(_ name: String, _ number: Int64?) {
        key(name)
        value(number)
    }

    /// Writes `"name": value` for a boolean.
    public mutating func field(_ name: String, _ flag: Bool) {
        key(name)
        value(flag)
    }

    /// The JSON text as a String (for tests and small documents).
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    // MARK: Not public

    private mutating func separate() {
        if atFirst { atFirst = false } else { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func appendRaw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func appendQuoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case 0x0A: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
            case 0x00..<0x20:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                bytes.append(JSONWriter.hex[Int(byte >> 4)])
                bytes.append(JSONWriter.hex[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

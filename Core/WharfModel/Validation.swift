// MARK: Not public

/// The field rules of the commerce model, shared by the value types' `validated()` and by `RecordCodec`.
/// Lengths count Unicode scalars, the unit every other system in the chain (SQL, JSON, XML) agrees on.
enum Rules {
    static func sku(_ sku: String, field: String = "sku") throws(FieldError) {
        var count = 0
        for scalar in sku.unicodeScalars {
            count += 1
            if scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0) {
                throw FieldError(
                    field: field,
                    reason: "\(field) '\(printable(sku))' contains a control character (U+\(hex(scalar.value))); remove it")
            }
            if scalar == "/" {
                throw FieldError(
                    field: field, reason: "\(field) '\(printable(sku))' contains '/', which SKUs may not (it would break URLs)")
            }
        }
        if count == 0 { throw FieldError(field: field, reason: "\(field) is empty; a SKU needs 1 to 64 characters") }
        if count > 64 {
            throw FieldError(field: field, reason: "\(field) must be 1 to 64 characters, got \(count)")
        }
    }

    static func length(_ value: String, field: String, max: Int) throws(FieldError) {
        var count = 0
        for _ in value.unicodeScalars { count += 1 }
        if count == 0 { throw FieldError(field: field, reason: "\(field) is empty; it needs 1 to \(max) characters") }
        if count > max { throw FieldError(field: field, reason: "\(field) must be 1 to \(max) characters, got \(count)") }
    }

    static func sourceCode(_ code: String, field: String) throws(FieldError) {
        var count = 0
        for b in code.utf8 {
            count += 1
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == 0x2E || b == 0x5F || b == 0x2D
            if !ok {
                throw FieldError(
                    field: field,
                    reason: "\(field) '\(printable(code))' may only contain letters A-Z a-z, digits, '.', '_' and '-'")
            }
        }
        if count == 0 { throw FieldError(field: field, reason: "\(field) is empty; a source code needs 1 to 64 characters") }
        if count > 64 { throw FieldError(field: field, reason: "\(field) must be 1 to 64 characters, got \(count)") }
    }

    static func attributeName(_ name: String) throws(FieldError) {
        var count = 0
        for scalar in name.unicodeScalars {
            count += 1
            if scalar.value < 0x20 || scalar.value == 0x7F {
                throw FieldError(
                    field: "attr.\(name)",
                    reason: "attribute name '\(printable(name))' contains a control character (U+\(hex(scalar.value)))")
            }
        }
        if count == 0 { throw FieldError(field: "attr.", reason: "attribute name is empty; write the field as attr.<name>") }
        if count > 128 {
            throw FieldError(field: "attr.\(name)", reason: "attribute name must be 1 to 128 characters, got \(count)")
        }
    }

    /// A value as it can be shown inside quotes in a one-line message: control characters escaped, long values cut.
    static func printable(_ value: String) -> String {
        var out = ""
        var n = 0
        for scalar in value.unicodeScalars {
            n += 1
            if n > 80 {
                out += "…"
                break
            }
            if scalar.value < 0x20 || scalar.value == 0x7F { out += "\\u{\(hex(scalar.value))}" } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return s.count < 4 ? String(repeating: "0", count: 4 - s.count) + s : s
    }
}

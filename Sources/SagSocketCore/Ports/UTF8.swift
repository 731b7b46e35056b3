// UTF8.swift: the UTF-8 codec functions the textual ports use: lengths,
// continuation bytes (with the Unicode well-formedness table's limits),
// decoding, validation, encoding.

import CSagSocketShims

@inline(__always)
func utf8Length(_ b0: UInt8) -> Int {
    switch b0 {
    case 0x00...0x7F: return 1
    case 0xC2...0xDF: return 2
    case 0xE0...0xEF: return 3
    case 0xF0...0xF4: return 4
    default: return 0  // a continuation byte or an invalid lead
    }
}

/// Whether `b` may stand at `index` (1...3) after the lead byte `b0`.
@inline(__always)
func isContinuation(_ b0: UInt8, _ b: UInt8, at index: Int) -> Bool {
    if index == 1 {
        switch b0 {
        case 0xE0: return (0xA0...0xBF).contains(b)
        case 0xED: return (0x80...0x9F).contains(b)
        case 0xF0: return (0x90...0xBF).contains(b)
        case 0xF4: return (0x80...0x8F).contains(b)
        default: break
        }
    }
    return (0x80...0xBF).contains(b)
}

/// Decodes one well-formed UTF-8 character; nil when malformed.
func decodeUTF8(_ p: UnsafeRawPointer, _ count: Int) -> (UInt32, Int)? {
    let b0 = p.load(as: UInt8.self)
    let need = utf8Length(b0)
    guard need > 0, need <= count else { return nil }
    if need == 1 { return (UInt32(b0), 1) }
    var scalar = UInt32(b0) & (0xFF >> (need + 1))
    for i in 1..<need {
        let b = p.load(fromByteOffset: i, as: UInt8.self)
        guard isContinuation(b0, b, at: i) else { return nil }
        scalar = (scalar << 6) | (UInt32(b) & 0x3F)
    }
    return (scalar, need)
}

func validUTF8(_ p: UnsafeRawPointer, _ count: Int) -> Bool {
    var i = 0
    while i < count {
        if p.load(fromByteOffset: i, as: UInt8.self) < 0x80 { i += 1; continue }
        guard let (_, n) = decodeUTF8(p + i, count - i) else { return false }
        i += n
    }
    return true
}

/// The length of the line at `p` (the bytes before the first LF among
/// `count`) when it needs no decoding: all ASCII and, with `noCR`, without a
/// CR (a CR ends a line unless the eol style is none). Nil when there is no
/// LF or the line needs decoding. One pass, sixteen bytes a step, in C
/// (sag_plain_line_length, shims.h): Swift's SIMD comparisons become a
/// byte-by-byte loop here.
@inline(__always)
@inlinable
func asciiLineLength(_ p: UnsafeRawPointer, _ count: Int, noCR: Bool) -> Int? {
    // Two inlined copies, each with its stop bytes a constant.
    let n = noCR ? sag_plain_line_length(p, count, 1) : sag_plain_line_length(p, count, 0)
    return n >= 0 ? n : nil
}

func isScalar(_ c: UInt32) -> Bool { c <= 0x10FFFF && !(0xD800...0xDFFF).contains(c) }

func appendUTF8(_ c: UInt32, to out: inout Scratch) {
    switch c {
    case 0..<0x80:
        out.append(byte: UInt8(c))
    case 0x80..<0x800:
        out.append(byte: UInt8(0xC0 | (c >> 6)))
        out.append(byte: UInt8(0x80 | (c & 0x3F)))
    case 0x800..<0x10000:
        out.append(byte: UInt8(0xE0 | (c >> 12)))
        out.append(byte: UInt8(0x80 | ((c >> 6) & 0x3F)))
        out.append(byte: UInt8(0x80 | (c & 0x3F)))
    default:
        out.append(byte: UInt8(0xF0 | (c >> 18)))
        out.append(byte: UInt8(0x80 | ((c >> 12) & 0x3F)))
        out.append(byte: UInt8(0x80 | ((c >> 6) & 0x3F)))
        out.append(byte: UInt8(0x80 | (c & 0x3F)))
    }
}

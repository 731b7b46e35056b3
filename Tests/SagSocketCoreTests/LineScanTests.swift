// LineScanTests.swift: the sixteen-bytes-a-step scan a text port's get-line
// takes its fast path on (asciiLineLength, UTF8.swift; sag_plain_line_length in
// shims.h) must answer as a byte-by-byte scan does, wherever the bytes that
// matter lie (the last step overlaps the one before it).

@testable import SagSocketCore
import Testing

@Suite("line scans")
struct LineScanTests {
    /// The byte-by-byte answer: the length before the first LF when no byte
    /// before it is 0x80 or above (or a CR, with noCR); nil otherwise.
    func naive(_ bytes: [UInt8], noCR: Bool) -> Int? {
        for (i, b) in bytes.enumerated() {
            if b == 0x0A { return i }
            if b >= 0x80 || (noCR && b == 0x0D) { return nil }
        }
        return nil
    }

    @Test("asciiLineLength agrees with a byte-by-byte scan for every length to 40, every position of a LF, and every position of a CR or a high byte before or after it")
    func agreesWithNaive() {
        var checked = 0
        for length in 0...40 {
            let plain = [UInt8](repeating: 0x61, count: length)
            for lf in [nil] + Array(0..<length) {
                var line = plain
                if let lf { line[lf] = 0x0A }
                var cases: [[UInt8]] = [line]
                for pos in 0..<length where pos != lf {
                    for bad: UInt8 in [0x0D, 0x80, 0xC3, 0xFF, 0x0C, 0x0E, 0x7F, 0x0A] {
                        var b = line
                        b[pos] = bad
                        cases.append(b)
                    }
                }
                for b in cases {
                    for noCR in [false, true] {
                        let got = b.withUnsafeBytes { raw in
                            raw.baseAddress.flatMap { asciiLineLength($0, b.count, noCR: noCR) }
                        }
                        #expect(got == naive(b, noCR: noCR), "length \(length), noCR \(noCR): \(b)")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked > 100_000)
    }
}

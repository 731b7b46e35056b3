// LineScanTests.swift: the eight-bytes-a-step scans a text port's get-line
// takes its fast path on (UTF8.swift) must answer as a byte-by-byte scan
// does, wherever the byte that matters lies (the last step overlaps).

@testable import SagSocketCore
import Testing

@Suite("line scans")
struct LineScanTests {
    func naive(_ bytes: [UInt8]) -> Bool { bytes.allSatisfy { $0 < 0x80 && $0 != 0x0D } }

    @Test("isPlainASCIIWithoutCR agrees with a byte-by-byte scan for every length to 40 and every position of a CR or a high byte")
    func agreesWithNaive() {
        for length in 0...40 {
            let plain = [UInt8](repeating: 0x61, count: length)
            var cases: [[UInt8]] = [plain]
            for pos in 0..<length {
                for bad: UInt8 in [0x0D, 0x80, 0xC3, 0xFF, 0x0C, 0x0E, 0x7F] {
                    var b = plain
                    b[pos] = bad
                    cases.append(b)
                }
            }
            for b in cases {
                let got = b.withUnsafeBytes { raw in
                    raw.baseAddress.map { isPlainASCIIWithoutCR($0, b.count) } ?? true
                }
                #expect(got == naive(b), "length \(length): \(b)")
            }
        }
    }
}

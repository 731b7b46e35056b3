// decode.swift: the libFuzzer target of the text decoders (UTF-8 and
// Latin-1, every end-of-line style, replace and raise modes).
//
// Oracle: reading the same bytes in any chunking gives the same text as
// reading them all at once. The input is
//
//   [mode] [style] [n] [n chunk sizes] [the bytes on the wire ...]
//
// mode: bit 0 the codec (UTF-8, Latin-1), bit 1 the error mode (replace,
// raise), the rest mod 7 the eol style; style: how the text is read (get-char,
// lookahead then get-char, get-line, get-string-n of 1..8, get-string-all).
// The bytes go into one end of a socket pair, which is then shut for
// writing; a text port over the other end reads them, once with no limit on
// what a receive brings, once with the receives cut to the chunk sizes (the
// core's syscall seam, SyscallMock, caps each recv). The two readings are
// turned into one event list each (text, line ends, decoding errors) and
// must be equal, with the runs of text merged (a read-once get-string may
// cut the text anywhere, so only its concatenation is compared).
//
// Every input is also read with the reads mixed (style 5: the read kind
// changes from one read to the next, starting from the style byte / 5, in
// read mode full so where each read stops does not depend on the
// chunking), whole and chunked, which must agree; and its text (without
// the decoding errors, and without a last line end, which get-line adds to
// a last line that has none) must be get-char's: a read that fails on
// malformed bytes loses no character whatever read comes next.
//
// Built by Tests/fuzz/build.sh against a debug build of SagSocketCore
// (debug builds have the seam) with -sanitize=fuzzer.

import Glibc
@testable import SagSocketCore

enum Event: Equatable {
    case text([UInt8])
    case lineEnd
    case decodingError
    case otherError(String)
}

/// Appends, merging runs of text.
func add(_ e: Event, to events: inout [Event]) {
    if case .text(let t) = e, case .text(let prev)? = events.last {
        events[events.count - 1] = .text(prev + t)
    } else if case .text(let t) = e, t.isEmpty {
        return
    } else {
        events.append(e)
    }
}

func utf8(_ c: UInt32) -> [UInt8] {
    var out: [UInt8] = []
    if c < 0x80 { out = [UInt8(c)] }
    else if c < 0x800 { out = [UInt8(0xC0 | (c >> 6)), UInt8(0x80 | (c & 0x3F))] }
    else if c < 0x10000 {
        out = [UInt8(0xE0 | (c >> 12)), UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
    } else {
        out = [UInt8(0xF0 | (c >> 18)), UInt8(0x80 | ((c >> 12) & 0x3F)),
               UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
    }
    return out
}

/// Reads `data` through a text port; `chunks` caps the receives in order
/// (nil: no cap).
func decode(_ data: [UInt8], codec: TextPort.Codec, eol: TextPort.EOLStyle,
            mode: TextPort.ErrorMode, style: Int, chunks: [Int]?, mixSeed: Int = 0) -> [Event] {
    var fds: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                     0, &fds) == 0 else { fatalError("socketpair failed") }
    let written = data.withUnsafeBytes { b in b.count == 0 ? 0 : write(fds[1], b.baseAddress, b.count) }
    guard written == data.count else { fatalError("short write \(written) of \(data.count)") }
    Glibc.shutdown(fds[1], Int32(SHUT_WR))
    let socket = Socket(adopting: fds[0], family: .unix, socketType: .stream, socketProtocol: .default)
    defer {
        socket.close()
        Glibc.close(fds[1])
    }
    let binary = SocketPort(socket)
    guard let port = try? TextPort(binary, codec: codec, eolStyle: eol, errorMode: mode) else {
        fatalError("transcoded port failed")
    }
    if style == 5 { try? binary.setReadMode(.full) }
    var events: [Event] = []
    func run() {
        // Every read consumes at least one byte or ends the stream, so
        // this bounds the loop (errors consume the bad bytes).
        for i in 0..<(data.count * 2 + 8) {
            let kind = style == 5 ? (mixSeed + i) % 5 : style
            let count = style == 5 ? 1 + i % 4 : 1 + (data.count % 8)
            do {
                switch kind {
                case 0, 1:
                    if kind == 1 {
                        let peek: UInt32?
                        do {
                            peek = try port.lookaheadChar()
                        } catch where error.kind == .ioDecoding {
                            // lookahead raises without consuming; the
                            // get-char that follows raises too and consumes.
                            do {
                                let c = try port.getChar()
                                add(.otherError("lookahead raised, get-char gave \(String(describing: c))"), to: &events)
                                return
                            } catch where error.kind == .ioDecoding {
                                add(.decodingError, to: &events)
                                continue
                            }
                        }
                        let c = try port.getChar()
                        if peek != c { add(.otherError("lookahead \(String(describing: peek)) then \(String(describing: c))"), to: &events) }
                        guard let c else { return }
                        add(c == 0x0A ? .lineEnd : .text(utf8(c)), to: &events)
                    } else {
                        guard let c = try port.getChar() else { return }
                        add(c == 0x0A ? .lineEnd : .text(utf8(c)), to: &events)
                    }
                case 2:
                    guard let line = try port.readLineUnsafe() else { return }
                    // get-line splits at linefeeds; the text between is
                    // compared as get-char's events would have it.
                    add(.text(Array(line)), to: &events)
                    add(.lineEnd, to: &events)
                case 3:
                    guard let s = try port.readStringUnsafe(count: count) else { return }
                    for b in s { if b == 0x0A { add(.lineEnd, to: &events) } else { add(.text([b]), to: &events) } }
                default:
                    guard let s = try port.readAllUnsafe() else { return }
                    for b in s { if b == 0x0A { add(.lineEnd, to: &events) } else { add(.text([b]), to: &events) } }
                }
            } catch {
                if error.kind == .ioDecoding { add(.decodingError, to: &events) } else {
                    add(.otherError("\(error)"), to: &events)
                    return
                }
            }
        }
        add(.otherError("no end of stream"), to: &events)
    }
    if let chunks {
        SyscallMock.run { mock in
            for k in chunks { mock.script(.recv, .partial(k)) }
            run()
        }
    } else {
        run()
    }
    return events
}

/// get-line drops the line end of a last line that has none: the events of
/// the two ways differ only there, so compare get-line with get-line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
    guard n >= 3 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: p, count: n))
    let codec: TextPort.Codec = input[0] & 1 == 0 ? .utf8 : .latin1
    let mode: TextPort.ErrorMode = input[0] & 2 == 0 ? .replace : .raise
    let eol = TextPort.EOLStyle(rawValue: Int32((input[0] >> 2) % 7))!
    let style = Int(input[1] % 5)
    let nchunks = min(Int(input[2] % 32), n - 3)
    let chunks = input[3..<(3 + nchunks)].map { 1 + Int($0 % 16) }
    let data = Array(input[(3 + nchunks)...])
    let whole = decode(data, codec: codec, eol: eol, mode: mode, style: style, chunks: nil)
    let cut = decode(data, codec: codec, eol: eol, mode: mode, style: style, chunks: chunks)
    if whole != cut {
        print("decode: chunked reading differs (codec \(codec), eol \(eol), mode \(mode), style \(style), chunks \(chunks))")
        print("  data  \(data)")
        print("  whole \(whole)")
        print("  cut   \(cut)")
        fflush(stdout); abort()
    }
    for e in whole {
        if case .otherError(let m) = e {
            print("decode: unexpected failure \(m) (codec \(codec), eol \(eol), mode \(mode), style \(style))")
            print("  data \(data)")
            fflush(stdout); abort()
        }
    }
    let seed = Int(input[1] / 5)
    let mixed = decode(data, codec: codec, eol: eol, mode: mode, style: 5, chunks: nil, mixSeed: seed)
    let mixedCut = decode(data, codec: codec, eol: eol, mode: mode, style: 5, chunks: chunks, mixSeed: seed)
    let chars = style == 0 ? whole : decode(data, codec: codec, eol: eol, mode: mode, style: 0, chunks: nil)
    if mixed != mixedCut || textOnly(mixed) != textOnly(chars) {
        print("decode: mixed reads differ (codec \(codec), eol \(eol), mode \(mode), seed \(seed), chunks \(chunks))")
        print("  data     \(data)")
        print("  get-char \(chars)")
        print("  mixed    \(mixed)")
        print("  cut      \(mixedCut)")
        fflush(stdout); abort()
    }
    return 0
}

/// The text and line ends of an event list: decoding errors left out (a
/// get-line that fails reports the error before the characters it kept),
/// runs of text merged, a last line end dropped.
func textOnly(_ events: [Event]) -> [Event] {
    var out: [Event] = []
    for e in events where e != .decodingError { add(e, to: &out) }
    if out.last == .lineEnd { out.removeLast() }
    return out
}

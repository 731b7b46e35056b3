// InterruptedSyscallTests.swift: EINTR, as Guile's collector causes it
// (docs/hosts.md): a signal handler installed without SA_RESTART makes
// blocked system calls fail with EINTR. The library must retry them with the
// remaining time recomputed, so the calls neither fail nor wait longer.
// (This test process installs its own SIGUSR1 handler; the library never
// touches signal dispositions.)

import Glibc
import SagSocketCore
import Synchronization
import Testing

private let signalsSeen = Atomic<Int>(0)

private func installHandler() {
    var sa = sigaction()
    sa.__sigaction_handler.sa_handler = { _ in signalsSeen.add(1, ordering: .relaxed) }
    sigemptyset(&sa.sa_mask)
    sa.sa_flags = 0  // no SA_RESTART: interrupted calls return EINTR
    sigaction(SIGUSR1, &sa, nil)
}

/// Test threads start from the test runner's threads, which block signals.
private func acceptSignals() {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGUSR1)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

@Suite("EINTR from signals")
struct InterruptedSyscallTests {
    @Test("a read timeout still expires, not before its time, while signals keep interrupting the wait")
    func readTimeoutUnderSignals() throws {
        installHandler()
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        try client.setReadTimeout(micros: 300_000)
        // (kind, µs taken, signals the thread handled before its recv returned)
        let outcome = Box<(SocketError.Kind?, Int64, Int)>((nil, 0, 0))
        let done = Atomic<Bool>(false)
        let t = OSThread {
            acceptSignals()
            let before = signalsSeen.load(ordering: .relaxed)
            var kind: SocketError.Kind? = nil
            let took = elapsedMicros { kind = expectFailure(.readTimeout) { _ = try client.recvString() }?.kind }
            outcome.set((kind, took, signalsSeen.load(ordering: .relaxed) - before))
            done.store(true, ordering: .releasing)
        }
        // Signal every 10 ms until the recv ends (bounded: 500 tries). A
        // loaded machine may sleep longer than asked, and signals sent while
        // one is pending merge, so the test counts what the wait handled
        // rather than expecting every signal sent.
        var tries = 0
        while !done.load(ordering: .acquiring) && tries < 500 {
            sleepMillis(10)
            t.kill(SIGUSR1)
            tries += 1
        }
        t.join()
        #expect(outcome.get.2 >= 2, "the wait was interrupted \(outcome.get.2) times")
        #expect(outcome.get.0 == .readTimeout)
        // Not before the timeout, and it ends (generously: not a latency test).
        #expect(outcome.get.1 >= 300_000 && outcome.get.1 < 5_000_000, "took \(outcome.get.1) µs")
    }

    @Test("a blocked recv and a blocked select survive signals and get their data")
    func dataAfterSignals() throws {
        installHandler()
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let got = Box<String?>(nil)
        let t = OSThread {
            acceptSignals()
            _ = try? Select.ready([client], for: .read, timeoutMicros: 5_000_000, operation: "socket-read-select")
            got.set(try? client.recvString())
        }
        for _ in 0..<10 {
            sleepMillis(10)
            t.kill(SIGUSR1)
        }
        #expect(try accepted.sendString("after signals") == 13)
        t.join()
        #expect(got.get == "after signals")
    }
}

@Suite("signal interrupts (SignalInterrupts: a host's Ctrl-C)")
struct SignalInterruptTests {
    @Test("with signal interrupts on, a signal ends a blocked recv with .interrupted and errno EINTR; data sent afterwards is still received")
    func recvEndsOnSignal() throws {
        installHandler()
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let outcome = Box<(SocketError.Kind?, Int32, Bool)>((nil, 0, false))
        let started = Atomic<Bool>(false)
        let t = OSThread {
            acceptSignals()
            let was = SignalInterrupts.set(true)
            started.store(true, ordering: .releasing)
            let e = expectFailure(.interrupted) { _ = try client.recvString() }
            outcome.set((e?.kind, e?.errno ?? 0, e?.socket === client))
            SignalInterrupts.set(was)
        }
        while !started.load(ordering: .acquiring) { sleepMillis(1) }
        // Signal until the thread's recv ends (bounded: 500 tries of 10 ms).
        var tries = 0
        while outcome.get.0 == nil && tries < 500 {
            sleepMillis(10)
            t.kill(SIGUSR1)
            tries += 1
        }
        t.join()
        #expect(outcome.get.0 == .interrupted)
        #expect(outcome.get.1 == EINTR)
        #expect(outcome.get.2, "the error names the socket")
        #expect(try accepted.sendString("still here") == 10)
        #expect(try client.recvString() == "still here")
    }

    @Test("the setting is per thread and off by default; set returns the previous value")
    func perThread() throws {
        #expect(SignalInterrupts.enabled == false)
        #expect(SignalInterrupts.set(true) == false)
        #expect(SignalInterrupts.enabled)
        let other = Box<Bool>(true)
        let t = OSThread { other.set(SignalInterrupts.enabled) }
        t.join()
        #expect(other.get == false)
        #expect(SignalInterrupts.set(false) == true)
        #expect(SignalInterrupts.enabled == false)
    }
}

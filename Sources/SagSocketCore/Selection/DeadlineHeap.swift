// DeadlineHeap.swift: the per-socket timeouts of a selector, soonest first
// (Selector.swift keeps one; an entry stays valid while its slot's
// generation matches).

/// A binary min-heap of (deadline, slot, generation).
struct DeadlineHeap {
    struct Node {
        let deadline: Int64
        let slot: Int32
        let generation: UInt32
    }

    private var nodes: [Node] = []

    var count: Int { nodes.count }
    var first: Node? { nodes.first }

    mutating func push(_ n: Node) {
        nodes.append(n)
        var i = nodes.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if nodes[parent].deadline <= nodes[i].deadline { break }
            nodes.swapAt(parent, i)
            i = parent
        }
    }

    mutating func removeFirst() {
        guard !nodes.isEmpty else { return }
        let last = nodes.removeLast()
        if nodes.isEmpty { return }
        nodes[0] = last
        siftDown(0)
    }

    /// Removes the nodes `stale` accepts and restores the heap order: O(n).
    mutating func removeAll(where stale: (Node) -> Bool) {
        nodes.removeAll(where: stale)
        var i = nodes.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < nodes.count && nodes[l].deadline < nodes[m].deadline { m = l }
            if r < nodes.count && nodes[r].deadline < nodes[m].deadline { m = r }
            if m == i { return }
            nodes.swapAt(i, m)
            i = m
        }
    }
}

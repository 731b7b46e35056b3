"""Every Scheme host layer exports exactly the procedures of the host
contract (bindings/scheme/host-contract.md), no more and no fewer.

    python3 check_host_contract.py CONTRACT HOST-LAYER...

Prints one line per host layer; exits 1 when one differs."""
import re
import sys


def contract(path):
    names = re.findall(r"^\| `(%[^`]+)` \|", open(path).read(), re.M)
    return set(names)


def exports(path):
    text = open(path).read()
    m = re.search(r"\(export(.*?)\)\s*\(import", text, re.S)
    if not m:
        sys.exit(f"{path}: no (export ...) clause before (import ...)")
    clause = re.sub(r";[^\n]*", "", m.group(1))
    return {w for w in clause.split() if w.startswith("%")}


def main():
    want = contract(sys.argv[1])
    bad = 0
    for layer in sys.argv[2:]:
        got = exports(layer)
        missing, extra = sorted(want - got), sorted(got - want)
        if missing or extra:
            bad = 1
            print(f"FAIL {layer}: missing {missing or 'none'}, not in the contract {extra or 'none'}")
        else:
            print(f"ok   {layer}: exports the {len(want)} procedures of the contract")
    sys.exit(bad)


if __name__ == "__main__":
    main()

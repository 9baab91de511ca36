#!/usr/bin/env python3
"""Reads callgrind's dumps for scripts/instructions-gateway.sh (Python 3 standard library only).

  functions REQUESTS TOP FILE...   the TOP functions by their own instructions per request (callees apart), with
                                   their I1 misses: "IR<TAB>MISSES<TAB>NAME" lines
  footprint REQUESTS FILE...       the code a request runs through: "LINES<TAB>PAGES", the 64-byte lines of code
                                   executed on at least half the requests and the 4 KiB pages they lie on
  modules REQUESTS FILE...         that code by whose it is: "KIB<TAB>MODULE" lines, largest first; a line goes to the
                                   Swift module of the function it belongs to (Swift for the standard library, the
                                   Swift runtime for swift_* and the runtime's C++, libdispatch for the _dispatch_*
                                   linked into the binary), else to the library it lies in
  order REQUESTS FILE...           a link order for gold's --section-ordering-file: ".text.NAME" for every function
                                   that ran at least once per 20 requests, the most instructions first

callgrind_annotate 3.19 charges a zeroed run's cost to the frames that were on the stack (the event loop), so costs
are summed here from the dumps' own cost lines, leaving out the line after each `calls=`, which is the call's
inclusive cost. The footprint needs dumps written with --dump-instr=yes (each cost line then starts with the
instruction's address); without it, it says so and exits 1.
"""

import re
import sys


def cost_lines(path):
    """(object, function, address or None, {event: count}) for each self-cost line of one dump."""
    names, objects = {}, {}
    events, positions = [], ["line"]
    obj = function = None
    address = 0
    skip = False
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("positions:"):
                positions = line.split()[1:]
            elif line.startswith(("fn=", "cfn=")):
                # Names are compressed: "(id) name" the first time, in a fn= or a cfn= line, then "(id)" alone.
                match = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line.strip())
                if match.group(2):
                    names[match.group(1)] = match.group(2)
                if line.startswith("fn="):
                    function = names.get(match.group(1), match.group(1))
            elif line.startswith("ob="):
                match = re.match(r"ob=\((\d+)\)(?: (.*))?", line.strip())
                if match.group(2):
                    objects[match.group(1)] = match.group(2)
                obj = objects.get(match.group(1), match.group(1))
            elif line.startswith("calls="):
                skip = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                fields = line.split()
                if positions[0] == "instr":
                    # Addresses are absolute (0x…), relative to the last one (+n, -n), or the same (*).
                    first = fields[0]
                    if first.startswith("0x"):
                        address = int(first, 16)
                    elif first[0] in "+-":
                        address += int(first)
                here = address if positions[0] == "instr" else None
                counts = fields[len(positions):]
                counts += ["0"] * (len(events) - len(counts))
                if skip:
                    skip = False
                    continue
                yield obj, function, here, dict(zip(events, (int(c) for c in counts)))


def own_costs(files):
    """Each function's own instructions and I1 misses, [Ir, I1mr], summed over the dumps, most instructions first."""
    costs = {}
    for path in files:
        for _, function, _, counts in cost_lines(path):
            cost = costs.setdefault(function, [0, 0])
            cost[0] += counts.get("Ir", 0)
            cost[1] += counts.get("I1mr", 0)
    return sorted(costs.items(), key=lambda item: -item[1][0])


def functions(requests, top, files):
    for name, (ir, misses) in own_costs(files)[:top]:
        print(f"{ir / requests:.0f}\t{misses / requests:.1f}\t{name}")


def hot_lines(requests, files):
    """{(object, 64-byte line): function} for the lines of code that ran on at least half the requests: the code every
    request runs through, which a request finding the caches cold fetches again. Lines that ran a few times (start-up,
    the odd new connection) are left out."""
    executed, owner = {}, {}
    for path in files:
        for obj, function, address, counts in cost_lines(path):
            if address is None:
                raise SystemExit(f"callgrind_counts.py: {path} has no instruction addresses (run callgrind with --dump-instr=yes)")
            key = (obj, address >> 6)
            executed[key] = executed.get(key, 0) + counts.get("Ir", 0)
            owner.setdefault(key, function)
    return {key: owner[key] for key, ir in executed.items() if ir >= requests / 2}


def footprint(requests, files):
    hot = hot_lines(requests, files)
    pages = {(obj, line >> 6) for obj, line in hot}
    print(f"{len(hot)}\t{len(pages)}")


def module_of(function, obj):
    """The Swift module a mangled name belongs to, or the runtime, or the library's file name."""
    name = function or ""
    match = re.match(r"\$s(\d+)", name)
    if match:
        digits = match.group(1)
        return name[2 + len(digits):2 + len(digits) + int(digits)]
    if name.startswith("$ss") or name.startswith("$sS"):
        return "Swift"
    if name.startswith(("swift_", "_swift_", "swift::")) or "swift::" in name or "N5swift" in name:
        return "Swift runtime"
    if name.startswith(("_dispatch_", "dispatch_")):
        return "libdispatch"
    # An object named in an earlier part of the dump only (the program itself, in a zeroed run) has just its number.
    if obj is None or obj.isdigit():
        return "the program's C code"
    return obj.rsplit("/", 1)[-1]


def modules(requests, files):
    sizes = {}
    for (obj, _), function in hot_lines(requests, files).items():
        module = module_of(function, obj)
        sizes[module] = sizes.get(module, 0) + 1
    for module, lines in sorted(sizes.items(), key=lambda item: -item[1]):
        print(f"{lines * 64 / 1024:.1f}\t{module}")


def order(requests, files):
    # Functions that ran on a twentieth of the requests or more, hottest first, so that the code every request runs
    # through lies on as few pages (and cache sets) as it can. Names callgrind made up for code without a symbol
    # (0x…) and recursion marks ('2) are left out: no section has them.
    seen = set()
    for name, (ir, _) in own_costs(files):
        if ir < requests / 20:
            break
        name = re.sub(r"'\d+$", "", name)
        if name.startswith("0x") or " " in name or "(" in name or name in seen:
            continue
        seen.add(name)
        print(f".text.{name}")


def main(argv):
    if len(argv) < 3 or argv[1] not in ("functions", "footprint", "modules", "order"):
        raise SystemExit(__doc__)
    requests = int(argv[2])
    if argv[1] == "functions":
        functions(requests, int(argv[3]), argv[4:])
    elif argv[1] == "footprint":
        footprint(requests, argv[3:])
    elif argv[1] == "modules":
        modules(requests, argv[3:])
    else:
        order(requests, argv[3:])


if __name__ == "__main__":
    main(sys.argv)

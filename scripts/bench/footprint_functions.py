"""Whose code and data a traced request touches, from scripts/bench/footprint.c's attribution files:
   python3 footprint_functions.py data ATTRIBUTION REGIONS REQUESTS TOP
prints the TOP functions by the data lines per request they are the first in a turn to touch;
   python3 footprint_functions.py code CODE REGIONS REQUESTS TOP
prints the code lines per request (in KiB) by whose they are (Swift module, the runtime, or the library), then the
TOP functions by their code lines per request. A line run in both turns of a request counts twice, as a cold turn
fetches it again. Each function is shown with the binary or library it lies in (libraries without symbols are named
by their nearest exported symbol, so read those as a place, not a function)."""
import bisect
import collections
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callgrind_counts import module_of  # noqa: E402


def symbol_table(path):
    out = subprocess.run(['nm', '--defined-only', path], capture_output=True, text=True).stdout
    if not out.strip():
        out = subprocess.run(['nm', '-D', '--defined-only', path], capture_output=True, text=True).stdout
    symbols = sorted((int(p[0], 16), p[2]) for p in (line.split() for line in out.splitlines())
                     if len(p) >= 3 and p[1] in 'tTwW')
    return [a for a, _ in symbols], [n for _, n in symbols]


def attributed(attribution, regions_file):
    """Each attributed address's count, summed by (symbol, file) of the function it lies in."""
    regions, base = [], {}
    for line in open(regions_file):
        parts = line.split(None, 3)
        if len(parts) < 4:
            continue
        low, high, path = int(parts[0], 16), int(parts[1], 16), parts[3].strip()
        regions.append((low, high, path))
        base.setdefault(path, low)  # the first mapping of a file is its offset 0
    tables, counts = {}, collections.Counter()
    for line in open(attribution):
        ip, count = line.split()
        ip, key = int(ip, 16), ('(unmapped)', '')
        for low, high, path in regions:
            if low <= ip < high:
                if path not in tables:
                    tables[path] = symbol_table(path)
                addresses, names = tables[path]
                i = bisect.bisect_right(addresses, ip - base[path]) - 1
                key = (names[i] if i >= 0 else '?', path.rsplit('/', 1)[-1])
                break
        counts[key] += int(count)
    return counts


def print_top(counts, scale, top, unit):
    ranked = counts.most_common(top)
    demangled = subprocess.run(['swift', 'demangle', '--simplified'], input='\n'.join(n for (n, _), _ in ranked),
                               capture_output=True, text=True).stdout.splitlines()
    if len(demangled) != len(ranked):
        demangled = [n for (n, _), _ in ranked]
    for ((_, where), count), function in zip(ranked, demangled):
        print(f'{count * scale:7.{1 if unit == "lines" else 2}f}  {function[:110]}  [{where}]')


def main(kind, attribution, regions_file, requests, top):
    counts = attributed(attribution, regions_file)
    if kind == 'data':
        print_top(counts, 1 / requests, top, 'lines')
        return
    kib = 64 / 1024 / requests
    by_module = collections.Counter()
    for (name, where), count in counts.items():
        by_module[module_of(name, where)] += count
    print(f'{sum(by_module.values()) * kib:7.2f}  KiB in all, by whose code it is:')
    for module, count in by_module.most_common():
        if count * kib >= 0.05:
            print(f'{count * kib:7.2f}  {module}')
    print('KiB per request, by function:')
    print_top(counts, kib, top, 'KiB')


if __name__ == '__main__':
    if len(sys.argv) != 6 or sys.argv[1] not in ('data', 'code'):
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))

"""The functions that first touch a request's data lines, from scripts/bench/footprint.c's attribution file:
   python3 footprint_functions.py ATTRIBUTION REGIONS REQUESTS TOP
prints the TOP functions by data lines per request, each with the binary or library it lies in (libraries without
symbols are named by their nearest exported symbol, so read those as a place, not a function)."""
import bisect
import collections
import subprocess
import sys


def symbol_table(path):
    out = subprocess.run(['nm', '--defined-only', path], capture_output=True, text=True).stdout
    if not out.strip():
        out = subprocess.run(['nm', '-D', '--defined-only', path], capture_output=True, text=True).stdout
    symbols = sorted((int(p[0], 16), p[2]) for p in (line.split() for line in out.splitlines())
                     if len(p) >= 3 and p[1] in 'tTwW')
    return [a for a, _ in symbols], [n for _, n in symbols]


def main(attribution, regions_file, requests, top):
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
        ip, name = int(ip, 16), '(unmapped)'
        for low, high, path in regions:
            if low <= ip < high:
                if path not in tables:
                    tables[path] = symbol_table(path)
                addresses, names = tables[path]
                i = bisect.bisect_right(addresses, ip - base[path]) - 1
                name = (names[i] if i >= 0 else '?') + '\t' + path.rsplit('/', 1)[-1]
                break
        counts[name] += int(count)
    ranked = counts.most_common(top)
    demangled = subprocess.run(['swift', 'demangle', '--simplified'], input='\n'.join(n for n, _ in ranked),
                               capture_output=True, text=True).stdout.splitlines()
    if len(demangled) != len(ranked):
        demangled = [n for n, _ in ranked]
    for (_, count), name in zip(ranked, demangled):
        function, _, where = name.partition('\t')
        print(f'{count / requests:7.1f}  {function[:110]}  [{where}]')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))

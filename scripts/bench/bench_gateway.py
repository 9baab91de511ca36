#!/usr/bin/env python3
"""Helpers for scripts/bench-gateway.sh (Python 3 standard library only).

The shell script orchestrates processes; this file does what shell arithmetic cannot do well:

  ports N                 print N free TCP ports on 127.0.0.1, one per line
  cputicks PGID           print utime+stime (clock ticks) summed over every process in group PGID
  nginx-counters PORT     print "ACCEPTS REQUESTS": connections accepted and requests served so far by the
                          nginx backend on PORT (stub_status)
  init-csv PATH           create (or truncate) the results CSV with its header
  h2load-result PATH      print h2load's results in PATH as the BENCH_RESULT line record reads
  record ...              read one wrk output, derive the metrics, append a row to the CSV
  report PATH             print the summary table (medians across rounds) and Serin's ratios
"""

import argparse
import csv
import os
import random
import re
import socket
import statistics
import sys
import urllib.request

COLUMNS = [
    "round", "proxy", "load", "threads", "wrk_threads", "duration_s",
    "requests", "rps", "p50_us", "p99_us", "mean_us", "max_us",
    "cpu_ticks", "clk_tck", "cpu_us_per_req",
    "v1_requests", "v2_requests", "v1_pct", "v2_pct", "upstream_connections",
    "non2xx", "socket_errors", "connect_errors", "read_errors", "write_errors", "timeout_errors",
]

# Table order: the physical limit first, then Serin, then its peers.
PROXY_ORDER = ["direct", "serin", "baseline", "relay", "envoy", "nginx", "haproxy"]
PEERS = ["baseline", "relay", "envoy", "nginx", "haproxy"]


# --- ports -------------------------------------------------------------------------------------------

def free_ports(count):
    """Ports below the kernel's ephemeral range, so no outgoing connection (wrk's or a proxy's) can be
    handed the same port between now and the moment our servers bind it. All sockets stay bound until
    every port is chosen, so the ports are distinct."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    low, high = 20000, ephemeral_low - 1
    held, ports = [], []
    try:
        attempts = 0
        while len(ports) < count:
            attempts += 1
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # Beyond 2000 tries (or with no room below the ephemeral range) let the kernel choose.
            port = random.randint(low, high) if high > low and attempts < 2000 else 0
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
            ports.append(sock.getsockname()[1])
    finally:
        for sock in held:
            sock.close()
    return ports


# --- /proc -------------------------------------------------------------------------------------------

def group_cpu_ticks(pgid):
    """utime + stime (fields 14 and 15 of /proc/PID/stat) of every live process whose process group is
    PGID. Each proxy runs in its own group (started with setsid), so this covers nginx's master and
    workers alike; /proc/PID/stat already sums all threads of a process."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the process ended while we looked
        # The command name (field 2) may contain spaces and parentheses: split after its last ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        # fields[0] is field 3 (state), so field N is fields[N - 3].
        if int(fields[5 - 3]) == pgid:
            total += int(fields[14 - 3]) + int(fields[15 - 3])
    return total


def nginx_counters(port):
    """The 'accepts' and 'requests' totals from nginx's stub_status (its third line: accepts handled
    requests)."""
    url = f"http://127.0.0.1:{port}/nginx_status"
    with urllib.request.urlopen(url, timeout=2) as response:
        text = response.read().decode()
    lines = text.splitlines()
    accepts, _handled, requests = (int(x) for x in lines[2].split())
    return accepts, requests


# --- wrk results -------------------------------------------------------------------------------------

def parse_wrk(path):
    """The key=value numbers of wrk-result.lua's BENCH_RESULT line."""
    with open(path) as f:
        for line in f:
            if line.startswith("BENCH_RESULT "):
                return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
    raise SystemExit(f"bench_gateway.py: no BENCH_RESULT line in {path} (did wrk fail?)")


def h2load_result(path):
    """h2load's summary as a BENCH_RESULT line. h2load reports no percentiles, so p50/p99 are left out;
    failed, errored and timed-out requests count as read errors, 4xx and 5xx answers as non-2xx."""
    with open(path) as f:
        text = f.read()
    finished = re.search(r"finished in ([\d.]+)(m?s)", text)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    timing = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", text)
    if not (finished and done and codes and timing):
        raise SystemExit(f"bench_gateway.py: no h2load summary in {path}")

    def micros(value):
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
        return float(number) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]

    seconds = float(finished.group(1)) / (1000 if finished.group(2) == "ms" else 1)
    _done, succeeded, failed, errored, timeouts = (int(x) for x in done.groups())
    print(f"BENCH_RESULT requests={succeeded} duration_us={seconds * 1e6:.0f} bytes=0 "
          f"mean_us={micros(timing.group(3)):.0f} max_us={micros(timing.group(2)):.0f} "
          f"connect=0 read={failed + errored} write=0 timeout={timeouts} "
          f"status={int(codes.group(3)) + int(codes.group(4))}")


def record(args):
    wrk = parse_wrk(args.wrk_output)
    requests = wrk["requests"]
    seconds = wrk["duration_us"] / 1e6
    # Each backend counts the requests it served; the proxies' split is what they actually produced.
    v1, v2 = max(args.v1, 0), max(args.v2, 0)
    served = v1 + v2
    cpu_us = args.cpu_ticks * 1e6 / args.clk_tck
    socket_errors = wrk["connect"] + wrk["read"] + wrk["write"] + wrk["timeout"]
    row = {
        "round": args.round, "proxy": args.proxy, "load": args.load,
        "threads": args.threads, "wrk_threads": args.wrk_threads, "duration_s": args.duration,
        "requests": requests, "rps": f"{requests / seconds:.1f}" if seconds > 0 else "0",
        "p50_us": wrk.get("p50_us", ""), "p99_us": wrk.get("p99_us", ""),
        "mean_us": wrk["mean_us"], "max_us": wrk["max_us"],
        "cpu_ticks": args.cpu_ticks, "clk_tck": args.clk_tck,
        "cpu_us_per_req": f"{cpu_us / requests:.2f}" if requests else "",
        "v1_requests": v1, "v2_requests": v2,
        "upstream_connections": max(args.upstream_connections, 0),
        "v1_pct": f"{100 * v1 / served:.2f}" if served else "",
        "v2_pct": f"{100 * v2 / served:.2f}" if served else "",
        "non2xx": wrk["status"], "socket_errors": socket_errors,
        "connect_errors": wrk["connect"], "read_errors": wrk["read"],
        "write_errors": wrk["write"], "timeout_errors": wrk["timeout"],
    }
    with open(args.csv, "a", newline="") as f:
        csv.DictWriter(f, fieldnames=COLUMNS).writerow(row)
    # One progress line for the log.
    def ms(key):
        return f"{wrk[key] / 1000:.3f} ms" if key in wrk else "-"
    print(f"{args.proxy:<8} t={args.threads} c={args.load:<12} {float(row['rps']):>10.0f} req/s  "
          f"p50 {ms('p50_us')}  p99 {ms('p99_us')}  mean {ms('mean_us')}  "
          f"cpu {row['cpu_us_per_req'] or '-'} µs/req  split {row['v1_pct'] or '-'}/{row['v2_pct'] or '-'}  "
          f"non-2xx {wrk['status']}  socket errors {socket_errors}", file=sys.stderr)


# --- report ------------------------------------------------------------------------------------------

def median_of(rows, column):
    values = [float(r[column]) for r in rows if r[column] != ""]
    return statistics.median(values) if values else None


def fmt(value, pattern):
    return "-" if value is None else pattern.format(value)


def ratio(a, b):
    return None if a is None or not b else a / b


def paired_ratios(rows, peer_rows, column):
    """a ÷ b for each round that measured both, in round order."""
    peer_by_round = {r["round"]: r for r in peer_rows if r[column] != ""}
    pairs = []
    for row in sorted(rows, key=lambda r: int(r["round"])):
        peer = peer_by_round.get(row["round"])
        if peer is not None and row[column] != "" and float(peer[column]) > 0:
            pairs.append(float(row[column]) / float(peer[column]))
    return pairs


def describe_paired(pairs):
    """"1.08 (0.97-1.21)": the median of per-round ratios and their range; "-" when no round has both."""
    if not pairs:
        return "-"
    return f"{statistics.median(pairs):.2f} ({min(pairs):.2f}-{max(pairs):.2f})"


def report(args):
    with open(args.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit("bench_gateway.py: no results to report")

    # A load is keyed with the proxies' thread count: "8" at 1 thread, "t2 8" at 2 (when several were run).
    thread_counts = sorted({int(row["threads"]) for row in rows})
    def load_key(row):
        return row["load"] if len(thread_counts) == 1 else f"t{row['threads']} {row['load']}"

    groups = {}
    for row in rows:
        groups.setdefault((load_key(row), row["proxy"]), []).append(row)
    proxies = [p for p in PROXY_ORDER if any(p == key[1] for key in groups)]
    connections = sorted({key[0] for key in groups}, key=load_order)

    summary = {}
    for key, group in groups.items():
        summary[key] = {
            "rounds": len(group),
            "rps": median_of(group, "rps"),
            "rps_min": min(float(r["rps"]) for r in group),
            "rps_max": max(float(r["rps"]) for r in group),
            "p50": median_of(group, "p50_us"),
            "p99": median_of(group, "p99_us"),
            "cpu": median_of(group, "cpu_us_per_req"),
            "v1": median_of(group, "v1_pct"),
            "v2": median_of(group, "v2_pct"),
            # Errors are totals over all rounds, not medians: a single bad round must stay visible.
            "non2xx": sum(int(r["non2xx"]) for r in group),
            "socket": sum(int(r["socket_errors"]) for r in group),
            "upstream": median_of(group, "upstream_connections"),
        }

    header = ["proxy", "load", "req/s", "req/s min-max", "p50 ms", "p99 ms", "CPU µs/req",
              "split v1/v2 %", "new upstr conns", "non-2xx", "sock err"]
    table = []
    for c in connections:
        for p in proxies:
            s = summary.get((c, p))
            if s is None:
                continue
            split = "-" if s["v1"] is None else f"{s['v1']:.1f}/{s['v2']:.1f}"
            table.append([
                p, c, fmt(s["rps"], "{:.0f}"), f"{s['rps_min']:.0f}-{s['rps_max']:.0f}",
                fmt(s["p50"] and s["p50"] / 1000, "{:.3f}"), fmt(s["p99"] and s["p99"] / 1000, "{:.3f}"),
                fmt(s["cpu"], "{:.1f}"), split, fmt(s["upstream"], "{:.0f}"), str(s["non2xx"]), str(s["socket"]),
            ])
    rounds = max(s["rounds"] for s in summary.values())
    print(f"Medians over {rounds} round(s); non-2xx and socket errors are totals over all rounds.")
    print_table(header, table)

    if "serin" in proxies:
        ratio_rows = []
        for c in connections:
            serin = summary.get((c, "serin"))
            for peer in PEERS:
                other = summary.get((c, peer))
                if serin is None or other is None:
                    continue
                paired = paired_ratios(groups[(c, "serin")], groups[(c, peer)], "cpu_us_per_req")
                ratio_rows.append([
                    peer, c,
                    fmt(ratio(serin["rps"], other["rps"]), "{:.2f}"),
                    fmt(ratio(serin["cpu"], other["cpu"]), "{:.2f}"),
                    describe_paired(paired),
                    fmt(ratio(serin["p99"], other["p99"]), "{:.2f}"),
                ])
        if ratio_rows:
            print()
            print("Serin ÷ peer (req/s: above 1 means Serin is faster; CPU/req and p99: above 1 means Serin costs more).")
            print("Per round: Serin's CPU/req ÷ the peer's in the same round, the median and the range over rounds;")
            print("each round runs every proxy back to back, so this pairs measurements taken minutes apart at most.")
            print_table(["peer", "load", "req/s ratio", "CPU/req ratio", "CPU/req per round", "p99 ratio"], ratio_rows)

    if "relay" in proxies and "nginx" in proxies:
        floor_rows = []
        for c in connections:
            relay, nginx = summary.get((c, "relay")), summary.get((c, "nginx"))
            if relay is None or nginx is None:
                continue
            floor_rows.append([c, fmt(ratio(relay["cpu"], nginx["cpu"]), "{:.2f}"), fmt(ratio(relay["rps"], nginx["rps"]), "{:.2f}")])
        if floor_rows:
            print()
            print("relay ÷ nginx: a bare SwiftNIO relay (no HTTP) against nginx's whole proxy; a CPU/req ratio above 1 means")
            print("SwiftNIO's channels alone cost more per request than nginx does")
            print_table(["load", "CPU/req ratio", "req/s ratio"], floor_rows)

    if len(thread_counts) > 1:
        print_scaling(summary, proxies, thread_counts)

    if "direct" in proxies:
        print()
        print("direct: wrk straight at the v1 backend; its CPU column is that nginx backend's own cost per request,")
        print("        and its new connections are wrk's own.")


MODE_ORDER = ["", "https", "handshake", "h2"]


def load_order(key):
    """Thread count, then mode (plain HTTP/1.1 first), then unpaced loads by connections, then paced
    ones ("64@5000") by connections and rate."""
    threads, _, load = key.rpartition(" ")
    mode, _, bare = load.rpartition(":")
    numbers = [int(n) for n in re.split(r"[@x]", bare)]
    return (int(threads[1:]) if threads else 0, MODE_ORDER.index(mode), "@" in bare, numbers)


def print_scaling(summary, proxies, thread_counts):
    """Each proxy's req/s at every higher thread count ÷ its req/s at the first, load by load."""
    first, rows = thread_counts[0], []
    for key in sorted({k for k, _ in summary if k.startswith(f"t{first} ")}, key=load_order):
        load = key.split(" ", 1)[1]
        for threads in thread_counts[1:]:
            for p in proxies:
                base, more = summary.get((key, p)), summary.get((f"t{threads} {load}", p))
                if base is None or more is None:
                    continue
                rows.append([p, load, f"{threads} ÷ {first}", fmt(ratio(more["rps"], base["rps"]), "{:.2f}"),
                             fmt(ratio(more["cpu"], base["cpu"]), "{:.2f}")])
    if rows:
        print()
        print("Threads: req/s and CPU/req at more threads ÷ at the first count (the same proxy, the same load)")
        print_table(["proxy", "load", "threads", "req/s ratio", "CPU/req ratio"], rows)


def print_table(header, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    def line(cells):
        # First column left-aligned (names), numbers right-aligned.
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(header))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))


# --- command line ------------------------------------------------------------------------------------

def group_rss_kib(pgid):
    """Resident memory (VmRSS, KiB) summed over the processes of process group PGID."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            if int(stat[stat.rindex(")") + 2:].split()[5 - 3]) != pgid:
                continue
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total


def idle_connections(port, count):
    """Opens COUNT keep-alive connections to 127.0.0.1:PORT, makes one GET on each (so each has a real
    exchange behind it), prints "ready" and holds them open until stdin closes."""
    import resource
    import socket
    import sys
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 64)), hard))
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            body += s.recv(65536)
        sockets.append(s)
    print("ready", flush=True)
    sys.stdin.read()
    for s in sockets:
        s.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("ports").add_argument("count", type=int)
    sub.add_parser("cputicks").add_argument("pgid", type=int)
    sub.add_parser("rss").add_argument("pgid", type=int)
    idle = sub.add_parser("idle-connections")
    idle.add_argument("port", type=int)
    idle.add_argument("count", type=int)
    sub.add_parser("nginx-counters").add_argument("port", type=int)
    sub.add_parser("init-csv").add_argument("csv")
    sub.add_parser("report").add_argument("csv")
    sub.add_parser("h2load-result").add_argument("path")

    rec = sub.add_parser("record")
    rec.add_argument("--csv", required=True)
    rec.add_argument("--wrk-output", required=True)
    rec.add_argument("--load", required=True, help="CONNECTIONS, or CONNECTIONS@RATE for a paced load")
    for name in ("round", "threads", "wrk-threads", "duration",
                 "cpu-ticks", "clk-tck", "v1", "v2", "upstream-connections"):
        rec.add_argument(f"--{name}", type=int, required=True)
    rec.add_argument("--proxy", required=True)

    args = parser.parse_args()
    if args.command == "ports":
        print("\n".join(str(p) for p in free_ports(args.count)))
    elif args.command == "cputicks":
        print(group_cpu_ticks(args.pgid))
    elif args.command == "rss":
        print(group_rss_kib(args.pgid))
    elif args.command == "idle-connections":
        idle_connections(args.port, args.count)
    elif args.command == "nginx-counters":
        print(*nginx_counters(args.port))
    elif args.command == "init-csv":
        with open(args.csv, "w", newline="") as f:
            csv.DictWriter(f, fieldnames=COLUMNS).writeheader()
    elif args.command == "h2load-result":
        h2load_result(args.path)
    elif args.command == "record":
        record(args)
    elif args.command == "report":
        report(args)


if __name__ == "__main__":
    main()

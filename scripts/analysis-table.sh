#!/usr/bin/env bash
# The table in docs/analysis.md: the same scenarios, the same seeds, three judges — Flagger's thresholds at its
# defaults, Kayenta's fixed-window Mann-Whitney, and Serin's statistical judge — through `serin simulate`
# (the real rollout state machine and judges, synthetic traffic, a simulated clock).
#
#   SERIN_BIN=.build/release/serin TRIALS=1000 scripts/analysis-table.sh
#
# Prints one JSON line per run (scenario, judge, the simulate summary), then the Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
serin=${SERIN_BIN:-.build/release/serin}
trials=${TRIALS:-1000}
[ -x "$serin" ] || { echo "no serin at $serin: swift build -c release --product serin, or set SERIN_BIN" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A quiet service needs longer than the default 10m deadline to show anything: the same spec with 2h.
sed 's/^  analysis:$/  progressDeadline: 2h\n  analysis:/' examples/analysis/statistical.yaml > "$work/statistical-2h.yaml"

# scenario | simulate flags
scenarios=(
  "A/A, 10 req/s|--rps 10"
  "A/A, 100 req/s|--rps 100"
  "A/A, 1,000 req/s (healthy canary)|--rps 1000"
  "+5 points of errors, 100 req/s|--rps 100 --canary-error-rate 0.051"
  "+1 point of errors, 1,000 req/s|--rps 1000 --canary-error-rate 0.011"
  "median latency +30%, 100 req/s|--rps 100 --canary-latency-ms 26"
  "1 req/s|--rps 1"
)
judges=(
  "threshold|examples/analysis/flagger-defaults.yaml"
  "mannWhitney|examples/analysis/mann-whitney.yaml"
  "statistical|examples/analysis/statistical.yaml"
)
results="$work/results.jsonl"
for scenario in "${scenarios[@]}"; do
  name=${scenario%%|*}
  read -r -a flags <<< "${scenario#*|}"
  runs=("${judges[@]}")
  [ "$name" = "A/A, 10 req/s" ] && runs+=("statistical, 2h deadline|$work/statistical-2h.yaml")
  for judge in "${runs[@]}"; do
    summary=$("$serin" simulate -f "${judge#*|}" "${flags[@]}" --stable-error-rate 0.001 --stable-latency-ms 20 \
      --trials "$trials" --seed 1 -o json)
    printf '{"scenario":"%s","judge":"%s","summary":%s}\n' "$name" "${judge%%|*}" "$summary" | tee -a "$results"
  done
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def cell(s):
    n = s["trials"]
    t = s.get("secondsToDecision")
    when = f", median {t['p50']:.0f}s (p90 {t['p90']:.0f}s)" if t else ""
    worse = s["rolledBack"] - s["rolledBackUndecided"]
    parts = [f"promoted {s['promoted']}", f"rolled back {worse}"]
    if s["rolledBackUndecided"]: parts.append(f"rolled back undecided {s['rolledBackUndecided']}")
    if s["undecided"]: parts.append(f"{s['undecided']} still running after a day")
    return " · ".join(parts) + when
print()
print("| scenario | judge | of " + str(rows[0]["summary"]["trials"]) + " releases |")
print("|---|---|---|")
for r in rows:
    print(f"| {r['scenario']} | {r['judge']} | {cell(r['summary'])} |")
PY

# Sourced by the bench scripts: the serin binary they measure, and a work directory whose processes and files
# go when the script ends, however it ends.

# Stops with an error naming the first of the given commands that is not installed.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
    done
}

# Waits until the admin endpoint at $2 (host:port) says ready (/readyz): stops with an error, the log at $3 shown,
# when process $1 exits first, and with one naming $4 when $5 seconds pass first.
wait_serving() {
    local pid=$1 admin=$2 log=$3 setting=$4 timeout=$5 started
    started=$(date +%s%N)
    until curl -fsS -o /dev/null "http://$admin/readyz" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "error: serin exited before it served" >&2; exit 1; }
        if (( $(date +%s%N) - started > timeout * 1000000000 )); then
            echo "error: the gateway was not serving after ${timeout}s ($setting)" >&2
            exit 1
        fi
        sleep 0.1
    done
}

# SERIN_BIN as given, or a release build made now in the repository at $1, as the Dockerfile builds it.
serin_binary() {
    if [[ -z ${SERIN_BIN:-} ]]; then
        local flags
        mapfile -t flags < <("$1/scripts/release/flags.sh")
        (cd "$1" && swift build "${flags[@]}" --product serin >&2)
        SERIN_BIN="$(cd "$1" && swift build "${flags[@]}" --show-bin-path)/serin"
    fi
}

# WORK: a new temporary directory; every pid added to PIDS is killed, and WORK removed, on exit.
make_work_dir() {
    WORK=$(mktemp -d)
    PIDS=()
    trap cleanup_work_dir EXIT
}

cleanup_work_dir() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}

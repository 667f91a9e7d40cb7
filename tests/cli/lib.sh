# Shared helpers for the tests/cli/*.sh scripts (train_*.sh and any other).
# Sourced, not a test: tests/run.sh runs every tests/cli/*.sh, so run
# directly this file does nothing and prints nothing.
[ "${BASH_SOURCE[0]}" = "$0" ] && exit 0

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
# QSWEEP_BIN lets a developer point the tests at another build.
Q=${QSWEEP_BIN:-$PWD/bin/qsweep}
T=$(mktemp -d "${TMPDIR:-/tmp}/qsweep-cli.XXXXXX") || exit 1
QS_BG_PIDS=""
qs_cleanup() {
    local p
    trap '' INT TERM # a second signal must not cut the cleanup short
    # Background jobs are `timeout` processes (in their own process groups):
    # ending one ends its qsweep.
    for p in $QS_BG_PIDS; do kill "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap qs_cleanup EXIT
trap 'exit 130' INT TERM

NRESULTS=0
pass() { echo "PASS $1"; NRESULTS=$((NRESULTS + 1)); }
fail() { echo "FAIL $1: $2"; NRESULTS=$((NRESULTS + 1)); }

# wait_for DB SQL: polls the database until SQL prints 1 (20 ms steps, about
# 120 s at most); returns 1 if it never does. The steps are short because
# the states the MPI tests wait for can last well under a second.
wait_for() {
    local db=$1 sql=$2 i
    for i in $(seq 1 6000); do
        [ "$(sqlite3 "$db" "$sql" 2>/dev/null)" = "1" ] && return 0
        sleep 0.02
    done
    return 1
}

# run_cases FN...: runs each case function; one that ends without printing a
# PASS or FAIL line (a shell error aborted it) becomes a FAIL, so no case can
# pass by dying quietly.
run_cases() {
    local fn before
    for fn in "$@"; do
        before=$NRESULTS
        "$fn"
        [ "$NRESULTS" -gt "$before" ] || fail "$fn" "ended without a result (shell error?)"
    done
}

if [ ! -x "$Q" ]; then
    echo "FAIL $(basename "$0" .sh): $Q is missing (run make)"
    exit 1
fi
# The whole script tests one binary: a copy, so that a rebuild in the same
# tree while the tests run (make relinks bin/qsweep) cannot break a case.
cp "$Q" "$T/qsweep" && Q=$T/qsweep || { echo "FAIL $(basename "$0" .sh): cannot copy $Q"; exit 1; }

# Debian's interpreter first (it is the one the project installs), then PATH's.
PY=""
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3
elif command -v python3 >/dev/null 2>&1; then PY=$(command -v python3); fi

# Fashion-MNIST where qsweep looks by default (interfaces.md).
FMNIST_DIR=""
for d in data/fashion-mnist /usr/share/datasets/fashion-mnist; do
    if [ -f "$d/train-images-idx3-ubyte.gz" ]; then FMNIST_DIR=$d; break; fi
done
FMNIST_MISSING="Fashion-MNIST not found in data/fashion-mnist or /usr/share/datasets/fashion-mnist (make setup installs dataset-fashion-mnist)"

# qrun TAG SECONDS ARGS...: runs qsweep with a time limit; stdout, stderr in
# $T/TAG.out, $T/TAG.err; the exit status in RC (124/137: timed out).
RC=0
qrun() {
    local tag=$1 secs=$2
    shift 2
    timeout -k 5 "$secs" "$Q" "$@" >"$T/$tag.out" 2>"$T/$tag.err"
    RC=$?
    return $RC
}

# A one-line summary of a failed run, for FAIL messages.
why() { # TAG
    local s
    s=$(grep -v '^$' "$T/$1.err" | tail -n 1 | cut -c1-300)
    case $RC in
        124 | 137) echo "timed out (status $RC); stderr: $s" ;;
        *) echo "exit status $RC; stderr: $s" ;;
    esac
}

# expect_usage NAME REGEX ARGS...: qsweep ARGS must exit 2, print nothing on
# stdout and a message matching the extended regex REGEX on stderr.
expect_usage() {
    local name=$1 re=$2
    shift 2
    qrun "$name" 60 "$@"
    if [ "$RC" -ne 2 ]; then
        fail "$name" "expected exit status 2, got $(why "$name")"
    elif [ -s "$T/$name.out" ]; then
        fail "$name" "stdout not empty: $(head -c 200 "$T/$name.out")"
    elif ! grep -Eq -- "$re" "$T/$name.err"; then
        fail "$name" "stderr does not match /$re/: $(head -c 300 "$T/$name.err")"
    else
        pass "$name"
    fi
}

# json_lines FILE: every line is one flat JSON object (values are strings,
# numbers, booleans or null; no nesting) and the file has at least one line.
# On failure JMSG says why.
JMSG=""
json_lines() {
    local f=$1
    if [ ! -s "$f" ]; then JMSG="no output"; return 1; fi
    if [ -n "$PY" ]; then
        JMSG=$("$PY" - "$f" <<'PY'
import json, sys
for n, line in enumerate(open(sys.argv[1], encoding="utf-8", errors="replace"), 1):
    line = line.rstrip("\n")
    try:
        o = json.loads(line)
    except ValueError as e:
        print("line %d is not JSON (%s): %.200s" % (n, e, line)); sys.exit(1)
    if not isinstance(o, dict):
        print("line %d is not a JSON object: %.200s" % (n, line)); sys.exit(1)
    for k, v in o.items():
        if isinstance(v, (dict, list)):
            print("line %d: key %s is nested, not flat" % (n, k)); sys.exit(1)
PY
) || return 1
        return 0
    fi
    # No Python: a strict regex for flat objects of the shapes qsweep prints.
    local str='"([^"\\]|\\.)*"' num='-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?'
    local val="($str|$num|true|false|null)"
    local re="^\{($str:$val(,$str:$val)*)?\}$" line n=0
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        if ! [[ $line =~ $re ]]; then JMSG="line $n is not a flat JSON object: ${line:0:200}"; return 1; fi
    done <"$f"
    return 0
}

# jget FILE KEY [LINE]: the value of KEY on line LINE (default: last) of a
# JSON-lines file, strings without quotes; empty when absent.
jget() {
    local f=$1 key=$2 ln=${3:-\$}
    local line
    line=$(sed -n "${ln}p" "$f")
    if [ -n "$PY" ]; then
        printf '%s' "$line" | "$PY" -c '
import json, sys
try:
    o = json.loads(sys.stdin.read())
except ValueError:
    sys.exit(0)
v = o.get(sys.argv[1]) if isinstance(o, dict) else None
if v is not None:
    print(v if not isinstance(v, bool) else str(v).lower())' "$key"
    else
        printf '%s\n' "$line" | sed -nE "s/.*\"$key\":(\"([^\"]*)\"|([^,}]*)).*/\2\3/p"
    fi
}

# strip_timing IN OUT: JSON lines without the wall-clock keys, for
# bit-for-bit comparison of two runs.
strip_timing() {
    sed -E 's/,"(seconds|img_per_s)":[^,}]*//g' "$1" >"$2"
}

# fge A B: A >= B as numbers.
fge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

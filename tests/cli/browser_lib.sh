# Shared set-up of the dashboard's browser tests (browser.sh, browser_views.sh):
# Chromium found, a generated database, a real `qsweep serve` on 127.0.0.1
# with a free port. Sourced, not a test: run directly it does nothing.
# After sourcing: CHROME, T (scratch), GEN (tool_gen_db), DB, URL, PYBIN.
# Without chromium: FAIL under CI=true, skipped otherwise.
[ "${BASH_SOURCE[0]}" = "$0" ] && exit 0
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
BNAME=$(basename "$0" .sh)
Q=${QSWEEP_BIN:-$PWD/bin/qsweep}
T=$(mktemp -d "${TMPDIR:-/tmp}/qsweep-browser.XXXXXX") || exit 1
SRV=""
cleanup() {
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

CHROME=""
for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null 2>&1; then CHROME=$(command -v "$c"); break; fi
done
if [ -z "$CHROME" ]; then
    if [ "${CI:-}" = "true" ]; then
        echo "FAIL $BNAME: chromium is not installed (make setup installs it)"
        exit 1
    fi
    echo "# SKIP $BNAME: chromium is not installed (apt-get install chromium)"
    exit 0
fi
if [ ! -x "$Q" ]; then
    echo "FAIL $BNAME: $Q is missing (run make)"
    exit 1
fi
# Debian's interpreter first (the one the project installs), then PATH's.
PYBIN=/usr/bin/python3
[ -x "$PYBIN" ] || PYBIN=python3

# The generator is a test tool, not part of bin/qsweep: built here.
GEN=$T/gen
if ! cc -O2 -std=c11 -D_GNU_SOURCE -Itests -Iserver/report tests/tool_gen_db.c server/report/paper.c -o "$GEN" \
    $(pkg-config --cflags --libs sqlite3 zlib) -lm 2>"$T/cc.err"; then
    echo "FAIL $BNAME: building tests/tool_gen_db.c: $(head -c 300 "$T/cc.err")"
    exit 1
fi
DB=$T/results.db
if ! "$GEN" --out "$DB" 2>"$T/gen.err"; then
    echo "FAIL $BNAME: generating the database: $(cat "$T/gen.err")"
    exit 1
fi

"$Q" serve --db "$DB" --port 0 >"$T/serve.out" 2>"$T/serve.err" &
SRV=$!
URL=""
for _ in $(seq 1 100); do
    URL=$(sed -n 's/^qsweep serve: \(http:\/\/127\.0\.0\.1:[0-9]*\/\)$/\1/p' "$T/serve.out")
    [ -n "$URL" ] && break
    kill -0 "$SRV" 2>/dev/null || break
    sleep 0.1 # polling the server's first line, bounded above
done
if [ -z "$URL" ]; then
    echo "FAIL $BNAME: no URL from qsweep serve: $(head -c 300 "$T/serve.err")"
    exit 1
fi

# browser_cases CASE...: the cases of tests/browser_cases.py in one Chromium.
browser_cases() {
    timeout -k 5 600 "$PYBIN" tests/browser_cases.py --chrome "$CHROME" --profile "$T/profile" \
        --url "$URL" --db "$DB" --gen "$GEN" "$@"
    local rc=$?
    [ $rc -eq 124 ] && echo "FAIL $BNAME: the browser cases ran past 600 s"
    return 0
}

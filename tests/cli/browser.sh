#!/usr/bin/env bash
# The dashboard in headless Chromium (Debian's `chromium`, installed by
# `make setup`): a real `qsweep serve` on 127.0.0.1 over a generated
# database; the page must load, draw every chart and decision map, log no
# JavaScript error, and redraw by itself while the sweep writes.
# Without chromium: FAIL under CI=true, skipped otherwise.
# QS_SCREENSHOT=FILE keeps a screenshot (docs/dashboard.png is made so).
set -u
cd "$(dirname "$0")/../.." || exit 1
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
        echo "FAIL browser_dashboard: chromium is not installed (make setup installs it)"
        exit 1
    fi
    echo "# SKIP browser_dashboard: chromium is not installed (apt-get install chromium)"
    exit 0
fi
if [ ! -x "$Q" ]; then
    echo "FAIL browser_dashboard: $Q is missing (run make)"
    exit 1
fi

# The generator is a test tool, not part of bin/qsweep: built here.
if ! cc -O2 -std=c11 -D_GNU_SOURCE -Itests -Iserver/report tests/tool_gen_db.c server/report/paper.c -o "$T/gen" \
    $(pkg-config --cflags --libs sqlite3 zlib) -lm 2>"$T/cc.err"; then
    echo "FAIL browser_dashboard: building tests/tool_gen_db.c: $(head -c 300 "$T/cc.err")"
    exit 1
fi
if ! "$T/gen" --out "$T/results.db" 2>"$T/gen.err"; then
    echo "FAIL browser_dashboard: generating the database: $(cat "$T/gen.err")"
    exit 1
fi

"$Q" serve --db "$T/results.db" --port 0 >"$T/serve.out" 2>"$T/serve.err" &
SRV=$!
URL=""
for _ in $(seq 1 100); do
    URL=$(sed -n 's/^qsweep serve: \(http:\/\/127\.0\.0\.1:[0-9]*\/\)$/\1/p' "$T/serve.out")
    [ -n "$URL" ] && break
    sleep 0.1
done
if [ -z "$URL" ]; then
    echo "FAIL browser_dashboard: no URL from qsweep serve: $(head -c 300 "$T/serve.err")"
    exit 1
fi

# chrome RUN_NAME EXTRA_ARGS... URL: headless Chromium with its own
# profile, no network beyond 127.0.0.1, console messages on stderr.
chrome() {
    local name=$1
    shift
    timeout -k 5 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --disable-extensions --user-data-dir="$T/profile-$name" \
        --enable-logging=stderr --v=0 --window-size=1400,2000 "$@" \
        >"$T/$name.out" 2>"$T/$name.err"
}

# Console lines that are errors: uncaught exceptions, failed loads, and
# the page's own error reports (prefixed "qsweep dashboard:").
console_errors() {
    grep -E ':CONSOLE' "$1" | grep -Ei 'uncaught|error|failed|qsweep dashboard:' |
        grep -v 'willReadFrequently' | head -n 5
}

attr() { # FILE ELEMENT_ID ATTRIBUTE: the attribute's value in the dumped DOM
    grep -o "<[a-z]*[^>]*id=\"$2\"[^>]*>" "$1" | head -n 1 | grep -o "$3=\"[^\"]*\"" | cut -d'"' -f2
}

# 1. The Table 5 sweep at the 1M budget: every chart and map drawn.
PAGE="${URL}#sweep=table5-cifar10&budget=1000000"
chrome dom --virtual-time-budget=3000 --dump-dom "$PAGE"
D="$T/dom.out"
errs=$(console_errors "$T/dom.err")
fails=""
grep -q 'data-ready="1"' "$D" || fails="$fails; the page never became ready (data-ready)"
grep -q 'data-js-errors="0"' "$D" || fails="$fails; JavaScript errors counted: $(grep -o 'data-js-errors="[0-9]*"' "$D")"
[ -z "$errs" ] || fails="$fails; console: $errs"
for c in chart-depth chart-width chart-effect chart-curves; do
    d=$(attr "$D" "$c" data-drawn)
    [ "$d" = "1" ] || fails="$fails; canvas $c not drawn (data-drawn=\"$d\")"
done
maps=$(grep -o '<canvas[^>]*class="map"[^>]*data-drawn="1"' "$D" | wc -l)
[ "$maps" -ge 36 ] || fails="$fails; $maps decision maps drawn, want 36"
[ "$(attr "$D" t5 data-matched)" = "68" ] || fails="$fails; Table 5 matched $(attr "$D" t5 data-matched) cells, want 68"
# The claims under Tables 5 and 4: four and one, each with its verdict word.
[ "$(attr "$D" t5-claims data-claims)" = "4" ] || fails="$fails; Table 5 shows $(attr "$D" t5-claims data-claims) claims, want 4"
[ "$(attr "$D" t4-claims data-claims)" = "1" ] || fails="$fails; Table 4 shows $(attr "$D" t4-claims data-claims) claims, want 1"
verdicts=$(grep -o 'class="verdict v-\(holds\|within-noise\|contradicted\|not-enough-data\)"' "$D" | wc -l)
[ "$verdicts" -eq 5 ] || fails="$fails; $verdicts claim verdicts shown, want 5"
rows=$(grep -o '<tr[^>]*data-phase="[0-9a-f]\{32\}"' "$D" | wc -l)
[ "$rows" -ge 20 ] || fails="$fails; runs table has $rows rows"
grep -q 'hidden="" id="msg"\|id="msg"[^>]*hidden' "$D" || fails="$fails; error banner shown: $(grep -o 'id="msg"[^<]*' "$D" | head -c 200)"
if [ -z "$fails" ]; then echo "PASS browser_dashboard"; else echo "FAIL browser_dashboard: ${fails#; }"; fi

# 2. Live: the sweep moves on while the page is open; the page redraws by
#    itself (data-refreshes counts redraws after new results). Driven over
#    DevTools (tests/cdp.py): the database is advanced only once the first
#    render is seen, then the test waits, bounded, for the redraw.
PYBIN=/usr/bin/python3
[ -x "$PYBIN" ] || PYBIN=python3
"$PYBIN" - "$CHROME" "$T/profile-live" "${URL}#sweep=live" "$T/gen" "$T/results.db" <<'PY'
import subprocess, sys
sys.path.insert(0, "tests")
from cdp import Browser, CdpError
chrome, profile, url, gen, db = sys.argv[1:6]
try:
    with Browser(chrome, profile) as b:
        p = b.open(url)
        p.wait("document.body.dataset.ready === '1'", 60, "the first render (data-ready)")
        before = int(p.eval("document.body.dataset.refreshes"))
        r = subprocess.run([gen, "--advance", db, "--steps", "3"], capture_output=True, text=True)
        if r.returncode:
            raise CdpError("tool_gen_db --advance: " + r.stderr.strip())
        after = int(p.wait("Number(document.body.dataset.refreshes) > %d && document.body.dataset.refreshes" % before,
                           60, "a redraw after the database moved on (data-refreshes)"))
        errs = p.eval("document.body.dataset.jsErrors")
        if errs != "0" or p.console_errors:
            raise CdpError("JavaScript errors: %s; console: %s" % (errs, p.console_errors[:3]))
    print("PASS browser_live_updates")
except (CdpError, OSError, ValueError) as e:
    print("FAIL browser_live_updates: %s" % e)
PY

# 3. Screenshot (kept when QS_SCREENSHOT names a file).
SHOT=${QS_SCREENSHOT:-$T/dashboard.png}
chrome shot --virtual-time-budget=3000 --screenshot="$SHOT" "$PAGE"
if [ -s "$SHOT" ] && [ "$(head -c 8 "$SHOT" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; then
    echo "PASS browser_screenshot"
else
    echo "FAIL browser_screenshot: no PNG written: $(tail -n 2 "$T/shot.err")"
fi
kill "$SRV" 2>/dev/null
wait "$SRV" 2>/dev/null
SRV=""
exit 0

"""The dashboard's browser cases, run by tests/cli/browser.sh and
browser_views.sh against a real `qsweep serve` over a generated database,
in one headless Chromium driven over DevTools (tests/cdp.py).

Each case opens its own tab, waits (bounded) for the state it checks and
prints one line, "PASS browser_NAME" or "FAIL browser_NAME: why". What a
chart should show is recomputed here from the database file itself.

    browser_cases.py --chrome C --profile DIR --url URL --db F --gen TOOL CASE...
"""
import argparse
import base64
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, CdpError  # noqa: E402

READY = "document.body.dataset.ready === '1'"
WAIT = 90  # seconds any one state may take to appear on a loaded machine


class Fail(Exception):
    pass


def check(cond, fmt, *args):
    if not cond:
        raise Fail(fmt % args if args else fmt)


def ro(db):
    return sqlite3.connect("file:%s?mode=ro" % db, uri=True)


def open_ready(ctx, hash_, width=1400, height=2000, scheme=None):
    p = ctx.b.open(ctx.url + hash_, width=width, height=height, scheme=scheme)
    ctx.opened.append(p)
    p.wait(READY, WAIT, "the first render (data-ready)")
    return p


def no_js_errors(p):
    errs = p.eval("document.body.dataset.jsErrors")
    check(errs == "0" and not p.console_errors, "JavaScript errors: %s; console: %s", errs, p.console_errors[:3])


# ---------------------------------------------------------------- cases


def case_dashboard(ctx):
    """The Table 5 sweep at the 1M budget: every chart and map drawn."""
    p = open_ready(ctx, "#sweep=table5-cifar10&budget=1000000")
    values = """(() => {
      const a = (id, k) => (document.getElementById(id) || { dataset: {} }).dataset[k];
      return {
        drawn: ['chart-depth', 'chart-width', 'chart-effect', 'chart-curves', 'chart-pareto'].map((id) => a(id, 'drawn')),
        maps: document.querySelectorAll('canvas.map[data-drawn="1"]').length,
        t5: a('t5', 'matched'), t5c: a('t5-claims', 'claims'), t4c: a('t4-claims', 'claims'),
        verdicts: document.querySelectorAll('span.verdict').length,
        rows: document.querySelectorAll('#runs-table tr[data-phase]').length,
        msg: document.getElementById('msg').hidden ? '' : document.getElementById('msg').textContent,
      };
    })()"""
    want = ("(v => v.drawn.every((d) => d === '1') && v.maps >= 36 && v.t5 === '68' && v.t5c === '4' &&"
            " v.t4c === '1' && v.verdicts === 5 && v.rows >= 20 && v.msg === '')(%s)" % values)
    try:
        p.wait(want, WAIT, "every chart, map, table and claim")
    except CdpError:
        raise Fail("page state: %s" % json.dumps(p.eval(values)))
    no_js_errors(p)
    return p


def case_live_updates(ctx):
    """The sweep moves on while the page is open; the page redraws by
    itself. The database is advanced only once the first render is seen."""
    p = open_ready(ctx, "#sweep=live")
    before = int(p.eval("document.body.dataset.refreshes"))
    r = subprocess.run([ctx.gen, "--advance", ctx.db, "--steps", "3"], capture_output=True, text=True)
    check(r.returncode == 0, "tool_gen_db --advance: %s", r.stderr.strip())
    p.wait("Number(document.body.dataset.refreshes) > %d" % before, WAIT,
           "a redraw after the database moved on (data-refreshes)")
    no_js_errors(p)
    return p


def case_screenshot(ctx):
    p = open_ready(ctx, "#sweep=table5-cifar10&budget=1000000")
    p.wait("document.getElementById('chart-depth').dataset.drawn === '1'", WAIT, "the depth chart")
    png = base64.b64decode(p.call("Page.captureScreenshot", format="png")["data"])
    check(png[:8] == b"\x89PNG\r\n\x1a\n", "no PNG from Page.captureScreenshot")
    with open(os.environ.get("QS_SCREENSHOT") or os.path.join(os.path.dirname(ctx.profile), "dashboard.png"), "wb") as f:
        f.write(png)
    return p


def pareto_expected(db, sweep, x):
    """Points (one per block, depth, width, W/A) and frontier size by the
    definition: no other point at most as costly and at least as accurate."""
    col = "bops" if x == "bops" else "model_bits"
    rows = ro(db).execute(
        "SELECT DISTINCT phase_id, CASE WHEN arch = 'fcdnn' THEN (CASE WHEN residual THEN 'fcdnn-res'"
        " ELSE 'fcdnn' END) ELSE block END, depth, width, wbits, abits, %s, test_acc FROM runs"
        " WHERE sweep = ? AND status = 'done' AND test_acc IS NOT NULL AND %s > 0"
        " AND (phase = 'float' OR (phase = 'retrain' AND regularizer = 'none'))" % (col, col), (sweep,)).fetchall()
    groups = {}
    for r in rows:
        g = groups.setdefault(r[1:6], [r[6], []])
        g[1].append(r[7])
    pts = [(c, sum(a) / len(a)) for c, a in groups.values()]
    front = 0
    for i, (cx, cy) in enumerate(pts):
        if not any(j != i and qx <= cx and qy >= cy and (qx < cx or qy > cy or j < i)
                   for j, (qx, qy) in enumerate(pts)):
            front += 1
    return len(pts), front


PARETO_DRAWN = """(() => {
  const c = Chart.getChart('chart-pareto');
  const ds = c.data.datasets;
  const f = ds.find((d) => d.label === 'frontier');
  return { x: c.canvas.dataset.x, points: ds.filter((d) => d !== f).reduce((n, d) => n + d.data.length, 0),
           frontier: f ? f.data.length : -1, attr: [c.canvas.dataset.paretoPoints, c.canvas.dataset.frontier] };
})()"""


def case_pareto(ctx):
    """Point and frontier counts on the known database, for bits and BOPs;
    a click on a point opens its run."""
    p = open_ready(ctx, "#sweep=table5-cifar10&dataset=")
    for x in ("bits", "bops"):
        n, k = pareto_expected(ctx.db, "table5-cifar10", x)
        check(n > 10 and 1 < k < n, "the database gives %d points, %d on the frontier", n, k)
        if x == "bops":
            p.eval("(() => { const s = document.getElementById('sel-pareto-x'); s.value = 'bops';"
                   " s.dispatchEvent(new Event('change')); })()")
        try:
            p.wait("(v => v.x === '%s' && v.points === %d && v.frontier === %d)(%s)" % (x, n, k, PARETO_DRAWN),
                   WAIT, "the Pareto chart by %s" % x)
        except CdpError:
            raise Fail("x=%s: want %d points, %d on the frontier; drawn %s" % (x, n, k, json.dumps(p.eval(PARETO_DRAWN))))
    check("x=bops" in p.eval("location.hash"), "the Pareto axis is not in the URL: %s", p.eval("location.hash"))
    # The most isolated point, so that the click cannot land on another.
    target = p.eval("""(() => {
      const c = Chart.getChart('chart-pareto');
      c.canvas.scrollIntoView({ block: 'center' });
      const pts = [];
      c.data.datasets.forEach((d, i) => { if (d.label !== 'frontier') c.getDatasetMeta(i).data.forEach((e, j) =>
        pts.push({ x: e.x, y: e.y, id: d.data[j].runs[0].phase_id })); });
      let best = null, gap = -1;
      for (const a of pts) {
        let g = Infinity;
        for (const b of pts) if (b !== a) g = Math.min(g, Math.hypot(a.x - b.x, a.y - b.y));
        if (g > gap) { gap = g; best = a; }
      }
      const r = c.canvas.getBoundingClientRect();
      return { x: r.left + best.x, y: r.top + best.y, id: best.id, gap };
    })()""")
    check(target["gap"] > 6, "no isolated point to click (nearest %.1f px)", target["gap"])
    p.click_at(target["x"], target["y"])
    p.wait("document.getElementById('detail').dataset.phase === '%s'" % target["id"], WAIT,
           "the clicked point's run in the detail panel")
    no_js_errors(p)
    return p


def case_compare(ctx):
    """Comparison overlays one curve per selected run: 3 from the URL, a
    fourth ticked in the runs table."""
    ids = [r[0] for r in ro(ctx.db).execute(
        "SELECT DISTINCT phase_id FROM runs WHERE sweep = 'table5-cifar10' AND status = 'done'"
        " AND epochs_done > 1 ORDER BY phase_id LIMIT 3")]
    check(len(ids) == 3, "the database has %d done runs", len(ids))
    p = open_ready(ctx, "#sweep=table5-cifar10&run=%s&compare=%s" % (ids[0], ",".join(ids[1:])))
    lines = ("(() => { const c = Chart.getChart('chart-curves'); return c.canvas.dataset.curves + '/' +"
             " c.data.datasets.filter((d) => d.label.indexOf('train · ') !== 0).length; })()")
    try:
        p.wait("%s === '3/3'" % lines, WAIT, "3 overlaid curves")
    except CdpError:
        raise Fail("curves/test-accuracy lines: %s, want 3/3" % p.eval(lines))
    p.eval("(() => { const b = [...document.querySelectorAll('#runs-table tbody tr')].find((tr) =>"
           " !%s.includes(tr.dataset.phase)).querySelector('input.cmp'); b.click(); })()" % json.dumps(ids))
    try:
        p.wait("%s === '4/4'" % lines, WAIT, "4 overlaid curves")
    except CdpError:
        raise Fail("after ticking a 4th run: %s, want 4/4" % p.eval(lines))
    check(p.eval("new URLSearchParams(location.hash.slice(1)).get('compare').split(',').length") == 3,
          "the URL does not keep the compared runs: %s", p.eval("location.hash"))
    no_js_errors(p)
    return p


def case_url_state(ctx):
    """A shared link restores the view: filters, sort, page, run, axis."""
    con = ro(ctx.db)
    n = con.execute("SELECT count(*) FROM runs WHERE sweep = 'table5-cifar10' AND dataset = 'cifar10'"
                    " AND status = 'done' AND phase = 'retrain'").fetchone()[0]
    check(n > 50, "only %d done retrain runs: no second page", n)
    run = con.execute("SELECT phase_id FROM runs WHERE sweep = 'table5-cifar10' AND phase = 'retrain'"
                      " AND status = 'done' ORDER BY phase_id LIMIT 1").fetchone()[0]
    h = ("#sweep=table5-cifar10&dataset=cifar10&run=%s&x=bops&sort=test_acc&order=desc&page=2"
         "&f.status=done&f.phase=retrain" % run)
    p = open_ready(ctx, h)
    state = """(() => {
      const rows = [...document.querySelectorAll('#runs-table tbody tr[data-phase]')];
      const col = (name) => [...document.querySelectorAll('#runs-table thead th')].findIndex((th) =>
        th.querySelector('button.sort[data-sort="' + name + '"]'));
      const cell = (tr, i) => tr.children[i].textContent;
      const acc = rows.map((tr) => Number(cell(tr, col('test_acc'))));
      return {
        status: document.querySelector('#run-filters [name=status]').value,
        phase: document.querySelector('#run-filters [name=phase]').value,
        sorted: document.querySelector('th[aria-sort=descending] button.sort') ?
          document.querySelector('th[aria-sort=descending] button.sort').dataset.sort : null,
        rows: rows.length,
        allDone: rows.every((tr) => cell(tr, col('status')) === 'done' && cell(tr, col('phase')) === 'retrain'),
        desc: acc.every((v, i) => i === 0 || acc[i - 1] >= v),
        page: document.getElementById('page-info').textContent,
        x: document.getElementById('sel-pareto-x').value + '/' + document.getElementById('chart-pareto').dataset.x,
        detail: document.getElementById('detail').dataset.phase,
        hash: location.hash,
      };
    })()"""
    want = ("(v => v.status === 'done' && v.phase === 'retrain' && v.sorted === 'test_acc' && v.rows > 0 &&"
            " v.allDone && v.desc && v.page.indexOf('51') === 0 && v.x === 'bops/bops' && v.detail === '%s')(%s)"
            % (run, state))
    try:
        p.wait(want, WAIT, "the view of the link")
    except CdpError:
        raise Fail("restored view: %s" % json.dumps(p.eval(state)))
    hv = p.eval(state)["hash"]
    for k in ("sort=test_acc", "order=desc", "page=2", "f.status=done", "f.phase=retrain", "x=bops", "run=" + run):
        check(k in hv, "the page rewrote the URL without %s: %s", k, hv)
    no_js_errors(p)
    return p


def luminance(css):
    v = [int(x) for x in css[css.index("(") + 1:css.index(")")].split(",")[:3]]
    return (0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]) / 255


def case_dark_mode(ctx):
    """prefers-color-scheme: dark switches the page's and the charts' colours."""
    p = open_ready(ctx, "#sweep=table5-cifar10", scheme="light")
    look = ("[getComputedStyle(document.body).backgroundColor, getComputedStyle(document.querySelector('section')).backgroundColor,"
            " Chart.defaults.color, getComputedStyle(document.body).color]")
    light = p.eval(look)
    p.color_scheme("dark")
    p.wait("(v => v[0] !== %s && v[2] !== %s)(%s)" % (json.dumps(light[0]), json.dumps(light[2]), look), WAIT,
           "dark colours on the page and the charts")
    p.wait(READY + " && document.getElementById('chart-depth').dataset.drawn === '1'", WAIT, "the charts redrawn")
    dark = p.eval(look)
    check(luminance(light[0]) > 0.8 and luminance(dark[0]) < 0.2, "backgrounds light %s, dark %s", light[0], dark[0])
    check(luminance(dark[3]) > 0.7 and luminance(dark[1]) < 0.25, "dark text %s on cards %s", dark[3], dark[1])
    no_js_errors(p)
    return p


TAB_LIMIT = 800


def case_tab_order(ctx):
    """Tab alone reaches every sort header (with a visible focus ring), the
    sweep cards and the runs rows; Enter on a header sorts by it."""
    p = open_ready(ctx, "#sweep=table5-cifar10")
    keys = p.eval("[...document.querySelectorAll('#runs-table button.sort')].map((b) => b.dataset.sort)")
    check(len(keys) >= 12, "%d sort headers", len(keys))
    active = """(() => { const a = document.activeElement;
      return { tag: a.tagName, sort: a.dataset.sort || '', card: a.classList.contains('card'),
               row: a.tagName === 'TR' && !!a.dataset.phase, ring: getComputedStyle(a).outlineStyle }; })()"""
    seen, cards, rows, bare, sorted_by_key = set(), 0, 0, [], False
    for _ in range(TAB_LIMIT):
        p.tab()
        a = p.eval(active)
        cards += a["card"]
        rows += a["row"]
        if a["ring"] == "none" and (a["sort"] or a["card"] or a["row"]):
            bare.append(a["sort"] or a["tag"])
        if a["sort"]:
            seen.add(a["sort"])
            if a["sort"] == "test_acc" and not sorted_by_key:
                p.enter()
                p.wait("(() => { const b = document.querySelector('#runs-table button.sort[data-sort=test_acc]');"
                       " return b.closest('th').getAttribute('aria-sort') === 'descending' && document.activeElement === b; })()",
                       WAIT, "Enter on the test acc header to sort by it, keeping the focus")
                sorted_by_key = True
        if seen >= set(keys) and cards and rows:
            break
    missing = sorted(set(keys) - seen)
    check(not missing, "sort headers Tab never reached in %d presses: %s", TAB_LIMIT, ", ".join(missing))
    check(cards > 0 and rows > 0, "Tab reached %d cards and %d runs rows", cards, rows)
    check(not bare, "focused without a visible ring: %s", bare[:5])
    check(sorted_by_key, "Enter on a header was never tried")
    no_js_errors(p)
    return p


def case_phone(ctx):
    """A 390 px wide screen: the page is no wider than the screen."""
    p = open_ready(ctx, "#sweep=table5-cifar10", width=390, height=844)
    p.wait("document.getElementById('chart-depth').dataset.drawn === '1'", WAIT, "the charts at 390 px")
    w = p.eval("document.documentElement.scrollWidth")
    if w > 390:
        wide = p.eval("""[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > 391
          && !e.closest('.scroll')).slice(0, 4).map((e) => e.tagName + '#' + e.id + '.' + e.className + ' ' +
          Math.round(e.getBoundingClientRect().right))""")
        raise Fail("the page is %d px wide at a 390 px viewport; widest: %s" % (w, wide))
    no_js_errors(p)
    return p


def case_finished_with_failures(ctx):
    """A finished sweep that gains a failed phase turns its card amber."""
    p = open_ready(ctx, "#sweep=width-basic20")
    card = "document.querySelector('.card[data-sweep=\"width-basic20\"]')"
    check(p.eval(card + ".dataset.state") == "finished", "width-basic20 is %s before", p.eval(card + ".dataset.state"))
    con = sqlite3.connect(ctx.db, timeout=30)
    with con:
        n = con.execute("UPDATE phases SET status = 'failed', error = 'diverged at epoch 3 (train loss 2e+21)'"
                        " WHERE id = (SELECT phase_id FROM runs WHERE sweep = 'width-basic20' AND status = 'done'"
                        " AND phase_id NOT IN (SELECT phase_id FROM runs WHERE sweep != 'width-basic20')"
                        " ORDER BY phase_id LIMIT 1)").rowcount
    con.close()
    check(n == 1, "no phase to fail")
    p.wait("%s.dataset.state === 'finished with failures' && %s.classList.contains('warn') &&"
           " %s.querySelector('.badge.warn') !== null" % (card, card, card), WAIT, "the amber card")
    no_js_errors(p)
    return p


def case_learned_bits(ctx):
    """A phase with learned bit widths shows them per layer in the run
    detail: one row and one bar (width / 8) per phase_bits row, in layer
    order; a phase without them has no such table."""
    con = sqlite3.connect(ctx.db, timeout=30)
    ids = [r[0] for r in con.execute(
        "SELECT phase_id FROM runs WHERE sweep = 'table5-cifar10' AND status = 'done' AND phase = 'retrain'"
        " ORDER BY phase_id LIMIT 2")]
    check(len(ids) == 2, "the database has %d done retrains", len(ids))
    rows = [(0, 3, "w", 5.0, 2304), (1, 5, "a", 3.0, 16384), (2, 7, "w", 8.0, 2304), (3, 9, "a", 2.0, 16384)]
    with con:
        con.executemany("INSERT INTO phase_bits(phase_id, layer, node, kind, bits, count) VALUES (?, ?, ?, ?, ?, ?)",
                        [(ids[0],) + r for r in rows])
    con.close()
    p = open_ready(ctx, "#sweep=table5-cifar10&run=%s" % ids[0])
    table = "document.getElementById('detail-bits')"
    try:
        p.wait("document.getElementById('detail').dataset.phase === %s && %s !== null && %s.dataset.rows === '4'"
               % (json.dumps(ids[0]), table, table), WAIT, "the learned-bits table")
    except CdpError:
        raise Fail("no learned-bits table of 4 rows: %s" % p.eval("(%s || {dataset: {}}).dataset.rows" % table))
    # the bar's width as a share of its cell's content box
    got = p.eval("JSON.stringify([...%s.querySelectorAll('tbody tr')].map((tr) => { const c ="
                 " tr.querySelector('.bits-cell'), s = getComputedStyle(c); return [tr.dataset.bits,"
                 " tr.cells[2].textContent, Math.round(100 * tr.querySelector('.bits-bar').getBoundingClientRect().width"
                 " / (c.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)))]; }))" % table)
    want = [[str(int(b)), "weights" if k == "w" else "activation", round(100 * b / 8)] for _, _, k, b, _ in rows]
    got = json.loads(got)
    check([g[:2] for g in got] == [w[:2] for w in want], "rows %s, want %s", got, want)
    check(all(abs(g[2] - w[2]) <= 3 for g, w in zip(got, want)), "bar widths %s, want about %s", got, want)
    p.eval("selectPhase(%s)" % json.dumps(ids[1]))
    p.wait("document.getElementById('detail').dataset.phase === %s" % json.dumps(ids[1]), WAIT, "the second run")
    check(p.eval("%s === null" % table), "a run without learned widths shows a learned-bits table")
    no_js_errors(p)
    return p


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    ap = argparse.ArgumentParser()
    for k in ("chrome", "profile", "url", "db", "gen"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("cases", nargs="+")
    ctx = ap.parse_args()
    bad = [c for c in ctx.cases if c not in CASES]
    if bad:
        print("FAIL browser_cases: unknown case %s (known: %s)" % (", ".join(bad), ", ".join(CASES)))
        return 1
    try:
        ctx.b = Browser(ctx.chrome, ctx.profile)
    except (CdpError, OSError) as e:
        for c in ctx.cases:
            print("FAIL browser_%s: chromium did not start: %s" % (c, e))
        return 1
    with ctx.b:
        for c in ctx.cases:
            ctx.opened = []
            try:
                CASES[c](ctx)
                print("PASS browser_%s" % c)
            except (Fail, CdpError, OSError, ValueError, KeyError, TypeError) as e:
                print("FAIL browser_%s: %s" % (c, e))
            sys.stdout.flush()
            for page in ctx.opened:  # each case starts without the last one's tabs
                try:
                    page.close()
                except (CdpError, OSError):
                    pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

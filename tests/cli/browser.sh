#!/usr/bin/env bash
# The dashboard in headless Chromium (Debian's `chromium`, installed by
# `make setup`), driven over DevTools (tests/browser_cases.py): a real
# `qsweep serve` on 127.0.0.1 over a generated database; the page must
# load, draw every chart and decision map, log no JavaScript error, and
# redraw by itself while the sweep writes. The new views (Pareto,
# comparison, URL state, dark mode, keyboard, phone): browser_views.sh.
# QS_SCREENSHOT=FILE keeps a screenshot (docs/dashboard.png is made so).
. "$(dirname "$0")/browser_lib.sh"
browser_cases dashboard live_updates screenshot

#!/usr/bin/env bash
# The dashboard's views in headless Chromium, driven over DevTools
# (tests/browser_cases.py) against a real `qsweep serve` over a generated
# database: the Pareto chart's points and frontier (recomputed from the
# file) and a click on a point opening its run; the learning curves
# overlaying N compared runs; a shared URL restoring filters, sort, page,
# run and axis; dark mode switching the page's and charts' colours; Tab
# reaching every sort header, card and row with a visible focus ring;
# a 390 px screen without a page-wide scroll; the amber card of a sweep
# that finished with failures; a run's learned bit widths per layer.
. "$(dirname "$0")/browser_lib.sh"
browser_cases pareto compare url_state dark_mode tab_order phone finished_with_failures learned_bits

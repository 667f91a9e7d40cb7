/* qsweep dashboard: menus, the URL hash, loading and live updates; starts the
 * page. Loaded last: the views are in common.js, chart_util.js, charts.js,
 * tables.js, runs.js, maps.js, pareto.js and detail.js. */
'use strict';

/* ---------- menus and state ---------- */

function fillSelect(sel, values, current, labels) {
  const prev = current !== undefined ? current : sel.value;
  sel.textContent = '';
  values.forEach((v, i) => sel.appendChild(el('option', { value: v, text: labels ? labels[i] : v })));
  sel.value = values.includes(prev) ? prev : values[0] || '';
}

function datasetsOf(sweepName) {
  const set = new Set();
  for (const s of state.sweeps) if (!sweepName || s.name === sweepName) s.datasets.forEach((x) => set.add(x));
  return [...set].sort();
}

/* The dataset with the most phases in the selection: the page opens on it
 * (ties: the first by name), so a mixed sweep shows its larger half. */
function defaultDataset(sweepName) {
  const n = new Map();
  for (const s of state.sweeps) {
    if (sweepName && s.name !== sweepName) continue;
    for (const [k, v] of Object.entries(s.dataset_phases || {})) n.set(k, (n.get(k) || 0) + v);
  }
  let best = '';
  for (const k of [...n.keys()].sort()) if (!best || n.get(k) > n.get(best)) best = k;
  return best;
}

/* The dataset menu: "all datasets" ('') then each name. state.dataset null
 * means not chosen yet: the default. */
function fillDatasets() {
  const ds = datasetsOf(state.sweep);
  const cur = state.dataset === null || (state.dataset !== '' && !ds.includes(state.dataset))
    ? defaultDataset(state.sweep) : state.dataset;
  fillSelect($('sel-dataset'), [''].concat(ds), cur, ['all datasets'].concat(ds));
  state.dataset = $('sel-dataset').value;
}

function fillMenus() {
  const names = state.sweeps.map((s) => s.name);
  fillSelect($('sel-sweep'), [''].concat(names), state.sweep, ['all sweeps'].concat(names));
  state.sweep = $('sel-sweep').value;
  fillDatasets();
  $('sel-phase').value = state.phase;
  $('sel-reg').value = state.reg;
  $('sel-budget').value = state.budget;
}

/* The view in the URL's #...: menus, the runs table's sort, filters and
 * page, the selected run, the compared runs and the Pareto axis, so a
 * link shows the same view. Values are checked here or by the API (a bad
 * one is a clear error banner, never a silent other view). */
const FILTER_KEYS = ['phase', 'status', 'block', 'setting', 'regularizer', 'depth', 'width', 'seed'];
const isPhaseId = (x) => /^[0-9a-f]{32}$/.test(x);

function readHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.has('sweep')) state.sweep = h.get('sweep');
  if (h.has('dataset')) state.dataset = h.get('dataset');
  if (h.has('phase')) state.phase = h.get('phase') === 'clr' ? 'clr' : 'retrain';
  if (h.has('regularizer')) state.reg = h.get('regularizer') === 'lipschitz' ? 'lipschitz' : 'none';
  if (h.has('budget')) state.budget = h.get('budget');
  if (h.has('run') && isPhaseId(h.get('run'))) state.phaseId = h.get('run');
  if (h.has('compare')) state.compare = h.get('compare').split(',').filter(isPhaseId).slice(0, MAX_COMPARE);
  if (h.has('x')) state.paretoX = h.get('x') === 'bops' ? 'bops' : 'bits';
  if (h.has('sort')) state.runs.sort = h.get('sort');
  if (h.has('order')) state.runs.order = h.get('order') === 'desc' ? 'desc' : 'asc';
  if (h.has('page')) state.runs.offset = Math.max(0, (parseInt(h.get('page'), 10) - 1) * state.runs.limit || 0);
  for (const k of FILTER_KEYS) if (h.get('f.' + k)) state.runs.filters[k] = h.get('f.' + k);
  return h.has('sweep');
}

function writeHash() {
  const h = new URLSearchParams();
  h.set('sweep', state.sweep);
  if (state.dataset !== null) h.set('dataset', state.dataset);
  if (state.phase !== 'retrain') h.set('phase', state.phase);
  if (state.reg !== 'none') h.set('regularizer', state.reg);
  if (state.budget) h.set('budget', state.budget);
  if (state.phaseId) h.set('run', state.phaseId);
  if (state.compare.length) h.set('compare', state.compare.join(','));
  if (state.paretoX !== 'bits') h.set('x', state.paretoX);
  if (state.runs.sort !== 'config') h.set('sort', state.runs.sort);
  if (state.runs.order !== 'asc') h.set('order', state.runs.order);
  if (state.runs.offset) h.set('page', String(Math.floor(state.runs.offset / state.runs.limit) + 1));
  for (const k of FILTER_KEYS) if (state.runs.filters[k]) h.set('f.' + k, state.runs.filters[k]);
  history.replaceState(null, '', '#' + h.toString());
}

/* The filter form shows state.runs.filters (after a link restored them). */
function fillFilters() {
  for (const input of $('run-filters').elements) {
    if (input.name) input.value = state.runs.filters[input.name] || '';
  }
}

function onControls(e) {
  const sweepChanged = state.sweep !== $('sel-sweep').value;
  state.sweep = $('sel-sweep').value;
  // A new sweep opens on its own default dataset unless one was picked.
  state.dataset = sweepChanged && !(e && e.target && e.target.id === 'sel-dataset') ? null : $('sel-dataset').value;
  fillDatasets();
  state.phase = $('sel-phase').value;
  state.reg = $('sel-reg').value;
  state.budget = $('sel-budget').value;
  state.runs.offset = 0;
  state.phaseId = null;
  writeHash();
  for (const c of document.querySelectorAll('.card')) c.classList.toggle('selected', c.dataset.sweep === state.sweep);
  refreshAll(true).catch(report);
}

function onFilters() {
  const f = {};
  for (const input of $('run-filters').elements) if (input.name && input.value !== '') f[input.name] = input.value;
  state.runs.filters = f;
  state.runs.offset = 0;
  writeHash();
  loadRuns().catch(report);
}

function onParetoX() {
  state.paretoX = $('sel-pareto-x').value === 'bops' ? 'bops' : 'bits';
  writeHash();
  loadPareto().catch(report);
}

function movePage(delta) {
  state.runs.offset = Math.max(0, state.runs.offset + delta * state.runs.limit);
  writeHash();
  loadRuns().catch(report);
}

function selectPhase(id) {
  state.phaseId = id;
  writeHash();
  for (const tr of document.querySelectorAll('#runs-table tbody tr')) {
    tr.classList.toggle('sel', tr.dataset.phase === id);
    tr.setAttribute('aria-selected', tr.dataset.phase === id ? 'true' : 'false');
  }
  loadCurves().catch(report);
  loadDetail().catch(report);
  $('chart-curves').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

/* ---------- loading and live updates ---------- */

async function refreshAll(pickPhase) {
  showMessage('');
  const jobs = [loadDepth(), loadWidth(), loadEffect(), loadPareto(), loadTable5(), loadTable4(), loadFailures(),
    loadMaps()];
  const runs = await loadRuns();
  if (pickPhase && !state.phaseId) {
    // Default curve: a running phase of the selection, else the run of
    // this page with the most epochs (a 1-epoch CLR run draws one dot).
    let pick = null;
    try {
      const running = await api('runs', runParams({ status: 'running', limit: 1 }));
      pick = running.rows.length ? running.rows[0] : null;
    } catch (e) {
      pick = null;
    }
    for (const r of runs.rows) if (!pick || r.epochs_done > pick.epochs_done) pick = r;
    if (pick && !pick.epochs_done) pick = null;
    state.phaseId = pick ? pick.phase_id : null;
  }
  jobs.push(loadCurves(), loadDetail());
  const results = await Promise.allSettled(jobs);
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length) report(failed[0].reason);
}

function signature(d) {
  return JSON.stringify(d.sweeps.map((s) => [s.name, s.done, s.running, s.failed, s.queued, s.updated]));
}

async function poll() {
  try {
    const d = await api('sweeps');
    state.sweeps = d.sweeps;
    renderOverview(d);
    const sig = signature(d);
    if (sig !== state.sig) {
      const names = d.sweeps.map((s) => s.name).join('|');
      if (names !== state.sweepNames) { // a new sweep appeared: new menu entries
        state.sweepNames = names;
        fillMenus();
      }
      state.sig = sig;
      // New results: redraw everything in place, no reload.
      await refreshAll(false);
      document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
    } else if (state.phaseRunning) {
      await Promise.all([loadCurves(), loadDetail()]);
    }
  } catch (e) {
    report(e);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

async function init() {
  if (!chartOk()) {
    showMessage('Chart.js did not load (Debian package libjs-chart.js: run make setup); tables only.');
  }
  const fromHash = readHash();
  const d = await api('sweeps');
  state.sweeps = d.sweeps;
  state.sweepNames = d.sweeps.map((s) => s.name).join('|');
  state.sig = signature(d);
  if (!fromHash) {
    // The most recently started sweep: the one a user is watching.
    const running = d.sweeps.find((s) => s.state === 'running');
    state.sweep = running ? running.name : d.sweeps.length ? d.sweeps[0].name : '';
  }
  fillMenus();
  renderOverview(d);
  for (const id of ['sel-sweep', 'sel-dataset', 'sel-phase', 'sel-reg', 'sel-budget']) {
    $(id).addEventListener('change', onControls);
  }
  $('controls').addEventListener('submit', (e) => e.preventDefault());
  $('run-filters').addEventListener('change', onFilters);
  $('run-filters').addEventListener('submit', (e) => {
    e.preventDefault();
    onFilters();
  });
  $('prev').addEventListener('click', () => movePage(-1));
  $('next').addEventListener('click', () => movePage(1));
  $('sel-pareto-x').value = state.paretoX;
  $('sel-pareto-x').addEventListener('change', onParetoX);
  fillFilters();
  // Light / dark follows the system; the charts are redrawn in the new
  // theme's colours.
  if (window.matchMedia) {
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
      for (const c of Object.values(state.charts)) c.destroy();
      state.charts = {};
      refreshAll(false).catch(report);
    });
  }
  await refreshAll(true);
  writeHash();
  document.body.dataset.ready = '1';
  setTimeout(poll, POLL_MS);
}

init().catch((e) => {
  report(e);
  countError(e && e.message ? e.message : e);
});

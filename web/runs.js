/* qsweep dashboard: the runs table (sort, filters, pages) and the failures list. */
'use strict';

const RUN_COLUMNS = [
  // [label, sort key (null: not sortable), cell writer, css class]
  ['sweep', 'sweep', (r) => r.sweep, 'l'],
  ['model', 'model', (r) => r.model, 'l'],
  ['phase', 'phase', (r) => phaseName(r), 'l'],
  ['W/A', 'wbits', (r) => setting(r.wbits, r.abits), 'l'],
  ['reg.', 'regularizer', (r) => r.regularizer, 'l'],
  ['seed', 'seed', (r) => r.seed, ''],
  ['params', 'params', (r) => fmtParams(r.params), ''],
  ['status', 'status', null, 'l'],
  ['epochs', 'epochs_done', (r) => r.epochs_done + '/' + r.epochs, ''],
  ['test acc', 'test_acc', (r) => fmtAcc(r.test_acc), ''],
  ['test loss', 'test_loss', (r) => fmtNum(r.test_loss, 3), ''],
  ['time', 'seconds', (r) => fmtDur(r.seconds), ''],
  ['error', 'error', (r) => r.error || '', 'err'],
];

// A ptq row names its variant: ptq, ptq+cle, ptq+adaround, ptq+adaround+cle
// (the labels of `qsweep report pivot`). The run detail's longer label
// (detail.js phaseLabel) adds the setting to this name.
function phaseName(r) {
  // a compress row says what it asked for: compress (svd params=0.5)
  if (r.phase === 'compress' && r.compress) return 'compress (' + r.compress + ')';
  if (r.phase !== 'ptq') return r.phase;
  return 'ptq' + (r.rounding === 'adaround' ? '+adaround' : '') + (r.equalize ? '+cle' : '');
}

function runParams(extra) {
  const f = state.runs.filters;
  const p = {
    sweep: state.sweep, dataset: state.dataset, phase: f.phase, status: f.status, block: f.block,
    regularizer: f.regularizer, depth: f.depth, width: f.width, seed: f.seed,
    sort: state.runs.sort, order: state.runs.order,
  };
  if (f.setting) {
    const [wb, ab] = f.setting.split('/');
    p.wbits = wb;
    p.abits = ab;
  }
  return Object.assign(p, extra || {});
}

// A row still 'running' in the file while no coordinator runs it.
function shownStatus(status, live) {
  return status === 'running' && live === false ? 'interrupted' : status;
}

async function loadRuns() {
  const d = await api('runs', runParams({ limit: state.runs.limit, offset: state.runs.offset }));
  const t = $('runs-table');
  t.textContent = '';
  const head = el('tr', {}, el('th', { class: 'l', title: 'overlay up to ' + MAX_COMPARE + ' runs in the learning curves', text: 'cmp' }));
  for (const [label, key, , cls] of RUN_COLUMNS) {
    const active = state.runs.sort === key;
    // The sort control is a button in the header: in the tab order, Enter
    // and Space work, and aria-sort tells a screen reader the order.
    const th = el('th', {
      class: (cls === 'l' || cls === 'err' ? 'l ' : '') + (key ? 'sortable' : ''),
      'aria-sort': key ? (active ? (state.runs.order === 'desc' ? 'descending' : 'ascending') : 'none') : null,
    });
    if (key) {
      th.appendChild(el('button', {
        type: 'button', class: 'sort', 'data-sort': key, title: 'sort by ' + label,
        onclick: () => sortRuns(key),
        text: label + (active ? (state.runs.order === 'desc' ? ' ▾' : ' ▴') : ''),
      }));
    } else {
      th.textContent = label;
    }
    head.appendChild(th);
  }
  t.appendChild(el('thead', {}, head));
  const body = el('tbody');
  for (const r of d.rows) {
    const tr = keyable(el('tr', {
      class: r.phase_id === state.phaseId ? 'sel' : null,
      'data-phase': r.phase_id,
      'aria-selected': r.phase_id === state.phaseId ? 'true' : 'false',
      onclick: (e) => {
        if (e.target.tagName !== 'INPUT') selectPhase(r.phase_id);
      },
    }));
    const box = el('input', {
      type: 'checkbox', class: 'cmp', 'aria-label': 'compare ' + r.model + ' seed ' + r.seed,
      onchange: (e) => toggleCompare(r.phase_id, e.target.checked),
    });
    box.checked = state.compare.includes(r.phase_id);
    tr.appendChild(el('td', { class: 'l' }, box));
    for (const [, key, fn, cls] of RUN_COLUMNS) {
      if (key === 'status') {
        const st = shownStatus(r.status, d.running_live);
        tr.appendChild(el('td', { class: 'l' }, el('span', { class: 'status ' + st, text: st })));
      } else {
        const v = fn(r);
        tr.appendChild(el('td', { class: cls || null, title: key === 'error' && v ? v : null, text: v }));
      }
    }
    body.appendChild(tr);
  }
  if (!d.rows.length) {
    body.appendChild(el('tr', {}, el('td', { class: 'l empty', colspan: RUN_COLUMNS.length + 1, text: 'no runs match' })));
  }
  t.appendChild(body);
  const a = d.total ? d.offset + 1 : 0;
  const b = d.offset + d.rows.length;
  $('page-info').textContent = a + '–' + b + ' of ' + d.total;
  $('runs-count').textContent = d.total + ' runs';
  $('prev').disabled = d.offset === 0;
  $('next').disabled = b >= d.total;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(runParams())) if (v !== undefined && v !== '' && v !== null) q.set(k, v);
  $('csv-link').href = 'api/runs.csv?' + q.toString();
  return d;
}

function sortRuns(key) {
  if (state.runs.sort === key) state.runs.order = state.runs.order === 'asc' ? 'desc' : 'asc';
  else {
    state.runs.sort = key;
    state.runs.order = key === 'test_acc' ? 'desc' : 'asc';
  }
  state.runs.offset = 0;
  writeHash();
  // Focus stays on the header just used: the table is rebuilt under it.
  loadRuns().then(() => {
    const b = document.querySelector('#runs-table button.sort[data-sort="' + key + '"]');
    if (b) b.focus();
  }).catch(report);
}

/* Adds or removes a run from the learning-curve overlay (at most
 * MAX_COMPARE, the oldest dropped first). */
function toggleCompare(id, on) {
  state.compare = state.compare.filter((x) => x !== id);
  if (on) state.compare.push(id);
  while (state.compare.length > MAX_COMPARE) state.compare.shift();
  for (const b of document.querySelectorAll('#runs-table tbody tr')) {
    const c = b.querySelector('input.cmp');
    if (c) c.checked = state.compare.includes(b.dataset.phase);
  }
  writeHash();
  loadCurves().catch(report);
}

async function loadFailures() {
  const d = await api('failures', { sweep: state.sweep, limit: 12 });
  $('fail-count').textContent = d.total ? d.total + ' failed phases' : 'none';
  const reasons = $('fail-reasons');
  reasons.textContent = '';
  for (const r of d.reasons.slice(0, 12)) {
    reasons.appendChild(el('span', { class: 'reason', title: r.error, text: r.n + ' × ' + r.error }));
  }
  const t = $('fail-table');
  t.textContent = '';
  if (!d.rows.length) {
    t.appendChild(el('tbody', {}, el('tr', {}, el('td', { class: 'l empty', text: 'no failures' }))));
    return;
  }
  t.appendChild(el('thead', {}, el('tr', {}, ...['sweep', 'model', 'phase', 'W/A', 'reg.', 'seed', 'epochs', 'attempts', 'reason']
    .map((h, i) => el('th', { class: i < 5 || i === 8 ? 'l' : null, text: h })))));
  const body = el('tbody');
  for (const r of d.rows) {
    body.appendChild(keyable(el('tr', { class: 'link', onclick: () => selectPhase(r.phase_id), 'data-phase': r.phase_id },
      el('td', { class: 'l', text: r.sweep }), el('td', { class: 'l', text: r.model }),
      el('td', { class: 'l', text: r.phase }), el('td', { class: 'l', text: setting(r.wbits, r.abits) }),
      el('td', { class: 'l', text: r.regularizer }), el('td', { text: r.seed }),
      el('td', { text: r.epochs_done + '/' + r.epochs }), el('td', { text: r.attempts }),
      el('td', { class: 'err', title: r.error, text: r.error }))));
  }
  t.appendChild(body);
}

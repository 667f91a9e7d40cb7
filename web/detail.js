/* qsweep dashboard: the selected run. Its learning curves (or, with runs
 * ticked for comparison, the test accuracy of up to MAX_COMPARE runs
 * overlaid) and its detail panel: full configuration, parent chain,
 * the command that reproduces it with its job JSON and checkpoint to
 * download, its learned bit widths per layer (BitPruning phases), and the
 * per-epoch table. */
'use strict';

const COMPARE_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];

/* "retrain W2A2 + lipschitz"; a float phase is just "float". */
function phaseLabel(r) {
  return (r.phase === 'float' ? 'float' : phaseName(r) + ' ' + setting(r.wbits, r.abits)) +
    (r.regularizer !== 'none' ? ' + ' + r.regularizer : '');
}

function runLabel(r) {
  return r.model + ' · ' + phaseLabel(r) + ' · seed ' + r.seed;
}

/* The runs the curves show: the selected one, then the ticked ones. */
function curveRuns() {
  const ids = [];
  for (const id of [state.phaseId].concat(state.compare)) if (id && !ids.includes(id)) ids.push(id);
  return ids.slice(0, MAX_COMPARE);
}

async function loadCurves() {
  const ids = curveRuns();
  const canvas = $('chart-curves');
  if (!ids.length) {
    canvas.dataset.curves = '0';
    drawChart('chart-curves', {
      type: 'line',
      data: { datasets: [] },
      options: lineOptions('epoch', 'accuracy (%)', { qsEmptyText: 'no run selected' }),
    });
    return;
  }
  const all = await Promise.all(ids.map((id) => api('curves', { phase_id: id })));
  const d = all[0];
  const r = d.run;
  state.phaseRunning = all.some((x) => x.run.status === 'running' && x.running_live !== false);
  canvas.dataset.curves = String(all.length);
  if (all.length > 1) {
    drawCompare(all);
    return;
  }
  $('curve-title').textContent = runLabel(r) + ' · ' + shownStatus(r.status, d.running_live) + ' ' +
    r.epochs_done + '/' + r.epochs;
  const e = d.epochs;
  const series = (key, axis, label, color, dash) => ({
    label,
    data: e.epoch.map((x, i) => ({ x, y: e[key][i], std: null, n: 1 })),
    yAxisID: axis,
    borderColor: color,
    backgroundColor: color,
    borderDash: dash,
    pointRadius: e.epoch.length > 60 ? 0 : 2,
    borderWidth: 1.8,
    spanGaps: false,
    qsNoBars: true,
  });
  const ds = [
    series('test_acc', 'y', 'test accuracy', '#1f77b4', []),
    series('train_acc', 'y', 'train accuracy', '#7fb3e0', [5, 3]),
    series('test_loss', 'y2', 'test loss', '#d62728', []),
    series('train_loss', 'y2', 'train loss', '#f0a09f', [5, 3]),
  ];
  const opts = lineOptions('epoch', 'accuracy (%)');
  opts.scales.y2 = { position: 'right', title: { display: true, text: 'cross-entropy loss' }, grid: { drawOnChartArea: false } };
  opts.plugins.tooltip = {
    mode: 'index',
    intersect: false,
    callbacks: {
      title: (items) => (items.length ? 'epoch ' + items[0].raw.x + (e.lr[items[0].dataIndex] !== null
        ? '  (lr ' + e.lr[items[0].dataIndex] + ')' : '') : ''),
      label: (c) => c.dataset.label + ': ' + fmtNum(c.raw.y, 3),
    },
  };
  opts.interaction = { mode: 'index', intersect: false };
  opts.onClick = null;
  drawChart('chart-curves', { type: 'line', data: { datasets: ds }, options: opts });
}

/* Several runs: one test-accuracy line each, solid, and its train
 * accuracy dashed in the same colour. */
function drawCompare(all) {
  $('curve-title').textContent = all.length + ' runs compared (test accuracy solid, train dashed)';
  const ds = [];
  all.forEach((d, i) => {
    const c = COMPARE_COLORS[i % COMPARE_COLORS.length];
    const e = d.epochs;
    const line = (key, dash, label) => ({
      label,
      data: e.epoch.map((x, j) => ({ x, y: e[key][j], std: null, n: 1 })),
      borderColor: c,
      backgroundColor: c,
      borderDash: dash,
      pointRadius: e.epoch.length > 60 ? 0 : 2,
      borderWidth: dash.length ? 1.2 : 2,
      qsNoBars: true,
      qsRun: d.run.phase_id,
    });
    ds.push(line('test_acc', [], runLabel(d.run)));
    ds.push(line('train_acc', [4, 3], 'train · ' + runLabel(d.run)));
  });
  const opts = lineOptions('epoch', 'accuracy (%)');
  opts.plugins.legend.labels.filter = (item) => !item.text.startsWith('train · ');
  opts.plugins.tooltip = { callbacks: { label: (c) => c.dataset.label + ': ' + fmtAcc(c.raw.y) } };
  opts.onClick = null;
  drawChart('chart-curves', { type: 'line', data: { datasets: ds }, options: opts });
}

/* ---------- the detail panel ---------- */

function kvTable(obj) {
  const t = el('table', { class: 'grid small kv' });
  const body = el('tbody');
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    body.appendChild(el('tr', {}, el('th', { class: 'l', scope: 'row', text: k }),
      el('td', { class: 'l', text: v === null ? 'null' : typeof v === 'object' ? JSON.stringify(v) : String(v) })));
  }
  t.appendChild(body);
  return t;
}

function chainLink(p) {
  return el('button', {
    type: 'button', class: 'chain', 'data-phase': p.phase_id,
    title: 'show ' + p.phase_id, onclick: () => selectPhase(p.phase_id),
    text: phaseLabel(p) + ' · ' + p.status + ' · ' + fmtAcc(p.test_acc) + '%',
  });
}

function epochTable(e) {
  const cols = [['epoch', 'epoch', 0], ['lr', 'lr', 5], ['train loss', 'train_loss', 4], ['train acc', 'train_acc', 2],
    ['test loss', 'test_loss', 4], ['test acc', 'test_acc', 2], ['lipschitz', 'lipschitz', 4], ['s', 'seconds', 1],
    ['img/s', 'img_per_s', 0]];
  const t = el('table', { class: 'grid small', id: 'detail-epochs' });
  t.appendChild(el('thead', {}, el('tr', {}, ...cols.map(([h]) => el('th', { scope: 'col', text: h })))));
  const body = el('tbody');
  for (let i = 0; i < e.epoch.length; i++) {
    body.appendChild(el('tr', {}, ...cols.map(([, k, dg]) => el('td', { text: fmtNum(e[k][i], dg) }))));
  }
  t.appendChild(body);
  t.dataset.rows = String(e.epoch.length);
  return t;
}

/* One row per learned width: the layer, weights or activation, the width
 * with a bar of width / 8, and the layer's size. */
function bitsTable(layers) {
  const t = el('table', { class: 'grid small', id: 'detail-bits' });
  t.appendChild(el('thead', {}, el('tr', {}, ...['layer', 'node', 'tensor', 'bits', '', 'size']
    .map((h) => el('th', { scope: 'col', text: h })))));
  const body = el('tbody');
  for (const l of layers) {
    const bar = el('span', { class: 'bits-bar' });
    bar.style.width = (100 * Math.min(l.bits, 8) / 8).toFixed(1) + '%';
    body.appendChild(el('tr', { 'data-bits': String(l.bits) },
      el('td', { text: String(l.layer) }), el('td', { text: String(l.node) }),
      el('td', { class: 'l', text: l.kind === 'w' ? 'weights' : 'activation' }),
      el('td', { text: fmtNum(l.bits, 0) }),
      el('td', { class: 'bits-cell' }, bar),
      el('td', { text: fmtParams(l.count) + (l.kind === 'w' ? ' weights' : ' per example') })));
  }
  t.appendChild(body);
  t.dataset.rows = String(layers.length);
  return t;
}

async function loadDetail() {
  const box = $('detail-body');
  const sec = $('detail');
  if (!state.phaseId) {
    sec.hidden = true;
    sec.dataset.phase = '';
    return;
  }
  const id = state.phaseId;
  const [d, c, b] = await Promise.all([api('run', { phase_id: id }), api('curves', { phase_id: id }),
    api('bits', { phase_id: id })]);
  if (id !== state.phaseId) return; // another run was picked meanwhile
  sec.hidden = false;
  box.textContent = '';
  $('detail-title').textContent = runLabel(d.run);
  const q = 'phase_id=' + encodeURIComponent(id);
  const cmd = el('code', { id: 'reproduce', text: d.reproduce });
  const files = el('p', { class: 'files' },
    el('a', { class: 'button', id: 'config-link', href: 'api/config?' + q, download: id + '.json', text: 'job JSON (' + id + '.json)' }), ' ',
    d.checkpoint
      ? el('a', { class: 'button', id: 'ckpt-link', href: 'api/checkpoint?' + q, download: id + '.ckpt',
        text: 'checkpoint (epoch ' + d.checkpoint.epoch + ', ' + fmtParams(d.checkpoint.bytes) + 'B)' })
      : el('span', { class: 'hint', id: 'ckpt-link', text: 'no checkpoint stored for this run' }));
  const parentId = d.parents.length ? d.parents[0].phase_id : null;
  if (parentId) {
    files.appendChild(document.createTextNode(' '));
    files.appendChild(el('a', { class: 'button', href: 'api/checkpoint?phase_id=' + encodeURIComponent(parentId),
      download: parentId + '.ckpt', text: 'parent checkpoint (' + parentId + '.ckpt)' }));
  }
  const chain = el('div', { class: 'chain-box', id: 'detail-chain', 'data-parents': String(d.parents.length) });
  for (const p of d.parents.slice().reverse()) chain.append(chainLink(p), ' → ');
  chain.appendChild(el('b', { text: phaseLabel(d.run) + ' (this run)' }));
  if (d.children.length) {
    chain.appendChild(el('span', { class: 'hint', text: ' → ' }));
    for (const k of d.children) chain.appendChild(chainLink(k));
  }
  const run = Object.assign({}, d.run);
  box.append(
    el('h3', { text: 'Reproduce' }), el('p', {}, cmd), files,
    el('h3', { text: 'Parent chain' }), chain,
    el('div', { class: 'detail-cols' },
      el('div', {}, el('h3', { text: 'Configuration (job JSON)' }),
        d.config ? kvTable(d.config) : el('p', { class: 'msg', text: d.config_error || 'no configuration stored' })),
      el('div', {}, el('h3', { text: 'Result' }), kvTable(run))),
    ...(b.layers.length ? [el('h3', { text: 'Learned bit widths' }), el('div', { class: 'scroll' }, bitsTable(b.layers))] : []),
    el('h3', { text: 'Per epoch' }), el('div', { class: 'scroll' }, epochTable(c.epochs)));
  sec.dataset.phase = id;
}

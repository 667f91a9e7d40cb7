/* qsweep dashboard: the accuracy charts (depth, width, the W2A2 effect of the
 * Lipschitz regularizer and CLR) and a run's learning curves. */
'use strict';

/* ---------- sections ---------- */

function chartParams() {
  return { sweep: state.sweep, dataset: state.dataset, phase: state.phase, regularizer: state.reg };
}

async function loadDepth() {
  const d = await api('depth', Object.assign(chartParams(), { budget: state.budget }));
  const depths = new Set(d.groups.map((g) => g.depth));
  if (depths.size === 1) d.groups = []; // a single depth: the width chart has it
  // One line per block and setting; per width too where one depth has
  // several widths (FCDNN 128-4 and 256-4), which are different models.
  const seen = new Set();
  let byWidth = false;
  for (const g of d.groups) {
    const k = g.block + '|' + g.setting + '|' + g.depth;
    if (seen.has(k)) byWidth = true;
    seen.add(k);
  }
  const widths = [...new Set(d.groups.map((g) => g.block + '-' + g.width))];
  const palette = Object.values(BLOCK_COLORS).concat(EXTRA_COLORS);
  const ds = linesFrom(d.groups,
    (g) => g.block + (byWidth ? '|' + g.width : '') + '|' + g.setting, (g) => g.depth,
    (g) => g.block + (byWidth ? '-' + g.width : '') + ' ' + g.setting,
    (g, i) => Object.assign({
      color: byWidth ? palette[widths.indexOf(g.block + '-' + g.width) % palette.length] : colorFor(g.block, i),
    }, styleOfSetting(g.setting)));
  ds.sort(settingOrder);
  $('depth-hint').textContent = state.budget
    ? '(models within 25% of ' + fmtParams(Number(state.budget)) + ' parameters)'
    : '(all budgets; pick one in the menu for the paper\'s fixed-budget view)';
  drawChart('chart-depth', {
    type: 'line',
    data: { datasets: ds },
    options: lineOptions('depth', 'test accuracy (%)', {
      qsEmptyText: depths.size === 1 ? 'one depth (' + [...depths][0] + ') in this selection'
        : 'no done runs for this selection',
    }),
  });
}

function styleOfSetting(s) {
  const st = SETTING_STYLE[s] || { dash: [4, 2], point: 'star' };
  return { dash: st.dash, point: st.point };
}

async function loadWidth() {
  const d = await api('width', chartParams());
  const widths = new Set(d.groups.map((g) => g.width));
  if (widths.size === 1) {
    // A single width says nothing about width: the depth chart has it.
    d.groups = [];
  }
  // One line per (block, depth, setting) when the sweep varies the width
  // at a fixed depth; when every depth has a single width (a fixed-budget
  // sweep, where width follows depth) one line per (block, setting).
  const perDepth = new Map();
  for (const g of d.groups) {
    const k = g.block + '|' + g.depth + '|' + g.setting;
    perDepth.set(k, (perDepth.get(k) || 0) + 1);
  }
  const multi = [...perDepth.values()].filter((n) => n > 1).length;
  const byDepth = multi * 2 >= perDepth.size;
  const depths = [...new Set(d.groups.map((g) => g.block + '-' + g.depth))];
  const palette = Object.values(BLOCK_COLORS).concat(EXTRA_COLORS);
  const ds = linesFrom(d.groups,
    (g) => g.block + (byDepth ? '|' + g.depth : '') + '|' + g.setting, (g) => g.width,
    (g) => g.block + (byDepth ? '-' + g.depth : '') + ' ' + g.setting,
    (g, i) => Object.assign({
      color: byDepth && depths.length > 1 ? palette[depths.indexOf(g.block + '-' + g.depth) % palette.length]
        : colorFor(g.block, i),
    }, styleOfSetting(g.setting)));
  ds.sort(settingOrder);
  drawChart('chart-width', {
    type: 'line',
    data: { datasets: ds },
    options: lineOptions('width', 'test accuracy (%)', {
      qsEmptyText: widths.size === 1 ? 'one width (' + [...widths][0] + ') in this selection'
        : 'no done runs for this selection',
    }),
  });
}

async function loadEffect() {
  const d = await api('effect', { sweep: state.sweep, dataset: state.dataset });
  // As in the depth chart: per width too where one depth has several.
  const seen = new Set();
  let byWidth = false;
  for (const g of d.groups) {
    const k = g.block + '|' + g.variant + '|' + g.depth;
    if (seen.has(k)) byWidth = true;
    seen.add(k);
  }
  const model = (g) => g.block + (byWidth ? '-' + g.width : '');
  const models = [...new Set(d.groups.map(model))];
  const dashes = [[], [6, 3], [2, 3], [10, 3, 2, 3], [1, 2], [12, 4]];
  const ds = linesFrom(d.groups, (g) => model(g) + '|' + g.variant, (g) => g.depth,
    (g) => (models.length > 1 ? model(g) + ' ' : '') + g.variant,
    (g) => ({
      color: VARIANT_COLORS[g.variant] || '#444',
      dash: dashes[models.indexOf(model(g)) % dashes.length],
      point: 'circle',
    }));
  drawChart('chart-effect', {
    type: 'line',
    data: { datasets: ds },
    options: lineOptions('depth', 'test accuracy (%)', { qsEmptyText: 'no W2A2 runs in this selection' }),
  });
}

async function loadCurves() {
  if (!state.phaseId) {
    drawChart('chart-curves', {
      type: 'line',
      data: { datasets: [] },
      options: lineOptions('epoch', 'accuracy (%)', { qsEmptyText: 'no run selected' }),
    });
    return;
  }
  const d = await api('curves', { phase_id: state.phaseId });
  const r = d.run;
  state.phaseRunning = r.status === 'running' && d.running_live !== false;
  const what = r.phase === 'float' ? 'float' : r.phase + ' ' + setting(r.wbits, r.abits);
  $('curve-title').textContent = r.model + ' · ' + what +
    (r.regularizer !== 'none' ? ' + ' + r.regularizer : '') + ' · seed ' + r.seed + ' · ' +
    shownStatus(r.status, d.running_live) + ' ' + r.epochs_done + '/' + r.epochs;
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

/* qsweep dashboard: the accuracy charts (depth, width, the W2A2 effect of the
 * Lipschitz regularizer and CLR). Learning curves: detail.js; Pareto: pareto.js. */
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
      qsEmptyText: depths.size === 1 ? 'one depth (' + [...depths][0] + ') in this selection' + otherDatasets()
        : 'no done runs for this selection',
    }),
  });
}

/* The empty-chart note's pointer to the rest of a mixed sweep (the demo's
 * ResNets vary depth on one dataset, its FCDNNs width on another). */
function otherDatasets() {
  return state.dataset && datasetsOf(state.sweep).length > 1 ? '; try "all datasets"' : '';
}

/* A setting measured with another quantizer than the paper's ("W2A2[lsq+]",
 * the API's spelling) keeps its setting's marker and is drawn dotted, so
 * the two quantizers' lines of one block read as a pair. */
function styleOfSetting(s) {
  const base = s.split('[')[0];
  const st = SETTING_STYLE[base] || { dash: [4, 2], point: 'star' };
  return { dash: base === s ? st.dash : [1, 3], point: st.point };
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
      qsEmptyText: widths.size === 1 ? 'one width (' + [...widths][0] + ') in this selection' + otherDatasets()
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

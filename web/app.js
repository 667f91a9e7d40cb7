/* qsweep dashboard: plain JavaScript over the JSON API (docs/api.md) and
 * Chart.js. No build step. Every value from the database reaches the page
 * through textContent or Chart.js, never as HTML. */
'use strict';

(function () {
  const POLL_MS = 4000;
  const SETTINGS = ['float', 'W2AF', 'WFA2', 'W2A2'];
  const BLOCK_COLORS = {
    basic: '#1f77b4', preact: '#d62728', depthwise: '#2ca02c',
    fcdnn: '#9467bd', 'fcdnn-res': '#8c564b',
  };
  const EXTRA_COLORS = ['#ff7f0e', '#17becf', '#bcbd22', '#e377c2', '#7f7f7f'];
  const SETTING_STYLE = {
    float: { dash: [], point: 'circle' },
    W2AF: { dash: [7, 4], point: 'rect' },
    WFA2: { dash: [2, 3], point: 'triangle' },
    W2A2: { dash: [10, 3, 2, 3], point: 'rectRot' },
  };
  const VARIANT_COLORS = {
    float: '#6b7280', retrain: '#1f77b4', 'retrain+lipschitz': '#ff7f0e',
    clr: '#2ca02c', 'lipschitz+clr': '#d62728',
  };
  const RUN_COLUMNS = [
    // [label, sort key (null: not sortable), cell writer, css class]
    ['sweep', 'sweep', (r) => r.sweep, 'l'],
    ['model', 'model', (r) => r.model, 'l'],
    ['phase', 'phase', (r) => r.phase, 'l'],
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

  const state = {
    sweeps: [],
    sweep: '',
    dataset: '',
    phase: 'retrain',
    reg: 'none',
    budget: '',
    runs: { sort: 'config', order: 'asc', offset: 0, limit: 50, filters: {} },
    phaseId: null,
    phaseRunning: false,
    sig: '',
    charts: {},
    busy: false,
  };

  /* ---------- small helpers ---------- */

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const kid of kids) {
      if (kid === null || kid === undefined) continue;
      e.appendChild(typeof kid === 'string' || typeof kid === 'number'
        ? document.createTextNode(String(kid)) : kid);
    }
    return e;
  }

  function setting(wb, ab) {
    if (wb >= 32 && ab >= 32) return 'float';
    return 'W' + (wb >= 32 ? 'F' : wb) + 'A' + (ab >= 32 ? 'F' : ab);
  }
  const fmtNum = (x, d) => (x === null || x === undefined || !isFinite(x) ? '-' : Number(x).toFixed(d));
  const fmtAcc = (x) => fmtNum(x, 2);
  function fmtParams(p) {
    if (p === null || p === undefined) return '-';
    if (p >= 1e6) return (p / 1e6).toFixed(2) + 'M';
    if (p >= 1e3) return (p / 1e3).toFixed(0) + 'k';
    return String(p);
  }
  function fmtDur(s) {
    if (s === null || s === undefined || !isFinite(s)) return '-';
    s = Math.round(s);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.round(s / 60) + ' min';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.round((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.round((s % 86400) / 3600) + ' h';
  }
  function fmtAgo(t, now) {
    if (!t) return '-';
    return fmtDur(Math.max(0, now - t)) + ' ago';
  }

  async function api(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== '') q.set(k, v);
    }
    const qs = q.toString();
    const url = 'api/' + path + (qs ? '?' + qs : '');
    const r = await fetch(url, { cache: 'no-store' });
    let body = null;
    try {
      body = await r.json();
    } catch (e) {
      body = {};
    }
    if (!r.ok) throw new Error(url + ': ' + r.status + ' ' + (body.error || r.statusText));
    return body;
  }

  function showMessage(text) {
    const m = $('msg');
    m.textContent = text || '';
    m.hidden = !text;
  }

  /* JavaScript errors are counted on <body> so the headless browser test
   * can see them in the DOM as well as in the console log. */
  function countError(what) {
    const n = Number(document.body.dataset.jsErrors || 0) + 1;
    document.body.dataset.jsErrors = String(n);
    console.error('qsweep dashboard:', what);
  }
  window.addEventListener('error', (e) => countError(e.message));
  window.addEventListener('unhandledrejection', (e) => countError(String(e.reason)));

  /* ---------- Chart.js plugins ---------- */

  /* Error bars: mean ± std over seeds, drawn as a vertical segment with
   * caps on every point that has a std (one seed has none). */
  const errorBars = {
    id: 'qsErrorBars',
    afterDatasetsDraw(chart) {
      const ctx = chart.ctx;
      const y = chart.scales.y;
      chart.data.datasets.forEach((ds, i) => {
        if (!chart.isDatasetVisible(i) || ds.qsNoBars) return;
        const meta = chart.getDatasetMeta(i);
        meta.data.forEach((pt, j) => {
          const raw = ds.data[j];
          if (!raw || raw.std === null || raw.std === undefined || !isFinite(raw.std)) return;
          const top = y.getPixelForValue(raw.y + raw.std);
          const bot = y.getPixelForValue(raw.y - raw.std);
          ctx.save();
          ctx.strokeStyle = ds.borderColor;
          ctx.lineWidth = 1.3;
          ctx.setLineDash([]);
          ctx.beginPath();
          ctx.moveTo(pt.x, top);
          ctx.lineTo(pt.x, bot);
          ctx.moveTo(pt.x - 4, top);
          ctx.lineTo(pt.x + 4, top);
          ctx.moveTo(pt.x - 4, bot);
          ctx.lineTo(pt.x + 4, bot);
          ctx.stroke();
          ctx.restore();
        });
      });
    },
  };

  /* Marks a canvas data-drawn="1" once it has data and visible ink, so a
   * test can tell a rendered chart from an empty or failed one. */
  function markDrawn(canvas, points) {
    canvas.dataset.points = String(points);
    if (points === 0) {
      canvas.dataset.drawn = 'empty';
      return;
    }
    if (canvas.dataset.drawn === '1') return; // read the pixels once, not on every redraw
    const ctx = canvas.getContext('2d');
    const w = canvas.width;
    const h = canvas.height;
    if (!w || !h) return;
    const px = ctx.getImageData(0, 0, w, h).data;
    let ink = 0;
    for (let i = 3; i < px.length; i += 16) if (px[i] > 0) ink++;
    canvas.dataset.drawn = ink > 200 ? '1' : '0';
  }

  const drawnMarker = {
    id: 'qsDrawn',
    afterRender(chart) {
      const n = chart.data.datasets.reduce((a, d) => a + (d.data ? d.data.length : 0), 0);
      markDrawn(chart.canvas, n);
    },
  };

  /* "No data" text on an empty chart instead of bare axes. */
  const emptyNote = {
    id: 'qsEmpty',
    afterDraw(chart) {
      const n = chart.data.datasets.reduce((a, d) => a + (d.data ? d.data.length : 0), 0);
      if (n > 0) return;
      const { ctx, chartArea: a } = chart;
      ctx.save();
      ctx.fillStyle = '#8a94a3';
      ctx.font = '14px system-ui, sans-serif';
      ctx.textAlign = 'center';
      ctx.fillText(chart.options.qsEmptyText || 'no done runs for this selection',
        (a.left + a.right) / 2, (a.top + a.bottom) / 2);
      ctx.restore();
    },
  };

  function chartOk() {
    return typeof window.Chart !== 'undefined';
  }

  function drawChart(id, config) {
    if (!chartOk()) return;
    const canvas = $(id);
    config.plugins = [errorBars, drawnMarker, emptyNote];
    const old = state.charts[id];
    if (old) {
      old.data = config.data;
      old.options = config.options;
      old.update('none');
      return;
    }
    state.charts[id] = new window.Chart(canvas.getContext('2d'), config);
  }

  function lineOptions(xTitle, yTitle, extra) {
    const o = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      parsing: false,
      normalized: true,
      interaction: { mode: 'nearest', intersect: true },
      scales: {
        x: { type: 'linear', title: { display: true, text: xTitle }, grid: { color: '#eef1f5' } },
        y: { title: { display: true, text: yTitle }, grid: { color: '#eef1f5' } },
      },
      plugins: {
        legend: { position: 'bottom', labels: { usePointStyle: true, boxWidth: 8, font: { size: 11 } } },
        tooltip: {
          callbacks: {
            title: (items) => (items.length ? xTitle + ' ' + items[0].raw.x : ''),
            label: (c) => {
              const r = c.raw;
              const sd = r.std === null || r.std === undefined ? '' : ' ± ' + fmtNum(r.std, 2);
              return c.dataset.label + ': ' + fmtAcc(r.y) + sd + '  (n=' + r.n + ')';
            },
            afterLabel: (c) => (c.raw.runs || []).slice(0, 8).map((run) =>
              '  seed ' + run.seed + ': ' + fmtAcc(run.test_acc) + '  ' + run.model + ', ' +
              fmtParams(run.params) + ' params'),
          },
        },
      },
      onClick: (evt, els, chart) => {
        if (!els.length) return;
        const raw = chart.data.datasets[els[0].datasetIndex].data[els[0].index];
        if (raw && raw.runs && raw.runs.length) selectPhase(raw.runs[0].phase_id);
      },
    };
    return Object.assign(o, extra || {});
  }

  function colorFor(block, i) {
    return BLOCK_COLORS[block] || EXTRA_COLORS[i % EXTRA_COLORS.length];
  }

  /* Groups from /api/depth or /api/width into one line per key. */
  function linesFrom(groups, keyOf, xOf, labelOf, styleOf) {
    const lines = new Map();
    for (const g of groups) {
      const k = keyOf(g);
      if (!lines.has(k)) lines.set(k, { g, points: [] });
      lines.get(k).points.push({ x: xOf(g), y: g.mean, std: g.std, n: g.n, runs: g.runs });
    }
    let i = 0;
    const out = [];
    for (const { g, points } of lines.values()) {
      points.sort((a, b) => a.x - b.x);
      const st = styleOf(g, i++);
      out.push({
        label: labelOf(g),
        data: points,
        borderColor: st.color,
        backgroundColor: st.color,
        borderDash: st.dash,
        pointStyle: st.point,
        pointRadius: 4,
        pointHoverRadius: 6,
        borderWidth: 2,
        tension: 0,
      });
    }
    return out;
  }

  function settingOrder(a, b) {
    const ia = SETTINGS.indexOf(a.label.split(' ').pop());
    const ib = SETTINGS.indexOf(b.label.split(' ').pop());
    return a.label.split(' ')[0].localeCompare(b.label.split(' ')[0]) || ia - ib;
  }

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

  // One setting's column group of a paper table: the label over paper / ours / diff.
  function addGroupHeader(h1, h2, label) {
    h1.appendChild(el('th', { class: 'group', colspan: 3, text: label }));
    h2.appendChild(el('th', { class: 'gl', text: 'paper' }));
    h2.appendChild(el('th', { text: 'ours' }));
    h2.appendChild(el('th', { text: 'diff' }));
  }

  async function loadTable5() {
    const d = await api('table5', { sweep: state.sweep, dataset: state.dataset || undefined });
    const t = $('t5');
    t.textContent = '';
    const sets = d.settings;
    const h1 = el('tr', {}, el('th', { class: 'l', rowspan: 2, text: 'block' }),
      el('th', { rowspan: 2, text: 'depth' }), el('th', { rowspan: 2, text: 'width' }),
      el('th', { rowspan: 2, text: 'params' }));
    const h2 = el('tr');
    for (const s of sets) addGroupHeader(h1, h2, s.label);
    t.appendChild(el('thead', {}, h1, h2));
    const body = el('tbody');
    for (const row of d.rows) {
      // paper / ours where they differ (a reduced-budget sweep); "-" for a side without the row.
      let w = row.width === null ? '-' : String(row.width);
      if (row.ours_width !== null && row.ours_width !== row.width) w += ' / ' + row.ours_width;
      let pm = row.params_m === null ? '-' : row.params_m.toFixed(2) + 'M';
      if (row.ours_params_m !== null && (row.params_m === null || Math.abs(row.ours_params_m - row.params_m) > 0.005)) {
        pm += ' / ' + row.ours_params_m.toFixed(3) + 'M';
      }
      const tr = el('tr', {}, el('td', { class: 'l', text: row.block }), el('td', { text: row.depth }),
        el('td', { text: w }), el('td', { text: pm }));
      for (const s of sets) appendCells(tr, row, s.key);
      body.appendChild(tr);
    }
    t.appendChild(body);
    t.dataset.matched = String(d.cells_matched);
    $('t5-hint').textContent = 'ours (mean ± std over seeds) beside the published numbers' +
      (d.cells_matched ? '' : ' · no run of this selection has a Table 5 design (CIFAR-10 ResNets, one width a depth)') +
      (d.rows_left_out ? ' · ' + d.rows_left_out + ' (block, depth) left out: several widths, pick a sweep' : '');
    drawClaims($('t5-claims'), d);
  }

  /* The claims under a paper table: per claim its verdict, then each
   * comparison with the difference of our means, the 95 % interval over
   * seeds, seeds per side, its verdict and the published difference. */
  function drawClaims(box, d) {
    box.textContent = '';
    const sign = (x) => (x === null ? '-' : (x >= 0 ? '+' : '') + x.toFixed(2));
    const vclass = (v) => 'verdict v-' + v.replace(/ /g, '-');
    const t = el('table', { class: 'grid small claims' });
    t.appendChild(el('thead', {}, el('tr', {},
      el('th', { class: 'l', text: 'claim / comparison (a vs b)' }), el('th', { text: 'a − b' }),
      el('th', { text: '95% interval' }), el('th', { text: 'seeds a/b' }),
      el('th', { class: 'l', text: 'verdict' }), el('th', { text: 'paper a − b' }))));
    const body = el('tbody');
    let n = 0;
    for (const c of d.claims || []) {
      body.appendChild(el('tr', { class: 'claim' },
        el('td', { class: 'l', title: c.rule, text: c.id + '. ' + c.text }),
        el('td', { text: sign(c.diff === undefined ? null : c.diff) }),
        el('td', { text: c.ci_low === undefined || c.ci_low === null ? '-'
          : '[' + sign(c.ci_low) + ', ' + sign(c.ci_high) + ']' }),
        el('td', { text: c.n_a === undefined ? '-' : c.n_a + '/' + c.n_b }),
        el('td', { class: 'l' }, el('span', { class: vclass(c.verdict), text: c.verdict })),
        el('td', { text: sign(c.published_diff === undefined ? null : c.published_diff) })));
      for (const m of c.comparisons) {
        body.appendChild(el('tr', {},
          el('td', { class: 'l sub', title: m.a + ' vs ' + m.b, text: m.what }),
          el('td', { text: sign(m.diff) }),
          el('td', { text: m.ci_low === null ? '-' : '[' + sign(m.ci_low) + ', ' + sign(m.ci_high) + ']' }),
          el('td', { text: m.n_a + '/' + m.n_b }),
          el('td', { class: 'l', text: m.verdict }),
          el('td', { text: sign(m.published_diff) })));
      }
      n++;
    }
    t.appendChild(body);
    box.appendChild(t);
    box.appendChild(el('p', { class: 'hint', text: d.interval + '; holds / within noise / contradicted: the interval above 0, containing 0, below 0; not enough data: under 2 seeds a side. A claim holds when each comparison holds; the row beside it is the comparison that decides it.' }));
    box.dataset.claims = String(n);
  }

  async function loadTable4() {
    const d = await api('table4', { sweep: state.sweep, dataset: state.dataset || undefined });
    const t = $('t4');
    t.textContent = '';
    const labels = { float: 'float', w2a2: 'W2A2', w2a2_lipschitz_clr: 'W2A2 + Lipschitz + CLR' };
    const h1 = el('tr', {}, el('th', { class: 'l', rowspan: 2, text: 'depth' }));
    const h2 = el('tr');
    for (const c of d.columns) addGroupHeader(h1, h2, labels[c] || c);
    t.appendChild(el('thead', {}, h1, h2));
    const body = el('tbody');
    for (const row of d.rows) {
      const tr = el('tr', {}, el('td', { class: 'l', text: 'ResNet-' + row.depth }));
      for (const c of d.columns) appendCells(tr, row, c);
      body.appendChild(tr);
    }
    t.appendChild(body);
    t.dataset.matched = String(d.cells_matched);
    $('t4-hint').textContent = 'basic block, width ' + d.width + '; ' + d.settings;
    drawClaims($('t4-claims'), d);
  }

  /* paper | ours (mean ± std) | diff, "-" where we have no done run. */
  function appendCells(tr, row, key) {
    const ours = row.ours[key];
    const diff = row.diff[key];
    tr.appendChild(el('td', { class: 'gl', text: fmtAcc(row.published[key]) }));
    tr.appendChild(el('td', {
      class: ours ? '' : 'missing',
      title: ours ? 'n=' + ours.n + ' seed(s): ' + ours.values.map((v) => fmtAcc(v)).join(', ') : 'no done run',
      text: ours ? fmtAcc(ours.mean) + (ours.std !== null ? ' ± ' + fmtNum(ours.std, 2) : '') : '-',
    }));
    tr.appendChild(el('td', {
      class: diff === null ? 'missing' : diff >= 0 ? 'pos' : 'neg',
      text: diff === null ? '-' : (diff >= 0 ? '+' : '') + diff.toFixed(2),
    }));
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
    const head = el('tr');
    for (const [label, key, , cls] of RUN_COLUMNS) {
      const active = state.runs.sort === key;
      head.appendChild(el('th', {
        class: (cls === 'l' || cls === 'err' ? 'l ' : '') + (key ? 'sortable' : ''),
        title: key ? 'sort by ' + label : null,
        onclick: key ? () => sortRuns(key) : null,
        text: label + (active ? (state.runs.order === 'desc' ? ' ▾' : ' ▴') : ''),
      }));
    }
    t.appendChild(el('thead', {}, head));
    const body = el('tbody');
    for (const r of d.rows) {
      const tr = el('tr', {
        class: r.phase_id === state.phaseId ? 'sel' : null,
        'data-phase': r.phase_id,
        onclick: () => selectPhase(r.phase_id),
      });
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
      body.appendChild(el('tr', {}, el('td', { class: 'l empty', colspan: RUN_COLUMNS.length, text: 'no runs match' })));
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
    loadRuns().catch(report);
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
      body.appendChild(el('tr', { onclick: () => selectPhase(r.phase_id), style: 'cursor:pointer' },
        el('td', { class: 'l', text: r.sweep }), el('td', { class: 'l', text: r.model }),
        el('td', { class: 'l', text: r.phase }), el('td', { class: 'l', text: setting(r.wbits, r.abits) }),
        el('td', { class: 'l', text: r.regularizer }), el('td', { text: r.seed }),
        el('td', { text: r.epochs_done + '/' + r.epochs }), el('td', { text: r.attempts }),
        el('td', { class: 'err', title: r.error, text: r.error })));
    }
    t.appendChild(body);
  }

  /* Decision maps: rows are models, columns the four W/A settings, as in
   * the paper's Figures 1-3. Each map is fetched as a PNG and drawn on a
   * canvas. */
  async function loadMaps() {
    let d = await api('decision_maps', { sweep: state.sweep, limit: 80 });
    let scope = '';
    if (!d.rows.length && state.sweep) {
      d = await api('decision_maps', { limit: 80 });
      scope = ' (none in this sweep: showing every sweep)';
    }
    $('maps-hint').textContent = 'synthetic runs: predicted class over [-11, 11]²' + scope;
    const grid = $('map-grid');
    grid.textContent = '';
    if (!d.rows.length) {
      grid.appendChild(el('div', { class: 'empty', text: 'no decision maps in this database (synthetic runs record them)' }));
      return;
    }
    const models = new Map();
    for (const r of d.rows) {
      const k = r.model + '|' + r.seed + '|' + r.regularizer + '|' + r.clr;
      if (!models.has(k)) models.set(k, { r, cells: {} });
      models.get(k).cells[setting(r.wbits, r.abits)] = r;
    }
    grid.appendChild(el('div'));
    for (const s of SETTINGS) grid.appendChild(el('div', { class: 'mh', text: s }));
    const jobs = [];
    for (const { r, cells } of models.values()) {
      grid.appendChild(el('div', { class: 'ml' }, r.model,
        el('small', { text: 'seed ' + r.seed + (r.regularizer !== 'none' ? ', ' + r.regularizer : '') + (r.clr ? ', clr' : '') })));
      for (const s of SETTINGS) {
        const c = cells[s];
        if (!c) {
          grid.appendChild(el('div', { class: 'map-cell empty', text: '-' }));
          continue;
        }
        const canvas = el('canvas', {
          width: c.map_width, height: c.map_height, class: 'map',
          title: c.model + ' ' + s + ': ' + fmtAcc(c.test_acc) + '% test accuracy',
          onclick: () => selectPhase(c.phase_id),
        });
        grid.appendChild(el('div', { class: 'map-cell' }, canvas, fmtAcc(c.test_acc) + '%'));
        jobs.push(drawMap(canvas, c.phase_id));
      }
    }
    await Promise.all(jobs);
  }

  function drawMap(canvas, id) {
    return new Promise((resolve) => {
      const img = new Image();
      img.onload = () => {
        canvas.getContext('2d').drawImage(img, 0, 0, canvas.width, canvas.height);
        markDrawn(canvas, 1);
        resolve();
      };
      img.onerror = () => {
        canvas.dataset.drawn = '0';
        resolve();
      };
      img.src = 'api/decision_map?format=png&phase_id=' + encodeURIComponent(id);
    });
  }

  function renderOverview(d) {
    const box = $('sweep-cards');
    box.textContent = '';
    for (const s of d.sweeps) {
      const tot = Math.max(1, s.phases);
      const pct = (n) => (100 * n / tot).toFixed(2) + '%';
      const eta = s.state === 'finished' ? 'finished'
        : s.state === 'interrupted' ? 'coordinator gone: run the grid again to continue'
          : s.eta_s === null ? 'ETA unknown' : 'ETA ' + fmtDur(s.eta_s);
      const card = el('div', {
        class: 'card' + (s.name === state.sweep ? ' selected' : ''),
        'data-sweep': s.name,
        title: 'show ' + s.name,
        onclick: () => {
          $('sel-sweep').value = s.name;
          onControls();
        },
      },
      el('div', { class: 'name' }, el('span', { text: s.name }), el('span', { class: 'badge ' + s.state, text: s.state })),
      el('div', { class: 'bar' },
        el('span', { class: 'done', style: 'width:' + pct(s.done) }),
        el('span', { class: 'running', style: 'width:' + pct(s.running) }),
        el('span', { class: 'failed', style: 'width:' + pct(s.failed) }),
        el('span', { class: 'queued', style: 'width:' + pct(s.queued) })),
      el('div', { class: 'counts' },
        el('span', { class: 'k-done' }, el('b', { text: s.done }), ' done'),
        el('span', { class: 'k-running' }, el('b', { text: s.running }), ' running'),
        el('span', { class: 'k-failed' }, el('b', { text: s.failed }), ' failed'),
        el('span', { class: 'k-queued' }, el('b', { text: s.queued }), ' queued'),
        s.interrupted ? el('span', { class: 'k-interrupted' }, el('b', { text: s.interrupted }), ' interrupted') : null),
      el('div', { class: 'meta', text: eta + ' · ' + (100 * s.progress).toFixed(0) + '% of the compute · ' +
        s.datasets.join(', ') + ' · started ' + fmtAgo(s.started, d.now) + (s.ranks ? ' · ' + s.ranks + ' ranks' : '') }));
      box.appendChild(card);
    }
    if (!d.sweeps.length) box.appendChild(el('div', { class: 'empty', text: 'no sweeps in this database yet' }));
    const live = d.sweeps.some((s) => s.state === 'running');
    $('live-dot').className = 'dot' + (live ? ' on' : '');
    $('updated').textContent = (live ? 'live · ' : '') + 'updated ' + new Date(d.now * 1000).toLocaleTimeString();
  }

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

  function fillMenus() {
    const names = state.sweeps.map((s) => s.name);
    fillSelect($('sel-sweep'), [''].concat(names), state.sweep, ['all sweeps'].concat(names));
    state.sweep = $('sel-sweep').value;
    const ds = datasetsOf(state.sweep);
    fillSelect($('sel-dataset'), ds, state.dataset);
    state.dataset = $('sel-dataset').value;
    $('sel-phase').value = state.phase;
    $('sel-reg').value = state.reg;
    $('sel-budget').value = state.budget;
  }

  function readHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    if (h.has('sweep')) state.sweep = h.get('sweep');
    if (h.has('dataset')) state.dataset = h.get('dataset');
    if (h.has('phase')) state.phase = h.get('phase') === 'clr' ? 'clr' : 'retrain';
    if (h.has('regularizer')) state.reg = h.get('regularizer') === 'lipschitz' ? 'lipschitz' : 'none';
    if (h.has('budget')) state.budget = h.get('budget');
    if (h.has('run')) state.phaseId = h.get('run');
    return h.has('sweep');
  }

  function writeHash() {
    const h = new URLSearchParams();
    h.set('sweep', state.sweep);
    if (state.dataset) h.set('dataset', state.dataset);
    if (state.phase !== 'retrain') h.set('phase', state.phase);
    if (state.reg !== 'none') h.set('regularizer', state.reg);
    if (state.budget) h.set('budget', state.budget);
    if (state.phaseId) h.set('run', state.phaseId);
    history.replaceState(null, '', '#' + h.toString());
  }

  function onControls() {
    state.sweep = $('sel-sweep').value;
    const ds = datasetsOf(state.sweep);
    fillSelect($('sel-dataset'), ds, $('sel-dataset').value);
    state.dataset = $('sel-dataset').value;
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
    loadRuns().catch(report);
  }

  function selectPhase(id) {
    state.phaseId = id;
    writeHash();
    for (const tr of document.querySelectorAll('#runs-table tbody tr')) {
      tr.classList.toggle('sel', tr.dataset.phase === id);
    }
    loadCurves().catch(report);
    $('chart-curves').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }

  function report(err) {
    showMessage(String(err && err.message ? err.message : err));
  }

  /* ---------- loading and live updates ---------- */

  async function refreshAll(pickPhase) {
    showMessage('');
    const jobs = [loadDepth(), loadWidth(), loadEffect(), loadTable5(), loadTable4(), loadFailures(), loadMaps()];
    const runs = await loadRuns();
    if (pickPhase && !state.phaseId) {
      // Default curve: a running phase of the selection, else its first run.
      let pick = null;
      try {
        const running = await api('runs', runParams({ status: 'running', limit: 1 }));
        pick = running.rows.length ? running.rows[0] : null;
      } catch (e) {
        pick = null;
      }
      pick = pick || runs.rows.find((r) => r.epochs_done > 0) || null;
      state.phaseId = pick ? pick.phase_id : null;
    }
    jobs.push(loadCurves());
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
        await loadCurves();
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
    $('prev').addEventListener('click', () => {
      state.runs.offset = Math.max(0, state.runs.offset - state.runs.limit);
      loadRuns().catch(report);
    });
    $('next').addEventListener('click', () => {
      state.runs.offset += state.runs.limit;
      loadRuns().catch(report);
    });
    await refreshAll(true);
    writeHash();
    document.body.dataset.ready = '1';
    setTimeout(poll, POLL_MS);
  }

  init().catch((e) => {
    report(e);
    countError(e && e.message ? e.message : e);
  });
})();

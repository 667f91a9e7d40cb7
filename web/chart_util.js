/* qsweep dashboard: the Chart.js plugins (error bars, the drawn marker a test
 * reads, the empty note) and the line builders the charts share. */
'use strict';

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
    ctx.fillStyle = themeColor('--muted');
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
  // Text and lines in the theme's colours (light or dark mode).
  window.Chart.defaults.color = themeColor('--muted');
  window.Chart.defaults.borderColor = themeColor('--line');
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
      x: { type: 'linear', title: { display: true, text: xTitle }, grid: { color: themeColor('--grid') } },
      y: { title: { display: true, text: yTitle }, grid: { color: themeColor('--grid') } },
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
  // Another quantizer's line ("W2A2[lsq+]") right after its setting's.
  const rank = (l) => {
    const s = l.split(' ').pop();
    return SETTINGS.indexOf(s.split('[')[0]) + (s.includes('[') ? 0.5 : 0);
  };
  const ia = rank(a.label);
  const ib = rank(b.label);
  return a.label.split(' ')[0].localeCompare(b.label.split(' ')[0]) || ia - ib;
}

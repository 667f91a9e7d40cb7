/* qsweep dashboard: the Pareto view, test accuracy against model size
 * (bits) or BOPs from /api/pareto. Colour = block, marker = W/A setting,
 * one point per model and setting (mean over seeds, error bar = std), the
 * frontier drawn as a step line; a click opens the point's run. */
'use strict';

async function loadPareto() {
  const d = await api('pareto', Object.assign(chartParams(), { x: state.paretoX }));
  const canvas = $('chart-pareto');
  const series = new Map();
  let i = 0;
  for (const p of d.points) {
    const k = p.block + ' ' + p.setting;
    if (!series.has(k)) {
      const st = styleOfSetting(p.setting);
      series.set(k, {
        label: k,
        data: [],
        showLine: false,
        borderColor: colorFor(p.block, i),
        backgroundColor: colorFor(p.block, i++),
        pointStyle: st.point,
        pointRadius: 5,
        pointHoverRadius: 7,
      });
    }
    series.get(k).data.push({ x: p.x, y: p.mean, std: p.std, n: p.n, runs: p.runs, model: p.model, frontier: p.frontier });
  }
  const front = d.points.filter((p) => p.frontier).map((p) => ({ x: p.x, y: p.mean, std: null, n: p.n, runs: p.runs, model: p.model }));
  const ds = [...series.values()];
  ds.push({
    label: 'frontier',
    data: front,
    stepped: 'after', // best accuracy reachable up to each cost
    borderColor: themeColor('--fg'),
    backgroundColor: 'transparent',
    borderDash: [4, 3],
    borderWidth: 1.5,
    pointRadius: 0,
    pointHitRadius: 0,
    qsNoBars: true,
  });
  const opts = lineOptions(d.x_label, 'test accuracy (%)', { qsEmptyText: 'no done runs with a cost in this selection' });
  opts.scales.x.type = 'logarithmic';
  opts.plugins.tooltip.callbacks.title = (items) => (items.length ? items[0].raw.model + ' · ' +
    (d.x === 'bops' ? 'BOPs ' : 'bits ') + fmtBig(items[0].raw.x) : '');
  opts.plugins.tooltip.callbacks.afterLabel = (c) => (c.raw.runs || []).slice(0, 8).map((run) =>
    '  seed ' + run.seed + ': ' + fmtAcc(run.test_acc) + '  ' + run.phase);
  // Log axis: label 1, 2 and 5 of each decade only, so labels never overlap.
  opts.scales.x.ticks = {
    callback: (v) => ([1, 2, 5].includes(Math.round(v / 10 ** Math.floor(Math.log10(v)))) ? fmtBig(v) : ''),
  };
  drawChart('chart-pareto', { type: 'line', data: { datasets: ds }, options: opts });
  canvas.dataset.paretoPoints = String(d.n);
  canvas.dataset.frontier = String(d.frontier);
  canvas.dataset.x = d.x;
  $('pareto-hint').textContent = d.n + ' models × settings, ' + d.frontier + ' on the frontier (dashed)';
}

/* 2.1e6 -> "2.1M": axis ticks and tooltips of bit and BOP counts. */
function fmtBig(v) {
  const a = Math.abs(v);
  const p = (x) => String(Number(x.toPrecision(2))); // 100 -> "100", never "1.0e+2"
  if (a >= 1e12) return p(v / 1e12) + 'T';
  if (a >= 1e9) return p(v / 1e9) + 'G';
  if (a >= 1e6) return p(v / 1e6) + 'M';
  if (a >= 1e3) return p(v / 1e3) + 'k';
  return p(v);
}

/* qsweep dashboard: the decision maps of the synthetic runs and the sweep cards. */
'use strict';

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
      const canvas = keyable(el('canvas', {
        width: c.map_width, height: c.map_height, class: 'map',
        title: c.model + ' ' + s + ': ' + fmtAcc(c.test_acc) + '% test accuracy',
        'aria-label': c.model + ' ' + s + ' decision map, ' + fmtAcc(c.test_acc) + '% test accuracy',
        onclick: () => selectPhase(c.phase_id),
      }), 'button');
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
    // A finished sweep with failed phases is not a success: amber, and
    // the card says how many failed.
    const failedFinish = s.state === 'finished' && s.failed > 0;
    const shown = failedFinish ? 'finished with failures' : s.state;
    const eta = failedFinish ? s.failed + ' failed phase' + (s.failed > 1 ? 's' : '') + ' (see Failures)'
      : s.state === 'finished' ? 'finished'
        : s.state === 'interrupted' ? 'coordinator gone: run the grid again to continue'
          : s.eta_s === null ? 'ETA unknown' : 'ETA ' + fmtDur(s.eta_s);
    const card = keyable(el('div', {
      class: 'card' + (s.name === state.sweep ? ' selected' : '') + (failedFinish ? ' warn' : ''),
      'data-sweep': s.name,
      'data-state': shown,
      'aria-pressed': s.name === state.sweep ? 'true' : 'false',
      title: 'show ' + s.name,
      onclick: () => {
        $('sel-sweep').value = s.name;
        onControls();
      },
    },
    el('div', { class: 'name' }, el('span', { text: s.name }),
      el('span', { class: 'badge ' + (failedFinish ? 'warn' : s.state), text: shown })),
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
      s.datasets.join(', ') + ' · started ' + fmtAgo(s.started, d.now) + (s.ranks ? ' · ' + s.ranks + ' ranks' : '') })), 'button');
    box.appendChild(card);
  }
  if (!d.sweeps.length) box.appendChild(el('div', { class: 'empty', text: 'no sweeps in this database yet' }));
  const live = d.sweeps.some((s) => s.state === 'running');
  $('live-dot').className = 'dot' + (live ? ' on' : '');
  $('updated').textContent = (live ? 'live · ' : '') + 'updated ' + new Date(d.now * 1000).toLocaleTimeString();
}

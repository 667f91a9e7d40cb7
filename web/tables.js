/* qsweep dashboard: the paper's Tables 5 and 4 beside ours, and their claims. */
'use strict';

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
  // A table of '-' says nothing: without a matching cell only the hint shows.
  t.parentElement.hidden = !d.cells_matched;
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
  box.appendChild(el('div', { class: 'scroll' }, t));
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
  // A table of '-' says nothing: without a matching cell only the hint shows.
  t.parentElement.hidden = !d.cells_matched;
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

/* qsweep dashboard: constants, the page state and small helpers shared by every
 * view. The dashboard is plain scripts (no build step, no modules) sharing
 * one global scope; index.html loads common.js first and app.js last.
 * Every value from the database reaches the page through textContent or
 * Chart.js, never as HTML. */
'use strict';

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

const MAX_COMPARE = 8; // runs overlaid in the learning curves

const state = {
  sweeps: [],
  sweep: '',
  dataset: null, // null: not chosen, the default; '': every dataset
  phase: 'retrain',
  reg: 'none',
  budget: '',
  runs: { sort: 'config', order: 'asc', offset: 0, limit: 50, filters: {} },
  phaseId: null, // the run in the detail panel
  compare: [], // runs overlaid in the learning curves, besides phaseId
  paretoX: 'bits', // bits | bops
  phaseRunning: false,
  sig: '',
  charts: {},
  busy: false,
};

/* ---------- small helpers ---------- */

/* A clickable element made usable by keyboard: in the tab order, Enter or
 * Space act as a click (rows, cards, map cells). */
function keyable(e, role) {
  e.tabIndex = 0;
  if (role) e.setAttribute('role', role);
  e.addEventListener('keydown', (ev) => {
    if (ev.target !== e || (ev.key !== 'Enter' && ev.key !== ' ')) return;
    ev.preventDefault();
    e.click();
  });
  return e;
}

/* A colour of the current theme (style.css custom properties), so the
 * charts follow light and dark mode. */
function themeColor(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

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

function report(err) {
  showMessage(String(err && err.message ? err.message : err));
}

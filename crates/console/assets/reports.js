// Reports (R-SUP-2 … R-SUP-5): a period and a sampling, one report at a time (queues, the
// phone channel's calls, agents, Service Requests, the month's SLA), drawn as a table and a
// small SVG chart made here from the API's JSON (no chart library: the page works offline and
// under a CSP of our own scripts only), with the same report as CSV and XLSX, and a print
// layout (app.css, @media print) for the browser's "Save as PDF".
import { t, currentLang } from './i18n.js';
import { api, whoami, setupChrome, notify, failure, h, when } from './common.js';

const SVG = 'http://www.w3.org/2000/svg';
const TABS = ['queues', 'calls', 'agents', 'tickets', 'sla'];
// `dateChosen`: the day was given (address, form); until then "today" is the browser's, and
// the first answer's time zone (the site's, which the reports' days are in) corrects it.
const page = { tab: 'queues', data: null, query: null, dateChosen: false };

// ---------------------------------------------------------------- period

const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const parseDay = (s) => { const [y, m, d] = s.split('-').map(Number); return new Date(y, m - 1, d); };

/** The first and last day (YYYY-MM-DD) of the period of kind `kind` around `day`. */
export function periodOf(kind, day, from, to) {
  const d = parseDay(day);
  switch (kind) {
    case 'week': {
      const monday = new Date(d); monday.setDate(d.getDate() - ((d.getDay() + 6) % 7));
      const sunday = new Date(monday); sunday.setDate(monday.getDate() + 6);
      return [iso(monday), iso(sunday)];
    }
    case 'month': return [iso(new Date(d.getFullYear(), d.getMonth(), 1)), iso(new Date(d.getFullYear(), d.getMonth() + 1, 0))];
    case 'year': return [`${d.getFullYear()}-01-01`, `${d.getFullYear()}-12-31`];
    case 'range': return [from || day, to || from || day];
    default: return [day, day];
  }
}

function readForm() {
  const kind = document.getElementById('kind').value;
  const date = document.getElementById('date').value || iso(new Date());
  const [from, to] = periodOf(kind, date, document.getElementById('from').value, document.getElementById('to').value);
  return { kind, date, from, to, sampling: document.getElementById('sampling').value };
}

function writeForm(q) {
  document.getElementById('kind').value = q.kind;
  document.getElementById('date').value = q.date;
  document.getElementById('from').value = q.from;
  document.getElementById('to').value = q.to;
  document.getElementById('sampling').value = q.sampling;
  showFields();
}

function showFields() {
  const range = document.getElementById('kind').value === 'range';
  document.querySelectorAll('.range').forEach((e) => { e.hidden = !range; });
  document.getElementById('date-field').hidden = range;
  // The SLA report is a month's: no sampling.
  document.getElementById('sampling-field').hidden = page.tab === 'sla';
}

/** The state in the address (bookmarkable, printable): ?tab=&kind=&date=&from=&to=&sampling=. */
function fromAddress() {
  const p = new URLSearchParams(window.location.search);
  const today = iso(new Date());
  const kind = ['day', 'week', 'month', 'year', 'range'].includes(p.get('kind')) ? p.get('kind') : 'day';
  page.dateChosen = /^\d{4}-\d{2}-\d{2}$/.test(p.get('date') || '');
  const date = page.dateChosen ? p.get('date') : today;
  const [from, to] = periodOf(kind, date, p.get('from'), p.get('to'));
  const sampling = ['hour_band', 'day', 'week', 'month', 'total'].includes(p.get('sampling')) ? p.get('sampling') : 'hour_band';
  page.tab = TABS.includes(p.get('tab')) ? p.get('tab') : 'queues';
  return { kind, date, from, to, sampling };
}

function toAddress(q) {
  const p = new URLSearchParams({ tab: page.tab, kind: q.kind, date: q.date, sampling: q.sampling });
  if (q.kind === 'range') { p.set('from', q.from); p.set('to', q.to); }
  window.history.replaceState(null, '', `${window.location.pathname}?${p}`);
}

/** The API path of the shown report, in `format`. */
function reportPath(q, format) {
  const lang = currentLang();
  if (page.tab === 'sla') return `/api/v1/reports/sla?month=${q.from.slice(0, 7)}&format=${format}&lang=${lang}`;
  return `/api/v1/reports/${page.tab}?from=${q.from}&to=${q.to}&sampling=${q.sampling}&format=${format}&lang=${lang}`;
}

// ---------------------------------------------------------------- numbers

const locale = () => (currentLang() === 'it' ? 'it-IT' : 'en-GB');
const num = (v, digits = 0) => (v == null ? '—' : Number(v).toLocaleString(locale(), { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const pct = (v) => (v == null ? '—' : `${num(v, 1)} %`);
const secs = (v) => (v == null ? '—' : num(v, 1));
const hours = (v) => (v == null ? '—' : num(v / 3600, 1));

/** A cell: the number as people read it, the raw value for scripts (`data-value`). */
const cell = (text, value, cls) => h('td', { class: cls, dataset: { value: value == null ? '' : String(value) } }, text);

/** A time as the site reads it (the reports' time zone), in the operator's language. */
function siteTime(isoTime, tz) {
  try {
    return new Date(isoTime).toLocaleString(locale(), { timeZone: tz, dateStyle: 'short', timeStyle: 'short' });
  } catch (_) { return when(isoTime); }
}

// ---------------------------------------------------------------- charts

/**
 * Grouped (or stacked) bars: one group per category, one bar per series; a y axis with four
 * gridlines, labels under the groups (thinned out when many), a legend in the caption. Every
 * bar carries data-series, data-category and data-value.
 */
function barChart(svg, { categories, series, stacked = false, unit = '' }) {
  const W = 900, H = 260, left = 48, right = 8, top = 12, bottom = 40;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const plotW = W - left - right, plotH = H - top - bottom;
  const totals = categories.map((_, i) => (stacked
    ? series.reduce((s, x) => s + (x.values[i] || 0), 0)
    : Math.max(0, ...series.map((x) => x.values[i] || 0))));
  // Four steps of a round size; counts get whole-number steps.
  const whole = series.every((x) => x.values.every((v) => Number.isInteger(v || 0)));
  const step = niceStep(Math.max(1, ...totals) / 4, whole);
  const max = step * 4;
  const nodes = [];
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text != null) e.textContent = text;
    return e;
  };
  for (let g = 0; g <= 4; g++) {
    const y = top + plotH - (plotH * g) / 4;
    nodes.push(el('line', { x1: left, x2: W - right, y1: y, y2: y, class: g ? 'grid-line' : 'axis' }));
    nodes.push(el('text', { x: left - 6, y: y + 4, class: 'tick', 'text-anchor': 'end' }, `${num((max * g) / 4)}${unit}`));
  }
  const groupW = plotW / Math.max(1, categories.length);
  const barW = stacked ? groupW * 0.7 : (groupW * 0.8) / Math.max(1, series.length);
  const every = Math.ceil(categories.length / 16);
  categories.forEach((cat, i) => {
    const x0 = left + i * groupW + groupW * (stacked ? 0.15 : 0.1);
    let base = 0;
    series.forEach((s, j) => {
      const v = s.values[i] || 0;
      const hgt = (v / max) * plotH;
      const x = stacked ? x0 : x0 + j * barW;
      const y = top + plotH - (stacked ? base + hgt : hgt);
      if (stacked) base += hgt;
      const r = el('rect', { x: x.toFixed(1), y: y.toFixed(1), width: Math.max(1, barW - (stacked ? 0 : 1)).toFixed(1), height: hgt.toFixed(1), class: `bar s${j}` });
      r.dataset.series = s.key; r.dataset.category = cat; r.dataset.value = String(v);
      r.append(el('title', {}, `${cat} · ${s.label}: ${num(v, 1)}${unit}`));
      nodes.push(r);
    });
    if (i % every === 0) {
      nodes.push(el('text', { x: (left + i * groupW + groupW / 2).toFixed(1), y: H - bottom + 16, class: 'tick', 'text-anchor': 'middle' }, shortLabel(cat)));
    }
  });
  const title = svg.querySelector('title');
  svg.replaceChildren(title, ...nodes);
  document.getElementById('legend').replaceChildren(...series.map((s, j) => h('span', { class: 'key' }, h('span', { class: `swatch s${j}`, 'aria-hidden': 'true' }), s.label)));
}

/** SLA lines as horizontal bars (measured) with the applied threshold as a tick. */
function slaChart(svg, lines) {
  const W = 900, rowH = 26, left = 170, right = 120, top = 10;
  const H = top + lines.length * rowH + 24;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const plotW = W - left - right;
  const nodes = [];
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text != null) e.textContent = text;
    return e;
  };
  [0, 25, 50, 75, 100].forEach((p) => {
    const x = left + (plotW * p) / 100;
    nodes.push(el('line', { x1: x, x2: x, y1: top, y2: H - 20, class: p ? 'grid-line' : 'axis' }));
    nodes.push(el('text', { x, y: H - 6, class: 'tick', 'text-anchor': 'middle' }, `${p} %`));
  });
  lines.forEach((l, i) => {
    const y = top + i * rowH;
    nodes.push(el('text', { x: left - 8, y: y + 16, class: 'label', 'text-anchor': 'end' }, l.id));
    const v = l.measured_pct;
    const cls = l.met == null ? 'na' : l.met ? 'ok' : 'bad';
    const r = el('rect', { x: left, y: y + 4, width: ((plotW * (v || 0)) / 100).toFixed(1), height: rowH - 10, class: `bar ${cls}` });
    r.dataset.series = 'measured'; r.dataset.category = l.id; r.dataset.value = v == null ? '' : String(v);
    r.append(el('title', {}, `${l.id}: ${pct(v)} (${t('threshold')} ${pct(l.applied_threshold_pct)})`));
    nodes.push(r);
    const tx = left + (plotW * l.applied_threshold_pct) / 100;
    nodes.push(el('line', { x1: tx, x2: tx, y1: y + 1, y2: y + rowH - 3, class: 'threshold' }));
    nodes.push(el('text', { x: W - right + 6, y: y + 16, class: `label ${cls}` }, v == null ? t('not_measured') : pct(v)));
  });
  const title = svg.querySelector('title');
  svg.replaceChildren(title, ...nodes);
  document.getElementById('legend').replaceChildren(
    h('span', { class: 'key' }, h('span', { class: 'swatch ok', 'aria-hidden': 'true' }), t('met')),
    h('span', { class: 'key' }, h('span', { class: 'swatch bad', 'aria-hidden': 'true' }), t('not_met')),
    h('span', { class: 'key' }, h('span', { class: 'swatch threshold', 'aria-hidden': 'true' }), t('threshold_applied')));
}

/** The smallest of 1, 2, 2.5, 5 × 10^n at least `v` (whole numbers, at least 1, for counts). */
function niceStep(v, whole) {
  if (whole && v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const s = m * p;
    if (s >= v && (!whole || Number.isInteger(s))) return s;
  }
  return 10 * p;
}

const shortLabel = (s) => (s === 'total' ? t('total') : s.length > 10 && /^\d{4}-\d{2}-\d{2}$/.test(s) ? s.slice(5) : s);

/** Sums `field` of `rows` per bucket label, in the rows' order. */
function perBucket(rows, fields) {
  const order = [];
  const sums = new Map();
  rows.forEach((r) => {
    if (!sums.has(r.label)) { sums.set(r.label, {}); order.push(r.label); }
    const s = sums.get(r.label);
    fields.forEach((f) => { s[f] = (s[f] || 0) + (r[f] || 0); });
  });
  return { categories: order, values: (f) => order.map((c) => sums.get(c)[f]) };
}

// ---------------------------------------------------------------- reports

function table(head, rows) {
  const tbl = document.getElementById('report-table');
  tbl.querySelector('thead').replaceChildren(h('tr', {}, head.map((x) => h('th', { scope: 'col' }, x))));
  tbl.querySelector('tbody').replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: String(head.length) }, t('no_results')))]));
}

const label = (l) => (l === 'total' ? t('total') : l);

const RENDER = {
  queues(d) {
    const rows = [...d.rows, ...(d.sampling === 'total' ? [] : d.totals)];
    const b = perBucket(d.rows, ['offered', 'answered', 'abandoned']);
    barChart(document.getElementById('report-chart'), {
      categories: b.categories,
      series: ['offered', 'answered', 'abandoned'].map((k) => ({ key: k, label: t(`col_${k}`), values: b.values(k) })),
    });
    table([t('col_period'), t('queue'), t('col_offered'), t('col_answered'), t('col_abandoned'), t('col_overflowed'),
      t('col_answer_mean'), t('col_answer_p90'), t('col_talk_mean'), t('col_wrap_mean'), t('service_level'), t('col_abandoned_pct')],
    rows.map((r) => h('tr', { class: r.label === 'total' ? 'total' : '', dataset: { bucket: r.label, queue: r.queue } },
      h('td', {}, label(r.label)), h('td', { class: 'text' }, r.queue),
      cell(num(r.offered), r.offered, 'offered'), cell(num(r.answered), r.answered, 'answered'),
      cell(num(r.abandoned), r.abandoned, 'abandoned'), cell(num(r.overflowed), r.overflowed, 'overflowed'),
      cell(secs(r.answer_time.mean_s), r.answer_time.mean_s), cell(secs(r.answer_time.p90_s), r.answer_time.p90_s),
      cell(secs(r.talk_time.mean_s), r.talk_time.mean_s), cell(secs(r.average_wrap_up_s), r.average_wrap_up_s),
      cell(pct(r.service_level_pct), r.service_level_pct, 'service-level'), cell(pct(r.abandoned_pct), r.abandoned_pct))));
  },
  calls(d) {
    const rows = d.rows;
    const keys = ['contacts', 'answered', 'abandoned', 'to_voicemail'];
    const b = perBucket(rows.filter((r) => r.label !== 'total' || d.sampling === 'total'), keys);
    barChart(document.getElementById('report-chart'), {
      categories: b.categories,
      series: keys.map((k) => ({ key: k, label: t(`col_${k}`), values: b.values(k) })),
    });
    const cols = ['contacts', 'refused', 'welcomed', 'queued', 'answered', 'abandoned', 'to_voicemail', 'ended_before_queue'];
    table([t('col_period'), ...cols.map((c) => t(`col_${c}`))],
      rows.map((r) => h('tr', { class: r.label === 'total' ? 'total' : '', dataset: { bucket: r.label } },
        h('td', {}, label(r.label)), ...cols.map((c) => cell(num(r[c]), r[c], c.replace(/_/g, '-'))))));
  },
  agents(d) {
    const agents = [...new Set(d.rows.map((r) => r.agent))];
    const sum = (a, f) => d.rows.filter((r) => r.agent === a).reduce((s, r) => s + (r[f] || 0), 0);
    const states = ['ready_s', 'talking_s', 'wrap_up_s', 'not_ready_s'];
    // Hours, or minutes when nobody reached an hour (a short period, a quiet day).
    const longest = Math.max(0, ...agents.map((a) => states.reduce((n, k) => n + sum(a, k), 0)));
    const [per, unit] = longest >= 3600 ? [3600, ' h'] : [60, ' min'];
    barChart(document.getElementById('report-chart'), {
      categories: agents, stacked: true, unit,
      series: states.map((k) => ({ key: k, label: t(k.replace(/_s$/, '')), values: agents.map((a) => Math.round((100 * sum(a, k)) / per) / 100) })),
    });
    table([t('col_period'), t('col_agent'), t('col_logged_in_h'), t('col_ready_h'), t('col_talking_h'), t('col_wrap_up_h'),
      t('col_not_ready_h'), t('col_offers'), t('col_answered'), t('col_ring_no_answer'), t('col_aht'), t('col_tickets_closed')],
    d.rows.map((r) => h('tr', { dataset: { bucket: r.label, agent: r.agent } },
      h('td', {}, label(r.label)), h('td', { class: 'text' }, r.agent),
      cell(hours(r.logged_in_s), r.logged_in_s), cell(hours(r.ready_s), r.ready_s), cell(hours(r.talking_s), r.talking_s),
      cell(hours(r.wrap_up_s), r.wrap_up_s), cell(hours(r.not_ready_s), r.not_ready_s),
      cell(num(r.offered), r.offered, 'offered'), cell(num(r.answered), r.answered, 'answered'),
      cell(num(r.ring_no_answer), r.ring_no_answer), cell(secs(r.average_handling_s), r.average_handling_s),
      cell(num(r.tickets_closed), r.tickets_closed))));
  },
  tickets(d) {
    const b = perBucket(d.rows, ['created', 'resolved']);
    barChart(document.getElementById('report-chart'), {
      categories: b.categories,
      series: ['created', 'resolved'].map((k) => ({ key: k, label: t(`col_${k}`), values: b.values(k) })),
    });
    const ratio = (a, n) => (n ? pct((100 * a) / n) : '—');
    table([t('col_period'), t('channel'), t('sr_type'), t('col_created'), t('col_resolved'), t('col_first_contact'),
      t('col_taken_in_time'), t('col_resolved_in_time')],
    d.rows.map((r) => h('tr', { dataset: { bucket: r.label } },
      h('td', {}, label(r.label)), h('td', { class: 'text' }, r.channel), h('td', { class: 'text' }, r.ticket_type),
      cell(num(r.created), r.created, 'created'), cell(num(r.resolved), r.resolved, 'resolved'),
      cell(pct(r.first_contact_pct), r.first_contact_pct),
      cell(ratio(r.taken_in_time, r.taken_counted), r.taken_in_time), cell(ratio(r.resolved_in_time, r.resolved_counted), r.resolved_in_time))));
  },
  sla(d) {
    slaChart(document.getElementById('report-chart'), d.lines);
    const overflow = document.getElementById('overflow');
    const rule = (o, what) => (o.sized == null
      ? t('overflow_none', { what: t(what), volume: num(o.volume) })
      : t('overflow_rule', { what: t(what), volume: num(o.volume), sized: num(o.sized), points: o.points }));
    overflow.textContent = `${rule(d.calls, 'overflow_calls')} ${rule(d.offline, 'overflow_offline')} ${t('sla_notes', { short: num(d.short_abandoned), pending: num(d.offline_pending) })}`;
    overflow.hidden = false;
    table([t('col_sla'), t('col_measured'), t('col_counted'), t('col_threshold'), t('col_overflow_points'), t('threshold_applied'),
      t('col_points_below'), t('col_penalty_points'), t('col_outcome')],
    d.lines.map((l) => h('tr', { class: l.met === false ? 'alert' : '', dataset: { sla: l.id } },
      h('td', {}, l.id), cell(pct(l.measured_pct), l.measured_pct, 'measured'),
      cell(`${num(l.numerator)} / ${num(l.denominator)}`, l.denominator),
      cell(`${l.direction === 'at_most' ? '≤' : '≥'} ${pct(l.threshold_pct)}`, l.threshold_pct),
      cell(num(l.overflow_points), l.overflow_points),
      cell(`${l.direction === 'at_most' ? '≤' : '≥'} ${pct(l.applied_threshold_pct)}`, l.applied_threshold_pct, 'applied'),
      cell(num(l.points_below, 2), l.points_below, 'below'), cell(num(l.penalty_points), l.penalty_points, 'penalty'),
      h('td', { class: `outcome ${l.met == null ? 'na' : l.met ? 'ok' : 'bad'}` }, l.met == null ? t('not_measured') : l.met ? t('met') : t('not_met')))));
  },
};

function draw() {
  const d = page.data;
  const q = page.query;
  if (!d || !q) return;
  document.querySelectorAll('[role=tab]').forEach((b) => {
    const on = b.dataset.tab === page.tab;
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
  });
  const title = t(`title_${page.tab}`);
  const period = page.tab === 'sla'
    ? t('period_sla', { month: d.month })
    : t('period_text', { from: q.from, to: q.to, sampling: t(`sampling_${q.sampling}`) });
  const generated = t('generated_at', { time: siteTime(d.generated_at, d.timezone), tz: d.timezone || '' });
  document.getElementById('report-title').textContent = title;
  document.getElementById('report-period').textContent = `${period} · ${generated}`;
  document.getElementById('print-title').textContent = title;
  document.getElementById('print-period').textContent = `${period} · ${generated}`;
  document.getElementById('report-chart-title').textContent = title;
  document.getElementById('table-caption').textContent = `${title} · ${period}`;
  document.getElementById('csv').href = reportPath(q, 'csv');
  document.getElementById('xlsx').href = reportPath(q, 'xlsx');
  document.getElementById('overflow').hidden = true;
  document.title = `centralino · ${title}`;
  RENDER[page.tab](d);
}

async function load() {
  const q = readForm();
  page.query = q;
  toAddress(q);
  showFields();
  document.body.dataset.ready = 'false';
  notify(t('loading'));
  try {
    page.data = await api('GET', reportPath(q, 'json'));
    notify('');
    if (!page.dateChosen && page.data.timezone) {
      page.dateChosen = true;
      const siteToday = new Intl.DateTimeFormat('en-CA', { timeZone: page.data.timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
      if (siteToday !== q.date && q.kind !== 'range') {
        document.getElementById('date').value = siteToday;
        return load();
      }
    }
  } catch (e) {
    page.data = null;
    notify(failure(e), true);
    document.body.dataset.ready = 'true';
    return;
  }
  draw();
  document.body.dataset.ready = 'true';
}

async function main() {
  let me;
  try { me = await whoami(); } catch (_) { return; }
  setupChrome(me);
  writeForm(fromAddress());
  document.getElementById('kind').addEventListener('change', () => { showFields(); load(); });
  document.getElementById('sampling').addEventListener('change', load);
  document.getElementById('controls').addEventListener('submit', (e) => { e.preventDefault(); load(); });
  ['date', 'from', 'to'].forEach((id) => document.getElementById(id).addEventListener('change', () => { page.dateChosen = true; }));
  document.getElementById('print').addEventListener('click', () => window.print());
  const tabs = [...document.querySelectorAll('[role=tab]')];
  tabs.forEach((b, i) => {
    b.addEventListener('click', () => { page.tab = b.dataset.tab; load(); });
    // Arrow keys move between tabs (WAI-ARIA tabs pattern).
    b.addEventListener('keydown', (e) => {
      const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
      if (!step) return;
      const next = tabs[(i + step + tabs.length) % tabs.length];
      next.focus(); next.click();
    });
  });
  // Redrawn in the new language; draw() also points the downloads at the new language's columns.
  window.addEventListener('langchange', draw);
  load();
}

main();

// The supervisor console (R-SUP-1): queues and agents live from /api/v1/events, thresholds
// highlighted, calls per hour drawn as SVG, an agent set not ready; the SLA gauges (today,
// month to date) and the Erlang-C forecast per queue from /api/v1/reports/live.
import { t } from './i18n.js';
import { api, whoami, connectEvents, setupChrome, duration, notify, failure, h, when } from './common.js';

/** Thresholds (R-SUP-1, SLA.C.2): oldest wait above 30 s, service level under 90 %. */
const OLDEST_WAIT_ALERT_S = 30;
const SERVICE_LEVEL_ALERT = 0.9;

const sup = { queues: new Map(), agents: new Map(), hourly: [], refresh: null, at: Date.now(), live: null, liveTimer: null, phones: null };
/** The gauges and forecast are read again this often, and a little after call events (the
 * server computes them at most every 5 s for every console together). */
const LIVE_REFRESH_MS = 30000;
const LIVE_DEBOUNCE_MS = 5000;
const SVG = 'http://www.w3.org/2000/svg';

function drawQueues() {
  const elapsed = (Date.now() - sup.at) / 1000;
  const rows = [...sup.queues.values()].sort((a, b) => a.name.localeCompare(b.name)).map((q) => {
    const a = q.agents;
    const loggedIn = a.ready + a.ringing + a.talking + a.wrap_up + a.not_ready;
    const oldest = q.waiting ? q.oldest_wait_s + elapsed : 0;
    const sl = q.service_level;
    const cell = (cls, v, alert = false) => h('td', { class: `${cls}${alert ? ' alert' : ''}` }, v);
    return h('tr', { dataset: { queue: q.name } },
      h('td', { class: 'name' }, q.name), cell('logged-in', loggedIn), cell('ready', a.ready),
      cell('talking', a.talking + a.ringing), cell('wrap-up', a.wrap_up), cell('not-ready', a.not_ready),
      cell('waiting', q.waiting), cell('oldest', duration(oldest), oldest > OLDEST_WAIT_ALERT_S),
      cell('load', q.load == null ? (q.waiting ? '∞' : '0') : q.load.toFixed(2)),
      cell('answered', q.answered), cell('abandoned', q.abandoned),
      cell('service-level', sl == null ? '—' : `${Math.round(sl * 100)} %`, sl != null && sl < SERVICE_LEVEL_ALERT));
  });
  document.querySelector('#queues tbody').replaceChildren(...rows);
}

function drawAgents() {
  const rows = [...sup.agents.values()].sort((a, b) => a.login.localeCompare(b.login)).map((a) => h('tr', { dataset: { agent: a.login } },
    h('td', {}, a.login),
    h('td', { class: 'state' }, t(a.state) + (a.reason ? ` (${a.reason})` : '')),
    h('td', { class: 'since' }, duration((Date.now() - Date.parse(a.since)) / 1000)),
    h('td', { class: 'call' }, a.current_call || ''),
    h('td', {}, (a.queues || []).join(', ')),
    h('td', {}, a.registered ? t('registered') : t('not_registered')),
    h('td', { class: 'mode' }, t('mode_' + (a.mode || 'online'))),
    h('td', { class: 'item' }, a.item ? `${a.item.number}${a.item.phase === 'accepted' ? ' · ' + t('item_in_hand') : ''}` : ''),
    h('td', {}, ['ready', 'ringing', 'talking', 'wrap_up'].includes(a.state)
      ? h('button', { type: 'button', class: 'set-not-ready', onclick: () => setNotReady(a.login) }, t('set_not_ready')) : '')));
  document.querySelector('#agents tbody').replaceChildren(...rows);
}

/** Bars of the calls per hour of today (local time), from the hourly series. */
function drawChart() {
  const svg = document.getElementById('chart');
  const midnight = new Date(); midnight.setHours(0, 0, 0, 0);
  const today = sup.hourly.filter((b) => Date.parse(b.hour) >= midnight.getTime());
  const max = Math.max(1, ...today.map((b) => b.calls));
  const w = 480 / 24;
  const nodes = [];
  for (let hr = 0; hr < 24; hr++) {
    const b = today.find((x) => new Date(x.hour).getHours() === hr);
    const calls = b ? b.calls : 0;
    // 150 of the 170 px above the axis: the count drawn above the tallest bar stays inside.
    const height = (calls / max) * 150;
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('x', String(hr * w + 2)); rect.setAttribute('width', String(w - 4));
    rect.setAttribute('y', String(170 - height)); rect.setAttribute('height', String(height));
    rect.dataset.hour = String(hr); rect.dataset.calls = String(calls);
    const title = document.createElementNS(SVG, 'title'); title.textContent = `${hr}:00 · ${calls}`;
    rect.append(title);
    nodes.push(rect);
    if (hr % 3 === 0) {
      const label = document.createElementNS(SVG, 'text');
      label.setAttribute('x', String(hr * w + 2)); label.setAttribute('y', '190'); label.textContent = `${hr}`;
      nodes.push(label);
    }
    if (calls) {
      const n = document.createElementNS(SVG, 'text');
      n.setAttribute('x', String(hr * w + 4)); n.setAttribute('y', String(166 - height)); n.textContent = String(calls);
      nodes.push(n);
    }
  }
  const title = svg.querySelector('title');
  title.textContent = t('calls_per_hour');
  svg.replaceChildren(title, ...nodes);
}

function countCall() {
  const hour = new Date(); hour.setMinutes(0, 0, 0);
  const b = sup.hourly.find((x) => Date.parse(x.hour) === hour.getTime());
  if (b) b.calls += 1; else sup.hourly.push({ hour: hour.toISOString(), calls: 1 });
  drawChart();
}

async function setNotReady(login) {
  try {
    await api('PUT', `/api/v1/agents/${encodeURIComponent(login)}/state`, { state: 'not_ready', reason: t('supervisor_reason') });
    notify(t('done'));
  } catch (e) { notify(failure(e), true); }
}

/** Answered, abandoned and service level are not in the events: re-read the queues. */
function scheduleRefresh() {
  if (sup.refresh) return;
  sup.refresh = setTimeout(async () => {
    sup.refresh = null;
    try {
      const queues = await api('GET', '/api/v1/queues');
      sup.at = Date.now();
      queues.forEach((q) => sup.queues.set(q.name, q));
      drawQueues();
    } catch (e) { notify(failure(e), true); }
  }, 300);
}

/** Service Requests whose escalation clock is due within the hour or overdue (R-VM-2). */
async function loadDue() {
  try {
    sup.due = (await api('GET', '/api/v1/tickets/due?within_min=60&limit=200')).tickets;
  } catch (e) { notify(failure(e), true); return; }
  drawDue();
}

function drawDue() {
  const due = sup.due || [];
  const overdue = due.filter((x) => x.overdue);
  const perQueue = {};
  overdue.forEach((x) => { perQueue[x.queue] = (perQueue[x.queue] || 0) + 1; });
  document.getElementById('due-summary').textContent = overdue.length
    ? `· ${t('overdue_count', { n: overdue.length })}: ${Object.entries(perQueue).map(([q, n]) => `${q} ${n}`).join(', ')}`
    : '';
  document.querySelector('#due tbody').replaceChildren(...(due.length ? due.map((x) => h('tr', { class: x.overdue ? 'alert' : '', dataset: { number: x.number } },
    h('td', {}, x.number), h('td', {}, x.title), h('td', {}, x.queue), h('td', {}, x.owner || '—'),
    h('td', {}, t('state_' + x.state)),
    h('td', { class: x.overdue ? 'alert' : '' }, t(x.overdue ? 'overdue_since' : 'due_at', { time: when(x.next_due) }))))
    : [h('tr', {}, h('td', { colspan: '6' }, t('no_results')))]));
}

/** Call quality a supervisor should look at (ITU-T G.114 puts one-way delay above 150 ms as
 * noticeable; loss above 1 % and jitter above 30 ms are heard on G.711). */
const LOSS_ALERT = 0.01;
const JITTER_ALERT_MS = 30;
const RTT_ALERT_MS = 300;
const PHONES_REFRESH_MS = 5000;

/** Which agents use the browser phone, and their calls' RTCP figures: GET /api/v1/phones/browser. */
async function loadPhones() {
  try {
    sup.phones = await api('GET', '/api/v1/phones/browser');
  } catch (e) {
    sup.phones = null;
  }
  drawPhones();
}

function drawPhones() {
  const body = document.querySelector('#phones tbody');
  const p = sup.phones;
  if (!p) { body.replaceChildren(h('tr', {}, h('td', { colspan: '6' }, t('no_results')))); return; }
  const calls = new Map(p.calls.map((c) => [c.login, c]));
  const logins = [...new Set([...p.registered, ...calls.keys()])].sort();
  const ms = (v) => (v == null ? '—' : `${v.toFixed(1)} ms`);
  body.replaceChildren(...(logins.length ? logins.map((login) => {
    const c = calls.get(login);
    if (!c) {
      return h('tr', { dataset: { phone: login } }, h('td', {}, login), h('td', {}, t('phone_idle')),
        h('td', {}, '—'), h('td', {}, '—'), h('td', {}, '—'), h('td', {}, '—'));
    }
    const received = c.packets_from_browser + Math.max(0, c.packets_lost || 0);
    const loss = received ? Math.max(0, c.packets_lost || 0) / received : 0;
    const bad = loss > LOSS_ALERT || (c.jitter_ms || 0) > JITTER_ALERT_MS || (c.round_trip_ms || 0) > RTT_ALERT_MS;
    return h('tr', { class: bad ? 'alert' : '', dataset: { phone: login, state: c.state } },
      h('td', {}, login), h('td', {}, c.state),
      h('td', {}, duration((Date.now() - Date.parse(c.since)) / 1000)),
      h('td', { class: loss > LOSS_ALERT ? 'alert' : '' }, c.packets_lost == null ? '—' : `${c.packets_lost} (${(loss * 100).toFixed(1)} %)`),
      h('td', { class: (c.jitter_ms || 0) > JITTER_ALERT_MS ? 'alert' : '' }, ms(c.jitter_ms)),
      h('td', { class: (c.round_trip_ms || 0) > RTT_ALERT_MS ? 'alert' : '' }, ms(c.round_trip_ms)));
  }) : [h('tr', {}, h('td', { colspan: '6' }, t('no_browser_phones')))]));
}

/** The SLA gauges (today, month to date) and the forecast: GET /api/v1/reports/live. */
async function loadLive() {
  try {
    sup.live = await api('GET', '/api/v1/reports/live');
  } catch (e) { notify(failure(e), true); return; }
  drawLive();
}

/** Call events move the gauges: read them again, at most every few seconds. */
function scheduleLive() {
  if (sup.liveTimer) return;
  sup.liveTimer = setTimeout(() => { sup.liveTimer = null; loadLive(); }, LIVE_DEBOUNCE_MS);
}

const GAUGE_NAMES = { 'SLA.C.2': 'gauge_c2', 'SLA.C.2.max': 'gauge_c2max', 'SLA.C.3': 'gauge_c3' };

function drawLive() {
  const live = sup.live;
  if (!live) return;
  const lang = document.documentElement.lang === 'it' ? 'it-IT' : 'en-GB';
  const fmt = (v, d = 1) => Number(v).toLocaleString(lang, { minimumFractionDigits: d, maximumFractionDigits: d });
  const sets = live.sla.map((set) => h('div', { class: 'gauge-set', dataset: { scope: set.scope } },
    h('h3', {}, t(`sla_${set.scope}`)),
    h('div', { class: 'gauges' }, set.gauges.map((g) => {
      const state = g.met == null ? 'na' : g.met ? 'ok' : 'bad';
      const dir = g.direction === 'at_most' ? '≤' : '≥';
      return h('div', { class: `gauge ${state}`, role: 'group', 'aria-label': `${g.id} ${t(GAUGE_NAMES[g.id])}`, dataset: { sla: g.id, met: String(g.met) } },
        h('span', { class: 'what' }, `${g.id} · ${t(GAUGE_NAMES[g.id])}`),
        h('span', { class: 'value', dataset: { value: g.measured_pct == null ? '' : String(g.measured_pct) } },
          g.measured_pct == null ? '—' : `${fmt(g.measured_pct)} %`),
        h('small', {}, t('gauge_target', { dir, value: `${fmt(g.threshold_pct, 0)} %` })),
        h('small', {}, g.denominator ? t('gauge_of', { n: g.numerator, d: g.denominator }) : t('gauge_none')));
    }))));
  document.getElementById('sla-live').replaceChildren(...sets);
  const f = live.forecast;
  document.getElementById('forecast-panel').hidden = !f;
  if (!f) return;
  document.getElementById('forecast-title').textContent = t('forecast', { min: f.horizon_min });
  document.getElementById('forecast-help').textContent = t('forecast_help', {
    arrivals: f.arrival_window_min, handling: f.handling_window_min, goal: f.goal_pct, target: f.target_s,
  });
  document.querySelector('#forecast tbody').replaceChildren(...f.queues.map((q) => {
    const short = q.agents_needed != null && q.agents < q.agents_needed;
    const low = q.expected_service_level_pct < f.goal_pct;
    return h('tr', { dataset: { queue: q.queue } },
      h('td', { class: 'name' }, q.queue),
      h('td', { class: 'arrivals' }, fmt(q.arrivals_per_hour)),
      h('td', { class: 'handling', title: q.handling_measured ? null : t('handling_assumed') },
        `${fmt(q.handling_s, 0)}${q.handling_measured ? '' : ' *'}`),
      h('td', { class: 'traffic' }, fmt(q.traffic, 2)),
      h('td', { class: 'on-duty' }, q.agents), h('td', { class: 'ready' }, q.agents_ready),
      h('td', { class: `expected ${low ? 'alert' : 'ok'}` }, `${fmt(q.expected_service_level_pct)} %`),
      h('td', { class: `needed ${short ? 'alert' : ''}` }, q.agents_needed == null ? '—' : q.agents_needed));
  }));
}

function onEvent(ev) {
  switch (ev.type) {
    case 'ticket.escalation':
      loadDue();
      break;
    case 'snapshot':
      sup.at = Date.now();
      sup.queues = new Map(ev.queues.map((q) => [q.name, q]));
      sup.agents = new Map(ev.agents.map((a) => [a.login, a]));
      sup.hourly = ev.hourly;
      drawQueues(); drawAgents(); drawChart();
      loadLive();
      break;
    case 'queue.changed': {
      const q = sup.queues.get(ev.queue);
      if (q) { q.waiting = ev.waiting; q.oldest_wait_s = ev.oldest_wait_s; sup.at = Date.now(); drawQueues(); }
      scheduleRefresh();
      scheduleLive();
      break;
    }
    case 'agent.state': {
      const a = sup.agents.get(ev.login) || { login: ev.login, queues: [] };
      Object.assign(a, { state: ev.state, reason: ev.reason, registered: ev.registered, since: ev.since });
      if (!['ringing', 'talking'].includes(ev.state)) a.current_call = null;
      sup.agents.set(ev.login, a);
      drawAgents();
      scheduleRefresh();
      scheduleLive();
      break;
    }
    case 'agent.mode': {
      const a = sup.agents.get(ev.login);
      if (a) { a.mode = ev.mode; drawAgents(); }
      break;
    }
    case 'item.offered':
    case 'item.accepted': {
      const a = sup.agents.get(ev.agent);
      if (a) { a.item = { number: ev.number, phase: ev.type === 'item.accepted' ? 'accepted' : 'offered' }; drawAgents(); }
      break;
    }
    case 'item.declined':
    case 'item.done':
      sup.agents.forEach((a) => { if (a.item && a.item.number === ev.number) a.item = null; });
      drawAgents();
      break;
    case 'call.offered':
    case 'call.connected': {
      const a = sup.agents.get(ev.agent);
      if (a) { a.current_call = ev.call_id; drawAgents(); }
      scheduleRefresh();
      break;
    }
    case 'call.started':
      countCall();
      break;
    case 'call.ended':
      scheduleRefresh();
      scheduleLive();
      break;
    default:
  }
}

/** Once a second: the running clocks only, so focus and selection survive. */
function tick() {
  const elapsed = (Date.now() - sup.at) / 1000;
  document.querySelectorAll('#queues tr[data-queue]').forEach((row) => {
    const q = sup.queues.get(row.dataset.queue);
    if (!q) return;
    const oldest = q.waiting ? q.oldest_wait_s + elapsed : 0;
    const cell = row.querySelector('.oldest');
    cell.textContent = duration(oldest);
    cell.classList.toggle('alert', oldest > OLDEST_WAIT_ALERT_S);
  });
  document.querySelectorAll('#agents tr[data-agent]').forEach((row) => {
    const a = sup.agents.get(row.dataset.agent);
    if (a) row.querySelector('.since').textContent = duration((Date.now() - Date.parse(a.since)) / 1000);
  });
}

async function main() {
  let me;
  try { me = await whoami(); } catch (_) { return; }
  setupChrome(me);
  window.addEventListener('langchange', () => { drawQueues(); drawAgents(); drawChart(); drawDue(); drawLive(); drawPhones(); });
  loadPhones();
  setInterval(loadPhones, PHONES_REFRESH_MS);
  setInterval(loadLive, LIVE_REFRESH_MS);
  setInterval(tick, 1000);
  loadDue();
  // Clocks also cross their due time between events the sweep sends (and tickets get taken
  // in charge): redraw the list every minute.
  setInterval(loadDue, 60000);
  connectEvents(onEvent, (on) => {
    document.getElementById('live').textContent = on ? t('live') : t('offline');
    document.getElementById('live').classList.toggle('on', on);
    document.body.dataset.live = String(on);
  });
}

main();

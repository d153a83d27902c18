// The agent desktop: state control, screen pop (R-SR-2), the Service Request work area, and
// the browser phone (issue 17, phone.js), whose Answer and Decline are on the screen pop.
import { t } from './i18n.js';
import { api, whoami, connectEvents, setupChrome, duration, notify, failure, when } from './common.js';
import { Tickets } from './tickets.js';
import { showChoices, showNotice } from './notices.js';
import { Phone } from './phone.js';

const desk = {
  me: null, agent: null, wrapUpS: null, offer: null, list: 'queues', tickets: null, refresh: null,
  item: null, phone: null,
};
const $ = (id) => document.getElementById(id);

function drawState() {
  const a = desk.agent;
  const controls = document.querySelector('.agent-state');
  if (!a) { controls.hidden = true; return; }
  controls.hidden = false;
  const badge = $('agent-state');
  badge.textContent = t(a.state) + (a.reason && a.state === 'not_ready' ? ` (${a.reason})` : '');
  badge.className = `badge ${a.state}`;
  badge.dataset.state = a.state;
  drawPhone();
  if (a.mode) $('agent-mode').value = a.mode;
  tick();
}

/** #phone-state: the browser phone's own state when there is one (connecting…, registered,
 * reconnecting…), else the registrar's view of the desk phone. `data-registered` is always the
 * server's (the ACD's agent); `data-browser` the browser phone's. */
function drawPhone() {
  const el = $('phone-state');
  const a = desk.agent;
  if (a) el.dataset.registered = String(a.registered);
  const phone = desk.phone;
  if (phone && phone.enabled) {
    el.textContent = t(phone.status());
    el.dataset.browser = phone.status();
  } else {
    el.textContent = a && a.registered ? t('registered') : t('not_registered');
    delete el.dataset.browser;
  }
}

/** The browser phone rings: the pop shows (filled by call.offered, before or after). */
function phoneRinging() {
  const pop = $('pop');
  if (pop.hidden) {
    $('pop-status').textContent = `· ${t('ringing')}`;
    pop.hidden = false;
  }
  $('pop-answer').hidden = false;
  $('pop-answer').focus();
}

async function setMode(mode) {
  try {
    await api('PUT', `/api/v1/agents/${encodeURIComponent(desk.me.login)}/mode`, { mode });
  } catch (e) { notify(failure(e), true); drawState(); }
}

/** The item pop (R-ACD-5): a written request offered like a call, or in hand. */
function showItem(item) {
  desk.item = item;
  const pop = $('item-pop');
  const fresh = pop.hidden || pop.dataset.number !== item.number || pop.dataset.phase !== item.phase;
  $('item-channel').textContent = item.channel ? t('ch_' + item.channel) : '—';
  $('item-number').textContent = item.number;
  $('item-subject').textContent = item.subject || '—';
  $('item-customer').textContent = item.customer || '—';
  $('item-queue').textContent = item.queue || '—';
  const accepted = item.phase === 'accepted';
  $('item-status').textContent = accepted ? `· ${t('item_in_hand')}` : '';
  $('item-accept').hidden = accepted;
  $('item-decline').hidden = accepted;
  $('item-done').hidden = !accepted;
  pop.dataset.number = item.number;
  pop.dataset.phase = item.phase;
  pop.hidden = false;
  if (fresh) (accepted ? $('item-done') : $('item-accept')).focus();
}

/** What the pop lacks (after a reload, or an item found by a rescan), from the ticket and
 * its customer (a read of the agent's, audited as any). */
async function completeItem(number) {
  try {
    const tk = await api('GET', `/api/v1/tickets/${encodeURIComponent(number)}`);
    let customer = desk.item && desk.item.customer;
    if (!customer && tk.customer_id) {
      customer = (await api('GET', `/api/v1/customers/${tk.customer_id}`)).full_name;
    }
    if (desk.item && desk.item.number === number) {
      showItem({
        ...desk.item, channel: desk.item.channel || tk.channel, subject: desk.item.subject || tk.title,
        queue: desk.item.queue || tk.queue, customer,
      });
    }
  } catch (_) { /* the pop keeps what it has */ }
}

function hideItem(message) {
  desk.item = null;
  $('item-pop').hidden = true;
  delete $('item-pop').dataset.number;
  if (message) notify(message);
}

async function itemStep(step) {
  const item = desk.item;
  if (!item) return;
  try {
    await api('POST', `/api/v1/items/${encodeURIComponent(item.number)}/${step}`);
  } catch (e) { notify(failure(e), true); return; }
  if (step === 'accept') {
    showItem({ ...item, phase: 'accepted' });
    desk.tickets.open(item.number);
  } else {
    hideItem();
  }
}

function tick() {
  const a = desk.agent;
  if (!a) return;
  const elapsed = (Date.now() - Date.parse(a.since)) / 1000;
  $('state-time').textContent = t('since', { t: duration(elapsed) });
  const countdown = $('wrap-up-countdown');
  countdown.textContent = a.state === 'wrap_up' && desk.wrapUpS != null
    ? t('wrap_up_left', { s: Math.max(0, Math.ceil(desk.wrapUpS - elapsed)) }) : '';
}

async function setState(state, reason) {
  try {
    await api('PUT', `/api/v1/agents/${encodeURIComponent(desk.me.login)}/state`, reason ? { state, reason } : { state });
  } catch (e) { notify(failure(e), true); }
}

function identified(by) {
  return { pin: t('id_pin'), ani: t('id_ani') }[by] || t('id_none');
}

/** One step of the caller's way here, in the agent's language (R-SR-2). */
function journeyStep(s) {
  const who = (text) => (s.customer ? `${text} (${s.customer})` : text);
  switch (s.step) {
    case 'closed': return s.reason ? `${t('j_closed')} (${s.reason})` : t('j_closed');
    case 'menu': return s.label ? `${t('j_menu', { digit: s.digit })} ${s.label}` : t('j_menu', { digit: s.digit });
    case 'menu_retry': return t(s.no_input ? 'j_retry_none' : 'j_retry_invalid');
    case 'identified': return who(t(s.by === 'pin' ? 'j_pin_ok' : 'j_ani_ok'));
    case 'not_identified': return t(s.by === 'pin' ? 'j_pin_wrong' : 'j_ani_unknown');
    case 'queued': return t('j_queued', { queue: s.queue });
    case 'transferred': return t('j_transferred', { queue: s.queue });
    case 'voicemail': return t('j_voicemail', { mailbox: s.mailbox });
    default: return s.step;
  }
}

/** The screen pop: shown at once when a call is offered to this agent. */
function showPop(ev) {
  desk.offer = ev;
  $('pop-status').textContent = '';
  $('pop-channel').textContent = ev.channel;
  $('pop-wait').textContent = duration(ev.waited_ms / 1000);
  $('pop-caller').textContent = ev.customer_name
    ? `${ev.customer_name}${ev.caller ? ' · ' + ev.caller : ''}`
    : `${t('unknown_caller')}${ev.caller ? ' · ' + ev.caller : ''}`;
  $('pop-identified').textContent = identified(ev.identified_by);
  $('pop-identified').dataset.by = ev.identified_by;
  $('pop-queue').textContent = ev.queue;
  $('pop-area').textContent = ev.area || '—';
  $('pop-type').textContent = ev.sr_type || '—';
  const journey = ev.journey || [];
  $('pop-ivr').textContent = journey.length ? journey.map(journeyStep).join(' → ') : '—';
  $('pop').hidden = false;
  $('pop').dataset.callId = ev.call_id;
  if (desk.phone) desk.phone.offered(ev.call_id);
  // Ringing in the browser: Answer first; else Close, as with a desk phone.
  (desk.phone && desk.phone.state().ringing ? $('pop-answer') : $('pop-close')).focus();
  if (ev.customer_id) desk.tickets.customer(ev.customer_id);
}

function scheduleListRefresh() {
  clearTimeout(desk.refresh);
  desk.refresh = setTimeout(() => { if (['locked', 'queues', 'reminders', 'due', 'voicemail'].includes(desk.list)) desk.tickets.showList(desk.list); }, 400);
}

function onEvent(ev) {
  switch (ev.type) {
    case 'snapshot':
      desk.agent = ev.agents.find((a) => a.login === desk.me.login) || null;
      desk.wrapUpS = ev.wrap_up_s;
      desk.tickets.addQueues(ev.queues.map((q) => q.name));
      fillTransferQueues();
      drawState();
      // An item offered or in hand survives a reload of the page.
      if (desk.agent && desk.agent.item) {
        const { number, phase } = desk.agent.item;
        if (!desk.item || desk.item.number !== number) {
          showItem({ number, phase });
          completeItem(number);
        }
      } else if (desk.item) {
        hideItem();
      }
      break;
    case 'agent.mode':
      if (ev.login === desk.me.login) {
        desk.agent = { ...(desk.agent || {}), mode: ev.mode };
        drawState();
      }
      break;
    case 'item.offered':
      if (ev.agent === desk.me.login) {
        showItem({ ...ev, phase: 'offered' });
        if (!ev.customer) completeItem(ev.number);
      }
      break;
    case 'item.declined':
      if (ev.agent === desk.me.login && desk.item && desk.item.number === ev.number) {
        hideItem(ev.reason === 'declined' ? null
          : t(ev.reason === 'no_answer' ? 'item_no_answer' : 'item_withdrawn', { number: ev.number }));
      }
      break;
    case 'item.done':
      if (desk.item && desk.item.number === ev.number) {
        hideItem(ev.reason === 'done' ? null : t('item_withdrawn', { number: ev.number }));
      }
      scheduleListRefresh();
      break;
    case 'agent.state':
      if (ev.login === desk.me.login) {
        desk.agent = { ...(desk.agent || {}), ...ev };
        drawState();
      }
      break;
    case 'call.offered':
      if (ev.agent === desk.me.login) showPop(ev);
      break;
    case 'call.connected':
      if (ev.agent === desk.me.login) {
        $('pop-status').textContent = `· ${t('connected')}`;
        if (ev.ticket) desk.tickets.open(ev.ticket);
      }
      break;
    case 'call.ended':
      if (desk.offer && ev.call_id === desk.offer.call_id) $('pop-status').textContent = `· ${t('call_ended')}`;
      break;
    case 'ticket.created':
      scheduleListRefresh();
      break;
    case 'ticket.escalation':
      // The server sends each clock once per stage, for this agent's queues only.
      notify(t(ev.stage === 'overdue' ? 'escalation_overdue' : 'escalation_due_soon',
        { number: ev.number, clock: t('clock_' + ev.clock), time: when(ev.due) }), ev.stage === 'overdue');
      scheduleListRefresh();
      break;
    case 'agent.notification':
      // Addressed to this operator only (the server's filter); the ticket opens from it.
      if (ev.login === desk.me.login) showNotice(ev, (n) => desk.tickets.open(n));
      break;
    case 'ticket.reminder':
      // A pending reminder came due on the server (once per pending time): the owner is told.
      if (!ev.owner || ev.owner === desk.me.login) {
        notify(t('reminder_due_now', { number: ev.number, time: when(ev.due) }), true);
        scheduleListRefresh();
      }
      break;
    default:
  }
}

/** The phone's transfer targets: the queues the desktop knows (any other can be typed). */
function fillTransferQueues() {
  $('phone-queues').replaceChildren(...[...desk.tickets.knownQueues].sort().map((q) => {
    const o = document.createElement('option');
    o.value = q;
    return o;
  }));
}

function selectList(kind) {
  desk.list = kind;
  document.querySelectorAll('[role=tab]').forEach((b) => b.setAttribute('aria-selected', String(b.dataset.list === kind)));
  $('search-form').hidden = kind !== 'search';
  $('new-form').hidden = kind !== 'new';
  $('notify-form').hidden = kind !== 'notifications';
  if (kind === 'notifications') {
    desk.tickets.list.replaceChildren();
    showChoices(desk.me, [...desk.tickets.knownQueues]);
  } else if (kind === 'search' || kind === 'new') {
    desk.tickets.render([]);
    document.querySelector(`#${kind}-form input`).focus();
  } else {
    desk.tickets.showList(kind);
  }
}

async function main() {
  try { desk.me = await whoami(); } catch (_) { return; }
  setupChrome(desk.me);
  desk.tickets = new Tickets(desk.me);
  desk.tickets.wireForms();
  $('btn-ready').addEventListener('click', () => setState('ready'));
  $('btn-not-ready').addEventListener('click', () => setState('not_ready', $('nr-reason').value));
  $('btn-logout-agent').addEventListener('click', () => setState('logged_out'));
  $('pop-close').addEventListener('click', () => { $('pop').hidden = true; });
  $('agent-mode').addEventListener('change', (e) => setMode(e.target.value));
  $('item-accept').addEventListener('click', () => itemStep('accept'));
  $('item-decline').addEventListener('click', () => itemStep('decline'));
  $('item-done').addEventListener('click', () => itemStep('done'));
  document.querySelectorAll('[role=tab]').forEach((b) => b.addEventListener('click', () => selectList(b.dataset.list)));
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !$('pop').hidden && !$('pop-close').hidden) $('pop').hidden = true; });
  window.addEventListener('ticketchange', scheduleListRefresh);
  window.addEventListener('langchange', () => { scheduleListRefresh(); drawState(); if (desk.offer && !$('pop').hidden) showPop(desk.offer); if (desk.item) showItem(desk.item); });
  selectList('queues');
  // A notification mail's link: /desktop#ticket=<number>.
  const openFromHash = () => {
    const m = /^#ticket=([0-9A-Za-z-]+)$/.exec(location.hash);
    if (m) desk.tickets.open(m[1]);
  };
  window.addEventListener('hashchange', openFromHash);
  openFromHash();
  setInterval(tick, 1000);
  // The browser phone: registers when the operator has one (404: the desk phone as before).
  // Its state never touches the agent's ACD state (Ready / Not ready are the server's).
  desk.phone = new Phone(desk.me, { onChange: drawPhone, onIncoming: phoneRinging });
  window.centralinoPhone = {
    state: () => desk.phone.state(),
    dominantFrequency: () => desk.phone.dominantFrequency(),
  };
  desk.phone.start();
  connectEvents(onEvent, (on) => {
    $('live').textContent = on ? t('live') : t('offline');
    $('live').classList.toggle('on', on);
    document.body.dataset.live = String(on);
  });
}

main();

// Working Service Requests on the agent desktop: lists, search, new ticket, the ticket view
// with its actions, and the caller's card (R-SR-2..R-SR-11). Every action is an API call
// that the server checks again (role, queue permission, life cycle).
import { t } from './i18n.js';
import { api, h, when, notify, failure } from './common.js';

const TYPES = ['information_request', 'administrative_problem', 'payment_problem', 'technical_problem', 'other'];
const OPEN_STATES = ['new', 'open', 'pending_reminder'];


/** An audio attachment's player (the browser asks the server, which writes who listened). */
function player(f) {
  return h('span', { class: 'player' },
    h('audio', { controls: true, preload: 'none', src: f.url, 'aria-label': f.filename }),
    ' ', h('a', { href: f.url, download: f.filename }, f.filename));
}

export class Tickets {
  constructor(me) {
    this.me = me;
    this.knownQueues = new Set();
    this.current = null;
    this.noteSinceOpen = false;
    this.list = document.getElementById('ticket-list');
    this.view = document.getElementById('ticket');
    this.card = document.getElementById('customer');
  }

  /** Queue names offered in the forms (from the live snapshot). */
  addQueues(names) {
    names.forEach((n) => this.knownQueues.add(n));
    const fill = (select, withAny) => {
      const keep = select.value;
      select.replaceChildren(
        ...(withAny ? [h('option', { value: '' }, t('any'))] : []),
        ...[...this.knownQueues].sort().map((q) => h('option', { value: q }, q)),
      );
      select.value = keep;
    };
    fill(document.querySelector('#search-form [name=queue]'), true);
    fill(document.querySelector('#new-form [name=queue]'), false);
  }

  async search(params) {
    const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null));
    q.set('per_page', '50');
    return (await api('GET', `/api/v1/tickets?${q}`)).tickets;
  }

  /** Shows one of the lists: locked, queues, reminders (or search results). */
  async showList(kind) {
    let tickets = [];
    try {
      if (kind === 'locked') {
        tickets = (await this.search({ owner: this.me.login, state: 'new,open,pending_reminder' })).filter((x) => x.locked);
      } else if (kind === 'queues') {
        tickets = await this.search({ state: 'new,open' });
      } else if (kind === 'due') {
        tickets = (await api('GET', '/api/v1/tickets/due?within_min=60&limit=100')).tickets;
      } else if (kind === 'voicemail') {
        this.renderVoicemail(await this.search({ channel: 'voicemail', state: 'new,open' }));
        return;
      } else if (kind === 'reminders') {
        const now = Date.now();
        tickets = (await this.search({ owner: this.me.login, state: 'pending_reminder' }))
          .filter((x) => x.pending_until && Date.parse(x.pending_until) <= now);
      }
    } catch (e) { notify(failure(e), true); }
    this.render(tickets);
  }

  render(tickets) {
    this.list.replaceChildren(...(tickets.length ? tickets.map((x) => h('li', {},
      h('button', { type: 'button', onclick: () => this.open(x.number), dataset: { number: x.number } },
        h('strong', {}, x.number), ' ', x.title,
        h('small', {}, `${x.queue} · ${t('state_' + x.state)} · P${x.priority}${x.owner ? ' · ' + x.owner : ''}`),
        x.next_due ? h('small', { class: x.overdue ? 'due overdue' : 'due' },
          t(x.overdue ? 'overdue_since' : 'due_at', { time: when(x.next_due) })) : ''))) :
      [h('li', {}, t('no_results'))]));
  }

  /** The voicemail list: each message with its player (R-VM-1), newest last. */
  async renderVoicemail(tickets) {
    const rows = await Promise.all(tickets.slice(0, 25).map(async (x) => {
      let audio = null;
      try {
        const d = await api('GET', `/api/v1/tickets/${encodeURIComponent(x.number)}`);
        audio = d.articles.flatMap((a) => a.attachments || []).find((f) => f.content_type.startsWith('audio/'));
      } catch (e) { /* shown without a player; opening it says why */ }
      return h('li', { class: 'voicemail' },
        h('button', { type: 'button', onclick: () => this.open(x.number), dataset: { number: x.number } },
          h('strong', {}, x.number), ' ', x.title,
          h('small', {}, `${x.queue} · ${t('state_' + x.state)} · ${when(x.created)}`)),
        audio ? player(audio) : h('small', {}, t('no_audio')));
    }));
    this.list.replaceChildren(...(rows.length ? rows : [h('li', {}, t('no_results'))]));
  }

  /** Opens a ticket in the work area, with the caller's card. */
  async open(number) {
    let x;
    try { x = await api('GET', `/api/v1/tickets/${encodeURIComponent(number)}`); } catch (e) { notify(failure(e), true); return; }
    if (!this.current || this.current.number !== x.number) this.noteSinceOpen = false;
    this.current = x;
    this.drawTicket(x);
    if (x.customer_id) this.customer(x.customer_id); else this.card.replaceChildren();
  }

  async reload() { if (this.current) await this.open(this.current.number); }

  async act(method, suffix, body, message = t('done')) {
    try {
      await api(method, `/api/v1/tickets/${encodeURIComponent(this.current.number)}${suffix}`, body);
      notify(message);
      // The lists beside show states and owners: let the page refresh them.
      window.dispatchEvent(new CustomEvent('ticketchange'));
      await this.reload();
      return true;
    } catch (e) { notify(failure(e), true); return false; }
  }

  drawTicket(x) {
    const form = (cls, onsubmit, ...children) => h('form', { class: cls, onsubmit: (ev) => { ev.preventDefault(); onsubmit(ev.target); } }, ...children);
    const queueList = h('datalist', { id: 'queue-names' }, [...this.knownQueues].map((q) => h('option', { value: q })));
    const note = form('wide note-form', async (f) => {
      const ok = await this.act('POST', '/articles', {
        kind: f.kind.value, customer_visible: f.visible.checked, subject: f.subject.value || x.title, body: f.body.value,
      });
      if (ok) this.noteSinceOpen = true;
    },
      h('div', {},
        h('select', { name: 'kind', 'aria-label': t('note') },
          h('option', { value: 'note' }, t('internal_note')),
          h('option', { value: 'phone_received' }, t('phone_received')),
          h('option', { value: 'phone_made' }, t('phone_made'))),
        ' ', h('label', {}, h('input', { type: 'checkbox', name: 'visible' }), ' ', t('visible_note'))),
      h('input', { name: 'subject', placeholder: t('subject'), 'aria-label': t('subject') }),
      h('textarea', { name: 'body', required: true, placeholder: t('body'), 'aria-label': t('body') }),
      h('button', { type: 'submit' }, t('add')));
    // The e-mail reply (issue 16): to the citizen's address, tagged and threaded by the
    // server; quoting the last message unless unticked. Ctrl+Enter sends from the text.
    const reply = form('wide reply-form', async (f) => {
      const ok = await this.act('POST', '/replies', { body: f.body.value, quote: f.quote.checked }, t('reply_sent'));
      if (ok) this.noteSinceOpen = true;
    },
      h('label', { for: 'reply-body' }, t('reply_to_citizen')),
      h('textarea', {
        id: 'reply-body', name: 'body', required: true, placeholder: t('reply_body'),
        onkeydown: (ev) => { if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); ev.target.form.requestSubmit(); } },
      }),
      h('div', {},
        h('label', {}, h('input', { type: 'checkbox', name: 'quote', id: 'reply-quote', checked: true }), ' ', t('reply_quote')),
        ' ', h('button', { type: 'submit', id: 'reply-send' }, t('reply_send'))));
    const actions = h('div', { class: 'actions' },
      reply,
      note,
      form('', (f) => this.act('PUT', '/priority', { priority: Number(f.priority.value) }),
        h('label', {}, t('priority'), ' ', h('select', { name: 'priority' },
          [1, 2, 3, 4, 5].map((p) => h('option', { value: p, selected: p === x.priority }, p)))),
        h('button', { type: 'submit' }, t('save'))),
      form('', (f) => this.act('PUT', '/type', { type: f.type.value }),
        h('label', {}, t('type'), ' ', h('select', { name: 'type' },
          TYPES.map((v) => h('option', { value: v, selected: v === x.type }, v.replace(/_/g, ' '))))),
        h('button', { type: 'submit' }, t('save'))),
      form('', (f) => this.act('PUT', '/state', { state: 'pending_reminder', pending_until: new Date(f.until.value).toISOString() }),
        h('label', {}, t('pending_until'), ' ', h('input', { type: 'datetime-local', name: 'until', required: true })),
        h('button', { type: 'submit' }, t('set_pending'))),
      form('', () => {},
        h('button', { type: 'button', onclick: () => this.act('PUT', '/state', { state: 'closed_successful' }) }, t('close_success')),
        h('button', { type: 'button', onclick: () => this.act('PUT', '/state', { state: 'closed_unsuccessful' }) }, t('close_fail'))),
      form('', () => {},
        h('button', { type: 'button', onclick: () => this.act('POST', '/lock') }, t('lock')),
        h('button', { type: 'button', onclick: () => this.act('POST', '/unlock') }, t('release'))),
      form('', (f) => this.act('PUT', '/owner', { owner: f.owner.value.trim() || null }),
        h('input', { name: 'owner', placeholder: t('owner'), 'aria-label': t('assign_to') }),
        h('button', { type: 'submit' }, t('assign_to'))),
      form('', (f) => {
        if (!this.noteSinceOpen) {
          notify(t('move_note_first'), true);
          note.querySelector('textarea').focus();
          return;
        }
        this.act('PUT', '/queue', { action: 'move', queue: f.queue.value.trim() });
      },
        h('input', { name: 'queue', required: true, list: 'queue-names', placeholder: t('queue'), 'aria-label': t('move_to') }),
        h('button', { type: 'submit' }, t('move_to'))),
      form('', (f) => this.act('POST', '/links', { kind: 'parent', ticket: f.parent.value.trim() }),
        h('input', { name: 'parent', required: true, placeholder: t('parent_number'), 'aria-label': t('parent_number') }),
        h('button', { type: 'submit' }, t('link_parent'))),
      form('wide', (f) => this.act('PUT', '/queue', { action: 'assign_second_level', queue: f.queue.value.trim(), reason: f.note.value }),
        h('input', { name: 'queue', required: true, list: 'queue-names', placeholder: t('queue'), 'aria-label': t('queue') }),
        h('textarea', { name: 'note', required: true, placeholder: t('second_level_note'), 'aria-label': t('second_level_note') }),
        h('button', { type: 'submit' }, t('second_level'))),
    );
    const fact = (k, v) => [h('dt', {}, k), h('dd', {}, v ?? '—')];
    // Resolved at first contact (SLA.C.4), for requests a call opened: judged by the server
    // at closing; the operator corrects it here (PUT …/first-contact, which checks the right).
    const fc = x.first_contact || {};
    const firstContact = x.call_id ? fact(t('first_contact'), h('span', {},
      h('input', {
        type: 'checkbox', id: 'first-contact', checked: fc.first_contact === true, 'aria-label': t('first_contact'),
        onchange: (ev) => this.act('PUT', '/first-contact', { first_contact: ev.target.checked }),
      }),
      ' ', h('small', { id: 'first-contact-by', dataset: { corrected: String(!!fc.corrected) } },
        fc.first_contact == null ? t('first_contact_pending')
          : t(fc.corrected ? 'first_contact_corrected' : 'first_contact_judged', { who: fc.by ?? '—', when: when(fc.at) })))) : [];
    // Who has heard the attachments (the server writes each listening in the history).
    const heard = [...new Set((x.history || []).filter((e) => e.kind === 'listened').map((e) => e.actor || '—'))];
    this.view.replaceChildren(
      queueList,
      h('h2', { id: 'ticket-number' }, `${x.number} · ${x.title}`),
      h('dl', { class: 'facts' },
        fact(t('state'), h('span', { id: 'ticket-state' }, t('state_' + x.state) + (x.pending_until ? ` (${when(x.pending_until)})` : ''))),
        fact(t('queue'), x.queue), fact(t('priority'), x.priority), fact(t('type'), x.type.replace(/_/g, ' ')),
        fact(t('owner'), x.owner + (x.locked ? ' 🔒' : '')), fact(t('channel'), x.channel),
        fact(t('created'), when(x.created)), fact(t('parent_number'), x.parent), ...firstContact),
      actions,
      h('h3', {}, t('articles')),
      h('div', { class: 'articles' }, x.articles.map((a) => h('article', {},
        h('small', {}, `${when(a.created)} · ${a.kind}${a.customer_visible ? ' · ' + t('visible_note') : ''} · ${a.created_by ?? a.sender ?? ''}`),
        h('div', {}, h('strong', {}, a.subject)), a.body,
        (a.attachments || []).length ? h('ul', { class: 'attachments' }, a.attachments.map((f) => h('li', {},
          f.content_type.startsWith('audio/') ? player(f) : h('a', { href: f.url, download: f.filename }, `${f.filename} (${f.size} B)`)))) : ''))),
      heard.length ? h('p', { id: 'ticket-heard', class: 'heard' }, t('listened_by', { who: heard.join(', ') })) : '',
    );
  }

  /** The caller's card: registry data, open and previous requests. */
  async customer(id) {
    try {
      const c = await api('GET', `/api/v1/customers/${id}`);
      const all = await this.search({ customer: id });
      const item = (x) => h('li', {}, h('button', { type: 'button', onclick: () => this.open(x.number) }, `${x.number} · ${x.title}`),
        h('small', {}, ` ${t('state_' + x.state)} · ${when(x.created)}`));
      this.card.replaceChildren(
        h('h2', { id: 'customer-name' }, c.full_name),
        h('dl', { class: 'facts' },
          h('dt', {}, t('phones')), h('dd', {}, (c.phones || []).join(', ') || '—'),
          h('dt', {}, t('email')), h('dd', {}, c.email || '—'),
          h('dt', {}, 'PIN'), h('dd', {}, c.has_pin ? '✓' : '—')),
        h('h3', {}, t('open_requests')),
        h('ul', { id: 'customer-open' }, all.filter((x) => OPEN_STATES.includes(x.state)).map(item)),
        h('h3', {}, t('previous_requests')),
        h('ul', { id: 'customer-previous' }, all.filter((x) => !OPEN_STATES.includes(x.state)).map(item)),
      );
    } catch (e) { notify(failure(e), true); }
  }

  /** Wires the search and new-ticket forms. */
  wireForms() {
    const search = document.getElementById('search-form');
    search.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = ev.target;
      try {
        this.render(await this.search({ number: f.number.value.trim(), q: f.q.value.trim(), state: f.state.value, queue: f.queue.value }));
      } catch (e) { notify(failure(e), true); }
    });
    const create = document.getElementById('new-form');
    create.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = ev.target;
      const body = { title: f.title.value.trim(), queue: f.queue.value || undefined, channel: 'phone' };
      if (f.customer_id.value) body.customer_id = Number(f.customer_id.value);
      if (f.body.value.trim()) body.article = { kind: 'phone_received', subject: body.title, body: f.body.value };
      try {
        const x = await api('POST', '/api/v1/tickets', body);
        notify(t('created_ok', { n: x.number }));
        f.reset();
        await this.open(x.number);
      } catch (e) { notify(failure(e), true); }
    });
  }
}

// Agents' notifications on the desktop (R-SR-9): the operator's choices (what, which
// queues, desktop and/or e-mail) and the notices the server sends them live
// (`agent.notification`, addressed to this operator only), each opening its ticket.
import { t } from './i18n.js';
import { api, h, notify, failure } from './common.js';

const KINDS = ['created', 'customer_update', 'reminder', 'note', 'queue_move'];
const $ = (id) => document.getElementById(id);

/** The choices form: filled from the server, saved with PUT. */
export async function showChoices(me, queues) {
  const form = $('notify-form');
  let prefs;
  try {
    prefs = await api('GET', `/api/v1/users/${encodeURIComponent(me.login)}/notifications`);
  } catch (e) { notify(failure(e), true); return; }
  const names = [...new Set([...queues, ...prefs.queues])].sort();
  const box = (name, value, checked, label) => h('label', {},
    h('input', { type: 'checkbox', name, value, checked }), ' ', label);
  form.replaceChildren(
    h('fieldset', {}, h('legend', {}, t('notify_what')),
      ...KINDS.map((k) => box('kind', k, prefs.kinds.includes(k), t('notice_' + k)))),
    h('fieldset', {}, h('legend', {}, t('notify_queues')),
      ...(names.length ? names.map((q) => box('queue', q, prefs.queues.includes(q), q)) : [t('no_results')])),
    h('fieldset', {}, h('legend', {}, t('notify_how')),
      box('desktop', 'on', prefs.desktop, t('notify_desktop')),
      box('email', 'on', prefs.email, t('notify_email')),
      h('label', {}, t('notify_address'), ' ',
        h('input', { type: 'email', name: 'address', value: prefs.address || '', autocomplete: 'email' }))),
    h('button', { type: 'submit' }, t('save')),
  );
  form.onsubmit = async (e) => {
    e.preventDefault();
    const checked = (name) => [...form.querySelectorAll(`input[name=${name}]:checked`)].map((i) => i.value);
    const body = {
      kinds: checked('kind'),
      queues: checked('queue'),
      desktop: form.desktop.checked,
      email: form.email.checked,
      address: form.address.value.trim() || null,
    };
    try {
      await api('PUT', `/api/v1/users/${encodeURIComponent(me.login)}/notifications`, body);
      notify(t('notify_saved'));
    } catch (err) { notify(failure(err), true); }
  };
}

/** One notice: into the status line and the list of recent ones (newest first, ten kept). */
export function showNotice(ev, open) {
  const text = t('notice_text', { what: t('notice_' + ev.kind), number: ev.number, title: ev.title || '', queue: ev.queue });
  notify(text);
  const list = $('notices');
  list.hidden = false;
  list.prepend(h('li', {}, h('button', {
    type: 'button', dataset: { number: ev.number, kind: ev.kind },
    onclick: () => open(ev.number),
  }, text)));
  while (list.children.length > 10) list.lastElementChild.remove();
}

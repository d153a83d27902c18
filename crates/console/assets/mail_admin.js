// The e-mail desk's administration on the site page (issue 16, admins only): the mail
// templates (confirmation, pending reminder, closure; Italian and English) and the outbox
// with each mail's state, failures, last error and next attempt, a failed one sent again.
// The server validates (an unknown placeholder is refused with a message shown here).
import { t } from './i18n.js';
import { api, notify, failure, h } from './common.js';

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

async function drawTemplates() {
  const box = document.getElementById('mail-templates');
  if (!box) return;
  let list;
  try { list = (await api('GET', '/api/v1/admin/mail/templates')).templates; } catch (e) { notify(failure(e), true); return; }
  document.getElementById('mail-templates-help').textContent =
    t('mail_templates_help', { list: (list[0] ? list[0].placeholders : []).join(', ') });
  box.replaceChildren(...list.map((tpl) => {
    const id = `tpl-${tpl.purpose}-${tpl.lang}`;
    const title = `${t('mail_purpose_' + tpl.purpose)} · ${tpl.lang}`;
    return h('form', {
      class: 'editor mail-template', dataset: { template: `${tpl.purpose}/${tpl.lang}` }, 'aria-labelledby': `${id}-title`,
      onsubmit: async (ev) => {
        ev.preventDefault();
        const f = ev.target;
        try {
          await api('PUT', `/api/v1/admin/mail/templates/${tpl.purpose}/${tpl.lang}`, { subject: f.subject.value, body: f.body.value });
          notify(t('mail_template_saved'));
          await drawTemplates();
        } catch (e) { notify(failure(e), true); }
      },
    },
    h('h3', { id: `${id}-title` }, title, ' ', h('small', {}, tpl.edited ? t('mail_edited') : t('mail_builtin'))),
    h('label', { for: `${id}-subject` }, t('mail_subject')),
    h('input', { id: `${id}-subject`, name: 'subject', value: tpl.subject, required: true }),
    h('label', { for: `${id}-body` }, t('mail_body')),
    h('textarea', { id: `${id}-body`, name: 'body', rows: 6, required: true }, tpl.body),
    h('button', { type: 'submit' }, t('save')));
  }));
}

async function drawOutbox() {
  const body = document.querySelector('#outbox tbody');
  if (!body) return;
  const state = document.getElementById('outbox-state').value;
  let mails;
  try {
    mails = (await api('GET', `/api/v1/admin/mail/outbox${state ? `?state=${state}` : ''}`)).mails;
  } catch (e) { notify(failure(e), true); return; }
  body.replaceChildren(...(mails.length ? mails.map((m) => h('tr', { dataset: { mail: String(m.id), state: m.state } },
    h('td', {}, m.state), h('td', {}, m.kind), h('td', {}, m.ticket ?? '—'), h('td', {}, m.recipient),
    h('td', {}, m.subject), h('td', {}, String(m.failures)), h('td', {}, m.last_error ?? '—'),
    h('td', {}, when(m.next_attempt)),
    h('td', {}, m.state === 'failed' ? h('button', {
      type: 'button', 'aria-label': `${t('outbox_retry')} ${m.id}`,
      onclick: async () => {
        try { await api('POST', `/api/v1/admin/mail/outbox/${m.id}/retry`); notify(t('outbox_retried')); await drawOutbox(); } catch (e) { notify(failure(e), true); }
      },
    }, t('outbox_retry')) : ''))) : [h('tr', {}, h('td', { colspan: 9 }, t('outbox_empty')))]));
}

/** Draws both sections (called by the site page once the caller is known to be an admin). */
export async function setupMailAdmin() {
  const select = document.getElementById('outbox-state');
  if (!select) return;
  const states = ['', 'queued', 'retry', 'sending', 'failed', 'sent'];
  const fill = () => {
    const v = select.value;
    select.replaceChildren(...states.map((s) => h('option', { value: s, selected: s === v }, s || t('outbox_all'))));
  };
  fill();
  select.addEventListener('change', drawOutbox);
  document.getElementById('outbox-refresh').addEventListener('click', drawOutbox);
  window.addEventListener('langchange', () => { fill(); drawTemplates(); drawOutbox(); });
  await Promise.all([drawTemplates(), drawOutbox()]);
}

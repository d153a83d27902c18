// The site's people and queues (R-PLT-2, R-ACD-7), for admins: queues with their call
// settings and members; users with role, queues and weights, ticket permissions and phone;
// a phone's secret set or generated and shown once. Everything goes through /api/v1 (the
// server applies a change at once); the API decides and explains what is refused.
import { t } from './i18n.js';
import { api, whoami, setupChrome, notify, failure, h, ApiError } from './common.js';
import { setupMailAdmin } from './mail_admin.js';

const ROLES = ['agent_first_level', 'agent_second_level', 'supervisor', 'admin'];

// Queues and users as last read. No secret is ever kept here: it lives in the secret panel's
// DOM until the panel is closed.
const page = {
  me: null, queues: [], users: [], queueEdit: null, userEdit: null, secretFor: null, said: null,
};

const $ = (id) => document.getElementById(id);
const path = (kind, name) => `/api/v1/${kind}/${encodeURIComponent(name)}`;
const isMe = (login) => page.me && page.me.login === login;

/** Says something on the status line, said again in the new language when it changes. */
function say(text, isError = false) {
  page.said = { text, isError };
  notify(text(), isError);
}

/** A number field: its value, or `null` when empty. */
function number(input) {
  const v = input.value.trim();
  return v === '' ? null : Number(v);
}

// ---------------------------------------------------------------------------------------
// Reading

async function load() {
  try {
    page.users = (await api('GET', '/api/v1/users')).sort((a, b) => a.login.localeCompare(b.login));
    // Every queue of the site, those that take no calls included.
    page.queues = (await api('GET', '/api/v1/admin/queues')).sort((a, b) => a.name.localeCompare(b.name));
    draw();
  } catch (e) { say(() => failure(e), true); }
}

// ---------------------------------------------------------------------------------------
// Drawing

const yesNo = (b) => t(b ? 'yes' : 'no');

function drawQueues() {
  const rows = page.queues.map((q) => {
    const overflow = q.overflow
      ? (q.max_wait_s == null ? q.overflow : t('overflow_after', { s: q.max_wait_s, to: q.overflow }))
      : (q.max_wait_s == null ? '—' : t('max_wait_only', { s: q.max_wait_s }));
    return h('tr', { dataset: { queue: q.name } },
      h('td', { class: 'name' }, q.name),
      h('td', { class: 'level' }, t(q.second_level ? 'level_second' : 'level_first')),
      h('td', { class: 'takes-calls' }, yesNo(q.takes_calls)),
      h('td', { class: 'weight' }, q.weight),
      h('td', { class: 'announce' }, q.announce_every_s == null ? t('hold_music_only') : t('every_s', { s: q.announce_every_s })),
      h('td', { class: 'service-level' }, t('within_s', { s: q.service_level_s })),
      h('td', { class: 'overflow' }, overflow),
      h('td', { class: 'members' }, q.members.map((m) => `${m.login} (${m.weight})`).join(', ') || '—'),
      h('td', { class: 'tools' },
        h('button', { type: 'button', class: 'edit', 'aria-label': `${t('edit')} ${q.name}`, onclick: () => openQueue(q) }, t('edit')),
        h('button', { type: 'button', class: 'delete', 'aria-label': `${t('delete')} ${q.name}`, onclick: () => removeQueue(q) }, t('delete'))));
  });
  $('site-queues').querySelector('tbody').replaceChildren(...rows);
  $('queue-names').replaceChildren(...page.queues.map((q) => h('option', { value: q.name })));
}

function phoneText(p) {
  if (!p) return t('phone_none');
  return p.kind === 'static' ? `${t('phone_static')} ${p.contact}` : t('phone_registering');
}

function drawUsers() {
  const rows = page.users.map((u) => h('tr', { dataset: { user: u.login }, class: u.active ? undefined : 'inactive' },
    h('td', { class: 'login' }, u.login),
    h('td', { class: 'full-name' }, u.full_name),
    h('td', { class: 'role', dataset: { directory: String(Boolean(u.directory)) } }, t(`role_${u.role}`),
      u.directory ? h('span', { class: 'badge', title: t('directory_managed_help') }, ` (${t('directory_managed')})`) : null),
    h('td', { class: 'active' }, yesNo(u.active)),
    h('td', { class: 'queues' }, u.queues.map((m) => `${m.queue} (${m.weight})`).join(', ') || '—'),
    h('td', { class: 'permissions' }, u.permissions.map((p) => `${p.queue}: ${t(`access_${p.access}`)}`).join(', ') || '—'),
    h('td', { class: 'phone', dataset: { kind: u.phone ? u.phone.kind : 'none' } }, phoneText(u.phone)),
    h('td', { class: 'secret', dataset: { has: String(Boolean(u.phone && u.phone.has_secret)) } },
      u.phone ? t(u.phone.has_secret ? 'secret_yes' : 'secret_no') : '—'),
    h('td', { class: 'tools' },
      h('button', { type: 'button', class: 'edit', 'aria-label': `${t('edit')} ${u.login}`, onclick: () => openUser(u) }, t('edit')),
      h('button', {
        type: 'button', class: 'toggle', disabled: isMe(u.login),
        'aria-label': `${t(u.active ? 'disable' : 'enable')} ${u.login}`, onclick: () => toggleActive(u),
      }, t(u.active ? 'disable' : 'enable')),
      h('button', {
        type: 'button', class: 'secret', disabled: !u.phone,
        'aria-label': `${t('set_secret')} ${u.login}`, onclick: () => openSecret(u.login),
      }, t('phone_secret')))));
  $('site-users').querySelector('tbody').replaceChildren(...rows);
}

/** The titles of the open forms, in the current language. */
function drawTitles() {
  $('password-label').textContent = t($('password-label').dataset.i18n);
  $('queue-form-title').textContent = page.queueEdit ? t('edit_queue', { name: page.queueEdit }) : t('new_queue');
  $('user-form-title').textContent = page.userEdit ? t('edit_user', { login: page.userEdit }) : t('new_user');
  $('secret-title').textContent = page.secretFor ? t('secret_for', { login: page.secretFor }) : '';
}

function draw() {
  drawQueues();
  drawUsers();
  drawTitles();
}

// ---------------------------------------------------------------------------------------
// Queues

function openQueue(q) {
  const f = $('queue-form');
  page.queueEdit = q ? q.name : null;
  f.reset();
  f.queue_name.value = q ? q.name : '';
  f.queue_name.readOnly = Boolean(q);
  f.second_level.checked = q ? q.second_level : false;
  f.takes_calls.checked = q ? q.takes_calls : true;
  f.weight.value = q ? q.weight : 1;
  f.announce_every_s.value = q && q.announce_every_s != null ? q.announce_every_s : '';
  f.max_wait_s.value = q && q.max_wait_s != null ? q.max_wait_s : '';
  f.overflow.value = q && q.overflow ? q.overflow : '';
  f.expected_wait_s.value = q ? q.expected_wait_s : 60;
  f.service_level_s.value = q ? q.service_level_s : 30;
  f.transfers_at_head.checked = q ? q.transfers_at_head : false;
  f.hidden = false;
  drawTitles();
  (q ? f.weight : f.queue_name).focus();
}

async function saveQueue(ev) {
  ev.preventDefault();
  const f = $('queue-form');
  const settings = {
    second_level: f.second_level.checked,
    takes_calls: f.takes_calls.checked,
    weight: number(f.weight),
    announce_every_s: number(f.announce_every_s),
    max_wait_s: number(f.max_wait_s),
    overflow: f.overflow.value.trim() || null,
    expected_wait_s: number(f.expected_wait_s),
    service_level_s: number(f.service_level_s),
    transfers_at_head: f.transfers_at_head.checked,
  };
  // Required numbers left empty: the server's defaults.
  for (const k of ['weight', 'expected_wait_s', 'service_level_s']) if (settings[k] == null) delete settings[k];
  try {
    if (page.queueEdit) {
      const name = page.queueEdit;
      await api('PATCH', path('queues', name), settings);
      say(() => t('queue_saved', { name }));
    } else {
      const name = f.queue_name.value.trim();
      const created = await api('POST', '/api/v1/queues', { name, ...settings });
      say(() => t('queue_created', { name: created.name }));
    }
    closeQueue();
    await load();
  } catch (e) { say(() => failure(e), true); }
}

function closeQueue() {
  page.queueEdit = null;
  $('queue-form').hidden = true;
}

async function removeQueue(q) {
  if (!window.confirm(t('confirm_delete_queue', { name: q.name }))) return;
  try {
    await api('DELETE', path('queues', q.name));
    say(() => t('queue_deleted', { name: q.name }));
    await load();
  } catch (e) {
    // 409: in use (tickets, another queue's overflow, the system): the server says by what.
    if (e instanceof ApiError && e.status === 409) say(() => t('queue_in_use', { name: q.name, reason: e.message }), true);
    else say(() => failure(e), true);
  }
}

// ---------------------------------------------------------------------------------------
// Users

/** One editable row: a queue and its weight, or a queue and its access. */
function membershipRow(m = { queue: '', weight: 1 }) {
  return h('div', { class: 'row membership' },
    h('label', {}, h('span', { 'data-i18n': 'queue' }, t('queue')), ' ',
      h('input', { class: 'queue', list: 'queue-names', value: m.queue, required: true, autocomplete: 'off' })),
    h('label', {}, h('span', { 'data-i18n': 'weight' }, t('weight')), ' ',
      h('input', { class: 'weight', type: 'number', min: 1, max: 100, value: m.weight, required: true })),
    h('button', { type: 'button', class: 'remove', 'data-i18n': 'remove', onclick: (ev) => ev.target.closest('.row').remove() }, t('remove')));
}

function permissionRow(p = { queue: '', access: 'write' }) {
  const access = h('select', { class: 'access' },
    ['read', 'write'].map((a) => h('option', { value: a, selected: a === p.access, 'data-i18n': `access_${a}` }, t(`access_${a}`))));
  return h('div', { class: 'row permission' },
    h('label', {}, h('span', { 'data-i18n': 'queue' }, t('queue')), ' ',
      h('input', { class: 'queue', list: 'queue-names', value: p.queue, required: true, autocomplete: 'off' })),
    h('label', {}, h('span', { 'data-i18n': 'access' }, t('access')), ' ', access),
    h('button', { type: 'button', class: 'remove', 'data-i18n': 'remove', onclick: (ev) => ev.target.closest('.row').remove() }, t('remove')));
}

function showContact() {
  $('contact-label').hidden = $('user-form').phone_kind.value !== 'static';
}

function openUser(u) {
  const f = $('user-form');
  page.userEdit = u ? u.login : null;
  f.reset();
  f.login.value = u ? u.login : '';
  f.login.readOnly = Boolean(u);
  f.full_name.value = u ? u.full_name : '';
  f.role.value = u ? u.role : ROLES[0];
  f.password.type = 'password';
  f.password.value = '';
  f.password.required = !u;
  $('password-label').dataset.i18n = u ? 'new_password' : 'web_password';
  $('user-queues').replaceChildren(...(u ? u.queues : []).map(membershipRow));
  $('user-permissions').replaceChildren(...(u ? u.permissions : []).map(permissionRow));
  f.phone_kind.value = u && u.phone ? u.phone.kind : '';
  f.contact.value = u && u.phone && u.phone.contact ? u.phone.contact : '';
  showContact();
  f.hidden = false;
  drawTitles();
  (u ? f.full_name : f.login).focus();
}

function closeUser() {
  page.userEdit = null;
  $('user-form').hidden = true;
}

/** What the form says, in the API's shapes. */
function userFromForm() {
  const f = $('user-form');
  const queues = [...$('user-queues').querySelectorAll('.row')].map((r) => ({
    queue: r.querySelector('.queue').value.trim(), weight: Number(r.querySelector('.weight').value || 1),
  }));
  const permissions = [...$('user-permissions').querySelectorAll('.row')].map((r) => ({
    queue: r.querySelector('.queue').value.trim(), access: r.querySelector('.access').value,
  }));
  const kind = f.phone_kind.value;
  const phone = kind === '' ? null : kind === 'static' ? { kind, contact: f.contact.value.trim() } : { kind };
  return {
    login: f.login.value.trim(), full_name: f.full_name.value.trim(), role: f.role.value,
    password: f.password.value, queues, permissions, phone,
  };
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const byQueue = (list) => [...list].sort((a, b) => a.queue.localeCompare(b.queue));

async function saveUser(ev) {
  ev.preventDefault();
  const form = userFromForm();
  try {
    if (page.userEdit) {
      const u = page.users.find((x) => x.login === page.userEdit);
      const patch = {};
      if (form.full_name !== u.full_name) patch.full_name = form.full_name;
      if (form.role !== u.role) patch.role = form.role;
      if (form.password) patch.password = form.password;
      if (!same(byQueue(form.queues), byQueue(u.queues))) patch.queues = form.queues;
      if (!same(byQueue(form.permissions), byQueue(u.permissions))) patch.permissions = form.permissions;
      const current = u.phone ? (u.phone.kind === 'static' ? { kind: 'static', contact: u.phone.contact } : { kind: 'registering' }) : null;
      if (!same(form.phone, current)) patch.phone = form.phone;
      if (Object.keys(patch).length === 0) { say(() => t('nothing_changed')); closeUser(); return; }
      await api('PATCH', path('users', u.login), patch);
      say(() => t(patch.password ? 'user_saved_password' : 'user_saved', { login: u.login }));
    } else {
      const body = { ...form };
      if (!body.phone) delete body.phone;
      try {
        const created = await api('POST', '/api/v1/users', body);
        say(() => t('user_created', { login: created.login }));
      } catch (e) {
        // The account may exist with the rest refused ("created, but: …"): the form then
        // edits it, so that Save completes it instead of failing on a duplicate login.
        await load();
        if (!page.users.some((u) => u.login === form.login)) throw e;
        editCreated(form.login);
        say(() => `${failure(e)} ${t('complete_user', { login: form.login })}`, true);
        return;
      }
    }
    closeUser();
    await load();
  } catch (e) { say(() => failure(e), true); }
}

/** Turns the new-user form into the editing of `login`, keeping what was typed. */
function editCreated(login) {
  const f = $('user-form');
  page.userEdit = login;
  f.login.readOnly = true;
  f.password.value = '';
  f.password.required = false;
  $('password-label').dataset.i18n = 'new_password';
  drawTitles();
}

async function toggleActive(u) {
  try {
    if (u.active) {
      if (!window.confirm(t('confirm_disable', { login: u.login }))) return;
      await api('DELETE', path('users', u.login));
      say(() => t('user_disabled', { login: u.login }));
    } else {
      await api('PATCH', path('users', u.login), { active: true });
      say(() => t('user_enabled', { login: u.login }));
    }
    await load();
  } catch (e) { say(() => failure(e), true); }
}

/** A random web password the admin can read and pass on (the user changes it later). */
function generatePassword() {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const f = $('user-form');
  f.password.value = [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
  f.password.type = 'text';
  f.password.focus();
}

// ---------------------------------------------------------------------------------------
// Phone secrets: shown once, in the DOM only, wiped when the panel closes.

function openSecret(login) {
  closeSecret();
  page.secretFor = login;
  $('secret-panel').hidden = false;
  drawTitles();
  $('secret-form').secret.focus();
}

function closeSecret() {
  $('secret-value').textContent = '';
  $('secret-form').reset();
  $('secret-form').hidden = false;
  $('secret-shown').hidden = true;
  $('secret-panel').hidden = true;
  page.secretFor = null;
}

async function setSecret(ev) {
  ev.preventDefault();
  const login = page.secretFor;
  const input = $('secret-form').secret;
  const chosen = input.value;
  input.value = '';
  try {
    const r = await api('POST', `${path('users', login)}/phone/secret`, chosen ? { secret: chosen } : undefined);
    $('secret-value').textContent = r.secret;
    $('secret-form').hidden = true;
    $('secret-shown').hidden = false;
    say(() => t('secret_set', { login }));
    $('secret-copy').focus();
    await load();
  } catch (e) { say(() => failure(e), true); }
}

async function copySecret() {
  const value = $('secret-value').textContent;
  try {
    await navigator.clipboard.writeText(value);
    say(() => t('copied'));
  } catch (_) {
    // No clipboard (an insecure origin, a refusal): select it for the operator to copy.
    const range = document.createRange();
    range.selectNodeContents($('secret-value'));
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
}

// ---------------------------------------------------------------------------------------

async function main() {
  try { page.me = await whoami(); } catch (_) { return; }
  setupChrome(page.me);
  window.addEventListener('langchange', () => {
    draw();
    if (page.said) notify(page.said.text(), page.said.isError);
  });
  $('new-queue').addEventListener('click', () => openQueue(null));
  $('queue-form').addEventListener('submit', saveQueue);
  $('queue-cancel').addEventListener('click', closeQueue);
  $('new-user').addEventListener('click', () => openUser(null));
  $('user-form').addEventListener('submit', saveUser);
  $('user-cancel').addEventListener('click', closeUser);
  $('user-form').phone_kind.addEventListener('change', showContact);
  $('add-membership').addEventListener('click', () => $('user-queues').append(membershipRow()));
  $('add-permission').addEventListener('click', () => $('user-permissions').append(permissionRow()));
  $('password-generate').addEventListener('click', generatePassword);
  $('secret-form').addEventListener('submit', setSecret);
  $('secret-close').addEventListener('click', closeSecret);
  // Escape closes what is open (and wipes a secret on show).
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape') return;
    if (!$('secret-panel').hidden) closeSecret();
    else if (!$('user-form').hidden) closeUser();
    else if (!$('queue-form').hidden) closeQueue();
  });
  $('secret-copy').addEventListener('click', copySecret);
  $('refresh').addEventListener('click', async () => { await load(); say(() => t('done')); });
  await load();
  // The e-mail desk's templates and outbox (mail_admin.js).
  await setupMailAdmin();
  document.body.dataset.ready = 'true';
}

main();

// Announcements (R-IVR-6): list, listen, upload/replace, delete, back up and restore the
// prompts and greetings. The API decides who may change what (admins) and what is in use.
import { t } from './i18n.js';
import { api, whoami, setupChrome, notify, failure, h, ApiError } from './common.js';

const page = { me: null, prompts: [] };

/** Sends raw bytes (a WAV or a tar) with the session's CSRF token. */
async function send(method, path, file, type) {
  const csrf = sessionStorage.getItem('centralino.csrf');
  const r = await fetch(path, {
    method, credentials: 'same-origin', body: file,
    headers: { 'Content-Type': type, Accept: 'application/json', ...(csrf ? { 'X-CSRF-Token': csrf } : {}) },
  });
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new ApiError(r.status, (data && (data.detail || data.title)) || r.statusText);
  return data;
}

const isAdmin = () => page.me && page.me.roles.includes('admin');

function draw() {
  const rows = page.prompts.map((p) => {
    const path = `/api/v1/prompts/${p.language}/${p.name}`;
    const file = h('input', { type: 'file', accept: '.wav,audio/wav', 'aria-label': `${t('replace')} ${p.name}` });
    const replace = h('button', { type: 'button', disabled: !isAdmin(), onclick: () => upload(p.language, p.name, file) }, t('upload'));
    const deletable = p.source === 'uploaded';
    const del = h('button', { type: 'button', disabled: !isAdmin() || !deletable, onclick: () => remove(p) },
      p.shipped ? t('revert') : t('delete'));
    return h('tr', { dataset: { prompt: `${p.language}/${p.name}` } },
      h('td', {}, p.language), h('td', {}, p.name),
      h('td', {}, p.duration_s == null ? '—' : `${p.duration_s.toFixed(1)} s`),
      h('td', { class: 'source' }, t(`source_${p.source}`)),
      h('td', {}, p.in_use_by.join(', ') || '—'),
      h('td', {}, h('audio', { controls: true, preload: 'none', src: path })),
      h('td', {}, file, replace),
      h('td', {}, del));
  });
  document.querySelector('#prompts tbody').replaceChildren(...rows);
  const langs = [...new Set(page.prompts.map((p) => p.language))];
  document.getElementById('new-lang').replaceChildren(...langs.map((l) => h('option', { value: l }, l)));
}

async function load() {
  try {
    page.prompts = (await api('GET', '/api/v1/prompts')).prompts;
    draw();
  } catch (e) { notify(failure(e), true); }
}

async function upload(lang, name, input) {
  const file = input.files && input.files[0];
  if (!file) { notify(t('choose_file'), true); return; }
  try {
    await send('PUT', `/api/v1/prompts/${lang}/${name}`, file, 'audio/wav');
    notify(t('prompt_saved', { name: `${lang}/${name}` }));
    await load();
  } catch (e) { notify(failure(e), true); }
}

async function remove(p) {
  if (!window.confirm(t(p.shipped ? 'confirm_revert' : 'confirm_delete', { name: `${p.language}/${p.name}` }))) return;
  try {
    await api('DELETE', `/api/v1/prompts/${p.language}/${p.name}`);
    notify(t('prompt_deleted', { name: `${p.language}/${p.name}` }));
    await load();
  } catch (e) { notify(failure(e), true); }
}

async function main() {
  try { page.me = await whoami(); } catch (_) { return; }
  setupChrome(page.me);
  window.addEventListener('langchange', draw);
  document.getElementById('backup').addEventListener('click', () => { window.location.assign('/api/v1/prompts/backup'); });
  document.getElementById('backup').disabled = !isAdmin();
  const restore = document.getElementById('restore');
  restore.disabled = !isAdmin();
  restore.addEventListener('change', async () => {
    const file = restore.files && restore.files[0];
    if (!file) return;
    try {
      const r = await send('POST', '/api/v1/prompts/restore', file, 'application/x-tar');
      notify(t('restored', { n: r.restored }));
      await load();
    } catch (e) { notify(failure(e), true); }
    restore.value = '';
  });
  document.getElementById('new-upload').disabled = !isAdmin();
  document.getElementById('new-upload').addEventListener('click', () => {
    const name = document.getElementById('new-name').value.trim();
    upload(document.getElementById('new-lang').value, name, document.getElementById('new-file'));
  });
  await load();
  document.body.dataset.ready = 'true';
}

main();

// What every console page shares: the API client (session cookie + X-CSRF-Token), the
// event stream with reconnection, the language picker and small DOM helpers.
import { t, setLang, currentLang, applyI18n, LANGUAGES } from './i18n.js';

let csrf = sessionStorage.getItem('centralino.csrf');

/** An API error with the problem's status and detail. */
export class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

/** Calls the API; JSON in and out. State-changing calls carry the CSRF token. */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!['GET', 'HEAD'].includes(method) && csrf) headers['X-CSRF-Token'] = csrf;
  const r = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 401 && !path.endsWith('/session')) {
    window.location.assign('/?next=' + encodeURIComponent(window.location.pathname));
    throw new ApiError(401, 'session expired');
  }
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new ApiError(r.status, (data && (data.detail || data.title)) || r.statusText);
  return data;
}

/** Logs in; remembers the CSRF token for this tab. */
export async function login(loginName, password) {
  const s = await api('POST', '/api/v1/session', { login: loginName, password });
  csrf = s.csrf_token;
  sessionStorage.setItem('centralino.csrf', csrf);
  return s;
}

/** Who is logged in (and the session's CSRF token, for a reloaded page). */
export async function whoami() {
  const s = await api('GET', '/api/v1/session');
  if (s.csrf_token) {
    csrf = s.csrf_token;
    sessionStorage.setItem('centralino.csrf', csrf);
  }
  return s.user;
}

const signOutHooks = [];

/** Work to finish before the session ends (the browser phone unregisters), each given at
 * most 2 s. */
export function beforeSignOut(fn) { signOutHooks.push(fn); }

/** Ends the session and returns to the login page. */
export async function logout() {
  const bounded = (fn) => Promise.race([
    Promise.resolve().then(fn).catch(() => {}),
    new Promise((resolve) => { setTimeout(resolve, 2000); }),
  ]);
  await Promise.all(signOutHooks.map(bounded));
  try { await api('DELETE', '/api/v1/session'); } catch (_) { /* already gone */ }
  sessionStorage.removeItem('centralino.csrf');
  window.location.assign('/');
}

/**
 * Opens /api/v1/events (the cookie authenticates it) and hands every message to `onEvent`;
 * reconnects with backoff, `onStatus(true|false)` on each change. A snapshot arrives first
 * on every connection. Closed with 4401 (session ended): back to the login page.
 */
export function connectEvents(onEvent, onStatus) {
  let delay = 500;
  // The status line is text in the operator's language: said again when it changes.
  let live = false;
  const status = (on) => { live = on; onStatus(on); };
  window.addEventListener('langchange', () => onStatus(live));
  const open = () => {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${window.location.host}/api/v1/events`);
    ws.onopen = () => { delay = 500; status(true); };
    ws.onmessage = (m) => {
      try { onEvent(JSON.parse(m.data)); } catch (e) { console.error('event', e); }
    };
    ws.onclose = (c) => {
      status(false);
      if (c.code === 4401) { window.location.assign('/'); return; }
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  open();
}

/** Builds an element: h('td', {class: 'x'}, 'text', child…). */
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

/** "1:05", "1:02:03" for a number of seconds. */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

/** A date-time in the operator's language. */
export function when(iso) {
  return iso ? new Date(iso).toLocaleString(currentLang() === 'it' ? 'it-IT' : 'en-GB') : '';
}

/** Shows a short message in the page's status line (role=status, read by screen readers). */
export function notify(text, isError = false) {
  const s = document.getElementById('status');
  if (!s) return;
  s.textContent = text;
  s.classList.toggle('error', isError);
}

/** The message to show for a failed call. */
export function failure(e) {
  return e instanceof ApiError && e.status === 403 ? `${t('forbidden')} ${e.message}` : `${t('error')}: ${e.message}`;
}

/** Fills the header: user, language picker, admin links, sign-out; translates the page. */
export function setupChrome(user) {
  applyI18n();
  const who = document.getElementById('who');
  // Roles are shown in the operator's language, never as the API's identifiers.
  const drawWho = () => {
    if (who && user) who.textContent = `${user.full_name || user.login} (${user.roles.map((r) => t(`role_${r}`)).join(', ')})`;
  };
  drawWho();
  window.addEventListener('langchange', drawWho);
  const picker = document.getElementById('lang');
  if (picker) {
    picker.replaceChildren(...LANGUAGES.map((l) => h('option', { value: l, selected: l === currentLang() }, l.toUpperCase())));
    picker.addEventListener('change', () => setLang(picker.value));
  }
  // The people-and-queues page is for admins only (the server refuses it to anyone else).
  const site = document.getElementById('site-link');
  if (site && user) site.hidden = !user.roles.includes('admin');
  const out = document.getElementById('sign-out');
  if (out) out.addEventListener('click', logout);
}

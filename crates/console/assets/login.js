import { t, applyI18n, setLang, currentLang, LANGUAGES } from './i18n.js';
import { login, whoami, h } from './common.js';

/** Where to go after login: the `next` page if it is one of ours, else by role. */
function target(user) {
  const next = new URLSearchParams(window.location.search).get('next');
  // Only a path of ours: lowercase words under `/` (never `//host`, which leaves the site).
  if (next && /^\/([a-z]+(\/[a-z]+)*)?$/.test(next)) return next;
  return user.roles.some((r) => r === 'supervisor' || r === 'admin') ? '/supervisor' : '/desktop';
}

async function main() {
  applyI18n();
  const picker = document.getElementById('lang');
  picker.replaceChildren(...LANGUAGES.map((l) => h('option', { value: l, selected: l === currentLang() }, l.toUpperCase())));
  picker.addEventListener('change', () => setLang(picker.value));
  try {
    const user = await whoami();
    window.location.replace(target(user));
    return;
  } catch (_) { /* not logged in */ }
  const form = document.getElementById('login-form');
  const error = document.getElementById('login-error');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const s = await login(form.login.value.trim(), form.password.value);
      window.location.assign(target(s.user));
    } catch (e) {
      // 429: too many failures for this login or from here; 503: the directory (or the
      // password checks) cannot answer now. The problem's detail says more in English.
      const messages = { 401: 'bad_credentials', 429: 'too_many_logins', 503: 'signin_unavailable' };
      error.textContent = messages[e.status] ? t(messages[e.status]) : `${t('error')}: ${e.message}`;
      form.password.value = '';
      form.password.focus();
    }
  });
  form.login.focus();
}

main();

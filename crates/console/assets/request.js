// The citizen's web form (issue 16): no login. Posts multipart to /api/v1/public/requests,
// shows the request number, ties each error the server names to its field.
import { currentLang, setLang, LANGUAGES } from './i18n.js';

// The page's own strings (the operators' ones stay in i18n.js).
const STRINGS = {
  it: {
    title: 'Richiesta di assistenza', intro: 'Scriveteci: riceverete il numero della vostra richiesta.',
    required_hint: 'I campi con * sono obbligatori.', name: 'Nome e cognome', email: 'E-mail',
    email_hint: 'Vi risponderemo a questo indirizzo.', subject: 'Oggetto', body: 'Testo della richiesta',
    attachment: 'Allegato (facoltativo)', attachment_hint: 'PDF, PNG, JPEG o testo, al massimo 5 MB.',
    send: 'Invia la richiesta', sending: 'Invio in corso…', done_title: 'Richiesta ricevuta',
    done_number: 'Il numero della vostra richiesta è', done_keep: 'Conservatelo: vi servirà per ogni comunicazione.',
    another: "Invia un'altra richiesta", language: 'Lingua', page_title: 'Richiesta di assistenza',
    err_required: 'Campo obbligatorio.', err_too_long: 'Testo troppo lungo ({detail}).',
    err_email: "Indirizzo non valido: scrivetelo come nome@esempio.it.", err_controls: 'Caratteri non ammessi.',
    err_attachment: 'Allegato non accettato ({detail}).', err_too_large: "L'allegato o il testo è troppo grande.",
    err_fields: 'Correggete i campi segnalati.', err_rate: 'Troppe richieste da questo indirizzo: riprovate tra {min} minuti.',
    err_other: 'La richiesta non è stata inviata ({detail}). Riprovate più tardi.',
  },
  en: {
    title: 'Request for assistance', intro: 'Write to us: you will get the number of your request.',
    required_hint: 'Fields marked * are required.', name: 'Full name', email: 'E-mail',
    email_hint: 'We will answer at this address.', subject: 'Subject', body: 'Your request',
    attachment: 'Attachment (optional)', attachment_hint: 'PDF, PNG, JPEG or text, at most 5 MB.',
    send: 'Send the request', sending: 'Sending…', done_title: 'Request received',
    done_number: 'The number of your request is', done_keep: 'Keep it: you will need it whenever you contact us.',
    another: 'Send another request', language: 'Language', page_title: 'Request for assistance',
    err_required: 'Required.', err_too_long: 'Too long ({detail}).',
    err_email: 'Not a valid address: write it as name@example.org.', err_controls: 'Characters not allowed.',
    err_attachment: 'Attachment not accepted ({detail}).', err_too_large: 'The attachment or the text is too large.',
    err_fields: 'Please correct the fields marked.', err_rate: 'Too many requests from this address: try again in {min} minutes.',
    err_other: 'The request was not sent ({detail}). Please try again later.',
  },
};

const FIELDS = ['name', 'email', 'subject', 'body', 'attachment'];

function t(key, params = {}) {
  const s = STRINGS[currentLang()]?.[key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(params[k] ?? ''));
}

function translate() {
  document.documentElement.lang = currentLang();
  document.title = `${t('page_title')} · centralino`;
  document.querySelectorAll('[data-r]').forEach((e) => { e.textContent = t(e.dataset.r); });
}

/** The message for a field from the server's English reason. */
function message(field, reason) {
  if (reason === 'required') return t('err_required');
  if (field === 'attachment') return reason.startsWith('at most') ? t('err_too_large') : t('err_attachment', { detail: reason });
  if (reason.startsWith('at most')) return t('err_too_long', { detail: reason.replace('at most', '≤').replace('characters', '') });
  if (field === 'email') return t('err_email');
  return t('err_controls');
}

function clearErrors(form) {
  document.getElementById('form-error').textContent = '';
  for (const f of FIELDS) {
    form.elements[f].removeAttribute('aria-invalid');
    document.getElementById(`${f}-error`).textContent = '';
  }
}

/** Marks each named field, says so at the top, and moves focus to the first. */
function showFieldErrors(form, fields) {
  let first = null;
  for (const f of FIELDS) {
    if (!fields[f]) continue;
    form.elements[f].setAttribute('aria-invalid', 'true');
    document.getElementById(`${f}-error`).textContent = message(f, fields[f]);
    first ??= form.elements[f];
  }
  document.getElementById('form-error').textContent = t('err_fields');
  (first ?? document.getElementById('form-error')).focus();
}

/** What the browser can tell before sending (the server checks everything again). */
function localErrors(form) {
  const fields = {};
  for (const f of ['name', 'email', 'subject', 'body']) {
    const input = form.elements[f];
    if (!input.value.trim()) fields[f] = 'required';
    else if (f === 'email' && input.validity.typeMismatch) fields[f] = 'address';
  }
  return fields;
}

function main() {
  translate();
  const picker = document.getElementById('lang');
  picker.replaceChildren(...LANGUAGES.map((l) => {
    const o = document.createElement('option');
    o.value = l; o.textContent = l === 'it' ? 'Italiano' : 'English'; o.selected = l === currentLang();
    return o;
  }));
  picker.addEventListener('change', () => { setLang(picker.value); translate(); });
  const form = document.getElementById('request-form');
  const send = document.getElementById('send');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const local = localErrors(form);
    if (Object.keys(local).length) { showFieldErrors(form, local); return; }
    send.disabled = true;
    send.textContent = t('sending');
    try {
      const r = await fetch('/api/v1/public/requests', { method: 'POST', body: new FormData(form), credentials: 'omit' });
      const answer = await r.json().catch(() => ({}));
      if (r.status === 201) {
        form.hidden = true;
        document.getElementById('number').textContent = answer.number;
        document.getElementById('done').hidden = false;
        document.getElementById('done-title').focus();
        return;
      }
      const top = document.getElementById('form-error');
      if (answer.fields) showFieldErrors(form, answer.fields);
      else if (r.status === 413) { top.textContent = t('err_too_large'); top.focus(); }
      else if (r.status === 429) {
        const min = Math.max(1, Math.ceil(Number(r.headers.get('Retry-After') || 60) / 60));
        top.textContent = t('err_rate', { min }); top.focus();
      } else { top.textContent = t('err_other', { detail: answer.detail || r.status }); top.focus(); }
    } catch (e) {
      const top = document.getElementById('form-error');
      top.textContent = t('err_other', { detail: e.message }); top.focus();
    } finally {
      send.disabled = false;
      send.textContent = t('send');
    }
  });
  form.elements.name.focus();
}

main();

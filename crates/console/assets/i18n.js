// Italian and English strings of the consoles. The language is the operator's choice
// (remembered in localStorage) or else the browser's; everything else falls back to English.

const STRINGS = {
  en: {
    app: 'centralino', login_title: 'Sign in', login: 'Login', password: 'Password',
    sign_in: 'Sign in', sign_out: 'Sign out', bad_credentials: 'Wrong login or password.',
    desktop: 'Agent desktop', supervisor: 'Supervisor console', language: 'Language',
    state: 'State', ready: 'Ready', not_ready: 'Not ready', logged_out: 'Logged out',
    ringing: 'Ringing', talking: 'Talking', wrap_up: 'Wrap-up', reason: 'Reason',
    reason_break: 'Break', reason_training: 'Training', reason_backoffice: 'Back office',
    reason_meeting: 'Meeting', agent_logout: 'Log out of queues',
    phone: 'Phone', registered: 'registered', not_registered: 'not registered',
    wrap_up_left: 'wrap-up: {s} s left', since: 'for {t}',
    offered: 'Incoming call', channel: 'Channel', waited: 'Waited', caller: 'Caller',
    unknown_caller: 'Unknown caller', identified_by: 'Identified by', id_pin: 'PIN',
    id_ani: 'caller number', id_none: 'not identified', ivr_path: 'IVR path', area: 'Area',
    j_closed: 'Closed', j_menu: 'Menu: {digit}', j_retry_invalid: 'wrong key',
    j_retry_none: 'no key pressed', j_pin_ok: 'PIN correct', j_ani_ok: 'caller number recognised',
    j_pin_wrong: 'PIN not recognised', j_ani_unknown: 'caller number unknown',
    j_queued: 'queued in {queue}', j_transferred: 'transferred to {queue}',
    j_voicemail: 'voicemail {mailbox}',
    voicemail_list: 'Voicemail',
    listened_by: 'Heard by {who}',
    no_audio: 'no recording',
    queue: 'Queue', sr_type: 'Request type', close: 'Close', connected: 'Connected',
    call_ended: 'Call ended',
    my_locked: 'My locked', my_queues: 'My queues', reminders: 'Reminders due',
    announcements: 'Announcements', prompts_help: 'Upload a WAV file of any rate: it is converted for the telephone and new calls hear it at once.',
    backup: 'Download a backup', restore: 'Restore a backup', new_prompt: 'New prompt', upload: 'Upload',
    name: 'Name', length: 'Length', source: 'Source', in_use_by: 'In use by',
    listen: 'Listen', replace: 'Replace', delete: 'Delete', revert: 'Back to the shipped one',
    source_uploaded: 'uploaded', source_shipped: 'shipped', choose_file: 'Choose a WAV file first.',
    prompt_saved: 'Prompt {name} saved: new calls hear it.', prompt_deleted: 'Prompt {name} deleted.',
    confirm_delete: 'Delete {name}?', confirm_revert: 'Remove the uploaded {name} and go back to the shipped one?',
    restored: '{n} prompts restored.',
    due_list: 'Due / overdue', due: 'Due', due_at: 'due {time}', overdue_since: 'overdue since {time}',
    overdue_count: '{n} overdue', clock_first_response: 'taking in charge', clock_update: 'update',
    clock_solution: 'resolution', escalation_due_soon: 'Request {number}: {clock} due {time}',
    escalation_overdue: 'Request {number}: {clock} overdue since {time}',
    search: 'Search', new_ticket: 'New ticket', number: 'Number', text: 'Text',
    any: 'any', find: 'Find', no_results: 'Nothing found.', title: 'Title',
    priority: 'Priority', type: 'Type', owner: 'Owner', created: 'Created',
    customer: 'Customer', customer_id: 'Customer id', previous_requests: 'Previous requests',
    open_requests: 'Open requests', phones: 'Phones', email: 'E-mail',
    note: 'Note', internal_note: 'Internal note', visible_note: 'Visible to the customer',
    phone_received: 'Phone call received', phone_made: 'Phone call made', subject: 'Subject',
    body: 'Text', add: 'Add', save: 'Save', articles: 'Articles', history: 'History',
    set_pending: 'Pending reminder', pending_until: 'Remind on', close_success: 'Close: successful',
    close_fail: 'Close: unsuccessful', lock: 'Lock', release: 'Release', assign_to: 'Assign to',
    move_to: 'Move to queue', move_note_first: 'Leave a note explaining the move first.',
    link_parent: 'Link to parent', parent_number: 'Parent ticket number',
    second_level: 'Transfer to second level', second_level_note: 'Note for the second level',
    done: 'Done.', error: 'Error', forbidden: 'Not allowed.', created_ok: 'Ticket {n} created.',
    queues: 'Queues', agents: 'Agents', waiting: 'Waiting', oldest: 'Oldest wait',
    load: 'Load', answered: 'Answered', abandoned: 'Abandoned', service_level: 'Service level',
    logged_in: 'Logged in', available: 'Available', current_call: 'Current call',
    time_in_state: 'Time in state', set_not_ready: 'Set not ready', calls_per_hour: 'Calls per hour (today)',
    live: 'live', offline: 'reconnecting…', state_new: 'new', state_open: 'open',
    state_pending_reminder: 'pending reminder', state_closed_successful: 'closed (successful)',
    state_closed_unsuccessful: 'closed (unsuccessful)', state_merged: 'merged',
    forbidden_page: 'You may not open this page.', back: 'Back to the desktop',
    supervisor_reason: 'set by supervisor', refresh: 'Refresh',
    role_agent_first_level: 'first level', role_agent_second_level: 'second level',
    role_supervisor: 'supervisor', role_admin: 'administrator',
    site_admin: 'People and queues', site_help: 'Every change applies at once to calls, phones and sign-ins, without a restart.',
    users: 'Users', new_queue: 'New queue', new_user: 'New user', edit: 'Edit', cancel: 'Cancel', remove: 'Remove',
    edit_queue: 'Queue {name}', edit_user: 'User {login}', level: 'Level', level_first: 'first', level_second: 'second',
    second_level_queue: 'Second-level queue', takes_calls: 'Takes calls', weight: 'Weight', yes: 'yes', no: 'no',
    announce_every: 'Announce the position every (s; empty: hold music only)',
    max_wait: 'Longest wait before the overflow (s; empty: none)', overflow: 'Overflow',
    overflow_to: 'Overflow to (a queue or voicemail:box)', expected_wait: 'Expected wait per position (s)',
    service_level_target: 'Service level: answered within (s)', transfers_at_head: 'Transferred calls go to the head',
    members: 'Members', hold_music_only: 'hold music only', every_s: 'every {s} s', within_s: 'within {s} s',
    overflow_after: 'after {s} s → {to}', max_wait_only: 'longest wait {s} s',
    full_name: 'Full name', role: 'Role', active: 'Active', permissions: 'Ticket permissions', access: 'Access',
    access_read: 'read', access_write: 'write', queues_weights: 'Queues served (weight 1-100)',
    add_queue: 'Add a queue', add_permission: 'Add a permission', web_password: 'Web password (at least 8 characters)',
    new_password: 'New web password (empty: unchanged)', generate_password: 'Generate a password',
    phone_kind: 'Kind', phone_none: 'none', phone_registering: 'registering', phone_static: 'static',
    contact: 'Contact (SIP URI with an IP address)', phone_secret: 'Phone secret', secret_yes: 'set', secret_no: 'not set',
    disable: 'Disable', enable: 'Enable', secret_for: 'Phone secret of {login}', secret_input: 'Secret (empty: generate one)',
    set_secret: 'Set the secret', copy: 'Copy', copied: 'Copied.',
    secret_once: 'Shown once: copy it now and enter it in the phone. It cannot be shown again.',
    queue_created: 'Queue {name} created: it takes calls at once.', queue_saved: 'Queue {name} saved: applied at once.',
    queue_deleted: 'Queue {name} deleted.', confirm_delete_queue: 'Delete queue {name}?',
    queue_in_use: 'Queue {name} cannot be deleted: {reason}',
    user_created: 'User {login} created.', user_saved: 'User {login} saved.',
    user_saved_password: 'User {login} saved with a new web password: their sessions have ended.',
    user_disabled: 'User {login} disabled: no sign-in, no calls.', user_enabled: 'User {login} enabled.',
    confirm_disable: 'Disable {login}? They can no longer sign in or take calls.',
    secret_set: 'Phone secret of {login} set: the phone registers with it.', nothing_changed: 'Nothing changed.',
    complete_user: '→ {login} exists: correct the form and save again.',
  },
  it: {
    app: 'centralino', login_title: 'Accesso', login: 'Utente', password: 'Password',
    sign_in: 'Entra', sign_out: 'Esci', bad_credentials: 'Utente o password errati.',
    desktop: 'Postazione operatore', supervisor: 'Console supervisore', language: 'Lingua',
    state: 'Stato', ready: 'Disponibile', not_ready: 'Non disponibile', logged_out: 'Disconnesso',
    ringing: 'Squilla', talking: 'In conversazione', wrap_up: 'Post-chiamata', reason: 'Motivo',
    reason_break: 'Pausa', reason_training: 'Formazione', reason_backoffice: 'Back office',
    reason_meeting: 'Riunione', agent_logout: 'Esci dalle code',
    phone: 'Telefono', registered: 'registrato', not_registered: 'non registrato',
    wrap_up_left: 'post-chiamata: ancora {s} s', since: 'da {t}',
    offered: 'Chiamata in arrivo', channel: 'Canale', waited: 'Attesa', caller: 'Chiamante',
    unknown_caller: 'Chiamante sconosciuto', identified_by: 'Identificato con', id_pin: 'PIN',
    id_ani: 'numero chiamante', id_none: 'non identificato', ivr_path: 'Percorso IVR', area: 'Area',
    j_closed: 'Chiuso', j_menu: 'Menu: {digit}', j_retry_invalid: 'tasto non valido',
    j_retry_none: 'nessun tasto', j_pin_ok: 'PIN corretto', j_ani_ok: 'numero chiamante riconosciuto',
    j_pin_wrong: 'PIN non riconosciuto', j_ani_unknown: 'numero chiamante sconosciuto',
    j_queued: 'in coda {queue}', j_transferred: 'trasferita a {queue}',
    j_voicemail: 'segreteria {mailbox}',
    voicemail_list: 'Segreteria',
    listened_by: 'Ascoltato da {who}',
    no_audio: 'nessuna registrazione',
    queue: 'Coda', sr_type: 'Tipo richiesta', close: 'Chiudi', connected: 'In linea',
    call_ended: 'Chiamata terminata',
    my_locked: 'Bloccati da me', my_queues: 'Le mie code', reminders: 'Promemoria scaduti',
    announcements: 'Annunci', prompts_help: 'Carica un file WAV di qualsiasi frequenza: viene convertito per il telefono e le nuove chiamate lo sentono subito.',
    backup: 'Scarica un backup', restore: 'Ripristina un backup', new_prompt: 'Nuovo annuncio', upload: 'Carica',
    name: 'Nome', length: 'Durata', source: 'Origine', in_use_by: 'Usato da',
    listen: 'Ascolta', replace: 'Sostituisci', delete: 'Elimina', revert: 'Torna a quello di serie',
    source_uploaded: 'caricato', source_shipped: 'di serie', choose_file: 'Scegli prima un file WAV.',
    prompt_saved: 'Annuncio {name} salvato: le nuove chiamate lo sentono.', prompt_deleted: 'Annuncio {name} eliminato.',
    confirm_delete: 'Eliminare {name}?', confirm_revert: 'Rimuovere {name} caricato e tornare a quello di serie?',
    restored: '{n} annunci ripristinati.',
    due_list: 'In scadenza / scaduti', due: 'Scadenza', due_at: 'scade {time}', overdue_since: 'scaduto dal {time}',
    overdue_count: '{n} scaduti', clock_first_response: 'presa in carico', clock_update: 'aggiornamento',
    clock_solution: 'risoluzione', escalation_due_soon: 'Richiesta {number}: {clock} in scadenza {time}',
    escalation_overdue: 'Richiesta {number}: {clock} scaduta dal {time}',
    search: 'Cerca', new_ticket: 'Nuovo ticket', number: 'Numero', text: 'Testo',
    any: 'tutti', find: 'Cerca', no_results: 'Nessun risultato.', title: 'Titolo',
    priority: 'Priorità', type: 'Tipo', owner: 'Proprietario', created: 'Creato',
    customer: 'Cliente', customer_id: 'Id cliente', previous_requests: 'Richieste precedenti',
    open_requests: 'Richieste aperte', phones: 'Telefoni', email: 'E-mail',
    note: 'Nota', internal_note: 'Nota interna', visible_note: 'Visibile al cliente',
    phone_received: 'Telefonata ricevuta', phone_made: 'Telefonata effettuata', subject: 'Oggetto',
    body: 'Testo', add: 'Aggiungi', save: 'Salva', articles: 'Articoli', history: 'Storico',
    set_pending: 'In attesa promemoria', pending_until: 'Ricorda il', close_success: 'Chiudi: risolto',
    close_fail: 'Chiudi: non risolto', lock: 'Blocca', release: 'Rilascia', assign_to: 'Assegna a',
    move_to: 'Sposta in coda', move_note_first: 'Prima lascia una nota che spieghi lo spostamento.',
    link_parent: 'Collega al padre', parent_number: 'Numero ticket padre',
    second_level: 'Passa al secondo livello', second_level_note: 'Nota per il secondo livello',
    done: 'Fatto.', error: 'Errore', forbidden: 'Non consentito.', created_ok: 'Ticket {n} creato.',
    queues: 'Code', agents: 'Operatori', waiting: 'In attesa', oldest: 'Attesa più lunga',
    load: 'Carico', answered: 'Risposte', abandoned: 'Abbandonate', service_level: 'Livello di servizio',
    logged_in: 'Collegati', available: 'Disponibili', current_call: 'Chiamata in corso',
    time_in_state: 'Tempo nello stato', set_not_ready: 'Metti non disponibile', calls_per_hour: 'Chiamate per ora (oggi)',
    live: 'in diretta', offline: 'riconnessione…', state_new: 'nuovo', state_open: 'aperto',
    state_pending_reminder: 'in attesa promemoria', state_closed_successful: 'chiuso (risolto)',
    state_closed_unsuccessful: 'chiuso (non risolto)', state_merged: 'unito',
    forbidden_page: 'Non puoi aprire questa pagina.', back: 'Torna alla postazione',
    supervisor_reason: 'impostato dal supervisore', refresh: 'Aggiorna',
    role_agent_first_level: 'primo livello', role_agent_second_level: 'secondo livello',
    role_supervisor: 'supervisore', role_admin: 'amministratore',
    site_admin: 'Persone e code', site_help: 'Ogni modifica vale subito per chiamate, telefoni e accessi, senza riavvio.',
    users: 'Utenti', new_queue: 'Nuova coda', new_user: 'Nuovo utente', edit: 'Modifica', cancel: 'Annulla', remove: 'Rimuovi',
    edit_queue: 'Coda {name}', edit_user: 'Utente {login}', level: 'Livello', level_first: 'primo', level_second: 'secondo',
    second_level_queue: 'Coda di secondo livello', takes_calls: 'Riceve chiamate', weight: 'Peso', yes: 'sì', no: 'no',
    announce_every: 'Annuncia la posizione ogni (s; vuoto: solo musica di attesa)',
    max_wait: 'Attesa massima prima del trabocco (s; vuoto: nessuna)', overflow: 'Trabocco',
    overflow_to: 'Trabocco verso (una coda o voicemail:casella)', expected_wait: 'Attesa stimata per posizione (s)',
    service_level_target: 'Livello di servizio: risposta entro (s)', transfers_at_head: 'Le chiamate trasferite vanno in testa',
    members: 'Membri', hold_music_only: 'solo musica di attesa', every_s: 'ogni {s} s', within_s: 'entro {s} s',
    overflow_after: 'dopo {s} s → {to}', max_wait_only: 'attesa massima {s} s',
    full_name: 'Nome e cognome', role: 'Ruolo', active: 'Attivo', permissions: 'Permessi sui ticket', access: 'Accesso',
    access_read: 'lettura', access_write: 'scrittura', queues_weights: 'Code servite (peso 1-100)',
    add_queue: 'Aggiungi una coda', add_permission: 'Aggiungi un permesso', web_password: 'Password web (almeno 8 caratteri)',
    new_password: 'Nuova password web (vuoto: invariata)', generate_password: 'Genera una password',
    phone_kind: 'Tipo', phone_none: 'nessuno', phone_registering: 'si registra', phone_static: 'fisso',
    contact: 'Contatto (URI SIP con indirizzo IP)', phone_secret: 'Segreto del telefono', secret_yes: 'impostato', secret_no: 'non impostato',
    disable: 'Disattiva', enable: 'Riattiva', secret_for: 'Segreto del telefono di {login}', secret_input: 'Segreto (vuoto: generato)',
    set_secret: 'Imposta il segreto', copy: 'Copia', copied: 'Copiato.',
    secret_once: 'Mostrato una sola volta: copialo ora e inseriscilo nel telefono. Non potrà essere mostrato di nuovo.',
    queue_created: 'Coda {name} creata: riceve chiamate da subito.', queue_saved: 'Coda {name} salvata: applicata subito.',
    queue_deleted: 'Coda {name} eliminata.', confirm_delete_queue: 'Eliminare la coda {name}?',
    queue_in_use: 'La coda {name} non può essere eliminata: {reason}',
    user_created: 'Utente {login} creato.', user_saved: 'Utente {login} salvato.',
    user_saved_password: 'Utente {login} salvato con una nuova password web: le sue sessioni sono terminate.',
    user_disabled: 'Utente {login} disattivato: niente accesso, niente chiamate.', user_enabled: 'Utente {login} riattivato.',
    confirm_disable: 'Disattivare {login}? Non potrà più accedere né ricevere chiamate.',
    secret_set: 'Segreto del telefono di {login} impostato: il telefono si registra con questo.', nothing_changed: 'Nessuna modifica.',
    complete_user: '→ {login} esiste: correggi il modulo e salva di nuovo.',
  },
};

export const LANGUAGES = ['it', 'en'];

function initial() {
  const saved = localStorage.getItem('centralino.lang');
  if (LANGUAGES.includes(saved)) return saved;
  const browser = (navigator.language || 'en').slice(0, 2).toLowerCase();
  return LANGUAGES.includes(browser) ? browser : 'en';
}

let lang = initial();

export function currentLang() { return lang; }

/** The string `key` in the current language, `{name}` replaced from `params`. */
export function t(key, params = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(params[k] ?? ''));
}

/** Fills every `data-i18n` element (text) and `data-i18n-label` (aria-label, placeholder). */
export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  root.querySelectorAll('[data-i18n]').forEach((e) => { e.textContent = t(e.dataset.i18n); });
  root.querySelectorAll('[data-i18n-placeholder]').forEach((e) => {
    e.placeholder = t(e.dataset.i18nPlaceholder);
  });
}

/** Switches language, remembers it, and tells listeners to redraw. */
export function setLang(l) {
  if (!LANGUAGES.includes(l)) return;
  lang = l;
  localStorage.setItem('centralino.lang', l);
  applyI18n();
  window.dispatchEvent(new CustomEvent('langchange'));
}

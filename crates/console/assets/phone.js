// The agent desktop's browser phone (issue 17): JsSIP registers the operator's phone over SIP
// over WebSocket (`/ws`, RFC 7118) with the digest HA1 the session gives (never a password),
// rings, answers into WebRTC audio, and drives hold and transfer through the API (the server
// does not renegotiate a browser's media with re-INVITEs). The screen pop and the phone are
// one flow: the pop (desktop.js, from the event stream) carries Answer and Decline and tells
// the phone the offered call's id.
import JsSIP from './vendor/jssip-3.13.8.min.js';
import { t } from './i18n.js';
import { api, notify, failure, ApiError, beforeSignOut } from './common.js';

const $ = (id) => document.getElementById(id);
const KEY = {
  auto: 'centralino.phone.autoAnswer', mic: 'centralino.phone.mic', speaker: 'centralino.phone.speaker',
};

/** The meters' smoothing and the analysers' size (2048 bins of 4096 at 48 kHz: ~12 Hz each). */
const FFT = 4096;

export class Phone {
  /**
   * `me`: the signed-in user; `hooks.onChange()` is called whenever the phone's state
   * changes (the desktop redraws #phone-state and the pop's buttons from `status()`).
   */
  constructor(me, hooks = {}) {
    this.me = me;
    this.hooks = hooks;
    this.config = null; // GET /api/v1/me/phone
    this.ua = null;
    this.session = null; // the one call, ringing or up
    this.callId = null; // our call id, from the screen pop's call.offered
    this.conn = 'off'; // off | connecting | connected | reconnecting | disconnected
    this.registered = false;
    this.wasRegistered = false;
    this.failed = null; // why the last registration failed
    this.answered = false;
    this.muted = false;
    this.held = false;
    this.stopped = false;
    this.audioCtx = null;
    this.ring = null;
    this.autoTimer = null;
    this.preview = null; // the microphone outside calls (level meter, device labels)
    this.meters = { mic: null, far: null }; // { analyser, source }
    this.freqBuf = null;
  }

  /** Whether this operator has a browser phone at all (after `start`). */
  get enabled() { return this.config !== null; }

  /** What the desktop shows in #phone-state: a key of i18n.js. */
  status() {
    if (!this.enabled) return 'phone_no_browser';
    if (this.registered) return 'registered';
    if (this.conn === 'connecting') return 'phone_connecting';
    if (this.conn === 'reconnecting' || (this.conn === 'disconnected' && !this.stopped)) return 'phone_reconnecting';
    return 'not_registered';
  }

  /** The test hooks' and the UI's view (window.centralinoPhone.state()). */
  state() {
    return {
      enabled: this.enabled,
      status: this.status(),
      registered: this.registered,
      ringing: Boolean(this.session && !this.answered),
      inCall: Boolean(this.session && this.answered),
      muted: this.muted,
      held: this.held,
      callId: this.callId,
    };
  }

  /** Fetches the credentials and registers; shows "no browser phone" on 404. */
  async start() {
    this.wire();
    try {
      this.config = await api('GET', '/api/v1/me/phone');
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) notify(failure(e), true);
      this.config = null;
      this.draw();
      return;
    }
    $('phone-controls').hidden = false;
    this.draw();
    await this.openPreview();
    await this.fillDevices();
    this.register();
  }

  register() {
    const c = this.config;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new JsSIP.WebSocketInterface(`${scheme}://${location.host}${c.ws_path}`);
    this.stopped = false;
    this.ua = new JsSIP.UA({
      sockets: [socket],
      uri: c.uri,
      authorization_user: c.login,
      ha1: c.ha1,
      realm: c.realm,
      display_name: c.display_name,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: 'centralino-desktop JsSIP/3.13.8',
      // Back within seconds after a network blip, never hammering a server that is down.
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30,
    });
    const ua = this.ua;
    ua.on('connecting', () => { this.conn = this.wasRegistered ? 'reconnecting' : 'connecting'; this.draw(); });
    ua.on('connected', () => { this.conn = 'connected'; this.draw(); });
    ua.on('disconnected', () => { this.conn = this.stopped ? 'off' : 'disconnected'; this.draw(); });
    ua.on('registered', () => {
      this.registered = true; this.wasRegistered = true; this.failed = null; this.draw();
    });
    ua.on('unregistered', () => { this.registered = false; this.draw(); });
    ua.on('registrationFailed', (e) => {
      this.registered = false;
      this.failed = e.cause;
      notify(`${t('phone')}: ${t('phone_failed')} (${e.cause})`, true);
      this.draw();
    });
    ua.on('newRTCSession', (e) => { if (e.originator === 'remote') this.incoming(e.session); });
    this.conn = 'connecting';
    ua.start();
    this.draw();
  }

  /** Sign-out: hangs up, unregisters and waits for the registrar's answer, then stops. */
  signOut() {
    const ua = this.ua;
    if (!ua) return Promise.resolve();
    if (this.session) this.session.terminate();
    const done = new Promise((resolve) => {
      if (!ua.isRegistered()) { resolve(); return; }
      ua.once('unregistered', resolve);
      ua.once('registrationFailed', resolve);
    });
    ua.unregister();
    return done.then(() => this.stop());
  }

  /** Unregisters and stops the user agent (sign-out, page hidden for good). */
  stop() {
    if (!this.ua) return;
    this.stopped = true;
    try {
      if (this.session) this.session.terminate();
      // stop() sends the REGISTER with Expires: 0 at once, then closes the WebSocket.
      this.ua.stop();
    } catch (_) { /* already stopped */ }
    this.ua = null;
    this.registered = false;
    this.conn = 'off';
    this.draw();
  }

  /** The screen pop offered this call to the agent: the phone's call id (hold, transfer). */
  offered(callId) {
    this.callId = callId;
    this.draw();
  }

  // --- calls --------------------------------------------------------------------------------

  incoming(session) {
    if (this.session) {
      // One call at a time: the ACD never offers two, but a stray INVITE gets Busy Here.
      session.terminate({ status_code: 486 });
      return;
    }
    this.session = session;
    this.answered = false;
    this.muted = false;
    this.held = false;
    session.on('peerconnection', (e) => this.watchPeer(e.peerconnection));
    session.on('accepted', () => { this.answered = true; this.stopRing(); this.attachLocal(); this.draw(); });
    session.on('confirmed', () => { this.answered = true; this.attachLocal(); this.draw(); });
    session.on('ended', () => this.ended());
    session.on('failed', () => this.ended());
    this.startRing();
    if ($('phone-auto-answer').checked) {
      this.autoTimer = setTimeout(() => this.answer(), 1000);
    }
    this.hooks.onIncoming?.();
    this.draw();
  }

  watchPeer(pc) {
    const far = (stream) => {
      const audio = $('phone-audio');
      audio.srcObject = stream;
      audio.muted = this.held;
      this.applySpeaker();
      audio.play().catch(() => { /* autoplay: the next click plays it */ });
      this.meter('far', stream);
    };
    pc.addEventListener('track', (e) => far(e.streams[0] || new MediaStream([e.track])));
  }

  answer() {
    clearTimeout(this.autoTimer);
    const s = this.session;
    if (!s || this.answered || !s.isInProgress()) return;
    this.resumeAudio();
    const mic = localStorage.getItem(KEY.mic);
    s.answer({
      mediaConstraints: { audio: mic ? { deviceId: { exact: mic } } : true, video: false },
      pcConfig: { iceServers: [] },
    });
    this.stopRing();
  }

  decline() {
    clearTimeout(this.autoTimer);
    if (this.session && !this.answered) this.session.terminate({ status_code: 486 });
  }

  hangUp() {
    if (this.session) this.session.terminate();
  }

  ended() {
    clearTimeout(this.autoTimer);
    this.stopRing();
    this.session = null;
    this.answered = false;
    this.muted = false;
    this.held = false;
    const audio = $('phone-audio');
    audio.srcObject = null;
    audio.muted = false;
    this.unmeter('far');
    // The meter goes back to the microphone outside the call.
    if (this.preview) this.meter('mic', this.preview);
    this.draw();
  }

  /** The microphone the call sends (for the meter and device changes). */
  sender() {
    const pc = this.session && this.session.connection;
    return pc ? pc.getSenders().find((s) => s.track && s.track.kind === 'audio') || null : null;
  }

  attachLocal() {
    const s = this.sender();
    if (s && s.track) this.meter('mic', new MediaStream([s.track]));
  }

  toggleMute() {
    if (!this.session || !this.answered) return;
    this.muted = !this.muted;
    if (this.muted) this.session.mute({ audio: true }); else if (!this.held) this.session.unmute({ audio: true });
    this.draw();
  }

  /** Hold by the server (the caller hears music); locally, microphone and speaker off. */
  async toggleHold() {
    if (!this.session || !this.answered) return;
    const held = !this.held;
    if (!this.callId) { notify(`${t('error')}: ${t('phone_no_call_id')}`, true); return; }
    try {
      await api('POST', `/api/v1/calls/${encodeURIComponent(this.callId)}/hold`, { held });
    } catch (e) { notify(failure(e), true); return; }
    this.held = held;
    if (held) this.session.mute({ audio: true }); else if (!this.muted) this.session.unmute({ audio: true });
    $('phone-audio').muted = held;
    this.draw();
  }

  async transfer() {
    const queue = $('phone-transfer-queue').value.trim();
    if (!this.callId || !queue) { notify(t('phone_transfer_choose'), true); return; }
    const note = $('phone-transfer-note').value.trim();
    try {
      await api('POST', `/api/v1/calls/${encodeURIComponent(this.callId)}/transfer`, note ? { queue, note } : { queue });
    } catch (e) { notify(failure(e), true); return; }
    notify(t('phone_transferred', { queue }));
    $('phone-transfer-note').value = '';
  }

  // --- ringing --------------------------------------------------------------------------------

  /** The WebAudio context of the ring tone and the meters; resumed at the first click. */
  context() {
    if (!this.audioCtx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      this.audioCtx = new Ctx();
    }
    return this.audioCtx;
  }

  resumeAudio() {
    const ctx = this.context();
    if (ctx && ctx.state === 'suspended') ctx.resume().catch(() => {});
  }

  /** A generated ring: 425 + 475 Hz, two 0.4 s bursts every 2.5 s, until answered or gone. */
  startRing() {
    const ctx = this.context();
    if (!ctx || this.ring) return;
    this.resumeAudio();
    const gain = ctx.createGain();
    gain.gain.value = 0;
    gain.connect(ctx.destination);
    const oscs = [425, 475].map((f) => {
      const o = ctx.createOscillator();
      o.frequency.value = f;
      o.connect(gain);
      o.start();
      return o;
    });
    const burst = () => {
      const now = ctx.currentTime;
      for (const [at, len] of [[0, 0.4], [0.6, 0.4]]) {
        gain.gain.setValueAtTime(0.15, now + at);
        gain.gain.setValueAtTime(0, now + at + len);
      }
    };
    burst();
    this.ring = { gain, oscs, timer: setInterval(burst, 2500) };
  }

  stopRing() {
    if (!this.ring) return;
    clearInterval(this.ring.timer);
    this.ring.oscs.forEach((o) => { try { o.stop(); } catch (_) { /* stopped */ } });
    this.ring.gain.disconnect();
    this.ring = null;
  }

  // --- devices and meters ---------------------------------------------------------------------

  /** Opens the chosen microphone outside calls: the level meter moves, devices get names. */
  async openPreview() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
    const mic = localStorage.getItem(KEY.mic);
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: mic ? { deviceId: { exact: mic } } : true, video: false,
      }).catch((e) => (mic && e.name === 'OverconstrainedError'
        ? navigator.mediaDevices.getUserMedia({ audio: true, video: false }) : Promise.reject(e)));
      if (this.preview) this.preview.getTracks().forEach((tr) => tr.stop());
      this.preview = stream;
      if (!this.answered) this.meter('mic', stream);
    } catch (e) {
      notify(`${t('phone_no_microphone')} (${e.name || e})`, true);
    }
  }

  async fillDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (select, kind, key) => {
      const list = devices.filter((d) => d.kind === kind);
      const saved = localStorage.getItem(key) || '';
      select.replaceChildren(...list.map((d, i) => {
        const o = document.createElement('option');
        o.value = d.deviceId;
        o.textContent = d.label || `${t(kind === 'audioinput' ? 'phone_mic' : 'phone_speaker')} ${i + 1}`;
        return o;
      }));
      if (list.some((d) => d.deviceId === saved)) select.value = saved;
      select.disabled = list.length === 0;
    };
    fill($('phone-mic'), 'audioinput', KEY.mic);
    fill($('phone-speaker'), 'audiooutput', KEY.speaker);
    // Choosing a speaker needs setSinkId (not everywhere): without it the system's default.
    if (!('setSinkId' in HTMLMediaElement.prototype)) $('phone-speaker').disabled = true;
  }

  /** A new microphone: remembered, and swapped into a call without renegotiation. */
  async chooseMic(id) {
    localStorage.setItem(KEY.mic, id);
    await this.openPreview();
    const s = this.sender();
    if (!s) return;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: { deviceId: { exact: id } }, video: false });
      const track = stream.getAudioTracks()[0];
      track.enabled = !(this.muted || this.held);
      const old = s.track;
      await s.replaceTrack(track);
      if (old) old.stop();
      this.meter('mic', stream);
    } catch (e) { notify(failure(e), true); }
  }

  chooseSpeaker(id) {
    localStorage.setItem(KEY.speaker, id);
    this.applySpeaker();
  }

  applySpeaker() {
    const id = localStorage.getItem(KEY.speaker);
    const audio = $('phone-audio');
    if (!id || typeof audio.setSinkId !== 'function') return;
    audio.setSinkId(id).catch((e) => notify(failure(e), true));
    const ctx = this.audioCtx;
    if (ctx && typeof ctx.setSinkId === 'function') ctx.setSinkId(id).catch(() => {});
  }

  meter(which, stream) {
    const ctx = this.context();
    if (!ctx) return;
    this.unmeter(which);
    const source = ctx.createMediaStreamSource(stream);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = FFT;
    analyser.smoothingTimeConstant = 0.2;
    source.connect(analyser);
    this.meters[which] = { source, analyser, samples: new Float32Array(analyser.fftSize) };
    this.resumeAudio();
  }

  unmeter(which) {
    const m = this.meters[which];
    if (!m) return;
    m.source.disconnect();
    this.meters[which] = null;
    const el = $(which === 'mic' ? 'phone-mic-level' : 'phone-far-level');
    el.value = 0;
  }

  /** RMS of the last analyser frame, 0..1 (a full-scale sine reads ~0.7). */
  level(which) {
    const m = this.meters[which];
    if (!m) return 0;
    m.analyser.getFloatTimeDomainData(m.samples);
    let sum = 0;
    for (const x of m.samples) sum += x * x;
    return Math.sqrt(sum / m.samples.length);
  }

  /** Draws both meters about 10 times a second (a meter is read, not watched). */
  drawMeters() {
    for (const [which, id] of [['mic', 'phone-mic-level'], ['far', 'phone-far-level']]) {
      // Muted or held, nothing goes out: the meter says so.
      const silent = which === 'mic' && this.answered && (this.muted || this.held);
      const v = silent ? 0 : Math.min(1, this.level(which) * 2);
      const el = $(id);
      el.value = Math.round(v * 100) / 100;
      el.setAttribute('aria-valuenow', String(el.value));
    }
  }

  /** The frequency (Hz) of the far end's loudest bin, or 0 without far-end audio. */
  dominantFrequency() {
    const m = this.meters.far;
    if (!m) return 0;
    const bins = m.analyser.frequencyBinCount;
    if (!this.freqBuf || this.freqBuf.length !== bins) this.freqBuf = new Float32Array(bins);
    m.analyser.getFloatFrequencyData(this.freqBuf);
    let best = 1; // bin 0 is DC
    for (let i = 2; i < bins; i += 1) if (this.freqBuf[i] > this.freqBuf[best]) best = i;
    if (!Number.isFinite(this.freqBuf[best]) || this.freqBuf[best] < -100) return 0;
    return (best * this.audioCtx.sampleRate) / m.analyser.fftSize;
  }

  // --- the page ------------------------------------------------------------------------------

  wire() {
    const auto = $('phone-auto-answer');
    auto.checked = localStorage.getItem(KEY.auto) === 'true';
    auto.addEventListener('change', () => localStorage.setItem(KEY.auto, String(auto.checked)));
    $('pop-answer').addEventListener('click', () => this.answer());
    $('pop-decline').addEventListener('click', () => this.decline());
    $('phone-hangup').addEventListener('click', () => this.hangUp());
    $('phone-mute').addEventListener('click', () => this.toggleMute());
    $('phone-hold').addEventListener('click', () => this.toggleHold());
    $('phone-transfer').addEventListener('click', () => this.transfer());
    $('phone-mic').addEventListener('change', (e) => this.chooseMic(e.target.value));
    $('phone-speaker').addEventListener('change', (e) => this.chooseSpeaker(e.target.value));
    // Autoplay rules: the ring tone and the meters may need a click on the page first.
    for (const kind of ['pointerdown', 'keydown']) document.addEventListener(kind, () => this.resumeAudio(), { capture: true });
    if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      navigator.mediaDevices.addEventListener('devicechange', () => { if (this.enabled) this.fillDevices(); });
    }
    // Signing out of the desk unregisters first (the session ends once the registrar said
    // so, or after 2 s); a page that goes away stops the phone too (its closed WebSocket
    // also removes the binding on the server).
    beforeSignOut(() => this.signOut());
    window.addEventListener('pagehide', () => this.stop());
    // Back from the browser's page cache: the phone stopped at pagehide registers again.
    window.addEventListener('pageshow', (e) => { if (e.persisted && this.enabled && !this.ua) this.register(); });
    window.addEventListener('langchange', () => this.draw());
    setInterval(() => { if (this.enabled) this.drawMeters(); }, 100);
  }

  draw() {
    const st = this.state();
    const section = $('phone-section');
    section.dataset.status = st.status;
    $('phone-none').hidden = this.enabled;
    $('phone-controls').hidden = !this.enabled;
    $('phone-call-controls').hidden = !st.inCall;
    $('pop-answer').hidden = !st.ringing;
    $('pop-decline').hidden = !st.ringing;
    // While it rings the pop stays: Answer or Decline, not Close (nor Escape).
    $('pop-close').hidden = st.ringing;
    const mute = $('phone-mute');
    mute.textContent = t(st.muted ? 'phone_unmute' : 'phone_mute');
    mute.setAttribute('aria-pressed', String(st.muted));
    const hold = $('phone-hold');
    hold.textContent = t(st.held ? 'phone_resume' : 'phone_hold');
    hold.setAttribute('aria-pressed', String(st.held));
    $('phone-call-state').textContent = st.inCall ? t(st.held ? 'phone_on_hold' : 'phone_in_call') : (st.ringing ? t('ringing') : '');
    this.hooks.onChange?.(st);
  }
}

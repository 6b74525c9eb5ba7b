// The citizen's VNeID app in a browser tab (`eidgw demo`, /phone/).
//
// The device key is made here with WebCrypto (Ed25519, non-extractable) and kept in IndexedDB
// with the wallet; the chip card's key is imported the same way when the police desk hands the
// card over. Every gateway call goes to /phone/gateway/<path>, which the demo relays unchanged
// to the gateway's /v1/<path>. The demo plays what a browser lacks: the camera (/phone/camera:
// a face template with sensor noise, which this script signs for the liveness challenge), the
// SMS inbox (/phone/sms) and the police desk (/phone/police-desk).
'use strict';

(() => {
  const T = JSON.parse(document.getElementById('phone-texts').textContent);
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
  const lang = document.documentElement.lang;
  const channel = 'BroadcastChannel' in window ? new BroadcastChannel('eid-demo') : null;

  // ---- storage: one wallet per browser profile ---------------------------------------------
  const DB = 'eid-phone';
  function open() {
    return new Promise((ok, fail) => {
      const r = indexedDB.open(DB, 1);
      r.onupgradeneeded = () => r.result.createObjectStore('wallet');
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
    });
  }
  async function store(mode, act) {
    const db = await open();
    return new Promise((ok, fail) => {
      const tx = db.transaction('wallet', mode);
      const r = act(tx.objectStore('wallet'));
      tx.oncomplete = () => ok(r && r.result);
      tx.onerror = () => fail(tx.error);
    });
  }
  const load = () => store('readonly', (s) => s.get('wallet'));
  const save = (w) => store('readwrite', (s) => s.put(w, 'wallet'));
  const forget = () => store('readwrite', (s) => s.clear());

  // ---- encodings and signatures ------------------------------------------------------------
  const utf8 = (s) => new TextEncoder().encode(s);
  function b64url(bytes) {
    let bin = '';
    new Uint8Array(bytes).forEach((b) => { bin += String.fromCharCode(b); });
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function unb64url(text) {
    const b = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(b, (c) => c.charCodeAt(0));
  }
  async function sha256hex(text) {
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(text)));
    return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
  }
  const sign = async (key, bytes) => b64url(await crypto.subtle.sign('Ed25519', key, bytes));

  // An Ed25519 seed (a chip key) as a non-extractable signing key: PKCS#8 around the seed.
  async function importSeed(seed) {
    const prefix = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    const der = new Uint8Array([...prefix, ...seed]);
    return crypto.subtle.importKey('pkcs8', der, 'Ed25519', false, ['sign']);
  }

  // ---- talking to the gateway (through the demo's relay) -----------------------------------
  class Refused extends Error {
    constructor(status, body) {
      super(body && (body.detail || body.error_description || body.title || body.error || body.code) || `HTTP ${status}`);
      this.status = status;
      this.body = body || {};
      this.code = this.body.code || this.body.error || '';
    }
  }
  async function call(method, url, body, token) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const parsed = text ? (() => { try { return JSON.parse(text); } catch { return { detail: text }; } })() : {};
    if (!res.ok) throw new Refused(res.status, parsed);
    return parsed;
  }
  const gateway = (method, path, body, token) => call(method, `/phone/gateway/${path}`, body, token);
  const session = (method, path, body) => gateway(method, path, body, wallet && wallet.session && wallet.session.token);

  // ---- the body in front of the camera -----------------------------------------------------
  function subject() {
    const chosen = $('input[name=subject]:checked');
    return chosen ? chosen.value : 'holder';
  }
  // A live capture answering `challenge`, signed by the device key.
  async function capture(challenge, personalId = wallet.personal_id, device = wallet.device) {
    const { template } = await call('POST', '/phone/camera', { personal_id: personalId, subject: subject() });
    const message = `eid-gateway liveness v1\n${challenge.nonce}\n${await sha256hex(template)}\n${challenge.actions.join(',')}`;
    return {
      challenge_id: challenge.challenge_id,
      actions: challenge.actions,
      template,
      signature: await sign(device.privateKey, utf8(message)),
    };
  }
  async function sessionCapture() {
    const challenge = await session('POST', 'citizen/session/liveness-challenge', {});
    return capture(challenge);
  }

  // ---- screens -----------------------------------------------------------------------------
  let wallet = null;
  let pending = null; // a registration between its start and its completion
  let countdown = null;

  function show(name) {
    $$('[data-screen]').forEach((s) => { s.hidden = s.dataset.screen !== name; });
    document.body.dataset.showing = name;
    if (countdown && name !== 'present') { clearInterval(countdown); countdown = null; }
    const fill = { requests: fillRequests, history: fillHistory, consents: fillConsents, card: fillCard, home: fillHome }[name];
    if (fill) fill().catch(fail);
    // Desks open in this browser say again what they wait for.
    if (name === 'present' && channel) channel.postMessage({ kind: 'hello' });
  }
  function say(text) {
    const n = $('[data-notice]');
    n.textContent = text;
    n.hidden = !text;
    $('[data-message]').hidden = true;
  }
  function fail(err) {
    const m = $('[data-message]');
    m.textContent = `${T['demo.phone.failed']} ${err.message || err}`;
    m.dataset.code = err.code || '';
    m.hidden = false;
    $('[data-notice]').hidden = true;
    if (err.code === 'invalid_session' && wallet) {
      wallet.session = null;
      save(wallet).then(() => show('login'));
    }
  }
  const busy = (fn) => async (ev) => {
    if (ev && ev.preventDefault) ev.preventDefault();
    const button = ev && (ev.submitter || ev.currentTarget);
    if (button && button.disabled !== undefined) button.disabled = true;
    try { await fn(ev); } catch (err) { fail(err); } finally { if (button && button.disabled !== undefined) button.disabled = false; }
  };
  const masked = (id) => `${id.slice(0, 3)}******${id.slice(-3)}`;
  const when = (secs) => new Date(secs * 1000).toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB', { timeZone: 'Asia/Ho_Chi_Minh' });
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    Object.entries(attrs).forEach(([k, v]) => { if (k.startsWith('data-') || k === 'class' || k === 'type') e.setAttribute(k, v); else e[k] = v; });
    children.forEach((c) => e.append(c));
    return e;
  };

  async function fillHome() {
    $$('[data-holder-name]').forEach((n) => { n.textContent = wallet.full_name; });
    $('[data-masked-id]').textContent = masked(wallet.personal_id);
    const s = wallet.session || {};
    $('[data-level]').textContent = `${T['demo.phone.level']} ${s.level ?? '?'}`;
    $('[data-level]').dataset.value = s.level ?? '';
    $('[data-auth-level]').textContent = `${T['demo.phone.auth_level']} ${s.auth_level ?? '?'}`;
    const list = await session('GET', 'citizen/approvals');
    const badge = $('[data-pending]');
    badge.textContent = list.length;
    badge.hidden = list.length === 0;
  }

  // ---- registration (level 1) --------------------------------------------------------------
  async function fillHolders() {
    const select = $('[data-holders]');
    let people = [];
    try { people = await call('GET', '/phone/people'); } catch (err) { fail(err); return; }
    select.replaceChildren(el('option', { value: '' }, '—'), ...people.map((p) => el('option', { value: p.personal_id }, `${p.full_name} (${masked(p.personal_id)})`)));
    select.addEventListener('change', () => {
      const p = people.find((x) => x.personal_id === select.value);
      if (!p) return;
      const f = $('[data-form=register]');
      f.personal_id.value = p.personal_id;
      f.full_name.value = p.full_name;
      f.birth_date.value = p.birth_date;
      f.phone.value = p.phone;
    });
  }

  async function inbox(phone) {
    return call('GET', `/phone/sms?phone=${encodeURIComponent(phone)}`);
  }
  function showSms(text) {
    const box = $('[data-sms]');
    box.replaceChildren(el('strong', {}, T['demo.phone.sms_from']), ' ', el('span', { 'data-sms-text': '' }, text));
    box.hidden = false;
    const code = (text.match(/\b\d{6}\b/) || [])[0];
    if (code) box.dataset.code = code;
  }

  const register = busy(async (ev) => {
    const f = ev.target;
    const keys = await crypto.subtle.generateKey('Ed25519', false, ['sign', 'verify']);
    const raw = await crypto.subtle.exportKey('raw', keys.publicKey);
    const details = {
      personal_id: f.personal_id.value.trim(),
      full_name: f.full_name.value.trim(),
      birth_date: f.birth_date.value,
      phone: f.phone.value.trim(),
    };
    const before = await inbox(details.phone);
    const started = await gateway('POST', 'citizen/registrations', { ...details, device_public_key: b64url(raw) });
    pending = { ...details, device: keys, password: f.password.value, passcode: f.passcode.value, registration_id: started.registration_id };
    // The SMS: the newest message of the outbox since the start.
    for (let i = 0; i < 20; i += 1) {
      const after = await inbox(details.phone);
      if (after.length && JSON.stringify(after[0]) !== JSON.stringify(before[0])) { showSms(after[0].text); break; }
      await new Promise((r) => setTimeout(r, 250));
    }
    show('otp');
  });

  const complete = busy(async (ev) => {
    const f = ev.target;
    const reg = pending.registration_id;
    const challenge = await gateway('POST', `citizen/registrations/${reg}/liveness-challenge`, {});
    const face = await capture(challenge, pending.personal_id, pending.device);
    const done = await gateway('POST', `citizen/registrations/${reg}/complete`, {
      otp: f.otp.value.trim(), password: pending.password, passcode: pending.passcode, face_capture: face,
    });
    const { registration_id: _, ...kept } = pending;
    wallet = { ...kept, session: null, card: null };
    pending = null;
    await save(wallet);
    $('[data-sms]').hidden = true;
    await login(wallet.password);
    say(`${T['demo.phone.registered']} ${T['demo.phone.level']} ${done.level}`);
  });

  // ---- session -----------------------------------------------------------------------------
  async function login(password) {
    const challenge = await gateway('POST', 'citizen/login/challenge', { personal_id: wallet.personal_id });
    const signature = await sign(wallet.device.privateKey, utf8(`eid-gateway login v1\n${challenge.nonce}`));
    const s = await gateway('POST', 'citizen/login', {
      personal_id: wallet.personal_id, password, challenge_id: challenge.challenge_id, device_signature: signature,
    });
    keep(s);
    await save(wallet);
    show('home');
  }
  function keep(s) {
    wallet.session = { token: s.session_token, level: s.level, auth_level: s.auth_level, amr: s.amr };
  }
  const stepUp = (withFace) => busy(async () => {
    const body = withFace ? { face_capture: await sessionCapture() } : { passcode: wallet.passcode };
    keep(await session('POST', 'citizen/session/step-up', body));
    await save(wallet);
    say(`${T['demo.phone.stepped_up']} ${T['demo.phone.auth_level']} ${wallet.session.auth_level}`);
  });

  // ---- presentation ------------------------------------------------------------------------
  let lastPresent = null;
  async function drawQr(text, where = '[data-qr]') {
    const res = await fetch('/phone/qr', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
    const svg = new DOMParser().parseFromString(await res.text(), 'image/svg+xml').documentElement;
    $(where).replaceChildren(document.importNode(svg, true));
  }
  // A countdown in `c` from `left` seconds, in place of the `previous` one.
  function countDown(c, left, previous) {
    const tick = () => {
      c.textContent = left > 0 ? `${T['demo.phone.expires_in']} ${left} s` : T['demo.phone.expired'];
      c.dataset.left = left;
      left -= 1;
    };
    if (previous) clearInterval(previous);
    tick();
    return setInterval(tick, 1000);
  }
  const vnd = (n) => (lang === 'vi' ? `${Number(n).toLocaleString('de-DE')} ₫` : `VND ${Number(n).toLocaleString('en-US')}`);

  async function present(form) {
    const body = { client_id: form.client_id.value, nonce: form.nonce.value.trim() };
    const amount = form.amount_vnd.value.trim();
    const tx = $('[data-transaction]');
    tx.hidden = true;
    if (amount) {
      body.authorization_details = [{ type: 'bank_transfer', amount_vnd: Number(amount), creditor: form.creditor.value.trim() }];
      tx.textContent = `${T['demo.phone.transaction']} ${vnd(amount)} → ${form.creditor.value.trim()}`;
      tx.hidden = false;
    }
    $('[data-action=confirm-face]').hidden = true;
    let p;
    try {
      p = await session('POST', 'presentations', body);
    } catch (err) {
      // The relying party's rule for this transaction asks for more: offer the face right here.
      if (err.code === 'step_up_required') $('[data-action=confirm-face]').hidden = false;
      throw err;
    }
    lastPresent = body;
    $('[data-token]').value = p.token;
    await drawQr(p.token);
    $('[data-presentation]').hidden = false;
    countdown = countDown($('[data-countdown]'), p.expires_in, countdown);
    // A desk in this browser waiting for this nonce takes the token over.
    if (channel) channel.postMessage({ kind: 'presentation', client_id: body.client_id, nonce: body.nonce, token: p.token });
  }

  // A desk in this browser announces what it waits for: the phone fills the form in.
  let nearbySince = 0;
  if (channel) {
    channel.onmessage = (ev) => {
      const m = ev.data || {};
      // With several desks open, the one opened last is the one in front of the citizen.
      if (m.kind === 'desk-nonce' && wallet && wallet.session && (m.since || 0) >= nearbySince) {
        nearbySince = m.since || 0;
        const f = $('[data-form=present]');
        f.client_id.value = m.client_id;
        f.nonce.value = m.nonce;
        f.amount_vnd.value = m.amount_vnd || '';
        f.creditor.value = m.creditor || '';
        f.querySelector('details').open = Boolean(m.amount_vnd);
        const n = $('[data-nearby]');
        n.textContent = `${T['demo.phone.gate_nearby']} ${m.client_id}`;
        n.hidden = false;
      }
      if (m.kind === 'handed-over') say(T['demo.phone.handed_over']);
      if (m.kind === 'chip-reader' && wallet && wallet.card) {
        const box = $('[data-chip-prompt]');
        box.dataset.challenge = m.challenge_id;
        box.hidden = false;
      }
      if (m.kind === 'card-read') { $('[data-chip-prompt]').hidden = true; say(T['demo.phone.card_read']); }
    };
  }

  // ---- approvals: kiosk requests (CIBA) and QR logins --------------------------------------
  function needsFace(r) {
    const req = r.required || {};
    return (req.amr || []).includes('face') || (req.auth_level || 0) >= 3;
  }
  async function fillRequests() {
    const list = await session('GET', 'citizen/approvals');
    const ul = $('[data-request-list]');
    if (!list.length) { ul.replaceChildren(el('li', { class: 'note', 'data-no-requests': '' }, T['demo.phone.no_requests'])); return; }
    ul.replaceChildren(...list.map((r) => {
      const li = el('li', { 'data-request': r.request_id },
        el('p', { class: 'who' }, r.relying_party),
        el('p', { class: 'binding', 'data-binding': '' }, r.binding_message || ''));
      (r.releases || []).forEach((x) => li.append(el('p', { class: 'note' }, `${T['demo.phone.releases']} ${x}`)));
      (r.transactions || []).forEach((x) => li.append(el('p', { class: 'transaction' }, `${T['demo.phone.transaction']} ${x}`)));
      const face = needsFace(r);
      if (face) li.append(el('p', { class: 'note' }, T['demo.phone.needs_face']));
      const answer = (how) => busy(async () => {
        const body = how === 'deny' ? { answer: 'deny' } : { answer: 'approve' };
        if (how === 'passcode') body.passcode = wallet.passcode;
        if (how === 'face') body.face_capture = await sessionCapture();
        await session('POST', `citizen/approvals/${encodeURIComponent(r.request_id)}`, body);
        say(how === 'deny' ? T['demo.phone.denied'] : T['demo.phone.approved']);
        await fillRequests();
      });
      const buttons = el('p', { class: 'actions' });
      if (!face) buttons.append(el('button', { type: 'button', 'data-approve': 'passcode', onclick: answer('passcode') }, T['demo.phone.approve_passcode']));
      buttons.append(el('button', { type: 'button', 'data-approve': 'face', onclick: answer('face') }, T['demo.phone.approve_face']));
      buttons.append(el('button', { type: 'button', class: 'secondary', 'data-deny': '', onclick: answer('deny') }, T['demo.phone.deny']));
      li.append(buttons);
      return li;
    }));
  }

  const qrCheck = busy(async (ev) => {
    const qr = ev.target.qr.value.trim();
    const asking = await session('GET', `citizen/qr-login?qr=${encodeURIComponent(qr)}`);
    const box = $('[data-qr-asking]');
    const approve = (withFace) => busy(async () => {
      const body = { qr, passcode: wallet.passcode };
      if (withFace) body.face_capture = await sessionCapture();
      await session('POST', 'citizen/qr-login', body);
      box.hidden = true;
      say(T['demo.phone.approved']);
    });
    box.replaceChildren(
      el('p', { class: 'who', 'data-qr-rp': '' }, `${T['demo.phone.qr_asks']} ${asking.relying_party}`),
      el('p', { class: 'note' }, (asking.scopes || []).join(', ')),
      el('p', { class: 'actions' },
        el('button', { type: 'button', 'data-qr-approve': 'passcode', onclick: approve(false) }, T['demo.phone.approve_passcode']),
        el('button', { type: 'button', 'data-qr-approve': 'face', onclick: approve(true) }, T['demo.phone.approve_face'])));
    box.hidden = false;
  });

  // ---- history, consents -------------------------------------------------------------------
  async function fillHistory() {
    const list = await session('GET', 'citizen/history');
    const body = $('[data-history] tbody');
    if (!list.length) { body.replaceChildren(el('tr', {}, el('td', { colSpan: 4, 'data-no-history': '' }, T['demo.phone.no_history']))); return; }
    body.replaceChildren(...list.map((e) => el('tr', { 'data-entry': e.verification_id },
      el('td', {}, when(e.at)), el('td', {}, e.relying_party || e.client_id),
      el('td', {}, `${e.action}: ${(e.claims || []).join(', ')}`), el('td', {}, e.purpose || ''))));
  }
  // The history as a document the gateway signs, saved as a file.
  const exportHistory = busy(async () => {
    const res = await fetch('/phone/gateway/citizen/history/export', { headers: { authorization: `Bearer ${wallet.session.token}` } });
    if (!res.ok) throw new Refused(res.status, await res.json().catch(() => ({})));
    const name = (/filename="([^"]+)"/.exec(res.headers.get('content-disposition') || '') || [])[1] || 'vneid-history.jws';
    const link = el('a', { download: name, href: URL.createObjectURL(await res.blob()) });
    document.body.append(link);
    link.click();
    link.remove();
    say(`${T['demo.phone.exported']} ${name}`);
  });

  async function fillConsents() {
    const all = await session('GET', 'citizen/consents');
    const ul = $('[data-consent-list]');
    const entries = Object.entries(all || {});
    if (!entries.length) { ul.replaceChildren(el('li', { class: 'note', 'data-no-consents': '' }, T['demo.phone.no_consents'])); return; }
    ul.replaceChildren(...entries.map(([client, c]) => el('li', { 'data-consent': client },
      el('span', {}, `${client}: ${(c.scopes || []).join(', ')} (${when(c.granted_at)})`), ' ',
      el('button', { type: 'button', class: 'secondary', onclick: busy(async () => {
        await session('DELETE', `citizen/consents/${encodeURIComponent(client)}`);
        await fillConsents();
      }) }, T['demo.phone.withdraw']))));
  }

  // ---- the chip card and level 2 -----------------------------------------------------------
  async function fillCard() {
    $('[data-card-state]').textContent = wallet.card ? `${T['demo.phone.card_collected']} ${wallet.card.card_number}` : '';
    $('[data-action=level2]').disabled = !wallet.card;
  }
  const collectCard = busy(async () => {
    const image = await call('POST', '/phone/police-desk', { personal_id: wallet.personal_id });
    // The chip's key goes into WebCrypto and the seed is dropped: the chip never lets it out.
    const key = await importSeed(unb64url(image.chip_private_key));
    wallet.card = { card_number: image.card_number, data_groups: image.data_groups, sod: image.sod, key };
    await save(wallet);
    await fillCard();
    say(`${T['demo.phone.card_collected']} ${image.card_number}`);
  });
  // The chip in front of the reader: the data groups, the SOD, and the challenge signed.
  async function chipRead(challengeId) {
    const c = wallet.card;
    const read = { dg1: c.data_groups.DG1, dg2: c.data_groups.DG2, dg13: c.data_groups.DG13, sod: c.sod,
      active_authentication: { challenge_id: challengeId, signature: await sign(c.key, unb64url(challengeId)) } };
    if (c.data_groups.DG15) read.dg15 = c.data_groups.DG15;
    return read;
  }
  const level2 = busy(async () => {
    const chip = await session('POST', 'citizen/chip-challenge', {});
    const read = await chipRead(chip.challenge_id);
    const face = await sessionCapture();
    const done = await session('POST', 'citizen/level2', { chip_read: read, face_capture: face });
    wallet.session.level = done.level;
    await save(wallet);
    say(`${T['demo.phone.level2_done']} ${T['demo.phone.level']} ${done.level}`);
    await fillHome();
  });

  const lock = busy(async () => {
    if (!window.confirm(T['demo.phone.lock_confirm'])) return;
    await session('POST', 'citizen/lock', {});
    wallet.session = null;
    await save(wallet);
    say(T['demo.phone.locked']);
    show('login');
  });
  const forgetPhone = busy(async () => {
    if (!window.confirm(T['demo.phone.forget_confirm'])) return;
    await forget();
    wallet = null;
    show('welcome');
  });

  // The card held to a reader in this browser: the chip answers the reader's challenge.
  const holdCard = busy(async () => {
    const box = $('[data-chip-prompt]');
    const read = await chipRead(box.dataset.challenge);
    channel.postMessage({ kind: 'chip-read', challenge_id: box.dataset.challenge, read });
  });

  // A one-time login hint a desk scans instead of typing the ID number (CIBA login_hint_token);
  // a desk in this browser takes it over.
  let hintCountdown = null;
  const loginHint = busy(async () => {
    const h = await session('POST', 'citizen/login-hint', {});
    $('[data-hint-token]').value = h.login_hint_token;
    await drawQr(h.login_hint_token, '[data-hint-qr]');
    $('[data-login-hint]').hidden = false;
    hintCountdown = countDown($('[data-hint-countdown]'), h.expires_in, hintCountdown);
    if (channel) channel.postMessage({ kind: 'login-hint', token: h.login_hint_token });
  });

  // ---- wiring ------------------------------------------------------------------------------
  $('[data-form=register]').addEventListener('submit', register);
  $('[data-form=otp]').addEventListener('submit', complete);
  $('[data-form=login]').addEventListener('submit', busy((ev) => login(ev.target.password.value)));
  $('[data-form=present]').addEventListener('submit', busy((ev) => present(ev.target)));
  $('[data-action=refresh]').addEventListener('click', busy(async () => {
    if (lastPresent) await present($('[data-form=present]'));
  }));
  $('[data-form=qr-login]').addEventListener('submit', qrCheck);
  $('[data-action=login-hint]').addEventListener('click', loginHint);
  $('[data-action=collect-card]').addEventListener('click', collectCard);
  $('[data-action=level2]').addEventListener('click', level2);
  $('[data-action=step-up-passcode]').addEventListener('click', stepUp(false));
  $('[data-action=step-up-face]').addEventListener('click', stepUp(true));
  $('[data-action=lock]').addEventListener('click', lock);
  $('[data-action=logout]').addEventListener('click', busy(async () => {
    wallet.session = null;
    await save(wallet);
    show('login');
  }));
  $('[data-action=export-history]').addEventListener('click', exportHistory);
  $('[data-action=hold-card]').addEventListener('click', holdCard);
  $('[data-action=confirm-face]').addEventListener('click', busy(async () => {
    keep(await session('POST', 'citizen/session/step-up', { face_capture: await sessionCapture() }));
    await save(wallet);
    $('[data-action=confirm-face]').hidden = true;
    await present($('[data-form=present]'));
  }));
  $$('[data-action=forget]').forEach((b) => b.addEventListener('click', forgetPhone));
  $$('[data-go]').forEach((b) => b.addEventListener('click', () => show(b.dataset.go)));
  $('[data-sms]').addEventListener('click', () => {
    const code = $('[data-sms]').dataset.code;
    if (code) $('[data-form=otp]').otp.value = code;
  });
  // Pending requests arrive while the phone is open: look every few seconds.
  setInterval(() => {
    if (!wallet || !wallet.session) return;
    const on = document.body.dataset.showing;
    if (on === 'requests') fillRequests().catch(() => {});
    if (on === 'home') fillHome().catch(() => {});
  }, 3000);

  (async () => {
    if (!window.crypto || !crypto.subtle) throw new Error('WebCrypto is not available (open the demo over http://127.0.0.1 or https)');
    wallet = await load();
    if (channel) channel.postMessage({ kind: 'hello' });
    if (!wallet) {
      await fillHolders();
      show('welcome');
    } else {
      $$('[data-holder-name]').forEach((n) => { n.textContent = wallet.full_name; });
      show(wallet.session ? 'home' : 'login');
    }
    // Ready once a screen is showing: before that, there is nothing to read or press.
    document.body.dataset.ready = 'yes';
  })().catch(fail);
})();

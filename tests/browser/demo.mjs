// `eidgw demo` end to end in a real browser (Debian's chromium through playwright-core): the
// citizen's phone (/phone/) registers with a browser-made device key, hands a presentation QR to
// the vietsky-air gate in another tab (which accepts it once and refuses it the second time),
// collects the chip card and reaches level 2 with the browser's chip answering active
// authentication, approves the hospital desk's kiosk request, and signs in to the portal through
// the gateway's QR login. A second phone in its own browser profile shows the phones are apart.
// The camera is Chromium's fake capture device playing a file this script writes: a frame
// showing the QR code on screen at that moment, as a camera held up to it would see it. The
// desks and the phone read it with the vendored decoder (static/scan.js).
//
// Input (environment): DEMO (the demo's URL), GATEWAY, PERSONAL_ID and OTHER_ID (two registry
// people without accounts), PASSWORD, PASSCODE, SCREENSHOTS, CHROMIUM.
// Output: one JSON document on stdout; screenshots of every step (and of a failure).
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const demo = env('DEMO');
const shots = env('SCREENSHOTS');
mkdirSync(shots, { recursive: true });

// The camera's picture: one YUV 4:2:0 frame (y4m), replaced whole before each scan.
const CAM_W = 1280;
const CAM_H = 720;
const cameraDir = mkdtempSync(join(tmpdir(), 'eid-demo-camera-'));
// However the script ends: every run would otherwise leave its camera file behind in /tmp.
process.on('exit', () => rmSync(cameraDir, { recursive: true, force: true }));
const camera = join(cameraDir, 'camera.y4m');
function cameraSees(luma) {
  const head = Buffer.from(`YUV4MPEG2 W${CAM_W} H${CAM_H} F10:1 Ip A1:1 C420jpeg\nFRAME\n`);
  const chroma = Buffer.alloc((CAM_W / 2) * (CAM_H / 2) * 2, 128);
  writeFileSync(`${camera}.new`, Buffer.concat([head, luma, chroma]));
  renameSync(`${camera}.new`, camera);
}
cameraSees(Buffer.alloc(CAM_W * CAM_H, 255));
// Points the camera at the QR code `selector` draws on page `p` (grey levels of the page's SVG
// drawn on a white 1280×720 frame).
async function holdUp(p, selector) {
  const luma = await p.evaluate(async ([sel, w, h]) => {
    const xml = new XMLSerializer().serializeToString(document.querySelector(sel));
    const img = new Image();
    img.src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(xml)))}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    const g = c.getContext('2d');
    g.fillStyle = '#fff';
    g.fillRect(0, 0, w, h);
    const side = h - 80;
    g.drawImage(img, (w - side) / 2, 40, side, side);
    const d = g.getImageData(0, 0, w, h).data;
    const y = new Uint8Array(w * h);
    for (let i = 0; i < y.length; i += 1) y[i] = Math.round(0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2]);
    let bin = '';
    for (let i = 0; i < y.length; i += 8192) bin += String.fromCharCode(...y.subarray(i, i + 8192));
    return btoa(bin);
  }, [selector, CAM_W, CAM_H]);
  cameraSees(Buffer.from(luma, 'base64'));
}

const browser = await chromium.launch({
  downloadsPath: shots,
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${camera}`],
});
const phoneSize = { width: 390, height: 844 };
const deskSize = { width: 1280, height: 900 };
const report = {};
const open = [];

// A browser profile: its own IndexedDB, cookies and BroadcastChannel.
async function profile() {
  return browser.newContext({ locale: 'vi-VN', acceptDownloads: true, permissions: ['camera'] });
}
async function page(context, size, path) {
  const p = await context.newPage();
  await p.setViewportSize(size);
  p.on('dialog', (d) => d.accept());
  open.push(p);
  await p.goto(`${demo}${path}`);
  return p;
}
const shot = (p, name) => p.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
async function showing(p, screen) {
  await p.waitForSelector(`body[data-showing="${screen}"]`, { timeout: 20000 });
}
async function noError(p) {
  const m = p.locator('[data-message]');
  if (await m.isVisible()) throw new Error(`the phone says: ${await m.innerText()}`);
}

async function register(phone, personalId) {
  await phone.waitForSelector('body[data-ready=yes]');
  await showing(phone, 'welcome');
  await phone.selectOption('[data-holders]', personalId);
  await phone.fill('[data-form=register] [name=password]', env('PASSWORD'));
  await phone.fill('[data-form=register] [name=passcode]', env('PASSCODE'));
  await phone.click('[data-action=register]');
  await showing(phone, 'otp');
  await phone.waitForSelector('[data-sms]:not([hidden])');
  const sms = await phone.innerText('[data-sms]');
  await phone.click('[data-sms]');
  await phone.click('[data-action=complete]');
  await showing(phone, 'home');
  await noError(phone);
  await phone.waitForFunction(() => document.querySelector('[data-level]').dataset.value === '1');
  return { sms };
}

try {
  const a = await profile();
  const phone = await page(a, phoneSize, '/phone/');
  report.registration = await register(phone, env('PERSONAL_ID'));
  await shot(phone, 'phone-home');
  report.key_extractable = await phone.evaluate(() => new Promise((ok) => {
    const r = indexedDB.open('eid-phone', 1);
    r.onsuccess = () => {
      const get = r.result.transaction('wallet').objectStore('wallet').get('wallet');
      get.onsuccess = () => ok({
        private: get.result.device.privateKey.extractable,
        algorithm: get.result.device.privateKey.algorithm.name,
      });
    };
  }));

  // A stranger in front of the camera: the face step-up is refused, and said so.
  await phone.check('[data-subject=stranger]');
  await phone.click('[data-go=security]');
  await phone.click('[data-action=step-up-face]');
  await phone.waitForSelector('[data-message]:not([hidden])');
  report.stranger_code = await phone.getAttribute('[data-message]', 'data-code');
  await phone.click('[data-screen]:not([hidden]) [data-go=home]');
  await phone.check('input[name=subject][value=holder]');

  // The police desk hands over the card; the browser's chip answers active authentication.
  await phone.click('[data-go=card]');
  await showing(phone, 'card');
  await phone.click('[data-action=collect-card]');
  await phone.waitForFunction(() => document.querySelector('[data-card-state]').textContent.length > 0);
  await phone.click('[data-action=level2]');
  await phone.waitForSelector('[data-notice]:not([hidden])');
  await noError(phone);
  report.chip_extractable = await phone.evaluate(() => new Promise((ok) => {
    const r = indexedDB.open('eid-phone', 1);
    r.onsuccess = () => {
      const get = r.result.transaction('wallet').objectStore('wallet').get('wallet');
      get.onsuccess = () => ok({ key: get.result.card.key.extractable, seed_kept: 'chip_private_key' in get.result.card });
    };
  }));
  await phone.click('[data-screen]:not([hidden]) [data-go=home]');
  await phone.waitForFunction(() => document.querySelector('[data-level]').dataset.value === '2');
  report.level_after_chip = 2;

  // The gate announces its nonce; the phone picks it up and hands the token back.
  const gate = await page(a, deskSize, '/gate/');
  const nonce = await gate.innerText('[data-nonce]');
  await phone.click('[data-go=present]');
  await showing(phone, 'present');
  await phone.waitForFunction((n) => document.querySelector('[data-form=present] [name=nonce]').value === n, nonce);
  report.picked_up_nonce = await phone.inputValue('[data-form=present] [name=nonce]');
  await phone.click('[data-action=present]');
  await phone.waitForSelector('[data-qr] svg');
  report.countdown = Number(await phone.getAttribute('[data-countdown]', 'data-left'));
  await shot(phone, 'phone-present');
  const token = await phone.inputValue('[data-token]');
  await gate.waitForSelector('[data-verdict]');
  report.gate_first = await gate.getAttribute('[data-verdict]', 'data-verdict');
  report.passenger = await gate.innerText('[data-passenger]').catch(() => null);
  await shot(gate, 'gate-accepted');
  // The same QR scanned again at the same boarding: refused, in words.
  await gate.evaluate(([n, t]) => {
    document.querySelector('form[data-handover] [name=nonce]').value = n;
    document.querySelector('form[data-handover] [name=token]').value = t;
  }, [nonce, token]);
  await Promise.all([gate.waitForNavigation(), gate.click('form[data-handover] button[type=submit]')]);
  report.gate_second = await gate.getAttribute('[data-verdict]', 'data-verdict');
  report.gate_second_code = await gate.textContent('[data-reason]');
  report.gate_second_text = await gate.innerText('[data-reason-text]');
  await shot(gate, 'gate-refused');

  // Another gate, in a browser of its own (no hand-over): its camera scans the phone's QR.
  const elsewhere = await profile();
  const scanner = await page(elsewhere, deskSize, '/gate/');
  const scannerNonce = await scanner.innerText('[data-nonce]');
  await phone.selectOption('[data-form=present] [name=client_id]', 'vietsky-air');
  await phone.fill('[data-form=present] [name=nonce]', scannerNonce);
  await phone.click('[data-action=present]');
  await phone.waitForFunction((old) => document.querySelector('[data-token]').value !== old, token);
  report.camera_token_length = (await phone.inputValue('[data-token]')).length;
  await holdUp(phone, '[data-qr] svg');
  await Promise.all([scanner.waitForNavigation({ timeout: 30000 }), scanner.click('form[data-handover] [data-scan]')]);
  report.gate_camera = await scanner.getAttribute('[data-verdict]', 'data-verdict');
  report.gate_camera_passenger = await scanner.innerText('[data-passenger]').catch(() => null);
  await shot(scanner, 'gate-camera-accepted');

  await phone.click('[data-screen]:not([hidden]) [data-go=home]');
  // The hospital desk asks by ID number; the phone shows the same binding message and approves.
  const hospital = await page(a, deskSize, '/hospital/');
  await hospital.fill('[name=personal_id]', env('PERSONAL_ID'));
  await hospital.click('form[action="/hospital/ask"] button');
  await hospital.waitForSelector('[data-binding-message]');
  const binding = await hospital.innerText('[data-binding-message]');
  await phone.click('[data-go=requests]');
  await showing(phone, 'requests');
  await phone.waitForSelector('[data-request] [data-binding]');
  report.phone_binding = await phone.innerText('[data-request] [data-binding]');
  report.desk_binding = binding;
  await shot(phone, 'phone-request');
  await phone.click('[data-request] [data-approve=passcode]');
  await phone.waitForSelector('[data-no-requests]');
  await hospital.waitForSelector('[data-patient-name]', { timeout: 30000 });
  report.patient = await hospital.innerText('[data-patient-name]');
  report.health_insurance = await hospital.innerText('[data-health-insurance]');
  await shot(hospital, 'hospital-patient');

  // The next patient shows their login hint QR instead of the ID number; the desk takes it over.
  await phone.click('[data-action=login-hint]');
  await phone.waitForSelector('[data-hint-qr] svg');
  await shot(phone, 'phone-login-hint');
  await hospital.waitForSelector('[data-binding-message]', { timeout: 20000 });
  report.hint_desk_binding = await hospital.innerText('[data-binding-message]');
  await phone.waitForFunction((b) => [...document.querySelectorAll('[data-request] [data-binding]')].some((n) => n.innerText === b), report.hint_desk_binding);
  await phone.click('[data-request] [data-approve=passcode]');
  await phone.waitForSelector('[data-no-requests]');
  await hospital.waitForSelector('[data-patient-name]', { timeout: 30000 });
  report.hint_patient = await hospital.innerText('[data-patient-name]');
  // A used hint is gone: the desk's camera scanning it again is refused, in words.
  await holdUp(phone, '[data-hint-qr] svg');
  await Promise.all([hospital.waitForNavigation({ timeout: 30000 }), hospital.click('form[data-login-hint] [data-scan]')]);
  report.hint_again = await hospital.innerText('[data-desk-error]').catch(() => null);

  // A desk's card reader and camera: the phone holds the card to the reader, with the card's
  // holder or someone else in front of the desk's camera.
  const readCard = async (desk, subject) => {
    await Promise.all([desk.waitForNavigation(), desk.click('form[data-open] button')]);
    await desk.waitForSelector('form[data-chip-reader]');
    await desk.check(`form[data-chip-reader] input[name=subject][value=${subject}]`);
    await phone.waitForSelector('[data-chip-prompt]:not([hidden])');
    await Promise.all([desk.waitForNavigation(), phone.click('[data-action=hold-card]')]);
    await desk.waitForSelector('[data-verdict]');
    return desk.getAttribute('[data-verdict]', 'data-verdict');
  };
  // The hospital's kiosk: the patient's card and face.
  report.kiosk = await readCard(hospital, 'holder');
  report.kiosk_patient = await hospital.innerText('[data-customer]');
  report.kiosk_checks = await hospital.$$eval('[data-check]', (l) => l.map((c) => [c.dataset.check, c.dataset.ok]));
  await shot(hospital, 'hospital-kiosk');

  // The bank counter: account opening with the card on the reader and the counter's camera —
  // someone else in front of it first (refused), then the card's holder.
  const bank = await page(a, deskSize, '/bank/');
  const openWith = (subject) => readCard(bank, subject);
  report.bank_open_other = await openWith('someone_else');
  report.bank_open_other_code = await bank.textContent('[data-reason]').catch(() => null);
  report.bank_open = await openWith('holder');
  report.bank_customer = await bank.innerText('[data-customer]');
  report.bank_checks = await bank.$$eval('[data-check]', (l) => l.map((c) => [c.dataset.check, c.dataset.ok]));
  await shot(bank, 'bank-opened');

  // A 25.000.000 ₫ transfer: refused on the phone without a face, approved with one. A fresh
  // session first (password and device only).
  await phone.click('[data-screen]:not([hidden]) [data-go=home]');
  await phone.click('[data-go=security]');
  await phone.click('[data-action=logout]');
  await showing(phone, 'login');
  await phone.fill('[data-form=login] [name=password]', env('PASSWORD'));
  await phone.click('[data-action=login]');
  await showing(phone, 'home');
  await bank.fill('form[data-transfer] [name=amount_vnd]', '25.000.000');
  await bank.fill('form[data-transfer] [name=creditor]', 'Nguyễn Văn An');
  await Promise.all([bank.waitForNavigation(), bank.click('form[data-transfer] button')]);
  const bankNonce = await bank.innerText('[data-nonce]');
  report.bank_amount = await bank.innerText('[data-transfer-amount]');
  await phone.click('[data-go=present]');
  await phone.waitForFunction((n) => document.querySelector('[data-form=present] [name=nonce]').value === n, bankNonce);
  report.phone_transfer_amount = await phone.inputValue('[data-form=present] [name=amount_vnd]');
  await phone.click('[data-action=present]');
  await phone.waitForSelector('[data-message]:not([hidden])');
  report.transfer_without_face = await phone.getAttribute('[data-message]', 'data-code');
  report.bank_still_waiting = await bank.isVisible('[data-transfer-waiting]');
  await shot(phone, 'phone-transfer-refused');
  await Promise.all([bank.waitForNavigation(), phone.click('[data-action=confirm-face]')]);
  await bank.waitForSelector('[data-verdict]');
  report.transfer_with_face = await bank.getAttribute('[data-verdict]', 'data-verdict');
  report.transfer_approved = await bank.innerText('[data-approved-transaction]');
  report.transfer_amr = await bank.innerText('[data-amr]');
  await shot(bank, 'bank-transfer-approved');

  // The portal through the gateway's QR login, approved on the phone.
  const portal = await page(a, deskSize, '/portal/');
  await Promise.all([portal.waitForURL(/\/interaction\//), portal.click('a[href="/portal/login"]')]);
  report.portal_qr_text = (await portal.textContent('[data-qr-text]')).trim();
  await phone.click('[data-screen]:not([hidden]) [data-go=home]');
  await phone.click('[data-go=requests]');
  // The phone's camera reads the QR code on the login page.
  await holdUp(portal, '.on-desk svg');
  await phone.click('[data-form=qr-login] [data-scan]');
  await phone.waitForSelector('[data-qr-rp]', { timeout: 30000 });
  report.phone_scanned = await phone.inputValue('[data-form=qr-login] [name=qr]');
  report.qr_asks = await phone.innerText('[data-qr-rp]');
  await phone.click('[data-qr-approve=passcode]');
  await phone.waitForSelector('[data-qr-asking][hidden]', { state: 'attached' });
  // The login page continues by itself: consent, then back at the portal's callback.
  await portal.waitForSelector('form[action$="/consent"] button[value=allow]', { timeout: 30000 });
  await Promise.all([portal.waitForURL(/\/portal\/callback/), portal.click('form[action$="/consent"] button[value=allow]')]);
  await portal.waitForSelector('dl[data-signed-in] [data-claim="acr"]', { timeout: 30000 });
  report.portal_acr = await portal.innerText('[data-claim="acr"]');
  report.portal_amr = await portal.innerText('[data-claim="amr"]').catch(() => null);
  await shot(portal, 'portal-signed-in');

  // The usage history on the phone names the gate and the hospital.
  await phone.click('[data-screen]:not([hidden]) [data-go=home]');
  await phone.click('[data-go=history]');
  await phone.waitForSelector('[data-history] [data-entry]');
  report.history = await phone.innerText('[data-history] tbody');
  await shot(phone, 'phone-history');
  const [download] = await Promise.all([phone.waitForEvent('download'), phone.click('[data-action=export-history]')]);
  report.export_name = download.suggestedFilename();
  report.export_file = `${shots}/${report.export_name}`;
  await download.saveAs(report.export_file);

  // The telecom back office: a subscriber file checked in one streamed batch.
  const telecom = await page(a, deskSize, '/telecom/');
  await telecom.setInputFiles('form[data-upload] [name=file]', env('TELECOM_FILE'));
  await telecom.click('form[data-upload] button');
  await telecom.waitForSelector('body[data-done=yes]', { timeout: 120000 });
  report.telecom = await telecom.$$eval('[data-count]', (l) => Object.fromEntries(l.map((c) => [c.dataset.count, c.textContent])));
  report.telecom_fields = await telecom.$$eval('[data-field]', (l) => Object.fromEntries(l.map((r) => [r.dataset.field, [...r.children].slice(1).map((c) => c.textContent)])));
  report.telecom_codes = await telecom.$$eval('[data-error-code]', (l) => l.map((c) => c.dataset.errorCode));
  report.telecom_progress = await telecom.$eval('[data-progress]', (p) => [p.value, p.max]);
  await shot(telecom, 'telecom-summary');
  const [answers] = await Promise.all([telecom.waitForEvent('download'), telecom.click('[data-download]')]);
  report.telecom_answers = `${shots}/telecom-answers.ndjson`;
  await answers.saveAs(report.telecom_answers);

  // A second phone in its own browser profile: no account until it registers its own.
  const b = await profile();
  const second = await page(b, phoneSize, '/phone/');
  await second.waitForSelector('body[data-ready=yes]');
  report.second_phone_starts = await second.evaluate(() => document.body.dataset.showing);
  report.second = await register(second, env('OTHER_ID'));
  report.second_name = await second.innerText('[data-screen=home] [data-holder-name]');
  report.first_name = await phone.innerText('[data-screen=home] [data-holder-name]');
} catch (err) {
  for (const [i, p] of open.entries()) {
    await p.screenshot({ path: `${shots}/failure-${i}.png`, fullPage: true }).catch(() => {});
  }
  report.error = `${err.stack || err}`;
  report.pages = await Promise.all(open.map((p) => p.innerText('body').catch(() => '')));
}
await browser.close();
console.log(JSON.stringify(report));

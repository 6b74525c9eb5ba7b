// The citizen-facing pages in a real browser (Debian's chromium through playwright-core) at a
// desk size (1280×900) and a phone size (390×844): the front page, the login page with its QR,
// the OTP and consent steps, an error page and the logout page. For each page and size it
// reports the page's language, whether anything is wider than the screen, and which of the QR and
// the "open in the app" link a person can see; screenshots go to $SCREENSHOTS.
//
// Input (environment): GATEWAY, AUTHORIZE (a path starting an authorization), PERSONAL_ID,
// PASSWORD, PHONE, LOGOUT (a path of a logout request), SCREENSHOTS, CHROMIUM.
// Output: one JSON document on stdout.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const gateway = env('GATEWAY');
const shots = env('SCREENSHOTS');
mkdirSync(shots, { recursive: true });

const sizes = { desk: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});

// What a person sees of one page.
async function look(page, name, size) {
  await page.screenshot({ path: `${shots}/${name}-${size}.png`, fullPage: true });
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const visible = (sel) => {
      const el = document.querySelector(sel);
      if (!el) return null;
      const r = el.getBoundingClientRect();
      return getComputedStyle(el).display !== 'none' && r.width > 0 && r.height > 0;
    };
    // Elements whose right edge passes the screen's (the page itself, or a child that does not
    // wrap); a table inside its own scroll box is allowed to be wider than the screen.
    const overflowing = [...document.querySelectorAll('body *')]
      .filter((el) => !el.closest('.table-scroll'))
      .filter((el) => el.getBoundingClientRect().right > width + 1)
      .map((el) => el.tagName.toLowerCase() + (el.className ? `.${el.className}` : ''))
      .slice(0, 5);
    return {
      lang: document.documentElement.lang,
      title: document.title,
      scroll_width: document.documentElement.scrollWidth,
      width,
      overflowing,
      qr_visible: visible('.qr .on-desk svg'),
      app_link_visible: visible('[data-open-app]'),
      app_link: document.querySelector('[data-open-app]')?.getAttribute('href') ?? null,
      text: document.body.innerText,
    };
  });
}

async function latestOtp() {
  const res = await fetch(`${gateway}/dev/sms?phone=${encodeURIComponent(env('PHONE'))}`);
  const messages = await res.json();
  const text = messages.map((m) => m.text ?? m.body ?? JSON.stringify(m)).join('\n');
  const codes = text.match(/\b\d{6}\b/g);
  if (!codes) throw new Error(`no OTP in the outbox: ${text}`);
  return codes[0];
}

const report = {};
for (const [size, viewport] of Object.entries(sizes)) {
  const context = await browser.newContext({ viewport, locale: 'vi-VN' });
  const page = await context.newPage();
  const seen = {};

  await page.goto(`${gateway}/`);
  seen.home = await look(page, 'home', size);
  await page.goto(`${gateway}/?lang=en`);
  seen.home_en = await look(page, 'home-en', size);
  // The choice is remembered: back to Vietnamese for the rest of this visit.
  await page.goto(`${gateway}/?lang=vi`);

  await page.goto(`${gateway}${env('AUTHORIZE')}`);
  seen.login = await look(page, 'login', size);
  await page.fill('input[name=personal_id]', env('PERSONAL_ID'));
  await page.fill('input[name=password]', env('PASSWORD'));
  await Promise.all([page.waitForURL(/interaction/), page.click('form[action$="/login"] button')]);
  seen.otp = await look(page, 'otp', size);
  await page.fill('input[name=otp]', await latestOtp());
  await Promise.all([page.waitForLoadState(), page.click('form[action$="/otp"] button')]);
  seen.consent = await look(page, 'consent', size);

  await page.goto(`${gateway}/oauth2/authorize?client_id=nobody`);
  seen.error = await look(page, 'error', size);
  await page.goto(`${gateway}${env('LOGOUT')}`);
  seen.logout = await look(page, 'logout', size);

  // The demo's desks, when the test runs them.
  if (process.env.DEMO) {
    for (const [name, path] of [['demo_index', '/'], ['demo_portal', '/portal/'], ['demo_gate', '/gate/']]) {
      await page.goto(`${process.env.DEMO}${path}`);
      seen[name] = await look(page, name.replace('_', '-'), size);
    }
  }
  report[size] = seen;
  await context.close();
}
await browser.close();
console.log(JSON.stringify(report));

// login.test.mjs: signing in without single sign-on in a real browser (Debian's Chromium via
// playwright-core): the sign-in page asks for an address, the login link arrives through
// the stack's SMTP server, opening it shows a confirmation whose button signs in, and the
// link then works no more; a password chosen through the mailed set-password link signs in
// on the sign-in page; a management link signs in after its button. The sign-in pages have
// no serious accessibility violations.
// Environment: PORTALD_URL, PORTALD_LOGIN_KEY, PORTALD_MAILBOX (test_browser.py sets them).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const base = process.env.PORTALD_URL;
const key = process.env.PORTALD_LOGIN_KEY;
const mailbox = process.env.PORTALD_MAILBOX;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
let browser;

async function api(method, path, body) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json;
}

// The login link of the newest message to address, from the captured .eml files (the
// text part may be quoted-printable: soft line breaks and =3D are undone first).
async function linkFor(address, site) {
  const re = new RegExp(`https?://[^\\s"<>]*/portal/${site}/link/[A-Za-z0-9._-]+`);
  for (let i = 0; i < 150; i++) {
    const files = readdirSync(mailbox).filter((n) => n.endsWith('.eml') && !n.startsWith('.')).sort().reverse();
    for (const f of files) {
      const raw = readFileSync(join(mailbox, f), 'utf8');
      if (!raw.includes(`Delivered-To: ${address}`)) continue;
      const flat = raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      const m = flat.match(re);
      if (m) return m[0];
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no login link mailed to ${address}`);
}

async function noSeriousViolations(page) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => await window.axe.run());
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => v.id), []);
}

before(async () => {
  assert.ok(base && key && mailbox, 'PORTALD_URL, PORTALD_LOGIN_KEY and PORTALD_MAILBOX must be set');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => { await browser?.close(); });

test('a login link by email signs in after its button, once', async () => {
  const conf = await api('GET', '/portal_configuration');
  const site = conf.id;
  const address = `lola-${Date.now()}@example.com`;
  await api('POST', '/customers', { name: 'Lola Link', email: address });

  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const res = await page.goto(conf.login_url);
  assert.equal(res.status(), 200);
  await page.getByLabel('Email address').fill(address);
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
  await page.waitForURL(`**/portal/${site}/login/sent`);
  assert.equal(await page.locator('h1').textContent(), 'Check your email');

  const link = await linkFor(address, site);
  // Opening the link signs nobody in: it shows the button.
  const opened = await page.goto(link);
  assert.equal(opened.status(), 200);
  assert.match(await page.locator('h1').textContent(), /^Sign in to /);
  assert.equal((await ctx.cookies()).find((c) => c.name === `__Host-portald_${site}`), undefined);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`**/portal/${site}`);
  assert.equal(await page.locator('.who-name').textContent(), 'Lola Link');
  const cookie = (await ctx.cookies()).find((c) => c.name === `__Host-portald_${site}`);
  assert.ok(cookie, 'session cookie set');
  assert.equal(cookie.httpOnly, true);

  // The link is used up: a second browser is told so.
  const other = await (await browser.newContext()).newPage();
  const again = await other.goto(link);
  assert.equal(again.status(), 410);
  assert.match(await other.locator('h1').textContent(), /expired/);
  const events = await api('GET', '/events?type=portal_session.logged_in');
  assert.equal(events.data.length, 1);
  await ctx.close();
});

test('the sign-in pages have no serious accessibility violations', async () => {
  const conf = await api('GET', '/portal_configuration');
  const ctx = await browser.newContext({ bypassCSP: true });
  const page = await ctx.newPage();
  await page.goto(conf.login_url);
  await noSeriousViolations(page);
  // The form with an error, as a screen reader meets it.
  await page.getByLabel('Email address').fill('not an address');
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
  assert.match(await page.title(), /^Error: /);
  await noSeriousViolations(page);
  await ctx.close();
});

test('a password set through the mailed link signs in on the sign-in page', async () => {
  const conf = await api('GET', '/portal_configuration');
  const site = conf.id;
  const address = `pat-${Date.now()}@example.com`;
  await api('POST', '/customers', { name: 'Pat Word', email: address });
  await api('POST', '/portal_configuration', { sign_in: { password: true } });
  try {
    const ctx = await browser.newContext({ bypassCSP: true });	// for axe
    const page = await ctx.newPage();
    await page.goto(`${conf.login_url}/signup`);
    await page.getByLabel('Email address').fill(address);
    await page.getByRole('button', { name: 'Email me a link' }).click();
    await page.waitForURL(`**/portal/${site}/login/password_sent`);

    await page.goto(await linkFor(address, site));
    assert.equal(await page.locator('h1').textContent(), 'Choose your password');
    // Too short: refused with the rule, nothing used.
    await page.getByLabel('New password').fill('short');
    await page.getByRole('button', { name: 'Save password and sign in' }).click();
    assert.match(await page.title(), /^Error: /);
    const pw = `correct horse ${Date.now()} staple`;
    await page.getByLabel('New password').fill(pw);
    await page.getByRole('button', { name: 'Save password and sign in' }).click();
    await page.waitForURL(`**/portal/${site}`);
    assert.equal(await page.locator('.who-name').textContent(), 'Pat Word');
    await noSeriousViolations(page);
    await ctx.close();

    // Another browser signs in with it on the sign-in page.
    const ctx2 = await browser.newContext();
    const p2 = await ctx2.newPage();
    await p2.goto(conf.login_url);
    await p2.locator('#f-pw-email').fill(address);
    await p2.locator('#f-password').fill(pw);
    await p2.getByRole('button', { name: 'Sign in', exact: true }).click();
    await p2.waitForURL(`**/portal/${site}`);
    assert.equal(await p2.locator('.who-name').textContent(), 'Pat Word');
    await ctx2.close();
  } finally {
    await api('POST', '/portal_configuration', { sign_in: { password: false } });
  }
});

test('a management link signs in after its button', async () => {
  const conf = await api('GET', '/portal_configuration');
  const site = conf.id;
  const cus = await api('POST', '/customers', { name: 'Max Manage', email: `max-${Date.now()}@example.com` });
  await api('POST', '/portal_configuration', { sign_in: { email_verification: false } });
  try {
    const link = await api('GET', `/customers/${cus.id}/management_link`);
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const opened = await page.goto(link.url);
    assert.equal(opened.status(), 200);
    assert.equal((await ctx.cookies()).find((c) => c.name === `__Host-portald_${site}`), undefined);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`**/portal/${site}`);
    assert.equal(await page.locator('.who-name').textContent(), 'Max Manage');
    await ctx.close();
  } finally {
    await api('POST', '/portal_configuration', { sign_in: { email_verification: true } });
  }
});

// sso.test.mjs: the portal in a real browser (Debian's Chromium via playwright-core):
// the one-time link signs in, the page is accessible and fits a 360 px phone, and the
// sign-out button ends the session and returns to the merchant.
// Environment: PORTALD_URL, PORTALD_API_KEY (tests/integration/test_browser.py sets them).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const base = process.env.PORTALD_URL;
const key = process.env.PORTALD_API_KEY;
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

async function newSession(name) {
  const cus = await api('POST', '/customers', { name, email: 'browser@example.com' });
  // The merchant's "account page" here is the stack's own health URL: no outside network.
  return api('POST', '/portal_sessions', { customer_id: cus.id, redirect_url: `${base}/healthz` });
}

before(async () => {
  assert.ok(base && key, 'PORTALD_URL and PORTALD_API_KEY must be set');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => { await browser?.close(); });

test('access link signs in and shows the customer', async () => {
  const sess = await newSession('Ada Browser');
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const res = await page.goto(sess.access_url);
  assert.equal(res.status(), 200);
  const site = new URL(sess.access_url).pathname.split('/')[2];
  assert.equal(new URL(page.url()).pathname, `/portal/${site}`);
  assert.equal(await page.locator('.who-name').textContent(), 'Ada Browser');
  const cookies = await ctx.cookies();
  const c = cookies.find((x) => x.name === `__Host-portald_${site}`);
  assert.ok(c, 'session cookie set');
  assert.equal(c.httpOnly, true);
  assert.equal(c.secure, true);
  assert.equal(c.sameSite, 'Lax');
  assert.equal(c.path, '/');
  await ctx.close();
});

test('the link works once', async () => {
  const sess = await newSession('Once Only');
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(sess.access_url);
  const again = await (await browser.newContext()).newPage();
  const res = await again.goto(sess.access_url);
  assert.equal(res.status(), 410);
  assert.match(await again.locator('h1').textContent(), /expired/);
  assert.equal(await again.locator('a.button').getAttribute('href'), `${base}/healthz`);
  await ctx.close();
});

test('portal page has no serious accessibility violations', async () => {
  const sess = await newSession('Axe Check');
  // The portal's CSP forbids inline scripts (rightly): let the test inject axe anyway.
  const ctx = await browser.newContext({ bypassCSP: true });
  const page = await ctx.newPage();
  await page.goto(sess.access_url);
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => await window.axe.run());
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help}`), []);
  await ctx.close();
});

test('fits a 360 px phone without sideways scrolling', async () => {
  const sess = await newSession('A Customer With A Rather Long Name For A Small Phone');
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const page = await ctx.newPage();
  await page.goto(sess.access_url);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  const box = await page.getByRole('button', { name: 'Sign out' }).boundingBox();
  assert.ok(box.height >= 44, 'touch target at least 44 px high');
  await ctx.close();
});

test('sign-out button ends the session and offers the way back to the merchant', async () => {
  const sess = await newSession('Sign Out');
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(sess.access_url);
  const home = page.url();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/signed_out\?session=/);
  assert.match(await page.locator('h1').textContent(), /signed out/);
  const after = await api('GET', `/portal_sessions/${sess.id}`);
  assert.equal(after.status, 'logged_out');
  await page.locator('main a.button').click();
  await page.waitForURL(`${base}/healthz`);
  const back = await page.goto(home);
  assert.equal(back.status(), 401);
  await ctx.close();
});

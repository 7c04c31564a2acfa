// stripe_hosted.mjs: the portal's pages on a Stripe site in Chromium with JavaScript off,
// against the Stripe stand-in's hosted pages: a card added through Checkout (the POST's
// redirect to the stand-in passes the page's form-action) and back, and an invoice whose
// charge needs 3-D Secure completed through Complete payment and the bank's page; axe-core
// (WCAG 2.2 A/AA) and screenshots at 360 px and 1280 px on the portal's pages. Run by
// test_browser.py (StripeBrowser) with PORTALD_URL, PORTALD_STRIPE_KEY (a Stripe site's API
// key), PORTALD_3DS_CUSTOMER (a customer whose invoice waits for the bank),
// PORTALD_SCREENSHOTS. Not a *.test.mjs: the shared stack's run has no Stripe.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.PORTALD_URL;
const key = process.env.PORTALD_STRIPE_KEY;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];
let shots = process.env.PORTALD_SCREENSHOTS;
let browser, axeCtx, site;

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

async function axe(html, width) {
  const page = await axeCtx.newPage();
  await page.setViewportSize({ width, height: 900 });
  await page.route(`${base}/__axe__`, (r) => r.fulfill({ body: html, contentType: 'text/html' }));
  await page.goto(`${base}/__axe__`);
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async (tags) => await window.axe.run(document,
    { runOnly: { type: 'tag', values: tags } }), TAGS);
  await page.close();
  return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(', ')})`);
}

async function visit(page, name) {
  const html = await page.content();
  for (const width of [360, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    assert.deepEqual(await axe(html, width), [], `${name} at ${width} px`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name} at ${width} px is ${overflow} px too wide`);
    await page.screenshot({ path: join(shots, `stripe-${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function signIn(customerId) {
  // The stand-in's pages use its own test certificate.
  const ctx = await browser.newContext({ javaScriptEnabled: false, ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const sess = await api('POST', '/portal_sessions', { customer_id: customerId,
    redirect_url: 'https://shop.example/account' });
  await page.goto(sess.access_url);
  return { ctx, page };
}

const main = (page) => page.locator('#main');

before(async () => {
  assert.ok(base && key, 'PORTALD_URL and PORTALD_STRIPE_KEY must be set');
  if (!shots) shots = mkdtempSync(join(tmpdir(), 'portald-screenshots-'));
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  axeCtx = await browser.newContext({ bypassCSP: true });
  site = (await api('GET', '/portal_configuration')).id;
});

after(async () => { await browser?.close(); });

test('a card added on the hosted Checkout page and back, without JavaScript', async () => {
  const cus = await api('POST', '/customers', { name: 'Hana Hosted', email: 'hana@example.com' });
  const { ctx, page } = await signIn(cus.id);
  await page.goto(`${base}/portal/${site}/payment_methods/new`);
  await visit(page, 'card-hosted');
  await page.getByRole('button', { name: 'Continue to the secure page' }).click();
  // The stand-in's Checkout page: Chromium followed the POST's 303 (form-action allows it).
  assert.match(page.url(), /\/checkout\/pay\/cs_/);
  await page.getByRole('button', { name: /ending 4242 \(pm_card_visa\)/ }).click();
  assert.match(page.url(), new RegExp(`/portal/${site}/payment_methods/setups/setup_`));
  if (await page.getByRole('button', { name: 'Check now' }).count()) {
    await visit(page, 'card-setup-waiting');
    await page.getByRole('button', { name: 'Check now' }).click();
  }
  assert.match(await main(page).innerText(), /Your card has been saved/);
  assert.match(await main(page).innerText(), /Visa ending 4242/);
  await visit(page, 'card-setup-saved');
  const cards = (await api('GET', `/customers/${cus.id}/payment_methods`)).data;
  assert.deepEqual(cards.map((c) => [c.last4, c.is_default]), [['4242', true]]);
  await ctx.close();
});

test('Complete payment: the bank\'s page reached by redirects, and back, without JavaScript', async () => {
  const cusId = process.env.PORTALD_3DS_CUSTOMER;
  assert.ok(cusId, 'PORTALD_3DS_CUSTOMER must be set');
  const { ctx, page } = await signIn(cusId);
  const link = page.getByRole('link', { name: 'Complete payment' }).first();
  assert.ok(await link.count(), 'the overview offers Complete payment');
  await link.click();
  assert.match(page.url(), /\/invoices\/[^/]+\/complete$/);
  await visit(page, 'complete-review');
  await page.getByRole('button', { name: /with my bank/ }).click();
  assert.match(page.url(), /\/3ds\/pi_/);
  await page.getByRole('button', { name: 'Complete authentication' }).click();
  assert.match(page.url(), /\/invoices\/[^/]+\/completed\?payment_intent=pi_/);
  if (await page.getByRole('button', { name: 'Check now' }).count()) {
    await visit(page, 'complete-waiting');
    await page.getByRole('button', { name: 'Check now' }).click();
  }
  assert.match(await main(page).innerText(), /Payment received/);
  await visit(page, 'complete-paid');
  const invs = (await api('GET', `/invoices?customer_id=${cusId}`)).data;
  assert.deepEqual(invs.map((i) => i.status), ['paid']);
  await ctx.close();
});

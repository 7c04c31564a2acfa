// documents.test.mjs: the invoice list's downloads in Chromium with JavaScript off: the
// invoice PDF and the year's ZIP are real downloads named after the document, axe-core
// finds nothing on the list; and on a phone (375 px and 360 px) the navigation is a compact
// block at the top, not a tall stack of links. Screenshots go to $PORTALD_SCREENSHOTS.
// Environment: PORTALD_URL, PORTALD_API_KEY (test_browser.py); the site's settings are not
// changed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.PORTALD_URL;
const key = process.env.PORTALD_API_KEY;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];
let shots = process.env.PORTALD_SCREENSHOTS;
let browser, axeCtx, site, cus, inv;

async function api(method, path, body, want = 200) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  assert.equal(res.status, want, JSON.stringify(json));
  return json;
}

// The job runner renders each PDF once, within seconds of the invoice.
async function rendered(id) {
  for (let i = 0; i < 600; i++) {
    const res = await fetch(`${base}/api/v1/invoices/${id}/pdf`,
      { headers: { Authorization: `Bearer ${key}` } });
    await res.arrayBuffer();
    if (res.status === 200) return;
    assert.equal(res.status, 409);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`the PDF of ${id} was not rendered`);
}

async function signedIn(width) {
  const ctx = await browser.newContext({ javaScriptEnabled: false, acceptDownloads: true,
    viewport: { width, height: 800 } });
  const sess = await api('POST', '/portal_sessions', { customer_id: cus.id,
    redirect_url: `${base}/healthz` });
  const page = await ctx.newPage();
  await page.goto(sess.access_url);
  return { ctx, page };
}

async function axe(html, width) {
  const page = await axeCtx.newPage();
  await page.setViewportSize({ width, height: 800 });
  await page.route(`${base}/__axe__`, (r) => r.fulfill({ body: html, contentType: 'text/html' }));
  await page.goto(`${base}/__axe__`);
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async (tags) => await window.axe.run(document,
    { runOnly: { type: 'tag', values: tags } }), TAGS);
  await page.close();
  return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(', ')})`);
}

before(async () => {
  assert.ok(base && key, 'PORTALD_URL and PORTALD_API_KEY must be set');
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
  cus = await api('POST', '/customers', { name: 'Mary Somerville', email: 'mary@example.com' });
  const tok = await api('POST', '/test_gateway/tokens', { number: '4242424242424242',
    exp_month: 12, exp_year: 2035 });
  await api('POST', `/customers/${cus.id}/payment_methods`, { token: tok.id });
  inv = await api('POST', '/invoices', { customer_id: cus.id, currency: 'USD',
    lines: [{ description: 'Orrery repair', amount: 4200 }] });
  await rendered(inv.id);
});

after(async () => { await browser?.close(); });

test('the invoice list downloads the invoice PDF and the year\'s ZIP as named files', async () => {
  const { ctx, page } = await signedIn(1280);
  await page.goto(`${base}/portal/${site}/invoices`);
  const html = await page.content();
  assert.deepEqual(await axe(html, 1280), [], 'invoices at 1280 px');
  assert.deepEqual(await axe(html, 375), [], 'invoices at 375 px');
  await page.screenshot({ path: join(shots, 'documents-invoices-1280.png'), fullPage: true });
  const link = page.getByRole('link', { name: `Download PDF of invoice ${inv.formatted_number}` });
  let [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  assert.equal(download.suggestedFilename(), `${inv.formatted_number}.pdf`);
  const pdf = readFileSync(await download.path());
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  const year = new Date(inv.created_at * 1000).getUTCFullYear();
  [download] = await Promise.all([page.waitForEvent('download'),
    page.getByRole('link', { name: `Download all invoices of ${year}` }).click()]);
  assert.equal(download.suggestedFilename(), `documents-${cus.id}-${year}.zip`);
  const zip = readFileSync(await download.path());
  assert.equal(zip.subarray(0, 4).toString('latin1'), 'PK\x03\x04');
  assert.ok(zip.includes(Buffer.from(`invoices/${inv.formatted_number}.pdf`)));
  await ctx.close();
});

test('on a phone the navigation is a compact block, every item visible at once', async () => {
  for (const width of [375, 360]) {
    const { ctx, page } = await signedIn(width);
    await page.goto(`${base}/portal/${site}/invoices`);
    const nav = page.getByRole('navigation', { name: 'Your account' });
    const box = await nav.boundingBox();
    // Six items (five links and Sign out) in at most two rows of 44 px targets.
    assert.ok(box.height <= 110, `the navigation is ${box.height} px tall at ${width} px`);
    for (const name of ['Overview', 'Subscriptions', 'Payment methods', 'Billing details',
      'Invoices']) {
      const b = await nav.getByRole('link', { name }).boundingBox();
      assert.ok(b.x >= 0 && b.x + b.width <= width, `${name} is off screen at ${width} px`);
      assert.ok(b.height >= 44, `${name} is a ${b.height} px target at ${width} px`);
      const fits = await nav.getByRole('link', { name }).evaluate((e) => e.scrollWidth <= e.clientWidth);
      assert.ok(fits, `${name} overflows its tile at ${width} px`);
    }
    const out = await nav.getByRole('button', { name: 'Sign out' }).boundingBox();
    assert.ok(out.y + out.height <= box.y + box.height, 'Sign out is part of the block');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px too wide at ${width} px`);
    await page.screenshot({ path: join(shots, `documents-nav-${width}.png`), fullPage: false });
    await ctx.close();
  }
});

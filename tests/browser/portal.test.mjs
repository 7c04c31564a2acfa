// portal.test.mjs: the customer portal's pages in Chromium with JavaScript off, at 360 px
// and 1280 px: sign-in by the SSO link, every page of the frame, axe-core (WCAG 2.2 A/AA)
// on every page and every validation state, the billing details form (empty, wrong, right,
// by keyboard only), CSRF, another customer's data, settings and overrides (also by posting
// a disabled form), branding, the test-mode banner and two sites in one browser.
// Screenshots of every page at both widths go to $PORTALD_SCREENSHOTS (printed).
// Environment: PORTALD_URL, PORTALD_PORTAL_KEY, PORTALD_PORTAL_KEY_2 (test_browser.py).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import { chromium } from 'playwright-core';

const base = process.env.PORTALD_URL;
const keys = [process.env.PORTALD_PORTAL_KEY, process.env.PORTALD_PORTAL_KEY_2];
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WIDTHS = [360, 1280];
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];
let shots = process.env.PORTALD_SCREENSHOTS;
let browser, axeCtx, sites = [];

async function api(i, method, path, body, raw) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${keys[i]}`,
      'Content-Type': raw ? 'image/png' : 'application/json' },
    body: raw ?? (body ? JSON.stringify(body) : undefined),
  });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json;
}

// A small logo, made here: a PNG with a circle and a bar.
function logoPng(w = 180, h = 60) {
  const raw = Buffer.alloc((w * 4 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * (w * 4 + 1) + 1 + x * 4;
      const inCircle = (x - 30) ** 2 + (y - 30) ** 2 < 24 ** 2;
      const inBar = x > 64 && x < 172 && y > 22 && y < 38;
      if (inCircle || inBar) raw.set(inCircle ? [217, 72, 15, 255] : [30, 41, 59, 255], o);
    }
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 6;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

async function customer(i, name, email, extra = {}) {
  return api(i, 'POST', '/customers', { name, email, ...extra });
}

async function session(i, cus, extra = {}) {
  return api(i, 'POST', '/portal_sessions', { customer_id: cus.id,
    redirect_url: `${base}/healthz`, ...extra });
}

// A browser context with JavaScript off: the portal ships none and must not need any.
async function context(width = 1280) {
  return browser.newContext({ javaScriptEnabled: false, viewport: { width, height: 900 } });
}

// axe cannot run in a page without JavaScript: the same HTML, served at the same origin
// in a JavaScript-enabled twin page, is checked instead.
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

// Every page the tests reach: accessible, no sideways scrolling at 360 px, screenshots
// at both widths.
async function visit(page, name) {
  const html = await page.content();
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    assert.deepEqual(await axe(html, width), [], `${name} at ${width} px`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name} at ${width} px is ${overflow} px too wide`);
    await page.screenshot({ path: join(shots, `${name}-${width}.png`), fullPage: true });
  }
}

before(async () => {
  assert.ok(base && keys[0] && keys[1], 'PORTALD_URL, PORTALD_PORTAL_KEY(_2) must be set');
  if (!shots) shots = mkdtempSync(join(tmpdir(), 'portald-screenshots-'));
  mkdirSync(shots, { recursive: true });
  console.log(`screenshots: ${shots}`);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  axeCtx = await browser.newContext({ bypassCSP: true });
  for (const i of [0, 1]) sites.push((await api(i, 'GET', '/portal_configuration')).id);
  await api(0, 'POST', '/portal_configuration', { business_name: 'Northwind Analytics',
    brand_color: '#0e7490', website_url: 'https://northwind.example',
    terms_url: 'https://northwind.example/terms', privacy_url: 'https://northwind.example/privacy',
    help_url: 'https://northwind.example/help', time_zone: 'Europe/London' });
  await api(0, 'POST', '/portal_configuration/logo', null, logoPng());
  await api(1, 'POST', '/portal_configuration', { business_name: 'Lemon & Lime Co',
    brand_color: '#ffd84d' });
});

after(async () => { await browser?.close(); });

test('sign in through the SSO link: the overview, with the site\'s name, logo and colour', async () => {
  const cus = await customer(0, 'Ada Lovelace', 'ada@example.com', { company: 'Analytical Engines',
    billing_address: { line1: '12 St James Square', city: 'London', postal_code: 'SW1Y 4JH', country: 'GB' } });
  const sess = await session(0, cus);
  const ctx = await context();
  const page = await ctx.newPage();
  const res = await page.goto(sess.access_url);
  assert.equal(res.status(), 200);
  assert.equal(new URL(page.url()).pathname, `/portal/${sites[0]}`);
  assert.equal(await page.locator('.brand-name').textContent(), 'Northwind Analytics');
  assert.equal(await page.locator('.who-name').textContent(), 'Ada Lovelace');
  const logo = page.locator('.brand-logo img');
  assert.ok(await logo.evaluate((img) => img.complete && img.naturalWidth === 180), 'logo loads');
  const bg = await page.locator('.masthead').evaluate((e) => getComputedStyle(e).backgroundColor);
  assert.equal(bg, 'rgb(14, 116, 144)', 'the brand colour');
  assert.ok(await page.getByText('Test mode').isVisible(), 'test-mode banner');
  assert.equal(await page.getByRole('link', { name: 'Return to Northwind Analytics' }).getAttribute('href'),
    `${base}/healthz`);
  for (const [name, href] of [['Terms of service', 'https://northwind.example/terms'],
    ['Privacy policy', 'https://northwind.example/privacy'], ['Help', 'https://northwind.example/help']])
    assert.equal(await page.getByRole('link', { name }).getAttribute('href'), href);
  assert.equal(await page.getByRole('navigation').getByRole('link', { name: 'Overview' })
    .getAttribute('aria-current'), 'page');
  await visit(page, 'overview');
  await ctx.close();
});

test('billing details: empty, wrong and right, with every validation state accessible', async () => {
  const cus = await customer(0, 'Grace Hopper', 'grace@example.com');
  const ctx = await context();
  const page = await ctx.newPage();
  await page.goto((await session(0, cus)).access_url);
  await page.getByRole('link', { name: 'Billing details' }).first().click();
  assert.match(await page.title(), /^Billing details/);
  await visit(page, 'billing-details');

  await page.getByLabel('Full name').fill('');
  await page.getByRole('button', { name: 'Save billing details' }).click();
  assert.match(await page.title(), /^Error: Billing details/);
  const summary = page.locator('.error-summary');
  assert.ok(await summary.isVisible());
  for (const text of ['Enter your full name', 'Enter address line 1, typically the building and street',
    'Enter town or city', 'Select your country']) {
    const link = summary.getByRole('link', { name: text });
    const target = (await link.getAttribute('href')).slice(1);
    const describedBy = await page.locator(`#${target}`).getAttribute('aria-describedby');
    assert.ok(describedBy.split(' ').includes(`${target}-error`), `${text} linked to its field`);
  }
  await visit(page, 'billing-details-empty');

  await page.getByLabel('Full name').fill('Grace Hopper');
  await page.getByLabel('Phone number (optional)').fill('call me maybe');
  await page.getByLabel('Tax ID type (optional)').selectOption('eu_vat');
  await page.getByLabel('Address line 1').fill('1 Main Street');
  await page.getByLabel('Town or city').fill('Arlington');
  await page.getByRole('button', { name: 'Save billing details' }).click();
  assert.match(await page.title(), /^Error: /);
  assert.ok(await page.getByText('Enter a phone number, like').first().isVisible());
  assert.ok(await page.getByText('Enter your tax ID, or choose "No tax ID"').first().isVisible());
  assert.equal(await page.getByLabel('Address line 1').inputValue(), '1 Main Street', 'answers kept');
  await visit(page, 'billing-details-wrong');

  await page.getByLabel('Phone number (optional)').fill('+1 202 555 0143');
  await page.getByLabel('Tax ID (optional)', { exact: true }).fill('DE123456789');
  await page.getByLabel('Country').selectOption('US');
  await page.getByRole('button', { name: 'Save billing details' }).click();
  // The domain checks the number (its check digit), and the page puts that on the field.
  assert.match(await page.title(), /^Error: /);
  assert.ok(await page.getByText('check digit').first().isVisible());
  await visit(page, 'billing-details-tax-id-refused');
  await page.getByLabel('Tax ID (optional)', { exact: true }).fill('de 136 695 976');
  await page.getByRole('button', { name: 'Save billing details' }).click();
  assert.equal(new URL(page.url()).pathname, `/portal/${sites[0]}`);
  assert.ok(await page.getByRole('status').getByText('Your billing details have been updated.').isVisible());
  const saved = await api(0, 'GET', `/customers/${cus.id}`);
  assert.equal(saved.phone, '+1 202 555 0143');
  assert.deepEqual(saved.tax_id, { type: 'eu_vat', value: 'DE136695976' });
  assert.equal(saved.billing_address.country, 'US');
  await visit(page, 'overview-updated');
  await ctx.close();
});

test('billing details can be completed with the keyboard alone', async () => {
  const cus = await customer(0, '', 'keys@example.com');
  const ctx = await context(360);
  const page = await ctx.newPage();
  await page.goto((await session(0, cus)).access_url);
  await page.goto(`${base}/portal/${sites[0]}/billing_details`);
  const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
  // From the top of the page, Tab until the first field has the focus.
  for (let i = 0; i < 30 && (await focused()) !== 'f-name'; i++) await page.keyboard.press('Tab');
  assert.equal(await focused(), 'f-name');
  const answers = { 'f-name': 'Kay Board', 'f-phone': '', 'f-company': 'Keys Ltd' };
  await page.keyboard.type(answers['f-name']);
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'f-phone');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'f-company');
  await page.keyboard.type(answers['f-company']);
  await page.keyboard.press('Tab');          // tax id type: leave "No tax ID"
  await page.keyboard.press('Tab');          // tax id
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'f-line1');
  await page.keyboard.type('7 Tab Street');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'f-city');
  await page.keyboard.type('Keyport');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'f-country');
  await page.keyboard.type('France');      // a select takes typed text
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Save billing details');
  await page.keyboard.press('Enter');
  await page.waitForURL(/updated=billing_details/);
  const saved = await api(0, 'GET', `/customers/${cus.id}`);
  assert.equal(saved.name, 'Kay Board');
  assert.equal(saved.company, 'Keys Ltd');
  assert.equal(saved.billing_address.country, 'FR');
  await ctx.close();
});

test('error pages: 404, signed out, expired and invalid links, unknown site, a forged form (403)', async () => {
  const cus = await customer(0, 'Err Pages', 'err@example.com');
  const sess = await session(0, cus);
  const ctx = await context();
  const page = await ctx.newPage();
  let res = await page.goto(`${base}/portal/${sites[0]}`);
  assert.equal(res.status(), 401);
  assert.match(await page.locator('h1').textContent(), /signed out/);
  await visit(page, 'signed-out-no-session');

  await page.goto(sess.access_url);
  res = await page.goto(`${base}/portal/${sites[0]}/no/such/page`);
  assert.equal(res.status(), 404);
  assert.equal(await page.locator('.brand-name').textContent(), 'Northwind Analytics');
  assert.ok(await page.getByRole('link', { name: 'Go to your account' }).isVisible());
  await visit(page, 'not-found');

  // A form whose CSRF token is missing or wrong changes nothing: a branded 403.
  await page.goto(`${base}/portal/${sites[0]}/billing_details`);
  await page.locator('#main input[name=csrf_token]').evaluate((e) => { e.value = 'forged'; });
  await page.getByLabel('Full name').fill('Should Not Save');
  await page.getByRole('button', { name: 'Save billing details' }).click();
  assert.match(await page.locator('h1').textContent(), /expired/);
  await visit(page, 'forbidden-csrf');
  await page.goto(`${base}/portal/${sites[0]}/billing_details`);
  await page.locator('#main input[name=csrf_token]').evaluate((e) => e.remove());
  await page.getByRole('button', { name: 'Save billing details' }).click();
  assert.match(await page.locator('h1').textContent(), /expired/);
  assert.equal((await api(0, 'GET', `/customers/${cus.id}`)).name, 'Err Pages');

  await page.goto(`${base}/portal/${sites[0]}`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/signed_out/);
  assert.equal(await page.getByRole('link', { name: 'Return to Northwind Analytics' }).first()
    .getAttribute('href'), `${base}/healthz`);
  await visit(page, 'signed-out');

  const fresh = await ctx.newPage();
  res = await fresh.goto(sess.access_url);
  assert.equal(res.status(), 410);
  await visit(fresh, 'link-expired');
  res = await fresh.goto(`${base}/portal/${sites[0]}/access/${sites[0]}.ps_x.${'A'.repeat(43)}`);
  assert.equal(res.status(), 404);
  await visit(fresh, 'link-invalid');
  res = await fresh.goto(`${base}/portal/no-such-site`);
  assert.equal(res.status(), 404);
  await visit(fresh, 'unknown-site');
  await ctx.close();
});

test('another customer\'s session cannot see this customer\'s data', async () => {
  const mine = await customer(0, 'Mine Alone', 'mine@example.com', { phone: '+44 20 7946 0000' });
  const theirs = await customer(0, 'Their Own', 'theirs@example.com');
  const ctx = await context();
  const page = await ctx.newPage();
  await page.goto((await session(0, theirs)).access_url);
  for (const path of ['', '/billing_details']) {
    const text = await (await page.goto(`${base}/portal/${sites[0]}${path}`)).text();
    assert.ok(!text.includes('Mine Alone') && !text.includes('mine@example.com') &&
      !text.includes('7946'), path);
  }
  await ctx.close();
});

test('settings and session overrides take effect, also against a form posted directly', async () => {
  const cus = await customer(0, 'Set Tings', 'settings@example.com');
  const ctx = await context();
  const page = await ctx.newPage();
  await page.goto((await session(0, cus)).access_url);
  await page.goto(`${base}/portal/${sites[0]}/billing_details`);
  assert.equal(await page.locator('input[name=email]').count(), 0, 'email not editable by default');
  // The merchant turns billing details off while the form is open: posting it changes nothing.
  await api(0, 'POST', '/portal_configuration', { features: { edit_billing_details: false } });
  try {
    await page.getByLabel('Full name').fill('Posted Anyway');
    await page.getByRole('button', { name: 'Save billing details' }).click();
    assert.match(await page.locator('h1').textContent(), /cannot be changed/);
    await visit(page, 'billing-details-disabled');
    assert.equal((await api(0, 'GET', `/customers/${cus.id}`)).name, 'Set Tings');
    await page.goto(`${base}/portal/${sites[0]}`);
    assert.equal(await page.getByRole('navigation').getByRole('link', { name: 'Billing details' }).count(), 0);
    assert.equal(await page.getByRole('link', { name: /Change/ }).count(), 0);
    // A session may turn it back on (the merchant's backend is trusted), email included.
    const on = await context();
    const p2 = await on.newPage();
    await p2.goto((await session(0, cus, { features: { edit_billing_details: true, email_editable: true } })).access_url);
    await p2.getByRole('navigation').getByRole('link', { name: 'Billing details' }).click();
    await p2.getByLabel('Email address').fill('changed@example.com');
    await p2.getByRole('button', { name: 'Save billing details' }).click();
    assert.equal(await p2.getByLabel('Address line 1').count(), 1, 'address still required');
    await p2.getByLabel('Address line 1').fill('1 Override Way');
    await p2.getByLabel('Town or city').fill('Overton');
    await p2.getByLabel('Country').selectOption('IE');
    await p2.getByRole('button', { name: 'Save billing details' }).click();
    await p2.waitForURL(/updated=billing_details/);
    assert.equal((await api(0, 'GET', `/customers/${cus.id}`)).email, 'changed@example.com');
    await on.close();
    // And a session may turn it off where the site allows it.
    await api(0, 'POST', '/portal_configuration', { features: { edit_billing_details: true } });
    const off = await context();
    const p3 = await off.newPage();
    await p3.goto((await session(0, cus, { features: { edit_billing_details: false } })).access_url);
    const res = await p3.goto(`${base}/portal/${sites[0]}/billing_details`);
    assert.equal(res.status(), 403);
    await off.close();
  } finally {
    await api(0, 'POST', '/portal_configuration', { features: { edit_billing_details: true } });
  }
  await ctx.close();
});

test('two sites\' sessions in one browser, each with its own branding', async () => {
  const a = await customer(0, 'Site A Person', 'a@example.com');
  const b = await customer(1, 'Site B Person', 'b@example.com');
  const ctx = await context();
  const page = await ctx.newPage();
  await page.goto((await session(0, a)).access_url);
  await page.goto((await session(1, b)).access_url);
  const names = (await ctx.cookies()).map((c) => c.name);
  assert.ok(names.includes(`__Host-portald_${sites[0]}`) && names.includes(`__Host-portald_${sites[1]}`));
  await page.goto(`${base}/portal/${sites[1]}`);
  assert.equal(await page.locator('.brand-name').textContent(), 'Lemon & Lime Co');
  assert.equal(await page.locator('.who-name').textContent(), 'Site B Person');
  const fg = await page.locator('.brand-name').evaluate((e) => getComputedStyle(e).color);
  assert.equal(fg, 'rgb(20, 23, 26)', 'dark text on a yellow brand colour');
  await visit(page, 'second-site-overview');
  await page.goto(`${base}/portal/${sites[0]}`);
  assert.equal(await page.locator('.who-name').textContent(), 'Site A Person');
  await ctx.close();
});

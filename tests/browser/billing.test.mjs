// billing.test.mjs: every self-service action of the portal in Chromium with JavaScript off,
// at 360 px and 1280 px, against the real stack: the overview, subscriptions, change plan,
// cancel, keep, reactivate, pause and resume, payment methods and invoices; axe-core (WCAG
// 2.2 A/AA) on every page, error state and validation state; each form sent empty and
// wrong; cancel and change plan completed with the keyboard alone; each setting and session
// override shown to take effect, also by posting a form the setting has since turned off;
// deep links; another customer's ids (404); a forged CSRF token (403); a double-submitted
// confirm bills once (counted through the API). Screenshots of every page at both widths go
// to $PORTALD_SCREENSHOTS. Environment: PORTALD_URL, PORTALD_BILLING_KEY (test_browser.py).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.PORTALD_URL;
const key = process.env.PORTALD_BILLING_KEY;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WIDTHS = [360, 1280];
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];
let shots = process.env.PORTALD_SCREENSHOTS;
let browser, axeCtx, site, home;

async function call(method, path, body) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json() };
}

async function api(method, path, body) {
  const r = await call(method, path, body);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
}

const DEFAULTS = { change_plan: true, change_plan_plans: ['basic', 'pro', 'team'],
  change_plan_timing: 'now', downgrades_at_end_of_term: true, cancel_subscription: true,
  cancel_mode: 'immediately', cancel_reason: 'optional', cancel_comment: true,
  pause_subscription: true, pause_max_days: 60, reactivate_subscription: true,
  payment_methods: true, invoice_history: true };

async function settings(features) {
  await api('POST', '/portal_configuration', { features });
}

async function card(cus, number = '4242424242424242') {
  const tok = await api('POST', '/test_gateway/tokens', { number, exp_month: 12, exp_year: 2035 });
  return api('POST', `/customers/${cus}/payment_methods`, { token: tok.id });
}

// A customer with a card (or none) and subscriptions on these plans.
async function customer(name, { number = '4242424242424242', plans = [] } = {}) {
  const email = `${name.toLowerCase().replace(/[^a-z]+/g, '.')}@example.com`;
  const cus = await api('POST', '/customers', { name, email, billing_address:
    { line1: '1 Harbour Street', city: 'Bristol', postal_code: 'BS1 4RN', country: 'GB' } });
  if (number) await card(cus.id, number);
  const subs = [];
  for (const plan of plans) subs.push(await api('POST', '/subscriptions', { customer_id: cus.id, plan_id: plan }));
  return { ...cus, subs };
}

async function invoiceCount(cus) {
  return (await api('GET', `/invoices?limit=100&customer_id=${cus.id}`)).data.length;
}

async function context(width = 1280) {
  return browser.newContext({ javaScriptEnabled: false, viewport: { width, height: 900 } });
}

// Signs the customer in (optionally with session overrides or a flow): the page is on the
// portal afterwards.
async function signIn(cus, extra = {}, width = 1280) {
  const ctx = await context(width);
  const page = await ctx.newPage();
  const sess = await api('POST', '/portal_sessions', { customer_id: cus.id,
    redirect_url: 'https://shop.example/account', ...extra });
  await page.goto(sess.access_url);
  return { ctx, page };
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

// Every page the tests reach: accessible, no sideways scrolling at 360 px, screenshots.
async function visit(page, name) {
  const html = await page.content();
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    assert.deepEqual(await axe(html, width), [], `${name} at ${width} px`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name} at ${width} px is ${overflow} px too wide`);
    await page.screenshot({ path: join(shots, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

const main = (page) => page.locator('#main');
const path = (page) => new URL(page.url()).pathname;
async function title(page) { return page.title(); }
async function errorSummary(page, messages) {
  assert.match(await title(page), /^Error: /);
  const summary = page.locator('.error-summary');
  assert.ok(await summary.isVisible());
  for (const text of messages) {
    const link = summary.getByRole('link', { name: text });
    assert.ok(await link.count(), `summary links "${text}"`);
    const target = (await link.first().getAttribute('href')).slice(1);
    const describedBy = await page.locator(`#${target}`).evaluate((e) =>
      `${e.getAttribute('aria-describedby') || ''} ${e.closest('.choice-fieldset')?.getAttribute('aria-describedby') || ''}`);
    assert.ok(describedBy.split(' ').includes(`${target}-error`), `${text} tied to its field`);
  }
}

before(async () => {
  assert.ok(base && key, 'PORTALD_URL and PORTALD_BILLING_KEY must be set');
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
  home = `${base}/portal/${site}`;
  for (const p of [
    { id: 'basic', name: 'Basic', amount: 1200, features: [{ key: 'projects', name: 'Projects', value: 3 }] },
    { id: 'pro', name: 'Pro', amount: 4900, features: [{ key: 'projects', name: 'Projects', value: 25 },
      { key: 'sso', name: 'Single sign-on' }, { key: 'support', name: 'Priority support' }] },
    { id: 'team', name: 'Team', amount: 9900, features: [{ key: 'projects', name: 'Projects', value: 100 },
      { key: 'sso', name: 'Single sign-on' }, { key: 'audit', name: 'Audit log' }] },
    { id: 'trial', name: 'Starter', amount: 900, trial_days: 14 },
  ]) await api('POST', '/plans', { currency: 'USD', interval: 'month', ...p });
  await api('POST', '/portal_configuration', { business_name: 'Harbour Cloud', brand_color: '#4338ca',
    website_url: 'https://harbour.example', time_zone: 'Europe/London',
    terms_url: 'https://harbour.example/terms', privacy_url: 'https://harbour.example/privacy',
    features: DEFAULTS });
});

after(async () => { await browser?.close(); });

test('overview, subscriptions and a subscription page in every status, with empty states', async () => {
  const cus = await customer('Olivia Overview', { plans: ['pro', 'trial'] });
  await api('POST', `/customers/${cus.id}/credit_entries`, { amount: 1500, currency: 'USD' });
  const { ctx, page } = await signIn(cus);
  assert.equal(path(page), `/portal/${site}`);
  const text = await main(page).innerText();
  for (const want of ['Pro', '$49.00 per month', 'Starter', 'Trial ends on', 'Visa ending 4242',
    'Credit balance', '$15.00', 'Invoice history'])
    assert.ok(text.includes(want), `overview shows ${want}`);
  const next = (await api('GET', `/subscriptions/${cus.subs[0].id}`)).next_amount;
  assert.ok(text.includes(`$${(next / 100).toFixed(2)}`), 'next charge is the domain\'s next_amount');
  await visit(page, 'overview-subscriptions');

  await page.getByRole('navigation').getByRole('link', { name: 'Subscriptions' }).click();
  assert.equal(path(page), `/portal/${site}/subscriptions`);
  await visit(page, 'subscriptions');
  await page.getByRole('link', { name: 'Manage Pro' }).click();
  assert.match(await main(page).innerText(), /renews automatically on/);
  assert.ok(await page.getByText('Single sign-on').isVisible(), 'what the plan grants');
  await visit(page, 'subscription-active');
  await page.goto(`${home}/subscriptions/${cus.subs[1].id}`);
  assert.match(await main(page).innerText(), /free trial ends on/);
  await visit(page, 'subscription-trial');

  // Non-renewing, paused and cancelled, as the merchant's API leaves them.
  await api('POST', `/subscriptions/${cus.subs[0].id}/cancel`, { when: 'end_of_term' });
  await page.goto(`${home}/subscriptions/${cus.subs[0].id}`);
  assert.match(await main(page).innerText(), /is cancelled and ends on/);
  await visit(page, 'subscription-non-renewing');
  await api('POST', `/subscriptions/${cus.subs[0].id}/reactivate`, {});
  await api('POST', `/subscriptions/${cus.subs[0].id}/pause`, {});
  await page.goto(`${home}/subscriptions/${cus.subs[0].id}`);
  assert.match(await main(page).innerText(), /is paused/);
  await visit(page, 'subscription-paused');
  await api('POST', `/subscriptions/${cus.subs[0].id}/cancel`, { when: 'now' });
  await page.goto(`${home}/subscriptions/${cus.subs[0].id}`);
  assert.match(await main(page).innerText(), /was cancelled on/);
  await visit(page, 'subscription-cancelled');
  await page.goto(`${home}/subscriptions`);
  await visit(page, 'subscriptions-with-past');
  await ctx.close();

  const late = await customer('Pat Pastdue', { number: '4000000000000341', plans: ['pro'] });
  const s2 = await signIn(late);
  assert.ok(await s2.page.getByRole('heading', { name: 'Payment overdue' }).isVisible());
  assert.ok(await s2.page.getByRole('link', { name: 'Pay now' }).isVisible());
  assert.ok(await s2.page.getByRole('link', { name: 'Update card' }).isVisible());
  await visit(s2.page, 'overview-overdue');
  await s2.page.goto(`${home}/subscriptions/${late.subs[0].id}`);
  assert.match(await main(s2.page).innerText(), /did not go through/);
  await visit(s2.page, 'subscription-past-due');
  await s2.ctx.close();

  const empty = await customer('Erin Empty', { number: null });
  const s3 = await signIn(empty);
  assert.match(await main(s3.page).innerText(), /no active subscriptions/);
  assert.match(await main(s3.page).innerText(), /No card on file/);
  await visit(s3.page, 'overview-empty');
  await s3.page.goto(`${home}/invoices`);
  await visit(s3.page, 'invoices-empty');
  await s3.page.goto(`${home}/payment_methods`);
  await visit(s3.page, 'payment-methods-empty');
  await s3.ctx.close();
});

test('change plan: empty, review of the exact bill, confirm; a stale review is refreshed', async () => {
  const cus = await customer('Chang Plan', { plans: ['pro'] });
  const sub = cus.subs[0];
  const { ctx, page } = await signIn(cus);
  await page.goto(`${home}/subscriptions/${sub.id}`);
  await page.getByRole('link', { name: 'Change plan', exact: true }).click();
  await visit(page, 'change-plan-choose');
  await page.getByRole('button', { name: 'Continue' }).click();
  await errorSummary(page, ['Select the plan you want to change to']);
  await visit(page, 'change-plan-empty');

  await page.getByLabel('Team').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  const preview = await api('POST', `/subscriptions/${sub.id}/change_plan/preview`, {
    plan_id: 'team', proration_date: Number(await page.locator('input[name=proration_date]').inputValue()) });
  const due = `$${(preview.amount_due / 100).toFixed(2)}`;
  assert.ok((await main(page).innerText()).includes(`Due today\t${due}`) ||
    (await main(page).innerText()).includes(due), 'the review shows the preview\'s amount');
  await visit(page, 'change-plan-review');
  const before = await invoiceCount(cus);
  await page.getByRole('button', { name: `Confirm and pay ${due}` }).click();
  assert.match(await main(page).innerText(), /Your plan is now Team/);
  assert.match(await main(page).innerText(), new RegExp(`We charged \\${due}`));
  assert.equal(await invoiceCount(cus), before + 1);
  await visit(page, 'change-plan-done');

  // A downgrade waits for the end of the term (the settings say so).
  await page.goto(`${home}/subscriptions/${sub.id}/change_plan`);
  await page.getByLabel('Basic').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.ok(await page.getByRole('button', { name: 'Schedule change' }).isVisible());
  await visit(page, 'change-plan-review-end-of-term');
  await page.getByRole('button', { name: 'Schedule change' }).click();
  assert.match(await main(page).innerText(), /Your plan changes on/);
  assert.equal((await api('GET', `/subscriptions/${sub.id}`)).scheduled_plan_id, 'basic');

  // A review that went stale (credit arrived): the confirm shows a fresh one, charges nothing.
  const other = await customer('Stale Review', { plans: ['pro'] });
  const s2 = await signIn(other);
  await s2.page.goto(`${home}/subscriptions/${other.subs[0].id}/change_plan/review?plan=team`);
  await api('POST', `/customers/${other.id}/credit_entries`, { amount: 700, currency: 'USD' });
  const n = await invoiceCount(other);
  await s2.page.getByRole('button', { name: /Confirm and pay/ }).click();
  assert.match(await main(s2.page).innerText(), /The amount changed since you reviewed it/);
  assert.equal(await invoiceCount(other), n);
  await visit(s2.page, 'change-plan-review-refreshed');
  await s2.page.getByRole('button', { name: /Confirm and pay/ }).click();
  assert.match(await main(s2.page).innerText(), /Your plan is now Team/);
  await s2.ctx.close();
  await ctx.close();
});

test('change plan and cancel completed with the keyboard alone', async () => {
  const cus = await customer('Kay Board', { plans: ['pro', 'basic'] });
  const { ctx, page } = await signIn(cus);
  const focused = () => page.evaluate(() => document.activeElement?.textContent?.trim() ||
    document.activeElement?.id || document.activeElement?.tagName);
  const tabTo = async (want, limit = 40) => {
    for (let i = 0; i < limit; i++) {
      if ((await focused()) === want) return;
      await page.keyboard.press('Tab');
    }
    assert.equal(await focused(), want);
  };
  await page.goto(`${home}/subscriptions/${cus.subs[0].id}`);
  await tabTo('Change plan');
  await page.keyboard.press('Enter');
  await page.waitForURL(/change_plan$/);
  await tabTo('f-plan');                    // the first plan's radio
  await page.keyboard.press('ArrowDown');   // to Team, selecting it
  assert.equal(await page.locator('input[name=plan]:checked').inputValue(), 'team');
  await tabTo('Continue');
  await page.keyboard.press('Enter');
  await page.waitForURL(/review/);
  await tabTo((await page.getByRole('button', { name: /Confirm and pay/ }).textContent()).trim());
  await page.keyboard.press('Enter');
  await page.waitForURL(/done=changed/);
  assert.equal((await api('GET', `/subscriptions/${cus.subs[0].id}`)).plan_id, 'team');

  await page.goto(`${home}/subscriptions/${cus.subs[1].id}`);
  await tabTo('Cancel subscription');
  await page.keyboard.press('Enter');
  await page.waitForURL(/cancel$/);
  await tabTo('f-when');                    // "At the end of the current term"
  await page.keyboard.press('Space');
  await tabTo('f-reason');
  await page.keyboard.press('ArrowDown');   // "Some features are missing"
  await page.keyboard.press('Tab');
  await page.keyboard.type('Typed without a mouse');
  await tabTo('Continue');
  await page.keyboard.press('Enter');
  await page.waitForURL(/cancel\/review$/);
  await tabTo('Confirm cancellation');
  await page.keyboard.press('Enter');
  await page.waitForURL(/cancelled$/);
  const after = await api('GET', `/subscriptions/${cus.subs[1].id}`);
  assert.equal(after.status, 'non_renewing');
  assert.equal(after.cancel_reason, 'missing_features');
  assert.equal(after.cancel_comment, 'Typed without a mouse');
  await ctx.close();
});

test('cancel: empty and wrong, review with credit and voided invoices, confirmation, keep', async () => {
  const cus = await customer('Cass Cancel', { plans: ['team'] });
  const sub = cus.subs[0];
  await settings({ cancel_reason: 'required' });
  try {
    const { ctx, page } = await signIn(cus);
    await page.goto(`${home}/subscriptions/${sub.id}/cancel`);
    await visit(page, 'cancel-choose');
    await page.getByRole('button', { name: 'Continue' }).click();
    await errorSummary(page, ['Select when your subscription should end', 'Select why you are cancelling']);
    await visit(page, 'cancel-empty');
    await page.getByLabel('Immediately').check();
    await page.getByLabel('It\'s too expensive').check();
    await page.getByLabel(/Anything else/).fill('x'.repeat(501));
    await page.getByRole('button', { name: 'Continue' }).click();
    await errorSummary(page, ['Your comment must be 500 characters or fewer']);
    await visit(page, 'cancel-wrong');
    await page.getByLabel(/Anything else/).fill('The team moved on.');
    await page.getByRole('button', { name: 'Continue' }).click();
    const review = await main(page).innerText();
    assert.match(review, /Credit for unused time\s+\$9\d\.\d\d/);
    assert.match(review, /Reason\s+It's too expensive/);
    assert.equal((await api('GET', `/subscriptions/${sub.id}`)).status, 'active', 'the review changes nothing');
    await visit(page, 'cancel-review');
    await page.getByRole('button', { name: 'Confirm cancellation' }).click();
    assert.match(await page.locator('h1').textContent(), /Your subscription is cancelled/);
    const ref = (await page.locator('dd.mono').textContent()).trim();
    assert.equal((await api('GET', `/events/${ref}`)).object_id, sub.id, 'the reference is the event');
    await visit(page, 'cancel-confirmation');
    await ctx.close();

    // At the end of the term: the confirmation offers "Keep my subscription".
    const other = await customer('Keep Going', { plans: ['pro'] });
    const s2 = await signIn(other);
    await s2.page.goto(`${home}/subscriptions/${other.subs[0].id}/cancel`);
    await s2.page.getByLabel('At the end of the current term').check();
    await s2.page.getByLabel('Other reason').check();
    await s2.page.getByRole('button', { name: 'Continue' }).click();
    assert.match(await main(s2.page).innerText(), /You keep access until then/);
    await visit(s2.page, 'cancel-review-end-of-term');
    await s2.page.getByRole('button', { name: 'Confirm cancellation' }).click();
    assert.match(await s2.page.locator('h1').textContent(), /will end on/);
    await visit(s2.page, 'cancel-confirmation-end-of-term');
    await s2.page.getByRole('button', { name: 'Keep my subscription' }).click();
    assert.match(await main(s2.page).innerText(), /Your subscription continues/);
    assert.equal((await api('GET', `/subscriptions/${other.subs[0].id}`)).status, 'active');
    await visit(s2.page, 'subscription-kept');
    await s2.ctx.close();

    // A past-due subscription: cancelling voids its open invoice, and the review says so.
    const owing = await customer('Owen Owing', { number: '4000000000000341', plans: ['pro'] });
    const s3 = await signIn(owing);
    await s3.page.goto(`${home}/subscriptions/${owing.subs[0].id}/cancel`);
    await s3.page.getByLabel('Other reason').check();
    await s3.page.getByRole('button', { name: 'Continue' }).click();
    assert.match(await main(s3.page).innerText(), /These are voided, so you do not owe them/);
    await visit(s3.page, 'cancel-review-voids');
    await s3.ctx.close();
  } finally {
    await settings(DEFAULTS);
  }
});

test('pause with a resume date, resume, and reactivate with a review of what it bills', async () => {
  const cus = await customer('Paula Pause', { plans: ['pro'] });
  const sub = cus.subs[0];
  const { ctx, page } = await signIn(cus);
  await page.goto(`${home}/subscriptions/${sub.id}`);
  await page.getByRole('link', { name: 'Pause subscription' }).click();
  await visit(page, 'pause-choose');
  await page.getByRole('button', { name: 'Continue' }).click();
  await errorSummary(page, ['Select when the pause should start', 'Enter the date your subscription resumes']);
  await visit(page, 'pause-empty');
  await page.getByLabel('Today').check();
  await page.getByLabel('Resume on').fill('2099-05-01');
  await page.getByRole('button', { name: 'Continue' }).click();
  await errorSummary(page, ['A pause can last at most 60 days.']);
  await visit(page, 'pause-too-long');
  const now = (await api('GET', '/time_machine')).now;
  const day = new Date((now + 20 * 86400) * 1000).toISOString().slice(0, 10);
  await page.getByLabel('Resume on').fill(day);
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.match(await main(page).innerText(), /Credit for unused time/);
  await visit(page, 'pause-review');
  await page.getByRole('button', { name: 'Pause subscription' }).click();
  assert.match(await main(page).innerText(), /Your subscription is paused/);
  assert.equal((await api('GET', `/subscriptions/${sub.id}`)).status, 'paused');
  await visit(page, 'subscription-paused-done');

  await page.getByRole('link', { name: 'Resume', exact: true }).click();
  assert.match(await main(page).innerText(), /Due today/);
  await visit(page, 'resume-review');
  await page.getByRole('button', { name: 'Resume subscription' }).click();
  assert.match(await main(page).innerText(), /Your subscription has resumed/);
  assert.equal((await api('GET', `/subscriptions/${sub.id}`)).status, 'active');

  await api('POST', `/subscriptions/${sub.id}/cancel`, { when: 'now', credit: 'none' });
  const end = (await api('GET', `/subscriptions/${sub.id}`)).current_term_end;
  await api('POST', '/time_machine/travel_forward', { destination_time: end + 60 });
  await ctx.close();
  const again = await signIn(cus);
  await again.page.goto(`${home}/subscriptions/${sub.id}`);
  await again.page.getByRole('link', { name: 'Reactivate' }).click();
  assert.match(await main(again.page).innerText(), /Due today\s+\$49\.00/);
  await visit(again.page, 'reactivate-review');
  const n = await invoiceCount(cus);
  await again.page.getByRole('button', { name: 'Reactivate subscription' }).click();
  assert.match(await main(again.page).innerText(), /Your subscription continues/);
  assert.equal(await invoiceCount(cus), n + 1);
  await again.ctx.close();
});

test('payment methods: add a card (empty, wrong, right), pay what is owed, default, remove', async () => {
  const cus = await customer('Carla Card', { number: '4000000000000341', plans: ['pro'] });
  const { ctx, page } = await signIn(cus);
  await page.getByRole('navigation').getByRole('link', { name: 'Payment methods' }).click();
  await visit(page, 'payment-methods-owing');
  await page.getByRole('link', { name: 'Add a card' }).first().click();
  assert.match(await main(page).innerText(), /You owe \$49\.00\. When you save this card it becomes your default card/);
  await visit(page, 'card-new');
  await page.getByRole('button', { name: /Save card/ }).click();
  await errorSummary(page, ['Enter your card number', 'Enter the expiry date of your card',
    'Enter the security code of your card']);
  await visit(page, 'card-new-empty');
  await page.getByLabel('Card number').fill('4242 4242 4242 4241');
  await page.getByLabel('Expiry date').fill('13/40');
  await page.getByLabel('Security code').fill('12');
  await page.getByRole('button', { name: /Save card/ }).click();
  await errorSummary(page, ['Enter a valid card number: check it for a typing mistake',
    'Enter the expiry date as it is on the card, like 04/29', 'Enter the security code: 3 or 4 digits']);
  assert.equal(await page.getByLabel('Card number').inputValue(), '', 'the number is never shown back');
  await visit(page, 'card-new-wrong');
  await page.getByLabel('Card number').fill('4242 4242 4242 4242');
  await page.getByLabel('Expiry date').fill('04/31');
  await page.getByLabel('Security code').fill('123');
  await page.getByRole('button', { name: 'Save card and pay $49.00' }).click();
  const result = await main(page).innerText();
  assert.match(result, /Your card has been saved/);
  assert.match(result, /Invoice \d+: \$49\.00 paid\./);
  assert.equal((await api('GET', `/subscriptions/${cus.subs[0].id}`)).status, 'active');
  await visit(page, 'payment-methods-added-paid');

  await page.getByRole('button', { name: 'Make default (Visa ending 0341)' }).click();
  assert.match(await main(page).innerText(), /Your default card has been changed/);
  await page.getByRole('link', { name: 'Remove Visa ending 4242' }).click();
  await visit(page, 'card-remove');
  await page.getByRole('button', { name: 'Remove card' }).click();
  assert.match(await main(page).innerText(), /The card has been removed/);
  await page.getByRole('link', { name: 'Remove Visa ending 0341' }).click();
  await page.getByRole('button', { name: 'Remove card' }).click();
  assert.match(await page.locator('h1').textContent(), /This card cannot be removed/);
  await visit(page, 'card-remove-last-refused');
  await ctx.close();
});

test('invoices: pages, Pay now reviewed, and its outcome; a double-submitted confirm charges once', async () => {
  const cus = await customer('Ivy Invoice', { number: '4000000000009995', plans: ['pro', 'basic', 'team'] });
  const { ctx, page } = await signIn(cus);
  await page.getByRole('navigation').getByRole('link', { name: 'Invoices' }).click();
  assert.equal(await page.locator('tbody tr').count(), 3);
  await visit(page, 'invoices');
  await page.getByRole('link', { name: /Pay now invoice/ }).first().click();
  assert.match(await main(page).innerText(), /Paid with\s+Visa ending 9995/);
  await visit(page, 'invoice-pay-review');
  await page.getByRole('button', { name: /^Pay / }).click();
  assert.match(await main(page).innerText(), /declined: insufficient funds/);
  await visit(page, 'invoice-pay-declined');

  // Two tabs send the same confirm at once (a double click): one charge.
  const invs = (await api('GET', `/invoices?customer_id=${cus.id}&status=open`)).data;
  assert.ok(invs.length >= 1);
  const inv = invs[0];
  const review = `${home}/invoices/${inv.id}/pay`;
  await page.goto(review);
  const twin = await ctx.newPage();
  await twin.goto(review);
  await twin.setContent(await page.content());     // the same form, the same nonce
  const attempts = (await api('GET', `/invoices/${inv.id}`)).payment_attempts.length;
  await Promise.all([page.getByRole('button', { name: /^Pay / }).click(),
    twin.getByRole('button', { name: /^Pay / }).click()]);
  await page.waitForLoadState();
  await twin.waitForLoadState();
  assert.equal((await api('GET', `/invoices/${inv.id}`)).payment_attempts.length, attempts + 1,
    'one charge for two submits');
  await ctx.close();
});

test('invoice history pages back and forth', async () => {
  await api('POST', '/plans', { id: 'daily', name: 'Daily', amount: 300, currency: 'USD', interval: 'day' });
  const cus = await customer('Paige Pager', { plans: ['daily'] });
  const now = (await api('GET', '/time_machine')).now;
  for (let d = 1; d <= 12; d++) {
    await api('POST', '/time_machine/travel_forward', { destination_time: now + d * 86400 + 30 });
    for (let i = 0; i < 100 && (await api('GET', '/time_machine')).pending_jobs > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
  }
  const { ctx, page } = await signIn(cus, {}, 360);
  await page.goto(`${home}/invoices`);
  assert.equal(await page.locator('tbody tr').count(), 10);
  await page.getByRole('link', { name: /Older invoices/ }).click();
  assert.equal(await page.locator('tbody tr').count(), 3);
  await visit(page, 'invoices-page-2');
  await page.getByRole('link', { name: /Newer invoices/ }).click();
  assert.equal(await page.locator('tbody tr').count(), 10);
  assert.equal(await page.getByRole('link', { name: /Newer invoices/ }).count(), 0);
  await ctx.close();
});

test('each setting and session override takes effect, also against a form posted directly', async () => {
  const cus = await customer('Sam Settings', { plans: ['pro'] });
  const sub = cus.subs[0];
  const { ctx, page } = await signIn(cus);
  // Each action's form is opened, the merchant turns the action off, the form is sent:
  // the domain refuses it (403) and nothing changes.
  const cases = [
    { off: { change_plan: false }, open: `/subscriptions/${sub.id}/change_plan/review?plan=team`,
      button: /Confirm and pay/, link: 'Change plan' },
    { off: { cancel_subscription: false }, open: `/subscriptions/${sub.id}/cancel`,
      fill: async () => { await page.getByLabel('Immediately').check(); }, button: 'Continue',
      link: 'Cancel subscription' },
    { off: { cancel_mode: 'end_of_term' }, open: `/subscriptions/${sub.id}/cancel`,
      fill: async () => { await page.getByLabel('Immediately').check(); }, button: 'Continue' },
    { off: { pause_subscription: false }, open: `/subscriptions/${sub.id}/pause`,
      fill: async () => { await page.getByLabel('Today').check(); await page.getByLabel('Resume on').fill('2099-01-01'); },
      button: 'Continue', link: 'Pause subscription' },
    { off: { payment_methods: false }, open: '/payment_methods/new',
      fill: async () => { await page.getByLabel('Card number').fill('5555555555554444');
        await page.getByLabel('Expiry date').fill('04/31'); await page.getByLabel('Security code').fill('123'); },
      button: /Save card/, nav: 'Payment methods' },
  ];
  try {
    for (const c of cases) {
      await page.goto(home + c.open);
      if (c.fill) await c.fill();
      await settings(c.off);
      const [res] = await Promise.all([page.waitForNavigation(),
        page.getByRole('button', { name: c.button }).click()]);
      assert.equal(res.status(), 403, JSON.stringify(c.off));
      assert.match(await page.locator('h1').textContent(), /Not available|cannot be changed/, JSON.stringify(c.off));
      await visit(page, `refused-${Object.keys(c.off)[0]}`);
      if (c.link) {
        await page.goto(`${home}/subscriptions/${sub.id}`);
        assert.equal(await page.getByRole('link', { name: c.link, exact: true }).count(), 0, `${c.link} hidden`);
      }
      if (c.nav) {
        await page.goto(home);
        assert.equal(await page.getByRole('navigation').getByRole('link', { name: c.nav }).count(), 0);
      }
      await settings(DEFAULTS);
    }
    const now = await api('GET', `/subscriptions/${sub.id}`);
    assert.equal(now.plan_id, 'pro');
    assert.equal(now.status, 'active');
    assert.equal((await api('GET', `/customers/${cus.id}/payment_methods`)).data.length, 1);

    // Reasons off and comments off: the cancel form asks neither.
    await settings({ cancel_reason: 'off', cancel_comment: false });
    await page.goto(`${home}/subscriptions/${sub.id}/cancel`);
    assert.equal(await page.locator('input[name=reason]').count(), 0);
    assert.equal(await page.locator('textarea[name=comment]').count(), 0);
    await visit(page, 'cancel-no-reasons');
    await settings(DEFAULTS);

    // Changes at the end of the term only: the review schedules, it does not charge.
    await settings({ change_plan_timing: 'end_of_term' });
    await page.goto(`${home}/subscriptions/${sub.id}/change_plan/review?plan=team`);
    assert.ok(await page.getByRole('button', { name: 'Schedule change' }).isVisible());
    assert.match(await main(page).innerText(), /Due today: \$0\.00/);
    await visit(page, 'change-plan-end-of-term-only');
    await settings(DEFAULTS);

    // Reactivation off: "Keep my subscription" is not offered, and its form is refused.
    await api('POST', `/subscriptions/${sub.id}/cancel`, { when: 'end_of_term' });
    await page.goto(`${home}/subscriptions/${sub.id}`);
    await settings({ reactivate_subscription: false });
    const [kept] = await Promise.all([page.waitForNavigation(),
      page.getByRole('button', { name: 'Keep my subscription' }).click()]);
    assert.equal(kept.status(), 403);
    assert.equal((await api('GET', `/subscriptions/${sub.id}`)).status, 'non_renewing');
    await page.goto(`${home}/subscriptions/${sub.id}`);
    assert.equal(await page.getByRole('button', { name: 'Keep my subscription' }).count(), 0);
    await settings(DEFAULTS);
    await api('POST', `/subscriptions/${sub.id}/reactivate`, {});

    // Invoice history off: no navigation item, the page refuses.
    await settings({ invoice_history: false });
    await page.goto(home);
    assert.equal(await page.getByRole('navigation').getByRole('link', { name: 'Invoices' }).count(), 0);
    const res = await page.goto(`${home}/invoices`);
    assert.equal(res.status(), 403);
    await visit(page, 'invoices-off');
    await settings(DEFAULTS);

    // Session overrides, in both directions.
    await settings({ change_plan: false, pause_subscription: false });
    const on = await signIn(cus, { features: { change_plan: true, change_plan_plans: ['team'],
      pause_subscription: true } });
    await on.page.goto(`${home}/subscriptions/${sub.id}`);
    assert.ok(await on.page.getByRole('link', { name: 'Change plan', exact: true }).isVisible());
    assert.ok(await on.page.getByRole('link', { name: 'Pause subscription' }).isVisible());
    await on.page.getByRole('link', { name: 'Change plan', exact: true }).click();
    assert.equal(await on.page.locator('input[name=plan]').count(), 1, 'only the session\'s plans');
    await on.ctx.close();
    await settings(DEFAULTS);
    const off = await signIn(cus, { features: { cancel_subscription: false, payment_methods: false } });
    await off.page.goto(`${home}/subscriptions/${sub.id}`);
    assert.equal(await off.page.getByRole('link', { name: 'Cancel subscription' }).count(), 0);
    assert.equal((await off.page.goto(`${home}/subscriptions/${sub.id}/cancel`)).status(), 403);
    assert.equal((await off.page.goto(`${home}/payment_methods/new`)).status(), 403);
    await off.ctx.close();
  } finally {
    await settings(DEFAULTS);
  }
  await ctx.close();
});

test('deep links open at their step and end with the way back to the merchant', async () => {
  const cus = await customer('Dee Link', { plans: ['pro'] });
  const sub = cus.subs[0];
  for (const [flow, where, finish] of [
    [{ type: 'change_plan', subscription_id: sub.id }, `/subscriptions/${sub.id}/change_plan`, async (page) => {
      await page.getByLabel('Team').check();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('button', { name: /Confirm and pay/ }).click();
    }],
    [{ type: 'cancel', subscription_id: sub.id }, `/subscriptions/${sub.id}/cancel`, async (page) => {
      await page.getByLabel('At the end of the current term').check();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('button', { name: 'Confirm cancellation' }).click();
    }],
    [{ type: 'payment_method_update' }, '/payment_methods/new', async (page) => {
      await page.getByLabel('Card number').fill('5555 5555 5555 4444');
      await page.getByLabel('Expiry date').fill('09/32');
      await page.getByLabel('Security code').fill('321');
      await page.getByRole('button', { name: /Save card/ }).click();
    }],
  ]) {
    const { ctx, page } = await signIn(cus, { flow });
    assert.equal(path(page), `/portal/${site}${where}`, `${flow.type} opens at its step`);
    await finish(page);
    const back = page.locator('#main').getByRole('link', { name: 'Return to Harbour Cloud' });
    assert.equal(await back.getAttribute('href'), 'https://shop.example/account', `${flow.type} ends with the way back`);
    await visit(page, `flow-${flow.type}-done`);
    await ctx.close();
  }
});

test('another customer\'s ids are 404; a missing or forged CSRF token is 403', async () => {
  const mine = await customer('Mona Mine', { plans: ['pro'] });
  const theirs = await customer('Theo Theirs', { plans: [] });
  const inv = (await api('GET', `/invoices?customer_id=${mine.id}`)).data[0];
  const pm = (await api('GET', `/customers/${mine.id}/payment_methods`)).data[0];
  const { ctx, page } = await signIn(theirs);
  for (const p of [`/subscriptions/${mine.subs[0].id}`, `/subscriptions/${mine.subs[0].id}/cancel`,
    `/subscriptions/${mine.subs[0].id}/change_plan`, `/payment_methods/${pm.id}/remove`,
    `/invoices/${inv.id}/pay`]) {
    const res = await page.goto(home + p);
    assert.equal(res.status(), 404, p);
    assert.ok(!(await page.content()).includes('Mona'), p);
  }
  await visit(page, 'not-found-others-subscription');
  await ctx.close();

  const s2 = await signIn(mine);
  await s2.page.goto(`${home}/subscriptions/${mine.subs[0].id}/change_plan/review?plan=team`);
  await s2.page.locator('#main input[name=csrf_token]').evaluate((e) => { e.value = 'forged'; });
  await s2.page.getByRole('button', { name: /Confirm and pay/ }).click();
  assert.match(await s2.page.locator('h1').textContent(), /expired/);
  await visit(s2.page, 'forbidden-csrf-change-plan');
  await s2.page.goto(`${home}/subscriptions/${mine.subs[0].id}/change_plan/review?plan=team`);
  await s2.page.locator('#main input[name=csrf_token]').evaluate((e) => e.remove());
  await s2.page.getByRole('button', { name: /Confirm and pay/ }).click();
  assert.match(await s2.page.locator('h1').textContent(), /expired/);
  assert.equal((await api('GET', `/subscriptions/${mine.subs[0].id}`)).plan_id, 'pro');
  assert.equal(await invoiceCount(mine), 1);
  await s2.ctx.close();
});

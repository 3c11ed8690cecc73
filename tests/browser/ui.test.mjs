// The operator's web page (/ui/) in a real browser (Debian's Chromium, driven by
// playwright-core) against the real clickhook binary: sign in, add a webhook, a real click
// on a tracked link, then the click in Activity and its delivery in Deliveries; once more at
// a phone's width.
//
// Run: `cargo build -p clickhook && cd tests/browser && npm ci && npm test`.
// The binary is started by ../js/clickhook.mjs (CLICKHOOK_BIN overrides it, default:
// <repo>/target/debug/clickhook) with a config of its own on free loopback ports. CHROMIUM
// overrides the browser (default: /usr/bin/chromium; Debian: apt-get install chromium).
// Screenshots of every page go to <repo>/target/ui-screenshots/*.png (sign-in, webhooks,
// the add-webhook form, activity, deliveries, two at a phone's width, one in dark mode).
//
// The tests in this file run in order and share one clickhook, one receiver and one browser
// page: each builds on what the ones before it did.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO, apiCall, sleep, startClickhook, waitFor } from '../js/clickhook.mjs';

const SHOTS = path.join(REPO, 'target', 'ui-screenshots');
const TOKEN = 'browser-test-token-7d2e91c4';
const RECIPIENT = `reader-${Math.random().toString(36).slice(2, 8)}@example.com`;
const READER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36';
const WAIT = 20000;

let node; // the clickhook process (tests/js/clickhook.mjs)
let apiPort;
let redirectPort;
let receiver;
let receiverPort;
let browser;
let page;
const received = []; // webhook POSTs: { path, headers, body }
const problems = []; // page errors and Content-Security-Policy violations

const until = (what, probe, ms = WAIT) => waitFor(what, probe, ms, () => node.output());

const api = (method, p, body) => apiCall(apiPort, TOKEN, method, p, body);

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The receiver: records webhook POSTs, serves a landing page and a page with a link. */
function startReceiver() {
  return http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/landing') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>Landing page</title><h1 id="landed">You landed on the newsletter</h1>');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/mail') {
      // Stands in for the recipient's mail client: the tracked link as a real <a>.
      const to = url.searchParams.get('to') || '';
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>Your newsletter</title><p>Hello,</p><p><a id="read" href="${escapeHtml(to)}">Read the newsletter</a></p>`);
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      received.push({ path: req.url, method: req.method, headers: req.headers, body });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
    });
  });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  receiver = startReceiver();
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  receiverPort = receiver.address().port;
  node = await startClickhook({ token: TOKEN, name: 'browser' });
  ({ apiPort, redirectPort } = node);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
  page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && !/status of 401/.test(text)) problems.push(`console: ${text}`);
    if (/Content Security Policy/i.test(text)) problems.push(`CSP: ${text}`);
  });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (node) await node.stop();
  if (receiver) {
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  }
  console.log(`screenshots: ${SHOTS}`);
});

test('the root redirects to the page, which is served with a strict policy', async () => {
  const res = await fetch(`http://127.0.0.1:${apiPort}/`, { redirect: 'manual' });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), '/ui/');
  const ui = await fetch(`http://127.0.0.1:${apiPort}/ui/`);
  assert.equal(ui.status, 200);
  assert.match(ui.headers.get('content-security-policy'), /^default-src 'self'/);
  assert.equal(ui.headers.get('x-frame-options'), 'DENY');
  assert.equal((await fetch(`http://127.0.0.1:${apiPort}/ui/missing.js`)).status, 404);
});

test('sign in: a wrong token is refused with a clear message, the right one is accepted', async () => {
  await page.goto(`http://127.0.0.1:${apiPort}/`);
  assert.equal(new URL(page.url()).pathname, '/ui/');
  const token = page.getByLabel('Server token');
  await token.waitFor();
  assert.ok(await token.evaluate((el) => el === document.activeElement), 'the token field has focus');
  await shot('01-sign-in');

  await token.fill('not-the-right-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();

  await token.fill(TOKEN);
  await token.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('clickhook.token')), TOKEN);
  await page.getByText('No webhooks on “outbound” yet').waitFor();
});

test('webhooks: add one with only Link Click on, see it listed, send a test', async () => {
  await page.getByRole('button', { name: 'Add webhook' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'Add webhook' });
  await dialog.waitFor();
  const url = dialog.getByLabel('Webhook URL');
  assert.ok(await url.evaluate((el) => el === document.activeElement), 'the dialog focuses its first field');
  await url.fill(`http://127.0.0.1:${receiverPort}/hooks/clicks`);
  // Link Click is the only trigger ticked.
  const labels = ['Link Click', 'Delivery', 'Bounce', 'Spam complaint', 'Open', 'Subscription change'];
  for (const label of labels) {
    const box = dialog.getByRole('checkbox', { name: label, exact: true });
    if (label === 'Link Click') await box.check();
    else await box.uncheck();
  }
  await dialog.getByRole('button', { name: 'Add header' }).click();
  await dialog.getByLabel('Header 1 Name').fill('X-Clickhook-Ui');
  await dialog.getByLabel('Header 1 Value').fill('browser-test');
  await shot('03-add-webhook');
  await dialog.getByRole('button', { name: 'Add webhook' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Add webhook', 'focus returns to the opener');

  const card = page.getByRole('article', { name: /Webhook #\d+/ });
  await card.getByText(`http://127.0.0.1:${receiverPort}/hooks/clicks`).waitFor();
  assert.deepEqual(await card.getByRole('listitem').allTextContents(), ['Link Click']);

  // Keyboard: Edit opens the form, Escape closes it and gives focus back to Edit.
  const edit = card.getByRole('button', { name: /^Edit webhook/ });
  await edit.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('dialog', { name: /Edit webhook #\d+/ }).waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  assert.ok(await edit.evaluate((el) => el === document.activeElement), 'Escape gives focus back to Edit');

  const { body } = await api('GET', '/webhooks');
  assert.equal(body.Webhooks.length, 1);
  const hook = body.Webhooks[0];
  assert.equal(hook.MessageStream, 'outbound');
  assert.deepEqual(
    Object.entries(hook.Triggers).filter(([, t]) => t.Enabled).map(([k]) => k),
    ['Click'],
    'only the Click trigger is on',
  );
  assert.deepEqual(hook.HttpHeaders, [{ Name: 'X-Clickhook-Ui', Value: 'browser-test' }]);

  await card.getByRole('button', { name: 'Send test' }).click();
  await card.getByText('Test delivered').waitFor();
  await card.getByText('200', { exact: true }).waitFor();
  const test = await until('the test POST', () => received.find((r) => r.body && r.body.RecordType === 'Click'));
  assert.equal(test.headers['x-clickhook-ui'], 'browser-test');
  await shot('02-webhooks');
});

test('a real click on a tracked link lands on the page and makes a Click webhook', async () => {
  const { status, body } = await api('POST', '/tracking/messages', {
    Recipient: RECIPIENT,
    Tag: 'ui-test',
    HtmlBody: `<p>Hi!</p><a href="http://127.0.0.1:${receiverPort}/landing">Read the newsletter</a>`,
  });
  assert.equal(status, 200, JSON.stringify(body));
  const link = body.Links[0].TrackedLink;
  assert.ok(link.startsWith(`http://127.0.0.1:${redirectPort}/`), link);

  // The reader's browser: headless Chromium names itself "HeadlessChrome", which the bot rules
  // rightly take for a scanner, so the mail page uses a desktop Chrome's user agent.
  const mail = await browser.newPage({ userAgent: READER_UA });
  try {
    await mail.goto(`http://127.0.0.1:${receiverPort}/mail?to=${encodeURIComponent(link)}`);
    await Promise.all([
      mail.waitForURL(`http://127.0.0.1:${receiverPort}/landing`),
      mail.getByRole('link', { name: 'Read the newsletter' }).click(),
    ]);
    await mail.getByRole('heading', { name: 'You landed on the newsletter' }).waitFor();
  } finally {
    await mail.close();
  }
  const hit = await until('the Click webhook of the real click', () => received.find((r) => r.body && r.body.Recipient === RECIPIENT));
  assert.equal(hit.path, '/hooks/clicks');
  assert.equal(hit.body.RecordType, 'Click');
  assert.equal(hit.body.OriginalLink, `http://127.0.0.1:${receiverPort}/landing`);
  assert.equal(hit.body.Tag, 'ui-test');
  assert.equal(hit.headers['x-clickhook-ui'], 'browser-test');
});

test('activity: the click is listed and counted in the chart', async () => {
  await page.getByRole('link', { name: 'Activity' }).click();
  await page.getByRole('heading', { level: 1, name: 'Activity' }).waitFor();
  const table = page.locator('#clicks-table');
  // The click may take a moment to be settled and listed.
  await until('the click in Activity', async () => {
    if (await table.getByText(RECIPIENT).count()) return true;
    await page.getByRole('button', { name: 'Refresh' }).click();
    return false;
  });
  const row = table.getByRole('row').filter({ hasText: RECIPIENT });
  await row.getByText(`http://127.0.0.1:${receiverPort}/landing`).waitFor();
  // Its bot verdict: clicked seconds after SentAt, so "suspected" (early_after_send), still a click.
  const verdict = row.locator('.verdict');
  await verdict.waitFor();
  assert.match(await verdict.textContent(), /^(Human|Suspected)$/);
  assert.match(await verdict.getAttribute('title'), /^(Reasons: |No sign)/);
  const chart = page.getByRole('img', { name: /Clicks per day/ });
  await chart.waitFor();
  assert.match(await chart.getAttribute('aria-labelledby'), /\S+ \S+/);
  await page.getByText(/^\d+ clicks? \(\d+ unique\)/).first().waitFor();
  await shot('04-activity');
});

test('deliveries: the click was delivered with a 2xx attempt', async () => {
  await page.getByRole('link', { name: 'Deliveries' }).click();
  await page.getByRole('heading', { level: 1, name: 'Deliveries' }).waitFor();
  const log = page.locator('#deliveries-table');
  await until('a delivered delivery', async () => {
    if (await log.getByText('Delivered').count()) return true;
    await page.getByRole('button', { name: 'Refresh' }).click();
    return false;
  });
  await log.getByRole('button', { name: /^#\d+$/ }).first().click();
  const attempts = page.getByRole('list', { name: /Attempts of delivery/ });
  await attempts.waitFor();
  const first = attempts.getByRole('listitem').first();
  const code = Number(await first.locator('.badge').first().textContent());
  assert.ok(code >= 200 && code < 300, `the attempt's status is ${code}`);
  await first.getByText(/\d+(\.\d+)? (ms|s)$/).first().waitFor();
  await page.getByRole('button', { name: 'Resend' }).waitFor();

  await page.getByLabel('Dead letters').check({ force: true });
  await page.getByText('No dead letters for this webhook').waitFor();
  await page.getByLabel('All', { exact: true }).check({ force: true });
  await log.getByText('Delivered').first().waitFor();
  await shot('05-deliveries');
  await page.emulateMedia({ colorScheme: 'dark' });
  await sleep(400); // let the colour transitions finish
  await shot('08-dark-deliveries');
  await page.emulateMedia({ colorScheme: 'light' });
});

test('at a phone width the page fits and stays usable', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [view, heading] of [['activity', 'Activity'], ['webhooks', 'Webhooks']]) {
    await page.getByRole('link', { name: heading }).click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
    await sleep(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${view}: the page is ${overflow}px wider than the screen`);
  }
  await page.getByRole('link', { name: 'Activity' }).click();
  await page.locator('#clicks-table').getByText(RECIPIENT).waitFor();
  await shot('06-phone-activity');
  await page.getByRole('link', { name: 'Webhooks' }).click();
  await page.getByRole('article', { name: /Webhook #\d+/ }).waitFor();
  await shot('07-phone-webhooks');
  await page.setViewportSize({ width: 1280, height: 860 });
});

test('sign out forgets the token', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Server token').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('clickhook.token')), null);
  assert.deepEqual(problems, [], 'no script errors and no Content-Security-Policy violations');
});

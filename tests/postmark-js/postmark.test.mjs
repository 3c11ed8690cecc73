// Postmark's official Node.js client library (npm `postmark`, pinned in package.json) driven
// against a real clickhook binary: the Webhooks API, then real clicks on tracked links, the
// Click webhooks they make, and the Messages (clicks) and Stats (clicks) APIs.
//
// Run: `cargo build -p clickhook && cd tests/postmark-js && npm ci && npm test`.
// CLICKHOOK_BIN overrides the binary (default: <repo>/target/debug/clickhook); the node is
// started by ../js/clickhook.mjs on free loopback ports with a config of its own.
//
// The tests in this file run in order and share one clickhook process: each one builds on
// what the ones before it made.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import postmark from 'postmark';
import { apiCall, sleep, startClickhook, startReceiver, waitFor as waitUntil } from '../js/clickhook.mjs';

const TOKEN = 'postmark-js-test-token-5f1c0a';

// User agents and what clickhook's table (data/user-agents.toml) makes of them.
const CHROME_DESKTOP = {
  ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36',
  client: { Name: 'Chrome 138.0.0.0', Company: 'Google', Family: 'Chrome' },
  os: { Name: 'Windows 10', Company: 'Microsoft Corporation', Family: 'Windows' },
  platform: 'Desktop',
};
const IPHONE_SAFARI = {
  ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1',
  client: { Name: 'Mobile Safari 18.5', Company: 'Apple Inc.', Family: 'Mobile Safari' },
  os: { Name: 'iOS 18.5', Company: 'Apple Computer, Inc.', Family: 'iOS' },
  platform: 'Mobile',
};

const RUN = Math.random().toString(36).slice(2, 10);
const M1 = `pmjs-${RUN}-welcome`; // alice, outbound, tag welcome: an HTML and a Text link
const M2 = `pmjs-${RUN}-digest`; // bob, outbound, tag digest
const M3 = `pmjs-${RUN}-news`; // carol, stream "broadcast", tag news

let node; // the running clickhook (../js/clickhook.mjs)
let apiPort;
let redirectPort;
let client;
let receiver;
let receiverPort;
let received; // { path, method, headers, body } of every webhook POST, in arrival order

// What the click tests made, for the query tests after them.
const clicks = []; // { who, message, link, location, agent, unique, day }, oldest first
const tracked = {}; // MessageID -> /tracking/messages response

// ---------------------------------------------------------------------------------------
// helpers

/** Polls `probe` until it returns a truthy value; fails after `ms` with clickhook's output. */
const waitFor = (what, probe, ms = 20000) => waitUntil(what, probe, ms, () => node?.output() ?? '');

/** A plain API call (for clickhook's own endpoints that the client library does not know). */
const api = (method, p, body) => apiCall(apiPort, TOKEN, method, p, body);

/** The error a promise rejects with (fails when it resolves). */
async function rejection(promise) {
  try {
    const v = await promise;
    assert.fail(`expected an error, got ${JSON.stringify(v)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    return e;
  }
}

const utcDay = () => new Date().toISOString().slice(0, 10);

/** Clicks a tracked link as a browser would, without following the redirect. */
async function click(link, agent) {
  const day = utcDay();
  const res = await fetch(link, { redirect: 'manual', headers: { 'User-Agent': agent.ua, Accept: 'text/html' } });
  await res.arrayBuffer();
  return { res, day };
}

function linkOf(messageId, location) {
  const l = tracked[messageId].Links.filter((x) => x.ClickLocation === location);
  assert.equal(l.length, 1, `one ${location} link in ${messageId}`);
  return l[0];
}

// ---------------------------------------------------------------------------------------
// set-up: a receiver, a config, the binary

before(async () => {
  receiver = await startReceiver();
  ({ port: receiverPort, received } = receiver);
  node = await startClickhook({ token: TOKEN, serverName: 'postmark-js', name: 'postmark-js' });
  ({ apiPort, redirectPort } = node);

  // The option names are those of postmark 5.x (ClientOptions.Configuration).
  client = new postmark.ServerClient(TOKEN, { useHttps: false, requestHost: `127.0.0.1:${apiPort}`, timeout: 20 });
});

after(async () => {
  if (node) await node.stop();
  if (receiver) await receiver.close();
});

// ---------------------------------------------------------------------------------------
// Webhooks API

test('a wrong server token is refused with ErrorCode 10', async () => {
  const bad = new postmark.ServerClient('not-the-token', { useHttps: false, requestHost: `127.0.0.1:${apiPort}` });
  const e = await rejection(bad.getWebhooks());
  assert.ok(e instanceof postmark.Errors.InvalidAPIKeyError, `${e.name}: ${e.message}`);
  assert.equal(e.code, 10);
  assert.equal(e.statusCode, 401);
});

test('webhooks: create, list, get, partial edit, delete', async () => {
  const created = await client.createWebhook({
    Url: `http://127.0.0.1:${receiverPort}/crud`,
    MessageStream: 'outbound',
    HttpAuth: { Username: 'crud-user', Password: 'crud-secret' },
    HttpHeaders: [{ Name: 'X-Crud', Value: 'yes' }],
    Triggers: { Click: { Enabled: true }, Open: { Enabled: true, PostFirstOpenOnly: true } },
  });
  assert.equal(typeof created.ID, 'number');
  assert.ok(created.ID > 0);
  assert.equal(created.Url, `http://127.0.0.1:${receiverPort}/crud`);
  assert.equal(created.MessageStream, 'outbound');
  assert.deepEqual(created.HttpAuth, { Username: 'crud-user', Password: 'crud-secret' });
  assert.deepEqual(created.HttpHeaders, [{ Name: 'X-Crud', Value: 'yes' }]);
  assert.deepEqual(created.Triggers, {
    Open: { Enabled: true, PostFirstOpenOnly: true },
    Click: { Enabled: true },
    Delivery: { Enabled: false },
    Bounce: { Enabled: false, IncludeContent: false },
    SpamComplaint: { Enabled: false, IncludeContent: false },
    SubscriptionChange: { Enabled: false },
  });

  const other = await client.createWebhook({
    Url: `http://127.0.0.1:${receiverPort}/crud-broadcast`,
    MessageStream: 'broadcast',
    Triggers: { Click: { Enabled: false } },
  });
  assert.equal(other.MessageStream, 'broadcast');
  assert.equal(other.HttpAuth, undefined, 'no HttpAuth given, none shown');

  const all = await client.getWebhooks();
  assert.deepEqual(all.Webhooks.map((w) => w.ID).sort((a, b) => a - b), [created.ID, other.ID].sort((a, b) => a - b));
  assert.deepEqual(all.Webhooks.find((w) => w.ID === created.ID), created);
  const outbound = await client.getWebhooks({ messageStream: 'outbound' });
  assert.deepEqual(outbound.Webhooks, [created]);
  const broadcast = await client.getWebhooks({ messageStream: 'broadcast' });
  assert.deepEqual(broadcast.Webhooks.map((w) => w.ID), [other.ID]);

  assert.deepEqual(await client.getWebhook(created.ID), created);

  const newUrl = `http://127.0.0.1:${receiverPort}/crud-moved`;
  const edited = await client.editWebhook(created.ID, { Url: newUrl });
  assert.deepEqual(edited, { ...created, Url: newUrl }, 'only Url changes; every other field is kept');
  assert.deepEqual(await client.getWebhook(created.ID), edited);

  for (const id of [created.ID, other.ID]) {
    const del = await client.deleteWebhook(id);
    assert.equal(del.ErrorCode, 0);
    assert.match(del.Message, new RegExp(`${id}`));
  }
  const gone = await rejection(client.getWebhook(created.ID));
  assert.equal(gone.statusCode, 422);
  assert.equal(gone.code, 1200);
  assert.deepEqual((await client.getWebhooks()).Webhooks, []);
});

// ---------------------------------------------------------------------------------------
// Real clicks and their Click webhooks

test('tracked messages, real clicks, Click webhooks (a repeat click makes none)', async () => {
  const hookOut = await client.createWebhook({
    Url: `http://127.0.0.1:${receiverPort}/hooks/outbound`,
    MessageStream: 'outbound',
    HttpAuth: { Username: 'hook-user', Password: 'hook-secret' },
    HttpHeaders: [{ Name: 'X-Hook', Value: 'outbound' }],
    Triggers: { Click: { Enabled: true } },
  });
  const hookBroadcast = await client.createWebhook({
    Url: `http://127.0.0.1:${receiverPort}/hooks/broadcast`,
    MessageStream: 'broadcast',
    Triggers: { Click: { Enabled: true } },
  });
  assert.ok(hookOut.ID !== hookBroadcast.ID);

  const messages = [
    {
      MessageID: M1,
      Recipient: 'alice@example.com',
      Tag: 'welcome',
      MessageStream: 'outbound',
      Metadata: { a_key: 'a_value', plan: 'pro' },
      HtmlBody: '<p>Hi <a href="https://example.com/welcome">start</a> <a data-pm-no-track href="https://example.org/untracked">x</a></p>',
      TextBody: 'Start here: https://example.com/welcome-text',
    },
    {
      MessageID: M2,
      Recipient: 'bob@example.com',
      Tag: 'digest',
      MessageStream: 'outbound',
      HtmlBody: '<a href="https://example.com/digest">digest</a>',
    },
    {
      MessageID: M3,
      Recipient: 'carol@example.com',
      Tag: 'news',
      MessageStream: 'broadcast',
      HtmlBody: '<a href="https://example.com/news">news</a>',
    },
  ];
  for (const m of messages) {
    const r = await api('POST', '/tracking/messages', m);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.MessageID, m.MessageID);
    tracked[m.MessageID] = r.body;
  }
  const m1 = tracked[M1];
  assert.deepEqual(m1.Links.map((l) => [l.OriginalLink, l.ClickLocation]), [
    ['https://example.com/welcome', 'HTML'],
    ['https://example.com/welcome-text', 'Text'],
  ]);
  for (const l of m1.Links) assert.ok(l.TrackedLink.startsWith(`http://127.0.0.1:${redirectPort}/`), l.TrackedLink);
  assert.ok(m1.HtmlBody.includes(`href="${m1.Links[0].TrackedLink}"`), m1.HtmlBody);
  assert.ok(m1.HtmlBody.includes('href="https://example.org/untracked"'), 'data-pm-no-track links stay');
  assert.ok(!m1.HtmlBody.includes('data-pm-no-track'), m1.HtmlBody);
  assert.equal(m1.TextBody, `Start here: ${m1.Links[1].TrackedLink}`);

  // Each click waits for its webhook before the next, so "newest first" has one answer.
  const plan = [
    { who: 'alice@example.com', message: M1, location: 'HTML', agent: CHROME_DESKTOP, hook: 'outbound' },
    { who: 'alice@example.com', message: M1, location: 'Text', agent: IPHONE_SAFARI, hook: 'outbound' },
    { who: 'bob@example.com', message: M2, location: 'HTML', agent: IPHONE_SAFARI, hook: 'outbound' },
    { who: 'carol@example.com', message: M3, location: 'HTML', agent: CHROME_DESKTOP, hook: 'broadcast' },
  ];
  for (const [i, p] of plan.entries()) {
    const link = linkOf(p.message, p.location);
    const { res, day } = await click(link.TrackedLink, p.agent);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), link.OriginalLink);
    const hook = await waitFor(`Click webhook #${i + 1}`, () => received[i]);
    await sleep(100);
    assert.equal(received.length, i + 1, 'one webhook per unique click');
    clicks.push({ ...p, link: link.OriginalLink, unique: true, day, webhook: hook });

    assert.equal(hook.method, 'POST');
    assert.equal(hook.path, `/hooks/${p.hook}`);
    assert.match(hook.headers['content-type'], /^application\/json/);
    assert.ok(hook.headers['webhook-id'], 'webhook-id header');
    if (p.hook === 'outbound') {
      assert.equal(hook.headers.authorization, `Basic ${Buffer.from('hook-user:hook-secret').toString('base64')}`);
      assert.equal(hook.headers['x-hook'], 'outbound');
    } else {
      assert.equal(hook.headers.authorization, undefined);
    }
    const b = hook.body;
    const m = messages.find((x) => x.MessageID === p.message);
    assert.equal(b.RecordType, 'Click');
    assert.equal(b.MessageID, p.message);
    assert.equal(b.Recipient, p.who);
    assert.equal(b.Tag, m.Tag);
    assert.equal(b.MessageStream, m.MessageStream);
    assert.deepEqual(b.Metadata, m.Metadata ?? {});
    assert.equal(b.OriginalLink, link.OriginalLink);
    assert.equal(b.ClickLocation, p.location);
    assert.equal(b.UserAgent, p.agent.ua);
    assert.deepEqual(b.Client, p.agent.client);
    assert.deepEqual(b.OS, p.agent.os);
    assert.equal(b.Platform, p.agent.platform);
    assert.deepEqual(b.Geo, {}, 'no City database configured');
    assert.match(b.ReceivedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  }

  // The same recipient on the same link again: redirected and listed, but not unique, so no
  // webhook.
  const again = linkOf(M1, 'HTML');
  const { res, day } = await click(again.TrackedLink, CHROME_DESKTOP);
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), again.OriginalLink);
  clicks.push({ who: 'alice@example.com', message: M1, location: 'HTML', agent: CHROME_DESKTOP, link: again.OriginalLink, unique: false, day });
  // Processed once the Messages API lists it.
  await waitFor('the repeat click in GET /messages/outbound/clicks/{M1}', async () => {
    const r = await client.getMessageClicksForSingleMessage(M1, { count: 10, offset: 0 });
    return r.TotalCount === 3;
  });
  await sleep(500);
  assert.equal(received.length, 4, `exactly one webhook per unique click: ${JSON.stringify(received.map((r) => r.body.OriginalLink))}`);
});

// ---------------------------------------------------------------------------------------
// Messages API: clicks

/** The clicks (newest first) whose plan entries pass `keep`, as [recipient, link, location]. */
function expected(keep = () => true) {
  return clicks.filter(keep).reverse().map((c) => [c.who, c.link, c.location]);
}
const summary = (list) => list.map((c) => [c.Recipient, c.OriginalLink, c.ClickLocation]);
/** A listed click without clickhook's Bot object (checked to be a click a person made). */
const withoutBot = ({ Bot, ...rest }) => {
  assert.ok(Bot && ['human', 'suspected'].includes(Bot.Verdict), JSON.stringify(Bot));
  return rest;
};

test('getMessageClicks: every click newest first, repeats included, count and offset', async () => {
  assert.equal(clicks.length, 5, 'the click test ran');
  const all = await client.getMessageClicks({ count: 100, offset: 0 });
  assert.equal(all.TotalCount, 5);
  assert.deepEqual(summary(all.Clicks), expected());
  assert.deepEqual(all.Clicks.map((c) => c.Platform), ['Desktop', 'Desktop', 'Mobile', 'Mobile', 'Desktop']);
  assert.deepEqual(all.Clicks.map((c) => c.MessageID), [M1, M3, M2, M1, M1]);

  // A listed click is the Click event itself: the oldest one equals its webhook's payload,
  // plus clickhook's Bot object (the verdict), which webhooks carry only with bots.label.
  assert.deepEqual(withoutBot(all.Clicks[4]), clicks[0].webhook.body);
  assert.deepEqual(withoutBot(all.Clicks[1]), clicks[3].webhook.body);
  assert.ok(!('Bot' in clicks[0].webhook.body), 'webhook payloads stay Postmark\'s by default');
  // The repeat is a Click event of its own, with its own time.
  assert.equal(all.Clicks[0].RecordType, 'Click');
  assert.equal(all.Clicks[0].UserAgent, CHROME_DESKTOP.ua);
  assert.deepEqual(all.Clicks[0].Metadata, { a_key: 'a_value', plan: 'pro' });
  assert.ok(Date.parse(all.Clicks[0].ReceivedAt) >= Date.parse(all.Clicks[4].ReceivedAt));

  const page = await client.getMessageClicks({ count: 2, offset: 1 });
  assert.equal(page.TotalCount, 5);
  assert.deepEqual(summary(page.Clicks), expected().slice(1, 3));
  const last = await client.getMessageClicks({ count: 2, offset: 4 });
  assert.equal(last.TotalCount, 5);
  assert.deepEqual(summary(last.Clicks), expected().slice(4));
  const beyond = await client.getMessageClicks({ count: 10, offset: 50 });
  assert.equal(beyond.TotalCount, 5);
  assert.deepEqual(beyond.Clicks, []);
  // No arguments: the library's defaults (count 100, offset 0).
  assert.equal((await client.getMessageClicks()).TotalCount, 5);

  const tooMany = await rejection(client.getMessageClicks({ count: 501, offset: 0 }));
  assert.equal(tooMany.statusCode, 422);
});

test('getMessageClicks: filters, in the library\'s spelling and in camelCase', async () => {
  const cases = [
    [{ recipient: 'alice@example.com' }, (c) => c.who === 'alice@example.com'],
    [{ tag: 'digest' }, (c) => c.message === M2],
    [{ tag: 'welcome' }, (c) => c.message === M1],
    [{ client_family: 'Mobile Safari' }, (c) => c.agent === IPHONE_SAFARI],
    [{ clientFamily: 'Chrome' }, (c) => c.agent === CHROME_DESKTOP],
    [{ client_name: 'Chrome 138.0.0.0' }, (c) => c.agent === CHROME_DESKTOP],
    [{ client_company: 'Apple Inc.' }, (c) => c.agent === IPHONE_SAFARI],
    [{ os_name: 'iOS 18.5' }, (c) => c.agent === IPHONE_SAFARI],
    [{ os_family: 'Windows' }, (c) => c.agent === CHROME_DESKTOP],
    [{ osCompany: 'Microsoft Corporation' }, (c) => c.agent === CHROME_DESKTOP],
    [{ platform: 'Mobile' }, (c) => c.agent.platform === 'Mobile'],
    [{ platform: 'Desktop', messageStream: 'outbound' }, (c) => c.agent.platform === 'Desktop' && c.message !== M3],
    [{ messageStream: 'broadcast' }, (c) => c.message === M3],
    [{ messageStream: 'outbound' }, (c) => c.message !== M3],
    [{ recipient: 'alice@example.com', platform: 'Mobile' }, (c) => c.who === 'alice@example.com' && c.agent.platform === 'Mobile'],
    [{ platform: 'WebMail' }, () => false],
    [{ country: 'Serbia' }, () => false], // no City database: no click has a country
    [{ region: 'Autonomna Pokrajina Vojvodina' }, () => false],
    [{ city: 'Novi Sad' }, () => false],
    [{ recipient: 'nobody@example.com' }, () => false],
  ];
  for (const [filter, keep] of cases) {
    const r = await client.getMessageClicks({ count: 100, offset: 0, ...filter });
    const want = expected(keep);
    assert.equal(r.TotalCount, want.length, `TotalCount for ${JSON.stringify(filter)}`);
    assert.deepEqual(summary(r.Clicks), want, `Clicks for ${JSON.stringify(filter)}`);
  }
  const one = await client.getMessageClicks({ count: 100, offset: 0, recipient: 'alice@example.com', platform: 'Mobile' });
  assert.equal(one.Clicks[0].OriginalLink, 'https://example.com/welcome-text');
  assert.equal(one.Clicks[0].ClickLocation, 'Text');
  assert.equal(one.Clicks[0].Platform, 'Mobile');
});

test('getMessageClicksForSingleMessage: one message\'s clicks; an unknown MessageID is ErrorCode 701', async () => {
  const r = await client.getMessageClicksForSingleMessage(M1, { count: 100, offset: 0 });
  assert.equal(r.TotalCount, 3);
  assert.deepEqual(summary(r.Clicks), expected((c) => c.message === M1));
  assert.ok(r.Clicks.every((c) => c.MessageID === M1));
  assert.deepEqual(withoutBot(r.Clicks[2]), clicks[0].webhook.body);

  const page = await client.getMessageClicksForSingleMessage(M1, { count: 1, offset: 1 });
  assert.equal(page.TotalCount, 3);
  assert.deepEqual(summary(page.Clicks), [['alice@example.com', 'https://example.com/welcome-text', 'Text']]);

  const m3 = await client.getMessageClicksForSingleMessage(M3);
  assert.equal(m3.TotalCount, 1);
  assert.deepEqual(summary(m3.Clicks), [['carol@example.com', 'https://example.com/news', 'HTML']]);

  const e = await rejection(client.getMessageClicksForSingleMessage(`pmjs-${RUN}-never-tracked`));
  assert.equal(e.code, 701);
  assert.equal(e.statusCode, 422);
});

// ---------------------------------------------------------------------------------------
// Stats API: clicks

/** Per day and in total, `value(clicks of that day)` for the clicks that pass `keep`. */
function expectedDays(keep) {
  const days = new Map();
  for (const c of clicks.filter(keep)) {
    if (!days.has(c.day)) days.set(c.day, []);
    days.get(c.day).push(c);
  }
  return days;
}

/** Asserts a stats answer: `Days` entries and totals carry `counts(clicks)` for each key. */
function assertStats(answer, keep, counts, label) {
  const want = expectedDays(keep);
  const total = counts(clicks.filter(keep));
  for (const [k, v] of Object.entries(total)) {
    assert.equal(answer[k] ?? 0, v, `${label}: total ${k}`);
  }
  assert.ok(Array.isArray(answer.Days), `${label}: Days is a list`);
  for (const [day, list] of want) {
    const entry = answer.Days.find((d) => d.Date === day);
    assert.ok(entry, `${label}: a Days entry for ${day} in ${JSON.stringify(answer.Days)}`);
    for (const [k, v] of Object.entries(counts(list))) {
      assert.equal(entry[k] ?? 0, v, `${label}: ${day} ${k}`);
    }
  }
  // Any other day has nothing.
  for (const entry of answer.Days) {
    assert.match(entry.Date, /^\d{4}-\d{2}-\d{2}$/);
    if (want.has(entry.Date)) continue;
    for (const k of Object.keys(total)) assert.equal(entry[k] ?? 0, 0, `${label}: ${entry.Date} ${k}`);
  }
}

const countBy = (keys, f) => (list) => Object.fromEntries(keys.map((k) => [k, list.filter((c) => f(c) === k).length]));
const clickCounts = (list) => ({ Clicks: list.length, Unique: list.filter((c) => c.unique).length });
const browsers = countBy(['Chrome', 'Mobile Safari'], (c) => c.agent.client.Family);
const platforms = countBy(['Desktop', 'Mobile', 'WebMail', 'Unknown'], (c) => c.agent.platform);
const locations = countBy(['HTML', 'Text'], (c) => c.location);

const FILTERS = [
  ['no filter', {}, () => true],
  ['messageStream outbound', { messageStream: 'outbound' }, (c) => c.message !== M3],
  ['messageStream broadcast', { messageStream: 'broadcast' }, (c) => c.message === M3],
  ['tag welcome', { tag: 'welcome' }, (c) => c.message === M1],
  ['tag nothing', { tag: 'no-such-tag' }, () => false],
];

test('getClickCounts: Clicks and Unique per day and in total', async () => {
  assert.equal(clicks.length, 5, 'the click test ran');
  const all = await client.getClickCounts();
  assert.equal(all.Clicks, 5);
  assert.equal(all.Unique, 4, 'the repeat click is not unique');
  for (const [label, filter, keep] of FILTERS) {
    assertStats(await client.getClickCounts(filter), keep, clickCounts, `getClickCounts ${label}`);
  }
  const today = clicks[0].day;
  const ranged = await client.getClickCounts({ fromDate: today, toDate: clicks[4].day });
  assertStats(ranged, () => true, clickCounts, 'getClickCounts fromDate..toDate');
  const past = await client.getClickCounts({ fromDate: '2001-01-01', toDate: '2001-01-31' });
  assertStats(past, () => false, clickCounts, 'getClickCounts in 2001');
});

// The breakdowns: the totals over every stream, then per day and per filter.
for (const [method, counts, totals, keys] of [
  ['getClickBrowserUsage', browsers, { Chrome: 3, 'Mobile Safari': 2 }, 'Client.Family'],
  ['getClickPlatformUsage', platforms, { Desktop: 3, Mobile: 2 }, 'Desktop, Mobile, WebMail, Unknown'],
  ['getClickLocation', locations, { HTML: 4, Text: 1 }, 'HTML and Text'],
]) {
  test(`${method}: keyed by ${keys}`, async () => {
    const all = await client[method]();
    for (const [k, v] of Object.entries(totals)) assert.equal(all[k], v, `${method} total ${k}`);
    const known = ['Days', ...Object.keys(counts([]))];
    for (const k of Object.keys(all)) assert.ok(known.includes(k), `${method}: unexpected key ${k}`);
    for (const [label, filter, keep] of FILTERS) {
      assertStats(await client[method](filter), keep, counts, `${method} ${label}`);
    }
  });
}

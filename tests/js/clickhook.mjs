// Starts the real clickhook binary for the Node.js test suites under tests/ (plain ESM, no
// dependencies: import it by relative path, e.g. `../js/clickhook.mjs`).
//
// The node gets a config of its own in a temp directory: the embedded store there, free
// loopback ports for the link host and the API, tracked links on the link host's address,
// webhooks to private targets allowed (test receivers listen on loopback), no City database,
// and one API server with the given token. `clickhook check-config` validates the file first.
// CLICKHOOK_BIN overrides the binary (default: <repo>/target/debug/clickhook).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.CLICKHOOK_BIN || path.join(REPO, 'target', 'debug', 'clickhook');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A JSON API call to clickhook on 127.0.0.1:`apiPort` with the server token; returns status and body. */
export async function apiCall(apiPort, token, method, p, body) {
  const res = await fetch(`http://127.0.0.1:${apiPort}${p}`, {
    method,
    headers: { 'X-Postmark-Server-Token': token, Accept: 'application/json', 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Polls `probe` (sync or async) every 50 ms until it returns a truthy value, and returns it.
 * Fails after `ms` with the last error `probe` threw and `context()` (e.g. the node's output).
 */
export async function waitFor(what, probe, ms = 20000, context = () => '') {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const extra = context();
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `; last error: ${last.message}` : ''}${extra ? `\n${extra}` : ''}`);
    }
    await sleep(50);
  }
}

/**
 * Starts `clickhook serve` and waits until `/readyz` answers 200.
 * Returns { apiPort, redirectPort, apiUrl, linkBase, output(), stop() }.
 */
export async function startClickhook({ token, serverName = 'default', name = 'node-test' }) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `clickhook-${name}-`));
  const redirectPort = await freePort();
  const apiPort = await freePort();
  const q = JSON.stringify; // JSON strings are valid TOML basic strings for these values
  const config = `
[tracking]
link_base_url = ${q(`http://127.0.0.1:${redirectPort}`)}
[listen]
redirect = ${q(`127.0.0.1:${redirectPort}`)}
api = ${q(`127.0.0.1:${apiPort}`)}
[store]
backend = "embedded"
path = ${q(path.join(tmp, 'store'))}
[geoip]
city_database = ${q(path.join(tmp, 'no-such-city-db.mmdb'))}
[webhooks]
allow_private_targets = true
[log]
level = "warn"
[[servers]]
name = ${q(serverName)}
token = ${q(token)}
`;
  const cfgPath = path.join(tmp, 'clickhook.toml');
  writeFileSync(cfgPath, config);

  // Only this file's settings: no CLICKHOOK__* overrides from the caller's environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CLICKHOOK__')));
  const check = spawnSync(BIN, ['check-config', '--config', cfgPath], { env, encoding: 'utf8' });
  assert.equal(check.error, undefined, `running ${BIN} (build it with: cargo build -p clickhook): ${check.error}`);
  assert.equal(check.status, 0, `check-config failed:\n${check.stdout}\n${check.stderr}`);

  let out = '';
  const proc = spawn(BIN, ['serve', '--config', cfgPath], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  let exited = null;
  proc.on('exit', (code, signal) => (exited = { code, signal }));
  const output = () => `--- clickhook output ---\n${out}`;

  async function stop() {
    if (proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
      await gone;
      clearTimeout(t);
    }
    rmSync(tmp, { recursive: true, force: true });
  }

  try {
    await waitFor('clickhook /readyz', async () => {
      if (exited) throw new Error(`clickhook exited early: ${JSON.stringify(exited)}`);
      const r = await fetch(`http://127.0.0.1:${apiPort}/readyz`);
      return r.status === 200;
    }, 30000, output);
  } catch (e) {
    await stop();
    throw e;
  }
  return { apiPort, redirectPort, apiUrl: `http://127.0.0.1:${apiPort}`, linkBase: `http://127.0.0.1:${redirectPort}`, output, stop };
}

/**
 * A webhook receiver on 127.0.0.1 that answers 200 "ok" and records every request as
 * { path, method, headers, body } (body parsed as JSON when it is JSON), in arrival order.
 * Returns { port, url, received, close() }.
 */
export async function startReceiver() {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      received.push({ path: req.url, method: req.method, headers: req.headers, body });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return { port, url: `http://127.0.0.1:${port}`, received, close: () => new Promise((r) => server.close(r)) };
}

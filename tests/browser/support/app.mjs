// Ärendo under test: `arendo serve` on a free loopback port with a throw-away data directory and
// the demo data (tenant "exempel"), plus the browser, sign-in, axe-core and screenshot helpers the
// browser tests share.
//
//   const app = await startApp({ env: { ARENDO_MAIL__TRANSPORT: 'smtp', … } });
//   await app.cli(['mailbox', 'add', …], 'password\n');   // same data directory and database
//   const browser = await launchBrowser();
//   await login(page, app, 'agent@exempelkommun.se');
//   await axe(page, 'the ticket page');                    // WCAG 2.1 A/AA rules, 0 violations
//   await shot(page, 'ticket-desktop');                    // <repo>/target/screenshots/ticket-desktop.png
//   await app.stop();
//
// ARENDO_TEST_BIN names the binary (default: <repo>/target/debug/arendo); CHROMIUM the browser
// (default: Debian's /usr/bin/chromium). ARENDO_TEST_LOG=1 shows the server's log (RUST_LOG=info).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const bin = process.env.ARENDO_TEST_BIN ?? join(repo, 'target/debug/arendo');
export const screenshots = join(repo, 'target/screenshots');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port on 127.0.0.1 that nobody listens on right now. */
export const freePort = () => new Promise((ok, fail) => {
  const s = createServer();
  s.on('error', fail);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
});

/** GET /readyz on a connection of its own (a kept-alive one would hold up the server's shutdown). */
const readyz = (url) => new Promise((ok) => {
  const req = get(url, { agent: false, timeout: 2000 }, (res) => { res.resume(); ok(res.statusCode === 200); });
  req.on('error', () => ok(false));
  req.on('timeout', () => { req.destroy(); ok(false); });
});

/** Start `arendo serve` (demo data on first start) and wait until /readyz answers. */
export async function startApp({ env = {} } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'arendo-browser-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const verbose = !!process.env.ARENDO_TEST_LOG;
  const fullEnv = {
    ...process.env,
    ARENDO_DATA_DIR: dataDir,
    ARENDO_SERVER__LISTEN: `127.0.0.1:${port}`,
    ARENDO_SERVER__PUBLIC_URL: base,
    ARENDO_SERVER__WORKERS: '2',
    // The test's Dovecot and SMTP peer run on loopback, which the egress policy refuses unless
    // the operator allows it (docs/security.md).
    ARENDO_EGRESS__ALLOW: '127.0.0.1',
    RUST_LOG: verbose ? 'info' : 'warn',
    ...env,
  };
  const server = spawn(bin, ['serve'], { env: fullEnv, stdio: ['ignore', verbose ? 'inherit' : 'ignore', 'inherit'] });
  let exited = null;
  const gone = new Promise((ok) => server.on('exit', (code, signal) => { exited = signal ?? `code ${code}`; ok(); }));
  server.on('error', (e) => { exited = String(e); });
  // Should the test process end without stop() (a crash, Ctrl+C), take the server along.
  const reap = () => { if (!exited) server.kill('SIGKILL'); };
  process.once('exit', reap);
  let ready = false;
  for (let i = 0; i < 300 && !ready && !exited; i++) {
    ready = await readyz(`${base}/readyz`);
    if (!ready) await sleep(100);
  }
  if (!ready) {
    server.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`Ärendo (${bin}) did not start: ${exited ? `exited (${exited})` : 'no answer on /readyz in 30 s'}`);
  }

  return {
    base,
    dataDir,
    pid: server.pid,
    url: (path) => `${base}${path}`,

    /** The one-time demo password printed for `email` (also kept in <data_dir>/demo-credentials.txt). */
    password(email) {
      const text = readFileSync(join(dataDir, 'demo-credentials.txt'), 'utf8');
      const line = text.split('\n').find((l) => l.trim().startsWith(`${email} `));
      assert.ok(line, `no demo credentials for ${email}:\n${text}`);
      return line.split('password:')[1].trim();
    },

    /** Run another `arendo` command against the same configuration; resolves with its stdout. */
    cli(args, stdin = '') {
      return new Promise((ok, fail) => {
        const p = spawn(bin, args, { env: { ...fullEnv, RUST_LOG: 'warn' }, stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '', err = '';
        p.stdout.on('data', (d) => { out += d; });
        p.stderr.on('data', (d) => { err += d; });
        p.on('error', fail);
        p.on('close', (code) => (code === 0 ? ok(out)
          : fail(new Error(`arendo ${args.join(' ')} exited with ${code}:\n${err}${out}`))));
        // A command that does not read its input may exit first: that is not an error.
        p.stdin.on('error', () => {});
        p.stdin.end(stdin);
      });
    },

    /**
     * Stop the server and remove its data directory. SIGTERM first; a graceful shutdown waits for
     * open /live streams (up to the server's shutdown timeout), so SIGKILL after 2 s.
     */
    async stop() {
      if (!exited) {
        server.kill('SIGTERM');
        const t = setTimeout(() => server.kill('SIGKILL'), 2000);
        await gone;
        clearTimeout(t);
      }
      process.off('exit', reap);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Debian's chromium, headless, without any network chatter of its own. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

/** A fresh browser context (own cookies) in Swedish. */
export function newContext(browser, viewport = DESKTOP) {
  return browser.newContext({ viewport, locale: 'sv-SE', timezoneId: 'Europe/Stockholm' });
}

/** Sign in through the login form with the printed demo password; ends on "Mitt arbete" (/). */
export async function login(page, app, email) {
  await page.goto(app.url('/login'));
  await page.getByLabel('E-postadress').fill(email);
  await page.getByLabel('Lösenord').fill(app.password(email));
  await page.getByRole('button', { name: 'Logga in' }).click();
  // Agents and admins land on "Mitt arbete", referral handlers on "Mina remisser".
  await page.waitForURL((u) => u.href === app.url('/') || u.href === app.url('/remisser'));
}

/** No axe-core violations of the WCAG 2.0/2.1 A and AA rules on the page as it is now. */
export async function axe(page, what) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const summary = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(summary, [], `${what} has accessibility violations`);
}

/** How many CSS pixels the page is wider than the window (> 0: sideways scrolling). */
export function overflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** A full-page PNG in <repo>/target/screenshots/<name>.png. */
export async function shot(page, name) {
  mkdirSync(screenshots, { recursive: true });
  const path = join(screenshots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Resolves once the page's live stream (EventSource on /live) has connected: the server subscribes
 * the stream to changes before it answers, so anything after this reaches the page. Call before
 * the navigation that opens the page and await the result after it.
 */
export function liveConnected(page) {
  return page.waitForResponse((r) => new URL(r.url()).pathname === '/live' && r.status() === 200, { timeout: 10000 });
}

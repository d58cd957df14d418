// A newcomer's first minute, in a real browser (Debian chromium driven by playwright-core):
// start Ärendo with its demo data, read the printed demo credentials, sign in, see the start page —
// and the login and start pages have no axe-core accessibility violations (WCAG 2.1 AA rules).
//
// Run by scripts/test.sh after `cargo` has built target/debug/arendo. ARENDO_TEST_BIN overrides the binary.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

const bin = process.env.ARENDO_TEST_BIN ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../target/debug/arendo');
let server, base, dataDir, browser;

const freePort = () => new Promise((ok) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
});

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'arendo-browser-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ['serve'], {
    env: { ...process.env, ARENDO_DATA_DIR: dataDir, ARENDO_SERVER__LISTEN: `127.0.0.1:${port}`,
           ARENDO_SERVER__PUBLIC_URL: base, RUST_LOG: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let spawnError = null;
  server.on('error', (e) => { spawnError = e; });
  server.on('exit', (code) => { spawnError ??= `exited with ${code}`; });
  let ready = false;
  for (let i = 0; i < 300 && !ready && !spawnError; i++) {
    try { ready = (await fetch(`${base}/readyz`)).ok; } catch { /* not up yet */ }
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  if (!ready) throw new Error(`Ärendo (${bin}) did not start: ${spawnError ?? 'no answer on /readyz'}`);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});

after(async () => {
  await browser?.close();
  server?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

function demoPassword(email) {
  const text = readFileSync(join(dataDir, 'demo-credentials.txt'), 'utf8');
  const line = text.split('\n').find((l) => l.includes(email));
  assert.ok(line, `no demo credentials for ${email}:\n${text}`);
  return line.split('password:')[1].trim();
}

async function noAxeViolations(page, what) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const summary = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(summary, [], `${what} has accessibility violations`);
}

test('an agent signs in with the printed demo credentials and sees the start page', async () => {
  const ctx = await browser.newContext({ locale: 'sv-SE' });
  const page = await ctx.newPage();
  await page.goto(`${base}/login`);
  assert.equal(await page.locator('h1').innerText(), 'Logga in i Ärendo');
  await noAxeViolations(page, 'the login page');

  await page.getByLabel('E-postadress').fill('agent@exempelkommun.se');
  await page.getByLabel('Lösenord').fill('fel lösenord');
  await page.getByRole('button', { name: 'Logga in' }).click();
  assert.equal(await page.getByRole('alert').innerText(), 'Fel e-postadress eller lösenord.');

  await page.getByLabel('Lösenord').fill(demoPassword('agent@exempelkommun.se'));
  await page.getByRole('button', { name: 'Logga in' }).click();
  await page.waitForURL(`${base}/`);
  assert.equal(await page.locator('h1').innerText(), 'Hej Kim Kundtjänst!');
  const queues = await page.locator('#queues-h ~ .table-wrap tbody th').allInnerTexts();
  assert.deepEqual(queues.map((q) => q.replace(/\s+handläggare$/, '')).sort(), ['Avfall', 'Gata och park', 'Kundtjänst']);
  assert.ok(await page.getByText('Fråga om öppettider i jul').isVisible());
  assert.equal(await page.getByText('Vattenläcka på Storgatan').count(), 0, 'VA is not her queue');
  await noAxeViolations(page, 'the start page');

  await page.getByRole('button', { name: 'Logga ut' }).click();
  await page.waitForURL(`${base}/login`);
  await page.goto(`${base}/`);
  assert.equal(page.url(), `${base}/login`);
  await ctx.close();
});

test('the start page works on a phone-sized screen', async () => {
  const ctx = await browser.newContext({ viewport: { width: 375, height: 740 }, locale: 'sv-SE' });
  const page = await ctx.newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel('E-postadress').fill('admin@exempelkommun.se');
  await page.getByLabel('Lösenord').fill(demoPassword('admin@exempelkommun.se'));
  await page.getByRole('button', { name: 'Logga in' }).click();
  await page.waitForURL(`${base}/`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone screen`);
  assert.equal(await page.locator('h1').innerText(), 'Hej Alva Admin!');
  await ctx.close();
});

// A newcomer's first minute, in a real browser (Debian chromium driven by playwright-core):
// start Ärendo with its demo data, read the printed demo credentials, sign in, see the start page
// "Mitt arbete" and the queue overview — and the login and start pages have no axe-core
// accessibility violations (WCAG 2.1 AA rules).
//
// Run by scripts/test.sh after `cargo` has built target/debug/arendo. ARENDO_TEST_BIN overrides the binary.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { axe, launchBrowser, login, newContext, overflow, PHONE, startApp } from './support/app.mjs';

let app, browser;

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

test('an agent signs in with the printed demo credentials and sees the start page', async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  await page.goto(app.url('/login'));
  assert.equal(await page.locator('h1').innerText(), 'Logga in i Ärendo');
  await axe(page, 'the login page');

  await page.getByLabel('E-postadress').fill('agent@exempelkommun.se');
  await page.getByLabel('Lösenord').fill('fel lösenord');
  await page.getByRole('button', { name: 'Logga in' }).click();
  assert.equal(await page.getByRole('alert').innerText(), 'Fel e-postadress eller lösenord.');

  await page.getByLabel('Lösenord').fill(app.password('agent@exempelkommun.se'));
  await page.getByRole('button', { name: 'Logga in' }).click();
  await page.waitForURL(app.url('/'));
  assert.equal(await page.locator('h1').innerText(), 'Mitt arbete');
  const nav = page.getByRole('navigation', { name: 'Huvudmeny' });
  assert.equal(await nav.getByRole('link', { name: 'Mitt arbete' }).getAttribute('aria-current'), 'page');
  const unassigned = page.locator('section[aria-labelledby="free-h"]');
  assert.equal(await unassigned.locator('h2').innerText(), 'Otilldelade i mina köer');
  assert.ok(await unassigned.getByRole('link', { name: 'Fråga om öppettider i jul' }).isVisible());
  assert.equal(await page.getByText('Vattenläcka på Storgatan').count(), 0, 'VA is not her queue');
  await axe(page, 'the start page (Mitt arbete)');

  // The queue table is on "Köer" now.
  await nav.getByRole('link', { name: 'Köer' }).click();
  await page.waitForURL(app.url('/queues'));
  assert.equal(await page.locator('h1').innerText(), 'Köer');
  const queues = await page.locator('tbody th[scope="row"]').allInnerTexts();
  assert.deepEqual(queues.map((q) => q.trim()).sort(), ['Avfall', 'Gata och park', 'Kundtjänst']);

  await page.getByRole('button', { name: 'Logga ut' }).click();
  await page.waitForURL(app.url('/login'));
  await page.goto(app.url('/'));
  assert.equal(page.url(), app.url('/login'));
  await ctx.close();
});

test('the start page works on a phone-sized screen', async () => {
  const ctx = await newContext(browser, PHONE);
  const page = await ctx.newPage();
  await login(page, app, 'admin@exempelkommun.se');
  assert.equal(await page.locator('h1').innerText(), 'Mitt arbete');
  const over = await overflow(page);
  assert.ok(over <= 0, `page is ${over}px wider than the phone screen`);
  await ctx.close();
});

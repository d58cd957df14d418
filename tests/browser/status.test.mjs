// The citizen's status page and the link request form in a real browser (Debian chromium +
// playwright-core + axe-core), on the demo installation: a link made by `arendo status-link`
// opens the ticket, the citizen replies, and every page passes axe at 1280 px and 375 px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, axe, launchBrowser, newContext, overflow, shot, startApp } from './support/app.mjs';

let app, browser;

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

async function check(page, what, viewport) {
  await axe(page, `${what} at ${viewport.width} px`);
  if (viewport === PHONE) {
    const over = await overflow(page);
    assert.ok(over <= 0, `${what} is ${over}px wider than the phone screen`);
  }
}

test('a citizen follows and answers their ticket on a phone and a computer', async () => {
  // The demo's tickets are numbered from 1 in the current year.
  const year = new Date().getFullYear();
  const link = (await app.cli(['status-link', '--tenant', 'exempel', '--number', `KC-${year}-000001`])).trim();
  const path = new URL(link).pathname;
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const ctx = await newContext(browser, viewport);
    const page = await ctx.newPage();
    try {
      const resp = await page.goto(app.url(path));
      assert.equal(resp.status(), 200);
      assert.match(await page.locator('h1').innerText(), new RegExp(`Ärende KC-${year}-000001`));
      await shot(page, `status-${size}`);
      await check(page, 'the status page', viewport);

      await page.getByLabel('Ditt meddelande').fill(`Tack för svaret (${size}).`);
      await page.getByRole('button', { name: 'Skicka' }).click();
      await page.waitForURL(/ok=sent/);
      assert.match(await page.locator('[role=status]').innerText(), /kommit fram/);
      assert.match(await page.locator('.status-messages').innerText(), new RegExp(`Tack för svaret \\(${size}\\)`));
      await check(page, 'the status page after a reply', viewport);

      const bad = await page.goto(app.url(`${path.slice(0, -2)}xx`));
      assert.equal(bad.status(), 403);
      await check(page, 'the invalid link page', viewport);

      await page.goto(app.url('/mitt-arende/exempel'));
      await check(page, 'the link request form', viewport);
      await page.getByLabel('Ärendenummer').fill(`KC-${year}-000001`);
      await page.getByLabel('Din e-postadress').fill('nagon@example.org');
      await page.getByRole('button', { name: 'Skicka länk' }).click();
      assert.match(await page.locator('[role=status]').innerText(), /Om uppgifterna stämmer/);
      await check(page, 'the link request answer', viewport);
    } finally {
      await ctx.close();
    }
  }
});

// The citizen's status page, the link request form and a department's referral page in a real browser (Debian chromium +
// playwright-core + axe-core), on the demo installation: a link made by `arendo status-link`
// opens the ticket, the citizen replies, and every page passes axe at 1280 px and 375 px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, axe, launchBrowser, login, newContext, overflow, shot, startApp } from './support/app.mjs';
import { startSmtp } from './support/smtp.mjs';

let app, browser, smtp;

before(async () => {
  smtp = await startSmtp();
  app = await startApp({ env: smtp.env });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await smtp?.stop();
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

test('a department answers a referral on its page (axe on phone and desktop)', async () => {
  await app.cli(['escalation', 'referral', '--tenant', 'exempel', '--name', 'Miljöförvaltningen',
    '--email', 'miljo@exempelkommun.se', '--days', '5']);
  const ctx = await newContext(browser, DESKTOP);
  const page = await ctx.newPage();
  let number;
  try {
    await login(page, app, 'admin@exempelkommun.se');
    await page.goto(app.url('/tickets'));
    number = await page.locator('tr.ticket-row', { hasText: 'Trasig gatubelysning' }).first().getAttribute('data-number');
    await page.goto(app.url(`/tickets/${number}`));
    await page.locator('#esc-target').selectOption({ label: 'Miljöförvaltningen' });
    await page.getByLabel('Motivering').fill('Är det kommunens lampa eller Trafikverkets?');
    await page.getByRole('button', { name: 'Eskalera' }).click();
    await page.waitForURL(/ok=escalated/);
  } finally {
    await ctx.close();
  }
  const mail = await smtp.waitFor((m) => m.to.includes('miljo@exempelkommun.se'), 20000);
  const link = mail.text.match(/https?:\/\/\S+\/remiss\/\S+/)[0];
  const path = new URL(link).pathname;
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const hctx = await newContext(browser, viewport);
    const hp = await hctx.newPage();
    try {
      const resp = await hp.goto(app.url(path));
      assert.equal(resp.status(), 200);
      assert.match(await hp.locator('h1').innerText(), new RegExp(`Remiss i ärende ${number}`));
      await shot(hp, `referral-${size}`);
      await check(hp, 'the referral page', viewport);
      if (size === 'phone') {
        await hp.getByLabel('Svar', { exact: true }).fill('Lampan är kommunens. Vi byter den på torsdag.');
        await hp.getByRole('button', { name: 'Skicka svar och lämna tillbaka' }).click();
        await hp.waitForURL(/ok=sent/);
        assert.match(await hp.locator('[role=status]').innerText(), /gått tillbaka/);
        await check(hp, 'the answered referral page', viewport);
      }
    } finally {
      await hctx.close();
    }
  }
});
